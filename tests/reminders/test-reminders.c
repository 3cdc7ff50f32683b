/* SPDX-License-Identifier: MIT */
/* Reminder rules, commands, the day and its persistence, driven by a fake clock. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>

#include "json-parse.h"
#include "macro.h"
#include "reminders.h"

#include "foot-load-util.h"
#include "reminder-defaults.h"

/* Allocations of at least this many bytes fail while it is not 0 (linked with --wrap=malloc). */
static size_t fail_allocations_from;
void *__real_malloc(size_t n);
void *__wrap_malloc(size_t n);
void *__wrap_malloc(size_t n) {
        if (fail_allocations_from > 0 && n >= fail_allocations_from)
                return NULL;
        return __real_malloc(n);
}

#define BERLIN_RULE "CET-1CEST,M3.5.0,M10.5.0/3"
#define MAX_EVENTS 4096

typedef struct Fixture {
        Zone *zone;
        Coach *coach;
        ReminderSettings settings;
        CoachClock now;
        ReminderEvent ev[MAX_EVENTS];
        size_t n_ev;
        DaySummary sum[8];
        size_t n_sum;
} Fixture;

static uint64_t utc(int y, int m, int d, int h, int mi) {
        return ((uint64_t) days_from_civil(y, m, d) * 86400 + (uint64_t) h * 3600 + (uint64_t) mi * 60) * USEC_PER_SEC;
}

/* The retained state as published (coach_state_to_json()): its "state" and "due". */
static void retained_state(Fixture *f, char *ret_state, size_t size, bool *ret_due) {
        _cleanup_(json_document_freep) JsonDocument *doc = NULL;
        JsonWriter w;
        const char *out, *st;

        json_writer_init_dynamic(&w);
        assert_int_equal(coach_state_to_json(f->coach, &f->now, &w), 0);
        assert_int_equal(json_writer_finish(&w, &out, NULL), 0);
        assert_int_equal(json_parse(out, strlen(out), NULL, &doc, NULL), 0);
        json_writer_done(&w);
        assert_int_equal(json_value_get_string(json_value_member(json_document_root(doc), "state"), &st, NULL), 0);
        assert_int_equal(json_value_get_bool(json_value_member(json_document_root(doc), "due"), ret_due), 0);
        (void) snprintf(ret_state, size, "%s", st);
}

static unsigned kinds_seen[_REMINDER_EVENT_TYPE_MAX];

/* Called after every input: each event it caused carries the state after it, which is the
 * retained state the gateway publishes with it. */
static void collect(Fixture *f) {
        ReminderEvent e;
        DaySummary s;
        char retained[32];
        bool retained_due;

        retained_state(f, retained, sizeof(retained), &retained_due);
        while (coach_take_event(f->coach, &e)) {
                if (!streq(reminder_state_to_string(e.state), retained) || e.due != retained_due)
                        print_error("event %s carries state %s due %s, the retained state says %s due %s\n",
                                    reminder_event_type_to_string(e.type), reminder_state_to_string(e.state),
                                    e.due ? "yes" : "no", retained, retained_due ? "yes" : "no");
                assert_string_equal(reminder_state_to_string(e.state), retained);
                assert_int_equal(e.due, retained_due);
                kinds_seen[e.type]++;

                /* Every event must serialise. */
                JsonWriter w;
                const char *out;
                json_writer_init_dynamic(&w);
                assert_int_equal(reminder_event_to_json(&e, &w), 0);
                assert_int_equal(json_writer_finish(&w, &out, NULL), 0);
                json_writer_done(&w);
                assert_true(f->n_ev < MAX_EVENTS);
                f->ev[f->n_ev++] = e;
        }
        while (coach_take_summary(f->coach, &s)) {
                assert_true(f->n_sum < ELEMENTSOF(f->sum));
                f->sum[f->n_sum++] = s;
        }
}

static int setup(void **state) {
        Fixture *f = calloc(1, sizeof(Fixture));
        assert_non_null(f);
        assert_int_equal(zone_from_posix(BERLIN_RULE, &f->zone), 0);
        reminder_settings_default(&f->settings);
        assert_int_equal(coach_new(&f->settings, f->zone, &f->coach), 0);
        /* Monday 2026-11-23, 09:00 in Berlin (UTC+1). Monotonic time starts at an arbitrary 5 s. */
        f->now = (CoachClock) { .mono_usec = 5 * USEC_PER_SEC, .wall_usec = utc(2026, 11, 23, 8, 0), .wall_trusted = true };
        *state = f;
        return 0;
}

static int teardown(void **state) {
        Fixture *f = *state;
        coach_free(f->coach);
        zone_free(f->zone);
        free(f);
        return 0;
}

static void reset_events(Fixture *f) {
        collect(f);
        f->n_ev = 0;
}

static void advance_by(Fixture *f, uint64_t dt) {
        f->now.mono_usec += dt;
        f->now.wall_usec += dt;
}

/* Lets `duration` pass in ticks of `tick` with the inputs unchanged. */
static void run(Fixture *f, uint64_t duration, uint64_t tick) {
        for (uint64_t t = 0; t < duration; t += tick) {
                advance_by(f, MIN(tick, duration - t));
                coach_tick(f->coach, &f->now);
                collect(f);
        }
}

static void activity(Fixture *f, ActivityState s) {
        coach_feed_activity(f->coach, &f->now, s);
        collect(f);
}

static void connect_and(Fixture *f, ActivityState s) {
        coach_set_connected(f->coach, &f->now, true);
        collect(f);
        activity(f, s);
}

static size_t count(const Fixture *f, ReminderEventType t) {
        size_t n = 0;
        for (size_t i = 0; i < f->n_ev; i++)
                n += f->ev[i].type == t;
        return n;
}

static const ReminderEvent *nth(const Fixture *f, ReminderEventType t, size_t k) {
        for (size_t i = 0; i < f->n_ev; i++)
                if (f->ev[i].type == t && k-- == 0)
                        return &f->ev[i];
        return NULL;
}

static int command(Fixture *f, const char *json) {
        int r = coach_command(f->coach, &f->now, json, strlen(json));
        collect(f);
        return r;
}

static void test_sitting_60min(void **state) {
        Fixture *f = *state;
        uint64_t t0 = f->now.mono_usec;

        connect_and(f, ACTIVITY_SITTING);
        assert_int_equal(coach_state(f->coach), REMINDER_STATE_WATCHING);
        run(f, 49 * USEC_PER_MINUTE + 59 * USEC_PER_SEC, USEC_PER_SEC);
        assert_int_equal(count(f, REMINDER_EVENT_REMINDER), 0);
        assert_false(coach_due(f->coach));

        run(f, USEC_PER_SEC, USEC_PER_SEC);
        assert_int_equal(count(f, REMINDER_EVENT_REMINDER), 1);
        const ReminderEvent *e = nth(f, REMINDER_EVENT_REMINDER, 0);
        assert_true(e->mono_usec - t0 == 50 * USEC_PER_MINUTE);
        assert_int_equal(e->repeat, 1);
        assert_int_equal(e->reason, REMINDER_REASON_SITTING);
        assert_true(e->sitting_usec == 50 * USEC_PER_MINUTE);
        assert_true(coach_due(f->coach));
        assert_int_equal(coach_state(f->coach), REMINDER_STATE_DUE);

        run(f, 10 * USEC_PER_MINUTE, 10 * USEC_PER_SEC);
        assert_int_equal(count(f, REMINDER_EVENT_REMINDER), 2);
        e = nth(f, REMINDER_EVENT_REMINDER, 1);
        assert_true(e->mono_usec - t0 == 60 * USEC_PER_MINUTE);
        assert_int_equal(e->repeat, 2);

        /* The JSON of a reminder. */
        JsonWriter w;
        const char *out;
        json_writer_init_dynamic(&w);
        assert_int_equal(reminder_event_to_json(e, &w), 0);
        assert_int_equal(json_writer_finish(&w, &out, NULL), 0);
        assert_string_equal(out, "{\"event\":\"reminder\",\"state\":\"due\",\"due\":true,\"reason\":\"sitting\",\"repeat\":2,"
                                 "\"still_s\":3600,\"sitting_s\":3600,\"standing_s\":0}");
        json_writer_done(&w);

        assert_int_equal(coach_today(f->coach)->reminders_sent, 1);
        assert_int_equal(coach_today(f->coach)->reminder_repeats, 1);
}

static void test_walking_clears(void **state) {
        Fixture *f = *state;

        connect_and(f, ACTIVITY_SITTING);
        run(f, 52 * USEC_PER_MINUTE, 10 * USEC_PER_SEC);
        assert_int_equal(count(f, REMINDER_EVENT_REMINDER), 1);
        uint64_t reminded = nth(f, REMINDER_EVENT_REMINDER, 0)->mono_usec;

        /* A short walk is not enough... */
        activity(f, ACTIVITY_WALKING);
        run(f, 30 * USEC_PER_SEC, USEC_PER_SEC);
        assert_int_equal(count(f, REMINDER_EVENT_CLEARED), 0);
        /* ...two minutes are. */
        run(f, 90 * USEC_PER_SEC, USEC_PER_SEC);
        assert_int_equal(count(f, REMINDER_EVENT_CLEARED), 1);
        const ReminderEvent *e = nth(f, REMINDER_EVENT_CLEARED, 0);
        assert_int_equal(e->cleared_by, REMINDER_CLEARED_BY_WALKING);
        assert_true(e->walking_usec == 2 * USEC_PER_MINUTE);
        assert_true(e->response_usec == e->mono_usec - reminded);
        assert_false(coach_due(f->coach));
        assert_int_equal(coach_state(f->coach), REMINDER_STATE_WATCHING);
        assert_int_equal(coach_today(f->coach)->reminders_answered, 1);

        /* Sitting again starts a new bout: the next reminder comes after another 50 minutes. */
        reset_events(f);
        activity(f, ACTIVITY_SITTING);
        run(f, 49 * USEC_PER_MINUTE, 10 * USEC_PER_SEC);
        assert_int_equal(count(f, REMINDER_EVENT_REMINDER), 0);
        run(f, 2 * USEC_PER_MINUTE, 10 * USEC_PER_SEC);
        assert_int_equal(count(f, REMINDER_EVENT_REMINDER), 1);

        /* Steps counted elsewhere (restored from the broker) are no movement. */
        coach_add_day_steps(f->coach, &f->now, 5000);
        collect(f);
        assert_int_equal(count(f, REMINDER_EVENT_CLEARED), 0);
        assert_true(coach_due(f->coach));

        /* Steps clear too (200 by default), even while the gait engine still says sitting. */
        for (int i = 0; i < 10; i++) {
                advance_by(f, 5 * USEC_PER_SEC);
                coach_feed_steps(f->coach, &f->now, 20);
                collect(f);
        }
        assert_int_equal(count(f, REMINDER_EVENT_CLEARED), 1);
        e = nth(f, REMINDER_EVENT_CLEARED, 0);
        assert_int_equal(e->cleared_by, REMINDER_CLEARED_BY_STEPS);
        assert_int_equal(e->steps, 200);
}

static void test_standing_and_mixed(void **state) {
        Fixture *f = *state;
        uint64_t t0 = f->now.mono_usec;

        connect_and(f, ACTIVITY_STANDING);
        run(f, 31 * USEC_PER_MINUTE, 10 * USEC_PER_SEC);
        assert_int_equal(count(f, REMINDER_EVENT_REMINDER), 1);
        assert_true(nth(f, REMINDER_EVENT_REMINDER, 0)->mono_usec - t0 == 30 * USEC_PER_MINUTE);
        assert_int_equal(nth(f, REMINDER_EVENT_REMINDER, 0)->reason, REMINDER_REASON_STANDING);

        activity(f, ACTIVITY_WALKING);
        run(f, 3 * USEC_PER_MINUTE, 10 * USEC_PER_SEC);
        assert_int_equal(count(f, REMINDER_EVENT_CLEARED), 1);

        /* Half the sitting limit plus half the standing limit: still enough. */
        reset_events(f);
        t0 = f->now.mono_usec;
        activity(f, ACTIVITY_SITTING);
        run(f, 25 * USEC_PER_MINUTE, 10 * USEC_PER_SEC);
        activity(f, ACTIVITY_STANDING);
        run(f, 16 * USEC_PER_MINUTE, 10 * USEC_PER_SEC);
        assert_int_equal(count(f, REMINDER_EVENT_REMINDER), 1);
        assert_true(nth(f, REMINDER_EVENT_REMINDER, 0)->mono_usec - t0 == 40 * USEC_PER_MINUTE);
}

static void test_snooze(void **state) {
        Fixture *f = *state;

        connect_and(f, ACTIVITY_SITTING);
        run(f, 50 * USEC_PER_MINUTE, 10 * USEC_PER_SEC);
        assert_int_equal(count(f, REMINDER_EVENT_REMINDER), 1);
        assert_true(coach_due(f->coach));

        uint64_t snoozed_at = f->now.mono_usec;
        assert_int_equal(command(f, "{\"action\":\"snooze\",\"minutes\":15}"), 0);
        assert_int_equal(count(f, REMINDER_EVENT_SNOOZED), 1);
        assert_int_equal(nth(f, REMINDER_EVENT_SNOOZED, 0)->minutes, 15);
        assert_false(coach_due(f->coach));
        assert_int_equal(coach_state(f->coach), REMINDER_STATE_SNOOZED);

        /* No repeat at the 10-minute interval while snoozed; one when the snooze ends. */
        run(f, 15 * USEC_PER_MINUTE - USEC_PER_SEC, USEC_PER_SEC);
        assert_int_equal(count(f, REMINDER_EVENT_REMINDER), 1);
        run(f, USEC_PER_SEC, USEC_PER_SEC);
        assert_int_equal(count(f, REMINDER_EVENT_REMINDER), 2);
        assert_true(nth(f, REMINDER_EVENT_REMINDER, 1)->mono_usec - snoozed_at == 15 * USEC_PER_MINUTE);
        assert_true(coach_due(f->coach));

        /* Resume ends a snooze early. */
        assert_int_equal(command(f, "{\"action\":\"snooze\",\"minutes\":30}"), 0);
        assert_int_equal(coach_state(f->coach), REMINDER_STATE_SNOOZED);
        assert_int_equal(command(f, "{\"action\":\"resume\"}"), 0);
        assert_int_equal(coach_state(f->coach), REMINDER_STATE_DUE);
}

static void test_pause_resume(void **state) {
        Fixture *f = *state;

        connect_and(f, ACTIVITY_SITTING);
        assert_int_equal(command(f, "{\"action\":\"pause\"}"), 0);
        assert_int_equal(coach_state(f->coach), REMINDER_STATE_PAUSED);
        run(f, 2 * USEC_PER_HOUR, 30 * USEC_PER_SEC);
        assert_int_equal(count(f, REMINDER_EVENT_REMINDER), 0);

        /* After resuming, the still time that built up during the pause fires one reminder only. */
        assert_int_equal(command(f, "{\"action\":\"resume\"}"), 0);
        assert_int_equal(count(f, REMINDER_EVENT_RESUMED), 1);
        assert_false(nth(f, REMINDER_EVENT_RESUMED, 0)->expired);
        run(f, 9 * USEC_PER_MINUTE, 10 * USEC_PER_SEC);
        assert_int_equal(count(f, REMINDER_EVENT_REMINDER), 1);
        run(f, 2 * USEC_PER_MINUTE, 10 * USEC_PER_SEC);
        assert_int_equal(count(f, REMINDER_EVENT_REMINDER), 2);

        /* A timed pause runs out by itself. */
        reset_events(f);
        assert_int_equal(command(f, "{\"action\":\"pause\",\"minutes\":60}"), 0);
        assert_false(coach_due(f->coach));
        run(f, 59 * USEC_PER_MINUTE, 10 * USEC_PER_SEC);
        assert_int_equal(count(f, REMINDER_EVENT_REMINDER), 0);
        run(f, 61 * USEC_PER_SEC, 10 * USEC_PER_SEC);
        assert_int_equal(count(f, REMINDER_EVENT_RESUMED), 1);
        assert_true(nth(f, REMINDER_EVENT_RESUMED, 0)->expired);
        assert_int_equal(count(f, REMINDER_EVENT_REMINDER), 1);

        /* Pause until a UTC time: 12:00 local is 11:00 UTC. */
        reset_events(f);
        uint64_t start = f->now.mono_usec;
        assert_int_equal(command(f, "{\"action\":\"pause\",\"until\":\"2026-11-23T14:00:00Z\"}"), 0);
        const ReminderEvent *e = nth(f, REMINDER_EVENT_PAUSED, 0);
        assert_non_null(e);
        assert_true(e->until_mono_usec - start == utc(2026, 11, 23, 14, 0) - f->now.wall_usec);
        assert_int_equal(coach_state(f->coach), REMINDER_STATE_PAUSED);
}

static void test_quiet_hours_and_days(void **state) {
        Fixture *f = *state;

        /* 19:30 local: the limit is reached at 20:20, outside the active hours 08:00-20:00. */
        f->now.wall_usec = utc(2026, 11, 23, 18, 30);
        connect_and(f, ACTIVITY_SITTING);
        run(f, 29 * USEC_PER_MINUTE, 30 * USEC_PER_SEC);
        assert_int_equal(coach_state(f->coach), REMINDER_STATE_WATCHING);
        run(f, 2 * USEC_PER_MINUTE, 30 * USEC_PER_SEC);
        assert_int_equal(coach_state(f->coach), REMINDER_STATE_OUTSIDE_ACTIVE_HOURS);
        run(f, 3 * USEC_PER_HOUR, 30 * USEC_PER_SEC);
        assert_int_equal(count(f, REMINDER_EVENT_REMINDER), 0);
        assert_false(coach_due(f->coach));

        /* A quiet day (Sunday by default): nothing all day. */
        coach_free(f->coach);
        assert_int_equal(coach_new(&f->settings, f->zone, &f->coach), 0);
        f->n_ev = 0;
        f->now.wall_usec = utc(2026, 11, 22, 9, 0); /* Sunday 10:00 */
        connect_and(f, ACTIVITY_SITTING);
        assert_int_equal(coach_state(f->coach), REMINDER_STATE_QUIET_DAY);
        run(f, 3 * USEC_PER_HOUR, 30 * USEC_PER_SEC);
        assert_int_equal(count(f, REMINDER_EVENT_REMINDER), 0);

        /* Without quiet days the same Sunday reminds. */
        f->settings.quiet_days = 0;
        coach_set_settings(f->coach, &f->settings);
        run(f, 30 * USEC_PER_SEC, 30 * USEC_PER_SEC);
        assert_int_equal(count(f, REMINDER_EVENT_REMINDER), 1);

        /* A window across midnight (22:00-06:00) contains 23:00 but not 12:00. */
        f->settings.active_start_min = 22 * 60;
        f->settings.active_end_min = 6 * 60;
        coach_set_settings(f->coach, &f->settings);
        run(f, 30 * USEC_PER_SEC, 30 * USEC_PER_SEC);
        assert_int_equal(coach_state(f->coach), REMINDER_STATE_OUTSIDE_ACTIVE_HOURS);
}

static void test_not_worn_not_connected(void **state) {
        Fixture *f = *state;

        /* Connected but not worn: no reminders, and the state says why. */
        connect_and(f, ACTIVITY_NOT_WORN);
        run(f, 2 * USEC_PER_HOUR, 30 * USEC_PER_SEC);
        assert_int_equal(count(f, REMINDER_EVENT_REMINDER), 0);
        assert_int_equal(coach_state(f->coach), REMINDER_STATE_NOT_WORN);

        /* Sitting but the insoles disconnected: the same. */
        activity(f, ACTIVITY_SITTING);
        coach_set_connected(f->coach, &f->now, false);
        collect(f);
        run(f, 2 * USEC_PER_HOUR, 30 * USEC_PER_SEC);
        assert_int_equal(count(f, REMINDER_EVENT_REMINDER), 0);
        assert_int_equal(coach_state(f->coach), REMINDER_STATE_NOT_CONNECTED);

        /* A reminder pending when the insoles are taken off: not due at once, cancelled after the grace. */
        coach_set_connected(f->coach, &f->now, true);
        collect(f);
        run(f, 50 * USEC_PER_MINUTE, 30 * USEC_PER_SEC);
        assert_int_equal(count(f, REMINDER_EVENT_REMINDER), 1);
        activity(f, ACTIVITY_NOT_WORN);
        assert_false(coach_due(f->coach));
        assert_int_equal(coach_state(f->coach), REMINDER_STATE_NOT_WORN);
        run(f, 3 * USEC_PER_MINUTE, 30 * USEC_PER_SEC);
        assert_int_equal(count(f, REMINDER_EVENT_CANCELLED), 1);
        assert_int_equal(nth(f, REMINDER_EVENT_CANCELLED, 0)->state, REMINDER_STATE_NOT_WORN);

        /* Back on and sitting: a fresh bout of 50 minutes. */
        reset_events(f);
        activity(f, ACTIVITY_SITTING);
        run(f, 49 * USEC_PER_MINUTE, 30 * USEC_PER_SEC);
        assert_int_equal(count(f, REMINDER_EVENT_REMINDER), 0);

        /* A short disconnect (BLE glitch) does not restart the bout. */
        coach_set_connected(f->coach, &f->now, false);
        run(f, 30 * USEC_PER_SEC, 30 * USEC_PER_SEC);
        coach_set_connected(f->coach, &f->now, true);
        collect(f);
        run(f, 90 * USEC_PER_SEC, 30 * USEC_PER_SEC);
        assert_int_equal(count(f, REMINDER_EVENT_REMINDER), 1);

        /* Disabled in the configuration. */
        f->settings.enabled = false;
        coach_set_settings(f->coach, &f->settings);
        run(f, 30 * USEC_PER_SEC, 30 * USEC_PER_SEC);
        assert_int_equal(coach_state(f->coach), REMINDER_STATE_DISABLED);
        assert_false(coach_due(f->coach));
}

static void test_clock_jump_at_boot(void **state) {
        Fixture *f = *state;

        /* Boot: the wall clock says 1970 (no RTC) and is not trusted. */
        f->now.wall_usec = 42 * USEC_PER_SEC;
        f->now.wall_trusted = false;
        connect_and(f, ACTIVITY_SITTING);
        assert_int_equal(coach_state(f->coach), REMINDER_STATE_CLOCK_UNSYNCHRONISED);
        for (int i = 0; i < 30; i++) {
                advance_by(f, 2 * USEC_PER_MINUTE);
                coach_feed_steps(f->coach, &f->now, 3);
                collect(f);
        }
        assert_int_equal(count(f, REMINDER_EVENT_REMINDER), 0);

        /* NTP: the clock jumps to Monday 10:00 local and becomes trustworthy. */
        f->now.wall_usec = utc(2026, 11, 23, 9, 0);
        f->now.wall_trusted = true;
        run(f, 10 * USEC_PER_SEC, 10 * USEC_PER_SEC);
        /* One reminder (the still time is 60 minutes), not one per missed interval. */
        assert_int_equal(count(f, REMINDER_EVENT_REMINDER), 1);
        run(f, 9 * USEC_PER_MINUTE, 10 * USEC_PER_SEC);
        assert_int_equal(count(f, REMINDER_EVENT_REMINDER), 1);
        run(f, USEC_PER_MINUTE, 10 * USEC_PER_SEC);
        assert_int_equal(count(f, REMINDER_EVENT_REMINDER), 2);

        /* The boot hour's steps belong to today, and no day was split. */
        const DayCounters *d = coach_today(f->coach);
        assert_int_equal(d->date, LOCAL_DATE(2026, 11, 23));
        assert_int_equal(d->steps, 90);
        assert_int_equal(d->hour[10].steps, 90); /* day starts 00:00 local: bucket 10 = 10:00 */
        assert_int_equal(f->n_sum, 0);

        /* A small step back (NTP correction) changes nothing either. */
        f->now.wall_usec -= 5 * USEC_PER_MINUTE;
        run(f, USEC_PER_MINUTE, 10 * USEC_PER_SEC);
        assert_int_equal(f->n_sum, 0);
        assert_int_equal(coach_today(f->coach)->date, LOCAL_DATE(2026, 11, 23));

        /* A wrong jump ahead by two days: one summary of the day that was, then the new date. */
        f->now.wall_usec += 2 * USEC_PER_DAY;
        run(f, USEC_PER_MINUTE, 10 * USEC_PER_SEC);
        assert_int_equal(f->n_sum, 1);
        assert_int_equal(f->sum[0].counters.date, LOCAL_DATE(2026, 11, 23));
        assert_int_equal(f->sum[0].counters.steps, 90);
        assert_true(f->sum[0].info.partial);
        assert_int_equal(coach_today(f->coach)->date, LOCAL_DATE(2026, 11, 25));
        /* ...and back again: the day is not split a second time, nor rolled back. */
        f->now.wall_usec -= 2 * USEC_PER_DAY;
        run(f, 10 * USEC_PER_MINUTE, 10 * USEC_PER_SEC);
        assert_int_equal(f->n_sum, 1);
        assert_int_equal(coach_today(f->coach)->date, LOCAL_DATE(2026, 11, 25));
}

static void test_midnight_rollover(void **state) {
        Fixture *f = *state;

        f->now.wall_usec = utc(2026, 11, 23, 21, 30); /* 22:30 local */
        connect_and(f, ACTIVITY_WALKING);
        for (int i = 0; i < 180; i++) { /* 3 hours, 10 steps per minute */
                advance_by(f, USEC_PER_MINUTE);
                coach_feed_steps(f->coach, &f->now, 10);
                collect(f);
        }
        assert_int_equal(f->n_sum, 1);
        const DaySummary *s = &f->sum[0];
        assert_int_equal(s->counters.date, LOCAL_DATE(2026, 11, 23));
        assert_int_equal(s->info.hours, 24);
        assert_true(s->info.partial); /* counting started at 22:30 */
        /* Steps fed at 00:00:00 sharp belong to the new day. */
        assert_int_equal(s->counters.steps, 890);
        assert_true(s->counters.activity_usec[ACTIVITY_WALKING] == 90 * USEC_PER_MINUTE);
        assert_int_equal(s->counters.hour[22].steps, 290);
        assert_int_equal(s->counters.hour[23].steps, 600);

        const DayCounters *d = coach_today(f->coach);
        assert_int_equal(d->date, LOCAL_DATE(2026, 11, 24));
        assert_int_equal(d->steps, 910);
        assert_int_equal(d->hour[0].steps, 600);
        assert_true(d->activity_usec[ACTIVITY_WALKING] == 90 * USEC_PER_MINUTE);

        /* The summary JSON. */
        JsonWriter w;
        const char *out;
        _cleanup_(json_document_freep) JsonDocument *doc = NULL;
        int64_t v;
        json_writer_init_dynamic(&w);
        assert_int_equal(day_summary_event_to_json(s, &w), 0);
        assert_int_equal(json_writer_finish(&w, &out, NULL), 0);
        assert_int_equal(json_parse(out, strlen(out), NULL, &doc, NULL), 0);
        const JsonValue *root = json_document_root(doc);
        assert_int_equal(json_value_get_int64(json_value_member(root, "steps"), 0, INT64_MAX, &v), 0);
        assert_int_equal(v, 890);
        assert_int_equal(json_value_get_int64(json_value_member(root, "active_minutes"), 0, INT64_MAX, &v), 0);
        assert_int_equal(v, 90);
        assert_int_equal(json_value_count(json_value_member(root, "hourly")), 24);
        const char *date;
        assert_int_equal(json_value_get_string(json_value_member(root, "date"), &date, NULL), 0);
        assert_string_equal(date, "2026-11-23");
        json_writer_done(&w);
}

static void test_midnight_between_ticks(void **state) {
        Fixture *f = *state;

        /* Ticks every minute at hh:mm:20: the tick at 00:00:20 covers 40 s of the old day. */
        f->now.wall_usec = utc(2026, 11, 23, 21, 30) + 20 * USEC_PER_SEC;
        connect_and(f, ACTIVITY_WALKING);
        run(f, 3 * USEC_PER_HOUR, USEC_PER_MINUTE);
        assert_int_equal(f->n_sum, 1);
        assert_true(f->sum[0].counters.activity_usec[ACTIVITY_WALKING] == 89 * USEC_PER_MINUTE + 40 * USEC_PER_SEC);
        assert_true(coach_today(f->coach)->activity_usec[ACTIVITY_WALKING] == 90 * USEC_PER_MINUTE + 20 * USEC_PER_SEC);
}

static void run_whole_day(Fixture *f, int y, int m, int d, unsigned expect_hours, const uint8_t *expect_labels) {
        uint64_t start = zone_day_start(f->zone, y, m, d);

        f->now.wall_usec = start - 10 * USEC_PER_MINUTE;
        connect_and(f, ACTIVITY_SITTING);
        /* Each local hour: 50 minutes sitting, 10 minutes walking with 500 steps. */
        for (int i = 0; i < 30 * 6; i++) {
                activity(f, i % 6 == 5 ? ACTIVITY_WALKING : ACTIVITY_SITTING);
                advance_by(f, 10 * USEC_PER_MINUTE);
                if (i % 6 == 5)
                        coach_feed_steps(f->coach, &f->now, 500);
                coach_tick(f->coach, &f->now);
                collect(f);
        }
        /* The partial day before, the DST day, and the day after it. */
        assert_int_equal(f->n_sum, 2);
        const DaySummary *s = &f->sum[1];
        assert_int_equal(s->counters.date, LOCAL_DATE(y, m, d));
        assert_int_equal(s->info.hours, expect_hours);
        assert_false(s->info.partial);
        uint64_t total = 0;
        for (size_t i = 0; i < _ACTIVITY_MAX; i++)
                total += s->counters.activity_usec[i];
        assert_true(total == expect_hours * USEC_PER_HOUR);
        for (unsigned i = 0; i < expect_hours; i++)
                assert_int_equal(s->info.hour_label[i], expect_labels[i]);
        for (unsigned i = 0; i < DAY_MAX_HOURS; i++)
                assert_int_equal(s->counters.hour[i].steps, i < expect_hours ? 500 : 0);
        assert_int_equal(s->counters.steps, 500 * expect_hours);
}

static void test_dst_23_hour_day(void **state) {
        static const uint8_t labels[] = { 0, 1, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23 };
        run_whole_day(*state, 2026, 3, 29, 23, labels);
}

static void test_dst_25_hour_day(void **state) {
        static const uint8_t labels[] = { 0, 1, 2, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12,
                                          13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23 };
        run_whole_day(*state, 2026, 10, 25, 25, labels);
}

static void test_restart_mid_day(void **state) {
        Fixture *f = *state;
        JsonWriter w;
        char *saved;
        size_t saved_len;

        connect_and(f, ACTIVITY_WALKING);
        for (int i = 0; i < 60; i++) {
                advance_by(f, USEC_PER_MINUTE);
                coach_feed_steps(f->coach, &f->now, 20);
                coach_feed_gait(f->coach, &f->now, 104.0f + (float) (i % 3), 3.5f);
                collect(f);
        }
        activity(f, ACTIVITY_SITTING);
        run(f, 65 * USEC_PER_MINUTE, 30 * USEC_PER_SEC);
        assert_int_equal(count(f, REMINDER_EVENT_REMINDER), 2);
        assert_int_equal(command(f, "{\"action\":\"pause\"}"), 0);
        coach_feed_distance(f->coach, &f->now, 1234); /* a footpod's 123.4 m */

        json_writer_init_dynamic(&w);
        assert_int_equal(coach_save(f->coach, &f->now, &w), 0);
        assert_int_equal(json_writer_steal(&w, &saved, &saved_len), 0);
        const DayCounters before = *coach_today(f->coach);

        /* Restart: a new process, a new monotonic clock, the wall clock not yet synchronised. */
        coach_free(f->coach);
        assert_int_equal(coach_new(&f->settings, f->zone, &f->coach), 0);
        f->n_ev = 0;
        f->now.mono_usec = 3 * USEC_PER_SEC;
        f->now.wall_trusted = false;
        JsonParseError e = {};
        assert_int_equal(coach_restore(f->coach, &f->now, saved, saved_len, &e), 0);
        collect(f);
        connect_and(f, ACTIVITY_WALKING);
        assert_int_equal(coach_state(f->coach), REMINDER_STATE_PAUSED); /* the indefinite pause survived */
        advance_by(f, USEC_PER_MINUTE);
        coach_feed_steps(f->coach, &f->now, 7);
        coach_feed_distance(f->coach, &f->now, 10);
        f->now.wall_trusted = true;
        run(f, USEC_PER_MINUTE, 10 * USEC_PER_SEC);

        const DayCounters *d = coach_today(f->coach);
        assert_int_equal(d->date, LOCAL_DATE(2026, 11, 23));
        assert_int_equal(d->steps, before.steps + 7);
        assert_true(d->has_distance);
        assert_int_equal(d->distance_dm, 1244);
        assert_int_equal(d->reminders_sent, 1);
        assert_int_equal(d->reminder_repeats, 1);
        assert_true(d->activity_usec[ACTIVITY_SITTING] == before.activity_usec[ACTIVITY_SITTING]);
        assert_true(d->activity_usec[ACTIVITY_WALKING] == before.activity_usec[ACTIVITY_WALKING] + 2 * USEC_PER_MINUTE);
        assert_true(d->longest_sitting_usec == 65 * USEC_PER_MINUTE);
        assert_true(fabsf(day_counters_median_cadence(d) - 105.0f) < 0.01f);
        assert_true(fabsf(day_counters_median_symmetry(d) - 3.5f) < 0.01f);
        assert_int_equal(f->n_sum, 0);

        /* A state saved on an earlier day is summarised as restored, not merged into today. */
        coach_free(f->coach);
        assert_int_equal(coach_new(&f->settings, f->zone, &f->coach), 0);
        f->now.wall_usec = utc(2026, 11, 24, 9, 0);
        assert_int_equal(coach_restore(f->coach, &f->now, saved, saved_len, &e), 0);
        collect(f);
        collect(f);
        assert_int_equal(f->n_sum, 1);
        assert_true(f->sum[0].info.restored);
        assert_true(f->sum[0].info.partial);
        assert_int_equal(f->sum[0].counters.steps, before.steps);
        assert_int_equal(f->sum[0].counters.distance_dm, 1234);
        {
                JsonWriter sw;
                const char *out;
                json_writer_init_dynamic(&sw);
                assert_int_equal(day_summary_event_to_json(&f->sum[0], &sw), 0);
                assert_int_equal(json_writer_finish(&sw, &out, NULL), 0);
                assert_non_null(strstr(out, "\"distance_m\":123.4"));
                json_writer_done(&sw);
        }
        assert_int_equal(coach_today(f->coach)->steps, 0);
        assert_false(coach_today(f->coach)->has_distance);

        /* Broken or hostile state is refused with a message, and changes nothing. */
        static const char *const bad[] = {
                "",
                "{}",
                "{\"version\":2,\"day\":{}}",
                "{\"version\":1,\"day\":{\"version\":1,\"date\":\"2026-13-01\"}}",
                "{\"version\":1,\"day\":{\"version\":1,\"date\":null,\"steps\":-1}}",
                "{\"version\":1,\"day\":[],\"extra\":1}",
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                e = (JsonParseError) {};
                assert_true(coach_restore(f->coach, &f->now, bad[i], strlen(bad[i]), &e) < 0);
                assert_true(strlen(e.message) > 0);
        }
        /* Truncations of a valid state: always refused, never a crash. */
        for (size_t len = 0; len < saved_len; len += 13)
                assert_true(coach_restore(f->coach, &f->now, saved, len, &e) < 0);
        assert_int_equal(coach_today(f->coach)->steps, 0);
        free(saved);
}

static void test_bad_commands(void **state) {
        Fixture *f = *state;
        static const struct {
                const char *payload;
                size_t len; /* 0 = strlen */
                const char *message;
        } bad[] = {
                { "", 0, "empty document" },
                { "snooze", 0, "unexpected character 's', expected a value" },
                { "[]", 0, "'command': expected an object, got array" },
                { "{}", 0, "'action': missing, expected a string" },
                { "{\"action\":5}", 0, "'action': expected a string, got number" },
                { "{\"action\":\"dance\"}", 0, "'action': expected \"snooze\", \"pause\" or \"resume\"" },
                { "{\"action\":\"snooze\"}", 0, "'minutes': missing, expected an integer in 1..720" },
                { "{\"action\":\"snooze\",\"minutes\":0}", 0, "'minutes': expected an integer in 1..720" },
                { "{\"action\":\"snooze\",\"minutes\":1.5}", 0, "'minutes': expected an integer in 1..720" },
                { "{\"action\":\"snooze\",\"minutes\":\"15\"}", 0, "'minutes': expected an integer in 1..720, got string" },
                { "{\"action\":\"snooze\",\"minutes\":99999999999999999999}", 0, "'minutes': expected an integer in 1..720" },
                { "{\"action\":\"snooze\",\"minutes\":15,\"minutes\":16}", 0, "duplicate key" },
                { "{\"action\":\"snooze\",\"minutes\":15,\"volume\":11}", 0, "'command': unknown key \"volume\"" },
                { "{\"action\":\"snooze\",\"until\":\"2026-11-23T14:00:00Z\"}", 0, "'until': not allowed with snooze" },
                { "{\"action\":\"pause\",\"minutes\":10,\"until\":\"2026-11-23T14:00:00Z\"}", 0,
                  "'minutes' and 'until' exclude each other" },
                { "{\"action\":\"pause\",\"until\":\"tomorrow\"}", 0, "'until': expected a UTC time such as 2026-05-01T18:00:00Z" },
                { "{\"action\":\"pause\",\"until\":\"2026-02-30T14:00:00Z\"}", 0,
                  "'until': expected a UTC time such as 2026-05-01T18:00:00Z" },
                { "{\"action\":\"pause\",\"until\":\"2020-01-01T00:00:00Z\"}", 0, "'until': expected a time within the next 7 days" },
                { "{\"action\":\"pause\",\"minutes\":20000}", 0, "'minutes': expected an integer in 1..10080" },
                { "{\"action\":\"resume\",\"minutes\":5}", 0, "resume takes no other keys" },
                { "{\"action\":\"snooze\xff\"}", 0, "invalid UTF-8 in string" },
                { "{\"action\":\"snooze\",\"minutes\":15}\0", 33, "trailing data after the document" },
                { "{\"action\":{\"x\":[1]}}", 0, "nesting deeper than 2" },
                { "{\"action\":\"sn\\u0000ooze\"}", 0, "'action': string contains U+0000" },
        };

        connect_and(f, ACTIVITY_SITTING);
        run(f, 50 * USEC_PER_MINUTE, 30 * USEC_PER_SEC);
        assert_true(coach_due(f->coach));
        reset_events(f);

        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                size_t len = bad[i].len ?: strlen(bad[i].payload);
                assert_true(coach_command(f->coach, &f->now, bad[i].payload, len) < 0);
                collect(f);
                assert_int_equal(count(f, REMINDER_EVENT_ERROR), i + 1);
                const ReminderEvent *e = nth(f, REMINDER_EVENT_ERROR, i);
                if (!streq(e->error, bad[i].message))
                        print_error("case %zu: '%s'\n", i, e->error);
                assert_string_equal(e->error, bad[i].message);
                /* Nothing changed. */
                assert_true(coach_due(f->coach));
                assert_int_equal(coach_state(f->coach), REMINDER_STATE_DUE);
        }
        assert_int_equal(count(f, REMINDER_EVENT_SNOOZED) + count(f, REMINDER_EVENT_PAUSED), 0);

        /* Oversized payloads are refused before parsing. */
        char big[2048];
        memset(big, ' ', sizeof(big));
        memcpy(big, "{\"action\":\"resume\"}", 19);
        assert_int_equal(coach_command(f->coach, &f->now, big, sizeof(big)), -E2BIG);

        /* The error event's JSON carries the offset. */
        assert_true(coach_command(f->coach, &f->now, "{\"action\":\"snooze\",\"minutes\":0}", 31) < 0);
        collect(f);
        const ReminderEvent *e = &f->ev[f->n_ev - 1];
        JsonWriter w;
        const char *out;
        json_writer_init_dynamic(&w);
        assert_int_equal(reminder_event_to_json(e, &w), 0);
        assert_int_equal(json_writer_finish(&w, &out, NULL), 0);
        assert_string_equal(out, "{\"event\":\"error\",\"state\":\"due\",\"due\":true,"
                                 "\"error\":\"'minutes': expected an integer in 1..720\",\"offset\":29}");
        json_writer_done(&w);

        /* A pause with a clock that is not synchronised must use minutes. */
        f->now.wall_trusted = false;
        assert_int_equal(command(f, "{\"action\":\"pause\",\"until\":\"2026-11-23T14:00:00Z\"}"), -EAGAIN);
}

/* The event queue exists only while events wait; an event that finds no memory for it is counted
 * as dropped, and the next one is queued again. */
static void test_event_without_memory(void **state) {
        Fixture *f = *state;
        uint32_t dropped;

        connect_and(f, ACTIVITY_SITTING);
        run(f, 50 * USEC_PER_MINUTE, 30 * USEC_PER_SEC);
        assert_true(coach_due(f->coach));
        reset_events(f);
        dropped = coach_events_dropped(f->coach);

        fail_allocations_from = sizeof(ReminderEvent);
        assert_int_equal(command(f, "{\"action\":\"snooze\",\"minutes\":15}"), 0);
        fail_allocations_from = 0;
        assert_int_equal(f->n_ev, 0);
        assert_int_equal(coach_events_dropped(f->coach), dropped + 2); /* "snoozed", and "state" after it */
        assert_int_equal(coach_state(f->coach), REMINDER_STATE_SNOOZED); /* the command itself took effect */

        assert_int_equal(command(f, "{\"action\":\"resume\"}"), 0);
        assert_int_equal(count(f, REMINDER_EVENT_RESUMED), 1);
        assert_int_equal(coach_events_dropped(f->coach), dropped + 2);
}

static void test_state_and_activity_json(void **state) {
        Fixture *f = *state;
        JsonWriter w;
        const char *out;
        _cleanup_(json_document_freep) JsonDocument *doc = NULL;
        int64_t v;
        bool b;

        connect_and(f, ACTIVITY_WALKING);
        advance_by(f, 5 * USEC_PER_MINUTE);
        coach_feed_steps(f->coach, &f->now, 260);
        collect(f);

        json_writer_init_dynamic(&w);
        assert_int_equal(coach_activity_to_json(f->coach, &f->now, &w), 0);
        assert_int_equal(json_writer_finish(&w, &out, NULL), 0);
        assert_int_equal(json_parse(out, strlen(out), NULL, &doc, NULL), 0);
        const JsonValue *hour = json_value_member(json_document_root(doc), "hour");
        assert_int_equal(json_value_get_int64(json_value_member(hour, "hour"), 0, 23, &v), 0);
        assert_int_equal(v, 9);
        assert_int_equal(json_value_get_int64(json_value_member(hour, "steps"), 0, INT64_MAX, &v), 0);
        assert_int_equal(v, 260);
        assert_int_equal(json_value_get_bool(json_value_member(hour, "goal_met"), &b), 0);
        assert_true(b);
        json_writer_done(&w);
        doc = json_document_free(doc);

        json_writer_init_dynamic(&w);
        assert_int_equal(coach_state_to_json(f->coach, &f->now, &w), 0);
        assert_int_equal(json_writer_finish(&w, &out, NULL), 0);
        assert_int_equal(json_parse(out, strlen(out), NULL, &doc, NULL), 0);
        const char *s;
        assert_int_equal(json_value_get_string(json_value_member(json_document_root(doc), "state"), &s, NULL), 0);
        assert_string_equal(s, "watching");
        json_writer_done(&w);

        /* STATE events announce every change of state or due. */
        assert_int_equal(count(f, REMINDER_EVENT_STATE), 2); /* not_connected -> unknown_activity -> watching */
        assert_int_equal(nth(f, REMINDER_EVENT_STATE, 1)->state, REMINDER_STATE_WATCHING);
}

/* Calf raises through coach_feed_foot_loads(), one input at a time: a reminder, then the set that
 * answers it (its exercise event and the cleared event, each checked by collect()). */
static void test_calf_raise_events(void **state) {
        Fixture *f = *state;
        const float ref = 350;
        uint64_t dev_t = 0;

        f->settings.clear_steps = 0;
        f->settings.clear_walking_usec = 0;
        coach_set_settings(f->coach, &f->settings);
        coach_set_reference_load(f->coach, ref, ref);
        connect_and(f, ACTIVITY_STANDING);
        run(f, 31 * USEC_PER_MINUTE, 10 * USEC_PER_SEC);
        assert_true(coach_due(f->coach));

        for (unsigned k = 0; k < 12; k++)
                for (double sec = 0; sec < 1.5; sec += 0.01) {
                        double p = sec / 1.5;
                        double h = p < 0.3 ? p / 0.3 : p < 0.5 ? 1 : p < 0.8 ? 1 - (p - 0.5) / 0.3 : 0;
                        FootLoad l = synthetic_foot_load(dev_t, ref, (float) (0.5 * (1 - h))), r = l;
                        assert_int_equal(coach_feed_foot_loads(f->coach, &f->now, &l, &r, false), 0);
                        collect(f);
                        dev_t += 10 * USEC_PER_MSEC;
                        advance_by(f, 10 * USEC_PER_MSEC);
                }
        run(f, 11 * USEC_PER_SEC, USEC_PER_SEC);
        assert_false(coach_due(f->coach));
        assert_int_equal(count(f, REMINDER_EVENT_CLEARED), 1);
        assert_int_equal(nth(f, REMINDER_EVENT_CLEARED, 0)->state, REMINDER_STATE_WATCHING);
        assert_false(nth(f, REMINDER_EVENT_CLEARED, 0)->due);
        assert_int_equal(count(f, REMINDER_EVENT_EXERCISE), 1);
        assert_int_equal(nth(f, REMINDER_EVENT_EXERCISE, 0)->repetitions, 12);
}

/* Runs last: the tests above produced every kind of event, and collect() checked each one's state
 * against the retained state. */
static void test_every_event_kind_checked(void **state) {
        for (ReminderEventType t = 0; t < _REMINDER_EVENT_TYPE_MAX; t++) {
                print_message("# %s events checked: %u\n", reminder_event_type_to_string(t), kinds_seen[t]);
                assert_true(kinds_seen[t] > 0);
        }
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_sitting_60min, setup, teardown),
                cmocka_unit_test_setup_teardown(test_walking_clears, setup, teardown),
                cmocka_unit_test_setup_teardown(test_standing_and_mixed, setup, teardown),
                cmocka_unit_test_setup_teardown(test_snooze, setup, teardown),
                cmocka_unit_test_setup_teardown(test_pause_resume, setup, teardown),
                cmocka_unit_test_setup_teardown(test_quiet_hours_and_days, setup, teardown),
                cmocka_unit_test_setup_teardown(test_not_worn_not_connected, setup, teardown),
                cmocka_unit_test_setup_teardown(test_clock_jump_at_boot, setup, teardown),
                cmocka_unit_test_setup_teardown(test_midnight_rollover, setup, teardown),
                cmocka_unit_test_setup_teardown(test_midnight_between_ticks, setup, teardown),
                cmocka_unit_test_setup_teardown(test_dst_23_hour_day, setup, teardown),
                cmocka_unit_test_setup_teardown(test_dst_25_hour_day, setup, teardown),
                cmocka_unit_test_setup_teardown(test_restart_mid_day, setup, teardown),
                cmocka_unit_test_setup_teardown(test_bad_commands, setup, teardown),
                cmocka_unit_test_setup_teardown(test_event_without_memory, setup, teardown),
                cmocka_unit_test_setup_teardown(test_state_and_activity_json, setup, teardown),
                cmocka_unit_test_setup_teardown(test_calf_raise_events, setup, teardown),
                cmocka_unit_test(test_every_event_kind_checked),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
