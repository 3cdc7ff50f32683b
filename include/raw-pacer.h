/* SPDX-License-Identifier: MIT */
#pragma once

/* Picks the samples of the raw pressure stream: exactly rate_hz per second on average, scheduled on
 * a grid of slots that advances from the previous slot, not from the arrival of the previous
 * sample. A sample is taken when its time reaches its slot less half the spacing of the samples, so
 * that at a rate equal to the insole's every sample is taken even with jitter, and below it the
 * sample nearest to each slot is taken. After a gap (more than a period without a slot taken) or time running
 * backwards the grid restarts at the next sample instead of catching up in a burst. Pure: time is
 * the sample's, in microseconds. */

#include <stdbool.h>
#include <stdint.h>

typedef struct RawPacer {
        bool started;
        uint64_t next_ns; /* the next slot, in ns so that 1e9 / rate_hz accumulates no drift */
        uint64_t last_ns; /* the previous sample */
} RawPacer;

bool raw_pacer_take(RawPacer *p, uint64_t t_usec, unsigned rate_hz);
