/* SPDX-License-Identifier: MIT */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "macro.h"
#include "remote-steps.h"

static int parse(const char *s, RemoteSteps *ret) {
        return remote_steps_parse(s, strlen(s), ret);
}

static void test_parse_full_payload(void **state) {
        RemoteSteps rs;

        assert_int_equal(parse("{\"timestamp\":\"2026-11-22T10:00:00.123Z\",\"seq\":7,\"steps_today\":1234,"
                               "\"steps_total\":98765,\"day\":\"2026-11-22\",\"gateway\":\"room-a\","
                               "\"devices\":{\"left\":{\"boot_id\":4000000000,\"steps\":617},"
                               "\"right\":{\"boot_id\":7,\"steps\":610}}}", &rs), 0);
        assert_int_equal(rs.steps_today, 1234);
        assert_int_equal(rs.steps_total, 98765);
        assert_string_equal(rs.day, "2026-11-22");
        assert_string_equal(rs.gateway, "room-a");
        assert_true(rs.device[DEVICE_ROLE_LEFT].valid);
        assert_int_equal(rs.device[DEVICE_ROLE_LEFT].boot_id, 4000000000u);
        assert_int_equal(rs.device[DEVICE_ROLE_RIGHT].steps, 610);
        assert_false(rs.device[DEVICE_ROLE_FOOTPOD].valid);
        assert_false(rs.has_distance);
        assert_false(rs.has_footpod_total);
}

/* a valid payload up to its optional fields */
#define MINIMAL "{\"steps_today\":0,\"steps_total\":0,\"day\":\"2026-11-22\","

static void test_parse_footpod_distance(void **state) {
        RemoteSteps rs;

        assert_int_equal(parse("{\"steps_today\":80,\"steps_total\":90,\"day\":\"2026-11-22\",\"gateway\":\"room-a\","
                               "\"distance_today_m\":123.4,\"distance_total_m\":4567.8,"
                               "\"devices\":{\"footpod\":{\"total_distance_dm\":4294967295}}}", &rs), 0);
        assert_true(rs.has_distance);
        assert_int_equal(rs.distance_today_dm, 1234);
        assert_int_equal(rs.distance_total_dm, 45678);
        assert_true(rs.has_footpod_total);
        assert_int_equal(rs.footpod_total_dm, 4294967295u);
        assert_false(rs.device[DEVICE_ROLE_FOOTPOD].valid); /* a footpod has no step counter */
        /* whole metres are written without a decimal */
        assert_int_equal(parse(MINIMAL "\"distance_today_m\":0,\"distance_total_m\":12}", &rs), 0);
        assert_int_equal(rs.distance_total_dm, 120);
        /* a footpod that counts steps as well */
        assert_int_equal(parse(MINIMAL "\"devices\":{\"footpod\":{\"boot_id\":3,\"steps\":4,"
                                       "\"total_distance_dm\":5}}}", &rs), 0);
        assert_true(rs.device[DEVICE_ROLE_FOOTPOD].valid && rs.has_footpod_total);

        /* both distances or neither, numbers, not negative, bounded; the Total Distance a u32 */
        assert_int_equal(parse(MINIMAL "\"distance_total_m\":12}", &rs), -EBADMSG);
        assert_int_equal(parse(MINIMAL "\"distance_today_m\":-1,\"distance_total_m\":12}", &rs), -EBADMSG);
        assert_int_equal(parse(MINIMAL "\"distance_today_m\":\"1\",\"distance_total_m\":12}", &rs), -EBADMSG);
        assert_int_equal(parse(MINIMAL "\"distance_today_m\":1,\"distance_total_m\":1e300}", &rs), -EBADMSG);
        assert_int_equal(parse(MINIMAL "\"devices\":{\"footpod\":{\"total_distance_dm\":4294967296}}}", &rs), -EBADMSG);
        assert_int_equal(parse(MINIMAL "\"devices\":{\"footpod\":{\"steps\":4}}}", &rs), -EBADMSG);
        /* only a footpod has a Total Distance: an insole's is not read */
        assert_int_equal(parse(MINIMAL "\"devices\":{\"left\":{\"total_distance_dm\":5}}}", &rs), -EBADMSG);
}

static void test_parse_minimal_and_hostile(void **state) {
        RemoteSteps rs;

        /* An older gateway without device counters. */
        assert_int_equal(parse("{\"steps_today\":1,\"steps_total\":2,\"day\":\"2026-11-22\"}", &rs), 0);
        assert_string_equal(rs.gateway, "");

        assert_int_equal(parse("", &rs), -EBADMSG);
        assert_int_equal(parse("[]", &rs), -EBADMSG);
        assert_int_equal(parse("{\"steps_today\":-1,\"steps_total\":2,\"day\":\"2026-11-22\"}", &rs), -EBADMSG);
        assert_int_equal(parse("{\"steps_today\":1.5,\"steps_total\":2,\"day\":\"2026-11-22\"}", &rs), -EBADMSG);
        assert_int_equal(parse("{\"steps_today\":1,\"steps_total\":2,\"day\":\"2026-11-22-and-more\"}", &rs), -EBADMSG);
        assert_int_equal(parse("{\"steps_today\":1,\"steps_total\":2,\"day\":\"2026-11-22\",\"gateway\":\"\"}", &rs),
                         -EBADMSG);
        assert_int_equal(parse("{\"steps_today\":1,\"steps_total\":2,\"day\":\"2026-11-22\","
                               "\"devices\":{\"left\":{\"boot_id\":4294967296,\"steps\":1}}}", &rs), -EBADMSG);
        assert_int_equal(parse("{\"steps_today\":1,\"steps_total\":2,\"day\":\"2026-11-22\",\"devices\":[]}", &rs),
                         -EBADMSG);
        /* Duplicate keys could make two readers see different counts: refused. */
        assert_int_equal(parse("{\"steps_today\":1,\"steps_today\":9,\"steps_total\":2,\"day\":\"2026-11-22\"}", &rs),
                         -EBADMSG);

        /* The cases of the state store's former parser of the same message. */
        const char *bad[] = {
                "{}", "{\"steps_today\":1,\"steps_total\":2}",
                "{\"steps_today\":\"1\",\"steps_total\":2,\"day\":\"2026-11-22\"}",
                "{\"steps_today\":99999999999999999999999,\"steps_total\":2,\"day\":\"2026-11-22\"}",
                "{\"steps_today\":1,\"steps_total\":2,\"day\":\"2026-11-22\"} x",
                "{\"steps_today\":1,\"steps_total\":2,\"day\":\"2026-11-22\",\"x\":[[[[[1]]]]]}",
                "{\"steps_today\":1,\"steps_total\":2,\"day\":\"2026-11-22\\u0000\"}",
                "{\"steps_today\":1,\"steps_total\":2,\"day\":\"\xff\xfe\x32\x36-11-22\"}",
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                assert_int_equal(parse(bad[i], &rs), -EBADMSG);

        /* Unknown members from a newer gateway are fine, within the limit of 64 values. */
        assert_int_equal(parse("{\"steps_today\":5,\"steps_total\":6,\"day\":\"2026-11-23\",\"x\":{\"a\":[1]}}", &rs), 0);
        assert_int_equal(rs.steps_today, 5);
        assert_string_equal(rs.day, "2026-11-23");
        char many[1024] = "{\"steps_today\":5,\"steps_total\":6,\"day\":\"2026-11-23\",\"x\":[0";
        for (unsigned i = 0; i < 64; i++)
                strcat(many, ",0");
        strcat(many, "]}");
        assert_int_equal(parse(many, &rs), -EBADMSG);
}

static void test_device_state_newer(void **state) {
        DeviceStepState ours = { .valid = true, .boot_id = 5, .steps = 100 };
        MqttDeviceSteps remote = { .valid = true, .boot_id = 5, .steps = 150 };

        assert_true(remote_device_state_is_newer(&ours, &remote));
        remote.steps = 100;
        assert_false(remote_device_state_is_newer(&ours, &remote)); /* idempotent */
        remote.steps = 90;
        assert_false(remote_device_state_is_newer(&ours, &remote)); /* stale */
        remote.boot_id = 6;
        assert_true(remote_device_state_is_newer(&ours, &remote)); /* the insole restarted since */
        ours.valid = false;
        remote.boot_id = 5;
        assert_true(remote_device_state_is_newer(&ours, &remote));
        remote.valid = false;
        assert_false(remote_device_state_is_newer(&ours, &remote));
}

static void test_plausible(void **state) {
        const uint64_t t = 1795341600ULL * USEC_PER_SEC;

        /* lower or equal: nothing to believe */
        assert_true(remote_steps_plausible(100, 50, t, t, REMOTE_STEPS_DAY_MAX));
        /* 60 s later: at most 5 steps/s over 60 s + 10 s of slack = 350 more */
        assert_true(remote_steps_plausible(1000, 1350, t, t + 60 * USEC_PER_SEC, REMOTE_STEPS_DAY_MAX));
        assert_false(remote_steps_plausible(1000, 1351, t, t + 60 * USEC_PER_SEC, REMOTE_STEPS_DAY_MAX));
        /* the forged count of the issue */
        assert_false(remote_steps_plausible(1234, UINT64_C(4600000000000000000), t, t + 3600 * USEC_PER_SEC,
                                            REMOTE_STEPS_DAY_MAX));
        /* a clock that went backwards: only the slack */
        assert_true(remote_steps_plausible(0, 50, t, t - USEC_PER_SEC, REMOTE_STEPS_DAY_MAX));
        assert_false(remote_steps_plausible(0, 51, t, t - USEC_PER_SEC, REMOTE_STEPS_DAY_MAX));
        /* nothing known: a day's worth for today, a life's for a total */
        assert_true(remote_steps_plausible(0, REMOTE_STEPS_DAY_MAX, 0, t, REMOTE_STEPS_DAY_MAX));
        assert_false(remote_steps_plausible(0, REMOTE_STEPS_DAY_MAX + 1, 0, t, REMOTE_STEPS_DAY_MAX));
        assert_true(remote_steps_plausible(0, 5000000, 0, t, REMOTE_STEPS_LIFETIME_MAX));
        assert_false(remote_steps_plausible(0, UINT64_C(4600000000000000000), 0, t, REMOTE_STEPS_LIFETIME_MAX));

        /* distance in 1/10 m: 10 m/s over 60 s + 10 s of slack = 700 m more */
        const uint64_t minute = t + 60 * USEC_PER_SEC;
        assert_true(remote_distance_plausible(1000, 1000 + 7000, t, minute, REMOTE_DISTANCE_DAY_MAX_DM));
        assert_false(remote_distance_plausible(1000, 1000 + 7001, t, minute, REMOTE_DISTANCE_DAY_MAX_DM));
        assert_true(remote_distance_plausible(0, REMOTE_DISTANCE_DAY_MAX_DM, 0, t, REMOTE_DISTANCE_DAY_MAX_DM));
        assert_false(remote_distance_plausible(0, REMOTE_DISTANCE_DAY_MAX_DM + 1, 0, t, REMOTE_DISTANCE_DAY_MAX_DM));
        assert_false(remote_distance_plausible(0, UINT64_C(10000000000000), 0, t, REMOTE_DISTANCE_LIFETIME_MAX_DM));
}

static void test_trusted_gateways(void **state) {
        Config c = { .gateway_id = "hall" };

        assert_true(remote_gateway_is_trusted(&c, "anyone"));
        assert_true(remote_gateway_is_trusted(&c, ""));
        strcpy(c.trusted_gateways[0], "room1");
        strcpy(c.trusted_gateways[1], "room2");
        c.n_trusted_gateways = 2;
        assert_true(remote_gateway_is_trusted(&c, "room2"));
        assert_true(remote_gateway_is_trusted(&c, "hall"));
        assert_false(remote_gateway_is_trusted(&c, "room3"));
        assert_false(remote_gateway_is_trusted(&c, ""));
}

/* ---- step reconciliation ---------------------------------------------------------------------- */

static void test_steps_first_reading_is_baseline(void **state) {
        DeviceStepState s = {};

        assert_int_equal(device_steps_reconcile(&s, 1234, 7), 0);
        assert_true(s.valid);
        assert_int_equal(s.steps, 1234);
        assert_int_equal(s.boot_id, 7);
}

static void test_steps_out_of_range_counted_once(void **state) {
        DeviceStepState s = {};

        assert_int_equal(device_steps_reconcile(&s, 100, 42), 0);
        assert_int_equal(device_steps_reconcile(&s, 101, 42), 1);
        assert_int_equal(device_steps_reconcile(&s, 103, 42), 2);
        /* The device walked off for a while and took 150 steps: the first reading after the
         * reconnect brings them, the read and the notification that follow bring nothing. */
        assert_int_equal(device_steps_reconcile(&s, 253, 42), 150);
        assert_int_equal(device_steps_reconcile(&s, 253, 42), 0);
        assert_int_equal(device_steps_reconcile(&s, 253, 42), 0);
        assert_int_equal(s.steps, 253);
}

static void test_steps_device_reboot(void **state) {
        DeviceStepState s = { .valid = true, .boot_id = 1, .steps = 5000 };

        /* New boot: the counter restarted at 0, everything on it is new. */
        assert_int_equal(device_steps_reconcile(&s, 30, 2), 30);
        assert_int_equal(s.boot_id, 2);
        /* Counter went backwards without a new boot id: treated as a restart too. */
        assert_int_equal(device_steps_reconcile(&s, 10, 2), 10);
        assert_int_equal(device_steps_reconcile(&s, 12, 2), 2);
}

static void test_steps_restored_state(void **state) {
        /* The Manager persisted {boot 9, 700}; after our restart the device says 760. */
        DeviceStepState s = { .valid = true, .boot_id = 9, .steps = 700 };
        assert_int_equal(device_steps_reconcile(&s, 760, 9), 60);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_steps_first_reading_is_baseline),
                cmocka_unit_test(test_steps_out_of_range_counted_once),
                cmocka_unit_test(test_steps_device_reboot),
                cmocka_unit_test(test_steps_restored_state),
                cmocka_unit_test(test_parse_full_payload),
                cmocka_unit_test(test_parse_minimal_and_hostile),
                cmocka_unit_test(test_parse_footpod_distance),
                cmocka_unit_test(test_device_state_newer),
                cmocka_unit_test(test_plausible),
                cmocka_unit_test(test_trusted_gateways),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
