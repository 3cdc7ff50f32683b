/* SPDX-License-Identifier: MIT */

/* The outbox against a scripted libmosquitto: mosquitto_publish() is wrapped at link time
 * (-Wl,--wrap=mosquitto_publish) so that each return code can be asserted on. */

#include <mosquitto.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "mqtt-outbox.h"

int __wrap_mosquitto_publish(struct mosquitto *mosq, int *mid, const char *topic, int payloadlen,
                             const void *payload, int qos, bool retain);

typedef struct Call {
        char topic[64];
        char payload[64];
        int qos;
        bool retain;
        int mid;
} Call;

static Call calls[256];
static size_t n_calls;
static int next_rc = MOSQ_ERR_SUCCESS;
static int next_mid = 1;

int __wrap_mosquitto_publish(struct mosquitto *mosq, int *mid, const char *topic, int payloadlen,
                             const void *payload, int qos, bool retain) {
        Call *c = &calls[n_calls++];

        assert_true(n_calls <= ELEMENTSOF(calls));
        snprintf(c->topic, sizeof c->topic, "%s", topic);
        snprintf(c->payload, sizeof c->payload, "%.*s", payloadlen, (const char *) payload);
        c->qos = qos;
        c->retain = retain;
        c->mid = next_mid++;
        *mid = c->mid;
        return next_rc;
}

static int setup(void **state) {
        n_calls = 0;
        next_rc = MOSQ_ERR_SUCCESS;
        next_mid = 1;
        return 0;
}

static struct mosquitto *const fake = (struct mosquitto *) 0x1;

static void push(MqttOutbox *o, MqttMessageKind k, const char *topic, const char *payload, int expect) {
        assert_int_equal(mqtt_outbox_push(o, k, topic, payload, strlen(payload)), expect);
}

static void test_flush_and_ack(void **state) {
        _cleanup_(mqtt_outbox_freep) MqttOutbox *o = NULL;
        MqttOutboxStats st;

        assert_int_equal(mqtt_outbox_new(100, 3, 1, &o), 0);
        for (int i = 0; i < 5; i++) {
                char p[16];
                snprintf(p, sizeof p, "{\"seq\":%d}", i + 1);
                push(o, MQTT_MESSAGE_EVENT, "insole/anna/gait", p, 1);
        }
        /* at most 3 in flight */
        assert_int_equal(mqtt_outbox_flush(o, fake), 3);
        assert_int_equal(n_calls, 3);
        assert_int_equal(calls[0].qos, 1);
        assert_false(calls[0].retain);
        assert_string_equal(calls[2].payload, "{\"seq\":3}");
        assert_int_equal(mqtt_outbox_flush(o, fake), 0);
        assert_int_equal(mqtt_outbox_depth(o), 5);

        assert_true(mqtt_outbox_acked(o, calls[1].mid));
        assert_false(mqtt_outbox_acked(o, calls[1].mid)); /* once */
        assert_false(mqtt_outbox_acked(o, 999));
        assert_int_equal(mqtt_outbox_flush(o, fake), 1);
        assert_string_equal(calls[3].payload, "{\"seq\":4}");
        mqtt_outbox_get_stats(o, &st);
        assert_int_equal(st.published, 1);
        assert_int_equal(st.inflight, 3);
        assert_int_equal(st.pending, 1);
}

/* MOSQ_ERR_NO_CONN from mosquitto_publish() for QoS 1 means "queued, will be sent after the
 * reconnect": we must not hand the same message over again. */
static void test_no_conn_is_not_republished(void **state) {
        _cleanup_(mqtt_outbox_freep) MqttOutbox *o = NULL;
        MqttOutboxStats st;

        assert_int_equal(mqtt_outbox_new(100, 10, 1, &o), 0);
        push(o, MQTT_MESSAGE_EVENT, "insole/anna/activity", "{\"a\":1}", 1);
        push(o, MQTT_MESSAGE_EVENT, "insole/anna/activity", "{\"a\":2}", 1);

        next_rc = MOSQ_ERR_NO_CONN;
        assert_int_equal(mqtt_outbox_flush(o, fake), -ENOTCONN);
        assert_int_equal(n_calls, 1); /* stopped at the first sign of a lost connection */

        /* reconnected: only the second message goes out, the first is libmosquitto's to re-send */
        next_rc = MOSQ_ERR_SUCCESS;
        assert_int_equal(mqtt_outbox_requeue_states(o), 0);
        assert_int_equal(mqtt_outbox_flush(o, fake), 1);
        assert_int_equal(n_calls, 2);
        assert_string_equal(calls[1].payload, "{\"a\":2}");
        for (size_t i = 0; i < n_calls; i++)
                assert_true(mqtt_outbox_acked(o, calls[i].mid));
        mqtt_outbox_get_stats(o, &st);
        assert_int_equal(st.published, 2);
        assert_int_equal(st.handed, 2);
        assert_int_equal(mqtt_outbox_depth(o), 0);

        /* the same for a write error inside mosquitto_publish() */
        push(o, MQTT_MESSAGE_EVENT, "insole/anna/activity", "{\"a\":3}", 1);
        next_rc = MOSQ_ERR_ERRNO;
        assert_int_equal(mqtt_outbox_flush(o, fake), -ENOTCONN);
        next_rc = MOSQ_ERR_SUCCESS;
        assert_int_equal(mqtt_outbox_flush(o, fake), 0);
        assert_int_equal(n_calls, 3);
        assert_int_equal(mqtt_outbox_depth(o), 1);
}

static void test_rejected_by_library(void **state) {
        _cleanup_(mqtt_outbox_freep) MqttOutbox *o = NULL;
        MqttOutboxStats st;

        assert_int_equal(mqtt_outbox_new(100, 10, 1, &o), 0);
        push(o, MQTT_MESSAGE_EVENT, "insole/anna/gait", "{}", 1);
        push(o, MQTT_MESSAGE_EVENT, "insole/anna/gait", "{}", 1);
        next_rc = MOSQ_ERR_MALFORMED_UTF8;
        assert_int_equal(mqtt_outbox_flush(o, fake), 0);
        mqtt_outbox_get_stats(o, &st);
        assert_int_equal(st.rejected, 2);
        assert_int_equal(mqtt_outbox_depth(o), 0);
}

static void test_states(void **state) {
        _cleanup_(mqtt_outbox_freep) MqttOutbox *o = NULL;
        MqttOutboxStats st;

        assert_int_equal(mqtt_outbox_new(100, 10, 1, &o), 0);
        push(o, MQTT_MESSAGE_STATE, "insole/anna/availability", "{\"state\":\"online\"}", 1);
        /* identical: nothing to do */
        push(o, MQTT_MESSAGE_STATE, "insole/anna/availability", "{\"state\":\"online\"}", 0);
        push(o, MQTT_MESSAGE_STATE, "insole/anna/steps", "{\"steps_today\":1}", 1);
        /* a newer value replaces the pending one, in place */
        push(o, MQTT_MESSAGE_STATE, "insole/anna/steps", "{\"steps_today\":2}", 1);
        assert_int_equal(mqtt_outbox_depth(o), 2);
        assert_int_equal(mqtt_outbox_flush(o, fake), 2);
        assert_string_equal(calls[0].topic, "insole/anna/availability");
        assert_true(calls[0].retain);
        assert_int_equal(calls[0].qos, 1);
        assert_string_equal(calls[1].payload, "{\"steps_today\":2}");

        /* in flight: a requeue does not duplicate what libmosquitto re-sends itself */
        assert_int_equal(mqtt_outbox_requeue_states(o), 0);
        assert_true(mqtt_outbox_acked(o, calls[0].mid));
        assert_true(mqtt_outbox_acked(o, calls[1].mid));
        /* acknowledged: a requeue (reconnect, Home Assistant's birth) sends the cache again */
        assert_int_equal(mqtt_outbox_requeue_states(o), 2);
        assert_int_equal(mqtt_outbox_flush(o, fake), 2);
        assert_int_equal(n_calls, 4);
        mqtt_outbox_get_stats(o, &st);
        assert_int_equal(st.retained, 2);
}

static void test_bounded_drop_oldest_stream(void **state) {
        _cleanup_(mqtt_outbox_freep) MqttOutbox *o = NULL;
        MqttOutboxStats st;

        assert_int_equal(mqtt_outbox_new(4, 10, 1, &o), 0);
        push(o, MQTT_MESSAGE_STREAM, "insole/anna/left/pressure", "s1", 1);
        push(o, MQTT_MESSAGE_EVENT, "insole/anna/gait", "e1", 1);
        push(o, MQTT_MESSAGE_STREAM, "insole/anna/left/pressure", "s2", 1);
        push(o, MQTT_MESSAGE_STREAM, "insole/anna/left/pressure", "s3", 1);
        /* full: the oldest stream sample makes room, for an event as for a stream sample */
        push(o, MQTT_MESSAGE_EVENT, "insole/anna/gait", "e2", 1);
        push(o, MQTT_MESSAGE_STREAM, "insole/anna/left/pressure", "s4", 1);
        mqtt_outbox_get_stats(o, &st);
        assert_int_equal(st.dropped, 2);
        assert_int_equal(mqtt_outbox_depth(o), 4);
        /* e3 and e4 push out s3 and s4; then only events are left: a new one is refused, never an
         * old one, and a new stream sample is dropped itself */
        push(o, MQTT_MESSAGE_EVENT, "insole/anna/gait", "e3", 1);
        push(o, MQTT_MESSAGE_EVENT, "insole/anna/gait", "e4", 1);
        push(o, MQTT_MESSAGE_STREAM, "insole/anna/left/pressure", "s5", -ENOBUFS);
        push(o, MQTT_MESSAGE_EVENT, "insole/anna/gait", "e5", -ENOBUFS);
        mqtt_outbox_get_stats(o, &st);
        assert_int_equal(st.dropped, 6);

        assert_int_equal(mqtt_outbox_flush(o, fake), 4);
        assert_string_equal(calls[0].payload, "e1");
        assert_string_equal(calls[1].payload, "e2");
        assert_string_equal(calls[2].payload, "e3");
        assert_string_equal(calls[3].payload, "e4");
        assert_int_equal(calls[3].qos, 1);
        mqtt_outbox_get_stats(o, &st);
        assert_int_equal(st.published, 0);
        assert_int_equal(st.inflight, 4);

        /* QoS 0 counts as published once written; no ack comes for it */
        push(o, MQTT_MESSAGE_STREAM, "insole/anna/left/pressure", "s6", -ENOBUFS);
        assert_true(mqtt_outbox_acked(o, calls[0].mid));
        push(o, MQTT_MESSAGE_STREAM, "insole/anna/left/pressure", "s7", 1);
        assert_int_equal(mqtt_outbox_flush(o, fake), 1);
        assert_int_equal(calls[4].qos, 0);
        assert_false(calls[4].retain);
        mqtt_outbox_get_stats(o, &st);
        assert_int_equal(st.published, 2);
        assert_int_equal(st.inflight, 3);
}

static void test_stream_no_conn_kept(void **state) {
        _cleanup_(mqtt_outbox_freep) MqttOutbox *o = NULL;

        assert_int_equal(mqtt_outbox_new(4, 10, 1, &o), 0);
        push(o, MQTT_MESSAGE_STREAM, "insole/anna/left/pressure", "s1", 1);
        /* QoS 0 is not queued by libmosquitto on NO_CONN: it stays ours */
        next_rc = MOSQ_ERR_NO_CONN;
        assert_int_equal(mqtt_outbox_flush(o, fake), -ENOTCONN);
        assert_int_equal(mqtt_outbox_depth(o), 1);
        next_rc = MOSQ_ERR_SUCCESS;
        assert_int_equal(mqtt_outbox_flush(o, fake), 1);
        assert_int_equal(mqtt_outbox_depth(o), 0);
        assert_int_equal(n_calls, 2);
}

static void test_invalid(void **state) {
        _cleanup_(mqtt_outbox_freep) MqttOutbox *o = NULL;
        MqttOutbox *x = NULL;

        assert_int_equal(mqtt_outbox_new(0, 10, 1, &x), -EINVAL);
        assert_int_equal(mqtt_outbox_new(10, 10, 0, &x), -EINVAL);
        assert_int_equal(mqtt_outbox_new(10, 10, 1, &o), 0);
        assert_int_equal(mqtt_outbox_push(o, MQTT_MESSAGE_EVENT, NULL, "x", 1), -EINVAL);
        assert_int_equal(mqtt_outbox_push(o, 7, "t", "x", 1), -EINVAL);
        assert_int_equal(mqtt_outbox_push(o, MQTT_MESSAGE_EVENT, "t", NULL, 1), -EINVAL);
        assert_int_equal(mqtt_outbox_push(o, MQTT_MESSAGE_EVENT, "t", NULL, 0), 1);
        assert_null(mqtt_outbox_free(NULL));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup(test_flush_and_ack, setup),
                cmocka_unit_test_setup(test_no_conn_is_not_republished, setup),
                cmocka_unit_test_setup(test_rejected_by_library, setup),
                cmocka_unit_test_setup(test_states, setup),
                cmocka_unit_test_setup(test_bounded_drop_oldest_stream, setup),
                cmocka_unit_test_setup(test_stream_no_conn_kept, setup),
                cmocka_unit_test_setup(test_invalid, setup),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
