/* SPDX-License-Identifier: MIT */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "macro.h"
#include "reminder-command.h"

static int parse(const char *s, ReminderCommand *ret, ReminderCommandError *error) {
        return reminder_command_parse(s, strlen(s), ret, error);
}

static void test_commands(void **state) {
        ReminderCommand c;
        ReminderCommandError e;

        assert_int_equal(parse("{\"action\":\"snooze\",\"minutes\":15}", &c, &e), 0);
        assert_int_equal(c.action, REMINDER_ACTION_SNOOZE);
        assert_int_equal(c.minutes, 15);

        assert_int_equal(parse("{\"action\":\"pause\"}", &c, &e), 0);
        assert_int_equal(c.action, REMINDER_ACTION_PAUSE);
        assert_int_equal(c.minutes, 0);
        assert_false(c.has_until);

        assert_int_equal(parse("{\"action\":\"pause\",\"until\":\"2026-05-01T18:00:00Z\"}", &c, &e), 0);
        assert_true(c.has_until);
        assert_int_equal(c.until_wall_usec, UINT64_C(1777658400) * USEC_PER_SEC);

        assert_int_equal(parse("{\"action\":\"resume\"}", &c, &e), 0);
        assert_int_equal(c.action, REMINDER_ACTION_RESUME);
}

static void test_errors(void **state) {
        ReminderCommand c;
        ReminderCommandError e;

        /* JSON errors say where */
        assert_true(parse("{\"action\":", &c, &e) < 0);
        assert_true(e.offset >= 0);
        assert_true(parse("{\"action\":\"snooze\",\"minutes\":721}", &c, &e) < 0);
        assert_true(e.offset >= 0);
        assert_true(parse("{\"action\":\"snooze\",\"colour\":1}", &c, &e) < 0);

        /* rules between keys do not point at one byte */
        assert_int_equal(parse("{\"action\":\"pause\",\"minutes\":5,\"until\":\"2026-05-01T18:00:00Z\"}", &c, &e),
                         -EINVAL);
        assert_int_equal(e.offset, -1);
        assert_string_equal(e.message, "'minutes' and 'until' exclude each other");
        assert_int_equal(parse("{\"action\":\"pause\",\"until\":\"2026-04-31T18:00:00Z\"}", &c, &e), -EINVAL);
        assert_int_equal(e.offset, -1);
        assert_int_equal(parse("{\"action\":\"resume\",\"minutes\":5}", &c, &e), -EINVAL);
        assert_int_equal(parse("{\"action\":\"dance\"}", &c, &e), -EINVAL);
        assert_string_equal(e.message, "'action': expected \"snooze\", \"pause\" or \"resume\"");
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_commands),
                cmocka_unit_test(test_errors),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
