/* SPDX-License-Identifier: MIT */

#include <dirent.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "state-store.h"

static void fill(StateStore *s) {
        WearerState *w;

        state_store_init(s);
        s->saved_usec = 1795341600123456;
        w = state_store_wearer(s, "anna", true);
        assert_non_null(w);
        strcpy(w->day, "2026-11-22");
        w->steps_today = 1234;
        w->steps_total = 98765;
        w->activity = ACTIVITY_WALKING;
        w->activity_since_usec = 1795341500000000;
        w->battery_percent[DEVICE_ROLE_LEFT] = 80;
        w->has_device_steps[DEVICE_ROLE_RIGHT] = true;
        w->device_steps[DEVICE_ROLE_RIGHT] = 4321;
        strcpy(w->device_info[DEVICE_ROLE_LEFT][STATE_DEVICE_INFO_MODEL], "OIP-8 = rev \"2\"");
        w = state_store_wearer(s, "bob", true);
        assert_non_null(w);
        w->distance_total_dm = 7610;
        w->has_footpod_total = true;
        w->footpod_total_dm = 4294967290u;
        strcpy(w->device_info[DEVICE_ROLE_FOOTPOD][STATE_DEVICE_INFO_MANUFACTURER], "Stryd");
        strcpy(w->device_info[DEVICE_ROLE_FOOTPOD][STATE_DEVICE_INFO_HARDWARE], "\x1b[2J"); /* not written */
        assert_int_equal(state_store_set_seq(s, "insole/anna/gait", 812), 0);
        assert_int_equal(state_store_set_seq(s, "insole/anna/steps", 3), 0);
}

static void test_roundtrip(void **state) {
        StateStore a, b;
        _cleanup_free_ char *text = NULL;
        size_t len;
        const WearerState *w;

        fill(&a);
        assert_int_equal(state_store_format(&a, &text, &len), 0);
        assert_true(strncmp(text, "insole2mqtt-state 2\n", 20) == 0);
        assert_non_null(strstr(text, "wearer.anna.steps_today=1234\n"));
        state_store_init(&b);
        assert_int_equal(state_store_parse(text, len, &b), 0);
        assert_int_equal(b.n_wearers, 2);
        w = state_store_wearer(&b, "anna", false);
        assert_non_null(w);
        assert_string_equal(w->day, "2026-11-22");
        assert_int_equal(w->steps_today, 1234);
        assert_int_equal(w->steps_total, 98765);
        assert_int_equal(w->activity, ACTIVITY_WALKING);
        assert_int_equal(w->activity_since_usec, 1795341500000000);
        assert_int_equal(w->battery_percent[DEVICE_ROLE_LEFT], 80);
        assert_int_equal(w->battery_percent[DEVICE_ROLE_RIGHT], -1);
        assert_true(w->has_device_steps[DEVICE_ROLE_RIGHT]);
        assert_int_equal(w->device_steps[DEVICE_ROLE_RIGHT], 4321);
        assert_false(w->has_device_steps[DEVICE_ROLE_LEFT]);
        assert_string_equal(w->device_info[DEVICE_ROLE_LEFT][STATE_DEVICE_INFO_MODEL], "OIP-8 = rev \"2\"");
        w = state_store_wearer(&b, "bob", false);
        assert_non_null(w);
        assert_int_equal(w->distance_total_dm, 7610);
        assert_true(w->has_footpod_total);
        assert_int_equal(w->footpod_total_dm, 4294967290u);
        assert_string_equal(w->device_info[DEVICE_ROLE_FOOTPOD][STATE_DEVICE_INFO_MANUFACTURER], "Stryd");
        assert_string_equal(w->device_info[DEVICE_ROLE_FOOTPOD][STATE_DEVICE_INFO_HARDWARE], "");
        assert_int_equal(state_store_get_seq(&b, "insole/anna/gait"), 812);
        assert_int_equal(state_store_get_seq(&b, "insole/x/gait"), 0);
        assert_int_equal(b.saved_usec, 1795341600123456);
        state_store_done(&a);
        state_store_done(&b);
}

static void test_parse_errors(void **state) {
        StateStore s;
        const char *bad[] = {
                "",
                "insole2mqtt-state\n",
                "something else 1\n",
                "insole2mqtt-state 1\nwearer.anna.steps_today=-1\n",
                "insole2mqtt-state 1\nwearer.anna.steps_today=12x\n",
                "insole2mqtt-state 1\nwearer.anna.steps_today=99999999999999999999999\n",
                "insole2mqtt-state 1\nwearer.An+na.steps_today=1\n",
                "insole2mqtt-state 1\nwearer.a/b.steps_today=1\n",
                "insole2mqtt-state 1\nwearer.anna.day=22.11.2026\n",
                "insole2mqtt-state 1\nwearer.anna.left.battery_pct=101\n",
                "insole2mqtt-state 1\nno equals sign\n",
                "insole2mqtt-state 1\nseq.insole/#=1\n",
                "insole2mqtt-state 1\nwearer.bob.footpod.total_dm=4294967296\n",
                "insole2mqtt-state 1\nwearer.bob.footpod.model= Stryd\n",
                "insole2mqtt-state 1\nwearer.bob.footpod.model=\n",
                "insole2mqtt-state 1\nwearer.bob.footpod.model=\x7f\n",
                "insole2mqtt-state 1\nwearer.bob.footpod.model=\xc3\xa4\n",
        };

        state_store_init(&s);
        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                assert_int_equal(state_store_parse(bad[i], strlen(bad[i]), &s), -EBADMSG);
        assert_int_equal(state_store_parse("insole2mqtt-state 3\n", 20, &s), -EPROTONOSUPPORT);
        assert_int_equal(state_store_parse("insole2mqtt-state 1\n\0x", 22, &s), -EBADMSG);

        /* unknown keys and roles from a newer daemon are skipped */
        const char *future = "insole2mqtt-state 1\nnew_key=1\nwearer.anna.mood=good\nwearer.anna.tail.battery_pct=3\n"
                             "wearer.anna.steps_today=5\n";
        assert_int_equal(state_store_parse(future, strlen(future), &s), 0);
        assert_int_equal(state_store_wearer(&s, "anna", false)->steps_today, 5);
        state_store_done(&s);

        /* names are topic segments */
        state_store_init(&s);
        assert_null(state_store_wearer(&s, "a/b", true));
        assert_null(state_store_wearer(&s, "+", true));
        assert_int_equal(state_store_set_seq(&s, "insole/+/gait", 1), -EINVAL);
        for (int i = 0; i < CONFIG_MAX_WEARERS; i++) {
                char name[16];
                snprintf(name, sizeof name, "w%d", i);
                assert_non_null(state_store_wearer(&s, name, true));
        }
        assert_null(state_store_wearer(&s, "one-too-many", true));
        state_store_done(&s);
}

static void test_save_load(void **state) {
        char dir[] = "/tmp/test-state-store-XXXXXX", sub[256], path[300];
        StateStore a, b;
        struct dirent *de;
        DIR *d;
        struct stat st;
        int n = 0;

        assert_non_null(mkdtemp(dir));
        snprintf(sub, sizeof sub, "%s/state", dir); /* created on first save */
        /* what start-up checks: a missing directory that save can make is fine, one whose parent
         * is missing or not a directory is not */
        assert_int_equal(state_store_check_directory(sub), 0);
        snprintf(path, sizeof path, "%s/", sub);
        assert_int_equal(state_store_check_directory(path), 0);
        snprintf(path, sizeof path, "%s/a/b", dir);
        assert_int_equal(state_store_check_directory(path), -ENOENT);
        assert_int_equal(state_store_check_directory("relative"), -EINVAL);
        state_store_init(&b);
        assert_int_equal(state_store_load(sub, &b, NULL), -ENOENT);

        fill(&a);
        assert_int_equal(state_store_save(sub, &a), 0);
        a.wearers[0].steps_today = 1300; /* a second save replaces the first, which becomes state.prev */
        assert_int_equal(state_store_save(sub, &a), 0);
        const char *source;
        assert_int_equal(state_store_load(sub, &b, &source), 0);
        assert_string_equal(source, STATE_STORE_FILENAME);
        assert_int_equal(state_store_wearer(&b, "anna", false)->steps_today, 1300);

        /* nothing but the file and the last good copy is left behind, and they are private */
        d = opendir(sub);
        assert_non_null(d);
        while ((de = readdir(d)))
                if (de->d_name[0] != '.' || (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")))
                        n++;
        closedir(d);
        assert_int_equal(n, 2);
        snprintf(path, sizeof path, "%s/" STATE_STORE_FILENAME, sub);
        assert_int_equal(stat(path, &st), 0);
        assert_int_equal(st.st_mode & 0777, 0600);
        assert_int_equal(state_store_check_directory(sub), 0);
        assert_int_equal(state_store_check_directory(path), -ENOTDIR);
        snprintf(path, sizeof path, "%s/" STATE_STORE_FILENAME "/x", sub);
        assert_int_equal(state_store_check_directory(path), -ENOTDIR);
        snprintf(path, sizeof path, "%s/" STATE_STORE_FILENAME, sub);

        /* a corrupt file is never half-loaded: it is kept aside and the last good copy is read */
        FILE *f = fopen(path, "we");
        fputs("insole2mqtt-state 1\nwearer.anna.steps_today=oops\n", f);
        fclose(f);
        assert_int_equal(state_store_load(sub, &b, &source), 0);
        assert_string_equal(source, STATE_STORE_LAST_FILENAME);
        assert_int_equal(state_store_wearer(&b, "anna", false)->steps_today, 1234);
        snprintf(path, sizeof path, "%s/" STATE_STORE_DAMAGED_FILENAME, sub);
        assert_int_equal(stat(path, &st), 0);
        unlink(path);

        /* a newer version's file is left alone */
        snprintf(path, sizeof path, "%s/" STATE_STORE_FILENAME, sub);
        f = fopen(path, "we");
        fputs("insole2mqtt-state 99\nwhatever=1\n", f);
        fclose(f);
        assert_int_equal(state_store_load(sub, &b, NULL), -EPROTONOSUPPORT);
        assert_int_equal(stat(path, &st), 0);

        unlink(path);
        snprintf(path, sizeof path, "%s/" STATE_STORE_LAST_FILENAME, sub);
        unlink(path);
        rmdir(sub);
        rmdir(dir);
        state_store_done(&a);
        state_store_done(&b);
}

/* All or nothing: every cut of a good file, and every single changed byte, is refused whole. */
static void test_damage_refused(void **state) {
        _cleanup_free_ char *text = NULL;
        StateStore a, b;
        size_t len;

        fill(&a);
        state_store_init(&b);
        assert_int_equal(state_store_format(&a, &text, &len), 0);
        assert_int_equal(state_store_parse(text, len, &b), 0);
        for (size_t cut = 0; cut < len; cut++)
                assert_int_not_equal(state_store_parse(text, cut, &b), 0);
        for (size_t i = 0; i < len; i += 7) {
                char saved = text[i];
                text[i] = (char) (saved == '7' ? '8' : '7');
                assert_int_not_equal(state_store_parse(text, len, &b), 0);
                assert_int_equal(b.n_wearers, 0);
                text[i] = saved;
        }
        /* a version 1 file (no end line) is still read */
        const char v1[] = "insole2mqtt-state 1\nwearer.anna.steps_today=5\nseq.a/b=3\n";
        assert_int_equal(state_store_parse(v1, sizeof v1 - 1, &b), 0);
        assert_int_equal(state_store_get_seq(&b, "a/b"), 3);
        const char future[] = "insole2mqtt-state 3\n";
        assert_int_equal(state_store_parse(future, sizeof future - 1, &b), -EPROTONOSUPPORT);
        state_store_done(&a);
        state_store_done(&b);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_roundtrip),
                cmocka_unit_test(test_parse_errors),
                cmocka_unit_test(test_save_load),
                cmocka_unit_test(test_damage_refused),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
