/* SPDX-License-Identifier: MIT */

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "mqtt.h"
#include "state-store.h"

static int publish_built(MqttClient *c, MqttPublishKind kind, const char *topic, JsonWriter *w) {
        const char *p;
        size_t n;
        int r;

        r = json_writer_finish(w, &p, &n);
        if (r >= 0)
                r = mqtt_client_publish(c, kind, topic, p, n);
        json_writer_done(w);
        return r;
}

static MqttStamp stamp_for(MqttClient *c, const char *topic, uint64_t now_usec) {
        return (MqttStamp) { .realtime_usec = now_usec, .seq = mqtt_client_next_seq(c, topic) };
}

static const Config *client_config(MqttClient *c) {
        return mqtt_client_get_config(c);
}

int mqtt_publish_bridge_info(MqttClient *c, const MqttBridgeInfo *info, uint64_t now_usec) {
        const Config *cfg = client_config(c);
        char topic[MQTT_TOPIC_MAX];
        JsonWriter w;
        MqttStamp st;
        int r;

        r = mqtt_topic_bridge(topic, sizeof topic, cfg->base_topic, cfg->gateway_id, MQTT_BRIDGE_INFO);
        if (r < 0)
                return r;
        st = stamp_for(c, topic, now_usec);
        json_writer_init_dynamic(&w);
        mqtt_payload_bridge_info(&w, &st, info);
        return publish_built(c, MQTT_PUBLISH_STATE, topic, &w);
}

int mqtt_publish_bridge_health(MqttClient *c, const MqttHealth *h, uint64_t now_usec) {
        const Config *cfg = client_config(c);
        char topic[MQTT_TOPIC_MAX];
        JsonWriter w;
        MqttStamp st;
        int r;

        r = mqtt_topic_bridge(topic, sizeof topic, cfg->base_topic, cfg->gateway_id, MQTT_BRIDGE_HEALTH);
        if (r < 0)
                return r;
        st = stamp_for(c, topic, now_usec);
        json_writer_init_dynamic(&w);
        mqtt_payload_bridge_health(&w, &st, h);
        return publish_built(c, MQTT_PUBLISH_EVENT, topic, &w);
}

int mqtt_publish_availability(MqttClient *c, const char *wearer, DeviceRole role, bool online) {
        const Config *cfg = client_config(c);
        char topic[MQTT_TOPIC_MAX];
        JsonWriter w;
        int r;

        if (role == _DEVICE_ROLE_INVALID)
                r = mqtt_topic_wearer(topic, sizeof topic, cfg->base_topic, wearer, MQTT_WEARER_AVAILABILITY);
        else
                r = mqtt_topic_device(topic, sizeof topic, cfg->base_topic, wearer, role, MQTT_DEVICE_AVAILABILITY);
        if (r < 0)
                return r;
        json_writer_init_dynamic(&w);
        mqtt_payload_availability(&w, online, cfg->gateway_id);
        return publish_built(c, MQTT_PUBLISH_STATE, topic, &w);
}

int mqtt_publish_steps(MqttClient *c, const char *wearer, const MqttSteps *s, uint64_t now_usec) {
        const Config *cfg = client_config(c);
        char topic[MQTT_TOPIC_MAX];
        JsonWriter w;
        MqttStamp st;
        int r;

        r = mqtt_topic_wearer(topic, sizeof topic, cfg->base_topic, wearer, MQTT_WEARER_STEPS);
        if (r < 0)
                return r;
        st = stamp_for(c, topic, now_usec);
        json_writer_init_dynamic(&w);
        mqtt_payload_steps(&w, &st, s);
        return publish_built(c, MQTT_PUBLISH_STATE, topic, &w);
}

int mqtt_publish_activity(MqttClient *c, const char *wearer, ActivityState state, ActivityState previous,
                          uint64_t previous_duration_usec, uint64_t now_usec) {
        const Config *cfg = client_config(c);
        char topic[MQTT_TOPIC_MAX];
        JsonWriter w;
        MqttStamp st;
        int r;

        r = mqtt_topic_wearer(topic, sizeof topic, cfg->base_topic, wearer, MQTT_WEARER_ACTIVITY);
        if (r < 0)
                return r;
        st = stamp_for(c, topic, now_usec);
        json_writer_init_dynamic(&w);
        mqtt_payload_activity(&w, &st, state, previous, previous_duration_usec);
        return publish_built(c, MQTT_PUBLISH_EVENT, topic, &w);
}

static int publish_wrapped_kind(MqttClient *c, const char *wearer, MqttWearerTopic which, MqttPublishKind kind,
                                const char *json, uint64_t now_usec) {
        const Config *cfg = client_config(c);
        char topic[MQTT_TOPIC_MAX];
        JsonWriter w;
        MqttStamp st;
        int r;

        r = mqtt_topic_wearer(topic, sizeof topic, cfg->base_topic, wearer, which);
        if (r < 0)
                return r;
        st = stamp_for(c, topic, now_usec);
        json_writer_init_dynamic(&w);
        (void) mqtt_payload_wrap_object(&w, &st, json);
        return publish_built(c, kind, topic, &w);
}

static int publish_wrapped(MqttClient *c, const char *wearer, MqttWearerTopic which, const char *json,
                           uint64_t now_usec) {
        return publish_wrapped_kind(c, wearer, which, MQTT_PUBLISH_EVENT, json, now_usec);
}

int mqtt_publish_reminder_state(MqttClient *c, const char *wearer, const char *state_json, uint64_t now_usec) {
        return publish_wrapped_kind(c, wearer, MQTT_WEARER_REMINDER_STATE, MQTT_PUBLISH_STATE, state_json, now_usec);
}

int mqtt_publish_daily(MqttClient *c, const char *wearer, const char *daily_json, uint64_t now_usec) {
        return publish_wrapped_kind(c, wearer, MQTT_WEARER_DAILY, MQTT_PUBLISH_STATE, daily_json, now_usec);
}

int mqtt_publish_exercise(MqttClient *c, const char *wearer, const char *exercise_json, uint64_t now_usec) {
        return publish_wrapped(c, wearer, MQTT_WEARER_EXERCISE, exercise_json, now_usec);
}

int mqtt_publish_today(MqttClient *c, const char *wearer, const char *today_json, uint64_t now_usec) {
        return publish_wrapped_kind(c, wearer, MQTT_WEARER_TODAY, MQTT_PUBLISH_STATE, today_json, now_usec);
}

int mqtt_publish_gait(MqttClient *c, const char *wearer, const char *gait_json, uint64_t now_usec) {
        return publish_wrapped(c, wearer, MQTT_WEARER_GAIT, gait_json, now_usec);
}

int mqtt_publish_reminder(MqttClient *c, const char *wearer, const char *reminder_json, uint64_t now_usec) {
        return publish_wrapped(c, wearer, MQTT_WEARER_REMINDER, reminder_json, now_usec);
}

int mqtt_publish_battery(MqttClient *c, const char *wearer, DeviceRole role, unsigned battery_percent,
                         uint64_t now_usec) {
        const Config *cfg = client_config(c);
        char topic[MQTT_TOPIC_MAX];
        JsonWriter w;
        MqttStamp st;
        int r;

        r = mqtt_topic_device(topic, sizeof topic, cfg->base_topic, wearer, role, MQTT_DEVICE_BATTERY);
        if (r < 0)
                return r;
        st = stamp_for(c, topic, now_usec);
        json_writer_init_dynamic(&w);
        mqtt_payload_battery(&w, &st, role, battery_percent);
        return publish_built(c, MQTT_PUBLISH_STATE, topic, &w);
}

int mqtt_publish_link(MqttClient *c, const char *wearer, DeviceRole role, const MqttLinkStats *l, uint64_t now_usec) {
        const Config *cfg = client_config(c);
        char topic[MQTT_TOPIC_MAX];
        JsonWriter w;
        MqttStamp st;
        int r;

        r = mqtt_topic_device(topic, sizeof topic, cfg->base_topic, wearer, role, MQTT_DEVICE_LINK);
        if (r < 0)
                return r;
        st = stamp_for(c, topic, now_usec);
        json_writer_init_dynamic(&w);
        mqtt_payload_link(&w, &st, role, l);
        return publish_built(c, MQTT_PUBLISH_STATE, topic, &w);
}

int mqtt_publish_pressure(MqttClient *c, const char *wearer, DeviceRole role, const PressureSample *s,
                          PressureUnit unit, uint64_t now_usec) {
        const Config *cfg = client_config(c);
        char topic[MQTT_TOPIC_MAX], buf[2048];
        JsonWriter w;
        MqttStamp st;
        int r;

        if (!cfg->raw_stream)
                return 0;
        r = mqtt_topic_device(topic, sizeof topic, cfg->base_topic, wearer, role, MQTT_DEVICE_PRESSURE);
        if (r < 0)
                return r;
        st = stamp_for(c, topic, now_usec);
        json_writer_init(&w, buf, sizeof buf); /* the hot path: no allocation */
        mqtt_payload_pressure(&w, &st, s, unit);
        return publish_built(c, MQTT_PUBLISH_STREAM, topic, &w);
}

static int discovery_cb(const char *topic, const char *payload, size_t len, void *userdata) {
        int r = mqtt_client_publish(userdata, MQTT_PUBLISH_STATE, topic, payload, len);
        return r < 0 ? r : 0;
}

int mqtt_publish_discovery(MqttClient *c, const char *version) {
        return mqtt_publish_discovery_with_info(c, version, NULL);
}

int mqtt_publish_discovery_with_info(MqttClient *c, const char *version, const MqttDeviceInfo (*info)[_DEVICE_ROLE_MAX]) {
        const Config *cfg = client_config(c);

        if (!cfg->homeassistant)
                return 0;
        return mqtt_discovery_build_with_info(cfg, version, info, discovery_cb, c);
}

static int subscribe_wearer(MqttClient *c, const char *wearer, MqttWearerTopic which, MqttMessageHandler h,
                            void *userdata) {
        char topic[MQTT_TOPIC_MAX];
        int r;

        r = mqtt_topic_wearer(topic, sizeof topic, client_config(c)->base_topic, wearer, which);
        if (r < 0)
                return r;
        return mqtt_client_subscribe(c, topic, h, userdata);
}

int mqtt_subscribe_reminder_set(MqttClient *c, const char *wearer, MqttMessageHandler h, void *userdata) {
        return subscribe_wearer(c, wearer, MQTT_WEARER_REMINDER_SET, h, userdata);
}

int mqtt_subscribe_alert_set(MqttClient *c, const char *wearer, MqttMessageHandler h, void *userdata) {
        return subscribe_wearer(c, wearer, MQTT_WEARER_ALERT_SET, h, userdata);
}

int mqtt_publish_alert(MqttClient *c, const char *wearer, const char *alert_json, uint64_t now_usec) {
        return publish_wrapped(c, wearer, MQTT_WEARER_ALERT, alert_json, now_usec);
}

int mqtt_publish_alert_state(MqttClient *c, const char *wearer, const char *state_json, uint64_t now_usec) {
        return publish_wrapped_kind(c, wearer, MQTT_WEARER_ALERT_STATE, MQTT_PUBLISH_STATE, state_json, now_usec);
}

int mqtt_publish_baseline(MqttClient *c, const char *wearer, const char *baseline_json, uint64_t now_usec) {
        return publish_wrapped_kind(c, wearer, MQTT_WEARER_BASELINE, MQTT_PUBLISH_STATE, baseline_json, now_usec);
}

int mqtt_client_load_seqs(MqttClient *c, const StateStore *s) {
        int r;

        for (size_t i = 0; i < s->n_seqs; i++) {
                r = mqtt_client_set_seq(c, s->seqs[i].topic, s->seqs[i].seq);
                if (r < 0)
                        return r;
        }
        return 0;
}


int mqtt_read_rss_bytes(uint64_t *ret) {
        _cleanup_fclose_ FILE *f = NULL;
        uint64_t size, resident;
        long page;

        f = fopen("/proc/self/statm", "re");
        if (!f)
                return -errno;
        if (fscanf(f, "%" SCNu64 " %" SCNu64, &size, &resident) != 2)
                return -EIO;
        page = sysconf(_SC_PAGESIZE);
        if (page <= 0)
                return -EIO;
        *ret = resident * (uint64_t) page;
        return 0;
}

void mqtt_health_fill_transport(MqttHealth *h, const MqttClient *c) {
        MqttClientStats st;

        mqtt_client_get_stats(c, &st);
        h->mqtt_reconnects = st.reconnects;
        h->mqtt_published = st.published;
        h->mqtt_dropped = st.dropped;
        h->mqtt_outbox_depth = st.outbox_depth;
        h->mqtt_inflight = st.inflight;
        h->mqtt_outbox_bytes = st.outbox_bytes;
        h->mqtt_refused += st.oversized;
}
