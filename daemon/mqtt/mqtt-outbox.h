/* SPDX-License-Identifier: MIT */
#pragma once

/* Our own bounded outbox in front of libmosquitto (whose queue has no bound). Messages wait here
 * while the broker is away and are handed to libmosquitto only while connected, at most
 * max_inflight at a time. Once mosquitto_publish() accepted a QoS>0 message — and that includes
 * its MOSQ_ERR_NO_CONN/ERRNO/CONN_LOST returns, which come *after* the message was queued
 * internally — libmosquitto owns the delivery: it re-sends it itself after the next (re)connect,
 * so we only wait for on_publish(mid) and never hand it over again.
 *
 * Kinds:
 *   EVENT   QoS >= 1, kept until acknowledged; when the outbox is full it is refused (-ENOBUFS,
 *           counted as dropped) unless a STREAM message can make room.
 *   STATE   retained; the last payload per topic is cached. An identical payload is not sent again
 *           (discovery, availability), a newer one replaces a still pending one for the same topic,
 *           and mqtt_outbox_requeue_states() re-sends the cache (after a reconnect, on Home
 *           Assistant's birth).
 *   STREAM  QoS 0 raw data; dropped oldest first to make room (the only kind that is dropped
 *           silently by design). */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "macro.h"

struct mosquitto;

typedef enum MqttMessageKind {
        MQTT_MESSAGE_EVENT,
        MQTT_MESSAGE_STATE,
        MQTT_MESSAGE_STREAM,
        _MQTT_MESSAGE_KIND_MAX,
        _MQTT_MESSAGE_KIND_INVALID = -1,
} MqttMessageKind;

typedef struct MqttOutboxStats {
        uint64_t published;  /* acknowledged (QoS>0) or written (QoS 0) */
        uint64_t dropped;    /* STREAM messages dropped for room, EVENTs refused when full, QoS 0 writes that failed */
        uint64_t dropped_count; /* ... of them because max_messages was reached */
        uint64_t dropped_bytes; /* ... because max_bytes was reached (or the message alone is larger) */
        uint64_t dropped_write; /* ... QoS 0 messages whose write failed (not retried) */
        uint64_t rejected;   /* refused by libmosquitto's own checks (topic, size) */
        uint64_t handed;     /* passed to mosquitto_publish() */
        unsigned pending;    /* waiting here */
        unsigned inflight;   /* handed over, not yet acknowledged */
        unsigned retained;   /* topics in the retained cache */
        size_t bytes;        /* held by pending and in-flight messages, allocation included */
} MqttOutboxStats;

typedef struct MqttOutbox MqttOutbox;

int mqtt_outbox_new(unsigned max_messages, unsigned max_inflight, int qos, MqttOutbox **ret);
MqttOutbox *mqtt_outbox_free(MqttOutbox *o);
/* Also bound the bytes held by pending and in-flight messages (default: no byte bound). */
void mqtt_outbox_set_max_bytes(MqttOutbox *o, size_t max_bytes);
DEFINE_TRIVIAL_CLEANUP_FUNC(MqttOutbox *, mqtt_outbox_free);

/* 1 queued, 0 unchanged STATE (nothing to do), -ENOBUFS full, -ENOMEM, -EINVAL. */
int mqtt_outbox_push(MqttOutbox *o, MqttMessageKind kind, const char *topic, const void *payload, size_t len);
/* Hands pending messages to libmosquitto while fewer than max_inflight are unacknowledged. Call
 * only while connected. Returns the number handed over, or -ENOTCONN when libmosquitto reported
 * the connection gone (the rest stays pending). */
int mqtt_outbox_flush(MqttOutbox *o, struct mosquitto *mosq);
/* on_publish(mid): true when the mid was ours. */
bool mqtt_outbox_acked(MqttOutbox *o, int mid);
/* Queues every cached retained state again unless the same topic is still pending or in flight.
 * Returns how many were queued. */
int mqtt_outbox_requeue_states(MqttOutbox *o);
void mqtt_outbox_get_stats(const MqttOutbox *o, MqttOutboxStats *ret);
unsigned mqtt_outbox_depth(const MqttOutbox *o);
/* Waiting here, not yet handed to libmosquitto. */
unsigned mqtt_outbox_pending(const MqttOutbox *o);
