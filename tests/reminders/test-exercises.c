/* SPDX-License-Identifier: MIT */
/* Foot exercises from synthetic FootLoad streams (100 Hz, both feet). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>

#include "exercises.h"
#include "macro.h"
#include "reminders.h"

#include "foot-load-util.h"
#include "reminder-defaults.h"

#define REF 350.0f /* N per foot standing on both feet: a 71 kg wearer */
#define DT_US (10 * USEC_PER_MSEC)

typedef struct Counts {
        unsigned reps;
        unsigned started[_EXERCISE_KIND_MAX];
        unsigned ended[_EXERCISE_KIND_MAX];
        uint64_t duration[_EXERCISE_KIND_MAX];
} Counts;

static FootLoad load(uint64_t t, float total, float heel_share) {
        return synthetic_foot_load(t, total, heel_share);
}

static void drain(ExerciseDetector *d, Counts *c) {
        ExerciseEvent e;
        while (exercise_detector_take_event(d, &e)) {
                if (e.type == EXERCISE_EVENT_REPETITION)
                        c->reps++;
                else if (e.type == EXERCISE_EVENT_STARTED)
                        c->started[e.kind]++;
                else if (e.type == EXERCISE_EVENT_ENDED) {
                        c->ended[e.kind]++;
                        c->duration[e.kind] += e.duration_us;
                }
        }
}

static void feed(ExerciseDetector *d, Counts *c, uint64_t t, FootLoad l, FootLoad r) {
        l.t_us = r.t_us = t;
        assert_int_equal(exercise_detector_feed(d, &l, &r, false), 0);
        drain(d, c);
}

static void stand(ExerciseDetector *d, Counts *c, uint64_t *t, double seconds) {
        for (double s = 0; s < seconds; s += 0.01, *t += DT_US)
                feed(d, c, *t, load(*t, REF, 0.5f), load(*t, REF, 0.5f));
}

/* One calf raise: rise, hold, lower, rest; heel share 0.5 flat, 0 on the toes. */
static void calf_raises(ExerciseDetector *d, Counts *c, uint64_t *t, unsigned n, double rep_s) {
        for (unsigned k = 0; k < n; k++)
                for (double s = 0; s < rep_s; s += 0.01, *t += DT_US) {
                        double p = s / rep_s;
                        double h = p < 0.3 ? p / 0.3 : p < 0.5 ? 1 : p < 0.8 ? 1 - (p - 0.5) / 0.3 : 0;
                        float heel = (float) (0.5 * (1 - h));
                        feed(d, c, *t, load(*t, REF, heel), load(*t, REF, heel));
                }
}

/* Gait: stride of stride_s, each foot in stance 60 % of it, the right half a stride later. The load
 * follows a half sine; heel_early: the heel carries the first part of stance (normal walking). */
static void walk(ExerciseDetector *d, Counts *c, uint64_t *t, double seconds, double stride_s, bool heel_early) {
        for (double s = 0; s < seconds; s += 0.01, *t += DT_US) {
                FootLoad f[2];
                for (int side = 0; side < 2; side++) {
                        double ph = fmod(s / stride_s + (side ? 0.5 : 0), 1.0);
                        if (ph < 0.6) {
                                double x = ph / 0.6;
                                float total = (float) (2 * REF * (0.2 + 0.9 * sin(M_PI * x)));
                                float heel = heel_early ? (float) CLAMP(1.0 - 2.0 * x, 0.0, 1.0) : 0.0f;
                                f[side] = load(*t, total, heel);
                        } else
                                f[side] = load(*t, 0, 0);
                }
                feed(d, c, *t, f[0], f[1]);
        }
}

static void single_leg(ExerciseDetector *d, Counts *c, uint64_t *t, FootSide side, double seconds) {
        for (double s = 0; s < seconds; s += 0.01, *t += DT_US) {
                FootLoad on = load(*t, 2 * REF * (float) (1 + 0.03 * sin(s * 7)), 0.45f), off = load(*t, 3, 0);
                if (side == FOOT_LEFT)
                        feed(d, c, *t, on, off);
                else
                        feed(d, c, *t, off, on);
        }
}

static void test_calf_raises(void **state) {
        ExerciseDetector d;
        Counts c = {};
        uint64_t t = 1000 * USEC_PER_SEC;

        exercise_detector_init(&d);
        exercise_detector_set_reference(&d, REF, REF);
        stand(&d, &c, &t, 2);
        calf_raises(&d, &c, &t, 12, 1.5);
        stand(&d, &c, &t, 2);
        assert_int_equal(c.reps, 12);
        assert_int_equal(d.calf_raises, 12);

        /* Fast ones (1 s) count; a quick heel twitch (0.1 s on the toes) does not. */
        calf_raises(&d, &c, &t, 5, 1.0);
        calf_raises(&d, &c, &t, 3, 0.25);
        stand(&d, &c, &t, 1);
        assert_int_equal(c.reps, 17);

        /* Standing on the toes for a long time is not a repetition. */
        for (double s = 0; s < 8; s += 0.01, t += DT_US)
                feed(&d, &c, t, load(t, REF, 0), load(t, REF, 0));
        stand(&d, &c, &t, 1);
        assert_int_equal(c.reps, 17);
        assert_int_equal(c.started[EXERCISE_TOE_WALKING] + c.started[EXERCISE_SINGLE_LEG_LEFT], 0);
}

static void test_walking_is_no_exercise(void **state) {
        ExerciseDetector d;
        Counts c = {};
        uint64_t t = 0;

        exercise_detector_init(&d);
        exercise_detector_set_reference(&d, REF, REF);
        walk(&d, &c, &t, 30, 1.1, true);
        stand(&d, &c, &t, 3);
        assert_int_equal(c.reps, 0);
        for (int k = 0; k < _EXERCISE_KIND_MAX; k++)
                assert_int_equal(c.started[k], 0);

        /* Sitting: feet resting lightly. */
        for (double s = 0; s < 20; s += 0.01, t += DT_US)
                feed(&d, &c, t, load(t, 20, 0.5f), load(t, 18, 0.5f));
        assert_int_equal(c.reps, 0);
}

static void test_toe_walking(void **state) {
        ExerciseDetector d;
        Counts c = {};
        uint64_t t = 0;

        exercise_detector_init(&d);
        exercise_detector_set_reference(&d, REF, REF);
        walk(&d, &c, &t, 5, 1.1, true);
        walk(&d, &c, &t, 12, 1.2, false);
        walk(&d, &c, &t, 5, 1.1, true);
        stand(&d, &c, &t, 3);
        assert_int_equal(c.started[EXERCISE_TOE_WALKING], 1);
        assert_int_equal(c.ended[EXERCISE_TOE_WALKING], 1);
        /* 12 s of toe walking: counted from the first toe stance to the last one's end. */
        double secs = (double) c.duration[EXERCISE_TOE_WALKING] / 1e6;
        assert_true(secs > 10.5 && secs < 12.5);
        assert_int_equal(c.reps, 0);

        /* Toe walking that stops: ends within the pause. */
        walk(&d, &c, &t, 6, 1.2, false);
        stand(&d, &c, &t, 3);
        assert_int_equal(c.ended[EXERCISE_TOE_WALKING], 2);
        assert_int_equal(c.reps, 0);
}

static void test_single_leg(void **state) {
        ExerciseDetector d;
        Counts c = {};
        uint64_t t = 0;

        exercise_detector_init(&d);
        exercise_detector_set_reference(&d, REF, REF);
        stand(&d, &c, &t, 1);
        single_leg(&d, &c, &t, FOOT_LEFT, 10);
        stand(&d, &c, &t, 1);
        single_leg(&d, &c, &t, FOOT_RIGHT, 6);
        stand(&d, &c, &t, 1);
        single_leg(&d, &c, &t, FOOT_RIGHT, 1.5); /* too short */
        stand(&d, &c, &t, 1);
        assert_int_equal(c.ended[EXERCISE_SINGLE_LEG_LEFT], 1);
        assert_int_equal(c.ended[EXERCISE_SINGLE_LEG_RIGHT], 1);
        assert_true(llabs((long long) c.duration[EXERCISE_SINGLE_LEG_LEFT] - 10 * (long long) USEC_PER_SEC) < 50000);
        assert_true(llabs((long long) c.duration[EXERCISE_SINGLE_LEG_RIGHT] - 6 * (long long) USEC_PER_SEC) < 50000);

        /* A disconnect in the middle ends the hold at the last sample. */
        single_leg(&d, &c, &t, FOOT_LEFT, 4);
        exercise_detector_flush(&d);
        drain(&d, &c);
        assert_int_equal(c.ended[EXERCISE_SINGLE_LEG_LEFT], 2);
}

static void test_learns_reference(void **state) {
        ExerciseDetector d;
        Counts c = {};
        uint64_t t = 0;

        exercise_detector_init(&d);
        /* No reference yet: nothing can be judged. */
        calf_raises(&d, &c, &t, 3, 1.5);
        assert_int_equal(c.reps, 0);
        /* Quiet standing (the gait engine says so) teaches it. */
        for (double s = 0; s < 3; s += 0.01, t += DT_US) {
                FootLoad l = load(t, REF * 1.1f, 0.5f), r = load(t, REF * 0.9f, 0.5f);
                assert_int_equal(exercise_detector_feed(&d, &l, &r, true), 0);
        }
        assert_true(fabsf(d.reference[FOOT_LEFT] - REF * 1.1f) < 1);
        calf_raises(&d, &c, &t, 4, 1.5);
        stand(&d, &c, &t, 1);
        assert_int_equal(c.reps, 4);

        /* Bad input is refused, time going back is refused. */
        FootLoad l = load(t, NAN, 0.5f), r = load(t, REF, 0.5f);
        assert_int_equal(exercise_detector_feed(&d, &l, &r, false), -EINVAL);
        l = load(t - USEC_PER_SEC, REF, 0.5f);
        r.t_us = t - USEC_PER_SEC;
        assert_int_equal(exercise_detector_feed(&d, &l, &r, false), -EINVAL);
}

/* Through the coach: calf raises answer a reminder and end up in the day's totals and events. */
static void test_coach_calf_raises_clear_reminder(void **state) {
        _cleanup_(zone_freep) Zone *z = NULL;
        _cleanup_(coach_freep) Coach *coach = NULL;
        ReminderSettings s;
        ReminderEvent e;
        unsigned cleared = 0, sets = 0, set_reps = 0, toe_events = 0;

        assert_int_equal(zone_from_posix("UTC0", &z), 0);
        reminder_settings_default(&s);
        s.clear_steps = 0;
        s.clear_walking_usec = 0;
        assert_int_equal(coach_new(&s, z, &coach), 0);
        coach_set_reference_load(coach, REF, REF);

        /* Tuesday 2026-11-24 10:00 UTC. */
        CoachClock now = { .mono_usec = USEC_PER_SEC,
                           .wall_usec = (uint64_t) days_from_civil(2026, 11, 24) * USEC_PER_DAY + 10 * USEC_PER_HOUR,
                           .wall_trusted = true };
        coach_set_connected(coach, &now, true);
        coach_feed_activity(coach, &now, ACTIVITY_STANDING);
        for (int i = 0; i < 31 * 6; i++) {
                now.mono_usec += 10 * USEC_PER_SEC;
                now.wall_usec += 10 * USEC_PER_SEC;
                coach_tick(coach, &now);
        }
        assert_true(coach_due(coach));

        /* 12 calf raises at 100 Hz through coach_feed_foot_loads(). */
        uint64_t dev_t = 0;
        for (unsigned k = 0; k < 12; k++)
                for (double sec = 0; sec < 1.5; sec += 0.01) {
                        double p = sec / 1.5;
                        double h = p < 0.3 ? p / 0.3 : p < 0.5 ? 1 : p < 0.8 ? 1 - (p - 0.5) / 0.3 : 0;
                        FootLoad l = load(dev_t, REF, (float) (0.5 * (1 - h))), r = l;
                        assert_int_equal(coach_feed_foot_loads(coach, &now, &l, &r, false), 0);
                        dev_t += DT_US;
                        now.mono_usec += DT_US;
                        now.wall_usec += DT_US;
                }
        assert_false(coach_due(coach));
        /* The set ends 10 s after the last repetition. */
        now.mono_usec += 11 * USEC_PER_SEC;
        now.wall_usec += 11 * USEC_PER_SEC;
        coach_tick(coach, &now);

        while (coach_take_event(coach, &e)) {
                if (e.type == REMINDER_EVENT_CLEARED) {
                        cleared++;
                        assert_int_equal(e.cleared_by, REMINDER_CLEARED_BY_CALF_RAISES);
                        assert_int_equal(e.calf_raises, 10);
                }
                if (e.type == REMINDER_EVENT_EXERCISE && e.exercise == EXERCISE_CALF_RAISES) {
                        sets++;
                        set_reps = e.repetitions;
                }
                if (e.type == REMINDER_EVENT_EXERCISE && e.exercise == EXERCISE_TOE_WALKING)
                        toe_events++;
        }
        assert_int_equal(cleared, 1);
        assert_int_equal(sets, 1);
        assert_int_equal(set_reps, 12);
        assert_int_equal(toe_events, 0);
        assert_int_equal(coach_today(coach)->calf_raises, 12);
        assert_int_equal(coach_today(coach)->hour[10].calf_raises, 12);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_calf_raises),
                cmocka_unit_test(test_walking_is_no_exercise),
                cmocka_unit_test(test_toe_walking),
                cmocka_unit_test(test_single_leg),
                cmocka_unit_test(test_learns_reference),
                cmocka_unit_test(test_coach_calf_raises_clear_reminder),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
