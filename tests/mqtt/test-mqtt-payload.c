/* SPDX-License-Identifier: MIT */

/* Topic contract, payload builders, Home Assistant discovery and the JSON schemas in docs/schema. */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <mosquitto.h>

#include "mqtt.h"
#include "mqtt-publish.h"
#include "state-store.h"
#include "schema-check.h"

#define T0 UINT64_C(1795341600123456) /* 2026-11-22T10:00:00.123456Z */

static void make_config(Config *c) {
        memset(c, 0, sizeof *c);
        strcpy(c->gateway_id, "pi-room1");
        strcpy(c->base_topic, "insole");
        strcpy(c->homeassistant_prefix, "homeassistant");
        c->homeassistant = true;
        c->reminders = true;
        c->alerts = true;
        c->protocol_version = 311;
        c->publish_interval_usec = 10 * USEC_PER_SEC;
        c->n_wearers = 2;
        strcpy(c->wearers[0].name, "anna");
        c->wearers[0].has_device[DEVICE_ROLE_LEFT] = true;
        c->wearers[0].has_device[DEVICE_ROLE_RIGHT] = true;
        strcpy(c->wearers[1].name, "bob_2");
        c->wearers[1].has_device[DEVICE_ROLE_FOOTPOD] = true;
}

/* Validates a payload against docs/schema/<name>.json. */
static void assert_schema(const char *schema_name, const char *payload) {
        char err[512];

        if (schema_check(schema_name, payload, err, sizeof err) < 0)
                fail_msg("payload does not match %s: %s\n%s", schema_name, err, payload);
}

static void assert_schema_rejects(const char *schema_name, const char *payload) {
        char err[512];

        assert_int_equal(schema_check(schema_name, payload, err, sizeof err), -1);
}

static void test_name_validation(void **state) {
        char long_name[249];

        assert_true(mqtt_name_is_valid("anna"));
        assert_true(mqtt_name_is_valid("a-b_c9"));
        assert_true(mqtt_name_is_valid("abcdefghijklmnopqrstuvwxyz012345")); /* 32 */
        assert_false(mqtt_name_is_valid("abcdefghijklmnopqrstuvwxyz0123456")); /* 33 */
        assert_false(mqtt_name_is_valid(NULL));
        assert_false(mqtt_name_is_valid(""));
        assert_false(mqtt_name_is_valid("+"));
        assert_false(mqtt_name_is_valid("#"));
        assert_false(mqtt_name_is_valid("a/b"));
        assert_false(mqtt_name_is_valid("$SYS"));
        assert_false(mqtt_name_is_valid("Anna"));
        assert_false(mqtt_name_is_valid("an na"));
        assert_false(mqtt_name_is_valid("a\x01"));
        assert_false(mqtt_name_is_valid("\xc3\xa9t\xc3\xa9"));
        assert_false(mqtt_name_is_valid("a\x7f"));
        memset(long_name, 'a', 248); /* a BLE name can be 248 bytes */
        long_name[248] = 0;
        assert_false(mqtt_name_is_valid(long_name));

        assert_true(mqtt_prefix_is_valid("insole"));
        assert_true(mqtt_prefix_is_valid("site-a/insole"));
        assert_false(mqtt_prefix_is_valid(""));
        assert_false(mqtt_prefix_is_valid("/insole"));
        assert_false(mqtt_prefix_is_valid("insole/"));
        assert_false(mqtt_prefix_is_valid("a//b"));
        assert_false(mqtt_prefix_is_valid("a/+/b"));
        assert_false(mqtt_prefix_is_valid("a/#"));
        assert_false(mqtt_prefix_is_valid("$SYS/x"));
        assert_false(mqtt_prefix_is_valid(long_name));
}

static void test_topics(void **state) {
        char buf[MQTT_TOPIC_MAX], small[12];
        const char nul_name[] = "an\0na"; /* C strings stop at NUL: "an" is what a caller passes */

        assert_int_equal(mqtt_topic_bridge(buf, sizeof buf, "insole", "pi-room1", MQTT_BRIDGE_STATE), 0);
        assert_string_equal(buf, "insole/bridge/pi-room1/state");
        assert_int_equal(mqtt_topic_bridge(buf, sizeof buf, "insole", "pi-room1", MQTT_BRIDGE_HEALTH), 0);
        assert_string_equal(buf, "insole/bridge/pi-room1/health");
        assert_int_equal(mqtt_topic_wearer(buf, sizeof buf, "insole", "anna", MQTT_WEARER_GAIT), 0);
        assert_string_equal(buf, "insole/anna/gait");
        assert_int_equal(mqtt_topic_wearer(buf, sizeof buf, "insole", "anna", MQTT_WEARER_REMINDER_SET), 0);
        assert_string_equal(buf, "insole/anna/reminder/set");
        assert_int_equal(mqtt_topic_wearer(buf, sizeof buf, "insole", "anna", MQTT_WEARER_REMINDER_STATE), 0);
        assert_string_equal(buf, "insole/anna/reminder/state");
        assert_int_equal(mqtt_topic_wearer(buf, sizeof buf, "insole", "anna", MQTT_WEARER_DAILY), 0);
        assert_string_equal(buf, "insole/anna/daily");
        assert_int_equal(mqtt_topic_wearer(buf, sizeof buf, "insole", "anna", MQTT_WEARER_EXERCISE), 0);
        assert_string_equal(buf, "insole/anna/exercise");
        assert_int_equal(mqtt_topic_device(buf, sizeof buf, "insole", "anna", DEVICE_ROLE_LEFT, MQTT_DEVICE_BATTERY), 0);
        assert_string_equal(buf, "insole/anna/left/battery");
        assert_int_equal(mqtt_topic_device(buf, sizeof buf, "a/b", "anna", DEVICE_ROLE_FOOTPOD, MQTT_DEVICE_LINK), 0);
        assert_string_equal(buf, "a/b/anna/footpod/link");

        /* hostile names are refused, and nothing half-built is left behind */
        const char *hostile[] = { "+", "#", "a/b", "$x", "", "anna/+/x", "x\n", "../x", "A", "bridge" };
        for (size_t i = 0; i < ELEMENTSOF(hostile); i++) {
                strcpy(buf, "garbage");
                assert_int_equal(mqtt_topic_wearer(buf, sizeof buf, "insole", hostile[i], MQTT_WEARER_GAIT), -EINVAL);
                assert_string_equal(buf, "");
                assert_int_equal(mqtt_topic_device(buf, sizeof buf, "insole", hostile[i], DEVICE_ROLE_LEFT,
                                                   MQTT_DEVICE_LINK), -EINVAL);
                if (!streq(hostile[i], "bridge"))
                        assert_int_equal(mqtt_topic_bridge(buf, sizeof buf, "insole", hostile[i], MQTT_BRIDGE_INFO),
                                         -EINVAL);
        }
        assert_int_equal(mqtt_topic_wearer(buf, sizeof buf, "insole", nul_name + 2, MQTT_WEARER_GAIT), -EINVAL);
        assert_int_equal(mqtt_topic_wearer(buf, sizeof buf, "insole", NULL, MQTT_WEARER_GAIT), -EINVAL);
        assert_int_equal(mqtt_topic_device(buf, sizeof buf, "insole", NULL, DEVICE_ROLE_LEFT, MQTT_DEVICE_LINK), -EINVAL);
        assert_int_equal(mqtt_topic_bridge(buf, sizeof buf, "insole", NULL, MQTT_BRIDGE_STATE), -EINVAL);
        assert_int_equal(mqtt_topic_wearer(buf, sizeof buf, "#", "anna", MQTT_WEARER_GAIT), -EINVAL);
        assert_int_equal(mqtt_topic_device(buf, sizeof buf, "insole", "anna", _DEVICE_ROLE_MAX, MQTT_DEVICE_LINK), -EINVAL);
        assert_int_equal(mqtt_topic_device(buf, sizeof buf, "insole", "anna", DEVICE_ROLE_LEFT, 99), -EINVAL);
        assert_int_equal(mqtt_topic_wearer(small, sizeof small, "insole", "anna", MQTT_WEARER_GAIT), -ENAMETOOLONG);
        assert_int_equal(mqtt_topic_wearer(small, sizeof small, "insole", "anna", MQTT_WEARER_STEPS), -ENAMETOOLONG);
        assert_string_equal(small, "");
}

static void test_timestamp(void **state) {
        char ts[MQTT_TIMESTAMP_MAX];

        assert_string_equal(mqtt_format_timestamp(T0, ts), "2026-11-22T10:00:00.123Z");
        assert_string_equal(mqtt_format_timestamp(0, ts), "1970-01-01T00:00:00.000Z");
        assert_string_equal(mqtt_format_timestamp(999, ts), "1970-01-01T00:00:00.000Z");
        assert_string_equal(mqtt_format_timestamp(1999000, ts), "1970-01-01T00:00:01.999Z");
}

static const char *finish(JsonWriter *w) {
        const char *p;
        size_t n;
        assert_int_equal(json_writer_finish(w, &p, &n), 0);
        return p;
}

static void test_state_and_steps(void **state) {
        char buf[512];
        JsonWriter w;
        MqttStamp st = { .realtime_usec = T0, .seq = 7 };
        MqttSteps steps = { .steps_today = 1234, .steps_total = 98765, .day = "2026-11-22" };

        json_writer_init(&w, buf, sizeof buf);
        mqtt_payload_state(&w, false);
        assert_string_equal(finish(&w), "{\"state\":\"offline\"}");
        assert_schema("state", buf);

        json_writer_init(&w, buf, sizeof buf);
        mqtt_payload_availability(&w, true, "room-a");
        assert_string_equal(finish(&w), "{\"state\":\"online\",\"gateway\":\"room-a\"}");
        assert_schema("availability", buf);
        assert_schema_rejects("availability", "{\"state\":\"maybe\"}");

        json_writer_init(&w, buf, sizeof buf);
        mqtt_payload_steps(&w, &st, &steps);
        assert_string_equal(finish(&w), "{\"timestamp\":\"2026-11-22T10:00:00.123Z\",\"seq\":7,\"steps_today\":1234,"
                                        "\"steps_total\":98765,\"day\":\"2026-11-22\"}");
        assert_schema("steps", buf);
        /* the schema can fail: a missing field and a wrong type are caught */
        assert_schema_rejects("steps", "{\"timestamp\":\"2026-11-22T10:00:00.123Z\",\"seq\":7,\"steps_today\":1}");
        assert_schema_rejects("steps", "{\"timestamp\":\"2026-11-22T10:00:00Z\",\"seq\":7,\"steps_today\":1,"
                                       "\"steps_total\":2,\"day\":\"2026-11-22\"}");
        assert_schema_rejects("steps", "{\"timestamp\":\"2026-11-22T10:00:00.123Z\",\"seq\":7,\"steps_today\":1.5,"
                                       "\"steps_total\":2,\"day\":\"2026-11-22\"}");

        /* With the gateway and the insoles' own counters, for several gateways sharing a wearer. */
        steps.gateway = "room-a";
        steps.device[DEVICE_ROLE_LEFT] = (MqttDeviceSteps) { .valid = true, .boot_id = 4000000000u, .steps = 617 };
        steps.device[DEVICE_ROLE_RIGHT] = (MqttDeviceSteps) { .valid = true, .boot_id = 7, .steps = 617 };
        json_writer_init(&w, buf, sizeof buf);
        mqtt_payload_steps(&w, &st, &steps);
        assert_string_equal(finish(&w), "{\"timestamp\":\"2026-11-22T10:00:00.123Z\",\"seq\":7,\"steps_today\":1234,"
                                        "\"steps_total\":98765,\"day\":\"2026-11-22\",\"gateway\":\"room-a\","
                                        "\"devices\":{\"left\":{\"boot_id\":4000000000,\"steps\":617},"
                                        "\"right\":{\"boot_id\":7,\"steps\":617}}}");
        assert_schema("steps", buf);
        /* A gateway id that is not a topic-safe name is left out rather than published. */
        steps.gateway = "Room/A";
        json_writer_init(&w, buf, sizeof buf);
        mqtt_payload_steps(&w, &st, &steps);
        assert_null(strstr(finish(&w), "gateway"));

        /* A footpod wearer: the distance and the footpod's own Total Distance, handed over alike. */
        steps = (MqttSteps) { .steps_today = 80, .steps_total = 90, .day = "2026-11-22", .gateway = "room-a",
                              .has_distance = true, .distance_today_dm = 1234, .distance_total_dm = 45670,
                              .has_footpod_total = true, .footpod_total_dm = 4294967295u };
        json_writer_init(&w, buf, sizeof buf);
        mqtt_payload_steps(&w, &st, &steps);
        assert_string_equal(finish(&w), "{\"timestamp\":\"2026-11-22T10:00:00.123Z\",\"seq\":7,\"steps_today\":80,"
                                        "\"steps_total\":90,\"day\":\"2026-11-22\",\"gateway\":\"room-a\","
                                        "\"distance_today_m\":123.4,\"distance_total_m\":4567,"
                                        "\"devices\":{\"footpod\":{\"total_distance_dm\":4294967295}}}");
        assert_schema("steps", buf);
        assert_schema_rejects("steps", "{\"timestamp\":\"2026-11-22T10:00:00.123Z\",\"seq\":7,\"steps_today\":1,"
                                       "\"steps_total\":2,\"day\":\"2026-11-22\",\"distance_today_m\":-0.1}");
        assert_schema_rejects("steps", "{\"timestamp\":\"2026-11-22T10:00:00.123Z\",\"seq\":7,\"steps_today\":1,"
                                       "\"steps_total\":2,\"day\":\"2026-11-22\","
                                       "\"devices\":{\"footpod\":{\"total_distance_dm\":4294967296}}}");
}

static void test_other_payloads(void **state) {
        char buf[2048];
        JsonWriter w;
        MqttStamp st = { .realtime_usec = T0, .seq = 1 };
        Config c;
        MqttAdapterInfo adapters[] = { { "hci0", true } };
        MqttBridgeInfo info = { .version = "0.1.0", .adapters = adapters, .n_adapters = 1 };
        MqttHealth h = { .uptime_usec = 3600 * USEC_PER_SEC, .memory_rss_bytes = 4 << 20, .notifications_per_s = 97.5,
                         .decode_errors = 2, .lost_frames = 3, .devices_connected = 2, .devices_configured = 3,
                         .mqtt_reconnects = 1, .mqtt_published = 100, .mqtt_outbox_depth = 4, .mqtt_inflight = 1 };
        MqttLinkStats link = { .connected = true, .has_rssi = true, .rssi_dbm = -67, .notifications_per_s = 50,
                               .connected_usec = 90 * USEC_PER_SEC };
        PressureSample ps = { .t_us = 123456, .n_cells = 3, .cell = { 1.5f, 2.25f, 0 }, .has_imu = true,
                              .accel_g = { 0, 0, 1 }, .gyro_dps = { 1, 2, 3 } };

        make_config(&c);
        info.config = &c;
        json_writer_init(&w, buf, sizeof buf);
        mqtt_payload_bridge_info(&w, &st, &info);
        assert_non_null(strstr(finish(&w), "\"wearers\":[{\"name\":\"anna\",\"devices\":[\"left\",\"right\"]},"
                                           "{\"name\":\"bob_2\",\"devices\":[\"footpod\"]}]"));
        assert_schema("bridge-info", buf);
        assert_non_null(strstr(buf, "\"adapters\":[{\"name\":\"hci0\",\"powered\":true}]"));
        {
                MqttDeviceInfo di[CONFIG_MAX_WEARERS][_DEVICE_ROLE_MAX] = {};
                di[1][DEVICE_ROLE_FOOTPOD] = (MqttDeviceInfo) { .manufacturer = "Milestone", .model = "Pod 2" };
                info.device_info = di;
                json_writer_init(&w, buf, sizeof buf);
                mqtt_payload_bridge_info(&w, &st, &info);
                assert_non_null(strstr(finish(&w), "{\"name\":\"anna\",\"devices\":[\"left\",\"right\"]},"
                                                   "{\"name\":\"bob_2\",\"devices\":[\"footpod\"],\"device_info\":"
                                                   "{\"footpod\":{\"manufacturer\":\"Milestone\",\"model\":\"Pod 2\"}}}"));
                assert_schema("bridge-info", buf);
                info.device_info = NULL;
        }

        json_writer_init(&w, buf, sizeof buf);
        mqtt_payload_bridge_health(&w, &st, &h);
        assert_non_null(strstr(finish(&w), "\"uptime_s\":3600,\"memory_rss_bytes\":4194304,\"notifications_per_s\":97.5"));
        assert_schema("bridge-health", buf);

        json_writer_init(&w, buf, sizeof buf);
        mqtt_payload_activity(&w, &st, ACTIVITY_WALKING, ACTIVITY_SITTING, 5 * USEC_PER_MINUTE);
        assert_non_null(strstr(finish(&w), "\"activity\":\"walking\",\"previous\":\"sitting\",\"previous_duration_ms\":300000"));
        assert_schema("activity", buf);

        json_writer_init(&w, buf, sizeof buf);
        mqtt_payload_battery(&w, &st, DEVICE_ROLE_RIGHT, 150);
        assert_non_null(strstr(finish(&w), "\"device\":\"right\",\"battery_pct\":100}"));
        assert_schema("battery", buf);

        json_writer_init(&w, buf, sizeof buf);
        mqtt_payload_link(&w, &st, DEVICE_ROLE_LEFT, &link);
        assert_non_null(strstr(finish(&w), "\"rssi_dbm\":-67"));
        assert_schema("link", buf);
        link.has_rssi = false;
        json_writer_init(&w, buf, sizeof buf);
        mqtt_payload_link(&w, &st, DEVICE_ROLE_LEFT, &link);
        assert_non_null(strstr(finish(&w), "\"rssi_dbm\":null"));
        assert_schema("link", buf);
        assert_null(strstr(buf, "device_info"));
        link.info = (MqttDeviceInfo) { .manufacturer = "Polar Electro Oy", .model = "Stride", .firmware = "", .hardware = NULL };
        json_writer_init(&w, buf, sizeof buf);
        mqtt_payload_link(&w, &st, DEVICE_ROLE_LEFT, &link);
        assert_non_null(strstr(finish(&w), "\"device_info\":{\"manufacturer\":\"Polar Electro Oy\",\"model\":\"Stride\"}"));
        assert_schema("link", buf);

        json_writer_init(&w, buf, sizeof buf);
        mqtt_payload_pressure(&w, &st, &ps, PRESSURE_UNIT_NEWTON);
        assert_non_null(strstr(finish(&w), "\"unit\":\"N\",\"cells\":[1.5,2.25,0]"));
        assert_schema("pressure", buf);
}

static void test_wrap_object(void **state) {
        char buf[512];
        JsonWriter w;
        MqttStamp st = { .realtime_usec = T0, .seq = 42 };

        json_writer_init(&w, buf, sizeof buf);
        assert_int_equal(mqtt_payload_wrap_object(&w, &st, " {\"cadence_spm\":104.5,\"stance_time_ms\":612} \n"), 0);
        assert_string_equal(finish(&w), "{\"timestamp\":\"2026-11-22T10:00:00.123Z\",\"seq\":42,"
                                        "\"cadence_spm\":104.5,\"stance_time_ms\":612}");
        assert_schema("gait", buf);
        /* the gait engine's per-foot quality (docs/metrics.md) */
        assert_schema("gait", "{\"timestamp\":\"2026-11-22T10:00:00.123Z\",\"seq\":1,\"quality\":{\"left\":\"ok\",\"right\":\"saturated\"}}");
        assert_schema_rejects("gait", "{\"timestamp\":\"2026-11-22T10:00:00.123Z\",\"seq\":1,\"quality\":{\"left\":\"fine\",\"right\":\"ok\"}}");
        assert_schema_rejects("gait", "{\"timestamp\":\"2026-11-22T10:00:00.123Z\",\"seq\":1,\"quality\":{\"left\":\"ok\"}}");

        json_writer_init(&w, buf, sizeof buf);
        assert_int_equal(mqtt_payload_wrap_object(&w, &st, "{ }"), 0);
        assert_string_equal(finish(&w), "{\"timestamp\":\"2026-11-22T10:00:00.123Z\",\"seq\":42}");
        assert_schema("reminder", buf);

        const char *bad[] = { "[1,2]", "", "{", "}", "42", NULL };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                const char *p;
                size_t n;
                json_writer_init(&w, buf, sizeof buf);
                assert_int_equal(mqtt_payload_wrap_object(&w, &st, bad[i]), -EINVAL);
                assert_int_equal(json_writer_finish(&w, &p, &n), -EINVAL);
        }
}

typedef struct Collected {
        char *topic[64];
        char *payload[64];
        size_t n;
} Collected;

static int collect(const char *topic, const char *payload, size_t len, void *userdata) {
        Collected *c = userdata;
        assert_true(c->n < ELEMENTSOF(c->topic));
        assert_int_equal(strlen(payload), len);
        c->topic[c->n] = strdup(topic);
        c->payload[c->n++] = strdup(payload);
        return 0;
}

static void collected_free(Collected *c) {
        for (size_t i = 0; i < c->n; i++) {
                free(c->topic[i]);
                free(c->payload[i]);
        }
        c->n = 0;
}

static const char *find_payload(const Collected *c, const char *topic) {
        for (size_t i = 0; i < c->n; i++)
                if (streq(c->topic[i], topic))
                        return c->payload[i];
        return NULL;
}

static void test_discovery(void **state) {
        Collected col = {};
        Config c;
        const char *p;
        JsonDocument *doc = NULL;
        const JsonValue *v, *av;

        make_config(&c);
        assert_int_equal(mqtt_discovery_build(&c, "0.1.0", collect, &col), 0);
        /* gateway 1 + anna 10 + bob 10 and 5 footpod sensors + anna's 2 insoles x 3 + bob's footpod x 3 */
        assert_int_equal(col.n, 1 + 10 + 10 + 5 + 6 + 3);

        for (size_t i = 0; i < col.n; i++) {
                assert_schema("homeassistant-discovery", col.payload[i]);
                for (size_t k = i + 1; k < col.n; k++)
                        assert_string_not_equal(col.topic[i], col.topic[k]);
                assert_true(strncmp(col.topic[i], "homeassistant/", 14) == 0);
        }

        p = find_payload(&col, "homeassistant/sensor/anna/insole2mqtt_steps_today/config");
        assert_non_null(p);
        assert_int_equal(json_parse(p, strlen(p), NULL, &doc, NULL), 0);
        v = json_document_root(doc);
        assert_string_equal(json_str(json_value_member(v, "state_class")), "total_increasing");
        assert_string_equal(json_str(json_value_member(v, "state_topic")), "insole/anna/steps");
        assert_string_equal(json_str(json_value_member(v, "unique_id")), "insole2mqtt_steps_today_anna");
        assert_string_equal(json_str(json_value_member(v, "availability_mode")), "all");
        av = json_value_member(v, "availability");
        assert_int_equal(json_value_count(av), 2);
        assert_string_equal(json_str(json_value_member(json_value_element(av, 0), "topic")), "insole/bridge/pi-room1/state");
        assert_string_equal(json_str(json_value_member(json_value_element(av, 1), "topic")), "insole/anna/availability");
        assert_string_equal(json_str(json_value_member(json_value_member(v, "device"), "via_device")),
                            "insole2mqtt_gateway_pi-room1");
        doc = json_document_free(doc);

        p = find_payload(&col, "homeassistant/sensor/anna/insole2mqtt_left_battery/config");
        assert_non_null(p);
        assert_int_equal(json_parse(p, strlen(p), NULL, &doc, NULL), 0);
        v = json_document_root(doc);
        assert_string_equal(json_str(json_value_member(v, "device_class")), "battery");
        assert_string_equal(json_str(json_value_member(v, "unit_of_measurement")), "%");
        assert_string_equal(json_str(json_value_member(v, "state_topic")), "insole/anna/left/battery");
        assert_int_equal(json_value_count(json_value_member(v, "availability")), 3);
        assert_string_equal(json_str(json_value_member(json_value_member(v, "device"), "name")), "anna left insole");
        doc = json_document_free(doc);

        p = find_payload(&col, "homeassistant/binary_sensor/anna/insole2mqtt_move_reminder_due/config");
        assert_non_null(p);
        assert_non_null(strstr(p, "\"state_topic\":\"insole/anna/reminder/state\""));
        assert_non_null(strstr(p, "value_json.due"));
        p = find_payload(&col, "homeassistant/sensor/anna/insole2mqtt_cadence/config");
        assert_non_null(strstr(p, "\"value_template\":\"{{ value_json.last_60s.cadence_spm }}\""));
        assert_non_null(strstr(p, "\"state_topic\":\"insole/anna/gait\""));
        assert_non_null(find_payload(&col, "homeassistant/binary_sensor/anna/insole2mqtt_walking/config"));
        assert_non_null(find_payload(&col, "homeassistant/binary_sensor/bob_2/insole2mqtt_move_reminder_due/config"));
        assert_non_null(find_payload(&col, "homeassistant/sensor/bob_2/insole2mqtt_footpod_battery/config"));
        assert_null(find_payload(&col, "homeassistant/sensor/bob_2/insole2mqtt_left_battery/config"));
        assert_non_null(find_payload(&col, "homeassistant/binary_sensor/pi-room1/insole2mqtt_bridge/config"));

        /* a footpod wearer's speed, pace and distances, with Home Assistant's classes and units */
        assert_null(find_payload(&col, "homeassistant/sensor/anna/insole2mqtt_speed/config"));
        p = find_payload(&col, "homeassistant/sensor/bob_2/insole2mqtt_speed/config");
        assert_non_null(p);
        assert_int_equal(json_parse(p, strlen(p), NULL, &doc, NULL), 0);
        v = json_document_root(doc);
        assert_string_equal(json_str(json_value_member(v, "device_class")), "speed");
        assert_string_equal(json_str(json_value_member(v, "unit_of_measurement")), "m/s");
        assert_string_equal(json_str(json_value_member(v, "state_class")), "measurement");
        assert_string_equal(json_str(json_value_member(v, "state_topic")), "insole/bob_2/gait");
        doc = json_document_free(doc);
        p = find_payload(&col, "homeassistant/sensor/bob_2/insole2mqtt_pace/config");
        assert_non_null(p);
        assert_non_null(strstr(p, "\"unit_of_measurement\":\"s/km\""));
        assert_null(strstr(p, "device_class"));
        p = find_payload(&col, "homeassistant/sensor/bob_2/insole2mqtt_distance_today/config");
        assert_non_null(p);
        assert_int_equal(json_parse(p, strlen(p), NULL, &doc, NULL), 0);
        v = json_document_root(doc);
        assert_string_equal(json_str(json_value_member(v, "device_class")), "distance");
        assert_string_equal(json_str(json_value_member(v, "unit_of_measurement")), "m");
        assert_string_equal(json_str(json_value_member(v, "state_class")), "total_increasing");
        assert_string_equal(json_str(json_value_member(v, "state_topic")), "insole/bob_2/today");
        doc = json_document_free(doc);
        p = find_payload(&col, "homeassistant/sensor/bob_2/insole2mqtt_distance_total/config");
        assert_non_null(strstr(p, "\"state_class\":\"total_increasing\""));
        assert_non_null(find_payload(&col, "homeassistant/sensor/bob_2/insole2mqtt_stride_length/config"));
        collected_free(&col);

        /* the footpod's own Device Information in its device block; defaults for the others */
        {
                MqttDeviceInfo info[CONFIG_MAX_WEARERS][_DEVICE_ROLE_MAX] = {};
                info[1][DEVICE_ROLE_FOOTPOD] = (MqttDeviceInfo) { .manufacturer = "Stryd \"Inc\"", .model = "Next Gen",
                                                                  .firmware = "2.1.3", .hardware = "B" };
                assert_int_equal(mqtt_discovery_build_with_info(&c, "0.1.0", info, collect, &col), 0);
                p = find_payload(&col, "homeassistant/sensor/bob_2/insole2mqtt_footpod_battery/config");
                assert_non_null(p);
                assert_schema("homeassistant-discovery", p);
                assert_int_equal(json_parse(p, strlen(p), NULL, &doc, NULL), 0);
                v = json_value_member(json_document_root(doc), "device");
                assert_string_equal(json_str(json_value_member(v, "manufacturer")), "Stryd \"Inc\"");
                assert_string_equal(json_str(json_value_member(v, "model")), "Next Gen");
                assert_string_equal(json_str(json_value_member(v, "sw_version")), "2.1.3");
                assert_string_equal(json_str(json_value_member(v, "hw_version")), "B");
                doc = json_document_free(doc);
                p = find_payload(&col, "homeassistant/sensor/anna/insole2mqtt_left_battery/config");
                assert_non_null(strstr(p, "\"manufacturer\":\"insole2mqtt\""));
                assert_null(strstr(p, "hw_version"));
                collected_free(&col);
        }

        /* no reminder entity without reminders; a hostile configured name stops the build */
        c.reminders = false;
        assert_int_equal(mqtt_discovery_build(&c, "0.1.0", collect, &col), 0);
        assert_null(find_payload(&col, "homeassistant/binary_sensor/anna/insole2mqtt_move_reminder_due/config"));
        p = find_payload(&col, "homeassistant/binary_sensor/anna/insole2mqtt_walking_changed/config");
        assert_non_null(p);
        assert_non_null(strstr(p, "\"state_topic\":\"insole/anna/alert/state\""));
        assert_non_null(strstr(p, "value_json.changed"));
        collected_free(&col);
        /* no "walking changed" without alerts */
        c.alerts = false;
        assert_int_equal(mqtt_discovery_build(&c, "0.1.0", collect, &col), 0);
        assert_null(find_payload(&col, "homeassistant/binary_sensor/anna/insole2mqtt_walking_changed/config"));
        collected_free(&col);
        strcpy(c.wearers[1].name, "bob/#");
        assert_int_equal(mqtt_discovery_build(&c, "0.1.0", collect, &col), -EINVAL);
        collected_free(&col);
}

static void test_steps_payload_parse(void **state) {
        uint64_t today, total;
        char day[11];

        const char *good = "{\"timestamp\":\"2026-11-22T10:00:00.123Z\",\"seq\":7,\"steps_today\":1234,"
                           "\"steps_total\":98765,\"day\":\"2026-11-22\"}";
        assert_int_equal(state_store_parse_steps_payload(good, strlen(good), &today, &total, day), 0);
        assert_int_equal(today, 1234);
        assert_int_equal(total, 98765);
        assert_string_equal(day, "2026-11-22");

        const char *bad[] = {
                "", "{}", "[]", "{\"steps_today\":1,\"steps_total\":2}",
                "{\"steps_today\":1,\"steps_total\":2,\"day\":\"2026-11-2\"}",
                "{\"steps_today\":-1,\"steps_total\":2,\"day\":\"2026-11-22\"}",
                "{\"steps_today\":1.5,\"steps_total\":2,\"day\":\"2026-11-22\"}",
                "{\"steps_today\":1,\"steps_today\":1,\"steps_total\":2,\"day\":\"2026-11-22\"}",
                "{\"steps_today\":\"1\",\"steps_total\":2,\"day\":\"2026-11-22\"}",
                "{\"steps_today\":99999999999999999999999,\"steps_total\":2,\"day\":\"2026-11-22\"}",
                "{\"steps_today\":1,\"steps_total\":2,\"day\":\"2026-11-22\"} x",
                "{\"steps_today\":1,\"steps_total\":2,\"day\":\"2026-11-22\",\"x\":[[[[[1]]]]]}",
                "{\"steps_today\":1,\"steps_total\":2,\"day\":\"2026-11-22\\u0000\"}",
                "{\"steps_today\":1,\"steps_total\":2,\"day\":\"\xff\xfe\x32\x36-11-22\"}",
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                assert_int_equal(state_store_parse_steps_payload(bad[i], strlen(bad[i]), &today, &total, day), -EBADMSG);

        /* unknown members from a newer gateway are fine */
        const char *newer = "{\"steps_today\":5,\"steps_total\":6,\"day\":\"2026-11-23\",\"x\":{\"a\":[1]}}";
        assert_int_equal(state_store_parse_steps_payload(newer, strlen(newer), &today, &total, day), 0);
        assert_int_equal(today, 5);
        assert_string_equal(day, "2026-11-23");
}

static void test_backoff_and_errors(void **state) {
        /* 1, 2, 4, 8, 16, 32, 60, 60 s: the delay lies in the upper half of each */
        const uint64_t caps[] = { 1, 2, 4, 8, 16, 32, 60, 60, 60 };
        for (unsigned a = 0; a < ELEMENTSOF(caps); a++) {
                uint64_t cap = caps[a] * USEC_PER_SEC;
                assert_int_equal(mqtt_backoff_delay(a, 0), cap / 2);
                assert_int_equal(mqtt_backoff_delay(a, cap / 2), cap);
                for (uint64_t r = 1; r < 1000000; r = r * 7 + 3) {
                        uint64_t d = mqtt_backoff_delay(a, r * 2654435761u);
                        assert_true(d >= cap / 2 && d <= cap);
                }
        }
        assert_int_equal(mqtt_backoff_delay(1000, 0), 30 * USEC_PER_SEC);

        /* like mosquitto_loop_forever(), except that name resolution is retried */
        assert_true(mqtt_error_is_fatal(MOSQ_ERR_TLS));
        assert_true(mqtt_error_is_fatal(MOSQ_ERR_AUTH));
        assert_true(mqtt_error_is_fatal(MOSQ_ERR_PROTOCOL));
        assert_false(mqtt_error_is_fatal(MOSQ_ERR_EAI));
        assert_false(mqtt_error_is_fatal(MOSQ_ERR_CONN_LOST));
        assert_false(mqtt_error_is_fatal(MOSQ_ERR_ERRNO));
        assert_false(mqtt_error_is_fatal(MOSQ_ERR_KEEPALIVE));
        assert_false(mqtt_error_is_fatal(MOSQ_ERR_CONN_REFUSED));

        assert_int_equal(mqtt_errno_from_mosq(MOSQ_ERR_SUCCESS), 0);
        assert_int_equal(mqtt_errno_from_mosq(MOSQ_ERR_NO_CONN), -ENOTCONN);
        assert_int_equal(mqtt_errno_from_mosq(MOSQ_ERR_NOMEM), -ENOMEM);
        assert_int_equal(mqtt_errno_from_mosq(MOSQ_ERR_AUTH), -EACCES);
        assert_int_equal(mqtt_errno_from_mosq(MOSQ_ERR_KEEPALIVE), -ETIMEDOUT);
        errno = EPIPE;
        assert_int_equal(mqtt_errno_from_mosq(MOSQ_ERR_ERRNO), -EPIPE);
        for (int rc = -1; rc < 40; rc++)
                if (rc != MOSQ_ERR_SUCCESS)
                        assert_true(mqtt_errno_from_mosq(rc) < 0);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_name_validation),
                cmocka_unit_test(test_topics),
                cmocka_unit_test(test_timestamp),
                cmocka_unit_test(test_state_and_steps),
                cmocka_unit_test(test_other_payloads),
                cmocka_unit_test(test_wrap_object),
                cmocka_unit_test(test_discovery),
                cmocka_unit_test(test_steps_payload_parse),
                cmocka_unit_test(test_backoff_and_errors),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
