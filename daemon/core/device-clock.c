/* SPDX-License-Identifier: MIT */
#include "device-clock.h"
#include "macro.h"

void device_clock_reset(DeviceClock *c) {
        *c = (DeviceClock) {};
}

static int64_t estimate(const DeviceClock *c) {
        /* The smaller of the current and the previous window: a window that just opened has seen
         * few notifications, and a congested one sees only late ones. */
        if (c->have_prev_window)
                return MIN(c->window_min_us, c->prev_window_min_us);
        return c->window_min_us;
}

static void restart(DeviceClock *c, int64_t sample, uint64_t rx_usec) {
        *c = (DeviceClock) {
                .valid = true,
                .offset_us = sample,
                .window_min_us = sample,
                .window_start_us = rx_usec,
                .last_adjust_us = rx_usec,
                .last_mapped_us = c->last_mapped_us,
        };
}

void device_clock_observe(DeviceClock *c, uint64_t device_us, uint64_t rx_usec) {
        int64_t sample = (int64_t) rx_usec - (int64_t) device_us;
        int64_t target, diff, max_step;
        uint64_t elapsed;

        if (!c->valid) {
                restart(c, sample, rx_usec);
                return;
        }

        /* A notification cannot arrive before its sample was taken: the device clock jumped
         * forward. Arriving much later for several notifications in a row: it jumped back (a
         * reboot restarts it near zero). Either way the old offset is meaningless. */
        if (sample < c->offset_us - (int64_t) DEVICE_CLOCK_STEP_USEC) {
                restart(c, sample, rx_usec);
                return;
        }
        if (sample > c->offset_us + (int64_t) DEVICE_CLOCK_STEP_USEC) {
                if (++c->late_in_row >= DEVICE_CLOCK_STEP_CONFIRM)
                        restart(c, sample, rx_usec);
                return;
        }
        c->late_in_row = 0;

        if (rx_usec - c->window_start_us >= DEVICE_CLOCK_WINDOW_USEC) {
                c->prev_window_min_us = c->window_min_us;
                c->have_prev_window = true;
                c->window_min_us = sample;
                c->window_start_us = rx_usec;
        } else
                c->window_min_us = MIN(c->window_min_us, sample);

        target = estimate(c);
        diff = target - c->offset_us;
        elapsed = rx_usec > c->last_adjust_us ? rx_usec - c->last_adjust_us : 0;
        max_step = (int64_t) (elapsed * DEVICE_CLOCK_MAX_SLEW_PPM / 1000000ULL);
        if (max_step == 0)
                return; /* keep accumulating elapsed time until a step of 1 us is allowed */
        c->offset_us += CLAMP(diff, -max_step, max_step);
        c->last_adjust_us = rx_usec;
}

uint64_t device_clock_map(DeviceClock *c, uint64_t device_us) {
        int64_t mapped = (int64_t) device_us + c->offset_us;
        uint64_t m = mapped < 0 ? 0 : (uint64_t) mapped;

        if (m < c->last_mapped_us)
                m = c->last_mapped_us;
        c->last_mapped_us = m;
        return m;
}
