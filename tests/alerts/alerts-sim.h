/* SPDX-License-Identifier: MIT */
#pragma once

/* Simulated months of one wearer's daily gait values, for the alert tests.
 *
 * Each day takes its parameters from the simulator's gait model (gait_model_params_for_day(): the
 * published day-to-day variability). Within a day the wearer walks in bouts of 10..200 strides whose
 * cadence differs (a walk to the kitchen is slower than one outside); the running values the gateway
 * would publish after n strides are the stride-weighted bout values plus the sampling error of
 * medians over n strides (stride-to-stride CV of the model). docs/alerts.md describes the figures. */

#include <stdbool.h>
#include <stdint.h>

#include "alerts.h"
#include "gait-model.h"

typedef enum SimOnset {
        SIM_ONSET_NONE,
        SIM_ONSET_STEP_ASYMMETRY,   /* step-time asymmetry about 2 % -> 10 % */
        SIM_ONSET_STANCE_ASYMMETRY, /* stance-time asymmetry +8 points */
        SIM_ONSET_CADENCE,          /* -cadence_drop_spm (default 15 steps/min) */
        SIM_ONSET_VARIABILITY,      /* stride-time CV x 2.5 (2 % -> 5 %) */
        SIM_ONSET_ML_INDEX,         /* medial-lateral index +0.15 */
        _SIM_ONSET_MAX,
} SimOnset;

typedef struct SimWearer {
        uint64_t seed;
        GaitModelParams usual;
        GaitDayVariability variability;
        double stance_si_offset;   /* the wearer's own stance-time difference, % */
        double ml_index0;
        double cv0_pct;            /* usual stride-time CV */
        SimOnset onset;
        unsigned onset_day;        /* from this day on (UINT32_MAX: never) */
        double cadence_drop_spm;   /* of SIM_ONSET_CADENCE */
} SimWearer;

void sim_wearer_init(SimWearer *w, uint64_t seed, const GaitDayVariability *v);
/* Strides walked on that day: mostly 1000..6000, about one day in eight with little walking. */
uint32_t sim_day_strides(const SimWearer *w, unsigned day);
LocalDate sim_date(unsigned day);

/* Runs one day through the monitor: running values every 25 strides, then the finished day.
 * Returns the number of CHANGED events for `metric` (or for any metric when metric < 0) and
 * the strides of the day at the first one (ret_at_strides, may be NULL). Other events are
 * dropped. */
unsigned sim_run_day(const SimWearer *w, unsigned day, uint32_t strides, AlertMonitor *m, int metric,
                     uint32_t *ret_at_strides);
