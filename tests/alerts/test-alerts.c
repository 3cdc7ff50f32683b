/* SPDX-License-Identifier: MIT */
/* The alerts core: history, baseline, detection rules, commands, persistence and payloads. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "alerts.h"
#include "schema-check.h"

static AlertMonitor *monitor(unsigned metrics) {
        AlertSettings s;
        AlertMonitor *m;

        alert_settings_default(&s);
        if (metrics)
                s.metrics = metrics;
        assert_int_equal(alert_monitor_new(&s, &m), 0);
        return m;
}

static LocalDate date_of(unsigned day) {
        int y, mo, d;
        civil_from_days(days_from_civil(2026, 3, 1) + day, &y, &mo, &d);
        return LOCAL_DATE(y, mo, d);
}

static GaitDay day_with(unsigned day, uint32_t strides, float step_si) {
        GaitDay d;

        gait_day_init(&d, date_of(day));
        d.strides = strides;
        d.steps = strides;
        d.active_s = strides;
        d.value[GAIT_METRIC_CADENCE] = 105 + (float) (day % 3) - 1;
        d.value[GAIT_METRIC_STEP_TIME_ASYM] = step_si;
        d.value[GAIT_METRIC_STEP_TIME_SI] = fabsf(step_si);
        d.value[GAIT_METRIC_ML_INDEX] = 0.05f + 0.005f * (float) (day % 4);
        return d;
}

/* Ten ordinary days: step-time asymmetry 1.6 .. 2.4 %. */
static void baseline_days(AlertMonitor *m, unsigned n) {
        for (unsigned i = 0; i < n; i++) {
                GaitDay d = day_with(i, 3000, 2.0f + 0.2f * (float) ((int) (i % 5) - 2));
                alert_monitor_end_day(m, &d);
        }
}

static unsigned count_events(AlertMonitor *m, AlertEventType type, AlertEvent *last) {
        AlertEvent e;
        unsigned n = 0;

        while (alert_monitor_take_event(m, &e))
                if (e.type == type) {
                        n++;
                        if (last)
                                *last = e;
                }
        return n;
}

static void test_baseline(void **state) {
        _cleanup_(alert_monitor_freep) AlertMonitor *m = monitor(0);
        MetricBaseline b;

        baseline_days(m, 5);
        alert_monitor_baseline(m, GAIT_METRIC_STEP_TIME_ASYM, &b);
        assert_int_equal(b.days, 5);
        assert_false(b.valid); /* 7 days needed by default */
        assert_string_equal(alert_monitor_state(m), "learning");
        baseline_days(m, 5); /* the same dates again (a restart): not added twice */
        alert_monitor_baseline(m, GAIT_METRIC_STEP_TIME_ASYM, &b);
        assert_int_equal(b.days, 5);
        for (unsigned i = 5; i < 10; i++) {
                GaitDay d = day_with(i, 3000, 2.0f + 0.2f * (float) ((int) (i % 5) - 2));
                alert_monitor_end_day(m, &d);
        }
        alert_monitor_baseline(m, GAIT_METRIC_STEP_TIME_ASYM, &b);
        assert_true(b.valid);
        assert_int_equal(b.days, 10);
        assert_float_equal(b.median, 2.0, 1e-6);
        /* A steady wearer's own spread (0.3) pooled with the metric's typical one (0.8, as 4 days):
         * between the two, never below half the typical one; the range is 2 spreads wide. */
        assert_true(b.spread > 0.4 && b.spread < 0.8);
        assert_float_equal(b.low, MAX(b.median - 2 * b.spread, 0.0), 1e-9);
        assert_string_equal(alert_monitor_state(m), "watching");

        /* A day with an odd value (a hike) does not move a median of ten. */
        GaitDay odd = day_with(10, 3000, 2.1f);
        odd.value[GAIT_METRIC_STEP_TIME_ASYM] = 2.1f;
        alert_monitor_end_day(m, &odd);
        alert_monitor_baseline(m, GAIT_METRIC_STEP_TIME_ASYM, &b);
        assert_float_equal(b.median, 2.0, 0.06);
}

static void test_little_walking_never_alerts(void **state) {
        _cleanup_(alert_monitor_freep) AlertMonitor *m = monitor(0);
        GaitDay d;

        baseline_days(m, 10);
        (void) count_events(m, ALERT_EVENT_CHANGED, NULL);
        /* 250 strides of very asymmetric walking: not enough to count, however large. */
        for (uint32_t n = 25; n <= 250; n += 25) {
                d = day_with(10, n, 25.0f);
                alert_monitor_update_today(m, &d);
        }
        alert_monitor_end_day(m, &d);
        assert_int_equal(count_events(m, ALERT_EVENT_CHANGED, NULL), 0);
        /* ...and it left no trace in the sums: an ordinary day after it stays quiet. */
        d = day_with(11, 3000, 2.2f);
        alert_monitor_end_day(m, &d);
        assert_int_equal(count_events(m, ALERT_EVENT_CHANGED, NULL), 0);
        assert_string_equal(alert_monitor_state(m), "watching");
}

static void test_learning_never_alerts(void **state) {
        _cleanup_(alert_monitor_freep) AlertMonitor *m = monitor(0);
        GaitDay d;

        baseline_days(m, 6);
        d = day_with(6, 3000, 20.0f);
        alert_monitor_update_today(m, &d);
        alert_monitor_end_day(m, &d);
        assert_int_equal(count_events(m, ALERT_EVENT_CHANGED, NULL), 0);
}

static void test_onset_within_the_day(void **state) {
        _cleanup_(alert_monitor_freep) AlertMonitor *m = monitor(0);
        AlertEvent e;
        GaitDay d;
        char buf[1024];
        JsonWriter w;

        baseline_days(m, 10);
        /* 2 % -> 10 %: checked at 300 strides, then every 50. */
        d = day_with(10, 299, 10.0f);
        alert_monitor_update_today(m, &d);
        assert_int_equal(count_events(m, ALERT_EVENT_CHANGED, NULL), 0);
        d.strides = 300;
        alert_monitor_update_today(m, &d);
        assert_int_equal(count_events(m, ALERT_EVENT_CHANGED, &e), 1);
        assert_int_equal(e.metric, GAIT_METRIC_STEP_TIME_ASYM);
        assert_int_equal(e.direction, 1);
        assert_true(e.intraday);
        assert_int_equal(e.since, date_of(10));
        assert_int_equal(e.strides, 300);
        assert_true(alert_monitor_changed(m));
        assert_string_equal(alert_monitor_state(m), "changed");

        /* Once found, the change is not reported again, neither later that day nor at its end. */
        d.strides = 2000;
        alert_monitor_update_today(m, &d);
        alert_monitor_end_day(m, &d);
        assert_int_equal(count_events(m, ALERT_EVENT_CHANGED, NULL), 0);
        /* Its days stay out of the baseline until accepted. */
        MetricBaseline b;
        alert_monitor_baseline(m, GAIT_METRIC_STEP_TIME_ASYM, &b);
        assert_int_equal(b.days, 10);

        json_writer_init(&w, buf, sizeof(buf));
        assert_int_equal(alert_event_to_json(&e, &w), 0);
        assert_non_null(strstr(buf, "\"metric\":\"step_time_asym\""));
        assert_non_null(strstr(buf, "not a diagnosis"));

        /* The summary line says it. */
        json_writer_init(&w, buf, sizeof(buf));
        assert_int_equal(alert_monitor_day_to_json(m, &d, &w), 0);
        assert_non_null(strstr(buf, "Walking changed: Left-right step time difference up since 2026-03-11"));
}

static void test_cusum_accumulates(void **state) {
        _cleanup_(alert_monitor_freep) AlertMonitor *m = monitor(0);
        unsigned day = 10, found = 0;

        baseline_days(m, 10);
        /* +2.4 points a day (about 2.5 standard errors): not enough on one day, enough in a few. */
        for (; day < 20 && !found; day++) {
                GaitDay d = day_with(day, 3000, 4.4f);
                alert_monitor_end_day(m, &d);
                found = count_events(m, ALERT_EVENT_CHANGED, NULL);
        }
        assert_int_equal(found, 1);
        assert_true(day - 10 >= 2 && day - 10 <= 5);
}

/* A wearer whose left steps were the longer ones starts taking longer right steps: the same size of
 * asymmetry, on the other side. The folded index (2|L-R|/(L+R)) cannot see it; the signed
 * difference, which is what the alerts watch by default, does. */
static void test_change_of_side(void **state) {
        _cleanup_(alert_monitor_freep) AlertMonitor *m = monitor(0);
        _cleanup_(alert_monitor_freep) AlertMonitor *folded = monitor(1u << GAIT_METRIC_STEP_TIME_SI);
        AlertEvent e;
        GaitDay d;
        char buf[1024];
        JsonWriter w;

        baseline_days(m, 10);
        baseline_days(folded, 10);
        (void) count_events(m, ALERT_EVENT_CHANGED, NULL);
        (void) count_events(folded, ALERT_EVENT_CHANGED, NULL);
        for (unsigned day = 10; day < 14; day++) {
                d = day_with(day, 3000, -2.0f - 0.2f * (float) (day % 3));
                alert_monitor_end_day(m, &d);
                alert_monitor_end_day(folded, &d);
        }
        assert_int_equal(count_events(m, ALERT_EVENT_CHANGED, &e), 1);
        assert_int_equal(e.metric, GAIT_METRIC_STEP_TIME_ASYM);
        assert_int_equal(e.direction, -1);
        assert_int_equal(e.since, date_of(10));
        assert_int_equal(count_events(folded, ALERT_EVENT_CHANGED, NULL), 0);

        /* The sentence says which side a sign means, and a range of negative numbers stays readable. */
        json_writer_init(&w, buf, sizeof(buf));
        assert_int_equal(alert_event_to_json(&e, &w), 0);
        assert_non_null(strstr(buf, "Left-right step time difference fell from its usual range 1.0 … 3.0 % to -2.2 %"));
        assert_non_null(strstr(buf, "below zero the right foot's"));
}

/* A day a little off joins the baseline; once a run's sum reaches half of h its days stay out of it,
 * so that a sustained change is judged against the walking before it instead of becoming usual. */
static void test_open_run_held_out(void **state) {
        _cleanup_(alert_monitor_freep) AlertMonitor *m = monitor(0);
        MetricBaseline b;
        GaitDay d;

        baseline_days(m, 10);
        d = day_with(10, 3000, 3.1f); /* about 1.7 standard errors: a run, but a small one */
        alert_monitor_end_day(m, &d);
        alert_monitor_baseline(m, GAIT_METRIC_STEP_TIME_ASYM, &b);
        assert_int_equal(b.days, 11);

        d = day_with(11, 3000, 4.4f); /* the run passes half of h: both of its days are held out */
        alert_monitor_end_day(m, &d);
        assert_int_equal(count_events(m, ALERT_EVENT_CHANGED, NULL), 0);
        alert_monitor_baseline(m, GAIT_METRIC_STEP_TIME_ASYM, &b);
        assert_int_equal(b.days, 10);
        assert_float_equal(b.median, 2.0, 1e-6);

        d = day_with(12, 3000, 4.4f);
        alert_monitor_end_day(m, &d);
        assert_int_equal(count_events(m, ALERT_EVENT_CHANGED, NULL), 1);
}

/* The day value that tests/integration/test-alert-sensitivity.py walks at: between the one-day
 * limits of the sensitivities (h + k: low 7.0, normal 4.4, high 4.25 standard errors) for a
 * baseline of ten days of 0.4 .. 3.6 % (that test's history: a wearer whose walking varies) and
 * any stride count of its run. */
#define SENSITIVITY_BAND_LOW 9.4f  /* normal and high report it at the first check (300 strides) */
#define SENSITIVITY_BAND_HIGH 12.9f /* low does not, at any check up to 600 strides */
#define SENSITIVITY_BAND_STRIDES 600

static void wide_baseline_days(AlertMonitor *m, unsigned n) {
        for (unsigned i = 0; i < n; i++) {
                GaitDay d = day_with(i, 3000, 2.0f + 0.8f * (float) ((int) (i % 5) - 2));
                alert_monitor_end_day(m, &d);
        }
}

static AlertMonitor *monitor_with_sensitivity(AlertSensitivity sensitivity) {
        AlertSettings s;
        AlertMonitor *m;

        alert_settings_default(&s);
        s.metrics = 1u << GAIT_METRIC_STEP_TIME_ASYM;
        s.sensitivity = sensitivity;
        assert_int_equal(alert_monitor_new(&s, &m), 0);
        wide_baseline_days(m, 10);
        return m;
}

static void test_sensitivity(void **state) {
        static const AlertSensitivity reporting[] = { ALERT_SENSITIVITY_NORMAL, ALERT_SENSITIVITY_HIGH };
        AlertSettings s;
        AlertEvent e = {};
        GaitDay d;

        for (size_t i = 0; i < ELEMENTSOF(reporting); i++) {
                _cleanup_(alert_monitor_freep) AlertMonitor *m = monitor_with_sensitivity(reporting[i]);

                d = day_with(10, ALERT_MIN_STRIDES, SENSITIVITY_BAND_LOW);
                alert_monitor_update_today(m, &d);
                assert_int_equal(count_events(m, ALERT_EVENT_CHANGED, NULL), 1);
        }

        _cleanup_(alert_monitor_freep) AlertMonitor *m = monitor_with_sensitivity(ALERT_SENSITIVITY_LOW);
        for (uint32_t n = ALERT_MIN_STRIDES; n <= SENSITIVITY_BAND_STRIDES; n += ALERT_EVAL_STRIDES) {
                d = day_with(10, n, SENSITIVITY_BAND_HIGH);
                alert_monitor_update_today(m, &d);
        }
        assert_int_equal(count_events(m, ALERT_EVENT_CHANGED, NULL), 0);
        assert_string_equal(alert_monitor_state(m), "watching");

        /* A reload to normal: the next check of the same running day reports it. */
        alert_settings_default(&s);
        s.metrics = 1u << GAIT_METRIC_STEP_TIME_ASYM;
        alert_monitor_set_settings(m, &s);
        d.strides += ALERT_EVAL_STRIDES;
        alert_monitor_update_today(m, &d);
        assert_int_equal(count_events(m, ALERT_EVENT_CHANGED, &e), 1);
        assert_true(e.intraday);
        assert_int_equal(e.strides, d.strides);
        assert_string_equal(alert_monitor_state(m), "changed");
}

static void test_returned(void **state) {
        _cleanup_(alert_monitor_freep) AlertMonitor *m = monitor(0);
        GaitDay d;

        baseline_days(m, 10);
        d = day_with(10, 3000, 12.0f);
        alert_monitor_end_day(m, &d);
        assert_int_equal(count_events(m, ALERT_EVENT_CHANGED, NULL), 1);
        for (unsigned i = 11; i < 11 + ALERT_RETURN_DAYS; i++) {
                d = day_with(i, 3000, 2.0f);
                alert_monitor_end_day(m, &d);
        }
        assert_int_equal(count_events(m, ALERT_EVENT_RETURNED, NULL), 1);
        assert_string_equal(alert_monitor_state(m), "watching");
}

static void test_commands(void **state) {
        _cleanup_(alert_monitor_freep) AlertMonitor *m = monitor(0);
        static const struct {
                const char *payload;
                const char *message;
        } bad[] = {
                { "", "" },
                { "nonsense", "" },
                { "[]", "expected an object" },
                { "{}", "'action'" },
                { "{\"action\":1}", "'action'" },
                { "{\"action\":\"snooze\"}", "expected acknowledge or accept" },
                { "{\"action\":\"accept\",\"minutes\":5}", "minutes" },
                { "{\"action\":\"acknowledge\",\"action\":\"accept\"}", "" },
                { "{\"action\":\"acknowledge\"}", "no change to acknowledge" },
                { "{\"action\":\"accept\"}", "no change to accept" },
        };
        AlertEvent e;
        GaitDay d;

        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                assert_true(alert_monitor_command(m, bad[i].payload, strlen(bad[i].payload)) < 0);
                assert_int_equal(count_events(m, ALERT_EVENT_ERROR, &e), 1);
                assert_non_null(strstr(e.error, bad[i].message));
        }

        baseline_days(m, 10);
        d = day_with(10, 3000, 12.0f);
        alert_monitor_end_day(m, &d);
        assert_int_equal(count_events(m, ALERT_EVENT_CHANGED, NULL), 1);
        assert_true(alert_monitor_changed(m));

        assert_int_equal(alert_monitor_command(m, "{\"action\":\"acknowledge\"}", 24), 0);
        assert_int_equal(count_events(m, ALERT_EVENT_ACKNOWLEDGED, NULL), 1);
        assert_false(alert_monitor_changed(m));
        assert_string_equal(alert_monitor_state(m), "acknowledged");

        /* "This is my new normal": the baseline restarts at the change. */
        assert_int_equal(alert_monitor_command(m, "{\"action\":\"accept\"}", 19), 0);
        assert_int_equal(count_events(m, ALERT_EVENT_ACCEPTED, &e), 1);
        assert_int_equal(e.since, date_of(10));
        assert_string_equal(alert_monitor_state(m), "learning");
        for (unsigned i = 11; i < 17; i++) {
                d = day_with(i, 3000, 12.0f);
                alert_monitor_end_day(m, &d);
        }
        MetricBaseline b;
        alert_monitor_baseline(m, GAIT_METRIC_STEP_TIME_ASYM, &b);
        assert_true(b.valid);
        assert_float_equal(b.median, 12.0, 1e-6);
        assert_int_equal(count_events(m, ALERT_EVENT_CHANGED, NULL), 0);
}

static char *save(AlertMonitor *m, const char *name) {
        AlertMonitor *ms[] = { m };
        const char *names[] = { name };
        JsonWriter w;
        char *text;

        json_writer_init_dynamic(&w);
        assert_int_equal(alert_history_format(ms, names, 1, &w), 0);
        assert_int_equal(json_writer_steal(&w, &text, NULL), 0);
        json_writer_done(&w);
        return text;
}

/* Events wait in a queue of 16 until taken: more give the oldest way, and each one lost is counted. */
static void test_event_queue_full(void **state) {
        _cleanup_(alert_monitor_freep) AlertMonitor *m = NULL;
        AlertSettings s;
        AlertEvent e;
        unsigned taken = 0;

        alert_settings_default(&s);
        assert_int_equal(alert_monitor_new(&s, &m), 0);
        for (unsigned i = 0; i < 20; i++) {
                char payload[40];

                (void) snprintf(payload, sizeof(payload), "{\"action\":\"%u\"}", i);
                assert_true(alert_monitor_command(m, payload, strlen(payload)) < 0);
        }
        assert_int_equal(alert_monitor_events_dropped(m), 4);
        while (alert_monitor_take_event(m, &e)) {
                assert_int_equal(e.type, ALERT_EVENT_ERROR);
                taken++;
        }
        assert_int_equal(taken, 16);
        /* Taken empty, the queue is made again for the next event. */
        assert_true(alert_monitor_command(m, "{}", 2) < 0);
        assert_true(alert_monitor_take_event(m, &e));
        assert_false(alert_monitor_take_event(m, &e));
        assert_int_equal(alert_monitor_events_dropped(m), 4);
}

static void test_persistence(void **state) {
        _cleanup_(alert_monitor_freep) AlertMonitor *m = monitor(0), *n = monitor(0);
        _cleanup_free_ char *text = NULL, *again = NULL;
        const char *names[] = { "anna" };
        JsonParseError e = {};
        GaitDay d;

        /* 130 days: only the latest 120 are kept. */
        for (unsigned i = 0; i < 130; i++) {
                d = day_with(i, i % 7 == 0 ? 100 : 3000, 2.0f + 0.1f * (float) (i % 3));
                alert_monitor_end_day(m, &d);
        }
        d = day_with(130, 3000, 14.0f);
        alert_monitor_end_day(m, &d);
        assert_int_equal(count_events(m, ALERT_EVENT_CHANGED, NULL), 1);
        assert_int_equal(alert_monitor_command(m, "{\"action\":\"acknowledge\"}", 24), 0);

        text = save(m, "anna");
        assert_true(strlen(text) < 64 * 1024);
        assert_int_equal(alert_history_parse(text, strlen(text), &n, names, 1, &e), 0);
        again = save(n, "anna");
        assert_string_equal(text, again);
        assert_string_equal(alert_monitor_state(n), "acknowledged");
        const GaitDay *h;
        assert_int_equal(alert_monitor_history(n, &h), ALERT_HISTORY_DAYS);
        assert_int_equal(h[ALERT_HISTORY_DAYS - 1].date, date_of(130));

        /* One changed digit that still parses (2.1 -> 2.2 %): the checksum refuses the file. */
        _cleanup_free_ char *edited = strdup(text);
        char *digit = strstr(edited, ",2.1,");
        assert_non_null(digit);
        digit[3] = '2';
        _cleanup_(alert_monitor_freep) AlertMonitor *p = monitor(0);
        assert_int_equal(alert_history_parse(edited, strlen(edited), &p, names, 1, &e), -EINVAL);
        assert_non_null(strstr(e.message, "does not match"));
        /* A file of version 1 (no checksum) is still read. */
        char *sum = strstr(edited, ",\"checksum\":");
        assert_non_null(sum);
        strcpy(sum, "}");
        memcpy(strstr(edited, "\"version\":4"), "\"version\":1", 11);
        assert_int_equal(alert_history_parse(edited, strlen(edited), &p, names, 1, &e), 1); /* 1: an older CV */
        assert_int_equal(alert_monitor_history(p, &h), ALERT_HISTORY_DAYS);

        /* A wearer the file does not know starts empty; one it knows but is not configured is ignored. */
        _cleanup_(alert_monitor_freep) AlertMonitor *o = monitor(0);
        const char *other[] = { "ben" };
        assert_int_equal(alert_history_parse(text, strlen(text), &o, other, 1, &e), 0);
        assert_int_equal(alert_monitor_history(o, &h), 0);
}

/* A history of version 3 or older measured the stride-time CV with every stride (docs/metrics.md):
 * reading it forgets that metric's days and detector, so that the new definition does not look like
 * a change of the wearer's walking; the other metrics are kept. */
static void test_older_cv_forgotten(void **state) {
        _cleanup_(alert_monitor_freep) AlertMonitor *m = monitor(0);
        _cleanup_(alert_monitor_freep) AlertMonitor *n = monitor(0);
        _cleanup_(alert_monitor_freep) AlertMonitor *o = monitor(0);
        _cleanup_free_ char *text = NULL;
        const char *names[] = { "anna" };
        const GaitDay *h;
        JsonParseError e = {};

        for (unsigned i = 0; i < 10; i++) {
                GaitDay d = day_with(i, 3000, 2.0f);
                d.value[GAIT_METRIC_STRIDE_TIME_CV] = 2.5f;
                alert_monitor_end_day(m, &d);
        }
        text = save(m, "anna");
        /* as written: kept */
        assert_int_equal(alert_history_parse(text, strlen(text), &n, names, 1, &e), 0);
        assert_int_equal(alert_monitor_history(n, &h), 10);
        assert_float_equal(h[9].value[GAIT_METRIC_STRIDE_TIME_CV], 2.5f, 1e-6);
        /* the same days from a version 1 file (no checksum): the CV is gone, the rest stays */
        char *sum = strstr(text, ",\"checksum\":");
        assert_non_null(sum);
        strcpy(sum, "}");
        memcpy(strstr(text, "\"version\":4"), "\"version\":1", 11);
        assert_int_equal(alert_history_parse(text, strlen(text), &o, names, 1, &e), 1);
        assert_int_equal(alert_monitor_history(o, &h), 10);
        for (unsigned i = 0; i < 10; i++) {
                assert_true(isnan(h[i].value[GAIT_METRIC_STRIDE_TIME_CV]));
                assert_float_equal(h[i].value[GAIT_METRIC_STEP_TIME_ASYM], 2.0f, 1e-6);
        }
}

static void test_restore_refuses(void **state) {
        static const struct {
                const char *text;
                const char *message;
        } bad[] = {
                { "{\"version\":5,\"wearers\":{}}", "'version'" },
                /* version 2 ends with the checksum of what comes before it */
                { "{\"version\":2,\"wearers\":{}}", "'checksum'" },
                { "{\"version\":2,\"wearers\":{},\"checksum\":\"0000000000000000\"}", "does not match" },
                { "{\"version\":2,\"wearers\":{},\"checksum\":\"0000000000000000\" }x", "" },
                { "{\"version\":2,\"checksum\":\"0000000000000000\",\"wearers\":{}}", "last member" },
                { "{\"version\":2,\"wearers\":{},\"checksum\":\"00000000000000g0\"}", "hexadecimal" },
                { "{\"version\":2,\"wearers\":{},\"checksum\":\"000000000000000A\"}", "hexadecimal" },
                { "{\"version\":1}", "'wearers'" },
                { "{\"version\":1,\"wearers\":{},\"x\":1}", "x" },
                { "{\"version\":1,\"wearers\":{\"anna\":[]}}", "" },
                { "{\"version\":1,\"wearers\":{\"anna\":{\"version\":1,\"baseline_from\":null,\"acknowledged\":false,"
                  "\"days\":[[\"2026-02-30\",1,1,1,[]]],\"watch\":{}}}}", "'date'" },
                { "{\"version\":1,\"wearers\":{\"anna\":{\"version\":1,\"baseline_from\":null,\"acknowledged\":false,"
                  "\"days\":[[\"2026-03-02\",1,1,1,[null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null]],"
                  "[\"2026-03-01\",1,1,1,[null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null]]],"
                  "\"watch\":{}}}}", "increasing" },
                { "{\"version\":1,\"wearers\":{\"anna\":{\"version\":1,\"baseline_from\":null,\"acknowledged\":false,"
                  "\"days\":[[\"2026-03-02\",1,1,1,[400,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null]]],"
                  "\"watch\":{}}}}", "'cadence'" },
                { "{\"version\":1,\"wearers\":{\"anna\":{\"version\":1,\"baseline_from\":null,\"acknowledged\":false,"
                  "\"days\":[[\"2026-03-02\",1,1,1,[1]]],\"watch\":{}}}}", "one value" },
                { "{\"version\":1,\"wearers\":{\"anna\":{\"version\":1,\"baseline_from\":null,\"acknowledged\":false,"
                  "\"days\":[],\"watch\":{\"sway_path\":{}}}}}", "metric that can change" },
                { "{\"version\":1,\"wearers\":{\"anna\":{\"version\":1,\"baseline_from\":null,\"acknowledged\":false,"
                  "\"days\":[],\"watch\":{\"cadence\":{\"up\":1,\"down\":0,\"up_since\":null,\"down_since\":null,"
                  "\"up_strides\":0,\"down_strides\":0,\"flagged\":true,\"direction\":1,\"flag_since\":null,"
                  "\"flag_value\":0,\"normal_days\":0}}}}}", "flag_since" },
        };
        _cleanup_(alert_monitor_freep) AlertMonitor *m = monitor(0);
        _cleanup_free_ char *before = NULL;
        const char *names[] = { "anna" };

        baseline_days(m, 3);
        before = save(m, "anna");
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                JsonParseError e = {};
                _cleanup_free_ char *after = NULL;

                assert_true(alert_history_parse(bad[i].text, strlen(bad[i].text), &m, names, 1, &e) < 0);
                if (!strstr(e.message, bad[i].message))
                        fail_msg("case %zu: message \"%s\" lacks \"%s\"", i, e.message, bad[i].message);
                after = save(m, "anna");
                assert_string_equal(before, after); /* all or nothing */
        }
}

static void test_payload_schemas(void **state) {
        _cleanup_(alert_monitor_freep) AlertMonitor *m = monitor(0);
        char inner[4096], outer[4200], err[256];
        const char *s;
        AlertEvent e;
        JsonWriter w;
        GaitDay d;

        baseline_days(m, 10);
        d = day_with(10, 3000, 12.0f);
        alert_monitor_end_day(m, &d);
        assert_int_equal(count_events(m, ALERT_EVENT_CHANGED, &e), 1);

#define CHECK(schema, build)                                                                        \
        do {                                                                                        \
                json_writer_init(&w, inner, sizeof(inner));                                         \
                assert_int_equal(build, 0);                                                         \
                assert_int_equal(json_writer_finish(&w, &s, NULL), 0);                              \
                (void) snprintf(outer, sizeof(outer), "{\"timestamp\":\"2026-03-12T10:00:00.000Z\",\"seq\":1,%s", \
                                s + 1);                                                             \
                if (schema_check(schema, outer, err, sizeof(err)) < 0)                              \
                        fail_msg("%s: %s\n%s", schema, err, outer);                                 \
        } while (0)

        CHECK("alert", alert_event_to_json(&e, &w));
        CHECK("alert-state", alert_monitor_state_to_json(m, &w));
        CHECK("baseline", alert_monitor_baseline_to_json(m, &w));
        assert_int_equal(alert_monitor_command(m, "x", 1), -EINVAL);
        assert_int_equal(count_events(m, ALERT_EVENT_ERROR, &e), 1);
        CHECK("alert", alert_event_to_json(&e, &w));
        assert_int_equal(alert_monitor_command(m, "{\"action\":\"accept\"}", 19), 0);
        assert_int_equal(count_events(m, ALERT_EVENT_ACCEPTED, &e), 1);
        CHECK("alert", alert_event_to_json(&e, &w));
        CHECK("alert-state", alert_monitor_state_to_json(m, &w));
}

static void test_disabled(void **state) {
        _cleanup_(alert_monitor_freep) AlertMonitor *m = monitor(0);
        AlertSettings s;
        GaitDay d;

        alert_settings_default(&s);
        s.enabled = false;
        alert_monitor_set_settings(m, &s);
        baseline_days(m, 10);
        d = day_with(10, 3000, 12.0f);
        alert_monitor_update_today(m, &d);
        alert_monitor_end_day(m, &d);
        assert_int_equal(count_events(m, ALERT_EVENT_CHANGED, NULL), 0);
        assert_string_equal(alert_monitor_state(m), "disabled");
        /* the history is kept either way */
        const GaitDay *h;
        assert_int_equal(alert_monitor_history(m, &h), 11);
}

static void test_cv_tracker(void **state) {
        CvTracker t;

        cv_tracker_reset(&t);
        assert_true(isnan(cv_tracker_median(&t)));
        cv_tracker_add(&t, 2.0f);
        cv_tracker_add(&t, 2.5f);
        cv_tracker_add(&t, 40.0f);
        cv_tracker_add(&t, NAN);
        assert_float_equal(cv_tracker_median(&t), 2.5, 1e-6);

        /* A full bin stays full without counting: the median is that of what was counted. */
        cv_tracker_reset(&t);
        for (unsigned i = 0; i < 70000; i++)
                cv_tracker_add(&t, 3.0f);
        assert_int_equal(t.n, UINT16_MAX);
        for (unsigned i = 0; i < UINT16_MAX + 2; i++)
                cv_tracker_add(&t, 5.0f);
        assert_float_equal(cv_tracker_median(&t), 3.0, 1e-6); /* 65535 of each: the lower middle */
        cv_tracker_add(&t, 6.0f);
        assert_float_equal(cv_tracker_median(&t), 5.0, 1e-6);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_baseline),
                cmocka_unit_test(test_little_walking_never_alerts),
                cmocka_unit_test(test_learning_never_alerts),
                cmocka_unit_test(test_onset_within_the_day),
                cmocka_unit_test(test_cusum_accumulates),
                cmocka_unit_test(test_change_of_side),
                cmocka_unit_test(test_open_run_held_out),
                cmocka_unit_test(test_sensitivity),
                cmocka_unit_test(test_returned),
                cmocka_unit_test(test_commands),
                cmocka_unit_test(test_event_queue_full),
                cmocka_unit_test(test_persistence),
                cmocka_unit_test(test_older_cv_forgotten),
                cmocka_unit_test(test_restore_refuses),
                cmocka_unit_test(test_payload_schemas),
                cmocka_unit_test(test_disabled),
                cmocka_unit_test(test_cv_tracker),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
