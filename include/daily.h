/* SPDX-License-Identifier: MIT */
#pragma once

/* Local calendar and daily activity counters.
 *
 * Zone: a time zone read from the TZ database (TZif files under /usr/share/zoneinfo, RFC 8536) with
 * its POSIX TZ footer rule for times after the last transition. Only zone_load() does I/O (once, at
 * start or on reload); every conversion afterwards is pure and never touches the process-global TZ,
 * so wearers in different zones can be served from one process.
 *
 * DayCounters: what one wearer did on one local day. Additive, so that the part counted before a
 * restart (persisted as JSON) and the part counted after it can be merged. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "insole.h"
#include "json-parse.h"
#include "json.h"
#include "macro.h"

/* ---- time zones ---- */

#define ZONE_NAME_MAX 63
#define ZONEINFO_DIR "/usr/share/zoneinfo"

typedef struct Zone Zone;

typedef struct LocalTime {
        int year;
        int month;  /* 1..12 */
        int day;    /* 1..31 */
        int hour;
        int minute;
        int second;
        int wday;   /* 0 = Sunday */
        int yday;   /* 0..365 */
        int32_t utc_offset_sec;
        bool is_dst;
} LocalTime;

/* Reads $TZDIR/name or ZONEINFO_DIR/name ("" = /etc/localtime). Names are checked (no "..", no leading '/',
 * characters [A-Za-z0-9/_+-.] only); "UTC" works without the database. -EINVAL for a bad name,
 * -ENOENT when missing, -EBADMSG when the file is not valid TZif. */
int zone_load(const char *name, Zone **ret);
int zone_load_from(const char *dir, const char *name, Zone **ret);
/* Pure parsers: TZif data (v1..v4), or a POSIX TZ rule such as "CET-1CEST,M3.5.0,M10.5.0/3". */
int zone_from_tzif(const void *data, size_t len, Zone **ret);
int zone_from_posix(const char *rule, Zone **ret);
Zone *zone_free(Zone *z);
DEFINE_TRIVIAL_CLEANUP_FUNC(Zone *, zone_free);
const char *zone_name(const Zone *z); /* the name given to zone_load(), or the rule */

/* Offset from UTC at the UTC instant (seconds since the epoch). */
int32_t zone_utc_offset(const Zone *z, int64_t utc_sec, bool *ret_is_dst);
void zone_local_time(const Zone *z, uint64_t utc_usec, LocalTime *ret);
/* The first UTC instant (usec) that belongs to the local day year-month-day. That is local
 * midnight, or the end of the gap when midnight does not exist on that day. */
uint64_t zone_day_start(const Zone *z, int year, int month, int day);
/* Calendar helpers (proleptic Gregorian). */
int64_t days_from_civil(int year, int month, int day);
void civil_from_days(int64_t days, int *ret_year, int *ret_month, int *ret_day);

/* A local calendar date packed as YYYYMMDD (20260329), 0 = unknown. */
typedef uint32_t LocalDate;
#define LOCAL_DATE(y, m, d) ((LocalDate) ((y) * 10000 + (m) * 100 + (d)))
LocalDate local_date_next(LocalDate d);
/* "2026-03-29" into buf (>= 11 bytes); "unknown" for 0. */
char *local_date_to_string(LocalDate d, char *buf, size_t size);
int local_date_from_string(const char *s, LocalDate *ret);

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
        /* Footpod wearers: distance covered, in the RSC's own 1/10 m so that sums stay exact. */
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
