/* SPDX-License-Identifier: MIT */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>

#include "foot-pairer.h"
#include "macro.h"

#define USEC 1000000ULL

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
        /* Both feet streaming need no more than the first room. */
        assert_int_equal(p.ring[FOOT_LEFT].capacity, FOOT_PAIRER_START);
        assert_int_equal(p.ring[FOOT_RIGHT].capacity, FOOT_PAIRER_START);
        foot_pairer_done(&p);
}

static void test_silent_right_foot(void **state) {
        FootPairer p;
        FootLoad l, r, x;

        foot_pairer_init(&p);
        x = at(0, 1);
        assert_int_equal(foot_pairer_push(&p, FOOT_RIGHT, &x), 0);
        for (unsigned i = 0; i < 125; i++) { /* 1.24 s: fits the buffer */
                x = at(i * 10000ULL, 2);
                assert_int_equal(foot_pairer_push(&p, FOOT_LEFT, &x), 0);
        }
        assert_int_equal(p.dropped, 0);
        assert_int_equal(p.ring[FOOT_LEFT].capacity, 128); /* grown from 16 in three doublings */
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
        assert_int_equal(p.ring[FOOT_LEFT].capacity, FOOT_PAIRER_CAPACITY);

        /* A reset forgets the samples and keeps the room. */
        foot_pairer_reset(&p);
        assert_int_equal(p.ring[FOOT_LEFT].len, 0);
        assert_false(foot_pairer_take(&p, &l, &r));
        x = at(10 * USEC, 3);
        assert_int_equal(foot_pairer_push(&p, FOOT_RIGHT, &x), 0);
        x = at(10 * USEC + 2000, 4);
        assert_int_equal(foot_pairer_push(&p, FOOT_LEFT, &x), 0);
        x = at(10 * USEC + 10000, 5);
        assert_int_equal(foot_pairer_push(&p, FOOT_RIGHT, &x), 0);
        assert_true(foot_pairer_take(&p, &l, &r));
        assert_float_equal(l.total, 4, 0);
        assert_float_equal(r.total, 3, 0);
        foot_pairer_done(&p);
}

/* The buffer grows with what a foot's lag needs: a silent right foot at 100 Hz keeps 250 ms of
 * left samples waiting, which fit 32 (the second room); at 400 Hz 100 samples, which fit 128. */
static void test_room_follows_the_rate(void **state) {
        static const struct {
                unsigned hz;
                size_t room;
        } cases[] = { { 100, 32 }, { 400, 128 } };

        for (size_t k = 0; k < ELEMENTSOF(cases); k++) {
                FootPairer p;
                FootLoad l, r, x;
                uint64_t step = USEC / cases[k].hz;

                foot_pairer_init(&p);
                x = at(0, 1);
                assert_int_equal(foot_pairer_push(&p, FOOT_RIGHT, &x), 0);
                for (uint64_t t = 0; t < 5 * USEC; t += step) {
                        x = at(t, 2);
                        assert_int_equal(foot_pairer_push(&p, FOOT_LEFT, &x), 0);
                        while (foot_pairer_take(&p, &l, &r))
                                ;
                }
                assert_int_equal(p.dropped, 0);
                assert_int_equal(p.ring[FOOT_LEFT].capacity, cases[k].room);
                assert_int_equal(p.ring[FOOT_RIGHT].capacity, FOOT_PAIRER_START);
                foot_pairer_done(&p);
        }
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
        foot_pairer_done(&p);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_interleaved_frames_pair_nearest),
                cmocka_unit_test(test_silent_right_foot),
                cmocka_unit_test(test_room_follows_the_rate),
                cmocka_unit_test(test_out_of_order_rejected),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
