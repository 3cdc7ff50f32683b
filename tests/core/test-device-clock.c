/* SPDX-License-Identifier: MIT */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "device-clock.h"
#include "macro.h"

/* A deterministic latency pattern: mostly 8..30 ms, now and then a 200 ms stall. */
static uint64_t latency_us(unsigned i) {
        uint64_t x = (uint64_t) i * 2654435761u;
        if (i % 97 == 13)
                return 200000;
        return 8000 + (x >> 7) % 22000;
}

static int64_t absdiff(uint64_t a, uint64_t b) {
        return a > b ? (int64_t) (a - b) : (int64_t) (b - a);
}

/* Two insoles with different start times and opposite drift (+40 / -40 ppm) must stay aligned
 * within a few ms over two hours, which a fixed offset would not (0.29 s apart by then). */
static void test_drifting_pair_stays_aligned(void **state) {
        DeviceClock left = {}, right = {};
        const uint64_t period = 40000; /* a notification every 40 ms */
        int64_t worst = 0;

        for (unsigned i = 0; i < 2 * 3600 * 25; i++) {
                uint64_t truth = 5000000 + (uint64_t) i * period; /* local time the sample was taken */
                uint64_t dev_l = 1000 + truth + truth * 40 / 1000000;
                uint64_t dev_r = 777777777 + truth - truth * 40 / 1000000;
                uint64_t ml, mr;

                device_clock_observe(&left, dev_l, truth + latency_us(i));
                device_clock_observe(&right, dev_r, truth + latency_us(i + 50));
                ml = device_clock_map(&left, dev_l);
                mr = device_clock_map(&right, dev_r);
                if (i > 25 * 60) /* after the first minute */
                        worst = MAX(worst, absdiff(ml, mr));
        }
        assert_true(worst < 3000);
}

static void test_mapping_is_monotonic_and_follows_reboot(void **state) {
        DeviceClock c = {};
        uint64_t last = 0, m;

        for (unsigned i = 0; i < 1000; i++) {
                uint64_t truth = 1000000 + (uint64_t) i * 10000;
                device_clock_observe(&c, truth + 42, truth + latency_us(i));
                m = device_clock_map(&c, truth + 42);
                assert_true(m >= last);
                last = m;
        }
        /* The device rebooted: its clock restarts near zero. Mapped times continue forward. */
        for (unsigned i = 0; i < 100; i++) {
                uint64_t truth = 11000000 + (uint64_t) i * 10000;
                device_clock_observe(&c, (uint64_t) i * 10000, truth + 10000);
                m = device_clock_map(&c, (uint64_t) i * 10000);
                assert_true(m >= last);
                last = m;
        }
        /* Once re-based, mapped time is close to the local time again. */
        assert_true(absdiff(last, 11000000 + 99 * 10000) < 20000);
}

static void test_first_observation_sets_offset(void **state) {
        DeviceClock c = {};

        device_clock_observe(&c, 100, 5100);
        assert_true(c.valid);
        assert_int_equal(device_clock_map(&c, 100), 5100);
        assert_int_equal(device_clock_map(&c, 200), 5200);
        device_clock_reset(&c);
        assert_false(c.valid);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_drifting_pair_stays_aligned),
                cmocka_unit_test(test_mapping_is_monotonic_and_follows_reboot),
                cmocka_unit_test(test_first_observation_sets_offset),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
