/* SPDX-License-Identifier: MIT */
#pragma once

/* The one clock helper set. Pure cores never call these: they take the time as an argument; the
 * I/O shells read it here (or from their sd-event loop, event-util.h). */

#include <stdint.h>
#include <time.h>

#include "macro.h"

static inline uint64_t timespec_load_usec(const struct timespec *ts) {
        return (uint64_t) ts->tv_sec * USEC_PER_SEC + (uint64_t) ts->tv_nsec / 1000;
}

/* clock_gettime() in microseconds (CLOCK_MONOTONIC, CLOCK_REALTIME, CLOCK_BOOTTIME). */
static inline uint64_t clock_now_usec(clockid_t clock) {
        struct timespec ts;

        (void) clock_gettime(clock, &ts);
        return timespec_load_usec(&ts);
}
