/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "macro.h"
#include "reminder-command.h"
#include "reminders.h"
#include "string-table.h"

/* A gap in tracking (not worn, disconnected, unknown activity) shorter than this is a glitch: the
 * still bout goes on. A longer one ends the bout and cancels a pending reminder. */
#define UNTRACKED_GRACE_USEC (2 * USEC_PER_MINUTE)
/* Calf raises further apart than this belong to separate sets. */
#define EXERCISE_SET_GAP_USEC (10 * USEC_PER_SEC)
/* A day whose counting missed more than this is reported as partial. */
#define PARTIAL_SLACK_USEC (5 * USEC_PER_MINUTE)
/* Taken after every input (the manager drains a wearer after each batch): one input makes a few. */
#define EVENT_QUEUE 16
#define SUMMARY_QUEUE 2
#define COACH_STATE_VERSION 1

struct Coach {
        ReminderSettings s;
        const Zone *zone;

        bool started;
        uint64_t last_mono;
        bool connected;
        ActivityState activity;

        /* reminder rules */
        bool untracked;
        uint64_t untracked_since;
        uint64_t sitting_us, standing_us;        /* still time in this bout */
        uint32_t move_steps, move_calf_raises;   /* movement since the bout (or the first reminder) began */
        uint64_t move_walking_us;
        bool reminding;
        uint32_t repeats;
        uint64_t first_reminder_mono, next_due_mono;
        ReminderReason reason;
        uint64_t snooze_until;
        bool paused;
        uint64_t pause_until;                    /* 0 = until resumed */
        ReminderState state;
        bool due;
        bool state_announced;

        /* exercises */
        ExerciseDetector detector;
        uint32_t set_reps;
        uint64_t set_start_mono, set_last_mono;

        /* the day */
        DayCounters today;
        bool day_known;
        uint64_t day_start_wall, next_day_wall;
        DayHour pre_trust;                       /* counted before the wall clock was trusted */
        uint64_t sitting_run_us;
        /* What waits for something (the restored day for the date, a summary or an event to be
         * taken) is allocated only while it waits: 10 KB less a wearer the rest of the time
         * (issue #15). Events are taken as soon as they are made. */
        DayCounters *restored;

        ReminderEvent *events; /* EVENT_QUEUE of them, NULL while empty */
        ReminderEvent lost;    /* where an event goes that found no memory (counted as dropped) */
        size_t ev_head, ev_len;
        size_t ev_unsettled;                     /* events at the tail still waiting for the state after them */
        uint32_t ev_dropped;
        DaySummary *summaries[SUMMARY_QUEUE];
        size_t sum_head, sum_len;
};

static const char *const reminder_state_table[_REMINDER_STATE_MAX] = {
        [REMINDER_STATE_WATCHING] = "watching",
        [REMINDER_STATE_DUE] = "due",
        [REMINDER_STATE_DISABLED] = "disabled",
        [REMINDER_STATE_NOT_CONNECTED] = "not_connected",
        [REMINDER_STATE_NOT_WORN] = "not_worn",
        [REMINDER_STATE_UNKNOWN_ACTIVITY] = "unknown_activity",
        [REMINDER_STATE_PAUSED] = "paused",
        [REMINDER_STATE_CLOCK_UNSYNCHRONISED] = "clock_unsynchronised",
        [REMINDER_STATE_QUIET_DAY] = "quiet_day",
        [REMINDER_STATE_OUTSIDE_ACTIVE_HOURS] = "outside_active_hours",
        [REMINDER_STATE_SNOOZED] = "snoozed",
};

DEFINE_STRING_TABLE_LOOKUP_TO_STRING(reminder_state, ReminderState);

static const char *const reminder_reason_table[_REMINDER_REASON_MAX] = { "sitting", "standing" };

DEFINE_STRING_TABLE_LOOKUP_TO_STRING(reminder_reason, ReminderReason);

static const char *const reminder_cleared_by_table[_REMINDER_CLEARED_BY_MAX] = { "steps", "walking", "calf_raises" };

DEFINE_STRING_TABLE_LOOKUP_TO_STRING(reminder_cleared_by, ReminderClearedBy);

static const char *const reminder_event_type_table[_REMINDER_EVENT_TYPE_MAX] = {
        "reminder", "cleared", "cancelled", "snoozed", "paused", "resumed", "error", "state", "exercise",
};

DEFINE_STRING_TABLE_LOOKUP_TO_STRING(reminder_event_type, ReminderEventType);

/* ---- queues ---- */

static ReminderEvent *push_event(Coach *c, ReminderEventType type, uint64_t mono) {
        ReminderEvent *e;

        if (!c->events && !(c->events = malloc(EVENT_QUEUE * sizeof(ReminderEvent)))) {
                c->ev_dropped++;
                e = &c->lost;
        } else {
                if (c->ev_len == EVENT_QUEUE) {
                        c->ev_head = (c->ev_head + 1) % EVENT_QUEUE;
                        c->ev_len--;
                        c->ev_dropped++;
                }
                e = &c->events[(c->ev_head + c->ev_len++) % EVENT_QUEUE];
                c->ev_unsettled = MIN(c->ev_unsettled + 1, c->ev_len);
        }
        *e = (ReminderEvent) {
                .type = type,
                .mono_usec = mono,
                .state = c->state,
                .due = c->due,
                .reason = c->reason,
                .error_offset = -1,
        };
        return e;
}

/* Every event carries the state after it: the state that evaluate() settles on once the input
 * that caused the event has been applied, the same that the retained state then shows. */
static void settle_events(Coach *c) {
        for (size_t i = c->ev_len - c->ev_unsettled; i < c->ev_len; i++) {
                ReminderEvent *e = &c->events[(c->ev_head + i) % EVENT_QUEUE];
                e->state = c->state;
                e->due = c->due;
        }
        c->ev_unsettled = 0;
}

bool coach_take_event(Coach *c, ReminderEvent *ret) {
        if (!c || c->ev_len == 0)
                return false;
        *ret = c->events[c->ev_head];
        c->ev_head = (c->ev_head + 1) % EVENT_QUEUE;
        c->ev_len--;
        c->ev_unsettled = MIN(c->ev_unsettled, c->ev_len);
        if (c->ev_len == 0) {
                free(c->events);
                c->events = NULL;
                c->ev_head = 0;
        }
        return true;
}

uint32_t coach_events_dropped(const Coach *c) {
        return c ? c->ev_dropped : 0;
}

/* NULL without memory: the summary is lost and counted with the events. */
static DaySummary *push_summary(Coach *c) {
        DaySummary *s;

        if (c->sum_len == SUMMARY_QUEUE) {
                s = c->summaries[c->sum_head]; /* the oldest gives way */
                c->summaries[c->sum_head] = NULL;
                c->sum_head = (c->sum_head + 1) % SUMMARY_QUEUE;
                c->sum_len--;
        } else if (!(s = malloc(sizeof(DaySummary)))) {
                c->ev_dropped++;
                return NULL;
        }
        c->summaries[(c->sum_head + c->sum_len++) % SUMMARY_QUEUE] = s;
        return s;
}

bool coach_take_summary(Coach *c, DaySummary *ret) {
        _cleanup_free_ DaySummary *s = NULL;

        if (!c || c->sum_len == 0)
                return false;
        s = TAKE_PTR(c->summaries[c->sum_head]);
        *ret = *s;
        c->sum_head = (c->sum_head + 1) % SUMMARY_QUEUE;
        c->sum_len--;
        return true;
}

/* ---- calendar ---- */

static LocalDate date_at(const Coach *c, uint64_t wall) {
        LocalTime lt;
        zone_local_time(c->zone, wall, &lt);
        return LOCAL_DATE(lt.year, lt.month, lt.day);
}

static uint64_t date_start(const Coach *c, LocalDate d) {
        return zone_day_start(c->zone, (int) (d / 10000), (int) (d / 100 % 100), (int) (d % 100));
}

static DayHour *hour_bucket(Coach *c, const CoachClock *now) {
        uint64_t i;

        if (!c->day_known || !now->wall_trusted)
                return &c->pre_trust;
        i = now->wall_usec > c->day_start_wall ? (now->wall_usec - c->day_start_wall) / USEC_PER_HOUR : 0;
        return &c->today.hour[MIN(i, (uint64_t) DAY_MAX_HOURS - 1)];
}

static void fill_summary_info(const Coach *c, LocalDate d, DaySummaryInfo *info) {
        uint64_t start = date_start(c, d), end = date_start(c, local_date_next(d));

        *info = (DaySummaryInfo) {
                .hours = (unsigned) CLAMP((end - start + USEC_PER_HOUR / 2) / USEC_PER_HOUR, (uint64_t) 1,
                                          (uint64_t) DAY_MAX_HOURS),
                .hourly_step_goal = c->s.hourly_step_goal,
                .active_start_min = c->s.active_start_min,
                .active_end_min = c->s.active_end_min,
        };
        for (unsigned i = 0; i < info->hours; i++) {
                LocalTime lt;
                zone_local_time(c->zone, start + i * USEC_PER_HOUR, &lt);
                info->hour_label[i] = (uint8_t) lt.hour;
        }
}

static uint64_t counted_usec(const DayCounters *d) {
        uint64_t t = 0;
        for (size_t i = 0; i < _ACTIVITY_MAX; i++)
                t += d->activity_usec[i];
        return t;
}

static void summarise(Coach *c, const DayCounters *d, bool restored) {
        DaySummary *s = push_summary(c);
        uint64_t len;

        if (!s)
                return;
        s->counters = *d;
        fill_summary_info(c, d->date, &s->info);
        len = date_start(c, local_date_next(d->date)) - date_start(c, d->date);
        s->info.partial = counted_usec(d) + PARTIAL_SLACK_USEC < len;
        s->info.restored = restored;
}

static void resolve_restored(Coach *c) {
        _cleanup_free_ DayCounters *restored = NULL;

        if (!c->restored || !c->day_known)
                return;
        restored = TAKE_PTR(c->restored);
        if (restored->date != 0 && restored->date < c->today.date)
                summarise(c, restored, true);
        else
                /* Today's (or undated) counts from before the restart: keep counting on top. */
                day_counters_merge(&c->today, restored);
}

static void begin_day(Coach *c, LocalDate d) {
        day_counters_reset(&c->today, d);
        c->day_start_wall = date_start(c, d);
        c->next_day_wall = date_start(c, local_date_next(d));
        c->sitting_run_us = 0;
}

/* ---- time accounting ---- */

static bool is_tracking(const Coach *c) {
        return c->connected && (c->activity == ACTIVITY_SITTING || c->activity == ACTIVITY_STANDING ||
                                c->activity == ACTIVITY_WALKING || c->activity == ACTIVITY_RUNNING);
}

static void account(Coach *c, uint64_t dt, const CoachClock *now) {
        ActivityState a = c->connected ? c->activity : ACTIVITY_UNKNOWN;

        if (dt == 0)
                return;
        c->today.activity_usec[a] += dt;
        if (a == ACTIVITY_WALKING || a == ACTIVITY_RUNNING)
                hour_bucket(c, now)->active_usec += dt;
        if (a == ACTIVITY_SITTING) {
                c->sitting_run_us += dt;
                c->today.longest_sitting_usec = MAX(c->today.longest_sitting_usec, c->sitting_run_us);
        } else
                c->sitting_run_us = 0;

        if (!is_tracking(c))
                return;
        switch (a) {
        case ACTIVITY_SITTING:
                c->sitting_us += dt;
                break;
        case ACTIVITY_STANDING:
                c->standing_us += dt;
                break;
        default:
                c->move_walking_us += dt;
        }
}

static void end_calf_raise_set(Coach *c, bool force, uint64_t mono) {
        if (c->set_reps == 0 || (!force && mono - c->set_last_mono < EXERCISE_SET_GAP_USEC))
                return;
        ReminderEvent *e = push_event(c, REMINDER_EVENT_EXERCISE, c->set_last_mono);
        e->exercise = EXERCISE_CALF_RAISES;
        e->repetitions = c->set_reps;
        e->duration_usec = c->set_last_mono - c->set_start_mono;
        c->set_reps = 0;
}

/* Lets time pass from the last call up to now under the inputs as they were. */
static void advance(Coach *c, const CoachClock *now) {
        uint64_t dt;

        if (!c->started) {
                c->started = true;
                c->last_mono = now->mono_usec;
        }
        dt = now->mono_usec > c->last_mono ? now->mono_usec - c->last_mono : 0;
        c->last_mono = MAX(c->last_mono, now->mono_usec);

        if (now->wall_trusted) {
                if (!c->day_known) {
                        /* The first trusted time: what was counted so far belongs to this day. */
                        DayCounters so_far = c->today;
                        LocalDate d = date_at(c, now->wall_usec);

                        begin_day(c, d);
                        so_far.date = d;
                        c->today = so_far;
                        c->day_known = true;
                        account(c, dt, now);
                        dt = 0;
                        DayHour *h = hour_bucket(c, now);
                        h->steps += c->pre_trust.steps;
                        h->calf_raises += c->pre_trust.calf_raises;
                        h->active_usec += c->pre_trust.active_usec;
                        c->pre_trust = (DayHour) {};
                        resolve_restored(c);
                } else if (now->wall_usec >= c->next_day_wall) {
                        /* Midnight passed (or the clock jumped ahead): split the elapsed time at the
                         * boundary, summarise once, and start the day the wall clock is in now. */
                        uint64_t after = MIN(dt, now->wall_usec - c->next_day_wall);
                        CoachClock before = *now;
                        before.wall_usec = c->next_day_wall - 1;

                        account(c, dt - after, &before);
                        end_calf_raise_set(c, true, now->mono_usec);
                        summarise(c, &c->today, false);
                        begin_day(c, date_at(c, now->wall_usec));
                        account(c, after, now);
                        dt = 0;
                }
                /* A wall clock that goes back is not followed: the day only moves forward. */
        }
        account(c, dt, now);
        end_calf_raise_set(c, false, now->mono_usec);
}

/* ---- rules ---- */

static bool minute_in_window(unsigned minute, unsigned start, unsigned end) {
        if (start == end)
                return true;
        if (start < end)
                return minute >= start && minute < end;
        return minute >= start || minute < end;
}

static ReminderState blocking_state(const Coach *c, const CoachClock *now) {
        LocalTime lt;

        if (!c->s.enabled)
                return REMINDER_STATE_DISABLED;
        if (!c->connected)
                return REMINDER_STATE_NOT_CONNECTED;
        if (c->activity == ACTIVITY_NOT_WORN)
                return REMINDER_STATE_NOT_WORN;
        if (c->activity == ACTIVITY_UNKNOWN)
                return REMINDER_STATE_UNKNOWN_ACTIVITY;
        if (c->paused)
                return REMINDER_STATE_PAUSED;
        if (!now->wall_trusted)
                return REMINDER_STATE_CLOCK_UNSYNCHRONISED;
        zone_local_time(c->zone, now->wall_usec, &lt);
        if (c->s.quiet_days & (1u << lt.wday))
                return REMINDER_STATE_QUIET_DAY;
        if (!minute_in_window((unsigned) (lt.hour * 60 + lt.minute), c->s.active_start_min, c->s.active_end_min))
                return REMINDER_STATE_OUTSIDE_ACTIVE_HOURS;
        if (now->mono_usec < c->snooze_until)
                return REMINDER_STATE_SNOOZED;
        return REMINDER_STATE_WATCHING;
}

static void reset_bout(Coach *c) {
        c->sitting_us = c->standing_us = 0;
        c->move_steps = c->move_calf_raises = 0;
        c->move_walking_us = 0;
        c->reminding = false;
        c->repeats = 0;
}

/* Still time as a share of the limits: 50 min sitting, 30 min standing, or 25 + 15 all reach 1. */
static double stillness(const Coach *c) {
        double f = 0;
        if (c->s.sitting_limit_usec > 0)
                f += (double) c->sitting_us / (double) c->s.sitting_limit_usec;
        if (c->s.standing_limit_usec > 0)
                f += (double) c->standing_us / (double) c->s.standing_limit_usec;
        return f;
}

static int moved_enough(const Coach *c) {
        if (c->s.clear_steps > 0 && c->move_steps >= c->s.clear_steps)
                return REMINDER_CLEARED_BY_STEPS;
        if (c->s.clear_walking_usec > 0 && c->move_walking_us >= c->s.clear_walking_usec)
                return REMINDER_CLEARED_BY_WALKING;
        if (c->s.clear_calf_raises > 0 && c->move_calf_raises >= c->s.clear_calf_raises)
                return REMINDER_CLEARED_BY_CALF_RAISES;
        return -1;
}

static void evaluate(Coach *c, const CoachClock *now) {
        uint64_t mono = now->mono_usec;
        ReminderState st;
        int by;

        if (!is_tracking(c)) {
                if (!c->untracked) {
                        c->untracked = true;
                        c->untracked_since = mono;
                }
        } else if (c->untracked) {
                c->untracked = false;
                if (mono - c->untracked_since >= UNTRACKED_GRACE_USEC)
                        reset_bout(c);
        }

        if (c->paused && c->pause_until > 0 && mono >= c->pause_until) {
                c->paused = false;
                c->pause_until = 0;
                push_event(c, REMINDER_EVENT_RESUMED, mono)->expired = true;
        }

        by = moved_enough(c);
        if (by >= 0) {
                if (c->reminding) {
                        ReminderEvent *e = push_event(c, REMINDER_EVENT_CLEARED, mono);
                        e->cleared_by = (ReminderClearedBy) by;
                        e->steps = c->move_steps;
                        e->walking_usec = c->move_walking_us;
                        e->calf_raises = c->move_calf_raises;
                        e->response_usec = mono - c->first_reminder_mono;
                        e->repeat = c->repeats;
                        c->today.reminders_answered++;
                        c->today.response_usec_total += e->response_usec;
                }
                reset_bout(c);
        }

        st = blocking_state(c, now);

        if ((st == REMINDER_STATE_DISABLED || (c->untracked && mono - c->untracked_since >= UNTRACKED_GRACE_USEC)) &&
            (c->reminding || c->sitting_us > 0 || c->standing_us > 0)) {
                if (c->reminding) {
                        c->state = st;
                        c->due = false;
                        push_event(c, REMINDER_EVENT_CANCELLED, mono)->repeat = c->repeats;
                }
                reset_bout(c);
        }

        if (st == REMINDER_STATE_WATCHING && stillness(c) >= 1.0 &&
            (c->activity == ACTIVITY_SITTING || c->activity == ACTIVITY_STANDING)) {
                bool fire = false;

                if (!c->reminding) {
                        c->reminding = true;
                        c->repeats = 1;
                        c->first_reminder_mono = mono;
                        /* Fresh movement answers the reminder. */
                        c->move_steps = c->move_calf_raises = 0;
                        c->move_walking_us = 0;
                        c->today.reminders_sent++;
                        fire = true;
                } else if (c->s.repeat_interval_usec > 0 && mono >= c->next_due_mono) {
                        c->repeats++;
                        c->today.reminder_repeats++;
                        fire = true;
                }
                if (fire) {
                        double sit = c->s.sitting_limit_usec ? (double) c->sitting_us / (double) c->s.sitting_limit_usec : 0;
                        double stand = c->s.standing_limit_usec ? (double) c->standing_us / (double) c->s.standing_limit_usec : 0;
                        /* Next one a full interval from now: a long suppression never leads to a burst. */
                        c->next_due_mono = mono + c->s.repeat_interval_usec;
                        c->reason = sit >= stand ? REMINDER_REASON_SITTING : REMINDER_REASON_STANDING;
                        c->state = REMINDER_STATE_DUE;
                        c->due = true;
                        ReminderEvent *e = push_event(c, REMINDER_EVENT_REMINDER, mono);
                        e->repeat = c->repeats;
                        e->still_usec = c->sitting_us + c->standing_us;
                        e->sitting_usec = c->sitting_us;
                        e->standing_usec = c->standing_us;
                }
        }

        bool due = c->reminding && st == REMINDER_STATE_WATCHING;
        ReminderState shown = due ? REMINDER_STATE_DUE : st;
        if (!c->state_announced || shown != c->state || due != c->due) {
                c->state = shown;
                c->due = due;
                c->state_announced = true;
                push_event(c, REMINDER_EVENT_STATE, mono);
        }
        settle_events(c);
}

/* ---- public inputs ---- */

int coach_new(const ReminderSettings *settings, const Zone *zone, Coach **ret) {
        Coach *c;

        if (!settings || !ret)
                return -EINVAL;
        c = calloc(1, sizeof(Coach));
        if (!c)
                return -ENOMEM;
        c->s = *settings;
        c->zone = zone;
        c->activity = ACTIVITY_UNKNOWN;
        c->state = REMINDER_STATE_NOT_CONNECTED;
        exercise_detector_init(&c->detector);
        *ret = c;
        return 0;
}

Coach *coach_free(Coach *c) {
        if (!c)
                return NULL;
        for (size_t i = 0; i < SUMMARY_QUEUE; i++)
                free(c->summaries[i]);
        free(c->restored);
        free(c->events);
        free(c);
        return NULL;
}

void coach_set_settings(Coach *c, const ReminderSettings *settings) {
        /* A pending repeat follows a new interval, counted from the reminder before it. */
        if (c->reminding && settings->repeat_interval_usec != c->s.repeat_interval_usec &&
            c->next_due_mono >= c->s.repeat_interval_usec)
                c->next_due_mono = c->next_due_mono - c->s.repeat_interval_usec + settings->repeat_interval_usec;
        c->s = *settings;
}

void coach_set_zone(Coach *c, const Zone *zone) {
        c->zone = zone;
        if (c->day_known) {
                /* Keep the date, move its boundaries into the new zone. */
                c->day_start_wall = date_start(c, c->today.date);
                c->next_day_wall = date_start(c, local_date_next(c->today.date));
        }
}

void coach_tick(Coach *c, const CoachClock *now) {
        advance(c, now);
        evaluate(c, now);
}

static void drain_detector(Coach *c, const CoachClock *now) {
        ExerciseEvent ev;

        while (exercise_detector_take_event(&c->detector, &ev)) {
                switch (ev.type) {
                case EXERCISE_EVENT_REPETITION:
                        c->today.calf_raises++;
                        hour_bucket(c, now)->calf_raises++;
                        c->move_calf_raises++;
                        if (c->set_reps == 0)
                                c->set_start_mono = now->mono_usec;
                        c->set_reps++;
                        c->set_last_mono = now->mono_usec;
                        break;
                case EXERCISE_EVENT_ENDED: {
                        if (ev.kind == EXERCISE_TOE_WALKING)
                                c->today.toe_walking_usec += ev.duration_us;
                        else if (ev.kind == EXERCISE_SINGLE_LEG_LEFT)
                                c->today.single_leg_usec[FOOT_LEFT] += ev.duration_us;
                        else if (ev.kind == EXERCISE_SINGLE_LEG_RIGHT)
                                c->today.single_leg_usec[FOOT_RIGHT] += ev.duration_us;
                        ReminderEvent *e = push_event(c, REMINDER_EVENT_EXERCISE, now->mono_usec);
                        e->exercise = ev.kind;
                        e->duration_usec = ev.duration_us;
                        break;
                }
                default:
                        break;
                }
        }
}

void coach_set_connected(Coach *c, const CoachClock *now, bool connected) {
        advance(c, now);
        if (c->connected && !connected) {
                exercise_detector_flush(&c->detector);
                drain_detector(c, now);
        }
        c->connected = connected;
        evaluate(c, now);
}

void coach_feed_activity(Coach *c, const CoachClock *now, ActivityState state) {
        if (state < 0 || state >= _ACTIVITY_MAX)
                state = ACTIVITY_UNKNOWN;
        advance(c, now);
        if (state == ACTIVITY_NOT_WORN && c->activity != ACTIVITY_NOT_WORN) {
                exercise_detector_flush(&c->detector);
                drain_detector(c, now);
        }
        c->activity = state;
        evaluate(c, now);
}

void coach_feed_steps(Coach *c, const CoachClock *now, uint32_t new_steps) {
        advance(c, now);
        c->today.steps += new_steps;
        hour_bucket(c, now)->steps += new_steps;
        c->move_steps += new_steps;
        evaluate(c, now);
}

void coach_feed_distance(Coach *c, const CoachClock *now, uint64_t distance_dm) {
        advance(c, now);
        c->today.has_distance = true;
        c->today.distance_dm += distance_dm;
        evaluate(c, now);
}

void coach_add_day_steps(Coach *c, const CoachClock *now, uint64_t steps) {
        advance(c, now);
        c->today.steps += steps;
        evaluate(c, now);
}

void coach_feed_gait(Coach *c, const CoachClock *now, float cadence_spm, float symmetry_pct) {
        advance(c, now);
        day_counters_add_cadence(&c->today, cadence_spm);
        day_counters_add_symmetry(&c->today, symmetry_pct);
        evaluate(c, now);
}

int coach_feed_foot_loads(Coach *c, const CoachClock *now, const FootLoad *left, const FootLoad *right, bool standing) {
        int r;

        advance(c, now);
        r = exercise_detector_feed(&c->detector, left, right, standing);
        drain_detector(c, now);
        evaluate(c, now);
        return r;
}

void coach_set_reference_load(Coach *c, float left, float right) {
        exercise_detector_set_reference(&c->detector, left, right);
}

/* ---- commands (parsed in reminder-command.c) ---- */

static int command_error(Coach *c, uint64_t mono, int r, int64_t offset, const char *msg) {
        ReminderEvent *e = push_event(c, REMINDER_EVENT_ERROR, mono);

        (void) snprintf(e->error, sizeof(e->error), "%s", msg);
        e->error_offset = offset;
        settle_events(c); /* a bad command changes nothing: the state after it is the state before */
        return r < 0 ? r : -EINVAL;
}

int coach_command(Coach *c, const CoachClock *now, const void *payload, size_t len) {
        ReminderCommandError error = {};
        ReminderCommand cmd;
        uint64_t mono = now->mono_usec;
        ReminderEvent *e;
        int r;

        advance(c, now);

        r = reminder_command_parse(payload, len, &cmd, &error);
        if (r < 0)
                return command_error(c, mono, r, error.offset, error.message);

        switch (cmd.action) {
        case REMINDER_ACTION_SNOOZE:
                /* A pending reminder repeats when the snooze ends (the state holds it back until then). */
                c->snooze_until = mono + (uint64_t) cmd.minutes * USEC_PER_MINUTE;
                e = push_event(c, REMINDER_EVENT_SNOOZED, mono);
                e->minutes = cmd.minutes;
                e->until_mono_usec = c->snooze_until;
                break;

        case REMINDER_ACTION_PAUSE: {
                uint64_t until = 0, minutes = cmd.minutes;

                if (cmd.minutes > 0)
                        until = mono + (uint64_t) cmd.minutes * USEC_PER_MINUTE;
                else if (cmd.has_until) {
                        uint64_t wall = cmd.until_wall_usec;

                        if (!now->wall_trusted)
                                return command_error(c, mono, -EAGAIN, -1,
                                                     "'until': the gateway clock is not synchronised yet, use 'minutes'");
                        if (wall <= now->wall_usec ||
                            wall - now->wall_usec > (uint64_t) REMINDER_PAUSE_MAX_MIN * USEC_PER_MINUTE)
                                return command_error(c, mono, -ERANGE, -1, "'until': expected a time within the next 7 days");
                        /* From here on a duration: later wall clock jumps do not shorten the pause. */
                        until = mono + (wall - now->wall_usec);
                        minutes = (wall - now->wall_usec + USEC_PER_MINUTE - 1) / USEC_PER_MINUTE;
                }
                c->paused = true;
                c->pause_until = until;
                e = push_event(c, REMINDER_EVENT_PAUSED, mono);
                e->minutes = (uint32_t) minutes;
                e->until_mono_usec = until;
                break;
        }

        case REMINDER_ACTION_RESUME:
                c->paused = false;
                c->pause_until = 0;
                c->snooze_until = 0;
                push_event(c, REMINDER_EVENT_RESUMED, mono);
                break;

        default: /* the parser returns no other action */
                return command_error(c, mono, -EINVAL, -1, "unknown action");
        }
        evaluate(c, now);
        return 0;
}

/* ---- outputs ---- */

bool coach_due(const Coach *c) {
        return c && c->due;
}

ReminderState coach_state(const Coach *c) {
        return c ? c->state : _REMINDER_STATE_INVALID;
}

const DayCounters *coach_today(const Coach *c) {
        return &c->today;
}

static void kv_seconds(JsonWriter *w, const char *key, uint64_t usec) {
        json_kv_double(w, key, (double) usec / (double) USEC_PER_SEC, 1);
}

int reminder_event_to_json(const ReminderEvent *e, JsonWriter *w) {
        json_object_begin(w);
        json_kv_string(w, "event", reminder_event_type_to_string(e->type));
        json_kv_string(w, "state", reminder_state_to_string(e->state));
        json_kv_bool(w, "due", e->due);
        switch (e->type) {
        case REMINDER_EVENT_REMINDER:
                json_kv_string(w, "reason", reminder_reason_to_string(e->reason));
                json_kv_uint(w, "repeat", e->repeat);
                kv_seconds(w, "still_s", e->still_usec);
                kv_seconds(w, "sitting_s", e->sitting_usec);
                kv_seconds(w, "standing_s", e->standing_usec);
                break;
        case REMINDER_EVENT_CLEARED:
                json_kv_string(w, "cleared_by", reminder_cleared_by_to_string(e->cleared_by));
                json_kv_uint(w, "steps", e->steps);
                kv_seconds(w, "walking_s", e->walking_usec);
                json_kv_uint(w, "calf_raises", e->calf_raises);
                kv_seconds(w, "response_s", e->response_usec);
                json_kv_uint(w, "reminders", e->repeat);
                break;
        case REMINDER_EVENT_CANCELLED:
                json_kv_uint(w, "reminders", e->repeat);
                break;
        case REMINDER_EVENT_SNOOZED:
                json_kv_uint(w, "minutes", e->minutes);
                break;
        case REMINDER_EVENT_PAUSED:
                if (e->until_mono_usec > 0)
                        json_kv_uint(w, "minutes", e->minutes);
                else
                        json_kv_null(w, "minutes");
                json_kv_bool(w, "indefinite", e->until_mono_usec == 0);
                break;
        case REMINDER_EVENT_RESUMED:
                json_kv_bool(w, "expired", e->expired);
                break;
        case REMINDER_EVENT_ERROR:
                json_kv_string(w, "error", e->error);
                if (e->error_offset >= 0)
                        json_kv_int(w, "offset", e->error_offset);
                break;
        case REMINDER_EVENT_EXERCISE:
                json_kv_string(w, "exercise", exercise_kind_to_string(e->exercise));
                if (e->exercise == EXERCISE_CALF_RAISES)
                        json_kv_uint(w, "repetitions", e->repetitions);
                kv_seconds(w, "duration_s", e->duration_usec);
                break;
        default:
                break;
        }
        json_object_end(w);
        return w->error;
}

int day_summary_event_to_json(const DaySummary *s, JsonWriter *w) {
        return day_summary_to_json(&s->counters, &s->info, w);
}

int coach_state_to_json(const Coach *c, const CoachClock *now, JsonWriter *w) {
        uint64_t mono = now->mono_usec;

        json_object_begin(w);
        json_kv_string(w, "state", reminder_state_to_string(c->state));
        json_kv_bool(w, "due", c->due);
        if (c->reminding) {
                json_kv_string(w, "reason", reminder_reason_to_string(c->reason));
                json_kv_uint(w, "reminders", c->repeats);
        } else {
                json_kv_null(w, "reason");
                json_kv_uint(w, "reminders", 0);
        }
        kv_seconds(w, "sitting_s", c->sitting_us);
        kv_seconds(w, "standing_s", c->standing_us);
        json_kv_double(w, "stillness_pct", stillness(c) * 100.0, 0);
        json_kv_uint(w, "moved_steps", c->move_steps);
        kv_seconds(w, "moved_walking_s", c->move_walking_us);
        json_kv_uint(w, "moved_calf_raises", c->move_calf_raises);
        json_kv_bool(w, "paused", c->paused);
        if (c->paused && c->pause_until > mono)
                kv_seconds(w, "pause_left_s", c->pause_until - mono);
        else
                json_kv_null(w, "pause_left_s");
        if (c->snooze_until > mono)
                kv_seconds(w, "snooze_left_s", c->snooze_until - mono);
        else
                json_kv_null(w, "snooze_left_s");
        json_kv_string(w, "activity", activity_state_to_string(c->activity));
        json_kv_bool(w, "connected", c->connected);
        json_object_end(w);
        return w->error;
}

int coach_activity_to_json(const Coach *c, const CoachClock *now, JsonWriter *w) {
        const DayCounters *d = &c->today;
        char date[16];

        json_object_begin(w);
        json_kv_string(w, "date", local_date_to_string(c->day_known ? d->date : 0, date, sizeof(date)));
        json_kv_uint(w, "steps", d->steps);
        if (d->has_distance)
                json_kv_double(w, "distance_m", d->distance_dm / 10.0, 1);
        json_kv_uint(w, "calf_pump_activations", d->steps + d->calf_raises);
        json_kv_uint(w, "active_minutes", day_counters_active_usec(d) / USEC_PER_MINUTE);
        json_kv_uint(w, "longest_sitting_s", d->longest_sitting_usec / USEC_PER_SEC);
        json_kv_uint(w, "reminders_sent", d->reminders_sent);
        json_kv_uint(w, "reminders_answered", d->reminders_answered);
        json_key(w, "exercises");
        json_object_begin(w);
        json_kv_uint(w, "calf_raises", d->calf_raises);
        json_kv_uint(w, "toe_walking_s", d->toe_walking_usec / USEC_PER_SEC);
        json_kv_uint(w, "single_leg_left_s", d->single_leg_usec[FOOT_LEFT] / USEC_PER_SEC);
        json_kv_uint(w, "single_leg_right_s", d->single_leg_usec[FOOT_RIGHT] / USEC_PER_SEC);
        json_object_end(w);

        json_key(w, "hour");
        if (c->day_known && now->wall_trusted) {
                LocalTime lt;
                const DayHour *h = hour_bucket((Coach *) c, now);
                zone_local_time(c->zone, now->wall_usec, &lt);
                json_object_begin(w);
                json_kv_uint(w, "hour", (uint64_t) lt.hour);
                json_kv_uint(w, "steps", h->steps);
                json_kv_uint(w, "calf_pump_activations", (uint64_t) h->steps + h->calf_raises);
                json_kv_bool(w, "active_hour", minute_in_window((unsigned) lt.hour * 60u, c->s.active_start_min,
                                                                c->s.active_end_min));
                json_kv_uint(w, "goal_steps", c->s.hourly_step_goal);
                if (c->s.hourly_step_goal > 0) {
                        json_kv_double(w, "goal_progress_pct",
                                       MIN(100.0, 100.0 * h->steps / (double) c->s.hourly_step_goal), 0);
                        json_kv_bool(w, "goal_met", h->steps >= c->s.hourly_step_goal);
                } else {
                        json_kv_null(w, "goal_progress_pct");
                        json_kv_null(w, "goal_met");
                }
                json_object_end(w);
        } else
                json_null(w);
        json_object_end(w);
        return w->error;
}

/* ---- persistence ---- */

int coach_save(const Coach *c, const CoachClock *now, JsonWriter *w) {
        DayCounters d = c->today;

        if (!c->day_known) {
                /* Undated counts; the hour they belong to is not known either. */
                d.date = 0;
                d.hour[0].steps += c->pre_trust.steps;
                d.hour[0].calf_raises += c->pre_trust.calf_raises;
                d.hour[0].active_usec += c->pre_trust.active_usec;
        }
        json_object_begin(w);
        json_kv_int(w, "version", COACH_STATE_VERSION);
        json_key(w, "day");
        (void) day_counters_to_json(&d, w);
        json_key(w, "pause");
        json_object_begin(w);
        json_kv_bool(w, "paused", c->paused);
        /* A timed pause is stored as wall time, meaningful only with a trusted clock. */
        if (c->paused && c->pause_until > now->mono_usec && now->wall_trusted)
                json_kv_uint(w, "until_usec", now->wall_usec + (c->pause_until - now->mono_usec));
        else
                json_kv_null(w, "until_usec");
        json_object_end(w);
        json_object_end(w);
        return w->error;
}

int coach_restore(Coach *c, const CoachClock *now, const char *data, size_t len, JsonParseError *ret_error) {
        static const char *const keys[] = { "version", "day", "pause", NULL };
        _cleanup_(json_document_freep) JsonDocument *doc = NULL;
        const JsonValue *root, *pause;
        DayCounters d;
        int64_t version;
        bool paused = false;
        uint64_t until = 0;
        int r;

        r = json_parse(data, len, NULL, &doc, ret_error);
        if (r < 0)
                return r;
        root = json_document_root(doc);
        r = json_expect_object_keys(root, "state", keys, ret_error);
        if (r < 0)
                return r;
        r = json_expect_int64(json_value_member(root, "version"), "version", COACH_STATE_VERSION, COACH_STATE_VERSION,
                              &version, ret_error);
        if (r < 0)
                return r;
        r = day_counters_from_json(json_value_member(root, "day"), &d, ret_error);
        if (r < 0)
                return r;
        pause = json_value_member(root, "pause");
        if (pause) {
                const JsonValue *u = json_value_member(pause, "until_usec");
                r = json_expect_bool(json_value_member(pause, "paused"), "paused", &paused, ret_error);
                if (r < 0)
                        return r;
                if (u && !json_value_is_null(u)) {
                        int64_t v;
                        r = json_expect_int64(u, "until_usec", 0, INT64_MAX, &v, ret_error);
                        if (r < 0)
                                return r;
                        until = (uint64_t) v;
                }
        }

        advance(c, now);
        if (c->restored)
                day_counters_merge(c->restored, &d);
        else {
                c->restored = malloc(sizeof(DayCounters));
                if (!c->restored)
                        return -ENOMEM;
                *c->restored = d;
        }
        resolve_restored(c);

        if (paused) {
                if (until == 0) {
                        c->paused = true;
                        c->pause_until = 0;
                } else if (now->wall_trusted && until > now->wall_usec) {
                        c->paused = true;
                        c->pause_until = now->mono_usec + (until - now->wall_usec);
                }
                /* A timed pause with an untrusted clock, or one that ran out while we were away: dropped. */
        }
        evaluate(c, now);
        return 0;
}
