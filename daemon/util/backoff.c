/* SPDX-License-Identifier: MIT */
#include "backoff.h"
#include "macro.h"

uint64_t backoff_delay(uint64_t initial_usec, uint64_t max_usec, unsigned attempt, uint64_t random) {
        uint64_t base, half, span;

        initial_usec = MAX(initial_usec, (uint64_t) 1);
        max_usec = MAX(max_usec, initial_usec);

        /* Doubling stops at max; the loop ends there, so a large attempt count can never overflow. */
        base = initial_usec;
        for (unsigned i = 0; i < attempt && base < max_usec; i++)
                base = base > max_usec / 2 ? max_usec : base * 2;
        base = MIN(base, max_usec);

        half = base / 2;
        span = base - half;
        return half + random % (span + 1);
}

void backoff_init(Backoff *b, uint64_t initial_usec, uint64_t max_usec) {
        *b = (Backoff) {
                .initial_usec = MAX(initial_usec, (uint64_t) 1),
                .max_usec = MAX(max_usec, initial_usec),
        };
}

uint64_t backoff_next(Backoff *b, uint64_t random) {
        uint64_t delay = backoff_delay(b->initial_usec, b->max_usec, b->attempt, random);

        if (b->attempt < UINT32_MAX)
                b->attempt++;
        return delay;
}

void backoff_reset(Backoff *b) {
        b->attempt = 0;
}

void backoff_set_limits(Backoff *b, uint64_t initial_usec, uint64_t max_usec) {
        unsigned attempt = b->attempt;

        backoff_init(b, initial_usec, max_usec);
        b->attempt = attempt;
}
