/* SPDX-License-Identifier: MIT */

/* The libmosquitto client without its wake-up socketpair, against the real library: the pair is
 * two descriptors that mosquitto_new() opens, so count what a new client holds open. */

#include <dirent.h>
#include <mosquitto.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/resource.h>

#include <cmocka.h>

#include "mqtt-wakeup-pair.h"

static int open_descriptors(void) {
        DIR *d = opendir("/proc/self/fd");
        int n = 0;

        assert_non_null(d);
        while (readdir(d))
                n++;
        (void) closedir(d);
        return n;
}

/* The control: libmosquitto 2.0 makes the pair, or this test could not tell. */
static void test_plain_client_has_the_pair(void **state) {
        (void) state;
        int before = open_descriptors();
        struct mosquitto *mosq = mosquitto_new("test", true, NULL);

        assert_non_null(mosq);
        assert_int_equal(open_descriptors() - before, 2);
        mosquitto_destroy(mosq);
        assert_int_equal(open_descriptors(), before);
}

static void test_without_the_pair(void **state) {
        (void) state;
        struct rlimit limit_before, limit_after;
        int before = open_descriptors();
        struct mosquitto *mosq;

        assert_int_equal(getrlimit(RLIMIT_NOFILE, &limit_before), 0);
        mosq = mqtt_mosquitto_new_without_wakeup_pair("test", true, NULL);
        assert_non_null(mosq);
        assert_int_equal(open_descriptors(), before);
        /* the descriptor limit is the process's again */
        assert_int_equal(getrlimit(RLIMIT_NOFILE, &limit_after), 0);
        assert_int_equal(limit_after.rlim_cur, limit_before.rlim_cur);
        assert_int_equal(limit_after.rlim_max, limit_before.rlim_max);
        /* and the client works as one: it takes options and a will */
        assert_int_equal(mosquitto_int_option(mosq, MOSQ_OPT_TCP_NODELAY, 1), MOSQ_ERR_SUCCESS);
        assert_int_equal(mosquitto_will_set(mosq, "t/state", 3, "off", 0, true), MOSQ_ERR_SUCCESS);
        mosquitto_destroy(mosq);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_plain_client_has_the_pair),
                cmocka_unit_test(test_without_the_pair),
        };

        (void) mosquitto_lib_init();
        int r = cmocka_run_group_tests(tests, NULL, NULL);
        (void) mosquitto_lib_cleanup();
        return r;
}
