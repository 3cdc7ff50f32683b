/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hex.h"
#include "json-parse.h"
#include "macro.h"
#include "string-table.h"

#define NO_INDEX UINT32_MAX
#define NUMBER_TEXT_MAX 255
#define IN_SET_CONTAINER(t) ((t) == JSON_TYPE_ARRAY || (t) == JSON_TYPE_OBJECT)

struct JsonValue {
        JsonType type;
        uint32_t offset;
        /* For members of an object: the key, NUL-terminated in the arena. */
        const char *key;
        uint32_t key_len;
        uint32_t key_offset;
        /* Links used while parsing (nodes are indices because the node array may still move). */
        uint32_t next;
        uint32_t first_child;
        uint32_t last_child;
        uint32_t count;
        union {
                bool boolean;
                struct {
                        const char *s;
                        uint32_t len;
                        bool has_nul;
                } string;
                struct {
                        double d;
                        uint64_t magnitude; /* valid when is_integer && !overflow */
                        bool negative;
                        bool is_integer;
                        bool overflow;
                } number;
                /* After parsing: the children in document order. */
                const JsonValue *const *children;
        };
};

struct JsonDocument {
        JsonValue *nodes;
        size_t n_nodes;
        size_t cap_nodes;
        char *arena;
        const JsonValue **children;
};

typedef struct Parser {
        const unsigned char *p;
        size_t len;
        size_t pos;
        JsonDocument *doc;
        size_t arena_used;
        size_t max_values;
        JsonParseError *error;
} Parser;

static const char *const json_type_table[_JSON_TYPE_MAX] = {
        [JSON_TYPE_NULL] = "null",     [JSON_TYPE_BOOL] = "boolean", [JSON_TYPE_NUMBER] = "number",
        [JSON_TYPE_STRING] = "string", [JSON_TYPE_ARRAY] = "array",  [JSON_TYPE_OBJECT] = "object",
};

DEFINE_STRING_TABLE_LOOKUP_TO_STRING(json_type, JsonType);

_printf_(4, 5) static int set_error(JsonParseError *e, size_t offset, int r, const char *fmt, ...) {
        va_list ap;

        if (!e)
                return r;
        e->offset = offset;
        va_start(ap, fmt);
        (void) vsnprintf(e->message, sizeof(e->message), fmt, ap);
        va_end(ap);
        return r;
}

static int fail(Parser *ps, size_t offset, int r, const char *msg) {
        return set_error(ps->error, offset, r, "%s", msg);
}

static void skip_ws(Parser *ps) {
        while (ps->pos < ps->len) {
                unsigned char c = ps->p[ps->pos];
                if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
                        break;
                ps->pos++;
        }
}

static int new_node(Parser *ps, JsonType type, size_t offset, uint32_t parent, uint32_t *ret) {
        JsonDocument *d = ps->doc;

        if (d->n_nodes >= ps->max_values)
                return set_error(ps->error, offset, -E2BIG, "more than %zu values", ps->max_values);
        if (d->n_nodes == d->cap_nodes) {
                size_t ncap = MAX(d->cap_nodes * 2, (size_t) 16);
                ncap = MIN(ncap, ps->max_values);
                JsonValue *n = reallocarray(d->nodes, ncap, sizeof(JsonValue));
                if (!n)
                        return set_error(ps->error, offset, -ENOMEM, "out of memory");
                d->nodes = n;
                d->cap_nodes = ncap;
        }

        uint32_t idx = (uint32_t) d->n_nodes++;
        d->nodes[idx] = (JsonValue) {
                .type = type,
                .offset = (uint32_t) offset,
                .next = NO_INDEX,
                .first_child = NO_INDEX,
                .last_child = NO_INDEX,
        };
        if (parent != NO_INDEX) {
                JsonValue *par = &d->nodes[parent];
                if (par->last_child == NO_INDEX)
                        par->first_child = idx;
                else
                        d->nodes[par->last_child].next = idx;
                par->last_child = idx;
                par->count++;
        }
        *ret = idx;
        return 0;
}

static int hex4(const unsigned char *s, uint32_t *ret) {
        uint32_t v = 0;
        for (unsigned i = 0; i < 4; i++) {
                int d = unhexchar((char) s[i]);
                if (d < 0)
                        return -EINVAL;
                v = v << 4 | (uint32_t) d;
        }
        *ret = v;
        return 0;
}

static size_t utf8_put(char *out, uint32_t cp) {
        if (cp < 0x80) {
                out[0] = (char) cp;
                return 1;
        }
        if (cp < 0x800) {
                out[0] = (char) (0xc0 | (cp >> 6));
                out[1] = (char) (0x80 | (cp & 0x3f));
                return 2;
        }
        if (cp < 0x10000) {
                out[0] = (char) (0xe0 | (cp >> 12));
                out[1] = (char) (0x80 | ((cp >> 6) & 0x3f));
                out[2] = (char) (0x80 | (cp & 0x3f));
                return 3;
        }
        out[0] = (char) (0xf0 | (cp >> 18));
        out[1] = (char) (0x80 | ((cp >> 12) & 0x3f));
        out[2] = (char) (0x80 | ((cp >> 6) & 0x3f));
        out[3] = (char) (0x80 | (cp & 0x3f));
        return 4;
}

/* Length of the well-formed UTF-8 sequence at s (RFC 3629 table 3-7), 0 if ill-formed. */
static size_t utf8_valid_length(const unsigned char *s, size_t avail) {
        unsigned char c = s[0];
        unsigned char lo = 0x80, hi = 0xbf;
        size_t n;

        if (c < 0x80)
                return 1;
        if (c >= 0xc2 && c <= 0xdf)
                n = 2;
        else if (c >= 0xe0 && c <= 0xef) {
                n = 3;
                if (c == 0xe0)
                        lo = 0xa0;  /* overlong */
                else if (c == 0xed)
                        hi = 0x9f;  /* surrogates */
        } else if (c >= 0xf0 && c <= 0xf4) {
                n = 4;
                if (c == 0xf0)
                        lo = 0x90;  /* overlong */
                else if (c == 0xf4)
                        hi = 0x8f;  /* above U+10FFFF */
        } else
                return 0;

        if (avail < n)
                return 0;
        if (s[1] < lo || s[1] > hi)
                return 0;
        for (size_t i = 2; i < n; i++)
                if (s[i] < 0x80 || s[i] > 0xbf)
                        return 0;
        return n;
}

/* Decodes the string starting at the opening quote into the arena. The decoded form is never
 * longer than its source (quotes included), so an arena of len + 1 bytes cannot overflow. */
static int parse_string(Parser *ps, const char **ret, uint32_t *ret_len, bool *ret_has_nul) {
        const unsigned char *p = ps->p;
        size_t start = ps->pos;
        char *out = ps->doc->arena + ps->arena_used;
        size_t n = 0;
        bool has_nul = false;

        ps->pos++; /* opening quote */
        for (;;) {
                if (ps->pos >= ps->len)
                        return fail(ps, start, -EINVAL, "unterminated string");

                unsigned char c = p[ps->pos];
                if (c == '"') {
                        ps->pos++;
                        break;
                }
                if (c < 0x20)
                        return set_error(ps->error, ps->pos, -EINVAL,
                                         "control character 0x%02x in string", c);
                if (c >= 0x80) {
                        size_t k = utf8_valid_length(p + ps->pos, ps->len - ps->pos);
                        if (k == 0)
                                return fail(ps, ps->pos, -EILSEQ, "invalid UTF-8 in string");
                        memcpy(out + n, p + ps->pos, k);
                        n += k;
                        ps->pos += k;
                        continue;
                }
                if (c != '\\') {
                        out[n++] = (char) c;
                        ps->pos++;
                        continue;
                }

                size_t esc = ps->pos;
                if (ps->pos + 1 >= ps->len)
                        return fail(ps, esc, -EINVAL, "unterminated string");
                c = p[ps->pos + 1];
                ps->pos += 2;
                switch (c) {
                case '"': out[n++] = '"'; break;
                case '\\': out[n++] = '\\'; break;
                case '/': out[n++] = '/'; break;
                case 'b': out[n++] = '\b'; break;
                case 'f': out[n++] = '\f'; break;
                case 'n': out[n++] = '\n'; break;
                case 'r': out[n++] = '\r'; break;
                case 't': out[n++] = '\t'; break;
                case 'u': {
                        uint32_t cp, lo;

                        if (ps->len - ps->pos < 4 || hex4(p + ps->pos, &cp) < 0)
                                return fail(ps, esc, -EINVAL, "invalid \\u escape");
                        ps->pos += 4;
                        if (cp >= 0xdc00 && cp <= 0xdfff)
                                return fail(ps, esc, -EILSEQ, "lone low surrogate in \\u escape");
                        if (cp >= 0xd800 && cp <= 0xdbff) {
                                if (ps->len - ps->pos < 6 || p[ps->pos] != '\\' || p[ps->pos + 1] != 'u' ||
                                    hex4(p + ps->pos + 2, &lo) < 0 || lo < 0xdc00 || lo > 0xdfff)
                                        return fail(ps, esc, -EILSEQ,
                                                    "high surrogate not followed by a low surrogate");
                                ps->pos += 6;
                                cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
                        }
                        if (cp == 0)
                                has_nul = true;
                        n += utf8_put(out + n, cp);
                        break;
                }
                default:
                        return set_error(ps->error, esc, -EINVAL, "invalid escape '\\%c'",
                                         c >= 0x20 && c < 0x7f ? (char) c : '?');
                }
        }

        if (n > UINT32_MAX)
                return fail(ps, start, -E2BIG, "string too long");
        out[n] = 0;
        ps->arena_used += n + 1;
        *ret = out;
        *ret_len = (uint32_t) n;
        if (ret_has_nul)
                *ret_has_nul = has_nul;
        return 0;
}

static bool is_digit(unsigned char c) {
        return c >= '0' && c <= '9';
}

static int parse_number(Parser *ps, JsonValue *v) {
        const unsigned char *p = ps->p;
        size_t start = ps->pos, i = ps->pos;
        uint64_t mag = 0;
        bool overflow = false, is_integer = true, negative = false;
        char buf[NUMBER_TEXT_MAX + 1];

        if (p[i] == '-') {
                negative = true;
                i++;
        }
        if (i >= ps->len || !is_digit(p[i]))
                return fail(ps, start, -EINVAL, "invalid number");
        if (p[i] == '0') {
                i++;
                if (i < ps->len && is_digit(p[i]))
                        return fail(ps, start, -EINVAL, "leading zeros are not allowed");
        } else
                while (i < ps->len && is_digit(p[i])) {
                        unsigned d = p[i] - '0';
                        if (mag > (UINT64_MAX - d) / 10)
                                overflow = true;
                        else
                                mag = mag * 10 + d;
                        i++;
                }
        if (i < ps->len && p[i] == '.') {
                is_integer = false;
                i++;
                if (i >= ps->len || !is_digit(p[i]))
                        return fail(ps, i, -EINVAL, "digit expected after decimal point");
                while (i < ps->len && is_digit(p[i]))
                        i++;
        }
        if (i < ps->len && (p[i] == 'e' || p[i] == 'E')) {
                is_integer = false;
                i++;
                if (i < ps->len && (p[i] == '+' || p[i] == '-'))
                        i++;
                if (i >= ps->len || !is_digit(p[i]))
                        return fail(ps, i, -EINVAL, "digit expected in exponent");
                while (i < ps->len && is_digit(p[i]))
                        i++;
        }
        if (i - start > NUMBER_TEXT_MAX)
                return set_error(ps->error, start, -E2BIG, "number longer than %u characters",
                                 NUMBER_TEXT_MAX);

        /* The grammar above is stricter than strtod's, so strtod consumes exactly this text. The
         * daemon never changes LC_NUMERIC, so the decimal point is '.'. */
        memcpy(buf, p + start, i - start);
        buf[i - start] = 0;
        v->number.d = strtod(buf, NULL);
        v->number.magnitude = mag;
        v->number.negative = negative;
        v->number.is_integer = is_integer;
        v->number.overflow = overflow;
        ps->pos = i;
        return 0;
}

static int parse_literal(Parser *ps, const char *word, size_t n) {
        if (ps->len - ps->pos < n || memcmp(ps->p + ps->pos, word, n) != 0)
                return fail(ps, ps->pos, -EINVAL, "invalid literal");
        ps->pos += n;
        return 0;
}

static int key_cmp(const void *a, const void *b) {
        const JsonValue *x = *(const JsonValue *const *) a, *y = *(const JsonValue *const *) b;

        if (x->key_len != y->key_len)
                return x->key_len < y->key_len ? -1 : 1;
        return memcmp(x->key, y->key, x->key_len);
}

/* Turns the sibling links into per-container child arrays, and rejects duplicate keys. */
static int finalize(Parser *ps) {
        JsonDocument *d = ps->doc;
        _cleanup_free_ const JsonValue **scratch = NULL;
        size_t used = 0;

        if (d->n_nodes > 1) {
                d->children = calloc(d->n_nodes - 1, sizeof(JsonValue *));
                if (!d->children)
                        return fail(ps, 0, -ENOMEM, "out of memory");
        }

        for (size_t i = 0; i < d->n_nodes; i++) {
                JsonValue *v = &d->nodes[i];
                uint32_t first;

                if (!IN_SET_CONTAINER(v->type))
                        continue;

                first = v->first_child;
                v->children = d->children ? d->children + used : NULL;
                for (uint32_t c = first; c != NO_INDEX; c = d->nodes[c].next)
                        d->children[used++] = &d->nodes[c];

                if (v->type != JSON_TYPE_OBJECT || v->count < 2)
                        continue;

                if (v->count <= 8) {
                        for (size_t a = 1; a < v->count; a++)
                                for (size_t b = 0; b < a; b++)
                                        if (key_cmp(&v->children[a], &v->children[b]) == 0)
                                                return set_error(ps->error, v->children[a]->key_offset,
                                                                 -ENOTUNIQ, "duplicate key");
                        continue;
                }

                if (!scratch) {
                        scratch = calloc(d->n_nodes, sizeof(JsonValue *));
                        if (!scratch)
                                return fail(ps, 0, -ENOMEM, "out of memory");
                }
                memcpy(scratch, v->children, v->count * sizeof(JsonValue *));
                qsort(scratch, v->count, sizeof(JsonValue *), key_cmp);
                for (size_t a = 1; a < v->count; a++)
                        if (key_cmp(&scratch[a - 1], &scratch[a]) == 0)
                                return fail(ps, MAX(scratch[a - 1]->key_offset, scratch[a]->key_offset),
                                            -ENOTUNIQ, "duplicate key");
        }
        return 0;
}

JsonDocument *json_document_free(JsonDocument *doc) {
        if (!doc)
                return NULL;
        free(doc->nodes);
        free(doc->arena);
        free(doc->children);
        free(doc);
        return NULL;
}

int json_parse(const char *data, size_t len, const JsonParseLimits *limits, JsonDocument **ret,
               JsonParseError *ret_error) {
        _cleanup_(json_document_freep) JsonDocument *doc = NULL;
        size_t max_size = JSON_PARSE_MAX_SIZE_DEFAULT, max_values = JSON_PARSE_MAX_VALUES_DEFAULT;
        unsigned max_depth = JSON_PARSE_MAX_DEPTH_DEFAULT;
        uint32_t stack[JSON_PARSE_MAX_DEPTH_LIMIT];
        unsigned depth = 0;
        int r;

        if (!ret || (!data && len > 0))
                return set_error(ret_error, 0, -EINVAL, "invalid arguments");

        if (limits) {
                if (limits->max_size > 0)
                        max_size = limits->max_size;
                if (limits->max_depth > 0)
                        max_depth = MIN(limits->max_depth, JSON_PARSE_MAX_DEPTH_LIMIT);
                if (limits->max_values > 0)
                        max_values = limits->max_values;
        }
        /* Offsets and lengths are stored in 32 bits. */
        max_size = MIN(max_size, (size_t) UINT32_MAX - 1);
        max_values = MIN(max_values, (size_t) UINT32_MAX - 1);

        if (len > max_size)
                return set_error(ret_error, max_size, -E2BIG, "document larger than %zu bytes", max_size);

        doc = calloc(1, sizeof(JsonDocument));
        if (!doc)
                return set_error(ret_error, 0, -ENOMEM, "out of memory");
        doc->arena = malloc(len + 1);
        if (!doc->arena)
                return set_error(ret_error, 0, -ENOMEM, "out of memory");

        Parser ps = {
                .p = (const unsigned char *) (data ?: ""),
                .len = len,
                .doc = doc,
                .max_values = max_values,
                .error = ret_error,
        };

        if (len >= 3 && memcmp(data, "\xef\xbb\xbf", 3) == 0)
                return fail(&ps, 0, -EINVAL, "byte-order mark not allowed");

        skip_ws(&ps);
        if (ps.pos >= len)
                return fail(&ps, ps.pos, -EINVAL, "empty document");

        for (;;) {
                uint32_t parent = depth > 0 ? stack[depth - 1] : NO_INDEX;
                const char *key = NULL;
                uint32_t key_len = 0, idx = 0;
                size_t key_offset = 0;

                /* A value is expected here (after an object key inside objects). */
                if (parent != NO_INDEX && doc->nodes[parent].type == JSON_TYPE_OBJECT) {
                        if (ps.pos >= len || ps.p[ps.pos] != '"')
                                return fail(&ps, ps.pos, -EINVAL, "expected a string key");
                        key_offset = ps.pos;
                        r = parse_string(&ps, &key, &key_len, NULL);
                        if (r < 0)
                                return r;
                        skip_ws(&ps);
                        if (ps.pos >= len || ps.p[ps.pos] != ':')
                                return fail(&ps, ps.pos, -EINVAL, "expected ':' after key");
                        ps.pos++;
                        skip_ws(&ps);
                }

                if (ps.pos >= len)
                        return fail(&ps, ps.pos, -EINVAL, "unexpected end of document, expected a value");

                unsigned char c = ps.p[ps.pos];
                JsonType type;
                switch (c) {
                case '{': type = JSON_TYPE_OBJECT; break;
                case '[': type = JSON_TYPE_ARRAY; break;
                case '"': type = JSON_TYPE_STRING; break;
                case 't': case 'f': type = JSON_TYPE_BOOL; break;
                case 'n': type = JSON_TYPE_NULL; break;
                case '-': case '0' ... '9': type = JSON_TYPE_NUMBER; break;
                default:
                        if (c >= 0x20 && c < 0x7f)
                                return set_error(ret_error, ps.pos, -EINVAL,
                                                 "unexpected character '%c', expected a value", c);
                        return set_error(ret_error, ps.pos, -EINVAL,
                                         "unexpected byte 0x%02x, expected a value", c);
                }

                r = new_node(&ps, type, ps.pos, parent, &idx);
                if (r < 0)
                        return r;
                JsonValue *v = &doc->nodes[idx];
                v->key = key;
                v->key_len = key_len;
                v->key_offset = (uint32_t) key_offset;

                r = 0;
                switch (type) {
                case JSON_TYPE_OBJECT:
                case JSON_TYPE_ARRAY:
                        if (depth >= max_depth)
                                return set_error(ret_error, ps.pos, -E2BIG, "nesting deeper than %u",
                                                 max_depth);
                        stack[depth++] = idx;
                        ps.pos++;
                        skip_ws(&ps);
                        if (ps.pos < len && ps.p[ps.pos] == (type == JSON_TYPE_OBJECT ? '}' : ']')) {
                                ps.pos++;
                                depth--;
                                break; /* empty container: a complete value */
                        }
                        continue; /* read the first member */
                case JSON_TYPE_STRING:
                        r = parse_string(&ps, &v->string.s, &v->string.len, &v->string.has_nul);
                        break;
                case JSON_TYPE_BOOL:
                        v->boolean = c == 't';
                        r = parse_literal(&ps, v->boolean ? "true" : "false", v->boolean ? 4 : 5);
                        break;
                case JSON_TYPE_NULL:
                        r = parse_literal(&ps, "null", 4);
                        break;
                case JSON_TYPE_NUMBER:
                        r = parse_number(&ps, v);
                        break;
                default:
                        r = fail(&ps, ps.pos, -EINVAL, "internal error");
                }
                if (r < 0)
                        return r;

                /* A value is complete: close containers, or find the comma to the next one. */
                for (;;) {
                        skip_ws(&ps);
                        if (depth == 0)
                                goto done;
                        bool is_object = doc->nodes[stack[depth - 1]].type == JSON_TYPE_OBJECT;
                        if (ps.pos >= len)
                                return fail(&ps, ps.pos, -EINVAL,
                                            is_object ? "unexpected end of document, expected ',' or '}'"
                                                      : "unexpected end of document, expected ',' or ']'");
                        c = ps.p[ps.pos];
                        if (c == ',') {
                                ps.pos++;
                                skip_ws(&ps);
                                break;
                        }
                        if (c == (is_object ? '}' : ']')) {
                                ps.pos++;
                                depth--;
                                continue;
                        }
                        return fail(&ps, ps.pos, -EINVAL, is_object ? "expected ',' or '}'" : "expected ',' or ']'");
                }
        }

done:
        if (ps.pos < len)
                return fail(&ps, ps.pos, -EINVAL, "trailing data after the document");

        r = finalize(&ps);
        if (r < 0)
                return r;

        if (ret_error) {
                ret_error->offset = 0;
                ret_error->message[0] = 0;
        }
        *ret = TAKE_PTR(doc);
        return 0;
}

const JsonValue *json_document_root(const JsonDocument *doc) {
        if (!doc || doc->n_nodes == 0)
                return NULL;
        return &doc->nodes[0];
}

JsonType json_value_type(const JsonValue *v) {
        return v ? v->type : _JSON_TYPE_INVALID;
}

size_t json_value_offset(const JsonValue *v) {
        return v ? v->offset : 0;
}

size_t json_value_count(const JsonValue *v) {
        if (!v || !IN_SET_CONTAINER(v->type))
                return 0;
        return v->count;
}

const JsonValue *json_value_member(const JsonValue *v, const char *key) {
        size_t n;

        if (!v || v->type != JSON_TYPE_OBJECT || !key)
                return NULL;
        n = strlen(key);
        for (size_t i = 0; i < v->count; i++) {
                const JsonValue *c = v->children[i];
                if (c->key_len == n && memcmp(c->key, key, n) == 0)
                        return c;
        }
        return NULL;
}

const JsonValue *json_value_member_at(const JsonValue *v, size_t i, const char **ret_key) {
        if (!v || v->type != JSON_TYPE_OBJECT || i >= v->count)
                return NULL;
        if (ret_key)
                *ret_key = v->children[i]->key;
        return v->children[i];
}

const JsonValue *json_value_element(const JsonValue *v, size_t i) {
        if (!v || v->type != JSON_TYPE_ARRAY || i >= v->count)
                return NULL;
        return v->children[i];
}

bool json_value_is_null(const JsonValue *v) {
        return v && v->type == JSON_TYPE_NULL;
}

static int check_type(const JsonValue *v, JsonType t) {
        if (!v)
                return -ENOENT;
        if (v->type != t)
                return -EMEDIUMTYPE;
        return 0;
}

int json_value_get_bool(const JsonValue *v, bool *ret) {
        int r = check_type(v, JSON_TYPE_BOOL);
        if (r < 0)
                return r;
        if (ret)
                *ret = v->boolean;
        return 0;
}

int json_value_get_string(const JsonValue *v, const char **ret, size_t *ret_len) {
        int r = check_type(v, JSON_TYPE_STRING);
        if (r < 0)
                return r;
        if (!ret_len && v->string.has_nul)
                return -EBADMSG;
        if (ret)
                *ret = v->string.s;
        if (ret_len)
                *ret_len = v->string.len;
        return 0;
}

int json_value_get_int64(const JsonValue *v, int64_t min, int64_t max, int64_t *ret) {
        int64_t x;
        int r = check_type(v, JSON_TYPE_NUMBER);
        if (r < 0)
                return r;
        if (!v->number.is_integer)
                return -EMEDIUMTYPE;
        if (v->number.overflow)
                return -ERANGE;
        if (v->number.negative) {
                if (v->number.magnitude > (uint64_t) INT64_MAX + 1)
                        return -ERANGE;
                x = v->number.magnitude == (uint64_t) INT64_MAX + 1 ? INT64_MIN : -(int64_t) v->number.magnitude;
        } else {
                if (v->number.magnitude > (uint64_t) INT64_MAX)
                        return -ERANGE;
                x = (int64_t) v->number.magnitude;
        }
        if (x < min || x > max)
                return -ERANGE;
        if (ret)
                *ret = x;
        return 0;
}

int json_value_get_uint64(const JsonValue *v, uint64_t max, uint64_t *ret) {
        int r = check_type(v, JSON_TYPE_NUMBER);
        if (r < 0)
                return r;
        if (!v->number.is_integer)
                return -EMEDIUMTYPE;
        if (v->number.overflow)
                return -ERANGE;
        if (v->number.negative && v->number.magnitude != 0)
                return -ERANGE;
        if (v->number.magnitude > max)
                return -ERANGE;
        if (ret)
                *ret = v->number.magnitude;
        return 0;
}

int json_value_get_double(const JsonValue *v, double *ret) {
        int r = check_type(v, JSON_TYPE_NUMBER);
        if (r < 0)
                return r;
        if (!isfinite(v->number.d))
                return -ERANGE;
        if (ret)
                *ret = v->number.d;
        return 0;
}

static int expect_fail(const JsonValue *v, const char *what, int r, const char *expectation,
                       JsonParseError *e) {
        if (!v)
                return set_error(e, 0, -ENOENT, "'%s': missing, expected %s", strna(what), expectation);
        return set_error(e, v->offset, r, "'%s': expected %s, got %s", strna(what), expectation,
                         json_type_to_string(v->type));
}

int json_expect_bool(const JsonValue *v, const char *what, bool *ret, JsonParseError *ret_error) {
        int r = json_value_get_bool(v, ret);
        if (r < 0)
                return expect_fail(v, what, r, "a boolean", ret_error);
        return 0;
}

int json_expect_string(const JsonValue *v, const char *what, size_t max_len, const char **ret,
                       JsonParseError *ret_error) {
        const char *s;
        int r = json_value_get_string(v, &s, NULL);
        if (r == -EBADMSG)
                return set_error(ret_error, v->offset, r, "'%s': string contains U+0000", strna(what));
        if (r < 0)
                return expect_fail(v, what, r, "a string", ret_error);
        if (v->string.len > max_len)
                return set_error(ret_error, v->offset, -ERANGE, "'%s': string longer than %zu bytes",
                                 strna(what), max_len);
        if (ret)
                *ret = s;
        return 0;
}

int json_expect_int64(const JsonValue *v, const char *what, int64_t min, int64_t max, int64_t *ret,
                      JsonParseError *ret_error) {
        char expectation[96];
        int r = json_value_get_int64(v, min, max, ret);
        if (r >= 0)
                return 0;
        (void) snprintf(expectation, sizeof(expectation), "an integer in %" PRId64 "..%" PRId64, min, max);
        if (r == -ERANGE || (r == -EMEDIUMTYPE && v->type == JSON_TYPE_NUMBER))
                return set_error(ret_error, v->offset, r, "'%s': expected %s", strna(what), expectation);
        return expect_fail(v, what, r, expectation, ret_error);
}

int json_expect_double(const JsonValue *v, const char *what, double min, double max, double *ret,
                       JsonParseError *ret_error) {
        char expectation[96];
        double d;
        int r = json_value_get_double(v, &d);
        (void) snprintf(expectation, sizeof(expectation), "a number in %g..%g", min, max);
        if (r == -ERANGE || (r >= 0 && (d < min || d > max)))
                return set_error(ret_error, v->offset, -ERANGE, "'%s': expected %s", strna(what), expectation);
        if (r < 0)
                return expect_fail(v, what, r, expectation, ret_error);
        if (ret)
                *ret = d;
        return 0;
}

int json_expect_object_keys(const JsonValue *v, const char *what, const char *const *allowed,
                            JsonParseError *ret_error) {
        int r = check_type(v, JSON_TYPE_OBJECT);
        if (r < 0) {
                (void) expect_fail(v, what, r, "an object", ret_error);
                return -EINVAL;
        }
        for (size_t i = 0; i < v->count; i++) {
                const JsonValue *c = v->children[i];
                bool found = false;

                for (const char *const *a = allowed; a && *a; a++)
                        if (strlen(*a) == c->key_len && memcmp(*a, c->key, c->key_len) == 0) {
                                found = true;
                                break;
                        }
                if (!found) {
                        /* The key may hold anything: quote only a short, printable prefix. */
                        char shown[33];
                        size_t n = 0;
                        for (size_t k = 0; k < c->key_len && n < sizeof(shown) - 1; k++) {
                                unsigned char ch = (unsigned char) c->key[k];
                                shown[n++] = ch >= 0x20 && ch < 0x7f ? (char) ch : '?';
                        }
                        shown[n] = 0;
                        return set_error(ret_error, c->key_offset, -EPROTO, "'%s': unknown key \"%s%s\"",
                                         strna(what), shown, c->key_len > n ? "..." : "");
                }
        }
        return 0;
}
