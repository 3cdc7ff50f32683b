/* SPDX-License-Identifier: MIT */
#pragma once

/* MqttClient: libmosquitto driven by our sd-event loop, without a thread.
 *
 *   - an IO source on mosquitto_socket(), EPOLLOUT only while mosquitto_want_write() (re-evaluated in
 *     a prepare callback, right before the loop sleeps), a new fd after every reconnect;
 *   - a 1 s timer for mosquitto_loop_misc() (keepalive PINGs);
 *   - our own reconnect backoff, 1 s doubling to 60 s with jitter (libmosquitto's own delay only
 *     applies inside its threaded loop);
 *   - the broker name is resolved off the loop with getaddrinfo_a(), so neither DNS nor the TCP
 *     connect (mosquitto_connect_async(), non-blocking) stalls Bluetooth; a connect that gets no
 *     CONNACK within 15 s is abandoned and retried;
 *   - TLS with verification on: CA file/directory (default /etc/ssl/certs), client cert and key,
 *     hostname checked by OpenSSL against tls_server_name or host (SNI too);
 *   - last will <base>/bridge/<gateway>/state {"state":"offline"} retained QoS 1, birth "online";
 *   - a bounded outbox (config->outbox_max) with at most 20 messages in flight; retained states are
 *     cached and re-published after every reconnect and when "<ha prefix>/status" says online.
 * All functions return 0/positive or -errno; libmosquitto's codes are converted at this boundary. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <systemd/sd-event.h>

#include "config.h"
#include "macro.h"
#include "mqtt-publish.h"

typedef struct MqttClient MqttClient;

/* The largest message we accept from the broker (topic + payload + headers). Every topic we read
 * (steps, availability, reminder/set, Home Assistant's status) carries well under 4 KiB. */
#define MQTT_MAX_INCOMING_PACKET 16384u

typedef struct MqttClientStats {
        bool connected;
        uint64_t reconnects;    /* successful connections after the first one */
        uint64_t connect_failures;
        uint64_t published;
        uint64_t dropped;
        uint64_t rejected;
        uint64_t oversized;             /* incoming messages over MQTT_MAX_INCOMING_PACKET, ignored */
        uint64_t outbox_bytes;
        unsigned outbox_depth;  /* pending + in flight */
        unsigned inflight;
} MqttClientStats;

/* A message on a subscribed topic. payload is NUL-terminated (not counted in len) and untrusted. */
typedef void (*MqttMessageHandler)(MqttClient *c, const char *topic, const void *payload, size_t len,
                                   bool retained, void *userdata);
/* Connection changes. error is 0 on connect and on a retryable disconnect (a reconnect is already
 * scheduled), or -errno after a fatal error (bad credentials, TLS setup or verification, protocol):
 * the client then stops retrying and the Manager decides (normally: exit, systemd restarts). */
typedef void (*MqttConnectionHandler)(MqttClient *c, bool connected, int error, void *userdata);
/* Answer of mqtt_client_fetch_retained(): payload NULL and error -ENOENT when the broker had no
 * retained message before the timeout, -ECANCELED when the client is freed first. */
typedef void (*MqttRetainedHandler)(MqttClient *c, const char *topic, const void *payload, size_t len,
                                    int error, void *userdata);

/* config must outlive the client. Validates base topic, gateway id and prefixes (-EINVAL). */
int mqtt_client_new(sd_event *event, const Config *config, MqttClient **ret);
/* Drops the connection without sending the offline state (the broker sends the will). */
MqttClient *mqtt_client_free(MqttClient *c);
DEFINE_TRIVIAL_CLEANUP_FUNC(MqttClient *, mqtt_client_free);

void mqtt_client_set_connection_handler(MqttClient *c, MqttConnectionHandler h, void *userdata);
/* How long a connection may take from connect() to CONNACK before it is abandoned and retried
 * (default 15 s; 0 restores it). */
void mqtt_client_set_connect_timeout(MqttClient *c, uint64_t usec);

/* Starts connecting (asynchronously). */
int mqtt_client_start(MqttClient *c);
/* Clean shutdown: publishes bridge state "offline", blocks up to timeout_usec while the outbox
 * drains (driving the socket with poll() itself, so it works after the event loop has finished),
 * then disconnects; the broker does not send the will after a clean disconnect. Returns -ETIMEDOUT
 * when messages were left (they are lost: persist what matters in the state store first). */
int mqtt_client_stop(MqttClient *c, uint64_t timeout_usec);

/* Queues a message (copying topic and payload). topic must come from the mqtt_topic_* builders.
 * Returns 1 queued, 0 unchanged state, -ENOBUFS outbox full, -EINVAL. Never blocks. */
int mqtt_client_publish(MqttClient *c, MqttPublishKind kind, const char *topic, const void *payload, size_t len);
/* Next sequence number for topic (1, 2, ...), per topic for the life of the client; seeded by
 * mqtt_client_set_seq() (e.g. from the state store) so that seq keeps rising across restarts. */
uint64_t mqtt_client_next_seq(MqttClient *c, const char *topic);
/* The number mqtt_client_next_seq() will return next, without taking it. */
uint64_t mqtt_client_peek_seq(MqttClient *c, const char *topic);
int mqtt_client_set_seq(MqttClient *c, const char *topic, uint64_t last_seq);
/* The last seq used on topic, 0 = none yet. */
uint64_t mqtt_client_get_seq(MqttClient *c, const char *topic);
/* Every topic, known or not yet, continues after at least floor. */
void mqtt_client_raise_seqs(MqttClient *c, uint64_t floor);

/* Subscribes (QoS 1) now and after every reconnect; handler for messages matching filter exactly
 * (no wildcards: we only ever subscribe to our own fixed topics). */
int mqtt_client_subscribe(MqttClient *c, const char *topic, MqttMessageHandler h, void *userdata);

/* Multi-gateway restore: subscribes to topic, hands the first retained message (or -ENOENT after
 * timeout_usec) to h, then unsubscribes. Works before the connection is up: the wait starts at the
 * next connect. */
int mqtt_client_fetch_retained(MqttClient *c, const char *topic, uint64_t timeout_usec, MqttRetainedHandler h,
                               void *userdata);

/* Re-sends every cached retained state (discovery, availability, states). Done automatically after
 * each reconnect and on Home Assistant's "online". */
int mqtt_client_republish_states(MqttClient *c);

void mqtt_client_get_stats(const MqttClient *c, MqttClientStats *ret);
bool mqtt_client_is_connected(const MqttClient *c);
const Config *mqtt_client_get_config(const MqttClient *c);

/* The reconnect backoff (util's backoff_delay()): 1 s doubling to 60 s, then a point in the upper
 * half of it. */
#define MQTT_BACKOFF_INITIAL_USEC (1 * USEC_PER_SEC)
#define MQTT_BACKOFF_MAX_USEC (60 * USEC_PER_SEC)

/* libmosquitto return code -> -errno. */
int mqtt_errno_from_mosq(int mosq_rc);
/* Whether a libmosquitto error ends retrying (mirrors mosquitto_loop_forever(), except that name
 * resolution failures are retried: at boot the network is often not up yet). */
bool mqtt_error_is_fatal(int mosq_rc);

/* ---- Publishing: one path for every message in mqtt_messages[] ----
 *
 *     MqttMessage msg;
 *     r = mqtt_message_queue(&msg, gait_snapshot_to_json(&snap,
 *                            mqtt_message_begin(&msg, c, MQTT_MESSAGE_GAIT, "anna", _DEVICE_ROLE_INVALID, now, buf, size)));
 *
 * mqtt_message_begin() builds the topic and, for stamped messages, writes {"timestamp":...,"seq":N
 * into the writer it returns; the builder appends its members to that same object; the message is
 * queued as written (the outbox keeps its copy): no second serialisation, no parsing. now_usec is
 * CLOCK_REALTIME. The seq is used only when the message is queued (a builder that fails, with
 * -ENODATA say, takes none). State messages are retained, sent again after reconnects and on Home
 * Assistant's birth: publish them on change (a new timestamp is a change). */

struct StateStore;

typedef struct MqttMessage {
        MqttClient *client;
        const MqttMessageInfo *info;
        char topic[MQTT_TOPIC_MAX];
        uint64_t seq;
        int error;
        JsonWriter json;
} MqttMessage;

/* buf/size: the caller's buffer (the hot path: no allocation), or NULL/0 for a growing one. Always
 * returns a writer; on a bad type or name, or a raw-stream message while raw_stream is off, it is
 * one that refuses everything, and mqtt_message_queue() reports why. */
JsonWriter *mqtt_message_begin(MqttMessage *m, MqttClient *c, MqttMessageType type, const char *wearer,
                               DeviceRole role, uint64_t now_usec, char *buf, size_t size);
/* Queues what was written, unless build_result (the builder's return value) is negative. Releases
 * the writer. Returns 1 queued, 0 unchanged state or a raw-stream message that is off, build_result
 * when negative, -EINVAL (bad topic or JSON), -ENOBUFS (buffer or outbox full), -ENOMEM. */
int mqtt_message_queue(MqttMessage *m, int build_result);

/* Home Assistant discovery for every configured wearer and insole (no-op unless
 * config->homeassistant), with the devices' own Device Information (per configured wearer and role,
 * may be NULL); only the entity configs whose payload changed go out again. */
int mqtt_publish_discovery(MqttClient *c, const char *version, const MqttDeviceInfo (*info)[_DEVICE_ROLE_MAX]);

/* <base>/<wearer>/reminder/set: the handler gets the raw (untrusted) payload. */
int mqtt_subscribe_reminder_set(MqttClient *c, const char *wearer, MqttMessageHandler h, void *userdata);
/* <base>/<wearer>/alert/set: the handler gets the raw (untrusted) payload. */
int mqtt_subscribe_alert_set(MqttClient *c, const char *wearer, MqttMessageHandler h, void *userdata);

/* Health helpers: the resident set size from /proc/self/statm, and the transport counters. */
int mqtt_read_rss_bytes(uint64_t *ret);
void mqtt_health_fill_transport(MqttHealth *h, const MqttClient *c);

/* Sequence numbers survive restarts through the state store. */
int mqtt_client_load_seqs(MqttClient *c, const struct StateStore *s);
int mqtt_client_save_seqs(MqttClient *c, struct StateStore *s);
