/* SPDX-License-Identifier: MIT */
#pragma once

/* Movement reminders, calf-pump activity and the daily summary of one wearer.
 *
 * Long sitting or standing still lets venous blood pool in the lower legs; every step and every
 * calf raise works the foot and calf pump. The Coach watches one wearer: it gets activity states,
 * steps, foot loads and the connection state as they happen, reminds when the wearer has been still
 * too long, notices when they moved, counts the day and summarises it at local midnight.
 *
 * Pure: nothing here reads a clock, logs or does I/O. Every call that lets time pass takes a
 * CoachClock: the monotonic time (durations, timers) and the wall clock, which is used only for
 * the calendar (active hours, quiet days, hour buckets, day boundaries) and only once the caller
 * says it is trustworthy (on a Raspberry Pi without RTC: after NTP synchronised). docs/reminders.md
 * documents the rules, the events and their JSON fields. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "daily.h"
#include "exercises.h"
#include "insole.h"
#include "json-parse.h"
#include "json.h"

typedef struct ReminderSettings {
        bool enabled;
        uint64_t sitting_limit_usec;
        uint64_t standing_limit_usec;
        uint64_t repeat_interval_usec;
        unsigned active_start_min;  /* minutes after local midnight; start == end: all day */
        unsigned active_end_min;    /* start > end: the window spans midnight */
        uint8_t quiet_days;         /* bit 0 = Sunday ... bit 6 = Saturday */
        unsigned clear_steps;       /* 0 = this criterion is off */
        uint64_t clear_walking_usec;
        unsigned clear_calf_raises;
        unsigned hourly_step_goal;  /* 0 = off */
} ReminderSettings;

static inline void reminder_settings_from_config(const Config *c, ReminderSettings *ret) {
        *ret = (ReminderSettings) {
                .enabled = c->reminders,
                .sitting_limit_usec = c->sitting_limit_usec,
                .standing_limit_usec = c->standing_limit_usec,
                .repeat_interval_usec = c->repeat_interval_usec,
                .active_start_min = c->active_start_min,
                .active_end_min = c->active_end_min,
                .quiet_days = c->quiet_days,
                .clear_steps = c->clear_steps,
                .clear_walking_usec = c->clear_walking_usec,
                .clear_calf_raises = c->clear_calf_raises,
                .hourly_step_goal = c->hourly_step_goal,
        };
}


typedef struct CoachClock {
        uint64_t mono_usec;  /* CLOCK_MONOTONIC (or BOOTTIME) of the gateway, never device time */
        uint64_t wall_usec;  /* CLOCK_REALTIME, UTC */
        bool wall_trusted;   /* NTP synchronised (or an RTC): wall_usec may be used for the calendar */
} CoachClock;

/* Why reminders are (not) active right now: the retained state topic says this. */
typedef enum ReminderState {
        REMINDER_STATE_WATCHING,             /* counting still time; a reminder fires at the limit */
        REMINDER_STATE_DUE,                  /* a reminder was sent and the wearer has not moved yet */
        REMINDER_STATE_DISABLED,             /* [reminders] enabled=no */
        REMINDER_STATE_NOT_CONNECTED,
        REMINDER_STATE_NOT_WORN,
        REMINDER_STATE_UNKNOWN_ACTIVITY,
        REMINDER_STATE_PAUSED,
        REMINDER_STATE_CLOCK_UNSYNCHRONISED, /* active hours cannot be known yet */
        REMINDER_STATE_QUIET_DAY,
        REMINDER_STATE_OUTSIDE_ACTIVE_HOURS,
        REMINDER_STATE_SNOOZED,
        _REMINDER_STATE_MAX,
        _REMINDER_STATE_INVALID = -EINVAL,
} ReminderState;

const char *reminder_state_to_string(ReminderState s); /* "watching", "due", "not_worn", ... */

typedef enum ReminderReason {
        REMINDER_REASON_SITTING,
        REMINDER_REASON_STANDING,
        _REMINDER_REASON_MAX,
        _REMINDER_REASON_INVALID = -EINVAL,
} ReminderReason;

const char *reminder_reason_to_string(ReminderReason r); /* "sitting", "standing" */

typedef enum ReminderClearedBy {
        REMINDER_CLEARED_BY_STEPS,
        REMINDER_CLEARED_BY_WALKING,
        REMINDER_CLEARED_BY_CALF_RAISES,
        _REMINDER_CLEARED_BY_MAX,
        _REMINDER_CLEARED_BY_INVALID = -EINVAL,
} ReminderClearedBy;

const char *reminder_cleared_by_to_string(ReminderClearedBy c); /* "steps", "walking", "calf_raises" */

typedef enum ReminderEventType {
        REMINDER_EVENT_REMINDER,  /* move! (first or repeat) */
        REMINDER_EVENT_CLEARED,   /* the wearer moved enough after a reminder */
        REMINDER_EVENT_CANCELLED, /* a pending reminder ended without movement (taken off, disconnected) */
        REMINDER_EVENT_SNOOZED,   /* command results */
        REMINDER_EVENT_PAUSED,
        REMINDER_EVENT_RESUMED,
        REMINDER_EVENT_ERROR,     /* a bad command */
        REMINDER_EVENT_STATE,     /* state or due changed: republish the retained state */
        REMINDER_EVENT_EXERCISE,  /* a finished set of calf raises, a toe walk, a single-leg stand */
        _REMINDER_EVENT_TYPE_MAX,
        _REMINDER_EVENT_TYPE_INVALID = -EINVAL,
} ReminderEventType;

/* "reminder", "cleared", "cancelled", "snoozed", "paused", "resumed", "error", "state", "exercise" */
const char *reminder_event_type_to_string(ReminderEventType t);

#define REMINDER_ERROR_MAX 160

typedef struct ReminderEvent {
        ReminderEventType type;
        uint64_t mono_usec;          /* when; the publisher adds wall-clock timestamps */
        ReminderState state;         /* the state after the event */
        bool due;
        /* REMINDER */
        ReminderReason reason;
        uint32_t repeat;             /* 1 = first reminder of this bout */
        uint64_t still_usec;         /* sitting + standing in this bout */
        uint64_t sitting_usec;
        uint64_t standing_usec;
        /* CLEARED */
        ReminderClearedBy cleared_by;
        uint32_t steps;              /* movement since the first reminder */
        uint64_t walking_usec;
        uint32_t calf_raises;
        uint64_t response_usec;      /* first reminder -> cleared */
        /* CANCELLED: state says why. SNOOZED / PAUSED */
        uint64_t until_mono_usec;    /* 0 with PAUSED: until resumed */
        uint32_t minutes;
        bool expired;                /* RESUMED: the pause ran out by itself */
        /* EXERCISE */
        ExerciseKind exercise;
        uint32_t repetitions;
        uint64_t duration_usec;
        /* ERROR */
        char error[REMINDER_ERROR_MAX];
        int64_t error_offset;        /* byte offset in the payload, -1 when not about a position */
} ReminderEvent;

/* One JSON object per event; docs/reminders.md lists the fields per type. Timestamps are added by
 * the publisher (the event carries only monotonic time). */
int reminder_event_to_json(const ReminderEvent *e, JsonWriter *w);

/* A finished day, ready to publish (retained) on <base>/<wearer>/daily. */
typedef struct DaySummary {
        DayCounters counters;
        DaySummaryInfo info;
} DaySummary;

int day_summary_event_to_json(const DaySummary *s, JsonWriter *w);

typedef struct Coach Coach;

/* zone may be NULL (UTC); it is borrowed and must outlive the coach (or be replaced first). */
int coach_new(const ReminderSettings *settings, const Zone *zone, Coach **ret);
Coach *coach_free(Coach *c);
DEFINE_TRIVIAL_CLEANUP_FUNC(Coach *, coach_free);
void coach_set_settings(Coach *c, const ReminderSettings *settings);
void coach_set_zone(Coach *c, const Zone *zone);

/* Inputs. Each one first lets time pass up to `now` under the previous inputs. Calls must come in
 * monotonic order; an older mono_usec is treated as "no time passed". */
void coach_tick(Coach *c, const CoachClock *now);
void coach_set_connected(Coach *c, const CoachClock *now, bool connected);
void coach_feed_activity(Coach *c, const CoachClock *now, ActivityState state);
void coach_feed_steps(Coach *c, const CoachClock *now, uint32_t new_steps);
/* Steps of today counted elsewhere (another gateway, a counter restored from the broker): they
 * go into the day's total only, neither into an hour nor as movement that answers a reminder. */
void coach_add_day_steps(Coach *c, const CoachClock *now, uint64_t steps);
/* Distance a footpod measured (1/10 m, already reconciled); 0 just marks the day as one with a
 * distance, so that today/daily carry distance_m from the start. */
void coach_feed_distance(Coach *c, const CoachClock *now, uint64_t distance_dm);
/* A gait summary while walking (e.g. each publish interval): cadence (steps/min) and a symmetry
 * index in %; NAN values are skipped. Feeds the day's medians. */
void coach_feed_gait(Coach *c, const CoachClock *now, float cadence_spm, float symmetry_pct);
/* Per-sample loads of both feet (see exercises.h); standing = the gait engine says standing. */
int coach_feed_foot_loads(Coach *c, const CoachClock *now, const FootLoad *left, const FootLoad *right, bool standing);
/* Reference load per foot for the exercise detector (both 0: learn it while standing). */
void coach_set_reference_load(Coach *c, float left, float right);

/* The JSON payload of <base>/<wearer>/reminder/set: {"action":"snooze","minutes":15},
 * {"action":"pause","minutes":60}, {"action":"pause","until":"2026-05-01T18:00:00Z"},
 * {"action":"pause"} (until resumed), {"action":"resume"}. Returns 0, or -errno after queueing
 * an ERROR event (never anything else: a bad payload cannot change the state). */
int coach_command(Coach *c, const CoachClock *now, const void *payload, size_t len);

/* Outputs. */
bool coach_take_event(Coach *c, ReminderEvent *ret);
bool coach_take_summary(Coach *c, DaySummary *ret);
uint32_t coach_events_dropped(const Coach *c);
/* "move reminder due", for the Home Assistant binary sensor. */
bool coach_due(const Coach *c);
ReminderState coach_state(const Coach *c);
/* The day so far (steps, hourly progress, exercises). */
const DayCounters *coach_today(const Coach *c);
/* Retained <base>/<wearer>/reminder/state. */
int coach_state_to_json(const Coach *c, const CoachClock *now, JsonWriter *w);
/* Today so far and the current hour against the hourly goal (a retained "today" topic). */
int coach_activity_to_json(const Coach *c, const CoachClock *now, JsonWriter *w);

/* Persistence: the day's counters and an open pause, as one JSON object. Save it now and then and
 * at exit; restore it once after coach_new(). A restored day that is still today (decided once the
 * wall clock is trusted) keeps counting; an older one is summarised (restored = true). */
int coach_save(const Coach *c, const CoachClock *now, JsonWriter *w);
int coach_restore(Coach *c, const CoachClock *now, const char *data, size_t len, JsonParseError *ret_error);
