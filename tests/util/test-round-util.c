/* SPDX-License-Identifier: MIT */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "macro.h"
#include "round-util.h"

/* The daemon's replacements must agree with libm's llround() (lround() with 64 bits on armhf too) and
 * hypotf(), which this test may use. */

static void test_round_half_away_matches_lround(void **state) {
        const double values[] = {
                0, -0.0, 0.49999999999999994, 0.5, 1.5, 2.5, -0.5, -1.5, -2.4999999, 2.5000001,
                123456.5, -123456.5, 4503599627370495.5, 4503599627370497.0, 9007199254740993.0,
                -9007199254740993.0, 1e15 + 0.5, 72.49999f, 72.5f, 1e-300, -1e-300,
        };

        for (size_t i = 0; i < ELEMENTSOF(values); i++)
                assert_int_equal(round_half_away(values[i]), llround(values[i]));

        /* a sweep over fractions near every half, positive and negative */
        for (int k = -2000; k <= 2000; k++)
                for (int d = -3; d <= 3; d++) {
                        double x = nextafter(k + 0.5, d < 0 ? -INFINITY : INFINITY);
                        for (int s = 0; s < abs(d); s++)
                                x = nextafter(x, d < 0 ? -INFINITY : INFINITY);
                        assert_int_equal(round_half_away(x), llround(x));
                        assert_int_equal(round_half_away(k * 0.001), llround(k * 0.001));
                }
}

static void test_round_half_away_edges(void **state) {
        assert_int_equal(round_half_away(NAN), 0);
        assert_true(round_half_away(INFINITY) == INT64_MAX);
        assert_true(round_half_away(-INFINITY) == INT64_MIN);
        assert_true(round_half_away(1e300) == INT64_MAX);
        assert_true(round_half_away(-1e300) == INT64_MIN);
}

static void test_hypot_float_matches_hypotf(void **state) {
        const float values[] = { 0, 1, -1, 3, 4, 0.1f, -0.3f, 1e-20f, 1e20f, 3.4e38f, -2.5e-3f, 17.125f };

        for (size_t i = 0; i < ELEMENTSOF(values); i++)
                for (size_t j = 0; j < ELEMENTSOF(values); j++)
                        assert_true(hypot_float(values[i], values[j]) == hypotf(values[i], values[j]));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_round_half_away_matches_lround),
                cmocka_unit_test(test_round_half_away_edges),
                cmocka_unit_test(test_hypot_float_matches_hypotf),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
