/* SPDX-License-Identifier: MIT */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>

#include "foot-pairer.h"

static FootLoad at(uint64_t t, float total) {
        return (FootLoad) { .t_us = t, .total = total };
}

/* Frames of 4 samples (10 ms apart) arrive alternately, right a bit behind left. */
static void test_interleaved_frames_pair_nearest(void **state) {
        FootPairer p;
        FootLoad l, r;
        unsigned pairs = 0;

        foot_pairer_init(&p);
        for (unsigned frame = 0; frame < 50; frame++) {
                for (unsigned i = 0; i < 4; i++) {
                        uint64_t t = (frame * 4 + i) * 10000ULL;
                        FootLoad x = at(t, (float) t);
                        assert_int_equal(foot_pairer_push(&p, FOOT_LEFT, &x), 0);
                }
                while (foot_pairer_take(&p, &l, &r))
                        pairs++;
                for (unsigned i = 0; i < 4; i++) {
                        uint64_t t = (frame * 4 + i) * 10000ULL + 3000; /* 3 ms later clock phase */
                        FootLoad x = at(t, (float) t);
                        assert_int_equal(foot_pairer_push(&p, FOOT_RIGHT, &x), 0);
                }
                while (foot_pairer_take(&p, &l, &r)) {
                        assert_true(r.t_us >= l.t_us ? r.t_us - l.t_us <= 5000 : l.t_us - r.t_us <= 5000);
                        pairs++;
                }
        }
        /* All but the samples still waiting for a later right sample got paired. */
        assert_true(pairs >= 199);
}

static void test_silent_right_foot(void **state) {
        FootPairer p;
        FootLoad l, r, x;

        foot_pairer_init(&p);
        x = at(0, 1);
        foot_pairer_push(&p, FOOT_RIGHT, &x);
        for (unsigned i = 0; i < 125; i++) { /* 1.24 s: fits the buffer */
                x = at(i * 10000ULL, 2);
                assert_int_equal(foot_pairer_push(&p, FOOT_LEFT, &x), 0);
        }
        assert_int_equal(p.dropped, 0);
        /* Samples within the maximum age of the right foot's last sample pair with it; later ones
         * have nothing to pair with, and the newest (within the lag) wait. */
        unsigned pairs = 0;
        while (foot_pairer_take(&p, &l, &r)) {
                assert_true(l.t_us <= FOOT_PAIRER_MAX_AGE_USEC);
                assert_int_equal(r.t_us, 0);
                pairs++;
        }
        /* t = 0 .. 0.99 s: 1.00 s is still inside the lag behind the newest sample (1.24 s). */
        assert_int_equal(pairs, 100);

        /* A full buffer drops the oldest left samples and counts them. */
        for (unsigned i = 125; i < 125 + FOOT_PAIRER_CAPACITY + 10; i++) {
                x = at(i * 10000ULL, 2);
                assert_int_equal(foot_pairer_push(&p, FOOT_LEFT, &x), 0);
        }
        assert_true(p.dropped > 0);
}

static void test_out_of_order_rejected(void **state) {
        FootPairer p;
        FootLoad x;

        foot_pairer_init(&p);
        x = at(100, 1);
        assert_int_equal(foot_pairer_push(&p, FOOT_LEFT, &x), 0);
        x = at(50, 1);
        assert_int_equal(foot_pairer_push(&p, FOOT_LEFT, &x), -EINVAL);
        assert_int_equal(foot_pairer_push(&p, (FootSide) 7, &x), -EINVAL);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_interleaved_frames_pair_nearest),
                cmocka_unit_test(test_silent_right_foot),
                cmocka_unit_test(test_out_of_order_rejected),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
