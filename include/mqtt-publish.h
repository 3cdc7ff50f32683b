/* SPDX-License-Identifier: MIT */
#pragma once

/* The MQTT topic contract and every payload that is not gait- or reminder-specific.
 *
 * Topics (docs/mqtt.md has the full table and docs/schema/ one JSON schema per payload):
 *   <base>/bridge/<gateway>/state              retained, also the last will   {"state":"online"|"offline"}
 *   <base>/bridge/<gateway>/info               retained
 *   <base>/bridge/<gateway>/health             periodic
 *   <base>/<wearer>/availability               retained                       {"state":...}
 *   <base>/<wearer>/<left|right|footpod>/availability   retained
 *   <base>/<wearer>/gait                       the gait engine's metrics after timestamp + seq
 *   <base>/<wearer>/steps                      retained counters
 *   <base>/<wearer>/activity                   state changes (events)
 *   <base>/<wearer>/<role>/battery, /link      retained
 *   <base>/<wearer>/<role>/pressure            optional decimated raw stream (QoS 0, droppable)
 *   <base>/<wearer>/reminder                   reminder events (the reminders module's JSON, stamped)
 *   <base>/<wearer>/reminder/set               command topic (subscribed)
 *   <base>/<wearer>/reminder/state             retained reminder state (the reminders module's JSON)
 *   <base>/<wearer>/daily                      retained daily summary (the reminders module's JSON)
 *   <base>/<wearer>/exercise                   exercise events (the reminders module's JSON)
 *   <base>/<wearer>/baseline                   retained personal baseline (the alerts module's JSON)
 *   <base>/<wearer>/alert                      change alert events (the alerts module's JSON)
 *   <base>/<wearer>/alert/set                  command topic (subscribed)
 *   <base>/<wearer>/alert/state                retained alert state (the alerts module's JSON)
 *
 * Every topic segment that is not a fixed word comes from the configuration and is checked against
 * [a-z0-9_-]{1,32} again here: a builder refuses (-EINVAL) rather than publish to a surprising
 * topic. The base topic and the Home Assistant prefix are 1..64 bytes of such segments joined by
 * single '/'.
 *
 * Builders are pure: time comes in as CLOCK_REALTIME microseconds, sequence numbers as arguments;
 * they never log. A payload is written once: mqtt_payload_begin_stamped() writes the leading
 * "timestamp" and "seq", and the builder that follows (ours below, or another module's, such as
 * gait_snapshot_to_json()) appends its members to the same object. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "insole.h"
#include "json.h"

#define MQTT_TOPIC_MAX TOPIC_MAX
#define MQTT_NAME_MAX TOPIC_LEVEL_MAX
#define MQTT_TIMESTAMP_MAX 32 /* "2026-11-22T10:00:00.123Z" + NUL, with room */

/* [a-z0-9_-]{1,32}, NUL-terminated within 33 bytes. */
bool mqtt_name_is_valid(const char *s);
/* One or more valid names joined by single '/', 1..64 bytes, no leading/trailing '/'. */
bool mqtt_prefix_is_valid(const char *s);

typedef enum MqttBridgeTopic {
        MQTT_BRIDGE_STATE,
        MQTT_BRIDGE_INFO,
        MQTT_BRIDGE_HEALTH,
        _MQTT_BRIDGE_TOPIC_MAX,
        _MQTT_BRIDGE_TOPIC_INVALID = -1,
} MqttBridgeTopic;

typedef enum MqttWearerTopic {
        MQTT_WEARER_AVAILABILITY,
        MQTT_WEARER_GAIT,
        MQTT_WEARER_STEPS,
        MQTT_WEARER_ACTIVITY,
        MQTT_WEARER_REMINDER,
        MQTT_WEARER_REMINDER_SET,
        MQTT_WEARER_REMINDER_STATE,
        MQTT_WEARER_DAILY,
        MQTT_WEARER_EXERCISE,
        MQTT_WEARER_TODAY,
        MQTT_WEARER_BASELINE,
        MQTT_WEARER_ALERT,
        MQTT_WEARER_ALERT_SET,
        MQTT_WEARER_ALERT_STATE,
        _MQTT_WEARER_TOPIC_MAX,
        _MQTT_WEARER_TOPIC_INVALID = -1,
} MqttWearerTopic;

typedef enum MqttDeviceTopic {
        MQTT_DEVICE_AVAILABILITY,
        MQTT_DEVICE_BATTERY,
        MQTT_DEVICE_LINK,
        MQTT_DEVICE_PRESSURE,
        _MQTT_DEVICE_TOPIC_MAX,
        _MQTT_DEVICE_TOPIC_INVALID = -1,
} MqttDeviceTopic;

/* Join base and validated segments with '/'. Each segment must be a valid name; the list ends with
 * NULL. -EINVAL for an invalid base or segment, -ENAMETOOLONG when buf is too small. */
int mqtt_topic_join(char *buf, size_t size, const char *base, ...) __attribute__((sentinel));
int mqtt_topic_bridge(char *buf, size_t size, const char *base, const char *gateway, MqttBridgeTopic which);
int mqtt_topic_wearer(char *buf, size_t size, const char *base, const char *wearer, MqttWearerTopic which);
int mqtt_topic_device(char *buf, size_t size, const char *base, const char *wearer, DeviceRole role,
                      MqttDeviceTopic which);

/* "2026-11-22T10:00:00.123Z" (UTC, milliseconds). Returns buf (>= MQTT_TIMESTAMP_MAX bytes). */
char *mqtt_format_timestamp(uint64_t realtime_usec, char *buf);

/* Every event/state payload starts with these two fields. */
typedef struct MqttStamp {
        uint64_t realtime_usec;
        uint64_t seq; /* per topic, starts at 1, +1 per message published on that topic */
} MqttStamp;

/* Opens the payload object with {"timestamp":...,"seq":N and lets the next builder's object join
 * it (json_object_join_next()): that builder's members follow, its closing brace ends the payload.
 * The builders below that take no stamp write a complete object, joinable the same way. */
void mqtt_payload_begin_stamped(JsonWriter *w, const MqttStamp *stamp);

/* {"state":"online"} / {"state":"offline"}: bridge state (birth and last will) and availability.
 * Deliberately nothing else, so that the last will (fixed bytes set at connect) and the birth
 * look alike, as zigbee2mqtt users expect. */
void mqtt_payload_state(JsonWriter *w, bool online);
/* {"state":"online","gateway":"room-a"}: a wearer's or an insole's availability. Several gateways
 * may serve one wearer; the gateway field tells whose claim it is (Home Assistant reads only
 * `state`). */
int mqtt_payload_availability(JsonWriter *w, bool online, const char *gateway);

/* A device's own Device Information (already validated as printable text by the caller); NULL or
 * "" fields are left out. Payload text only: never part of a topic or an id. */
typedef struct MqttDeviceInfo {
        const char *manufacturer;
        const char *model;
        const char *firmware;
        const char *hardware;
} MqttDeviceInfo;

/* {"manufacturer":...,...} of the fields that are set, or nothing at all when none is. */
void mqtt_payload_device_info(JsonWriter *w, const char *key, const MqttDeviceInfo *info);

typedef struct MqttAdapterInfo {
        const char *name;  /* "hci0": from BlueZ's object path, never from a remote device */
        bool powered;
} MqttAdapterInfo;

typedef struct MqttBridgeInfo {
        const char *version;
        const Config *config;          /* gateway id, wearers and their configured roles */
        const MqttAdapterInfo *adapters;
        size_t n_adapters;
        /* per configured wearer (config order) and role; NULL = none known */
        const MqttDeviceInfo (*device_info)[_DEVICE_ROLE_MAX];
} MqttBridgeInfo;

int mqtt_payload_bridge_info(JsonWriter *w, const MqttBridgeInfo *info);

typedef struct MqttHealth {
        uint64_t uptime_usec;
        uint64_t memory_rss_bytes;     /* from /proc/self/statm, read by the caller */
        double notifications_per_s;
        uint64_t decode_errors;
        uint64_t lost_frames;
        unsigned devices_connected;
        unsigned devices_configured;
        /* MQTT transport, from mqtt_client_get_stats() */
        uint64_t mqtt_reconnects;
        uint64_t mqtt_published;
        uint64_t mqtt_dropped;
        unsigned mqtt_outbox_depth;
        unsigned mqtt_inflight;
        uint64_t mqtt_outbox_bytes;
        uint64_t mqtt_refused;         /* broker messages not believed: oversized, implausible, untrusted */
} MqttHealth;

int mqtt_payload_bridge_health(JsonWriter *w, const MqttHealth *h);

/* The insole's own cumulative counter as last accounted for, so that another gateway picking the
 * wearer up can count the steps taken in between exactly once. */
typedef struct MqttDeviceSteps {
        bool valid;
        uint32_t boot_id;
        uint32_t steps;
} MqttDeviceSteps;

typedef struct MqttSteps {
        uint64_t steps_today;
        uint64_t steps_total;
        char day[11];                  /* local date of steps_today, "2026-11-22" */
        const char *gateway;           /* the gateway that counted them; NULL = not written */
        MqttDeviceSteps device[_DEVICE_ROLE_MAX];
        bool has_distance;             /* a footpod wearer's distance, counted like the steps */
        uint64_t distance_today_dm;
        uint64_t distance_total_dm;
        bool has_footpod_total;        /* the footpod's own Total Distance as last accounted for */
        uint32_t footpod_total_dm;
} MqttSteps;

int mqtt_payload_steps(JsonWriter *w, const MqttSteps *s);

int mqtt_payload_activity(JsonWriter *w, ActivityState state, ActivityState previous, uint64_t previous_duration_usec);

/* battery_percent 0..100 */
int mqtt_payload_battery(JsonWriter *w, DeviceRole role, unsigned battery_percent);

typedef struct MqttLinkStats {
        bool connected;
        bool refused;                  /* require-bonded: not bonded, never connected or streamed */
        bool has_rssi;
        int rssi_dbm;
        double notifications_per_s;
        uint64_t lost_frames;
        uint64_t decode_errors;
        uint64_t reconnects;
        uint64_t connected_usec;       /* how long the current link has been up, 0 when down */
        MqttDeviceInfo info;           /* the device's Device Information, as far as known */
} MqttLinkStats;

int mqtt_payload_link(JsonWriter *w, DeviceRole role, const MqttLinkStats *l);

/* One decimated pressure sample; unit from the insole's layout. */
int mqtt_payload_pressure(JsonWriter *w, const PressureSample *s, PressureUnit unit);

/* Every message the gateway publishes: one row each in mqtt_messages[] (mqtt-message.c), the
 * single description of its topic, delivery and schema that the publish path, the tests and
 * docs/mqtt.md share. */
typedef enum MqttMessageType {
        MQTT_MESSAGE_BRIDGE_INFO,
        MQTT_MESSAGE_BRIDGE_HEALTH,
        MQTT_MESSAGE_AVAILABILITY,          /* the wearer's */
        MQTT_MESSAGE_DEVICE_AVAILABILITY,   /* one insole's or footpod's */
        MQTT_MESSAGE_GAIT,
        MQTT_MESSAGE_STEPS,
        MQTT_MESSAGE_ACTIVITY,
        MQTT_MESSAGE_BATTERY,
        MQTT_MESSAGE_LINK,
        MQTT_MESSAGE_PRESSURE,
        MQTT_MESSAGE_REMINDER,
        MQTT_MESSAGE_REMINDER_STATE,
        MQTT_MESSAGE_DAILY,
        MQTT_MESSAGE_EXERCISE,
        MQTT_MESSAGE_TODAY,
        MQTT_MESSAGE_BASELINE,
        MQTT_MESSAGE_ALERT,
        MQTT_MESSAGE_ALERT_STATE,
        _MQTT_MESSAGE_TYPE_MAX,
        _MQTT_MESSAGE_TYPE_INVALID = -1,
} MqttMessageType;

typedef enum MqttTopicScope {
        MQTT_SCOPE_BRIDGE,  /* <base>/bridge/<gateway>/... */
        MQTT_SCOPE_WEARER,  /* <base>/<wearer>/... */
        MQTT_SCOPE_DEVICE,  /* <base>/<wearer>/<role>/... */
} MqttTopicScope;

/* How the outbox treats a message (mqtt.h has the details). */
typedef enum MqttPublishKind {
        MQTT_PUBLISH_EVENT,     /* QoS >= 1, never dropped silently (refused with -ENOBUFS when full) */
        MQTT_PUBLISH_STATE,     /* retained QoS >= 1, cached; identical payloads are not re-sent */
        MQTT_PUBLISH_STREAM,    /* QoS 0, dropped oldest-first when the outbox is full */
} MqttPublishKind;

typedef struct MqttMessageInfo {
        const char *topic_pattern;  /* as docs/mqtt.md writes it: "<base>/<wearer>/gait" */
        MqttTopicScope scope;
        int topic;                  /* MqttBridgeTopic, MqttWearerTopic or MqttDeviceTopic, per scope */
        MqttPublishKind kind;
        bool retain;                /* kind == STATE */
        int qos;                    /* 0, or -1: the configured qos (1 or 2) */
        bool stamped;               /* starts with "timestamp" and "seq" */
        bool raw_stream_only;       /* published only with raw_stream = yes */
        const char *schema;         /* docs/schema/<schema>.json */
} MqttMessageInfo;

extern const MqttMessageInfo mqtt_messages[_MQTT_MESSAGE_TYPE_MAX];

/* The message's topic: wearer is ignored for bridge messages, role used only for device ones.
 * -EINVAL for an unknown type or a name the topic builders refuse, -ENAMETOOLONG. */
int mqtt_message_topic(char *buf, size_t size, const char *base, const char *gateway, MqttMessageType type,
                       const char *wearer, DeviceRole role);

/* Home Assistant MQTT discovery: one callback per entity config (retained). Devices: the gateway,
 * one per wearer, one per configured insole/footpod (via_device the gateway). unique_ids depend only
 * on configured names, so several gateways announcing one wearer agree. Returns the first negative
 * return of cb or of a builder. */
typedef int (*MqttDiscoveryCallback)(const char *topic, const char *payload, size_t len, void *userdata);
int mqtt_discovery_build(const Config *c, const char *version, MqttDiscoveryCallback cb, void *userdata);
/* The same, with the devices' own manufacturer, model, firmware and hardware revision in their
 * device blocks (info per configured wearer and role; NULL = none known). */
int mqtt_discovery_build_with_info(const Config *c, const char *version, const MqttDeviceInfo (*info)[_DEVICE_ROLE_MAX],
                                   MqttDiscoveryCallback cb, void *userdata);

/* The topic Home Assistant announces its birth on: "<homeassistant_prefix>/status". */
int mqtt_topic_homeassistant_status(char *buf, size_t size, const Config *c);
