/* SPDX-License-Identifier: MIT */
#pragma once

/* Maps a device's sample clock onto the gateway's monotonic clock.
 *
 * Each insole stamps samples with its own free-running clock: the two clocks of a pair start at
 * different times and drift apart by tens of ppm (0.1 s per hour), which would wreck double-support
 * times and left/right pairing if we compared device times directly. A notification arrives a
 * little after its last sample was taken, never before, so (arrival - device time) is always at
 * least the true offset; its minimum over a window estimates the offset plus the smallest latency.
 * The applied offset follows that estimate, slewed (at most DEVICE_CLOCK_MAX_SLEW_PPM) so that
 * mapped times stay smooth, and stepped when they disagree by more than DEVICE_CLOCK_STEP_USEC
 * (the device rebooted, or we were away). Mapped times never go backwards.
 *
 * Pure: the caller passes both times. */

#include <stdbool.h>
#include <stdint.h>

#define DEVICE_CLOCK_WINDOW_USEC (20ULL * 1000000ULL)
#define DEVICE_CLOCK_MAX_SLEW_PPM 1000
#define DEVICE_CLOCK_STEP_USEC (500ULL * 1000ULL)
/* Notifications in a row that must arrive later than DEVICE_CLOCK_STEP_USEC before we believe the
 * device clock jumped back (one late notification is just a stalled link). */
#define DEVICE_CLOCK_STEP_CONFIRM 5

typedef struct DeviceClock {
        bool valid;
        int64_t offset_us;        /* applied: local = device + offset */
        int64_t window_min_us;    /* smallest (arrival - device) of the current window */
        int64_t prev_window_min_us;
        bool have_prev_window;
        uint64_t window_start_us; /* local arrival time that opened the current window */
        uint64_t last_adjust_us;  /* local time of the last slew step */
        uint64_t last_mapped_us;
        unsigned late_in_row;     /* notifications that suggest the device clock jumped back */
} DeviceClock;

void device_clock_reset(DeviceClock *c);
/* A notification whose newest sample was taken at device_us arrived at rx_usec (local monotonic). */
void device_clock_observe(DeviceClock *c, uint64_t device_us, uint64_t rx_usec);
/* Local monotonic time of a sample taken at device_us; call after observing its notification. */
uint64_t device_clock_map(DeviceClock *c, uint64_t device_us);
