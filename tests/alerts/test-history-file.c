/* SPDX-License-Identifier: MIT */
/* The history file's I/O shell: atomic replace, the previous copy kept, bounded and careful reads. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "gait-alerts.h"

static char dir[] = "/tmp/test-history-file-XXXXXX";

static void read_is(const char *name, const char *expected) {
        _cleanup_free_ char *text = NULL;
        size_t len;

        assert_int_equal(gait_history_read(dir, name, &text, &len), 0);
        assert_int_equal(len, strlen(expected));
        assert_string_equal(text, expected);
}

static bool exists(const char *name) {
        char path[256];

        (void) snprintf(path, sizeof(path), "%s/%s", dir, name);
        return access(path, F_OK) == 0;
}

static void test_write_keeps_previous(void **state) {
        char path[256];
        struct stat st;

        assert_non_null(mkdtemp(dir));
        assert_int_equal(gait_history_write(dir, "h.json", "first", 5, true), 0);
        read_is("h.json", "first");
        /* nothing to keep yet: no .prev */
        (void) snprintf(path, sizeof(path), "%s/h.json.prev", dir);
        assert_int_equal(stat(path, &st), -1);

        assert_int_equal(gait_history_write(dir, "h.json", "second", 6, true), 0);
        read_is("h.json", "second");
        read_is("h.json.prev", "first");
        (void) snprintf(path, sizeof(path), "%s/h.json", dir);
        assert_int_equal(stat(path, &st), 0);
        assert_int_equal(st.st_mode & 0777, 0600);

        /* A file that was not good is not kept as the previous copy. */
        assert_int_equal(gait_history_write(dir, "h.json", "third", 5, false), 0);
        read_is("h.json", "third");
        read_is("h.json.prev", "first");
}

static void test_read_refuses(void **state) {
        char path[256], target[256];
        _cleanup_free_ char *text = NULL;
        size_t len;
        FILE *f;

        assert_int_equal(gait_history_read(dir, "missing.json", &text, &len), -ENOENT);
        /* a symlink planted in the state directory is not followed */
        (void) snprintf(path, sizeof(path), "%s/link.json", dir);
        (void) snprintf(target, sizeof(target), "%s/h.json", dir);
        assert_int_equal(symlink(target, path), 0);
        assert_int_equal(gait_history_read(dir, "link.json", &text, &len), -ELOOP);
        /* a directory is not a history */
        (void) snprintf(path, sizeof(path), "%s/dir.json", dir);
        assert_int_equal(mkdir(path, 0700), 0);
        assert_true(gait_history_read(dir, "dir.json", &text, &len) < 0);
        /* larger than the bound: refused before reading */
        (void) snprintf(path, sizeof(path), "%s/big.json", dir);
        f = fopen(path, "we");
        assert_non_null(f);
        assert_int_equal(fseek(f, ALERT_HISTORY_MAX_SIZE, SEEK_SET), 0);
        assert_int_equal(fputc('x', f), 'x');
        assert_int_equal(fclose(f), 0);
        assert_int_equal(gait_history_read(dir, "big.json", &text, &len), -E2BIG);
}

/* The alerts of one wearer, anna, as the Manager makes them. */
static void one_wearer(Config *c, Wearer **ret_wearer, GaitAlerts **ret_alerts) {
        ReminderSettings rs;

        config_init(c);
        c->n_wearers = 1;
        strcpy(c->wearers[0].name, "anna");
        strcpy(c->wearers[0].timezone, "UTC");
        reminder_settings_from_config(c, &rs);
        assert_int_equal(wearer_new(0, &c->wearers[0], &rs, ret_wearer), 0);
        assert_int_equal(gait_alerts_new(c, ret_wearer, 1, NULL, ret_alerts), 0);
}

/* A refused newest file: the previous copy is used. */
static void test_load_falls_back(void **state) {
        static const char good[] =
                "{\"version\":1,\"wearers\":{\"anna\":{\"version\":1,\"baseline_from\":null,\"acknowledged\":false,"
                "\"days\":[[\"2026-03-01\",3000,6000,3600,[105,null,null,null,null,2,null,null,null,null,null,null,null,null,null,null]]],"
                "\"watch\":{}}}}";
        _cleanup_(gait_alerts_freep) GaitAlerts *a = NULL;
        _cleanup_(wearer_freep) Wearer *w = NULL;
        DaySummary summary = {};
        const GaitDay *days;
        Config c;

        one_wearer(&c, &w, &a);

        assert_int_equal(gait_history_write(dir, GAIT_HISTORY_FILENAME, good, strlen(good), false), 0);
        assert_int_equal(gait_history_write(dir, GAIT_HISTORY_FILENAME, "{\"version\":1,", 13, true), 0);
        gait_alerts_load(a, dir);
        assert_int_equal(alert_monitor_history(gait_alerts_monitor(a, 0), &days), 1);
        assert_float_equal(days[0].value[GAIT_METRIC_STEP_TIME_SI], 2.0, 1e-6);
        /* a row from before the signed asymmetries were appended: those are unknown, not refused */
        assert_true(isnan(days[0].value[GAIT_METRIC_STEP_TIME_ASYM]));
        assert_true(isnan(days[0].value[GAIT_METRIC_STANCE_TIME_ASYM]));
        /* the refused file is kept aside as it was, and the good copy stays the previous one */
        read_is(GAIT_HISTORY_DAMAGED_FILENAME, "{\"version\":1,");
        assert_false(exists(GAIT_HISTORY_FILENAME));
        gait_alerts_end_day(a, 0, &summary); /* something to save */
        gait_alerts_save(a, dir);
        read_is(GAIT_HISTORY_FILENAME ".prev", good);
        read_is(GAIT_HISTORY_DAMAGED_FILENAME, "{\"version\":1,");
        config_done(&c);
}

/* A history written by a newer version is never overwritten, even when there is news to save. */
static void test_newer_version_left_alone(void **state) {
        static const char newer[] = "{\"version\":5,\"wearers\":{},\"something\":\"new\"}";
        _cleanup_(gait_alerts_freep) GaitAlerts *a = NULL;
        _cleanup_(wearer_freep) Wearer *w = NULL;
        DaySummary summary = {};
        Config c;

        one_wearer(&c, &w, &a);

        assert_int_equal(gait_history_write(dir, GAIT_HISTORY_FILENAME, newer, strlen(newer), true), 0);
        gait_alerts_load(a, dir);
        gait_alerts_end_day(a, 0, &summary); /* something to save */
        gait_alerts_save(a, dir);
        read_is(GAIT_HISTORY_FILENAME, newer);
        config_done(&c);
}

/* The core's defaults (tests, fuzzing) are the configuration schema's. */
static void test_defaults_agree(void **state) {
        AlertSettings s;
        Config c;

        config_init(&c);
        alert_settings_default(&s);
        assert_true(c.alerts == s.enabled);
        assert_int_equal(c.alert_metrics, s.metrics);
        assert_int_equal(c.alert_baseline_days, s.baseline_days);
        assert_int_equal(c.alert_sensitivity, s.sensitivity);
        config_done(&c);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_write_keeps_previous),
                cmocka_unit_test(test_read_refuses),
                cmocka_unit_test(test_load_falls_back),
                cmocka_unit_test(test_newer_version_left_alone),
                cmocka_unit_test(test_defaults_agree),
        };
        int r = cmocka_run_group_tests(tests, NULL, NULL);
        char cmd[128];
        (void) snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
        (void) system(cmd);
        return r;
}
