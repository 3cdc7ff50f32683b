/* SPDX-License-Identifier: MIT */

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "mqtt.h"
#include "state-store.h"

static const Config *client_config(MqttClient *c) {
        return mqtt_client_get_config(c);
}

JsonWriter *mqtt_message_begin(MqttMessage *m, MqttClient *c, MqttMessageType type, const char *wearer,
                               DeviceRole role, uint64_t now_usec, char *buf, size_t size) {
        const Config *cfg = client_config(c);

        *m = (MqttMessage) { .client = c };
        if (buf)
                json_writer_init(&m->json, buf, size);
        else
                json_writer_init_dynamic(&m->json);

        if ((unsigned) type < _MQTT_MESSAGE_TYPE_MAX && mqtt_messages[type].raw_stream_only && !cfg->raw_stream)
                m->error = -ECANCELED; /* off: queued as nothing, like an unchanged state */
        else
                m->error = mqtt_message_topic(m->topic, sizeof m->topic, cfg->base_topic, cfg->gateway_id, type,
                                              wearer, role);
        if (m->error >= 0)
                m->info = &mqtt_messages[type];
        if (m->error < 0) {
                m->json.error = m->error; /* the builder's calls become no-ops */
                return &m->json;
        }
        if (m->info->stamped) {
                /* Peeked, not taken: only a queued message uses its number. */
                m->seq = mqtt_client_peek_seq(c, m->topic);
                mqtt_payload_begin_stamped(&m->json, &(MqttStamp) { .realtime_usec = now_usec, .seq = m->seq });
        }
        return &m->json;
}

int mqtt_message_queue(MqttMessage *m, int build_result) {
        const char *payload;
        size_t len;
        int r;

        if (m->error == -ECANCELED)
                r = 0;
        else if (m->error < 0)
                r = m->error;
        else if (build_result < 0)
                r = build_result;
        else {
                r = json_writer_finish(&m->json, &payload, &len);
                if (r >= 0) {
                        if (m->info->stamped)
                                (void) mqtt_client_next_seq(m->client, m->topic); /* == m->seq */
                        r = mqtt_client_publish(m->client, m->info->kind, m->topic, payload, len);
                }
        }
        json_writer_done(&m->json);
        return r;
}

static int discovery_cb(const char *topic, const char *payload, size_t len, void *userdata) {
        int r = mqtt_client_publish(userdata, MQTT_PUBLISH_STATE, topic, payload, len);
        return r < 0 ? r : 0;
}

int mqtt_publish_discovery(MqttClient *c, const char *version, const MqttDeviceInfo (*info)[_DEVICE_ROLE_MAX]) {
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
