/* SPDX-License-Identifier: MIT */
/* Samples per second through the gait engine on one core: two insoles of 8 cells at 100 Hz,
 * walking at 105 steps/min (a heel-to-toe roll-over with some noise), fed for about one second of
 * CPU time. Also the cost of a metrics snapshot and of its JSON serialisation. */

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "gait.h"
#include "macro.h"

#define BENCH_SECONDS 1.0
#define RATE_HZ 100
#define CYCLE_SAMPLES 1200 /* 12 s of precomputed walking, replayed with advancing time */

static double now_s(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return ts.tv_sec + ts.tv_nsec / 1e9;
}

static const float cell_xy[8][2] = {
        { 0.10f, 0.35f }, { 0.10f, 0.70f }, { 0.42f, 0.78f }, { 0.42f, 0.30f },
        { 0.70f, 0.18f }, { 0.72f, 0.45f }, { 0.66f, 0.82f }, { 0.92f, 0.20f },
};

/* Load of one cell at stance phase p (0..1): the pressure centre rolls from heel to toes. */
static float cell_load(unsigned c, float p, uint32_t *rng) {
        float body = 700.0f * (0.9f + 0.3f * sinf((float) M_PI * p));
        float cop = 0.08f + 0.85f * p;
        float d = cell_xy[c][0] - cop;
        *rng = *rng * 1664525u + 1013904223u;
        return body * expf(-d * d / 0.02f) / 2.5f + ((*rng >> 16) % 100) * 0.05f;
}

int main(void) {
        static PressureSample samples[_FOOT_SIDE_MAX][CYCLE_SAMPLES];
        InsoleLayout layout[_FOOT_SIDE_MAX];
        GaitEngine *e = NULL;
        GaitSnapshot snap;
        uint32_t rng = 1;
        double stride_s = 120.0 / 105, t0, elapsed;
        uint64_t fed = 0, t_us = 0;
        int r;

        for (FootSide s = 0; s < _FOOT_SIDE_MAX; s++) {
                layout[s] = (InsoleLayout) { .side = s, .n_cells = 8, .unit = PRESSURE_UNIT_NEWTON, .scale = 1 };
                for (unsigned c = 0; c < 8; c++)
                        layout[s].cells[c] = (InsoleCell) { .x = cell_xy[c][0], .y = cell_xy[c][1] };
                for (unsigned i = 0; i < CYCLE_SAMPLES; i++) {
                        double t = (double) i / RATE_HZ + (s == FOOT_RIGHT ? stride_s / 2 : 0);
                        float phase = (float) fmod(t / stride_s, 1.0);
                        PressureSample *p = &samples[s][i];
                        *p = (PressureSample) { .n_cells = 8 };
                        for (unsigned c = 0; c < 8; c++)
                                p->cell[c] = phase < 0.62f ? cell_load(c, phase / 0.62f, &rng) : ((rng >> 20) % 10) * 0.1f;
                }
        }

        r = gait_engine_new(&layout[FOOT_LEFT], &layout[FOOT_RIGHT], NULL, &e);
        if (r < 0) {
                fprintf(stderr, "gait_engine_new: %d\n", r);
                return 1;
        }

        t0 = now_s();
        do {
                for (unsigned k = 0; k < 1000; k++) {
                        unsigned i = (unsigned) ((fed / 2) % CYCLE_SAMPLES);
                        t_us += USEC_PER_SEC / RATE_HZ;
                        for (FootSide s = 0; s < _FOOT_SIDE_MAX; s++) {
                                samples[s][i].t_us = t_us;
                                (void) gait_engine_feed(e, s, &samples[s][i]);
                                fed++;
                        }
                }
                GaitStride drain[64];
                while (gait_engine_take_strides(e, drain, ELEMENTSOF(drain)) > 0)
                        ;
                GaitEvent evs[64];
                while (gait_engine_take_events(e, evs, ELEMENTSOF(evs)) > 0)
                        ;
                elapsed = now_s() - t0;
        } while (elapsed < BENCH_SECONDS);

        printf("gait engine: %.0f samples/s (one foot, 8 cells each), %.0f wearer-frames/s (both feet), "
               "%.1f ns/sample; %.0f x real time at 2 x %d Hz\n",
               fed / elapsed, fed / 2 / elapsed, elapsed * 1e9 / fed, fed / elapsed / (2.0 * RATE_HZ), RATE_HZ);

        unsigned snaps = 0;
        t0 = now_s();
        do {
                char buf[8192];
                JsonWriter w;
                const char *out;

                (void) gait_engine_snapshot(e, &snap);
                json_writer_init(&w, buf, sizeof(buf));
                (void) gait_snapshot_to_json(&snap, &w);
                if (json_writer_finish(&w, &out, NULL) < 0) {
                        fprintf(stderr, "snapshot JSON does not fit 8 KiB\n");
                        return 1;
                }
                snaps++;
                elapsed = now_s() - t0;
        } while (elapsed < BENCH_SECONDS / 4);
        printf("snapshot + JSON: %.1f us each (%.0f strides in the 60 s window, cadence %.1f spm)\n",
               elapsed * 1e6 / snaps,
               (double) snap.window[GAIT_WINDOW_60S].foot[0].strides + snap.window[GAIT_WINDOW_60S].foot[1].strides,
               snap.window[GAIT_WINDOW_60S].cadence_spm);
        gait_engine_free(e);
        return 0;
}
