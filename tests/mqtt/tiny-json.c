/* SPDX-License-Identifier: MIT */

#include <ctype.h>
#include <math.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tiny-json.h"

typedef struct P {
        const char *s;
        char *err;
        size_t err_size;
        int depth;
} P;

static void ws(P *p) {
        while (*p->s == ' ' || *p->s == '\t' || *p->s == '\n' || *p->s == '\r')
                p->s++;
}

static bool fail(P *p, const char *msg) {
        if (p->err && !p->err[0])
                snprintf(p->err, p->err_size, "%s at '%.20s'", msg, p->s);
        return false;
}

static bool parse_value(P *p, TjValue *v);

static bool parse_string_raw(P *p, char **ret) {
        size_t cap = 16, n = 0;
        char *b;

        if (*p->s != '"')
                return fail(p, "expected string");
        p->s++;
        b = malloc(cap);
        for (;;) {
                unsigned char c = (unsigned char) *p->s;
                if (c == 0 || c < 0x20) {
                        free(b);
                        return fail(p, "bad string");
                }
                p->s++;
                if (c == '"')
                        break;
                if (c == '\\') {
                        char e = *p->s++;
                        switch (e) {
                        case '"': c = '"'; break;
                        case '\\': c = '\\'; break;
                        case '/': c = '/'; break;
                        case 'b': c = '\b'; break;
                        case 'f': c = '\f'; break;
                        case 'n': c = '\n'; break;
                        case 'r': c = '\r'; break;
                        case 't': c = '\t'; break;
                        case 'u': {
                                unsigned x = 0;
                                for (int i = 0; i < 4; i++) {
                                        if (!isxdigit((unsigned char) p->s[i])) {
                                                free(b);
                                                return fail(p, "bad \\u");
                                        }
                                        x = x * 16 + (unsigned) (isdigit((unsigned char) p->s[i]) ? p->s[i] - '0'
                                                                             : (tolower((unsigned char) p->s[i]) - 'a' + 10));
                                }
                                p->s += 4;
                                c = x < 0x80 ? (unsigned char) x : '?'; /* good enough for tests */
                                break;
                        }
                        default:
                                free(b);
                                return fail(p, "bad escape");
                        }
                }
                if (n + 2 > cap)
                        b = realloc(b, cap *= 2);
                b[n++] = (char) c;
        }
        b[n] = 0;
        *ret = b;
        return true;
}

static bool add_child(TjValue *v, TjValue *child) {
        v->children = realloc(v->children, (v->n_children + 1) * sizeof *child);
        v->children[v->n_children++] = *child;
        return true;
}

static bool parse_value(P *p, TjValue *v) {
        memset(v, 0, sizeof *v);
        ws(p);
        if (++p->depth > 64)
                return fail(p, "too deep");
        if (*p->s == '{') {
                v->type = TJ_OBJECT;
                p->s++;
                ws(p);
                if (*p->s == '}') {
                        p->s++;
                        p->depth--;
                        return true;
                }
                for (;;) {
                        TjValue child;
                        char *key;
                        ws(p);
                        if (!parse_string_raw(p, &key))
                                return false;
                        ws(p);
                        if (*p->s++ != ':') {
                                free(key);
                                return fail(p, "expected ':'");
                        }
                        if (!parse_value(p, &child)) {
                                free(key);
                                tj_free(&child); /* frees only children; child itself is on the stack */
                                return false;
                        }
                        for (size_t i = 0; i < v->n_children; i++)
                                if (strcmp(v->children[i].key, key) == 0) {
                                        free(key);
                                        tj_free(&child);
                                        return fail(p, "duplicate key");
                                }
                        child.key = key;
                        add_child(v, &child);
                        ws(p);
                        if (*p->s == ',') {
                                p->s++;
                                continue;
                        }
                        if (*p->s == '}') {
                                p->s++;
                                break;
                        }
                        return fail(p, "expected ',' or '}'");
                }
        } else if (*p->s == '[') {
                v->type = TJ_ARRAY;
                p->s++;
                ws(p);
                if (*p->s == ']') {
                        p->s++;
                        p->depth--;
                        return true;
                }
                for (;;) {
                        TjValue child;
                        if (!parse_value(p, &child)) {
                                tj_free(&child);
                                return false;
                        }
                        add_child(v, &child);
                        ws(p);
                        if (*p->s == ',') {
                                p->s++;
                                continue;
                        }
                        if (*p->s == ']') {
                                p->s++;
                                break;
                        }
                        return fail(p, "expected ',' or ']'");
                }
        } else if (*p->s == '"') {
                v->type = TJ_STRING;
                if (!parse_string_raw(p, &v->string))
                        return false;
        } else if (strncmp(p->s, "true", 4) == 0) {
                v->type = TJ_BOOL, v->boolean = true, p->s += 4;
        } else if (strncmp(p->s, "false", 5) == 0) {
                v->type = TJ_BOOL, p->s += 5;
        } else if (strncmp(p->s, "null", 4) == 0) {
                v->type = TJ_NULL, p->s += 4;
        } else if (*p->s == '-' || isdigit((unsigned char) *p->s)) {
                const char *start = p->s;
                char *end;
                if (*p->s == '-')
                        p->s++;
                if (*p->s == '0' && isdigit((unsigned char) p->s[1]))
                        return fail(p, "leading zero");
                v->type = TJ_NUMBER;
                v->number = strtod(start, &end);
                if (end == start)
                        return fail(p, "bad number");
                v->is_integer = strcspn(start, ".eE") >= (size_t) (end - start);
                p->s = end;
        } else
                return fail(p, "unexpected character");
        p->depth--;
        return true;
}

TjValue *tj_parse(const char *text, char *err, size_t err_size) {
        P p = { .s = text, .err = err, .err_size = err_size };
        TjValue *v = calloc(1, sizeof *v);

        if (err && err_size)
                err[0] = 0;
        if (!parse_value(&p, v)) {
                tj_free(v);
                free(v);
                return NULL;
        }
        ws(&p);
        if (*p.s) {
                fail(&p, "trailing data");
                tj_free(v);
                free(v);
                return NULL;
        }
        return v;
}

void tj_free(TjValue *v) {
        if (!v)
                return;
        for (size_t i = 0; i < v->n_children; i++) {
                tj_free(&v->children[i]);
                free(v->children[i].key);
        }
        free(v->children);
        free(v->string);
        v->children = NULL;
        v->string = NULL;
        v->n_children = 0;
}

const TjValue *tj_get(const TjValue *obj, const char *key) {
        if (!obj || obj->type != TJ_OBJECT)
                return NULL;
        for (size_t i = 0; i < obj->n_children; i++)
                if (strcmp(obj->children[i].key, key) == 0)
                        return &obj->children[i];
        return NULL;
}

char *tj_read_file(const char *path) {
        FILE *f = fopen(path, "re");
        char *buf;
        long n;

        if (!f)
                return NULL;
        fseek(f, 0, SEEK_END);
        n = ftell(f);
        fseek(f, 0, SEEK_SET);
        buf = calloc(1, (size_t) n + 1);
        if (fread(buf, 1, (size_t) n, f) != (size_t) n) {
                free(buf);
                buf = NULL;
        }
        fclose(f);
        return buf;
}

static const char *type_name(const TjValue *v) {
        switch (v->type) {
        case TJ_NULL: return "null";
        case TJ_BOOL: return "boolean";
        case TJ_NUMBER: return v->is_integer ? "integer" : "number";
        case TJ_STRING: return "string";
        case TJ_ARRAY: return "array";
        default: return "object";
        }
}

static bool type_matches(const char *want, const TjValue *v) {
        if (strcmp(want, "number") == 0)
                return v->type == TJ_NUMBER;
        if (strcmp(want, "integer") == 0)
                return v->type == TJ_NUMBER && v->is_integer;
        return strcmp(want, type_name(v)) == 0;
}

static int verr(char *err, size_t size, const char *path, const char *msg, const char *detail) {
        snprintf(err, size, "%s: %s%s%s", path[0] ? path : "(root)", msg, detail ? " " : "", detail ?: "");
        return -1;
}

static int validate(const TjValue *schema, const TjValue *v, const char *path, char *err, size_t size) {
        const TjValue *t, *k;
        char sub[512];

        if (!schema || schema->type != TJ_OBJECT)
                return verr(err, size, path, "schema is not an object", NULL);

        t = tj_get(schema, "type");
        if (t) {
                bool ok = false;
                if (t->type == TJ_STRING)
                        ok = type_matches(t->string, v);
                else if (t->type == TJ_ARRAY)
                        for (size_t i = 0; i < t->n_children; i++)
                                ok = ok || (t->children[i].type == TJ_STRING && type_matches(t->children[i].string, v));
                if (!ok)
                        return verr(err, size, path, "wrong type", type_name(v));
        }
        k = tj_get(schema, "const");
        if (k && k->type == TJ_STRING && (v->type != TJ_STRING || strcmp(k->string, v->string) != 0))
                return verr(err, size, path, "differs from const", k->string);
        k = tj_get(schema, "enum");
        if (k && k->type == TJ_ARRAY) {
                bool ok = false;
                for (size_t i = 0; i < k->n_children; i++)
                        ok = ok || (v->type == TJ_STRING && k->children[i].type == TJ_STRING &&
                                    strcmp(k->children[i].string, v->string) == 0);
                if (!ok)
                        return verr(err, size, path, "not in enum", v->type == TJ_STRING ? v->string : NULL);
        }
        if (v->type == TJ_NUMBER) {
                k = tj_get(schema, "minimum");
                if (k && v->number < k->number)
                        return verr(err, size, path, "below minimum", NULL);
                k = tj_get(schema, "maximum");
                if (k && v->number > k->number)
                        return verr(err, size, path, "above maximum", NULL);
        }
        if (v->type == TJ_STRING) {
                size_t n = strlen(v->string);
                k = tj_get(schema, "minLength");
                if (k && n < (size_t) k->number)
                        return verr(err, size, path, "too short", NULL);
                k = tj_get(schema, "maxLength");
                if (k && n > (size_t) k->number)
                        return verr(err, size, path, "too long", NULL);
                k = tj_get(schema, "pattern");
                if (k && k->type == TJ_STRING) {
                        regex_t re;
                        int m;
                        if (regcomp(&re, k->string, REG_EXTENDED | REG_NOSUB) != 0)
                                return verr(err, size, path, "bad pattern", k->string);
                        m = regexec(&re, v->string, 0, NULL, 0);
                        regfree(&re);
                        if (m != 0)
                                return verr(err, size, path, "does not match", k->string);
                }
        }
        if (v->type == TJ_ARRAY) {
                k = tj_get(schema, "minItems");
                if (k && v->n_children < (size_t) k->number)
                        return verr(err, size, path, "too few items", NULL);
                k = tj_get(schema, "maxItems");
                if (k && v->n_children > (size_t) k->number)
                        return verr(err, size, path, "too many items", NULL);
                k = tj_get(schema, "items");
                if (k)
                        for (size_t i = 0; i < v->n_children; i++) {
                                snprintf(sub, sizeof sub, "%s[%zu]", path, i);
                                if (validate(k, &v->children[i], sub, err, size) < 0)
                                        return -1;
                        }
        }
        if (v->type == TJ_OBJECT) {
                const TjValue *props = tj_get(schema, "properties"), *addl = tj_get(schema, "additionalProperties");
                k = tj_get(schema, "required");
                if (k)
                        for (size_t i = 0; i < k->n_children; i++)
                                if (!tj_get(v, k->children[i].string))
                                        return verr(err, size, path, "missing required", k->children[i].string);
                for (size_t i = 0; i < v->n_children; i++) {
                        const TjValue *ps = tj_get(props, v->children[i].key);
                        snprintf(sub, sizeof sub, "%s.%s", path, v->children[i].key);
                        if (ps) {
                                if (validate(ps, &v->children[i], sub, err, size) < 0)
                                        return -1;
                        } else if (addl && addl->type == TJ_BOOL && !addl->boolean)
                                return verr(err, size, sub, "not allowed", NULL);
                }
        }
        return 0;
}

int tj_validate(const TjValue *schema, const TjValue *instance, char *err, size_t err_size) {
        return validate(schema, instance, "", err, err_size);
}
