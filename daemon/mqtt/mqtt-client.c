/* SPDX-License-Identifier: MIT */

#include <arpa/inet.h>
#include <inttypes.h>
#include <mosquitto.h>
#include <mqtt_protocol.h>
#include <netdb.h>
#include <poll.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <unistd.h>

#include "backoff.h"
#include "checksum.h"
#include "log.h"
#include "mqtt-outbox.h"
#include "mqtt-publish.h"
#include "mqtt-tls.h"
#include "mqtt-wakeup-pair.h"
#include "mqtt.h"
#include "state-store.h"
#include "time-util.h"

#define MQTT_MAX_INFLIGHT 20u
#define MQTT_MISC_INTERVAL_USEC (1 * USEC_PER_SEC)
#define MQTT_CONNECT_TIMEOUT_USEC (15 * USEC_PER_SEC)
#define MQTT_RESOLVE_POLL_USEC (20 * USEC_PER_MSEC)
#define MQTT_HA_REANNOUNCE_DELAY_USEC (1 * USEC_PER_SEC)
/* MQTT 5: the session outlives a disconnect by this long (3.1.1's clean session false has no limit) */
#define MQTT_SESSION_EXPIRY_SEC (7u * 24 * 3600)

#define IN_SET(x, a, b, c) ((x) == (a) || (x) == (b) || (x) == (c))

typedef enum ClientState {
        CLIENT_IDLE,
        CLIENT_RESOLVING,
        CLIENT_CONNECTING,
        CLIENT_CONNECTED,
        CLIENT_WAITING,   /* backoff before the next attempt */
        CLIENT_FAILED,    /* fatal error, no more attempts */
        CLIENT_STOPPED,
} ClientState;

typedef struct Subscription Subscription;
struct Subscription {
        Subscription *next;
        MqttClient *client;
        char *topic;
        MqttMessageHandler handler;
        MqttRetainedHandler retained_handler; /* set for one-shot fetches */
        void *userdata;
        uint64_t timeout_usec;
        sd_event_source *timeout;
        bool internal;
};

/* Every message looks its topic's seq up twice (peek when the payload starts, take when it is
 * queued): a hash table, since a list of every topic (tens per wearer) cost 8 % of the gateway's
 * CPU with the raw stream on at 14 wearers. */
#define SEQ_BUCKETS 512u

typedef struct SeqEntry SeqEntry;
struct SeqEntry {
        SeqEntry *next;        /* all of them, for saving and raising */
        SeqEntry *bucket_next; /* the same hash bucket */
        uint64_t hash;
        uint64_t seq;
        char topic[];
};

typedef struct Resolver {
        struct gaicb request;
        struct addrinfo hints;
        char *host;
        char service[8];
} Resolver;

struct MqttClient {
        sd_event *event;
        const Config *config;
        struct mosquitto *mosq;
        MqttOutbox *outbox;
        ClientState state;

        sd_event_source *io;
        int io_fd;
        sd_event_source *misc_timer;
        sd_event_source *retry_timer;
        sd_event_source *connect_timer;
        sd_event_source *resolve_timer;
        sd_event_source *reannounce_timer;
        Resolver *resolver;

        char addresses[8][INET6_ADDRSTRLEN]; /* the broker's resolved addresses, tried in order */
        unsigned n_addresses;
        unsigned next_address;

        uint64_t connect_timeout_usec;
        unsigned attempt;           /* consecutive failures, for the backoff */
        bool connected_once;
        int connack_rc;             /* last CONNACK code, to classify a refusal */
        uint64_t reconnects;
        uint64_t connect_failures;
        uint64_t oversized;         /* incoming messages over MQTT_MAX_INCOMING_PACKET, ignored */
        MqttOutboxStats drops_logged; /* the outbox's drop counters as last logged */
        uint64_t drops_logged_usec;
        uint64_t oversized_logged_usec;
        uint64_t rng;

        char state_topic[MQTT_TOPIC_MAX];
        char ha_status_topic[MQTT_TOPIC_MAX];
        char verify_name[256];      /* TLS: name checked in the server certificate, and SNI */

        Subscription *subscriptions;
        SeqEntry *seqs;
        SeqEntry *seq_buckets[SEQ_BUCKETS];
        uint64_t seq_floor;

        MqttConnectionHandler connection_handler;
        void *connection_userdata;
};

/* CONNACK refusals that no retry can fix: bad protocol version, identifier rejected, bad user name
 * or password, not authorised (MQTT 3.1.1 codes 1, 2, 4, 5 and their MQTT 5 reason codes). */
static bool connack_is_fatal(int rc) {
        switch (rc) {
        case 1: case 2: case 4: case 5:
        case 0x84: case 0x85: case 0x86: case 0x87: case 0x8C:
                return true;
        default:
                return false;
        }
}

static uint64_t client_random(MqttClient *c) {
        /* xorshift64*: jitter only, no need for quality */
        c->rng ^= c->rng >> 12;
        c->rng ^= c->rng << 25;
        c->rng ^= c->rng >> 27;
        return c->rng * 2685821657736338717ULL;
}

static void client_drop_io(MqttClient *c) {
        c->io = sd_event_source_disable_unref(c->io);
        c->io_fd = -1;
        c->connect_timer = sd_event_source_disable_unref(c->connect_timer);
}

static void notify_connection(MqttClient *c, bool connected, int error) {
        if (c->connection_handler)
                c->connection_handler(c, connected, error, c->connection_userdata);
}

static int client_attempt(MqttClient *c);
static int client_connect_address(MqttClient *c, const char *address);

static int on_retry_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        MqttClient *c = userdata;

        c->retry_timer = sd_event_source_disable_unref(c->retry_timer);
        if (c->state == CLIENT_WAITING)
                (void) client_attempt(c);
        return 0;
}

/* The connection attempt failed or the connection went away: classify, then back off. */
static void client_lost(MqttClient *c, int mosq_rc, int error) {
        bool was_connected = c->state == CLIENT_CONNECTED;
        const char *cause = NULL;
        uint64_t delay;
        int r;

        if (!IN_SET(c->state, CLIENT_RESOLVING, CLIENT_CONNECTING, CLIENT_CONNECTED))
                return; /* already handled (on_disconnect and a failed read report the same loss) */
        client_drop_io(c);
        if (!was_connected)
                c->connect_failures++;

        /* libmosquitto returns CONN_REFUSED for an MQTT 3.1.1 refusal but PROTOCOL for an MQTT 5
         * reason code (seen with 2.0.11; lib/handle_connack.c): the CONNACK tells which it was. */
        if ((mosq_rc == MOSQ_ERR_CONN_REFUSED || mosq_rc == MOSQ_ERR_PROTOCOL) &&
            connack_is_fatal(c->connack_rc)) {
                /* the broker's own reason ("not authorised") says more than MOSQ_ERR_AUTH would */
                cause = c->connack_rc < 0x80 ? mosquitto_connack_string(c->connack_rc)
                                             : mosquitto_reason_string(c->connack_rc);
                mosq_rc = MOSQ_ERR_AUTH;
                error = -EACCES;
        }
        if (error == 0)
                error = mqtt_errno_from_mosq(mosq_rc);

        if (!was_connected && !mqtt_error_is_fatal(mosq_rc) && c->next_address < c->n_addresses) {
                /* the broker has another address (IPv6 and IPv4, several A records): try it now */
                log_debug_errno(error, "MQTT: %s failed (%m), trying %s.", c->addresses[c->next_address - 1],
                                c->addresses[c->next_address]);
                c->state = CLIENT_RESOLVING;
                (void) client_connect_address(c, c->addresses[c->next_address++]);
                return;
        }

        if (mqtt_error_is_fatal(mosq_rc)) {
                c->state = CLIENT_FAILED;
                /* The one error line for this failure: the Manager, told below, does not repeat it. */
                log_error_errno(error, "MQTT: giving up on %s:%u: %s (%m)", c->config->host, c->config->port,
                                cause ?: mosquitto_strerror(mosq_rc));
                notify_connection(c, false, error);
                return;
        }

        delay = backoff_delay(MQTT_BACKOFF_INITIAL_USEC, MQTT_BACKOFF_MAX_USEC, c->attempt, client_random(c));
        c->attempt++;
        c->state = CLIENT_WAITING;

        if (was_connected)
                log_warning_errno(error, "MQTT: connection to %s:%u lost (%m), reconnecting in %.1f s.",
                                  c->config->host, c->config->port, (double) delay / USEC_PER_SEC);
        else
                log_info_errno(error, "MQTT: cannot connect to %s:%u (%m), retrying in %.1f s.", c->config->host,
                               c->config->port, (double) delay / USEC_PER_SEC);

        r = sd_event_add_time_relative(c->event, &c->retry_timer, CLOCK_MONOTONIC, delay, 0, on_retry_timer, c);
        if (r < 0)
                log_error_errno(r, "MQTT: failed to arm the reconnect timer: %m");
        if (was_connected)
                notify_connection(c, false, 0);
}

static bool client_socket_changed(MqttClient *c) {
        return mosquitto_socket(c->mosq) != c->io_fd;
}

static int on_io(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        MqttClient *c = userdata;
        int rc = MOSQ_ERR_SUCCESS;

        /* While connecting, a TLS handshake only advances inside mosquitto_loop_read() (its
         * "want_connect" path), whatever direction the socket became ready in. */
        if ((revents & (EPOLLIN | EPOLLHUP | EPOLLERR)) || c->state == CLIENT_CONNECTING) {
                rc = mosquitto_loop_read(c->mosq, 1);
                /* on_disconnect() may have run already and moved us on */
                if (c->state != CLIENT_CONNECTING && c->state != CLIENT_CONNECTED)
                        return 0;
                if (rc != MOSQ_ERR_SUCCESS || client_socket_changed(c)) {
                        /* e.g. a failed TLS handshake closes the socket without on_disconnect */
                        client_lost(c, rc != MOSQ_ERR_SUCCESS ? rc : MOSQ_ERR_CONN_LOST, 0);
                        return 0;
                }
        }
        if (revents & EPOLLOUT) {
                rc = mosquitto_loop_write(c->mosq, 1);
                if (c->state != CLIENT_CONNECTING && c->state != CLIENT_CONNECTED)
                        return 0;
                if (rc != MOSQ_ERR_SUCCESS || client_socket_changed(c)) {
                        client_lost(c, rc != MOSQ_ERR_SUCCESS ? rc : MOSQ_ERR_CONN_LOST, 0);
                        return 0;
                }
        }
        return 0;
}

static void socket_cork(int fd, int on) {
        if (fd >= 0)
                (void) setsockopt(fd, IPPROTO_TCP, TCP_CORK, &on, sizeof(on));
}

/* Hands the outbox to libmosquitto. Outside its callbacks libmosquitto sends each packet at once,
 * one send() per packet (lib/packet_mosq.c, packet__queue()); corked, the messages of one
 * wake-up still leave as one TCP segment, so the broker is woken once, not once per message. */
static void client_flush(MqttClient *c) {
        int fd = -1, r;

        if (mqtt_outbox_pending(c->outbox) > 1)
                fd = mosquitto_socket(c->mosq);
        socket_cork(fd, 1);
        r = mqtt_outbox_flush(c->outbox, c->mosq);
        socket_cork(fd, 0);
        if (r < 0 && r != -ENOTCONN)
                log_debug_errno(r, "MQTT: flushing the outbox failed: %m");
}

/* Right before the loop sleeps: hand queued messages over and watch for writability only while
 * libmosquitto has something to write (otherwise EPOLLOUT would wake us up constantly). */
static int on_io_prepare(sd_event_source *s, void *userdata) {
        MqttClient *c = userdata;

        if (c->state == CLIENT_CONNECTED)
                client_flush(c);
        if (c->state != CLIENT_CONNECTING && c->state != CLIENT_CONNECTED)
                return 0;
        return sd_event_source_set_io_events(s, EPOLLIN | (mosquitto_want_write(c->mosq) ? EPOLLOUT : 0));
}

/* Every drop is counted by the outbox; here it is also said, with its reason, at most once a
 * minute (a long outage with the raw stream on drops hundreds a second). */
static void client_log_drops(MqttClient *c) {
        MqttOutboxStats now;
        uint64_t t = clock_now_usec(CLOCK_MONOTONIC);

        mqtt_outbox_get_stats(c->outbox, &now);
        if (now.dropped == c->drops_logged.dropped)
                return;
        if (c->drops_logged_usec != 0 && t - c->drops_logged_usec < 60 * USEC_PER_SEC)
                return;
        log_warning("MQTT: dropped %" PRIu64 " message(s) since %s: %" PRIu64 " because the outbox held %u messages "
                    "(outbox-max), %" PRIu64 " because it held %zu bytes (outbox-max-bytes), %" PRIu64
                    " raw samples whose write failed. %s",
                    now.dropped - c->drops_logged.dropped, c->drops_logged_usec ? "the last report" : "start",
                    now.dropped_count - c->drops_logged.dropped_count, now.pending + now.inflight,
                    now.dropped_bytes - c->drops_logged.dropped_bytes, now.bytes,
                    now.dropped_write - c->drops_logged.dropped_write,
                    c->state == CLIENT_CONNECTED ? "" : "The broker is unreachable.");
        c->drops_logged = now;
        c->drops_logged_usec = t;
}

static int on_misc_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        MqttClient *c = userdata;
        int rc;

        client_log_drops(c);
        if (c->state == CLIENT_CONNECTED || c->state == CLIENT_CONNECTING) {
                rc = mosquitto_loop_misc(c->mosq);
                if (c->state == CLIENT_CONNECTED || c->state == CLIENT_CONNECTING) {
                        if (rc != MOSQ_ERR_SUCCESS || client_socket_changed(c))
                                client_lost(c, rc != MOSQ_ERR_SUCCESS ? rc : MOSQ_ERR_CONN_LOST, 0);
                }
        }
        (void) sd_event_source_set_time_relative(s, MQTT_MISC_INTERVAL_USEC);
        return 0;
}

static int on_connect_timeout(sd_event_source *s, uint64_t usec, void *userdata) {
        MqttClient *c = userdata;

        if (c->state == CLIENT_CONNECTING)
                /* the next mosquitto_connect_async() closes the half-open socket */
                client_lost(c, MOSQ_ERR_KEEPALIVE, -ETIMEDOUT);
        return 0;
}

static int client_connect_address(MqttClient *c, const char *address) {
        int rc, fd, r;

        c->connack_rc = 0; /* a refusal is classified by this attempt's CONNACK only */
        rc = mosquitto_connect_async(c->mosq, address, c->config->port, (int) c->config->keepalive_sec);
        if (rc != MOSQ_ERR_SUCCESS) {
                c->state = CLIENT_CONNECTING; /* so that client_lost() classifies it */
                client_lost(c, rc, 0);
                return 0;
        }
        fd = mosquitto_socket(c->mosq);
        if (fd < 0) {
                c->state = CLIENT_CONNECTING;
                client_lost(c, MOSQ_ERR_NO_CONN, 0);
                return 0;
        }

        /* A new socket after every (re)connect: a new source for it. */
        client_drop_io(c);
        r = sd_event_add_io(c->event, &c->io, fd, EPOLLIN | EPOLLOUT, on_io, c);
        if (r < 0)
                return log_error_errno(r, "MQTT: failed to watch the socket: %m");
        c->io_fd = fd;
        (void) sd_event_source_set_description(c->io, "mqtt-io");
        r = sd_event_source_set_prepare(c->io, on_io_prepare);
        if (r < 0)
                return log_error_errno(r, "MQTT: failed to set the prepare callback: %m");
        r = sd_event_add_time_relative(c->event, &c->connect_timer, CLOCK_MONOTONIC, c->connect_timeout_usec, 0,
                                       on_connect_timeout, c);
        if (r < 0)
                return log_error_errno(r, "MQTT: failed to arm the connect timeout: %m");
        c->state = CLIENT_CONNECTING;
        log_debug("MQTT: connecting to %s (%s) port %u.", c->config->host, address, c->config->port);
        return 0;
}

static Resolver *resolver_free(Resolver *res) {
        if (!res)
                return NULL;
        if (gai_error(&res->request) == EAI_INPROGRESS) {
                struct gaicb *list[1] = { &res->request };
                if (gai_cancel(&res->request) == EAI_NOTCANCELED) {
                        /* glibc still owns the request; wait for it rather than free memory it
                         * will write to. Only on shutdown, bounded by the resolver's timeouts. */
                        struct timespec ts = { .tv_sec = 30 };
                        if (gai_suspend((const struct gaicb *const *) list, 1, &ts) != 0 &&
                            gai_error(&res->request) == EAI_INPROGRESS)
                                return NULL; /* leak rather than corrupt */
                }
        }
        if (res->request.ar_result)
                freeaddrinfo(res->request.ar_result);
        free(res->host);
        free(res);
        return NULL;
}

static int on_resolve_poll(sd_event_source *s, uint64_t usec, void *userdata) {
        MqttClient *c = userdata;
        struct addrinfo *ai;
        int e;

        e = gai_error(&c->resolver->request);
        if (e == EAI_INPROGRESS) {
                (void) sd_event_source_set_time_relative(s, MQTT_RESOLVE_POLL_USEC);
                return 0;
        }
        c->resolve_timer = sd_event_source_disable_unref(c->resolve_timer);

        c->n_addresses = c->next_address = 0;
        if (e == 0)
                for (ai = c->resolver->request.ar_result; ai && c->n_addresses < ELEMENTSOF(c->addresses);
                     ai = ai->ai_next) {
                        char *a = c->addresses[c->n_addresses];
                        if (ai->ai_family == AF_INET &&
                            inet_ntop(AF_INET, &((struct sockaddr_in *) ai->ai_addr)->sin_addr, a, INET6_ADDRSTRLEN))
                                c->n_addresses++;
                        else if (ai->ai_family == AF_INET6 &&
                                 inet_ntop(AF_INET6, &((struct sockaddr_in6 *) ai->ai_addr)->sin6_addr, a,
                                           INET6_ADDRSTRLEN))
                                c->n_addresses++;
                }
        c->resolver = resolver_free(c->resolver);
        if (c->n_addresses == 0) {
                log_info("MQTT: cannot resolve '%s': %s", c->config->host, e ? gai_strerror(e) : "no address");
                client_lost(c, MOSQ_ERR_EAI, -EADDRNOTAVAIL);
                return 0;
        }
        return client_connect_address(c, c->addresses[c->next_address++]);
}

/* One connection attempt: resolve off the loop (getaddrinfo_a), then a non-blocking connect. */
static int client_attempt(MqttClient *c) {
        struct gaicb *list[1];
        Resolver *res;
        int r;

        c->n_addresses = c->next_address = 0;
        if (mqtt_host_is_numeric(c->config->host))
                return client_connect_address(c, c->config->host);

        res = calloc(1, sizeof *res);
        if (!res)
                return log_oom();
        res->host = strdup(c->config->host);
        if (!res->host) {
                free(res);
                return log_oom();
        }
        (void) snprintf(res->service, sizeof res->service, "%u", c->config->port);
        res->hints.ai_family = AF_UNSPEC;
        res->hints.ai_socktype = SOCK_STREAM;
        res->hints.ai_flags = AI_ADDRCONFIG;
        res->request.ar_name = res->host;
        res->request.ar_service = res->service;
        res->request.ar_request = &res->hints;
        list[0] = &res->request;
        r = getaddrinfo_a(GAI_NOWAIT, list, 1, &(struct sigevent) { .sigev_notify = SIGEV_NONE });
        if (r != 0) {
                free(res->host);
                free(res);
                c->state = CLIENT_RESOLVING;
                client_lost(c, MOSQ_ERR_EAI, -EAGAIN);
                return 0;
        }
        c->resolver = res;
        c->state = CLIENT_RESOLVING;
        /* getaddrinfo_a() without a signal or thread notification: poll its state briefly. */
        r = sd_event_add_time_relative(c->event, &c->resolve_timer, CLOCK_MONOTONIC, MQTT_RESOLVE_POLL_USEC, 0,
                                       on_resolve_poll, c);
        if (r < 0)
                return log_error_errno(r, "MQTT: failed to arm the resolver timer: %m");
        return 0;
}

static int on_fetch_timeout(sd_event_source *es, uint64_t usec, void *userdata);

static void on_mosq_connect(struct mosquitto *mosq, void *userdata, int rc) {
        MqttClient *c = userdata;
        int r;

        c->connack_rc = rc;
        if (rc != 0)
                return; /* mosquitto_loop_read() returns CONN_REFUSED next; handled there */

        c->connect_timer = sd_event_source_disable_unref(c->connect_timer);
        if (c->connected_once)
                c->reconnects++;
        c->connected_once = true;
        c->attempt = 0;
        c->state = CLIENT_CONNECTED;
        log_info("MQTT: connected to %s:%u.", c->config->host, c->config->port);

        for (Subscription *s = c->subscriptions; s; s = s->next) {
                r = mosquitto_subscribe(mosq, NULL, s->topic, 1);
                if (r != MOSQ_ERR_SUCCESS)
                        log_warning("MQTT: subscribing to %s failed: %s", s->topic, mosquitto_strerror(r));
                if (s->retained_handler && !s->timeout)
                        (void) sd_event_add_time_relative(c->event, &s->timeout, CLOCK_MONOTONIC, s->timeout_usec,
                                                          0, on_fetch_timeout, s);
        }
        /* The broker may have lost our retained states (no persistence, restart): send them again,
         * the birth "online" among them. Those still in flight are re-sent by libmosquitto. */
        r = mqtt_outbox_requeue_states(c->outbox);
        if (r < 0)
                log_warning_errno(r, "MQTT: failed to re-queue retained states: %m");
        notify_connection(c, true, 0);
}

static void on_mosq_disconnect(struct mosquitto *mosq, void *userdata, int rc) {
        MqttClient *c = userdata;

        if (c->state == CLIENT_CONNECTED || c->state == CLIENT_CONNECTING)
                client_lost(c, rc == MOSQ_ERR_SUCCESS ? MOSQ_ERR_CONN_LOST : rc, 0);
}

static void on_mosq_publish(struct mosquitto *mosq, void *userdata, int mid) {
        MqttClient *c = userdata;
        (void) mqtt_outbox_acked(c->outbox, mid);
}

static Subscription *subscription_free(MqttClient *c, Subscription *s) {
        if (!s)
                return NULL;
        for (Subscription **p = &c->subscriptions; *p; p = &(*p)->next)
                if (*p == s) {
                        *p = s->next;
                        break;
                }
        sd_event_source_disable_unref(s->timeout);
        free(s->topic);
        free(s);
        return NULL;
}

static void fetch_finish(MqttClient *c, Subscription *s, const void *payload, size_t len, int error) {
        MqttRetainedHandler h = s->retained_handler;
        void *userdata = s->userdata;
        _cleanup_free_ char *topic = TAKE_PTR(s->topic);

        if (c->state == CLIENT_CONNECTED)
                (void) mosquitto_unsubscribe(c->mosq, NULL, topic);
        s->topic = NULL;
        subscription_free(c, s);
        if (h)
                h(c, topic, payload, len, error, userdata);
}

static int on_fetch_timeout(sd_event_source *es, uint64_t usec, void *userdata) {
        Subscription *s = userdata;
        fetch_finish(s->client, s, NULL, 0, -ENOENT);
        return 0;
}

static void on_mosq_message(struct mosquitto *mosq, void *userdata, const struct mosquitto_message *msg) {
        MqttClient *c = userdata;

        /* Only reachable with MQTT 3.1.1 (with 5 the broker holds such messages back): libmosquitto
         * has read it whole already; at least nothing parses it. */
        if (msg->payloadlen < 0 || (size_t) msg->payloadlen + strlen(msg->topic) > MQTT_MAX_INCOMING_PACKET) {
                uint64_t now = clock_now_usec(CLOCK_MONOTONIC);
                c->oversized++;
                if (c->oversized_logged_usec == 0 || now - c->oversized_logged_usec >= 60 * USEC_PER_SEC) {
                        c->oversized_logged_usec = now;
                        log_warning("MQTT: ignoring a %d-byte message on %s (more than %u bytes; %" PRIu64
                                    " so far). Limit message sizes on the broker (message_size_limit).",
                                    msg->payloadlen, msg->topic, MQTT_MAX_INCOMING_PACKET, c->oversized);
                }
                return;
        }

        for (Subscription *s = c->subscriptions; s; s = s->next) {
                if (!streq(s->topic, msg->topic))
                        continue;
                if (s->retained_handler) {
                        fetch_finish(c, s, msg->payload, (size_t) msg->payloadlen, 0);
                        return;
                }
                if (s->handler)
                        s->handler(c, msg->topic, msg->payload ?: "", (size_t) msg->payloadlen, msg->retain,
                                   s->userdata);
                return;
        }
}

static void on_mosq_log(struct mosquitto *mosq, void *userdata, int level, const char *str) {
        if (level & (MOSQ_LOG_ERR | MOSQ_LOG_WARNING))
                log_debug("libmosquitto: %s", str);
}

static int on_reannounce(sd_event_source *s, uint64_t usec, void *userdata) {
        MqttClient *c = userdata;

        c->reannounce_timer = sd_event_source_disable_unref(c->reannounce_timer);
        (void) mqtt_client_republish_states(c);
        return 0;
}

static void on_homeassistant_status(MqttClient *c, const char *topic, const void *payload, size_t len,
                                    bool retained, void *userdata) {
        if (len != 6 || memcmp(payload, "online", 6) != 0)
                return;
        if (c->reannounce_timer)
                return;
        /* Home Assistant announces itself after subscribing; give it a moment, as zigbee2mqtt does. */
        log_info("MQTT: Home Assistant is online, announcing again.");
        (void) sd_event_add_time_relative(c->event, &c->reannounce_timer, CLOCK_MONOTONIC,
                                          MQTT_HA_REANNOUNCE_DELAY_USEC, 0, on_reannounce, c);
}

/* MQTT 5 CONNECT properties: Maximum Packet Size, so that the broker never sends us a message we
 * would have to hold whole (libmosquitto reads every packet into one buffer of the announced
 * length; a client has no limit of its own, see its packet__read()), and a session expiry so that
 * the broker keeps our subscriptions like 3.1.1's clean session false.
 *
 * libmosquitto only takes CONNECT properties through the blocking mosquitto_connect_bind_v5().
 * It stores them before it validates the port, and every later connect, the asynchronous one
 * included, sends the stored ones (lib/connect.c, 2.0.11 to 2.0.20): so we hand them over with a
 * port it refuses, which connects nowhere. The integration test (test-broker-abuse.py) checks that
 * the broker honours the limit, so a libmosquitto that behaves otherwise fails there. */
static int client_set_connect_properties(MqttClient *c) {
        mosquitto_property *props = NULL;
        int rc;

        rc = mosquitto_property_add_int32(&props, MQTT_PROP_MAXIMUM_PACKET_SIZE, MQTT_MAX_INCOMING_PACKET);
        if (rc == MOSQ_ERR_SUCCESS)
                rc = mosquitto_property_add_int32(&props, MQTT_PROP_SESSION_EXPIRY_INTERVAL, MQTT_SESSION_EXPIRY_SEC);
        if (rc == MOSQ_ERR_SUCCESS) {
                rc = mosquitto_connect_bind_v5(c->mosq, "127.0.0.1", -1, (int) c->config->keepalive_sec, NULL, props);
                rc = rc == MOSQ_ERR_INVAL ? MOSQ_ERR_SUCCESS : MOSQ_ERR_NOT_SUPPORTED;
        }
        mosquitto_property_free_all(&props);
        if (rc != MOSQ_ERR_SUCCESS)
                return log_error_errno(mqtt_errno_from_mosq(rc), "MQTT: cannot set the MQTT 5 connect properties: %s",
                                       mosquitto_strerror(rc));
        return 0;
}

int mqtt_client_new(sd_event *event, const Config *config, MqttClient **ret) {
        _cleanup_(mqtt_client_freep) MqttClient *c = NULL;
        char client_id[24];
        const char *will = "{\"state\":\"offline\"}";
        int r, rc;

        if (!event || !config || !ret || !config->host)
                return log_error_errno(EINVAL, "MQTT: set up without a configuration.");
        /* The configuration checks the same rules (topic-name.h): these are a second line. */
        if (!mqtt_prefix_is_valid(config->base_topic))
                return config_log_key(config, LOG_ERR, EINVAL, config->base_topic, "found '%s', expected a topic prefix",
                                      config->base_topic);
        if (!mqtt_name_is_valid(config->gateway_id))
                return config_log_key(config, LOG_ERR, EINVAL, config->gateway_id, "found '%s', expected a topic level",
                                      config->gateway_id);
        if (config->homeassistant && !mqtt_prefix_is_valid(config->homeassistant_prefix))
                return config_log_key(config, LOG_ERR, EINVAL, config->homeassistant_prefix,
                                      "found '%s', expected a topic prefix", config->homeassistant_prefix);

        c = calloc(1, sizeof *c);
        if (!c)
                return log_oom();
        c->event = sd_event_ref(event);
        c->config = config;
        c->io_fd = -1;
        c->connect_timeout_usec = MQTT_CONNECT_TIMEOUT_USEC;
        if (getrandom(&c->rng, sizeof c->rng, GRND_NONBLOCK) != sizeof c->rng || c->rng == 0)
                c->rng = 0x9e3779b97f4a7c15ULL ^ (uint64_t) getpid();

        r = mqtt_topic_bridge(c->state_topic, sizeof c->state_topic, config->base_topic, config->gateway_id,
                              MQTT_BRIDGE_STATE);
        if (r < 0)
                return config_log_key(config, LOG_ERR, r, config->base_topic,
                                      "found '%s', expected a prefix the gateway's topics fit under (%m)", config->base_topic);

        r = mqtt_outbox_new(config->outbox_max > 0 ? config->outbox_max : 10000, MQTT_MAX_INFLIGHT,
                            CLAMP(config->qos, 1, 2), &c->outbox);
        if (r < 0)
                return config_log_key(config, LOG_ERR, r, &config->outbox_max, "found %u, expected room for it (%m)",
                                      config->outbox_max);
        mqtt_outbox_set_max_bytes(c->outbox, (size_t) config->outbox_max_bytes);

        if (config->client_id[0])
                (void) snprintf(client_id, sizeof client_id, "%s", config->client_id);
        else {
                /* MQTT 3.1.1 servers need only accept 23 bytes: cut the gateway id if needed. */
                size_t n = MIN(strlen(config->gateway_id), sizeof client_id - 5);
                memcpy(client_id, "i2m-", 4);
                memcpy(client_id + 4, config->gateway_id, n);
                client_id[4 + n] = 0;
        }

        (void) mosquitto_lib_init();
        /* clean_session false: the broker keeps our subscriptions (commands sent while we are away
         * wait for us) under a stable client id. */
        c->mosq = mqtt_mosquitto_new_without_wakeup_pair(client_id, false, c);
        if (!c->mosq)
                return config_log_key(config, LOG_ERR, errno ?: ENOMEM, config->client_id,
                                      "found '%s', expected a client id libmosquitto accepts (%m)", client_id);

        rc = mosquitto_int_option(c->mosq, MOSQ_OPT_PROTOCOL_VERSION,
                                  config->protocol_version == 5 ? MQTT_PROTOCOL_V5 : MQTT_PROTOCOL_V311);
        if (rc == MOSQ_ERR_SUCCESS)
                rc = mosquitto_int_option(c->mosq, MOSQ_OPT_SEND_MAXIMUM, (int) MQTT_MAX_INFLIGHT);
        if (rc == MOSQ_ERR_SUCCESS)
                rc = mosquitto_int_option(c->mosq, MOSQ_OPT_TCP_NODELAY, 1);
        if (rc == MOSQ_ERR_SUCCESS)
                rc = mosquitto_will_set(c->mosq, c->state_topic, (int) strlen(will), will, 1, true);
        if (rc == MOSQ_ERR_SUCCESS && config->username && config->username[0])
                rc = mosquitto_username_pw_set(c->mosq, config->username, config->password);
        if (rc != MOSQ_ERR_SUCCESS)
                return log_error_errno(mqtt_errno_from_mosq(rc), "MQTT: libmosquitto refused an option: %s",
                                       mosquitto_strerror(rc));
        if (config->password && config->password[0] && !(config->username && config->username[0]))
                log_warning("MQTT: a password is configured without a user name; it is not sent.");

        if (config->tls) {
                r = mqtt_tls_setup(c->mosq, config, c->verify_name, sizeof c->verify_name);
                if (r < 0)
                        return r;
        }
        if (config->protocol_version == 5) {
                r = client_set_connect_properties(c);
                if (r < 0)
                        return r;
        } else
                log_warning("MQTT 3.1.1 cannot ask the broker to hold back large messages: limit them on the broker "
                            "(message_size_limit %u in mosquitto.conf) or use protocol = 5.",
                            MQTT_MAX_INCOMING_PACKET);

        mosquitto_connect_callback_set(c->mosq, on_mosq_connect);
        mosquitto_disconnect_callback_set(c->mosq, on_mosq_disconnect);
        mosquitto_publish_callback_set(c->mosq, on_mosq_publish);
        mosquitto_message_callback_set(c->mosq, on_mosq_message);
        /* With a log callback set, libmosquitto formats a line for every packet it sends (vsnprintf:
         * 4-5 % of the gateway's CPU with the raw stream on); it only ever reaches the debug log. */
        if (log_get_max_level() >= LOG_DEBUG)
                mosquitto_log_callback_set(c->mosq, on_mosq_log);

        if (config->homeassistant) {
                r = mqtt_topic_homeassistant_status(c->ha_status_topic, sizeof c->ha_status_topic, config);
                if (r < 0)
                        return config_log_key(config, LOG_ERR, r, config->homeassistant_prefix,
                                              "found '%s', expected a prefix its status topic fits under (%m)",
                                              config->homeassistant_prefix);
                r = mqtt_client_subscribe(c, c->ha_status_topic, on_homeassistant_status, NULL);
                if (r < 0)
                        return log_error_errno(r, "MQTT: failed to subscribe to Home Assistant's status: %m");
                c->subscriptions->internal = true;
        }

        *ret = TAKE_PTR(c);
        return 0;
}

MqttClient *mqtt_client_free(MqttClient *c) {
        if (!c)
                return NULL;
        while (c->subscriptions) {
                Subscription *s = c->subscriptions;
                if (s->retained_handler)
                        fetch_finish(c, s, NULL, 0, -ECANCELED);
                else
                        subscription_free(c, s);
        }
        client_drop_io(c);
        sd_event_source_disable_unref(c->misc_timer);
        sd_event_source_disable_unref(c->retry_timer);
        sd_event_source_disable_unref(c->resolve_timer);
        sd_event_source_disable_unref(c->reannounce_timer);
        resolver_free(c->resolver);
        if (c->mosq)
                mosquitto_destroy(c->mosq);
        mqtt_outbox_free(c->outbox);
        while (c->seqs) {
                SeqEntry *e = c->seqs;
                c->seqs = e->next;
                free(e);
        }
        sd_event_unref(c->event);
        free(c);
        return NULL;
}

void mqtt_client_set_connect_timeout(MqttClient *c, uint64_t usec) {
        c->connect_timeout_usec = usec > 0 ? usec : MQTT_CONNECT_TIMEOUT_USEC;
}

void mqtt_client_set_connection_handler(MqttClient *c, MqttConnectionHandler h, void *userdata) {
        c->connection_handler = h;
        c->connection_userdata = userdata;
}

int mqtt_client_start(MqttClient *c) {
        JsonWriter w;
        char buf[64];
        const char *p;
        size_t n;
        int r;

        if (c->state != CLIENT_IDLE)
                return -EBUSY;

        /* The birth: a retained state like any other, so it is re-sent after every reconnect. */
        json_writer_init(&w, buf, sizeof buf);
        mqtt_payload_state(&w, true);
        r = json_writer_finish(&w, &p, &n);
        if (r < 0)
                return r;
        r = mqtt_outbox_push(c->outbox, MQTT_MESSAGE_STATE, c->state_topic, p, n);
        if (r < 0)
                return r;

        r = sd_event_add_time_relative(c->event, &c->misc_timer, CLOCK_MONOTONIC, MQTT_MISC_INTERVAL_USEC, 0,
                                       on_misc_timer, c);
        if (r < 0)
                return r;
        (void) sd_event_source_set_enabled(c->misc_timer, SD_EVENT_ON);
        return client_attempt(c);
}

int mqtt_client_stop(MqttClient *c, uint64_t timeout_usec) {
        JsonWriter w;
        char buf[64];
        const char *p;
        size_t n;
        uint64_t deadline;
        int r;

        if (c->state == CLIENT_STOPPED)
                return 0;
        json_writer_init(&w, buf, sizeof buf);
        mqtt_payload_state(&w, false);
        if (json_writer_finish(&w, &p, &n) >= 0)
                (void) mqtt_outbox_push(c->outbox, MQTT_MESSAGE_STATE, c->state_topic, p, n);

        /* Drain by driving libmosquitto directly with poll(): this runs at shutdown, typically after
         * the event loop has finished (sd_event_run() refuses then), and blocking here is the
         * point. */
        deadline = clock_now_usec(CLOCK_MONOTONIC) + timeout_usec;
        while (c->state == CLIENT_CONNECTED && mqtt_outbox_depth(c->outbox) > 0) {
                struct pollfd pfd = { .fd = mosquitto_socket(c->mosq), .events = POLLIN };
                uint64_t now = clock_now_usec(CLOCK_MONOTONIC);
                int rc = MOSQ_ERR_SUCCESS;

                if (now >= deadline || pfd.fd < 0)
                        break;
                (void) mqtt_outbox_flush(c->outbox, c->mosq);
                if (mosquitto_want_write(c->mosq))
                        pfd.events |= POLLOUT;
                r = poll(&pfd, 1, (int) MIN((deadline - now) / USEC_PER_MSEC + 1, (uint64_t) 100));
                if (r < 0 && errno != EINTR)
                        break;
                if (r > 0 && (pfd.revents & (POLLIN | POLLHUP | POLLERR)))
                        rc = mosquitto_loop_read(c->mosq, 1);
                if (rc == MOSQ_ERR_SUCCESS && c->state == CLIENT_CONNECTED && r > 0 && (pfd.revents & POLLOUT))
                        rc = mosquitto_loop_write(c->mosq, 1);
                if (rc != MOSQ_ERR_SUCCESS || mosquitto_socket(c->mosq) < 0)
                        break;
        }
        r = mqtt_outbox_depth(c->outbox) > 0 ? -ETIMEDOUT : 0;
        if (c->state == CLIENT_CONNECTED) {
                /* STOPPED first: writing DISCONNECT makes libmosquitto call on_disconnect(), which
                 * must not schedule a reconnect. */
                c->state = CLIENT_STOPPED;
                (void) mosquitto_disconnect(c->mosq);
                (void) mosquitto_loop_write(c->mosq, 1);
        }
        c->state = CLIENT_STOPPED;
        client_drop_io(c);
        c->retry_timer = sd_event_source_disable_unref(c->retry_timer);
        c->misc_timer = sd_event_source_disable_unref(c->misc_timer);
        c->resolve_timer = sd_event_source_disable_unref(c->resolve_timer);
        c->reannounce_timer = sd_event_source_disable_unref(c->reannounce_timer);
        return r;
}

int mqtt_client_publish(MqttClient *c, MqttPublishKind kind, const char *topic, const void *payload, size_t len) {
        static const MqttMessageKind map[] = {
                [MQTT_PUBLISH_EVENT] = MQTT_MESSAGE_EVENT,
                [MQTT_PUBLISH_STATE] = MQTT_MESSAGE_STATE,
                [MQTT_PUBLISH_STREAM] = MQTT_MESSAGE_STREAM,
        };

        if (!c || (unsigned) kind >= ELEMENTSOF(map))
                return -EINVAL;
        /* Messages leave from the prepare callback, right before the loop sleeps, so a burst of
         * publishes becomes one write. */
        return mqtt_outbox_push(c->outbox, map[kind], topic, payload, len);
}

static SeqEntry *seq_find(MqttClient *c, const char *topic, bool create) {
        size_t n = strlen(topic);
        uint64_t hash = fnv1a64(topic, n);
        SeqEntry **bucket = &c->seq_buckets[hash % SEQ_BUCKETS], *e;

        for (e = *bucket; e; e = e->bucket_next)
                if (e->hash == hash && streq(e->topic, topic))
                        return e;
        if (!create)
                return NULL;
        e = calloc(1, sizeof *e + n + 1);
        if (!e)
                return NULL;
        memcpy(e->topic, topic, n + 1);
        e->hash = hash;
        e->seq = c->seq_floor;
        e->next = c->seqs;
        c->seqs = e;
        e->bucket_next = *bucket;
        *bucket = e;
        return e;
}

uint64_t mqtt_client_next_seq(MqttClient *c, const char *topic) {
        SeqEntry *e = seq_find(c, topic, true);

        if (!e)
                return 0; /* out of memory: 0 tells consumers "unknown" */
        return ++e->seq;
}

uint64_t mqtt_client_peek_seq(MqttClient *c, const char *topic) {
        SeqEntry *e = seq_find(c, topic, true);

        return e ? e->seq + 1 : 0;
}

uint64_t mqtt_client_get_seq(MqttClient *c, const char *topic) {
        SeqEntry *e = seq_find(c, topic, false);
        return e ? e->seq : 0;
}

void mqtt_client_raise_seqs(MqttClient *c, uint64_t floor) {
        c->seq_floor = MAX(c->seq_floor, floor);
        for (SeqEntry *e = c->seqs; e; e = e->next)
                e->seq = MAX(e->seq, floor);
}

int mqtt_client_set_seq(MqttClient *c, const char *topic, uint64_t last_seq) {
        SeqEntry *e = seq_find(c, topic, true);

        if (!e)
                return -ENOMEM;
        e->seq = MAX(e->seq, last_seq);
        return 0;
}

static int subscription_add(MqttClient *c, const char *topic, Subscription **ret) {
        Subscription *s;
        int rc;

        if (!topic || !topic[0] || strpbrk(topic, "+#"))
                return -EINVAL;
        s = calloc(1, sizeof *s);
        if (!s)
                return -ENOMEM;
        s->topic = strdup(topic);
        if (!s->topic) {
                free(s);
                return -ENOMEM;
        }
        s->client = c;
        s->next = c->subscriptions;
        c->subscriptions = s;
        if (c->state == CLIENT_CONNECTED) {
                rc = mosquitto_subscribe(c->mosq, NULL, topic, 1);
                if (rc != MOSQ_ERR_SUCCESS)
                        log_debug("MQTT: subscribing to %s: %s (retried at the next connect)", topic,
                                  mosquitto_strerror(rc));
        }
        *ret = s;
        return 0;
}

int mqtt_client_subscribe(MqttClient *c, const char *topic, MqttMessageHandler h, void *userdata) {
        Subscription *s;
        int r;

        if (!c || !h)
                return -EINVAL;
        r = subscription_add(c, topic, &s);
        if (r < 0)
                return r;
        s->handler = h;
        s->userdata = userdata;
        return 0;
}

int mqtt_client_fetch_retained(MqttClient *c, const char *topic, uint64_t timeout_usec, MqttRetainedHandler h,
                               void *userdata) {
        Subscription *s;
        int r;

        if (!c || !h)
                return -EINVAL;
        r = subscription_add(c, topic, &s);
        if (r < 0)
                return r;
        s->retained_handler = h;
        s->userdata = userdata;
        s->timeout_usec = timeout_usec;
        if (c->state == CLIENT_CONNECTED) {
                r = sd_event_add_time_relative(c->event, &s->timeout, CLOCK_MONOTONIC, timeout_usec, 0,
                                               on_fetch_timeout, s);
                if (r < 0) {
                        subscription_free(c, s);
                        return r;
                }
        }
        return 0;
}

int mqtt_client_republish_states(MqttClient *c) {
        return mqtt_outbox_requeue_states(c->outbox);
}

void mqtt_client_get_stats(const MqttClient *c, MqttClientStats *ret) {
        MqttOutboxStats o;

        mqtt_outbox_get_stats(c->outbox, &o);
        *ret = (MqttClientStats) {
                .connected = c->state == CLIENT_CONNECTED,
                .reconnects = c->reconnects,
                .connect_failures = c->connect_failures,
                .published = o.published,
                .dropped = o.dropped,
                .rejected = o.rejected,
                .oversized = c->oversized,
                .outbox_bytes = o.bytes,
                .outbox_depth = o.pending + o.inflight,
                .inflight = o.inflight,
        };
}

bool mqtt_client_is_connected(const MqttClient *c) {
        return c && c->state == CLIENT_CONNECTED;
}

const Config *mqtt_client_get_config(const MqttClient *c) {
        return c->config;
}

int mqtt_client_save_seqs(MqttClient *c, StateStore *s) {
        int r;

        for (SeqEntry *e = c->seqs; e; e = e->next) {
                r = state_store_set_seq(s, e->topic, e->seq);
                if (r < 0)
                        return r;
        }
        return 0;
}
