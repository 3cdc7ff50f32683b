/* SPDX-License-Identifier: MIT */
#pragma once

/* A synthetic, biomechanically plausible plantar-pressure model of one wearer (two insoles with 8
 * force cells each). Pure: no I/O, no clock, no logging; time comes in as arguments and the only
 * randomness is a PRNG seeded from GaitModelParams.seed, so equal inputs give equal outputs.
 *
 * The simulator turns its samples into notifications; the gait and reminder tests use it as ground
 * truth (gait_model_take_events(), gait_model_steps()). docs/simulator.md describes the model. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "insole.h"

typedef enum GaitMode {
        GAIT_MODE_NOT_WORN,
        GAIT_MODE_SITTING,
        GAIT_MODE_STANDING,
        GAIT_MODE_WALKING,
        GAIT_MODE_RUNNING,
        GAIT_MODE_CALF_RAISES,
        GAIT_MODE_TOE_WALKING,
        GAIT_MODE_SINGLE_LEG_LEFT,
        GAIT_MODE_SINGLE_LEG_RIGHT,
        _GAIT_MODE_MAX,
        _GAIT_MODE_INVALID = -1,
} GaitMode;

/* "not_worn", "sitting", "standing", "walking", "running", "calf_raises", "toe_walking",
 * "single_leg_left", "single_leg_right" */
const char *gait_mode_to_string(GaitMode m);
GaitMode gait_mode_from_string(const char *s); /* also accepts "walk", "run", "sit", "stand"; else _GAIT_MODE_INVALID */

typedef struct GaitModelParams {
        GaitMode mode;
        double cadence_spm;    /* steps per minute, both feet; 0 = mode default (walk 105, run 165, toe 100).
                                * For calf raises: repetitions per minute (default 40). */
        double speed_m_s;      /* 0 = mode default (walk 1.3, run 3.0); scales the force peaks */
        double body_weight_kg; /* 0 = 70 */
        double asymmetry;      /* right step time / left step time - 1, e.g. 0.1; |a| <= 0.5 */
        double pronation;      /* -1 supination .. +1 pronation: medial/lateral load shift */
        bool flat_foot;        /* heel and forefoot land together, more load under the arch */
        bool hard_heel_strike; /* a higher, faster heel impact peak */
        uint64_t seed;
        double noise;          /* relative: per-sample cell noise and per-stride variability; 0 = exact */
} GaitModelParams;

typedef struct GaitModel GaitModel;

#define GAIT_MODEL_CELLS 8

/* Returns -EINVAL for an invalid mode or out-of-range parameter, -ENOMEM. */
int gait_model_new(const GaitModelParams *p, GaitModel **ret);
GaitModel *gait_model_free(GaitModel *m);
/* New mode/parameters take effect at the next step (or static block, at most ~1.5 s) boundary
 * after the latest time sampled so far. Invalid values are clamped. */
void gait_model_set_params(GaitModel *m, const GaitModelParams *p);
const GaitModelParams *gait_model_get_params(const GaitModel *m); /* the most recently set */

/* 8 cells, unit newton, scale 1, offset 0. Cells (x heel->toe, y medial->lateral, both feet):
 *   0 medial heel (0.10, 0.35)      1 lateral heel (0.10, 0.70)
 *   2 lateral midfoot (0.42, 0.78)  3 medial midfoot/arch (0.42, 0.30)
 *   4 1st metatarsal head (0.70, 0.18)  5 2nd-3rd metatarsal heads (0.72, 0.45)
 *   6 5th metatarsal head (0.66, 0.82)  7 hallux (0.92, 0.20)
 * Regions: heel 0-1, midfoot 2-3, forefoot 4-6, toes 7. */
const InsoleLayout *gait_model_layout(const GaitModel *m, FootSide side);

/* Fills ret (n_cells 8, newtons, t_us, no IMU). Time must not go backwards per foot; the first
 * call (either foot) sets the model's origin. */
void gait_model_sample(GaitModel *m, FootSide side, uint64_t t_us, PressureSample *ret);

/* Ground-truth contact events, in the order the sampling passed them. A foot's initial contact
 * is reported once its sampling reaches that time. At most GAIT_MODEL_MAX_EVENTS are kept; older
 * ones are dropped when nobody takes them. */
typedef struct GaitTruthEvent {
        FootSide side;
        bool initial_contact; /* false = toe-off */
        uint64_t t_us;
} GaitTruthEvent;

#define GAIT_MODEL_MAX_EVENTS 1024

size_t gait_model_take_events(GaitModel *m, GaitTruthEvent *buf, size_t n);

/* Steps of this foot up to the latest sampled time: initial contacts of gait strides (walking,
 * running, toe walking) plus the landing step when walking stops. Never decreases. */
uint64_t gait_model_steps(const GaitModel *m, FootSide side);

/* The mode in effect at the foot's latest sampled time. */
GaitMode gait_model_current_mode(const GaitModel *m, FootSide side);

/* Day-to-day variability of one wearer's walking: nobody walks the same way every day. Standard
 * deviations between days of the day's typical value; docs/simulator.md gives the published
 * test-retest figures they come from. */
typedef struct GaitDayVariability {
        double cadence_sd_spm;   /* the day's typical cadence */
        double asymmetry_sd;     /* the step-time asymmetry ratio (0.01 = 1 %) */
        double pronation_sd;     /* medial/lateral loading, in units of GaitModelParams.pronation */
        double noise_rel_sd;     /* stride-to-stride variability, relative to the usual (0.15 = 15 %) */
        double odd_day_share;    /* share of unusual days (other shoes, a hike): twice the spread */
} GaitDayVariability;

/* Healthy adults at home, and a wider clinical spread (docs/simulator.md, "Day-to-day variability"). */
#define GAIT_DAY_VARIABILITY_HEALTHY                                                                     \
        ((GaitDayVariability) { .cadence_sd_spm = 2.5, .asymmetry_sd = 0.008, .pronation_sd = 0.1,   \
                                .noise_rel_sd = 0.15, .odd_day_share = 0.03 })
#define GAIT_DAY_VARIABILITY_CLINICAL                                                                    \
        ((GaitDayVariability) { .cadence_sd_spm = 4.4, .asymmetry_sd = 0.025, .pronation_sd = 0.2,   \
                                .noise_rel_sd = 0.3, .odd_day_share = 0.05 })

/* The parameters of day `day` of a wearer whose usual walking is `usual`: a pure function of
 * (seed, day), so that a long compressed run and a test see the same days. */
void gait_model_params_for_day(const GaitModelParams *usual, const GaitDayVariability *v, uint64_t seed,
                               unsigned day, GaitModelParams *ret);
/* A standard-normal-like draw (bounded to +-3.5) that is a pure function of its arguments, for
 * tests that build on the model's randomness. */
double gait_model_gauss(uint64_t seed, uint64_t a, uint64_t b);
