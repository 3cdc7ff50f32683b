/* SPDX-License-Identifier: MIT */
#pragma once

/* Picks the samples of the raw pressure stream: exactly rate_hz per second on average, scheduled on
 * a grid of slots that advances from the previous slot, not from the arrival of the previous
 * sample. A sample is taken when its time reaches its slot less 3/4 of the usual spacing of the
 * samples (at most half a period), so that at a rate equal to the insole's every sample is taken
 * even with jitter, and below it a sample next to each slot. Samples up to 250 ms behind the grid
 * are caught up with (a burst after a stall is published whole); after a longer gap, or time
 * running backwards, the grid restarts at the next sample. Pure: time is the sample's, in
 * microseconds. */

#include <stdbool.h>
#include <stdint.h>

typedef struct RawPacer {
        bool started;
        uint64_t next_ns; /* the next slot, in ns so that 1e9 / rate_hz accumulates no drift */
        uint64_t last_ns; /* the previous sample */
        uint64_t spacing_ns; /* the usual spacing of the samples */
} RawPacer;

bool raw_pacer_take(RawPacer *p, uint64_t t_usec, unsigned rate_hz);
