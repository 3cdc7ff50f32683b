/* SPDX-License-Identifier: MIT */
#pragma once

/* Pairs the two insoles' samples in time for the detectors that look at both feet at once (calf
 * raises, single-leg standing). Left and right notifications arrive separately and a few samples at
 * a time, so a left sample is paired only once the right stream has reached its time (the nearest
 * right sample is taken), or once it is FOOT_PAIRER_MAX_LAG_USEC old, when the right foot's last
 * sample is used if it is not older than FOOT_PAIRER_MAX_AGE_USEC. Pure; times are the mapped
 * local times of device-clock.h. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "insole.h"

/* A foot's buffer starts small and doubles when full, up to FOOT_PAIRER_CAPACITY: it needs room
 * for FOOT_PAIRER_MAX_LAG_USEC of samples and a notification's worth, 25 + a few at 100 Hz, 100 +
 * a few at 400 Hz. 128 whole buffers were 10 KB a wearer (issue #15). */
#define FOOT_PAIRER_START 16
#define FOOT_PAIRER_CAPACITY 128
#define FOOT_PAIRER_MAX_LAG_USEC (250ULL * 1000ULL)
#define FOOT_PAIRER_MAX_AGE_USEC (1000ULL * 1000ULL)

typedef struct FootRing {
        FootLoad *items; /* NULL until the first sample */
        size_t capacity;
        size_t head;
        size_t len;
} FootRing;

typedef struct FootPairer {
        FootRing ring[_FOOT_SIDE_MAX];
        bool have_newest;
        uint64_t newest_us;       /* newest sample time of either foot */
        bool have_right_last;
        FootLoad right_last;      /* the right sample most recently consumed */
        uint64_t dropped;         /* left samples lost to a full buffer, samples of either foot to no memory */
} FootPairer;

void foot_pairer_init(FootPairer *p);
void foot_pairer_done(FootPairer *p);
/* Samples of one foot must come in time order (older ones are ignored, -EINVAL); -ENOMEM when the
 * buffer could not grow (the sample is lost and counted). */
int foot_pairer_push(FootPairer *p, FootSide side, const FootLoad *load);
/* The next pair in time order; false when none is ready. */
bool foot_pairer_take(FootPairer *p, FootLoad *ret_left, FootLoad *ret_right);
/* A foot stopped streaming: forget what is buffered (the buffers keep their room). */
void foot_pairer_reset(FootPairer *p);
