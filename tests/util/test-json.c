/* SPDX-License-Identifier: MIT */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <math.h>
#include <cmocka.h>

#include "json.h"
#include "macro.h"

static void test_object_nesting(void **state) {
        char buf[256];
        JsonWriter w;
        const char *out;

        json_writer_init(&w, buf, sizeof(buf));
        json_object_begin(&w);
        json_kv_string(&w, "foot", "left");
        json_kv_int(&w, "n", -3);
        json_key(&w, "list");
        json_array_begin(&w);
        json_uint(&w, 1);
        json_bool(&w, true);
        json_null(&w);
        json_object_begin(&w);
        json_object_end(&w);
        json_array_end(&w);
        json_kv_double(&w, "cadence_spm", 112.50, 2);
        json_object_end(&w);
        assert_int_equal(json_writer_finish(&w, &out, NULL), 0);
        assert_string_equal(out, "{\"foot\":\"left\",\"n\":-3,\"list\":[1,true,null,{}],\"cadence_spm\":112.5}");
}

static void test_escaping(void **state) {
        char buf[256];
        JsonWriter w;
        const char *out;
        const char hostile[] = "a\"b\\c\n\x01/+#$\xff\xc3\xa9";

        json_writer_init(&w, buf, sizeof(buf));
        json_string_len(&w, hostile, sizeof(hostile) - 1);
        assert_int_equal(json_writer_finish(&w, &out, NULL), 0);
        /* Quotes, backslashes and controls escaped; invalid UTF-8 escaped; valid é kept. */
        assert_string_equal(out, "\"a\\\"b\\\\c\\n\\u0001/+#$\\u00ff\xc3\xa9\"");
}

static void test_embedded_nul(void **state) {
        char buf[64];
        JsonWriter w;
        const char *out;

        json_writer_init(&w, buf, sizeof(buf));
        json_string_len(&w, "a\0b", 3);
        assert_int_equal(json_writer_finish(&w, &out, NULL), 0);
        assert_string_equal(out, "\"a\\u0000b\"");
}

static void test_doubles(void **state) {
        char buf[128];
        JsonWriter w;
        const char *out;

        json_writer_init(&w, buf, sizeof(buf));
        json_array_begin(&w);
        json_double(&w, 1.0, 3);
        json_double(&w, -0.0001, 2);
        json_double(&w, NAN, 2);
        json_double(&w, INFINITY, 2);
        json_double(&w, 0.125, 3);
        json_double(&w, 1e300, 2);
        json_array_end(&w);
        assert_int_equal(json_writer_finish(&w, &out, NULL), 0);
        assert_string_equal(out, "[1,0,null,null,0.125,1e+300]");
}

/* json_double() formats most values without printf; what it writes must be what printf's "%.*f"
 * (then trimmed) writes, ties and all. */
static void printf_reference(char *b, size_t size, double v, int decimals) {
        size_t n = (size_t) snprintf(b, size, "%.*f", decimals, v);

        if (n >= size)
                n = (size_t) snprintf(b, size, "%.6g", v);
        else if (decimals > 0) {
                while (n > 0 && b[n - 1] == '0')
                        b[--n] = 0;
                if (n > 0 && b[n - 1] == '.')
                        b[--n] = 0;
        }
        if (strcmp(b, "-0") == 0)
                strcpy(b, "0");
}

static void test_doubles_like_printf(void **state) {
        static const double special[] = { 0, -0.0, 0.5, 1.5, 2.5, -2.5, 0.125, 0.375, 104.25, 104.35, 1e-9, -1e-9,
                                          0.045, 1.005, 2.675, 4294967295.5, 4294967296.0, 1e15, -1e15, 123456.789,
                                          0.1, 0.2, 0.3, 9.995, 99.995, 1e-5, 5e-10, 429496.72955 };
        uint64_t x = 0x9e3779b97f4a7c15ULL;
        char buf[128], ref[128];

        for (size_t i = 0; i < ELEMENTSOF(special) * 10 + 400000; i++) {
                int decimals = (int) (i % 10);
                double v;
                JsonWriter w;
                const char *out;

                if (i < ELEMENTSOF(special) * 10)
                        v = special[i / 10];
                else {
                        /* xorshift: values of every size, and many of them on a decimal grid */
                        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
                        v = (double) (int64_t) (x >> 20) / (double) (1ULL << (x % 40));
                        if (x % 3 == 0)
                                v = round(v * 1000) / 1000;
                }
                json_writer_init(&w, buf, sizeof(buf));
                json_double(&w, v, decimals);
                assert_int_equal(json_writer_finish(&w, &out, NULL), 0);
                printf_reference(ref, sizeof(ref), v, decimals);
                if (strcmp(out, ref) != 0)
                        fail_msg("%.17g with %d decimals: \"%s\", printf \"%s\"", v, decimals, out, ref);
        }
}

static void test_integers(void **state) {
        char buf[256];
        JsonWriter w;
        const char *out;

        json_writer_init(&w, buf, sizeof(buf));
        json_array_begin(&w);
        json_int(&w, 0);
        json_int(&w, -1);
        json_int(&w, INT64_MIN);
        json_int(&w, INT64_MAX);
        json_uint(&w, 0);
        json_uint(&w, 10);
        json_uint(&w, UINT64_MAX);
        json_array_end(&w);
        assert_int_equal(json_writer_finish(&w, &out, NULL), 0);
        assert_string_equal(out, "[0,-1,-9223372036854775808,9223372036854775807,0,10,18446744073709551615]");
}

static void test_finite_only(void **state) {
        char buf[128];
        JsonWriter w;
        const char *out;

        json_writer_init(&w, buf, sizeof(buf));
        json_object_begin(&w);
        json_kv_double_finite(&w, "cadence_spm", 104.25, 1);
        json_kv_double_finite(&w, "stride_time_ms", NAN, 1);
        json_kv_double_finite(&w, "swing_pct", -INFINITY, 1);
        json_kv_uint(&w, "strides", 0);
        json_object_end(&w);
        assert_int_equal(json_writer_finish(&w, &out, NULL), 0);
        assert_string_equal(out, "{\"cadence_spm\":104.2,\"strides\":0}");
}

static void test_fixed_buffer_overflow(void **state) {
        char buf[8];
        JsonWriter w;

        json_writer_init(&w, buf, sizeof(buf));
        json_object_begin(&w);
        json_kv_string(&w, "key", "a long value");
        json_object_end(&w);
        assert_int_equal(json_writer_finish(&w, NULL, NULL), -ENOBUFS);
}

static void test_misuse(void **state) {
        char buf[64];
        JsonWriter w;

        json_writer_init(&w, buf, sizeof(buf));
        json_object_begin(&w);
        json_key(&w, "a");
        json_object_end(&w); /* key without value */
        assert_int_equal(json_writer_finish(&w, NULL, NULL), -EINVAL);

        json_writer_init(&w, buf, sizeof(buf));
        json_array_begin(&w);
        assert_int_equal(json_writer_finish(&w, NULL, NULL), -EINVAL); /* unclosed */

        json_writer_init(&w, buf, sizeof(buf));
        json_key(&w, "top-level key");
        assert_int_equal(json_writer_finish(&w, NULL, NULL), -EINVAL);
}

static void test_dynamic(void **state) {
        JsonWriter w;
        char *out = NULL;
        size_t len;

        json_writer_init_dynamic(&w);
        json_array_begin(&w);
        for (int i = 0; i < 1000; i++)
                json_int(&w, i);
        json_array_end(&w);
        assert_int_equal(json_writer_steal(&w, &out, &len), 0);
        assert_non_null(out);
        assert_int_equal(len, strlen(out));
        assert_true(strncmp(out, "[0,1,2,", 7) == 0);
        assert_true(strcmp(out + len - 5, ",999]") == 0);
        free(out);
        json_writer_done(&w);
}

static void test_depth_limit(void **state) {
        char buf[256];
        JsonWriter w;

        json_writer_init(&w, buf, sizeof(buf));
        for (int i = 0; i < JSON_MAX_DEPTH + 1; i++)
                json_array_begin(&w);
        assert_int_equal(json_writer_finish(&w, NULL, NULL), -EINVAL);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_object_nesting),
                cmocka_unit_test(test_escaping),
                cmocka_unit_test(test_embedded_nul),
                cmocka_unit_test(test_doubles),
                cmocka_unit_test(test_doubles_like_printf),
                cmocka_unit_test(test_integers),
                cmocka_unit_test(test_finite_only),
                cmocka_unit_test(test_fixed_buffer_overflow),
                cmocka_unit_test(test_misuse),
                cmocka_unit_test(test_dynamic),
                cmocka_unit_test(test_depth_limit),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
