/* SPDX-License-Identifier: MIT */

/* Topic contract, payload builders, Home Assistant discovery and the JSON schemas in docs/schema. */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include <mosquitto.h>

#include <math.h>
#include <unistd.h>
#include <systemd/sd-event.h>

#include "backoff.h"
#include "gait.h"
#include "mqtt-publish.h"
#include "mqtt.h"
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
        assert_string_equal(mqtt_format_timestamp(951782400000000ULL, ts), "2000-02-29T00:00:00.000Z");
        /* past year 9999: the epoch, as before */
        assert_string_equal(mqtt_format_timestamp(253402300800ULL * 1000000, ts), "1970-01-01T00:00:00.000Z");

        /* The same text as gmtime_r() and strftime(), over instants of every day and time until 9999. */
        uint64_t x = 0x2545f4914f6cdd1dULL;
        for (unsigned i = 0; i < 200000; i++) {
                char ref[64];
                struct tm tm;
                time_t t;
                uint64_t usec;

                x ^= x << 13, x ^= x >> 7, x ^= x << 17;
                usec = x % (253402300800ULL * 1000000);
                t = (time_t) (usec / 1000000);
                if ((uint64_t) t != usec / 1000000 || !gmtime_r(&t, &tm))
                        continue; /* a 32-bit time_t */
                (void) strftime(ref, sizeof(ref), "%Y-%m-%dT%H:%M:%S", &tm);
                (void) snprintf(ref + 19, sizeof(ref) - 19, ".%03uZ", (unsigned) (usec % 1000000 / 1000));
                assert_string_equal(mqtt_format_timestamp(usec, ts), ref);
        }
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
        mqtt_payload_begin_stamped(&w, &st);
        mqtt_payload_steps(&w, &steps);
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
        mqtt_payload_begin_stamped(&w, &st);
        mqtt_payload_steps(&w, &steps);
        assert_string_equal(finish(&w), "{\"timestamp\":\"2026-11-22T10:00:00.123Z\",\"seq\":7,\"steps_today\":1234,"
                                        "\"steps_total\":98765,\"day\":\"2026-11-22\",\"gateway\":\"room-a\","
                                        "\"devices\":{\"left\":{\"boot_id\":4000000000,\"steps\":617},"
                                        "\"right\":{\"boot_id\":7,\"steps\":617}}}");
        assert_schema("steps", buf);
        /* A gateway id that is not a topic-safe name is left out rather than published. */
        steps.gateway = "Room/A";
        json_writer_init(&w, buf, sizeof buf);
        mqtt_payload_begin_stamped(&w, &st);
        mqtt_payload_steps(&w, &steps);
        assert_null(strstr(finish(&w), "gateway"));

        /* A footpod wearer: the distance and the footpod's own Total Distance, handed over alike. */
        steps = (MqttSteps) { .steps_today = 80, .steps_total = 90, .day = "2026-11-22", .gateway = "room-a",
                              .has_distance = true, .distance_today_dm = 1234, .distance_total_dm = 45670,
                              .has_footpod_total = true, .footpod_total_dm = 4294967295u };
        json_writer_init(&w, buf, sizeof buf);
        mqtt_payload_begin_stamped(&w, &st);
        mqtt_payload_steps(&w, &steps);
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
        mqtt_payload_begin_stamped(&w, &st);
        mqtt_payload_bridge_info(&w, &info);
        assert_non_null(strstr(finish(&w), "\"wearers\":[{\"name\":\"anna\",\"devices\":[\"left\",\"right\"]},"
                                           "{\"name\":\"bob_2\",\"devices\":[\"footpod\"]}]"));
        assert_schema("bridge-info", buf);
        assert_non_null(strstr(buf, "\"adapters\":[{\"name\":\"hci0\",\"powered\":true}]"));
        {
                MqttDeviceInfo di[CONFIG_MAX_WEARERS][_DEVICE_ROLE_MAX] = {};
                di[1][DEVICE_ROLE_FOOTPOD] = (MqttDeviceInfo) { .manufacturer = "Milestone", .model = "Pod 2" };
                info.device_info = di;
                json_writer_init(&w, buf, sizeof buf);
                mqtt_payload_begin_stamped(&w, &st);
                mqtt_payload_bridge_info(&w, &info);
                assert_non_null(strstr(finish(&w), "{\"name\":\"anna\",\"devices\":[\"left\",\"right\"]},"
                                                   "{\"name\":\"bob_2\",\"devices\":[\"footpod\"],\"device_info\":"
                                                   "{\"footpod\":{\"manufacturer\":\"Milestone\",\"model\":\"Pod 2\"}}}"));
                assert_schema("bridge-info", buf);
                info.device_info = NULL;
        }

        json_writer_init(&w, buf, sizeof buf);
        mqtt_payload_begin_stamped(&w, &st);
        mqtt_payload_bridge_health(&w, &h);
        assert_non_null(strstr(finish(&w), "\"uptime_s\":3600,\"memory_rss_bytes\":4194304,\"notifications_per_s\":97.5"));
        assert_schema("bridge-health", buf);

        json_writer_init(&w, buf, sizeof buf);
        mqtt_payload_begin_stamped(&w, &st);
        mqtt_payload_activity(&w, ACTIVITY_WALKING, ACTIVITY_SITTING, 5 * USEC_PER_MINUTE);
        assert_non_null(strstr(finish(&w), "\"activity\":\"walking\",\"previous\":\"sitting\",\"previous_duration_ms\":300000"));
        assert_schema("activity", buf);

        json_writer_init(&w, buf, sizeof buf);
        mqtt_payload_begin_stamped(&w, &st);
        mqtt_payload_battery(&w, DEVICE_ROLE_RIGHT, 150);
        assert_non_null(strstr(finish(&w), "\"device\":\"right\",\"battery_pct\":100}"));
        assert_schema("battery", buf);

        json_writer_init(&w, buf, sizeof buf);
        mqtt_payload_begin_stamped(&w, &st);
        mqtt_payload_link(&w, DEVICE_ROLE_LEFT, &link);
        assert_non_null(strstr(finish(&w), "\"rssi_dbm\":-67"));
        assert_schema("link", buf);
        link.has_rssi = false;
        json_writer_init(&w, buf, sizeof buf);
        mqtt_payload_begin_stamped(&w, &st);
        mqtt_payload_link(&w, DEVICE_ROLE_LEFT, &link);
        assert_non_null(strstr(finish(&w), "\"rssi_dbm\":null"));
        assert_schema("link", buf);
        assert_null(strstr(buf, "device_info"));
        link.info = (MqttDeviceInfo) { .manufacturer = "Polar Electro Oy", .model = "Stride", .firmware = "", .hardware = NULL };
        json_writer_init(&w, buf, sizeof buf);
        mqtt_payload_begin_stamped(&w, &st);
        mqtt_payload_link(&w, DEVICE_ROLE_LEFT, &link);
        assert_non_null(strstr(finish(&w), "\"device_info\":{\"manufacturer\":\"Polar Electro Oy\",\"model\":\"Stride\"}"));
        assert_schema("link", buf);

        json_writer_init(&w, buf, sizeof buf);
        mqtt_payload_begin_stamped(&w, &st);
        mqtt_payload_pressure(&w, &ps, PRESSURE_UNIT_NEWTON);
        assert_non_null(strstr(finish(&w), "\"unit\":\"N\",\"cells\":[1.5,2.25,0]"));
        assert_schema("pressure", buf);
}

/* A module's builder, as the reminders and alerts modules write theirs: one complete object. */
static int module_object(JsonWriter *w, bool empty) {
        json_object_begin(w);
        if (!empty) {
                json_kv_double(w, "cadence_spm", 104.5, 1);
                json_kv_uint(w, "stance_time_ms", 612);
                json_key(w, "symmetry");
                json_object_begin(w);
                json_kv_double(w, "step_time_si_pct", 1.25, 2);
                json_object_end(w);
        }
        json_object_end(w);
        return w->error;
}

static void test_stamped_join(void **state) {
        char buf[512];
        JsonWriter w;
        MqttStamp st = { .realtime_usec = T0, .seq = 42 };
        const char *p;
        size_t n;

        json_writer_init(&w, buf, sizeof buf);
        mqtt_payload_begin_stamped(&w, &st);
        assert_int_equal(module_object(&w, false), 0);
        assert_string_equal(finish(&w), "{\"timestamp\":\"2026-11-22T10:00:00.123Z\",\"seq\":42,"
                                        "\"cadence_spm\":104.5,\"stance_time_ms\":612,\"symmetry\":{\"step_time_si_pct\":1.25}}");
        assert_schema("gait", buf);
        /* the gait engine's per-foot quality (docs/metrics.md) */
        assert_schema("gait", "{\"timestamp\":\"2026-11-22T10:00:00.123Z\",\"seq\":1,\"quality\":{\"left\":\"ok\",\"right\":\"saturated\"}}");
        assert_schema_rejects("gait", "{\"timestamp\":\"2026-11-22T10:00:00.123Z\",\"seq\":1,\"quality\":{\"left\":\"fine\",\"right\":\"ok\"}}");
        assert_schema_rejects("gait", "{\"timestamp\":\"2026-11-22T10:00:00.123Z\",\"seq\":1,\"quality\":{\"left\":\"ok\"}}");

        json_writer_init(&w, buf, sizeof buf);
        mqtt_payload_begin_stamped(&w, &st);
        assert_int_equal(module_object(&w, true), 0);
        assert_string_equal(finish(&w), "{\"timestamp\":\"2026-11-22T10:00:00.123Z\",\"seq\":42}");
        assert_schema("reminder", buf);

        /* Whatever follows the stamp must be an object: anything else is refused, never spliced. */
        json_writer_init(&w, buf, sizeof buf);
        mqtt_payload_begin_stamped(&w, &st);
        json_array_begin(&w);
        json_array_end(&w);
        assert_int_equal(json_writer_finish(&w, &p, &n), -EINVAL);
        json_writer_init(&w, buf, sizeof buf);
        mqtt_payload_begin_stamped(&w, &st);
        json_kv_uint(&w, "loose", 1);
        assert_int_equal(json_writer_finish(&w, &p, &n), -EINVAL);
        json_writer_init(&w, buf, sizeof buf);
        mqtt_payload_begin_stamped(&w, &st); /* no builder at all: the object stays open */
        assert_int_equal(json_writer_finish(&w, &p, &n), -EINVAL);
        json_writer_init(&w, buf, sizeof buf);
        mqtt_payload_begin_stamped(&w, &st);
        json_object_end(&w);
        assert_int_equal(json_writer_finish(&w, &p, &n), -EINVAL);
}

static void fill_gait_snapshot(GaitSnapshot *s) {
        *s = (GaitSnapshot) { .t_us = 754 * USEC_PER_SEC + 125000, .source = GAIT_SOURCE_PRESSURE,
                              .load_unit = PRESSURE_UNIT_NEWTON, .body_weight_kg = 72.5f, .activity = ACTIVITY_WALKING,
                              .activity_since_us = 700 * USEC_PER_SEC, .steps_total = 4321, .steps_day = 1234,
                              .quality = { GAIT_QUALITY_OK, GAIT_QUALITY_SATURATED } };
        for (ActivityState a = 0; a < _ACTIVITY_MAX; a++)
                s->activity_day_us[a] = (a + 1) * 37 * USEC_PER_SEC;
        for (GaitWindow x = 0; x < _GAIT_WINDOW_MAX; x++) {
                GaitWindowSummary *win = &s->window[x];
                *win = (GaitWindowSummary) { .duration_us = 60 * USEC_PER_SEC, .steps = 105, .cadence_spm = 104.7f,
                                             .stride_time_ms = 1143.2f, .stride_time_cv_pct = 2.31f,
                                             .double_support_ms = 250.1f, .double_support_pct = 21.9f,
                                             .symmetry = { .step_time_pct = 1.2f, .stance_time_pct = NAN,
                                                           .strides_left = 26, .strides_right = 25 } };
                for (FootSide f = 0; f < _FOOT_SIDE_MAX; f++) {
                        GaitFootSummary *g = &win->foot[f];
                        *g = (GaitFootSummary) { .strides = 26 - f, .stride_time_ms = 1143.2f, .stance_time_ms = 700.4f,
                                                 .swing_time_ms = 442.8f, .stance_pct = 61.27f, .swing_pct = 38.73f,
                                                 .step_time_ms = 571.6f, .stride_time_cv_pct = 2.1f, .stance_strides = 26,
                                                 .peak_total = 812.4f, .peak_heel = 601.2f, .heel_loading_rate = 5123.4f,
                                                 .push_peak = 790.1f, .cop_start_x = 0.12f, .cop_end_x = 0.91f,
                                                 .cop_forward_fraction = 0.8f, .ml_index = 0.123f };
                        g->strikes[STRIKE_HEEL] = 20;
                        g->strikes[STRIKE_MIDFOOT] = 6;
                        for (FootRegion r = 0; r < _REGION_MAX; r++)
                                g->load_share_pct[r] = 100.0f / _REGION_MAX;
                }
        }
        s->balance = (GaitBalance) { .standing_us = 5 * USEC_PER_SEC, .sway_path_pct_per_s = 1.5f, .left_share_pct = 50.5f,
                                     .toe_grips = 3, .toe_grips_per_min = 0.5f, .sway_range_x_pct = 2.5f,
                                     .sway_range_y_pct = 3.5f };
        s->footpod = (GaitFootpod) { .present = true, .fresh = true, .speed_m_s = 1.4f, .cadence_spm = 104,
                                     .distance_today_m = 812.3, .distance_total_m = 15000.5 };
}

/* The gait payload is written in one pass: the stamp, then the gait engine's own builder appending
 * to the same writer, in a fixed buffer exactly the payload's size (a writer of that kind cannot
 * grow or allocate, so there is no second buffer the module's JSON could have gone through first).
 * The bytes equal what the former wrapper made of the module's standalone JSON: the stamp spliced
 * in after its opening brace. */
static void test_gait_one_pass(void **state) {
        char standalone[8192], reference[8192 + 128], prefix[128];
        MqttStamp st = { .realtime_usec = T0, .seq = 9 };
        GaitSnapshot snap;
        JsonWriter w;
        const char *p;
        char *exact;
        size_t n, prefix_len;

        fill_gait_snapshot(&snap);
        json_writer_init(&w, standalone, sizeof standalone);
        assert_int_equal(gait_snapshot_to_json(&snap, &w), 0);
        assert_int_equal(json_writer_finish(&w, &p, &n), 0);
        assert_true(n > 1000 && standalone[0] == '{');
        prefix_len = (size_t) snprintf(prefix, sizeof prefix, "{\"timestamp\":\"2026-11-22T10:00:00.123Z\",\"seq\":9");
        (void) snprintf(reference, sizeof reference, "%s,%s", prefix, standalone + 1);

        exact = malloc(strlen(reference) + 1);
        assert_non_null(exact);
        json_writer_init(&w, exact, strlen(reference) + 1);
        mqtt_payload_begin_stamped(&w, &st);
        assert_int_equal(w.len, prefix_len); /* only the stamp so far: the gait members go right after it */
        assert_memory_equal(exact, prefix, prefix_len);
        assert_int_equal(gait_snapshot_to_json(&snap, &w), 0);
        assert_int_equal(json_writer_finish(&w, &p, &n), 0);
        assert_ptr_equal(p, exact);
        assert_string_equal(exact, reference);
        assert_schema("gait", exact);
        free(exact);

        /* One byte less and the writer says so, rather than producing something else. */
        exact = malloc(strlen(reference));
        json_writer_init(&w, exact, strlen(reference));
        mqtt_payload_begin_stamped(&w, &st);
        assert_int_equal(gait_snapshot_to_json(&snap, &w), -ENOBUFS);
        free(exact);
}

/* The table is the one description of every message: its topics render as its patterns say, the
 * delivery columns agree with docs/mqtt.md's topic table, and every schema it names exists. */
static void test_message_table(void **state) {
        _cleanup_free_ char *doc = NULL;
        char path[512], topic[MQTT_TOPIC_MAX], expected[MQTT_TOPIC_MAX], row[160];
        const char *root = getenv("INSOLE2MQTT_SOURCE_ROOT");
        FILE *f;
        size_t n;

        assert_non_null(root);
        (void) snprintf(path, sizeof path, "%s/docs/mqtt.md", root);
        f = fopen(path, "re");
        assert_non_null(f);
        doc = calloc(1, 1 << 17);
        assert_non_null(doc);
        n = fread(doc, 1, (1 << 17) - 1, f);
        fclose(f);
        assert_true(n > 0);

        for (MqttMessageType t = 0; t < _MQTT_MESSAGE_TYPE_MAX; t++) {
                const MqttMessageInfo *m = &mqtt_messages[t];
                const char *pat = m->topic_pattern;
                DeviceRole role = m->scope == MQTT_SCOPE_DEVICE ? DEVICE_ROLE_RIGHT : _DEVICE_ROLE_INVALID;
                char *q;

                assert_non_null(pat);
                assert_int_equal(m->retain, m->kind == MQTT_PUBLISH_STATE);
                assert_int_equal(m->qos == 0, m->kind == MQTT_PUBLISH_STREAM);
                assert_int_equal(mqtt_message_topic(topic, sizeof topic, "insole", "gw1", t, "anna", role), 0);
                /* the pattern with the names filled in */
                (void) snprintf(expected, sizeof expected, "%s", pat);
                while ((q = strstr(expected, "<base>")) || (q = strstr(expected, "<gateway>")) ||
                       (q = strstr(expected, "<wearer>")) || (q = strstr(expected, "<role>"))) {
                        const char *name = q[1] == 'b' ? "insole" : q[1] == 'g' ? "gw1" : q[1] == 'w' ? "anna" : "right";
                        char rest[MQTT_TOPIC_MAX];
                        (void) snprintf(rest, sizeof rest, "%s", strchr(q, '>') + 1);
                        (void) snprintf(q, sizeof expected - (size_t) (q - expected), "%s%s", name, rest);
                }
                assert_string_equal(topic, expected);
                /* docs/mqtt.md: | `<pattern>` | yes/no | QoS | */
                (void) snprintf(row, sizeof row, "| `%s` | %s | %d |", pat, m->retain ? "yes" : "no", m->qos == 0 ? 0 : 1);
                if (!strstr(doc, row))
                        fail_msg("docs/mqtt.md has no row starting %s", row);
                (void) snprintf(path, sizeof path, "%s/docs/schema/%s.json", root, m->schema);
                assert_int_equal(access(path, R_OK), 0);
        }
        assert_int_equal(mqtt_message_topic(topic, sizeof topic, "insole", "gw1", _MQTT_MESSAGE_TYPE_MAX, "anna",
                                            _DEVICE_ROLE_INVALID), -EINVAL);
        assert_int_equal(mqtt_message_topic(topic, sizeof topic, "insole", "gw1", MQTT_MESSAGE_GAIT, "a/#",
                                            _DEVICE_ROLE_INVALID), -EINVAL);
}

/* The publish path through a real (unconnected) client: seq is taken only by a queued message. */
static void test_message_path(void **state) {
        _cleanup_(sd_event_unrefp) sd_event *e = NULL;
        MqttClient *c = NULL;
        MqttMessage msg;
        MqttClientStats stats;
        Config cfg;
        char buf[256];
        int r;

        make_config(&cfg);
        cfg.host = (char *) "127.0.0.1";
        cfg.port = 1;
        cfg.qos = 1;
        cfg.outbox_max = 100;
        assert_true(sd_event_default(&e) >= 0);
        assert_int_equal(mqtt_client_new(e, &cfg, &c), 0);

        /* a builder that has nothing to say takes no seq */
        r = mqtt_message_queue(&msg, (mqtt_message_begin(&msg, c, MQTT_MESSAGE_GAIT, "anna", _DEVICE_ROLE_INVALID, T0,
                                                         buf, sizeof buf), -ENODATA));
        assert_int_equal(r, -ENODATA);
        assert_int_equal(mqtt_client_get_seq(c, "insole/anna/gait"), 0);
        assert_int_equal(mqtt_message_queue(&msg, module_object(mqtt_message_begin(&msg, c, MQTT_MESSAGE_GAIT, "anna",
                                                                                  _DEVICE_ROLE_INVALID, T0, buf, sizeof buf),
                                                                false)), 1);
        assert_string_equal(msg.topic, "insole/anna/gait");
        assert_int_equal(msg.seq, 1);
        assert_int_equal(mqtt_client_get_seq(c, "insole/anna/gait"), 1);
        assert_int_equal(mqtt_message_queue(&msg, module_object(mqtt_message_begin(&msg, c, MQTT_MESSAGE_GAIT, "anna",
                                                                                  _DEVICE_ROLE_INVALID, T0, NULL, 0),
                                                                true)), 1);
        assert_int_equal(mqtt_client_get_seq(c, "insole/anna/gait"), 2);

        /* a hostile name: refused before anything is written, no seq */
        assert_int_equal(mqtt_message_queue(&msg, module_object(mqtt_message_begin(&msg, c, MQTT_MESSAGE_GAIT, "evil/#",
                                                                                  _DEVICE_ROLE_INVALID, T0, buf, sizeof buf),
                                                                false)), -EINVAL);
        /* a payload that does not fit the caller's buffer is refused whole */
        assert_int_equal(mqtt_message_queue(&msg, module_object(mqtt_message_begin(&msg, c, MQTT_MESSAGE_GAIT, "anna",
                                                                                  _DEVICE_ROLE_INVALID, T0, buf, 60),
                                                                false)), -ENOBUFS);
        assert_int_equal(mqtt_client_get_seq(c, "insole/anna/gait"), 2);

        /* unstamped availability, retained: the same payload again is no change */
        assert_int_equal(mqtt_message_queue(&msg, mqtt_payload_availability(mqtt_message_begin(&msg, c, MQTT_MESSAGE_AVAILABILITY,
                                                                                             "anna", _DEVICE_ROLE_INVALID, T0,
                                                                                             buf, sizeof buf),
                                                                            true, "pi-room1")), 1);
        assert_int_equal(mqtt_message_queue(&msg, mqtt_payload_availability(mqtt_message_begin(&msg, c, MQTT_MESSAGE_AVAILABILITY,
                                                                                             "anna", _DEVICE_ROLE_INVALID, T0,
                                                                                             buf, sizeof buf),
                                                                            true, "pi-room1")), 0);
        assert_int_equal(mqtt_client_get_seq(c, "insole/anna/availability"), 0);

        /* the raw stream is off: nothing queued, no seq */
        PressureSample ps = { .t_us = 1, .n_cells = 1 };
        assert_int_equal(mqtt_message_queue(&msg, mqtt_payload_pressure(mqtt_message_begin(&msg, c, MQTT_MESSAGE_PRESSURE, "anna",
                                                                                         DEVICE_ROLE_LEFT, T0, buf, sizeof buf),
                                                                        &ps, PRESSURE_UNIT_NEWTON)), 0);
        assert_int_equal(mqtt_client_get_seq(c, "insole/anna/left/pressure"), 0);

        mqtt_client_get_stats(c, &stats);
        assert_int_equal(stats.outbox_depth, 3);
        c = mqtt_client_free(c);
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

static uint64_t mqtt_backoff(unsigned attempt, uint64_t random) {
        return backoff_delay(MQTT_BACKOFF_INITIAL_USEC, MQTT_BACKOFF_MAX_USEC, attempt, random);
}

static void test_backoff_and_errors(void **state) {
        /* 1, 2, 4, 8, 16, 32, 60, 60 s: the delay lies in the upper half of each */
        const uint64_t caps[] = { 1, 2, 4, 8, 16, 32, 60, 60, 60 };
        for (unsigned a = 0; a < ELEMENTSOF(caps); a++) {
                uint64_t cap = caps[a] * USEC_PER_SEC;
                assert_int_equal(mqtt_backoff(a, 0), cap / 2);
                assert_int_equal(mqtt_backoff(a, cap / 2), cap);
                for (uint64_t r = 1; r < 1000000; r = r * 7 + 3) {
                        uint64_t d = mqtt_backoff(a, r * 2654435761u);
                        assert_true(d >= cap / 2 && d <= cap);
                }
        }
        assert_int_equal(mqtt_backoff(1000, 0), 30 * USEC_PER_SEC);

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
                cmocka_unit_test(test_stamped_join),
                cmocka_unit_test(test_gait_one_pass),
                cmocka_unit_test(test_message_table),
                cmocka_unit_test(test_message_path),
                cmocka_unit_test(test_discovery),
                cmocka_unit_test(test_backoff_and_errors),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
