/* SPDX-License-Identifier: MIT */
#pragma once

/* Daily activity counters.
 *
 * DayCounters: what one wearer did on one local day. Additive, so that the part counted before a
 * restart (persisted as JSON) and the part counted after it can be merged. Local days come from
 * zone.h. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "insole.h"
#include "json-parse.h"
#include "json.h"
#include "macro.h"
#include "zone.h"

/* ---- daily counters ---- */

#define DAY_MAX_HOURS 25          /* a fall-back day has 25 local hours */
#define DAY_CADENCE_BINS 251      /* 1 step/min bins, 0..250 */
#define DAY_SYMMETRY_BINS 101     /* 0.5 % bins, 0..50 % (larger values go to the last bin) */

typedef enum ExerciseKind {
        EXERCISE_CALF_RAISES,     /* repetitions */
        EXERCISE_TOE_WALKING,     /* time */
        EXERCISE_SINGLE_LEG_LEFT, /* time standing on the left foot only */
        EXERCISE_SINGLE_LEG_RIGHT,
        _EXERCISE_KIND_MAX,
        _EXERCISE_KIND_INVALID = -EINVAL,
} ExerciseKind;

const char *exercise_kind_to_string(ExerciseKind k); /* "calf_raises", "toe_walking", "single_leg_left", ... */

typedef struct DayHour {
        uint32_t steps;
        uint32_t calf_raises;
        uint64_t active_usec;   /* walking + running */
} DayHour;

typedef struct DayCounters {
        LocalDate date;          /* 0 while the wall clock was never trusted */
        uint64_t steps;
        uint64_t activity_usec[_ACTIVITY_MAX];
        uint64_t longest_sitting_usec;
        uint32_t reminders_sent;     /* first reminders of a bout (repeats are not counted) */
        uint32_t reminder_repeats;
        uint32_t reminders_answered; /* cleared by moving */
        uint64_t response_usec_total; /* first reminder -> cleared, summed over answered ones */
        uint32_t calf_raises;
        uint64_t toe_walking_usec;
        uint64_t single_leg_usec[_FOOT_SIDE_MAX];
        /* Hours counted from the day's first instant: index = (utc - day start) / 1 h, so a
         * 23-hour day uses 0..22 and a 25-hour day 0..24. */
        DayHour hour[DAY_MAX_HOURS];
        uint32_t cadence_hist[DAY_CADENCE_BINS];
        uint32_t symmetry_hist[DAY_SYMMETRY_BINS];
        /* Footpod wearers: distance covered, in the footpod's own 1/10 m so that sums stay exact. */
        bool has_distance;
        uint64_t distance_dm;
} DayCounters;

void day_counters_reset(DayCounters *c, LocalDate date);
/* Adds b into a (longest bout: maximum). Dates are not checked. */
void day_counters_merge(DayCounters *a, const DayCounters *b);
void day_counters_add_cadence(DayCounters *c, float cadence_spm);
void day_counters_add_symmetry(DayCounters *c, float symmetry_pct);
/* Medians from the histograms, NAN when empty. */
float day_counters_median_cadence(const DayCounters *c);
float day_counters_median_symmetry(const DayCounters *c);
uint64_t day_counters_active_usec(const DayCounters *c); /* walking + running */

/* Persistence: every field, versioned ("version": 1). Loading validates types and ranges and
 * rejects unknown versions; a failed load leaves *ret untouched. */
int day_counters_to_json(const DayCounters *c, JsonWriter *w);
int day_counters_from_json(const JsonValue *v, DayCounters *ret, JsonParseError *ret_error);

/* Context a summary needs besides the counters. */
typedef struct DaySummaryInfo {
        unsigned hours;            /* 23, 24 or 25: local length of the day */
        bool partial;              /* counting did not cover the whole day (late start, clock) */
        bool restored;             /* the day was finished from persisted state after a restart */
        unsigned hourly_step_goal; /* 0 = off */
        unsigned active_start_min; /* minutes after local midnight */
        unsigned active_end_min;
        /* local hour of day (0..23) at the start of each hour bucket; filled by the caller from the zone */
        uint8_t hour_label[DAY_MAX_HOURS];
        /* Optional serialised object for the summary's "gait" member: the day's gait values and the
         * line about change alerts (docs/alerts.md). Borrowed; NULL = left out. */
        const char *gait_json;
} DaySummaryInfo;

/* The retained daily summary (docs/reminders.md lists the fields). */
int day_summary_to_json(const DayCounters *c, const DaySummaryInfo *info, JsonWriter *w);
