/* SPDX-License-Identifier: MIT */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>

#include "json-parse.h"
#include "json.h"
#include "macro.h"

static int parse(const char *s, JsonDocument **ret, JsonParseError *e) {
        return json_parse(s, strlen(s), NULL, ret, e);
}

static void test_scalars(void **state) {
        _cleanup_(json_document_freep) JsonDocument *d = NULL;
        const JsonValue *root, *v;
        const char *s;
        size_t n;
        int64_t i;
        uint64_t u;
        double x;
        bool b;

        assert_int_equal(parse(" {\"a\": 1, \"b\": -2.5e1, \"c\": \"h\\u00e9\\n\\\"\", \"d\": true, "
                               "\"e\": null, \"f\": [1, [], {}], \"g\": false } ",
                               &d, NULL),
                         0);
        root = json_document_root(d);
        assert_int_equal(json_value_type(root), JSON_TYPE_OBJECT);
        assert_int_equal(json_value_count(root), 7);
        assert_int_equal(json_value_offset(root), 1);

        assert_int_equal(json_value_get_int64(json_value_member(root, "a"), INT64_MIN, INT64_MAX, &i), 0);
        assert_int_equal(i, 1);
        assert_int_equal(json_value_get_uint64(json_value_member(root, "a"), UINT64_MAX, &u), 0);
        assert_int_equal(u, 1);

        v = json_value_member(root, "b");
        assert_int_equal(json_value_get_int64(v, INT64_MIN, INT64_MAX, &i), -EMEDIUMTYPE);
        assert_int_equal(json_value_get_double(v, &x), 0);
        assert_true(x == -25.0);

        assert_int_equal(json_value_get_string(json_value_member(root, "c"), &s, &n), 0);
        assert_string_equal(s, "h\xc3\xa9\n\"");
        assert_int_equal(n, 5);

        assert_int_equal(json_value_get_bool(json_value_member(root, "d"), &b), 0);
        assert_true(b);
        assert_int_equal(json_value_get_bool(json_value_member(root, "g"), &b), 0);
        assert_false(b);
        assert_true(json_value_is_null(json_value_member(root, "e")));
        assert_false(json_value_is_null(json_value_member(root, "zz")));

        v = json_value_member(root, "f");
        assert_int_equal(json_value_type(v), JSON_TYPE_ARRAY);
        assert_int_equal(json_value_count(v), 3);
        assert_int_equal(json_value_type(json_value_element(v, 1)), JSON_TYPE_ARRAY);
        assert_int_equal(json_value_count(json_value_element(v, 1)), 0);
        assert_int_equal(json_value_type(json_value_element(v, 2)), JSON_TYPE_OBJECT);
        assert_null(json_value_element(v, 3));
        assert_null(json_value_member(v, "a")); /* not an object */

        /* Iteration in document order. */
        const char *key;
        assert_non_null(json_value_member_at(root, 6, &key));
        assert_string_equal(key, "g");
        assert_null(json_value_member_at(root, 7, &key));

        /* Wrong types and absent values. */
        assert_int_equal(json_value_get_string(json_value_member(root, "a"), &s, NULL), -EMEDIUMTYPE);
        assert_int_equal(json_value_get_bool(NULL, &b), -ENOENT);
        assert_int_equal(json_value_type(NULL), _JSON_TYPE_INVALID);
        assert_string_equal(json_type_to_string(JSON_TYPE_BOOL), "boolean");
        assert_null(json_type_to_string(_JSON_TYPE_MAX));
}

static void test_integers(void **state) {
        static const struct {
                const char *text;
                int r;
                int64_t value;
        } cases[] = {
                { "0", 0, 0 },
                { "-0", 0, 0 },
                { "9223372036854775807", 0, INT64_MAX },
                { "-9223372036854775808", 0, INT64_MIN },
                { "9223372036854775808", -ERANGE, 0 },
                { "-9223372036854775809", -ERANGE, 0 },
                { "99999999999999999999999", -ERANGE, 0 },
                { "1.0", -EMEDIUMTYPE, 0 },
                { "1e3", -EMEDIUMTYPE, 0 },
                { "\"1\"", -EMEDIUMTYPE, 0 },
        };

        for (size_t k = 0; k < ELEMENTSOF(cases); k++) {
                _cleanup_(json_document_freep) JsonDocument *d = NULL;
                int64_t v = 12345;

                assert_int_equal(parse(cases[k].text, &d, NULL), 0);
                assert_int_equal(json_value_get_int64(json_document_root(d), INT64_MIN, INT64_MAX, &v),
                                 cases[k].r);
                if (cases[k].r == 0)
                        assert_true(v == cases[k].value);
                else
                        assert_true(v == 12345);
        }

        _cleanup_(json_document_freep) JsonDocument *d = NULL;
        uint64_t u;
        int64_t i;
        assert_int_equal(parse("[18446744073709551615, 18446744073709551616, -1, 15]", &d, NULL), 0);
        const JsonValue *a = json_document_root(d);
        assert_int_equal(json_value_get_uint64(json_value_element(a, 0), UINT64_MAX, &u), 0);
        assert_true(u == UINT64_MAX);
        assert_int_equal(json_value_get_uint64(json_value_element(a, 1), UINT64_MAX, &u), -ERANGE);
        assert_int_equal(json_value_get_uint64(json_value_element(a, 2), UINT64_MAX, &u), -ERANGE);
        assert_int_equal(json_value_get_uint64(json_value_element(a, 3), 14, &u), -ERANGE);
        assert_int_equal(json_value_get_int64(json_value_element(a, 3), 1, 14, &i), -ERANGE);
        assert_int_equal(json_value_get_int64(json_value_element(a, 3), 15, 15, &i), 0);
}

static void test_doubles(void **state) {
        _cleanup_(json_document_freep) JsonDocument *d = NULL;
        double x;

        assert_int_equal(parse("[0.1, -1E-2, 1e999, 123456789012345678901234567890]", &d, NULL), 0);
        const JsonValue *a = json_document_root(d);
        assert_int_equal(json_value_get_double(json_value_element(a, 0), &x), 0);
        assert_true(fabs(x - 0.1) < 1e-15);
        assert_int_equal(json_value_get_double(json_value_element(a, 1), &x), 0);
        assert_true(fabs(x + 0.01) < 1e-15);
        assert_int_equal(json_value_get_double(json_value_element(a, 2), &x), -ERANGE);
        assert_int_equal(json_value_get_double(json_value_element(a, 3), &x), 0);
        assert_true(x > 1.2e29 && x < 1.3e29);
}

static void test_errors(void **state) {
        static const struct {
                const char *text;
                size_t len; /* 0 = strlen */
                int r;
                size_t offset;
        } cases[] = {
                { "", 0, -EINVAL, 0 },
                { "   ", 0, -EINVAL, 3 },
                { "{", 0, -EINVAL, 1 },
                { "{\"a\"}", 0, -EINVAL, 4 },
                { "{\"a\":}", 0, -EINVAL, 5 },
                { "{\"a\":1,}", 0, -EINVAL, 7 },
                { "[1,]", 0, -EINVAL, 3 },
                { "[1 2]", 0, -EINVAL, 3 },
                { "{a:1}", 0, -EINVAL, 1 },
                { "01", 0, -EINVAL, 0 },
                { "1.", 0, -EINVAL, 2 },
                { "1e", 0, -EINVAL, 2 },
                { "-", 0, -EINVAL, 0 },
                { "+1", 0, -EINVAL, 0 },
                { ".5", 0, -EINVAL, 0 },
                { "tru", 0, -EINVAL, 0 },
                { "nul", 0, -EINVAL, 0 },
                { "True", 0, -EINVAL, 0 },
                { "1 2", 0, -EINVAL, 2 },
                { "{} x", 0, -EINVAL, 3 },
                { "\"abc", 0, -EINVAL, 0 },
                { "\"a\\x\"", 0, -EINVAL, 2 },
                { "\"a\\u12G4\"", 0, -EINVAL, 2 },
                { "\"\x01\"", 0, -EINVAL, 1 },
                { "\"a\nb\"", 0, -EINVAL, 2 },
                { "\"\xc3\"", 0, -EILSEQ, 1 },           /* truncated sequence */
                { "\"\xc0\xaf\"", 0, -EILSEQ, 1 },       /* overlong '/' */
                { "\"\xe0\x80\xaf\"", 0, -EILSEQ, 1 },   /* overlong */
                { "\"\xed\xa0\x80\"", 0, -EILSEQ, 1 },   /* UTF-8 encoded surrogate */
                { "\"\xf4\x90\x80\x80\"", 0, -EILSEQ, 1 }, /* above U+10FFFF */
                { "\"\xff\"", 0, -EILSEQ, 1 },
                { "\"\\ud800\"", 0, -EILSEQ, 1 },        /* lone high surrogate */
                { "\"\\udc00\"", 0, -EILSEQ, 1 },        /* lone low surrogate */
                { "\"\\ud800\\u0041\"", 0, -EILSEQ, 1 },
                { "\xef\xbb\xbf{}", 0, -EINVAL, 0 },     /* BOM */
                { "\xc3\xa9", 0, -EINVAL, 0 },
                { "{\"a\":1,\"a\":2}", 0, -ENOTUNIQ, 7 },
                { "[1]\0", 4, -EINVAL, 3 },              /* embedded NUL after the value */
                { "[\0]", 3, -EINVAL, 1 },
        };

        for (size_t k = 0; k < ELEMENTSOF(cases); k++) {
                JsonDocument *d = NULL;
                JsonParseError e = {};
                size_t len = cases[k].len ?: strlen(cases[k].text);
                int r = json_parse(cases[k].text, len, NULL, &d, &e);

                if (r != cases[k].r || e.offset != cases[k].offset)
                        print_error("case %zu: r=%d offset=%zu message=%s\n", k, r, e.offset, e.message);
                assert_int_equal(r, cases[k].r);
                assert_int_equal(e.offset, cases[k].offset);
                assert_null(d);
                assert_true(strlen(e.message) > 0);
        }
}

static void test_strings(void **state) {
        _cleanup_(json_document_freep) JsonDocument *d = NULL;
        const JsonValue *a;
        const char *s;
        size_t n;

        assert_int_equal(parse("[\"\\ud83d\\ude00\", \"a\\u0000b\", \"\xf0\x9f\x98\x80\", \"\\/\\b\\f\\r\\t\", \"\"]",
                               &d, NULL),
                         0);
        a = json_document_root(d);
        assert_int_equal(json_value_get_string(json_value_element(a, 0), &s, NULL), 0);
        assert_string_equal(s, "\xf0\x9f\x98\x80");
        assert_int_equal(json_value_get_string(json_value_element(a, 2), &s, NULL), 0);
        assert_string_equal(s, "\xf0\x9f\x98\x80");
        /* Embedded NUL: only with a length. */
        assert_int_equal(json_value_get_string(json_value_element(a, 1), &s, NULL), -EBADMSG);
        assert_int_equal(json_value_get_string(json_value_element(a, 1), &s, &n), 0);
        assert_int_equal(n, 3);
        assert_memory_equal(s, "a\0b", 3);
        assert_int_equal(json_value_get_string(json_value_element(a, 3), &s, NULL), 0);
        assert_string_equal(s, "/\b\f\r\t");
        assert_int_equal(json_value_get_string(json_value_element(a, 4), &s, &n), 0);
        assert_int_equal(n, 0);

        /* Keys with escapes match their decoded form; keys with NUL never match a C string. */
        json_document_free(TAKE_PTR(d));
        assert_int_equal(parse("{\"\\u0061b\":1, \"x\\u0000y\":2}", &d, NULL), 0);
        assert_non_null(json_value_member(json_document_root(d), "ab"));
        assert_null(json_value_member(json_document_root(d), "x"));
}

static void test_not_nul_terminated(void **state) {
        _cleanup_(json_document_freep) JsonDocument *d = NULL;
        /* The input is a prefix of a longer buffer: the parser must stop at len. */
        const char buf[] = "12345";
        int64_t v;

        assert_int_equal(json_parse(buf, 3, NULL, &d, NULL), 0);
        assert_int_equal(json_value_get_int64(json_document_root(d), 0, 1000, &v), 0);
        assert_int_equal(v, 123);

        json_document_free(TAKE_PTR(d));
        assert_int_equal(json_parse("\"ab\"", 3, NULL, &d, NULL), -EINVAL);
        assert_int_equal(json_parse("true", 3, NULL, &d, NULL), -EINVAL);
        assert_int_equal(json_parse(NULL, 0, NULL, &d, NULL), -EINVAL);
}

static void test_limits(void **state) {
        JsonDocument *d = NULL;
        JsonParseError e = {};
        char deep[4096];

        /* Nesting far beyond the limit fails cleanly, without recursion. */
        memset(deep, '[', sizeof(deep));
        assert_int_equal(json_parse(deep, sizeof(deep), NULL, &d, &e), -E2BIG);
        assert_int_equal(e.offset, JSON_PARSE_MAX_DEPTH_DEFAULT);
        assert_null(d);

        /* Exactly at the limit works. */
        JsonParseLimits l = { .max_depth = 3 };
        assert_int_equal(json_parse("[[[1]]]", 7, &l, &d, &e), 0);
        d = json_document_free(d);
        assert_int_equal(json_parse("[[[[1]]]]", 9, &l, &d, &e), -E2BIG);
        assert_int_equal(e.offset, 3);
        assert_int_equal(json_parse("{\"a\":{\"b\":{\"c\":{}}}}", 20, &l, &d, &e), -E2BIG);

        l = (JsonParseLimits) { .max_size = 8 };
        assert_int_equal(json_parse("[1,2,3,4]", 9, &l, &d, &e), -E2BIG);
        assert_int_equal(json_parse("[1,2,3]", 7, &l, &d, &e), 0);
        d = json_document_free(d);

        l = (JsonParseLimits) { .max_values = 4 };
        assert_int_equal(json_parse("[1,2,3]", 7, &l, &d, &e), 0);
        d = json_document_free(d);
        assert_int_equal(json_parse("[1,2,3,4]", 9, &l, &d, &e), -E2BIG);
        assert_int_equal(e.offset, 7);

        /* Over-long numbers are refused rather than truncated. */
        char num[300];
        memset(num, '1', sizeof(num));
        assert_int_equal(json_parse(num, sizeof(num), NULL, &d, &e), -E2BIG);
}

static void test_duplicates_large_object(void **state) {
        JsonWriter w;
        const char *s;
        size_t n;
        JsonDocument *d = NULL;
        JsonParseError e = {};

        /* Large objects take the sorted path of the duplicate check. */
        json_writer_init_dynamic(&w);
        json_object_begin(&w);
        for (int i = 0; i < 200; i++) {
                char k[16];
                snprintf(k, sizeof(k), "k%d", i);
                json_kv_int(&w, k, i);
        }
        json_object_end(&w);
        assert_int_equal(json_writer_finish(&w, &s, &n), 0);
        assert_int_equal(json_parse(s, n, NULL, &d, &e), 0);
        const JsonValue *root = json_document_root(d);
        int64_t v;
        assert_int_equal(json_value_count(root), 200);
        assert_int_equal(json_value_get_int64(json_value_member(root, "k137"), 0, 1000, &v), 0);
        assert_int_equal(v, 137);
        d = json_document_free(d);
        json_writer_done(&w);

        json_writer_init_dynamic(&w);
        json_object_begin(&w);
        for (int i = 0; i < 50; i++) {
                char k[16];
                snprintf(k, sizeof(k), "k%d", i == 49 ? 3 : i);
                json_kv_int(&w, k, i);
        }
        json_object_end(&w);
        assert_int_equal(json_writer_finish(&w, &s, &n), 0);
        assert_int_equal(json_parse(s, n, NULL, &d, &e), -ENOTUNIQ);
        assert_null(d);
        /* Reported at the later of the two keys. */
        assert_memory_equal(s + e.offset, "\"k3\":49", 7);
        json_writer_done(&w);
}

static void test_expect(void **state) {
        _cleanup_(json_document_freep) JsonDocument *d = NULL;
        JsonParseError e = {};
        const JsonValue *root;
        int64_t i;
        double x;
        bool b;
        const char *s;
        static const char *const allowed[] = { "action", "minutes", NULL };

        assert_int_equal(parse("{\"action\":\"snooze\",\"minutes\":15000,\"f\":1.5,\"b\":1,\"s\":\"long string\"}",
                               &d, NULL),
                         0);
        root = json_document_root(d);

        assert_int_equal(json_expect_int64(json_value_member(root, "minutes"), "minutes", 1, 1440, &i, &e), -ERANGE);
        assert_string_equal(e.message, "'minutes': expected an integer in 1..1440");
        assert_int_equal(e.offset, 29);

        assert_int_equal(json_expect_int64(json_value_member(root, "action"), "minutes", 1, 1440, &i, &e),
                         -EMEDIUMTYPE);
        assert_string_equal(e.message, "'minutes': expected an integer in 1..1440, got string");
        assert_int_equal(json_expect_int64(json_value_member(root, "f"), "f", 1, 10, &i, &e), -EMEDIUMTYPE);
        assert_string_equal(e.message, "'f': expected an integer in 1..10");

        assert_int_equal(json_expect_int64(json_value_member(root, "nope"), "nope", 1, 2, &i, &e), -ENOENT);
        assert_string_equal(e.message, "'nope': missing, expected an integer in 1..2");

        assert_int_equal(json_expect_double(json_value_member(root, "f"), "f", 0, 2, &x, &e), 0);
        assert_true(x == 1.5);
        assert_int_equal(json_expect_double(json_value_member(root, "f"), "f", 0, 1, &x, &e), -ERANGE);
        assert_int_equal(json_expect_bool(json_value_member(root, "b"), "b", &b, &e), -EMEDIUMTYPE);
        assert_string_equal(e.message, "'b': expected a boolean, got number");

        assert_int_equal(json_expect_string(json_value_member(root, "s"), "s", 4, &s, &e), -ERANGE);
        assert_int_equal(json_expect_string(json_value_member(root, "s"), "s", 64, &s, &e), 0);
        assert_string_equal(s, "long string");

        assert_int_equal(json_expect_object_keys(root, "command", allowed, &e), -EPROTO);
        assert_string_equal(e.message, "'command': unknown key \"f\"");
        assert_int_equal(json_expect_object_keys(json_value_member(root, "f"), "command", allowed, &e), -EINVAL);
}

/* A deterministic mutation loop: whatever the bytes, parsing returns a result, and a successful
 * parse can be walked completely. Sanitizer builds make this a small fuzzer. */
static void walk(const JsonValue *v, unsigned *budget) {
        const char *s;
        size_t n;
        double x;

        if (!v || (*budget)-- == 0)
                return;
        (void) json_value_get_string(v, &s, &n);
        (void) json_value_get_double(v, &x);
        for (size_t i = 0; i < json_value_count(v); i++) {
                walk(json_value_element(v, i), budget);
                walk(json_value_member_at(v, i, NULL), budget);
        }
}

static void test_mutations(void **state) {
        static const char *const seeds[] = {
                "{\"action\":\"snooze\",\"minutes\":15}",
                "[1,-2.5e3,\"\\ud83d\\ude00\",true,false,null,{\"a\":[{}]}]",
                "\"h\xc3\xa9\"",
        };
        uint32_t rng = 12345;
        unsigned ok = 0, failed = 0;

        for (size_t s = 0; s < ELEMENTSOF(seeds); s++)
                for (unsigned iter = 0; iter < 20000; iter++) {
                        char buf[128];
                        size_t len = strlen(seeds[s]);
                        JsonDocument *d = NULL;
                        JsonParseError e;

                        memcpy(buf, seeds[s], len);
                        for (unsigned m = 0; m < 1 + iter % 4; m++) {
                                rng = rng * 1103515245u + 12345u;
                                size_t at = (rng >> 8) % len;
                                rng = rng * 1103515245u + 12345u;
                                switch ((rng >> 16) % 3) {
                                case 0: buf[at] = (char) (rng >> 24); break;
                                case 1: if (len > 1) len--; break;
                                case 2: buf[at] = "{}[]\",:\\u0e-"[(rng >> 20) % 13]; break;
                                }
                        }
                        int r = json_parse(buf, len, NULL, &d, &e);
                        if (r == 0) {
                                unsigned budget = 1000;
                                walk(json_document_root(d), &budget);
                                json_document_free(d);
                                ok++;
                        } else {
                                assert_null(d);
                                assert_true(e.offset <= len);
                                assert_true(r == -EINVAL || r == -EILSEQ || r == -E2BIG || r == -ENOTUNIQ);
                                failed++;
                        }
                }
        assert_true(ok > 0);
        assert_true(failed > 0);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_scalars),
                cmocka_unit_test(test_integers),
                cmocka_unit_test(test_doubles),
                cmocka_unit_test(test_errors),
                cmocka_unit_test(test_strings),
                cmocka_unit_test(test_not_nul_terminated),
                cmocka_unit_test(test_limits),
                cmocka_unit_test(test_duplicates_large_object),
                cmocka_unit_test(test_expect),
                cmocka_unit_test(test_mutations),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
