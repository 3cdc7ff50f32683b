/* SPDX-License-Identifier: MIT */

#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "schema-check.h"

const char *json_str(const JsonValue *v) {
        const char *s;
        size_t n;
        return json_value_get_string(v, &s, &n) >= 0 ? s : NULL;
}

static bool is_integer(const JsonValue *v) {
        int64_t i;
        uint64_t u;
        return json_value_get_int64(v, INT64_MIN, INT64_MAX, &i) >= 0 || json_value_get_uint64(v, UINT64_MAX, &u) >= 0;
}

static bool type_matches(const char *want, const JsonValue *v) {
        JsonType t = json_value_type(v);

        if (strcmp(want, "integer") == 0)
                return t == JSON_TYPE_NUMBER && is_integer(v);
        return strcmp(want, json_type_to_string(t)) == 0;
}

static int verr(char *err, size_t size, const char *path, const char *msg, const char *detail) {
        snprintf(err, size, "%s: %s%s%s", path[0] ? path : "(root)", msg, detail ? " " : "", detail ?: "");
        return -1;
}

static double num(const JsonValue *v) {
        double d = 0;
        (void) json_value_get_double(v, &d);
        return d;
}

static int validate(const JsonValue *schema, const JsonValue *v, const char *path, char *err, size_t size) {
        const JsonValue *t, *k;
        JsonType type = json_value_type(v);
        char sub[512];

        if (json_value_type(schema) != JSON_TYPE_OBJECT)
                return verr(err, size, path, "schema is not an object", NULL);

        t = json_value_member(schema, "type");
        if (t) {
                bool ok = false;
                if (json_str(t))
                        ok = type_matches(json_str(t), v);
                else
                        for (size_t i = 0; i < json_value_count(t); i++)
                                ok = ok || (json_str(json_value_element(t, i)) &&
                                            type_matches(json_str(json_value_element(t, i)), v));
                if (!ok)
                        return verr(err, size, path, "wrong type", json_type_to_string(type));
        }
        k = json_value_member(schema, "const");
        if (json_str(k) && (!json_str(v) || strcmp(json_str(k), json_str(v)) != 0))
                return verr(err, size, path, "differs from const", json_str(k));
        k = json_value_member(schema, "enum");
        if (k) {
                bool ok = false;
                for (size_t i = 0; i < json_value_count(k); i++)
                        ok = ok || (json_str(v) && json_str(json_value_element(k, i)) &&
                                    strcmp(json_str(json_value_element(k, i)), json_str(v)) == 0);
                if (!ok)
                        return verr(err, size, path, "not in enum", json_str(v));
        }
        if (type == JSON_TYPE_NUMBER) {
                k = json_value_member(schema, "minimum");
                if (k && num(v) < num(k))
                        return verr(err, size, path, "below minimum", NULL);
                k = json_value_member(schema, "maximum");
                if (k && num(v) > num(k))
                        return verr(err, size, path, "above maximum", NULL);
        }
        if (type == JSON_TYPE_STRING) {
                const char *s = json_str(v);
                size_t n = s ? strlen(s) : 0;

                if (!s)
                        return verr(err, size, path, "string with NUL", NULL);
                k = json_value_member(schema, "minLength");
                if (k && n < (size_t) num(k))
                        return verr(err, size, path, "too short", NULL);
                k = json_value_member(schema, "maxLength");
                if (k && n > (size_t) num(k))
                        return verr(err, size, path, "too long", NULL);
                k = json_value_member(schema, "pattern");
                if (json_str(k)) {
                        regex_t re;
                        int m;
                        if (regcomp(&re, json_str(k), REG_EXTENDED | REG_NOSUB) != 0)
                                return verr(err, size, path, "bad pattern", json_str(k));
                        m = regexec(&re, s, 0, NULL, 0);
                        regfree(&re);
                        if (m != 0)
                                return verr(err, size, path, "does not match", json_str(k));
                }
        }
        if (type == JSON_TYPE_ARRAY) {
                k = json_value_member(schema, "minItems");
                if (k && json_value_count(v) < (size_t) num(k))
                        return verr(err, size, path, "too few items", NULL);
                k = json_value_member(schema, "maxItems");
                if (k && json_value_count(v) > (size_t) num(k))
                        return verr(err, size, path, "too many items", NULL);
                k = json_value_member(schema, "items");
                if (k)
                        for (size_t i = 0; i < json_value_count(v); i++) {
                                snprintf(sub, sizeof sub, "%s[%zu]", path, i);
                                if (validate(k, json_value_element(v, i), sub, err, size) < 0)
                                        return -1;
                        }
        }
        if (type == JSON_TYPE_OBJECT) {
                const JsonValue *props = json_value_member(schema, "properties");
                const JsonValue *addl = json_value_member(schema, "additionalProperties");
                bool closed = false;

                (void) json_value_get_bool(addl, &closed);
                closed = addl && !closed;
                k = json_value_member(schema, "required");
                for (size_t i = 0; i < json_value_count(k); i++) {
                        const char *name = json_str(json_value_element(k, i));
                        if (!name || !json_value_member(v, name))
                                return verr(err, size, path, "missing required", name);
                }
                for (size_t i = 0; i < json_value_count(v); i++) {
                        const char *key;
                        const JsonValue *member = json_value_member_at(v, i, &key), *ps;

                        snprintf(sub, sizeof sub, "%s.%s", path, key);
                        ps = json_value_member(props, key);
                        if (ps) {
                                if (validate(ps, member, sub, err, size) < 0)
                                        return -1;
                        } else if (closed)
                                return verr(err, size, sub, "not allowed", NULL);
                }
        }
        return 0;
}

static char *read_file(const char *path) {
        FILE *f = fopen(path, "re");
        char *buf = NULL;
        long n;

        if (!f)
                return NULL;
        if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0) {
                buf = calloc(1, (size_t) n + 1);
                if (buf && fread(buf, 1, (size_t) n, f) != (size_t) n) {
                        free(buf);
                        buf = NULL;
                }
        }
        fclose(f);
        return buf;
}

int schema_check(const char *schema_name, const char *payload, char *err, size_t err_size) {
        _cleanup_(json_document_freep) JsonDocument *schema = NULL, *inst = NULL;
        _cleanup_free_ char *text = NULL;
        const char *root = getenv("INSOLE2MQTT_SOURCE_ROOT");
        char path[4096];
        JsonParseError perr = {};

        if (!root)
                return verr(err, err_size, "", "INSOLE2MQTT_SOURCE_ROOT not set", NULL);
        snprintf(path, sizeof path, "%s/docs/schema/%s.json", root, schema_name);
        text = read_file(path);
        if (!text)
                return verr(err, err_size, "", "cannot read", path);
        if (json_parse(text, strlen(text), NULL, &schema, &perr) < 0)
                return verr(err, err_size, "", "schema is not JSON:", perr.message);
        if (json_parse(payload, strlen(payload), NULL, &inst, &perr) < 0)
                return verr(err, err_size, "", "payload is not JSON:", perr.message);
        return validate(json_document_root(schema), json_document_root(inst), "", err, err_size);
}
