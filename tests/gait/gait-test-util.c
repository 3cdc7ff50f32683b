/* SPDX-License-Identifier: MIT */
#include <math.h>

#include "gait-test-util.h"
#include "macro.h"

void sim_feed(GaitEngine *e, GaitModel *m, uint64_t t0_us, double duration_s, double rate_hz,
              SimTransform transform, void *userdata, SimRun *run) {
        uint64_t period = (uint64_t) llround(1e6 / rate_hz);
        uint64_t end = t0_us + (uint64_t) llround(duration_s * 1e6);

        for (uint64_t t = t0_us; t < end; t += period)
                for (FootSide side = 0; side < _FOOT_SIDE_MAX; side++) {
                        PressureSample s;

                        gait_model_sample(m, side, t, &s);
                        if (transform)
                                transform(side, &s, userdata);
                        (void) gait_engine_feed(e, side, &s);
                        if (run->n_strides < SIM_MAX_STRIDES)
                                run->n_strides += gait_engine_take_strides(e, run->strides + run->n_strides,
                                                                           SIM_MAX_STRIDES - run->n_strides);
                        if (run->n_events < SIM_MAX_TRUTH)
                                run->n_events += gait_engine_take_events(e, run->events + run->n_events,
                                                                         SIM_MAX_TRUTH - run->n_events);
                        if (run->n_truth < SIM_MAX_TRUTH)
                                run->n_truth += gait_model_take_events(m, run->truth + run->n_truth,
                                                                       SIM_MAX_TRUTH - run->n_truth);
                }
        run->model_steps = gait_model_steps(m, FOOT_LEFT) + gait_model_steps(m, FOOT_RIGHT);
        (void) gait_engine_snapshot(e, &run->snapshot);
}
