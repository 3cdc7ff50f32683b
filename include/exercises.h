/* SPDX-License-Identifier: MIT */
#pragma once

/* Foot exercises recognised from the pressure pattern of both insoles. Pure: FootLoad pairs in
 * (device time in FootLoad.t_us), events and totals out; no clock, no allocation.
 *
 * Everything is relative to the wearer's reference load: what one foot carries while standing
 * quietly on both feet (about half the body weight, in the insole's load unit). Give it with
 * exercise_detector_set_reference(), or let the detector learn it from quiet double stance.
 *
 *   calf raise   both feet carry >= 25 % of the reference, both heels carry < 10 % of their foot's
 *                load (the forefoot and toes carry the rest) for >= 0.15 s, coming from and going back
 *                to a flat stance (heel >= 20 %) within 5 s: one repetition. Walking never has both
 *                heels off while both feet are loaded for that long, except toe walking, which has
 *                no flat phase in between.
 *   toe walking  stance phases (foot load >= 20 % of the reference for 0.2..2 s, alternating feet)
 *                whose heel never carried more than 10 % of the foot's load; from the second such
 *                stance in a row until a normal stance or a 2 s pause.
 *   single-leg   one foot carries >= 75 % of both reference loads and the other < 10 % of its own,
 *                held for >= 2 s (walking single support lasts well under 1 s); the whole hold counts.
 * docs/reminders.md repeats these rules with their reasons. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "daily.h"
#include "insole.h"

typedef enum ExerciseEventType {
        EXERCISE_EVENT_REPETITION,  /* one calf raise (kind EXERCISE_CALF_RAISES) */
        EXERCISE_EVENT_STARTED,     /* toe walking / single-leg standing confirmed */
        EXERCISE_EVENT_ENDED,       /* ... ended; duration_us says how long */
        _EXERCISE_EVENT_TYPE_MAX,
        _EXERCISE_EVENT_TYPE_INVALID = -EINVAL,
} ExerciseEventType;

typedef struct ExerciseEvent {
        ExerciseEventType type;
        ExerciseKind kind;
        uint64_t t_us;          /* device time */
        uint64_t duration_us;   /* ENDED: length of the hold / walk; REPETITION: raise length */
} ExerciseEvent;

#define EXERCISE_EVENT_QUEUE 32

typedef struct ExerciseDetector {
        float reference[_FOOT_SIDE_MAX]; /* 0 = not known yet */
        bool reference_fixed;            /* given by the caller: do not learn */
        float learn_acc[_FOOT_SIDE_MAX];
        uint32_t learn_n;
        uint64_t last_t_us;
        bool have_last;

        /* calf raises */
        int raise_phase;                 /* 0 unknown, 1 flat, 2 raised */
        uint64_t raise_since_us;
        uint64_t raise_last_us;

        /* toe walking: per-foot stance tracking */
        bool in_stance[_FOOT_SIDE_MAX];
        uint64_t stance_start_us[_FOOT_SIDE_MAX];
        float stance_heel_max_share[_FOOT_SIDE_MAX];
        uint32_t toe_stances_in_row;
        FootSide last_toe_side;
        uint64_t toe_first_start_us;
        uint64_t last_stance_end_us;
        bool toe_walking;

        /* single-leg standing */
        FootSide single_side;
        bool single_candidate;
        bool single_active;
        uint64_t single_since_us;
        uint64_t single_last_us;

        /* totals since init (the day's totals live in DayCounters) */
        uint32_t calf_raises;
        uint64_t toe_walking_us;
        uint64_t single_leg_us[_FOOT_SIDE_MAX];

        ExerciseEvent queue[EXERCISE_EVENT_QUEUE];
        size_t queue_head, queue_len;
        uint32_t dropped;
} ExerciseDetector;

void exercise_detector_init(ExerciseDetector *d);
/* Reference load per foot (> 0); 0 for both returns to learning. */
void exercise_detector_set_reference(ExerciseDetector *d, float left, float right);
/* One sample of both feet at (about) the same instant. t = max(left->t_us, right->t_us); samples
 * going back in time are ignored (-EINVAL). `standing` (from the gait engine's activity) lets the
 * detector learn the reference; pass false when unknown. */
int exercise_detector_feed(ExerciseDetector *d, const FootLoad *left, const FootLoad *right, bool standing);
/* The feet stopped reporting (disconnect, not worn): end what is open at the last sample. */
void exercise_detector_flush(ExerciseDetector *d);
/* Queued events, oldest first; returns false when empty. */
bool exercise_detector_take_event(ExerciseDetector *d, ExerciseEvent *ret);
