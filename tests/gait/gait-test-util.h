/* SPDX-License-Identifier: MIT */
#pragma once

/* Drives the gait engine from the simulator's gait model (tests/sim/gait-model.h) and collects
 * what both say, so that tests compare the engine with the model's ground truth. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gait-model.h"
#include "gait.h"

#define SIM_MAX_STRIDES 4096
#define SIM_MAX_TRUTH 8192

typedef struct SimRun {
        GaitStride strides[SIM_MAX_STRIDES];
        size_t n_strides;
        GaitEvent events[SIM_MAX_TRUTH];
        size_t n_events;
        GaitTruthEvent truth[SIM_MAX_TRUTH];
        size_t n_truth;
        GaitSnapshot snapshot;
        uint64_t model_steps;
} SimRun;

/* Optional per-sample transformation (e.g. to raw counts with an offset, a dead cell, drift). */
typedef void (*SimTransform)(FootSide side, PressureSample *s, void *userdata);

/* Samples the model at rate_hz for duration_s, starting at t0_us, feeding engine e. Appends to run. */
void sim_feed(GaitEngine *e, GaitModel *m, uint64_t t0_us, double duration_s, double rate_hz,
              SimTransform transform, void *userdata, SimRun *run);
