/* SPDX-License-Identifier: MIT */
#include "macro.h"
#include "raw-pacer.h"

#define NSEC_PER_SEC 1000000000ULL
#define NSEC_PER_USEC 1000ULL
/* Samples this late are still caught up with (a missed connection event, a sender that stalled and
 * sends a burst); after a longer gap the grid restarts. */
#define CATCH_UP_NS (250ULL * 1000 * 1000)

bool raw_pacer_take(RawPacer *p, uint64_t t_usec, unsigned rate_hz) {
        uint64_t t, period, early;

        if (rate_hz == 0)
                return false;
        t = t_usec * NSEC_PER_USEC;
        period = NSEC_PER_SEC / rate_hz;
        /* A taken sample leaves the next slot at most 1.5 periods ahead: further means the
         * insole's clock went backwards. */
        if (!p->started || t + 2 * period < p->next_ns || t >= p->next_ns + MAX(period, CATCH_UP_NS) ||
            t < p->last_ns) {
                p->started = true;
                p->next_ns = t;
        } else if (t - p->last_ns <= 2 * period) {
                /* The usual spacing of the samples, gaps left out (an average over ~8). */
                uint64_t spacing = t - p->last_ns;
                p->spacing_ns = p->spacing_ns == 0 ? spacing : p->spacing_ns - p->spacing_ns / 8 + spacing / 8;
        }
        p->last_ns = t;
        /* Early by up to 3/4 of the usual spacing, never more than half a period: at a rate equal
         * to the insole's that absorbs jitter (every sample is taken), below it the sample taken
         * is one of the two nearest to its slot. */
        early = MIN(period / 2, p->spacing_ns / 4 * 3);
        if (t + early < p->next_ns)
                return false;
        p->next_ns += period;
        return true;
}
