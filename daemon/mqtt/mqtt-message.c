/* SPDX-License-Identifier: MIT */

#include <errno.h>

#include "mqtt-publish.h"

/* One row per message; docs/mqtt.md's topic table says the same in words, and the schema-check
 * tests walk this table. QoS -1 is the configured qos (1 or 2). */
const MqttMessageInfo mqtt_messages[_MQTT_MESSAGE_TYPE_MAX] = {
#define BRIDGE(t) .scope = MQTT_SCOPE_BRIDGE, .topic = MQTT_BRIDGE_##t
#define WEARER(t) .scope = MQTT_SCOPE_WEARER, .topic = MQTT_WEARER_##t
#define DEVICE(t) .scope = MQTT_SCOPE_DEVICE, .topic = MQTT_DEVICE_##t
#define EVENT .kind = MQTT_PUBLISH_EVENT, .retain = false, .qos = -1
#define STATE .kind = MQTT_PUBLISH_STATE, .retain = true, .qos = -1
#define STREAM .kind = MQTT_PUBLISH_STREAM, .retain = false, .qos = 0
        [MQTT_MESSAGE_BRIDGE_INFO] = { "<base>/bridge/<gateway>/info", BRIDGE(INFO), STATE, .stamped = true,
                                       .schema = "bridge-info" },
        [MQTT_MESSAGE_BRIDGE_HEALTH] = { "<base>/bridge/<gateway>/health", BRIDGE(HEALTH), EVENT, .stamped = true,
                                         .schema = "bridge-health" },
        [MQTT_MESSAGE_AVAILABILITY] = { "<base>/<wearer>/availability", WEARER(AVAILABILITY), STATE,
                                        .schema = "availability" },
        [MQTT_MESSAGE_DEVICE_AVAILABILITY] = { "<base>/<wearer>/<role>/availability", DEVICE(AVAILABILITY), STATE,
                                               .schema = "availability" },
        [MQTT_MESSAGE_GAIT] = { "<base>/<wearer>/gait", WEARER(GAIT), EVENT, .stamped = true, .schema = "gait" },
        [MQTT_MESSAGE_STEPS] = { "<base>/<wearer>/steps", WEARER(STEPS), STATE, .stamped = true, .schema = "steps" },
        [MQTT_MESSAGE_ACTIVITY] = { "<base>/<wearer>/activity", WEARER(ACTIVITY), EVENT, .stamped = true,
                                    .schema = "activity" },
        [MQTT_MESSAGE_BATTERY] = { "<base>/<wearer>/<role>/battery", DEVICE(BATTERY), STATE, .stamped = true,
                                   .schema = "battery" },
        [MQTT_MESSAGE_LINK] = { "<base>/<wearer>/<role>/link", DEVICE(LINK), STATE, .stamped = true, .schema = "link" },
        [MQTT_MESSAGE_PRESSURE] = { "<base>/<wearer>/<role>/pressure", DEVICE(PRESSURE), STREAM, .stamped = true,
                                    .raw_stream_only = true, .schema = "pressure" },
        [MQTT_MESSAGE_REMINDER] = { "<base>/<wearer>/reminder", WEARER(REMINDER), EVENT, .stamped = true,
                                    .schema = "reminder" },
        [MQTT_MESSAGE_REMINDER_STATE] = { "<base>/<wearer>/reminder/state", WEARER(REMINDER_STATE), STATE,
                                          .stamped = true, .schema = "reminder" },
        [MQTT_MESSAGE_DAILY] = { "<base>/<wearer>/daily", WEARER(DAILY), STATE, .stamped = true, .schema = "reminder" },
        [MQTT_MESSAGE_EXERCISE] = { "<base>/<wearer>/exercise", WEARER(EXERCISE), EVENT, .stamped = true,
                                    .schema = "reminder" },
        [MQTT_MESSAGE_TODAY] = { "<base>/<wearer>/today", WEARER(TODAY), STATE, .stamped = true, .schema = "reminder" },
        [MQTT_MESSAGE_BASELINE] = { "<base>/<wearer>/baseline", WEARER(BASELINE), STATE, .stamped = true,
                                    .schema = "baseline" },
        [MQTT_MESSAGE_ALERT] = { "<base>/<wearer>/alert", WEARER(ALERT), EVENT, .stamped = true, .schema = "alert" },
        [MQTT_MESSAGE_ALERT_STATE] = { "<base>/<wearer>/alert/state", WEARER(ALERT_STATE), STATE, .stamped = true,
                                       .schema = "alert-state" },
#undef BRIDGE
#undef WEARER
#undef DEVICE
#undef EVENT
#undef STATE
#undef STREAM
};

int mqtt_message_topic(char *buf, size_t size, const char *base, const char *gateway, MqttMessageType type,
                       const char *wearer, DeviceRole role) {
        const MqttMessageInfo *info;

        if ((unsigned) type >= _MQTT_MESSAGE_TYPE_MAX) {
                if (size > 0)
                        buf[0] = 0;
                return -EINVAL;
        }
        info = &mqtt_messages[type];
        switch (info->scope) {
        case MQTT_SCOPE_BRIDGE:
                return mqtt_topic_bridge(buf, size, base, gateway, info->topic);
        case MQTT_SCOPE_WEARER:
                return mqtt_topic_wearer(buf, size, base, wearer, info->topic);
        default:
                return mqtt_topic_device(buf, size, base, wearer, role, info->topic);
        }
}
