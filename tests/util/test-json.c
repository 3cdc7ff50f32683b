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
                cmocka_unit_test(test_finite_only),
                cmocka_unit_test(test_fixed_buffer_overflow),
                cmocka_unit_test(test_misuse),
                cmocka_unit_test(test_dynamic),
                cmocka_unit_test(test_depth_limit),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
