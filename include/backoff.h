/* SPDX-License-Identifier: MIT */
#pragma once

/* The one reconnect backoff (Bluetooth devices and the MQTT broker): exponential from initial to
 * max with "equal jitter", i.e. uniformly in [base/2, base], so that a crowd that failed together
 * spreads out without any of them retrying almost at once. Pure: randomness comes in as a value. */

#include <stdint.h>

typedef struct Backoff {
        uint64_t initial_usec;
        uint64_t max_usec;
        unsigned attempt; /* consecutive failures since the last success */
} Backoff;

/* The delay before attempt number `attempt` (0 = the first retry): base min(initial * 2^attempt,
 * max), then base/2 + random % (base - base/2 + 1). */
uint64_t backoff_delay(uint64_t initial_usec, uint64_t max_usec, unsigned attempt, uint64_t random);

void backoff_init(Backoff *b, uint64_t initial_usec, uint64_t max_usec);
/* backoff_delay() for the current attempt, and advances the attempt counter. */
uint64_t backoff_next(Backoff *b, uint64_t random);
void backoff_reset(Backoff *b);
/* New limits (a reload): the escalation so far is kept, the next delay follows the new limits. */
void backoff_set_limits(Backoff *b, uint64_t initial_usec, uint64_t max_usec);
