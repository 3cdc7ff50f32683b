/* SPDX-License-Identifier: MIT */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "insole.h"
#include "log.h"

static char last[4096];
static int last_level = -1;
static int lines;

static void sink(int level, const char *message, void *userdata) {
        (void) snprintf(last, sizeof(last), "%s", message);
        last_level = level;
        lines++;
}

static void test_levels_and_errno(void **state) {
        int r;

        log_set_sink(sink, NULL);
        log_set_max_level(LOG_INFO);
        lines = 0;
        log_debug("hidden %d", 1);
        assert_int_equal(lines, 0);

        r = log_error_errno(ENOENT, "Failed to open %s: %m", "x");
        assert_int_equal(r, -ENOENT);
        assert_int_equal(lines, 1);
        assert_int_equal(last_level, LOG_ERR);
        assert_string_equal(last, "Failed to open x: No such file or directory");

        /* Suppressed lines still return the negative errno. */
        r = log_debug_errno(-EIO, "quiet");
        assert_int_equal(r, -EIO);
        assert_int_equal(lines, 1);
        log_set_sink(NULL, NULL);
}

static void test_level_names(void **state) {
        assert_int_equal(log_level_from_string("debug"), LOG_DEBUG);
        assert_int_equal(log_level_from_string("warning"), LOG_WARNING);
        assert_int_equal(log_level_from_string("error"), LOG_ERR);
        assert_int_equal(log_level_from_string("3"), LOG_ERR);
        assert_int_equal(log_level_from_string("8"), -EINVAL);
        assert_int_equal(log_level_from_string("loud"), -EINVAL);
        assert_int_equal(log_level_from_string(""), -EINVAL);
        assert_string_equal(log_level_to_string(LOG_NOTICE), "notice");
}

static void test_escape_untrusted(void **state) {
        char buf[32];
        const char name[] = "ev\x01l/+#\0\xff";

        log_escape(name, sizeof(name) - 1, buf, sizeof(buf));
        assert_string_equal(buf, "ev\\x01l/+#\\x00\\xff");

        /* Truncates instead of overflowing; never splits an escape. */
        log_escape("\x01\x02\x03\x04", 4, buf, 10);
        assert_string_equal(buf, "\\x01\\x02");
}

static void test_insole_names(void **state) {
        assert_string_equal(foot_side_to_string(FOOT_LEFT), "left");
        assert_null(foot_side_to_string(_FOOT_SIDE_MAX));
        assert_int_equal(foot_region_of(0.0f), REGION_HEEL);
        assert_int_equal(foot_region_of(0.29f), REGION_HEEL);
        assert_int_equal(foot_region_of(0.30f), REGION_MIDFOOT);
        assert_int_equal(foot_region_of(0.6f), REGION_FOREFOOT);
        assert_int_equal(foot_region_of(0.9f), REGION_TOES);
        assert_string_equal(activity_state_to_string(ACTIVITY_NOT_WORN), "not_worn");
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_levels_and_errno),
                cmocka_unit_test(test_level_names),
                cmocka_unit_test(test_escape_untrusted),
                cmocka_unit_test(test_insole_names),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
