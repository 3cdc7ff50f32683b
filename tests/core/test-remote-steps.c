/* SPDX-License-Identifier: MIT */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

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
}

static void test_device_state_newer(void **state) {
        BluezStepState ours = { .valid = true, .boot_id = 5, .steps = 100 };
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

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_parse_full_payload),
                cmocka_unit_test(test_parse_minimal_and_hostile),
                cmocka_unit_test(test_device_state_newer),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
