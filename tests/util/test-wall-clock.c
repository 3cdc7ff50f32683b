/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <time.h>

#include <cmocka.h>

#include "macro.h"
#include "time-util.h"
#include "wall-clock.h"

static void sleep_usec(uint64_t usec) {
        struct timespec ts = { .tv_sec = usec / USEC_PER_SEC, .tv_nsec = (long) (usec % USEC_PER_SEC) * 1000 };
        (void) nanosleep(&ts, NULL);
}

/* Unset, the gateway's wall clock is CLOCK_REALTIME; a bad value is refused and changes nothing. */
static void test_real_clock_and_bad_values(void **state) {
        static const char *const bad[] = {
                "1796083200", "1796083200:", ":10", "1796083200:0.5", "1796083200:100001", "x:10",
                "1796083200:10x", "-5:10", "1796083200:nan", "1796083200:inf", "99999999999999999999:10",
        };

        assert_int_equal(unsetenv("INSOLE2MQTT_TEST_CLOCK"), 0);
        assert_int_equal(wall_clock_setup(), 0);
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                assert_int_equal(setenv("INSOLE2MQTT_TEST_CLOCK", bad[i], 1), 0);
                assert_int_equal(wall_clock_setup(), -EINVAL);
        }
        assert_true(wall_clock_speed() == 1);
        uint64_t real = clock_now_usec(CLOCK_REALTIME), ours = wall_clock_usec();
        assert_true(ours >= real && ours - real < USEC_PER_SEC);
}

/* A test clock starts at its epoch and runs SPEED times faster than the monotonic clock. */
static void test_compressed_clock(void **state) {
        uint64_t before_setup, m0, w0, m1, w1;

        assert_int_equal(setenv("INSOLE2MQTT_TEST_CLOCK", "1796083200:1000", 1), 0);
        before_setup = clock_now_usec(CLOCK_MONOTONIC);
        assert_int_equal(wall_clock_setup(), 1);
        assert_true(wall_clock_speed() == 1000);
        m0 = clock_now_usec(CLOCK_MONOTONIC);
        w0 = wall_clock_usec();
        /* the start, plus 1000 x whatever time this process took since (a loaded machine, emulation) */
        assert_true(w0 >= 1796083200 * USEC_PER_SEC &&
                    w0 <= 1796083200 * USEC_PER_SEC + (clock_now_usec(CLOCK_MONOTONIC) - before_setup) * 1000 + 1000);
        sleep_usec(20 * USEC_PER_MSEC);
        w1 = wall_clock_usec();
        m1 = clock_now_usec(CLOCK_MONOTONIC);
        /* at least 1000 x the 20 ms slept, at most 1000 x the monotonic time that passed */
        assert_true(w1 - w0 >= 20 * USEC_PER_SEC);
        assert_true(w1 - w0 <= (m1 - m0) * 1000 + 1000);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_real_clock_and_bad_values),
                cmocka_unit_test(test_compressed_clock),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
