/* SPDX-License-Identifier: MIT */
/* The within-day sampling error of the day values the alerts watch, measured through the real
 * gait engine: simulated wearers with the same usual walking (tests/sim's gait model, different
 * seeds) walk one steady walk, and the spread across wearers of each day value after n strides is
 * printed next to what the alert Monte Carlo's synthesiser assumes for steady walking
 * (tests/alerts/alerts-sim.c, docs/alerts.md). Printed figures only. */

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "alerts.h"
#include "gait-model.h"
#include "gait.h"
#include "macro.h"

#define RATE_HZ 100
#define WEARERS 40

static const uint32_t checkpoints[] = { 300, 1200 };
/* Not the stride-time CV: its 60-second windows are kept by the wearer shell (core/wearer.c). */
static const GaitMetric metrics[] = { GAIT_METRIC_CADENCE, GAIT_METRIC_STEP_TIME_SI, GAIT_METRIC_STANCE_TIME_SI,
                                      GAIT_METRIC_ML_INDEX };

/* What alerts-sim.c adds for n strides of steady walking (no bouts), at its usual wearer. */
static double synthesiser_se(GaitMetric m, uint32_t n) {
        switch (m) {
        case GAIT_METRIC_CADENCE:
                return 1.25 * 105 * 0.02 / sqrt(n);
        case GAIT_METRIC_STEP_TIME_SI:
                return M_SQRT2 * 1.25 * 3.0 / sqrt(n / 2.0);
        case GAIT_METRIC_STANCE_TIME_SI:
                return 1.2 * M_SQRT2 * 1.25 * 3.0 / sqrt(n / 2.0);
        case GAIT_METRIC_ML_INDEX:
                return 0.06 / sqrt(n);
        default:
                return NAN;
        }
}

int main(void) {
        static double v[ELEMENTSOF(checkpoints)][ELEMENTSOF(metrics)][WEARERS];

        for (unsigned w = 0; w < WEARERS; w++) {
                GaitModelParams p = { .mode = GAIT_MODE_WALKING, .cadence_spm = 105, .asymmetry = 0.02,
                                      .noise = 0.05, .body_weight_kg = 70, .seed = 1000 + w };
                GaitModel *model = NULL;
                GaitEngine *e = NULL;
                GaitParams gp = GAIT_PARAMS_DEFAULT;
                size_t next = 0;

                if (gait_model_new(&p, &model) < 0 ||
                    gait_engine_new(gait_model_layout(model, FOOT_LEFT), gait_model_layout(model, FOOT_RIGHT), &gp, &e) < 0)
                        return EXIT_FAILURE;
                gait_engine_start_day(e, 0);
                for (uint64_t t = 0; next < ELEMENTSOF(checkpoints); t += 1000000 / RATE_HZ) {
                        for (FootSide side = 0; side < _FOOT_SIDE_MAX; side++) {
                                PressureSample s;
                                GaitStride strides[16];
                                GaitEvent events[16];

                                gait_model_sample(model, side, t, &s);
                                (void) gait_engine_feed(e, side, &s);
                                while (gait_engine_take_strides(e, strides, ELEMENTSOF(strides)) > 0)
                                        ;
                                while (gait_engine_take_events(e, events, ELEMENTSOF(events)) > 0)
                                        ;
                        }
                        if (t % 1000000 == 0) {
                                GaitSnapshot snap;
                                GaitDay day;

                                (void) gait_engine_snapshot(e, &snap);
                                gait_day_from_snapshot(&snap, LOCAL_DATE(2026, 1, 1), &day);
                                if (day.strides >= checkpoints[next]) {
                                        for (size_t i = 0; i < ELEMENTSOF(metrics); i++)
                                                v[next][i][w] = day.value[metrics[i]];
                                        next++;
                                }
                        }
                }
                gait_engine_free(e);
                gait_model_free(model);
        }

        printf("%-16s %7s %10s %10s %12s\n", "metric", "strides", "mean", "engine SD", "synthesiser");
        for (size_t c = 0; c < ELEMENTSOF(checkpoints); c++)
                for (size_t i = 0; i < ELEMENTSOF(metrics); i++) {
                        double sum = 0, sq = 0, mean, sd;
                        for (unsigned w = 0; w < WEARERS; w++)
                                sum += v[c][i][w];
                        mean = sum / WEARERS;
                        for (unsigned w = 0; w < WEARERS; w++)
                                sq += (v[c][i][w] - mean) * (v[c][i][w] - mean);
                        sd = sqrt(sq / (WEARERS - 1));
                        printf("%-16s %7u %10.3f %10.3f %12.3f\n", gait_metric_to_string(metrics[i]), checkpoints[c], mean,
                               sd, synthesiser_se(metrics[i], checkpoints[c]));
                }
        return EXIT_SUCCESS;
}
