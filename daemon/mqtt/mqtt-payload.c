/* SPDX-License-Identifier: MIT */

#include <string.h>

#include "mqtt-publish.h"

void mqtt_payload_begin_stamped(JsonWriter *w, const MqttStamp *stamp) {
        char ts[MQTT_TIMESTAMP_MAX];

        json_object_begin(w);
        json_kv_string(w, "timestamp", mqtt_format_timestamp(stamp->realtime_usec, ts));
        json_kv_uint(w, "seq", stamp->seq);
        json_object_join_next(w);
}

void mqtt_payload_state(JsonWriter *w, bool online) {
        json_object_begin(w);
        json_kv_string(w, "state", online ? "online" : "offline");
        json_object_end(w);
}

int mqtt_payload_availability(JsonWriter *w, bool online, const char *gateway) {
        json_object_begin(w);
        json_kv_string(w, "state", online ? "online" : "offline");
        if (gateway && mqtt_name_is_valid(gateway))
                json_kv_string(w, "gateway", gateway);
        json_object_end(w);
        return w->error;
}

static bool nonempty(const char *s) {
        return s && *s;
}

void mqtt_payload_device_info(JsonWriter *w, const char *key, const MqttDeviceInfo *info) {
        if (!info || !(nonempty(info->manufacturer) || nonempty(info->model) || nonempty(info->firmware) ||
                       nonempty(info->hardware)))
                return;
        json_key(w, key);
        json_object_begin(w);
        if (nonempty(info->manufacturer))
                json_kv_string(w, "manufacturer", info->manufacturer);
        if (nonempty(info->model))
                json_kv_string(w, "model", info->model);
        if (nonempty(info->firmware))
                json_kv_string(w, "firmware", info->firmware);
        if (nonempty(info->hardware))
                json_kv_string(w, "hardware", info->hardware);
        json_object_end(w);
}

int mqtt_payload_bridge_info(JsonWriter *w, const MqttBridgeInfo *info) {
        const Config *c = info->config;

        json_object_begin(w);
        json_kv_string(w, "version", info->version);
        json_kv_string(w, "gateway", c->gateway_id);
        json_kv_string(w, "base_topic", c->base_topic);
        json_kv_uint(w, "mqtt_protocol_version", c->protocol_version);
        json_kv_bool(w, "homeassistant", c->homeassistant);
        json_kv_bool(w, "reminders", c->reminders);
        json_kv_bool(w, "raw_stream", c->raw_stream);
        json_kv_uint(w, "publish_interval_ms", c->publish_interval_usec / USEC_PER_MSEC);

        json_key(w, "adapters");
        json_array_begin(w);
        for (size_t i = 0; i < info->n_adapters; i++) {
                json_object_begin(w);
                json_kv_string(w, "name", info->adapters[i].name);
                json_kv_bool(w, "powered", info->adapters[i].powered);
                json_object_end(w);
        }
        json_array_end(w);

        json_key(w, "wearers");
        json_array_begin(w);
        for (size_t i = 0; i < c->n_wearers; i++) {
                json_object_begin(w);
                json_kv_string(w, "name", c->wearers[i].name);
                json_key(w, "devices");
                json_array_begin(w);
                for (DeviceRole r = 0; r < _DEVICE_ROLE_MAX; r++)
                        if (c->wearers[i].has_device[r])
                                json_string(w, device_role_to_string(r));
                json_array_end(w);
                if (info->device_info) {
                        bool any = false;
                        for (DeviceRole r = 0; r < _DEVICE_ROLE_MAX; r++) {
                                const MqttDeviceInfo *d = &info->device_info[i][r];
                                any = any || nonempty(d->manufacturer) || nonempty(d->model) ||
                                      nonempty(d->firmware) || nonempty(d->hardware);
                        }
                        if (any) {
                                json_key(w, "device_info");
                                json_object_begin(w);
                                for (DeviceRole r = 0; r < _DEVICE_ROLE_MAX; r++)
                                        if (c->wearers[i].has_device[r])
                                                mqtt_payload_device_info(w, device_role_to_string(r),
                                                                         &info->device_info[i][r]);
                                json_object_end(w);
                        }
                }
                json_object_end(w);
        }
        json_array_end(w);
        json_object_end(w);
        return w->error;
}

int mqtt_payload_bridge_health(JsonWriter *w, const MqttHealth *h) {
        json_object_begin(w);
        json_kv_uint(w, "uptime_s", h->uptime_usec / USEC_PER_SEC);
        json_kv_uint(w, "memory_rss_bytes", h->memory_rss_bytes);
        json_kv_double(w, "notifications_per_s", h->notifications_per_s, 2);
        json_kv_uint(w, "decode_errors", h->decode_errors);
        json_kv_uint(w, "lost_frames", h->lost_frames);
        json_kv_uint(w, "devices_connected", h->devices_connected);
        json_kv_uint(w, "devices_configured", h->devices_configured);
        json_key(w, "mqtt");
        json_object_begin(w);
        json_kv_uint(w, "reconnects", h->mqtt_reconnects);
        json_kv_uint(w, "published", h->mqtt_published);
        json_kv_uint(w, "dropped", h->mqtt_dropped);
        json_kv_uint(w, "outbox_depth", h->mqtt_outbox_depth);
        json_kv_uint(w, "inflight", h->mqtt_inflight);
        json_kv_uint(w, "outbox_bytes", h->mqtt_outbox_bytes);
        json_kv_uint(w, "refused", h->mqtt_refused);
        json_object_end(w);
        json_object_end(w);
        return w->error;
}

int mqtt_payload_steps(JsonWriter *w, const MqttSteps *s) {
        json_object_begin(w);
        json_kv_uint(w, "steps_today", s->steps_today);
        json_kv_uint(w, "steps_total", s->steps_total);
        json_kv_string(w, "day", s->day);
        if (s->gateway && mqtt_name_is_valid(s->gateway))
                json_kv_string(w, "gateway", s->gateway);
        if (s->has_distance) {
                json_kv_double(w, "distance_today_m", s->distance_today_dm / 10.0, 1);
                json_kv_double(w, "distance_total_m", s->distance_total_dm / 10.0, 1);
        }
        bool any = s->has_footpod_total;
        for (DeviceRole r = 0; r < _DEVICE_ROLE_MAX; r++)
                any = any || s->device[r].valid;
        if (any) {
                json_key(w, "devices");
                json_object_begin(w);
                for (DeviceRole r = 0; r < _DEVICE_ROLE_MAX; r++) {
                        bool pod_total = r == DEVICE_ROLE_FOOTPOD && s->has_footpod_total;
                        if (!s->device[r].valid && !pod_total)
                                continue;
                        json_key(w, device_role_to_string(r));
                        json_object_begin(w);
                        if (s->device[r].valid) {
                                json_kv_uint(w, "boot_id", s->device[r].boot_id);
                                json_kv_uint(w, "steps", s->device[r].steps);
                        }
                        if (pod_total)
                                json_kv_uint(w, "total_distance_dm", s->footpod_total_dm);
                        json_object_end(w);
                }
                json_object_end(w);
        }
        json_object_end(w);
        return w->error;
}

int mqtt_payload_activity(JsonWriter *w, ActivityState state, ActivityState previous, uint64_t previous_duration_usec) {
        json_object_begin(w);
        json_kv_string(w, "activity", activity_state_to_string(state));
        json_kv_string(w, "previous", activity_state_to_string(previous));
        json_kv_uint(w, "previous_duration_ms", previous_duration_usec / USEC_PER_MSEC);
        json_object_end(w);
        return w->error;
}

int mqtt_payload_battery(JsonWriter *w, DeviceRole role, unsigned battery_percent) {
        json_object_begin(w);
        json_kv_string(w, "device", device_role_to_string(role));
        json_kv_uint(w, "battery_pct", MIN(battery_percent, 100u));
        json_object_end(w);
        return w->error;
}

int mqtt_payload_link(JsonWriter *w, DeviceRole role, const MqttLinkStats *l) {
        json_object_begin(w);
        json_kv_string(w, "device", device_role_to_string(role));
        json_kv_bool(w, "connected", l->connected);
        json_kv_bool(w, "refused", l->refused);
        if (l->has_rssi)
                json_kv_int(w, "rssi_dbm", l->rssi_dbm);
        else
                json_kv_null(w, "rssi_dbm");
        json_kv_double(w, "notifications_per_s", l->notifications_per_s, 2);
        json_kv_uint(w, "lost_frames", l->lost_frames);
        json_kv_uint(w, "decode_errors", l->decode_errors);
        json_kv_uint(w, "reconnects", l->reconnects);
        json_kv_uint(w, "connected_s", l->connected_usec / USEC_PER_SEC);
        mqtt_payload_device_info(w, "device_info", &l->info);
        json_object_end(w);
        return w->error;
}

int mqtt_payload_pressure(JsonWriter *w, const PressureSample *s, PressureUnit unit) {
        json_object_begin(w);
        json_kv_uint(w, "monotonic_us", s->t_us);
        json_kv_string(w, "unit", pressure_unit_to_string(unit) ?: "raw");
        json_key(w, "cells");
        json_array_begin(w);
        for (unsigned i = 0; i < MIN((unsigned) s->n_cells, (unsigned) INSOLE_MAX_CELLS); i++)
                json_double(w, s->cell[i], 2);
        json_array_end(w);
        if (s->has_imu) {
                json_key(w, "accel_g");
                json_array_begin(w);
                for (unsigned i = 0; i < 3; i++)
                        json_double(w, s->accel_g[i], 3);
                json_array_end(w);
                json_key(w, "gyro_dps");
                json_array_begin(w);
                for (unsigned i = 0; i < 3; i++)
                        json_double(w, s->gyro_dps[i], 2);
                json_array_end(w);
        }
        json_object_end(w);
        return w->error;
}
