/* SPDX-License-Identifier: MIT */

#include <mosquitto.h>
#include <stdlib.h>
#include <string.h>

#include "mqtt-outbox.h"

typedef struct Message Message;
struct Message {
        Message *prev, *next;
        MqttMessageKind kind;
        int mid;            /* 0 while pending */
        size_t len;
        size_t cost;        /* what it holds in memory, for the byte bound */
        char *topic;        /* points into data[] */
        char *payload;
        char data[];
};

typedef struct Retained Retained;
struct Retained {
        Retained *next;
        char *topic;
        char *payload;
        size_t len;
};

typedef struct List {
        Message *head, *tail;
        unsigned n;
} List;

struct MqttOutbox {
        unsigned max_messages;
        size_t max_bytes;
        size_t bytes;
        unsigned max_inflight;
        int qos;
        List pending;
        List inflight;
        Retained *retained;
        unsigned n_retained;
        MqttOutboxStats stats;
};

static void list_append(List *l, Message *m) {
        m->next = NULL;
        m->prev = l->tail;
        if (l->tail)
                l->tail->next = m;
        else
                l->head = m;
        l->tail = m;
        l->n++;
}

static void list_remove(List *l, Message *m) {
        if (m->prev)
                m->prev->next = m->next;
        else
                l->head = m->next;
        if (m->next)
                m->next->prev = m->prev;
        else
                l->tail = m->prev;
        m->prev = m->next = NULL;
        l->n--;
}

static void list_free(List *l) {
        Message *m;
        while ((m = l->head)) {
                list_remove(l, m);
                free(m);
        }
}

static Message *list_find_topic(const List *l, const char *topic) {
        for (Message *m = l->head; m; m = m->next)
                if (m->kind == MQTT_MESSAGE_STATE && streq(m->topic, topic))
                        return m;
        return NULL;
}

int mqtt_outbox_new(unsigned max_messages, unsigned max_inflight, int qos, MqttOutbox **ret) {
        MqttOutbox *o;

        if (max_messages == 0 || max_inflight == 0 || qos < 1 || qos > 2 || !ret)
                return -EINVAL;
        o = calloc(1, sizeof *o);
        if (!o)
                return -ENOMEM;
        o->max_messages = max_messages;
        o->max_bytes = SIZE_MAX;
        o->max_inflight = MIN(max_inflight, 65535u);
        o->qos = qos;
        *ret = o;
        return 0;
}

void mqtt_outbox_set_max_bytes(MqttOutbox *o, size_t max_bytes) {
        o->max_bytes = max_bytes > 0 ? max_bytes : SIZE_MAX;
}

MqttOutbox *mqtt_outbox_free(MqttOutbox *o) {
        Retained *r;

        if (!o)
                return NULL;
        list_free(&o->pending);
        list_free(&o->inflight);
        while ((r = o->retained)) {
                o->retained = r->next;
                free(r->topic);
                free(r->payload);
                free(r);
        }
        free(o);
        return NULL;
}

static Message *message_new(MqttMessageKind kind, const char *topic, const void *payload, size_t len) {
        size_t tlen = strlen(topic);
        Message *m;

        m = malloc(sizeof *m + tlen + 1 + len + 1);
        if (!m)
                return NULL;
        /* + malloc's own header, so that the bound holds for what the process really uses */
        *m = (Message) { .kind = kind, .len = len, .cost = sizeof *m + tlen + 1 + len + 1 + 16 };
        m->topic = m->data;
        memcpy(m->topic, topic, tlen + 1);
        m->payload = m->data + tlen + 1;
        if (len > 0)
                memcpy(m->payload, payload, len);
        m->payload[len] = 0;
        return m;
}

static Retained *retained_find(MqttOutbox *o, const char *topic) {
        for (Retained *r = o->retained; r; r = r->next)
                if (streq(r->topic, topic))
                        return r;
        return NULL;
}

/* Remembers the payload; 0 when it equals the cached one, 1 when it is new or changed. */
static int retained_update(MqttOutbox *o, const char *topic, const void *payload, size_t len) {
        Retained *r = retained_find(o, topic);
        char *copy;

        if (r && r->len == len && memcmp(r->payload, payload, len) == 0)
                return 0;
        copy = malloc(len + 1);
        if (!copy)
                return -ENOMEM;
        if (len > 0)
                memcpy(copy, payload, len);
        copy[len] = 0;
        if (!r) {
                r = calloc(1, sizeof *r);
                if (!r) {
                        free(copy);
                        return -ENOMEM;
                }
                r->topic = strdup(topic);
                if (!r->topic) {
                        free(r);
                        free(copy);
                        return -ENOMEM;
                }
                r->next = o->retained;
                o->retained = r;
                o->n_retained++;
        }
        free(r->payload);
        r->payload = copy;
        r->len = len;
        return 1;
}

static void message_release(MqttOutbox *o, List *l, Message *m) {
        list_remove(l, m);
        o->bytes -= m->cost;
        free(m);
}

static bool drop_oldest_stream(MqttOutbox *o, bool for_bytes) {
        for (Message *m = o->pending.head; m; m = m->next)
                if (m->kind == MQTT_MESSAGE_STREAM) {
                        message_release(o, &o->pending, m);
                        o->stats.dropped++;
                        if (for_bytes)
                                o->stats.dropped_bytes++;
                        else
                                o->stats.dropped_count++;
                        return true;
                }
        return false;
}

unsigned mqtt_outbox_depth(const MqttOutbox *o) {
        return o->pending.n + o->inflight.n;
}

unsigned mqtt_outbox_pending(const MqttOutbox *o) {
        return o->pending.n;
}

static int enqueue(MqttOutbox *o, MqttMessageKind kind, const char *topic, const void *payload, size_t len) {
        Message *m;

        if (kind == MQTT_MESSAGE_STATE) {
                /* A newer state replaces one that has not left yet: a retained topic only ever
                 * needs its latest value, so states never grow the outbox beyond one per topic. */
                Message *old = list_find_topic(&o->pending, topic);
                if (old) {
                        m = message_new(kind, topic, payload, len);
                        if (!m)
                                return -ENOMEM;
                        /* keep the old one's place in the queue */
                        m->prev = old->prev;
                        m->next = old->next;
                        if (old->prev)
                                old->prev->next = m;
                        else
                                o->pending.head = m;
                        if (old->next)
                                old->next->prev = m;
                        else
                                o->pending.tail = m;
                        o->bytes = o->bytes - old->cost + m->cost;
                        free(old);
                        return 1;
                }
        }

        m = message_new(kind, topic, payload, len);
        if (!m)
                return -ENOMEM;
        for (;;) {
                bool over_count = mqtt_outbox_depth(o) >= o->max_messages;
                bool over_bytes = m->cost > o->max_bytes || o->bytes > o->max_bytes - m->cost;

                if (!over_count && !over_bytes)
                        break;
                if (m->cost <= o->max_bytes && drop_oldest_stream(o, !over_count))
                        continue;
                /* Full of events and states we must not lose: refuse the newest. States are still
                 * in the retained cache and go out with the next requeue. */
                free(m);
                o->stats.dropped++;
                if (over_count)
                        o->stats.dropped_count++;
                else
                        o->stats.dropped_bytes++;
                return -ENOBUFS;
        }
        list_append(&o->pending, m);
        o->bytes += m->cost;
        return 1;
}

int mqtt_outbox_push(MqttOutbox *o, MqttMessageKind kind, const char *topic, const void *payload, size_t len) {
        int r;

        if (!o || !topic || (!payload && len > 0) || kind < 0 || kind >= _MQTT_MESSAGE_KIND_MAX)
                return -EINVAL;
        if (len > INT32_MAX)
                return -EMSGSIZE;

        if (kind == MQTT_MESSAGE_STATE) {
                r = retained_update(o, topic, payload, len);
                if (r <= 0)
                        return r;
        }
        return enqueue(o, kind, topic, payload ?: "", len);
}

int mqtt_outbox_requeue_states(MqttOutbox *o) {
        int n = 0, r;

        for (Retained *rt = o->retained; rt; rt = rt->next) {
                if (list_find_topic(&o->pending, rt->topic) || list_find_topic(&o->inflight, rt->topic))
                        continue; /* already on its way: libmosquitto re-sends in-flight ones itself */
                r = enqueue(o, MQTT_MESSAGE_STATE, rt->topic, rt->payload, rt->len);
                if (r < 0)
                        return r;
                n++;
        }
        return n;
}

static bool rc_means_queued_by_library(int rc) {
        /* mosquitto_publish() queues a QoS>0 message before it tries to send it; these returns
         * come from the sending step, so the message is already libmosquitto's to deliver. */
        switch (rc) {
        case MOSQ_ERR_SUCCESS:
        case MOSQ_ERR_NO_CONN:
        case MOSQ_ERR_CONN_LOST:
        case MOSQ_ERR_ERRNO:
        case MOSQ_ERR_KEEPALIVE:
                return true;
        default:
                return false;
        }
}

int mqtt_outbox_flush(MqttOutbox *o, struct mosquitto *mosq) {
        int handed = 0;

        while (o->pending.head && o->inflight.n < o->max_inflight) {
                Message *m = o->pending.head;
                bool stream = m->kind == MQTT_MESSAGE_STREAM;
                int qos = stream ? 0 : o->qos, mid = 0, rc;

                rc = mosquitto_publish(mosq, &mid, m->topic, (int) m->len, m->payload, qos,
                                       m->kind == MQTT_MESSAGE_STATE);
                if (qos == 0) {
                        if (rc == MOSQ_ERR_NO_CONN)
                                return -ENOTCONN; /* not queued: keep it for later */
                        message_release(o, &o->pending, m);
                        o->stats.handed++;
                        if (rc == MOSQ_ERR_SUCCESS)
                                o->stats.published++;
                        else if (rc_means_queued_by_library(rc)) {
                                o->stats.dropped++; /* the write failed; QoS 0 is not retried */
                                o->stats.dropped_write++;
                                return -ENOTCONN;
                        } else
                                o->stats.rejected++;
                        handed++;
                        continue;
                }

                if (!rc_means_queued_by_library(rc)) {
                        message_release(o, &o->pending, m);
                        o->stats.rejected++;
                        continue;
                }
                list_remove(&o->pending, m);
                m->mid = mid;
                list_append(&o->inflight, m);
                o->stats.handed++;
                handed++;
                if (rc != MOSQ_ERR_SUCCESS)
                        return -ENOTCONN; /* queued inside libmosquitto; never publish it again */
        }
        return handed;
}

bool mqtt_outbox_acked(MqttOutbox *o, int mid) {
        for (Message *m = o->inflight.head; m; m = m->next)
                if (m->mid == mid) {
                        message_release(o, &o->inflight, m);
                        o->stats.published++;
                        return true;
                }
        return false;
}

void mqtt_outbox_get_stats(const MqttOutbox *o, MqttOutboxStats *ret) {
        *ret = o->stats;
        ret->pending = o->pending.n;
        ret->inflight = o->inflight.n;
        ret->retained = o->n_retained;
        ret->bytes = o->bytes;
}
