/* SPDX-License-Identifier: MIT */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "backoff.h"
#include "macro.h"

static void test_backoff_doubles_and_caps(void **state) {
        Backoff b;
        /* With the smallest random value the delay is exactly half the base. */
        uint64_t expected_base[] = { 1, 2, 4, 8, 16, 32, 60, 60, 60 };

        backoff_init(&b, 1 * USEC_PER_SEC, 60 * USEC_PER_SEC);
        for (size_t i = 0; i < ELEMENTSOF(expected_base); i++)
                assert_int_equal(backoff_next(&b, 0), expected_base[i] * USEC_PER_SEC / 2);

        /* With the largest it stays within the base. */
        backoff_reset(&b);
        for (size_t i = 0; i < ELEMENTSOF(expected_base); i++) {
                uint64_t d = backoff_next(&b, UINT64_MAX);
                assert_true(d >= expected_base[i] * USEC_PER_SEC / 2);
                assert_true(d <= expected_base[i] * USEC_PER_SEC);
        }
}

static void test_backoff_jitter_spreads(void **state) {
        const uint64_t values[] = { 0, 250000, 500000, 123456789 };
        const uint64_t expected[] = { 500000, 750000, 1000000, 500000 + 123456789 % 500001 };
        Backoff b;

        backoff_init(&b, 1 * USEC_PER_SEC, 60 * USEC_PER_SEC);
        /* base 1 s: half 500 ms, span 500 ms -> 500 ms + r % 500001 */
        for (size_t i = 0; i < ELEMENTSOF(values); i++) {
                backoff_reset(&b);
                assert_int_equal(backoff_next(&b, values[i]), expected[i]);
        }
}

static void test_backoff_never_overflows(void **state) {
        Backoff b;

        backoff_init(&b, 1, UINT64_MAX / 2);
        b.attempt = 1000;
        uint64_t d = backoff_next(&b, 0);
        assert_true(d >= UINT64_MAX / 8);
        assert_true(d <= UINT64_MAX / 2);
        assert_int_equal(backoff_delay(1, UINT64_MAX, UINT32_MAX, 0), UINT64_MAX / 2);

        /* Degenerate configuration: max below initial keeps initial; 0 is taken as 1 us. */
        backoff_init(&b, 10, 5);
        assert_int_equal(backoff_next(&b, 0), 5);
        assert_int_equal(backoff_delay(0, 0, 0, 0), 0);
        assert_int_equal(backoff_delay(0, 0, 0, 1), 1);
}

static void test_backoff_limits_keep_escalation(void **state) {
        Backoff b;

        backoff_init(&b, 1 * USEC_PER_SEC, 60 * USEC_PER_SEC);
        for (unsigned i = 0; i < 3; i++)
                (void) backoff_next(&b, 0);
        /* a reload: 2 s doubling from the fourth attempt on is 16 s, capped at 10 s */
        backoff_set_limits(&b, 2 * USEC_PER_SEC, 10 * USEC_PER_SEC);
        assert_int_equal(b.attempt, 3);
        assert_int_equal(backoff_next(&b, 0), 5 * USEC_PER_SEC);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_backoff_doubles_and_caps),
                cmocka_unit_test(test_backoff_jitter_spreads),
                cmocka_unit_test(test_backoff_never_overflows),
                cmocka_unit_test(test_backoff_limits_keep_escalation),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
