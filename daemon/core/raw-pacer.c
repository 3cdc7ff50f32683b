/* SPDX-License-Identifier: MIT */
#include "macro.h"
#include "raw-pacer.h"

#define NSEC_PER_SEC 1000000000ULL
#define NSEC_PER_USEC 1000ULL

bool raw_pacer_take(RawPacer *p, uint64_t t_usec, unsigned rate_hz) {
        uint64_t t, period, spacing, early;

        if (rate_hz == 0)
                return false;
        t = t_usec * NSEC_PER_USEC;
        period = NSEC_PER_SEC / rate_hz;
        /* A taken sample leaves the next slot at most 1.5 periods ahead: further means the
         * insole's clock went backwards. */
        if (!p->started || t + 2 * period < p->next_ns || t >= p->next_ns + period || t < p->last_ns) {
                p->started = true;
                p->next_ns = t;
        }
        /* The sample nearest to its slot: up to half the spacing of the samples early (which
         * absorbs jitter at an equal rate), never more than half a period. */
        spacing = t - p->last_ns; /* t >= last_ns here */
        early = MIN(period / 2, spacing / 2);
        p->last_ns = t;
        if (t + early < p->next_ns)
                return false;
        p->next_ns += period;
        return true;
}
