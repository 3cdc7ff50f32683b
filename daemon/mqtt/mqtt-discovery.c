/* SPDX-License-Identifier: MIT */

/* Home Assistant MQTT discovery, classic per-entity form:
 *   <prefix>/<component>/<node_id>/<object_id>/config
 * node_id is the wearer's (or gateway's) configured name, object_id "insole2mqtt_<what>". */

#include <stdio.h>
#include <string.h>

#include "mqtt-publish.h"

typedef struct Entity {
        const char *component;      /* "sensor" / "binary_sensor" */
        const char *object;         /* object id suffix, also the unique_id suffix */
        const char *name;
        MqttWearerTopic topic;      /* for wearer entities */
        MqttDeviceTopic device_topic; /* for insole entities */
        const char *value_template;
        const char *unit;
        const char *device_class;
        const char *state_class;
        const char *icon;
        const char *entity_category;
        bool disabled_by_default;
        bool needs_reminders;
        bool needs_footpod;
        bool needs_alerts;
} Entity;

static const Entity wearer_entities[] = {
        { "sensor", "steps_today", "Steps today", MQTT_WEARER_STEPS, 0, "{{ value_json.steps_today }}",
          "steps", NULL, "total_increasing", "mdi:shoe-print" },
        { "sensor", "steps_total", "Steps total", MQTT_WEARER_STEPS, 0, "{{ value_json.steps_total }}",
          "steps", NULL, "total_increasing", "mdi:shoe-print" },
        /* gait: the engine's payload (docs/metrics.md), 60 s window for steadier values */
        { "sensor", "cadence", "Cadence", MQTT_WEARER_GAIT, 0, "{{ value_json.last_60s.cadence_spm }}", "steps/min",
          NULL, "measurement", "mdi:metronome" },
        { "sensor", "stance_time_left", "Stance time left", MQTT_WEARER_GAIT, 0,
          "{{ value_json.last_60s.left.stance_time_ms }}", "ms", "duration", "measurement", NULL },
        { "sensor", "stance_time_right", "Stance time right", MQTT_WEARER_GAIT, 0,
          "{{ value_json.last_60s.right.stance_time_ms }}", "ms", "duration", "measurement", NULL },
        { "sensor", "step_asymmetry", "Step time asymmetry", MQTT_WEARER_GAIT, 0,
          "{{ value_json.last_60s.symmetry.step_time_si_pct }}", "%", NULL, "measurement", "mdi:scale-balance" },
        { "sensor", "activity", "Activity", MQTT_WEARER_ACTIVITY, 0, "{{ value_json.activity }}", NULL,
          "enum", NULL, "mdi:run" },
        { "binary_sensor", "walking", "Walking", MQTT_WEARER_ACTIVITY, 0,
          "{{ 'ON' if value_json.activity in ['walking', 'running'] else 'OFF' }}", NULL, "moving", NULL,
          NULL },
        /* a footpod's measurements (docs/metrics.md): the gait payload's `footpod`, the day's distance */
        { "sensor", "speed", "Speed", MQTT_WEARER_GAIT, 0, "{{ value_json.footpod.speed_m_s | default(none) }}", "m/s", "speed",
          "measurement", NULL, .needs_footpod = true },
        { "sensor", "pace", "Pace", MQTT_WEARER_GAIT, 0, "{{ value_json.footpod.pace_s_per_km | default(none) }}", "s/km", NULL,
          "measurement", "mdi:timer-outline", .needs_footpod = true },
        { "sensor", "stride_length", "Stride length", MQTT_WEARER_GAIT, 0,
          "{{ value_json.footpod.stride_length_m | default(none) }}", "m", "distance", "measurement", "mdi:ruler",
          .needs_footpod = true },
        { "sensor", "distance_today", "Distance today", MQTT_WEARER_TODAY, 0, "{{ value_json.distance_m }}", "m",
          "distance", "total_increasing", NULL, .needs_footpod = true },
        { "sensor", "distance_total", "Distance total", MQTT_WEARER_GAIT, 0,
          "{{ value_json.footpod.distance_total_m }}", "m", "distance", "total_increasing", NULL,
          .needs_footpod = true },
        /* docs/reminders.md: the retained state's `due` */
        { "binary_sensor", "move_reminder_due", "Move reminder due", MQTT_WEARER_REMINDER_STATE, 0,
          "{{ 'ON' if value_json.due else 'OFF' }}", NULL, NULL, NULL, "mdi:human-handsup",
          .needs_reminders = true },
        /* docs/alerts.md: the retained alert state's `changed` (a change not acknowledged yet) */
        { "binary_sensor", "walking_changed", "Walking changed", MQTT_WEARER_ALERT_STATE, 0,
          "{{ 'ON' if value_json.changed else 'OFF' }}", NULL, "problem", NULL, "mdi:walk", .needs_alerts = true },
};

static const Entity device_entities[] = {
        { "sensor", "battery", "Battery", 0, MQTT_DEVICE_BATTERY, "{{ value_json.battery_pct }}", "%", "battery",
          "measurement", NULL, "diagnostic" },
        { "sensor", "rssi", "Signal strength", 0, MQTT_DEVICE_LINK, "{{ value_json.rssi_dbm }}", "dBm",
          "signal_strength", "measurement", NULL, "diagnostic", .disabled_by_default = true },
        { "binary_sensor", "connected", "Connected", 0, MQTT_DEVICE_LINK,
          "{{ 'ON' if value_json.connected else 'OFF' }}", NULL, "connectivity", NULL, NULL, "diagnostic" },
};

static void device_block_gateway(JsonWriter *w, const Config *c, const char *version) {
        char id[64];

        (void) snprintf(id, sizeof id, "insole2mqtt_gateway_%s", c->gateway_id);
        json_key(w, "device");
        json_object_begin(w);
        json_key(w, "identifiers");
        json_array_begin(w);
        json_string(w, id);
        json_array_end(w);
        json_kv_string(w, "name", c->gateway_id);
        json_kv_string(w, "manufacturer", "insole2mqtt");
        json_kv_string(w, "model", "insole2mqtt gateway");
        json_kv_string(w, "sw_version", version);
        json_object_end(w);
}

static void device_block(JsonWriter *w, const Config *c, const char *wearer, const char *role, const char *version,
                         const MqttDeviceInfo *info) {
        char id[96], via[64], name[96];

        if (role) {
                (void) snprintf(id, sizeof id, "insole2mqtt_%s_%s", wearer, role);
                if (streq(role, "footpod"))
                        (void) snprintf(name, sizeof name, "%s footpod", wearer);
                else
                        (void) snprintf(name, sizeof name, "%s %s insole", wearer, role);
        } else {
                (void) snprintf(id, sizeof id, "insole2mqtt_%s", wearer);
                (void) snprintf(name, sizeof name, "%s", wearer);
        }
        (void) snprintf(via, sizeof via, "insole2mqtt_gateway_%s", c->gateway_id);

        json_key(w, "device");
        json_object_begin(w);
        json_key(w, "identifiers");
        json_array_begin(w);
        json_string(w, id);
        json_array_end(w);
        json_kv_string(w, "name", name);
        /* A device's own Device Information where it told us, our defaults otherwise. */
        json_kv_string(w, "manufacturer", info && info->manufacturer && *info->manufacturer ? info->manufacturer : "insole2mqtt");
        json_kv_string(w, "model", info && info->model && *info->model ? info->model :
                                   role ? (streq(role, "footpod") ? "Foot pod" : "Smart insole") : "Wearer");
        json_kv_string(w, "sw_version", info && info->firmware && *info->firmware ? info->firmware : version);
        if (info && info->hardware && *info->hardware)
                json_kv_string(w, "hw_version", info->hardware);
        json_kv_string(w, "via_device", via);
        json_object_end(w);
}

static int availability_entry(JsonWriter *w, const char *topic) {
        json_object_begin(w);
        json_kv_string(w, "topic", topic);
        json_kv_string(w, "value_template", "{{ value_json.state }}");
        json_kv_string(w, "payload_available", "online");
        json_kv_string(w, "payload_not_available", "offline");
        json_object_end(w);
        return 0;
}

static void origin_block(JsonWriter *w, const char *version) {
        json_key(w, "origin");
        json_object_begin(w);
        json_kv_string(w, "name", "insole2mqtt");
        json_kv_string(w, "sw_version", version);
        json_object_end(w);
}

static int emit(JsonWriter *w, const char *topic, MqttDiscoveryCallback cb, void *userdata) {
        const char *p;
        size_t n;
        int r;

        r = json_writer_finish(w, &p, &n);
        if (r < 0)
                return r;
        return cb(topic, p, n, userdata);
}

static int entity_config(const Config *c, const char *version, const WearerConfig *wc, const char *role,
                         const MqttDeviceInfo *info, const Entity *e, MqttDiscoveryCallback cb, void *userdata) {
        char topic[MQTT_TOPIC_MAX], state_topic[MQTT_TOPIC_MAX], bridge_state[MQTT_TOPIC_MAX],
                wearer_avail[MQTT_TOPIC_MAX], device_avail[MQTT_TOPIC_MAX], object[MQTT_NAME_MAX + 1],
                unique_id[128], name[64];
        DeviceRole dr = _DEVICE_ROLE_INVALID;
        JsonWriter w;
        int r;

        if (role) {
                dr = device_role_from_string(role);
                r = snprintf(object, sizeof object, "insole2mqtt_%s_%s", role, e->object);
        } else
                r = snprintf(object, sizeof object, "insole2mqtt_%s", e->object);
        if (r < 0 || (size_t) r >= sizeof object)
                return -ENAMETOOLONG;

        r = mqtt_topic_join(topic, sizeof topic, c->homeassistant_prefix, e->component, wc->name, object,
                            "config", NULL);
        if (r < 0)
                return r;
        r = mqtt_topic_bridge(bridge_state, sizeof bridge_state, c->base_topic, c->gateway_id, MQTT_BRIDGE_STATE);
        if (r < 0)
                return r;
        r = mqtt_topic_wearer(wearer_avail, sizeof wearer_avail, c->base_topic, wc->name, MQTT_WEARER_AVAILABILITY);
        if (r < 0)
                return r;
        if (role) {
                r = mqtt_topic_device(state_topic, sizeof state_topic, c->base_topic, wc->name, dr, e->device_topic);
                if (r >= 0)
                        r = mqtt_topic_device(device_avail, sizeof device_avail, c->base_topic, wc->name, dr,
                                              MQTT_DEVICE_AVAILABILITY);
                (void) snprintf(name, sizeof name, "%s", e->name);
        } else {
                r = mqtt_topic_wearer(state_topic, sizeof state_topic, c->base_topic, wc->name, e->topic);
                (void) snprintf(name, sizeof name, "%s", e->name);
        }
        if (r < 0)
                return r;
        (void) snprintf(unique_id, sizeof unique_id, "%s_%s", object, wc->name);

        json_writer_init_dynamic(&w);
        json_object_begin(&w);
        json_kv_string(&w, "name", name);
        json_kv_string(&w, "unique_id", unique_id);
        json_kv_string(&w, "object_id", unique_id);
        json_kv_string(&w, "state_topic", state_topic);
        json_kv_string(&w, "value_template", e->value_template);
        if (e->unit)
                json_kv_string(&w, "unit_of_measurement", e->unit);
        if (e->device_class)
                json_kv_string(&w, "device_class", e->device_class);
        if (e->state_class)
                json_kv_string(&w, "state_class", e->state_class);
        if (e->icon)
                json_kv_string(&w, "icon", e->icon);
        if (e->entity_category)
                json_kv_string(&w, "entity_category", e->entity_category);
        if (e->disabled_by_default)
                json_kv_bool(&w, "enabled_by_default", false);
        if (e->device_class && streq(e->device_class, "enum")) {
                json_key(&w, "options");
                json_array_begin(&w);
                for (ActivityState s = 0; s < _ACTIVITY_MAX; s++)
                        json_string(&w, activity_state_to_string(s));
                json_array_end(&w);
        }
        if (streq(e->component, "binary_sensor")) {
                json_kv_string(&w, "payload_on", "ON");
                json_kv_string(&w, "payload_off", "OFF");
        }
        json_kv_int(&w, "qos", 1);
        json_key(&w, "availability");
        json_array_begin(&w);
        availability_entry(&w, bridge_state);
        availability_entry(&w, wearer_avail);
        if (role)
                availability_entry(&w, device_avail);
        json_array_end(&w);
        json_kv_string(&w, "availability_mode", "all");
        device_block(&w, c, wc->name, role, version, info);
        origin_block(&w, version);
        json_object_end(&w);

        r = emit(&w, topic, cb, userdata);
        json_writer_done(&w);
        return r;
}

static int gateway_config(const Config *c, const char *version, MqttDiscoveryCallback cb, void *userdata) {
        char topic[MQTT_TOPIC_MAX], bridge_state[MQTT_TOPIC_MAX], unique_id[96];
        JsonWriter w;
        int r;

        r = mqtt_topic_join(topic, sizeof topic, c->homeassistant_prefix, "binary_sensor", c->gateway_id,
                            "insole2mqtt_bridge", "config", NULL);
        if (r < 0)
                return r;
        r = mqtt_topic_bridge(bridge_state, sizeof bridge_state, c->base_topic, c->gateway_id, MQTT_BRIDGE_STATE);
        if (r < 0)
                return r;
        (void) snprintf(unique_id, sizeof unique_id, "insole2mqtt_gateway_%s_connection", c->gateway_id);

        json_writer_init_dynamic(&w);
        json_object_begin(&w);
        json_kv_string(&w, "name", "Connection state");
        json_kv_string(&w, "unique_id", unique_id);
        json_kv_string(&w, "object_id", unique_id);
        json_kv_string(&w, "state_topic", bridge_state);
        json_kv_string(&w, "value_template", "{{ value_json.state }}");
        json_kv_string(&w, "payload_on", "online");
        json_kv_string(&w, "payload_off", "offline");
        json_kv_string(&w, "device_class", "connectivity");
        json_kv_string(&w, "entity_category", "diagnostic");
        json_kv_int(&w, "qos", 1);
        device_block_gateway(&w, c, version);
        origin_block(&w, version);
        json_object_end(&w);
        r = emit(&w, topic, cb, userdata);
        json_writer_done(&w);
        return r;
}

int mqtt_discovery_build(const Config *c, const char *version, MqttDiscoveryCallback cb, void *userdata) {
        return mqtt_discovery_build_with_info(c, version, NULL, cb, userdata);
}

int mqtt_discovery_build_with_info(const Config *c, const char *version, const MqttDeviceInfo (*info)[_DEVICE_ROLE_MAX],
                                   MqttDiscoveryCallback cb, void *userdata) {
        int r;

        if (!c || !cb)
                return -EINVAL;
        if (!mqtt_prefix_is_valid(c->homeassistant_prefix) || !mqtt_name_is_valid(c->gateway_id))
                return -EINVAL;

        r = gateway_config(c, version, cb, userdata);
        if (r < 0)
                return r;

        for (size_t i = 0; i < c->n_wearers; i++) {
                const WearerConfig *wc = &c->wearers[i];

                if (!mqtt_name_is_valid(wc->name))
                        return -EINVAL;
                for (size_t k = 0; k < ELEMENTSOF(wearer_entities); k++) {
                        if ((wearer_entities[k].needs_reminders && !c->reminders) ||
                            (wearer_entities[k].needs_alerts && !c->alerts))
                                continue;
                        if (wearer_entities[k].needs_footpod && !wc->has_device[DEVICE_ROLE_FOOTPOD])
                                continue;
                        r = entity_config(c, version, wc, NULL, NULL, &wearer_entities[k], cb, userdata);
                        if (r < 0)
                                return r;
                }
                for (DeviceRole role = 0; role < _DEVICE_ROLE_MAX; role++) {
                        if (!wc->has_device[role])
                                continue;
                        for (size_t k = 0; k < ELEMENTSOF(device_entities); k++) {
                                r = entity_config(c, version, wc, device_role_to_string(role),
                                                  info ? &info[i][role] : NULL, &device_entities[k], cb, userdata);
                                if (r < 0)
                                        return r;
                        }
                }
        }
        return 0;
}
