/* SPDX-License-Identifier: MIT */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "raw-pacer.h"

/* Samples every period_us with a repeating jitter pattern; returns how many were taken. */
static unsigned run(unsigned rate_hz, uint64_t period_us, unsigned n, const int *jitter, unsigned n_jitter) {
        RawPacer p = {};
        unsigned taken = 0;

        for (unsigned i = 0; i < n; i++) {
                uint64_t t = 1000000 + i * period_us + (uint64_t) (int64_t) (n_jitter ? jitter[i % n_jitter] : 0);
                taken += raw_pacer_take(&p, t, rate_hz);
        }
        return taken;
}

static void test_equal_rate_takes_every_sample(void **state) {
        /* up to a quarter of the period, with neighbours moving in opposite directions */
        static const int jitter[] = { 0, -900, 800, -100, 2000, -2400, 0 };
        static const int jitter_200hz[] = { 0, -450, 400, -50, 1000, -1200, 0 };
        /* a sender that sends on 5 ms ticks, up to a tick late (the simulator's load mode) */
        static const int ticks[] = { 0, 4900, 0, 2000, 4999, 0, 100, 4000 };

        assert_int_equal(run(100, 10000, 1000, NULL, 0), 1000);
        /* the old rule (next = arrival + period) took 58-61 % of these */
        assert_int_equal(run(100, 10000, 1000, jitter, 7), 1000);
        assert_int_equal(run(200, 5000, 2000, jitter_200hz, 7), 2000);
        assert_int_equal(run(100, 10000, 1000, ticks, 8), 1000);
        assert_int_equal(run(400, 2500, 4000, NULL, 0), 4000);
}

static void test_decimation_keeps_the_average(void **state) {
        static const int jitter[] = { 0, 3000, -3000, 1500 };

        /* 100 Hz samples for 10 s */
        assert_int_equal(run(10, 10000, 1000, NULL, 0), 100);
        assert_int_equal(run(10, 10000, 1000, jitter, 4), 100);
        assert_int_equal(run(30, 10000, 1000, NULL, 0), 300);
        assert_int_equal(run(1, 10000, 1000, NULL, 0), 10);
        /* a 200 Hz insole at raw-rate 100 */
        assert_int_equal(run(100, 5000, 2000, NULL, 0), 1000);
}

static void test_faster_insole_is_decimated_slower_is_not_bursty(void **state) {
        RawPacer p = {};
        unsigned taken = 0;

        /* the insole runs 1 % fast: 101 samples per second at raw-rate 100 -> 100 per second */
        assert_int_equal(run(100, 9901, 10100, NULL, 0), 10000);

        /* a stalled sender: 70 ms of samples arrive at once, with one time; all are taken */
        taken = 0;
        for (uint64_t t = 0; t < 100000; t += 10000)
                taken += raw_pacer_take(&p, 5000000 + t, 100);
        for (unsigned i = 0; i < 7; i++)
                taken += raw_pacer_take(&p, 5170000, 100);
        assert_int_equal(taken, 17);
        p = (RawPacer) {};
        taken = 0;

        /* 1 s of silence, then samples again: no burst to catch up */
        for (uint64_t t = 0; t < 1000000; t += 10000)
                taken += raw_pacer_take(&p, t, 100);
        assert_int_equal(taken, 100);
        taken = 0;
        for (uint64_t t = 2000000; t < 2100000; t += 10000)
                taken += raw_pacer_take(&p, t, 100);
        assert_int_equal(taken, 10);
}

static void test_time_backwards_restarts(void **state) {
        RawPacer p = {};

        assert_true(raw_pacer_take(&p, 5000000, 10));
        assert_false(raw_pacer_take(&p, 5010000, 10));
        /* the insole's clock restarted */
        assert_true(raw_pacer_take(&p, 1000, 10));
        assert_false(raw_pacer_take(&p, 11000, 10));
        assert_true(raw_pacer_take(&p, 101000, 10));
        assert_false(raw_pacer_take(&p, 101000, 0));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_equal_rate_takes_every_sample),
                cmocka_unit_test(test_decimation_keeps_the_average),
                cmocka_unit_test(test_faster_insole_is_decimated_slower_is_not_bursty),
                cmocka_unit_test(test_time_backwards_restarts),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
