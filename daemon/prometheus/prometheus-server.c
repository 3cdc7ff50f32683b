/* SPDX-License-Identifier: MIT */
/* The I/O shell of the Prometheus endpoint: listening sockets, a fixed pool of connections, one
 * timer for every deadline. Everything runs in the Manager's sd-event loop and never blocks:
 * sockets are non-blocking, a request is read as it trickles in, an answer is written as the
 * client takes it. */

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <systemd/sd-daemon.h>

#include "config.h"
#include "event-util.h"
#include "log.h"
#include "prometheus.h"

#define ACCEPT_BURST 16 /* connections taken per wake-up, so that a flood cannot starve the loop */
#define LISTEN_BACKLOG 16
/* After an answer: how long, and how much, we read and discard before closing. A close() with
 * unread bytes sends a reset, so does every byte the client sends after it, and a reset can destroy
 * the answer the client has not read yet (RFC 9112, 9.6): a client whose head we cut short (431)
 * would see "connection reset" instead. */
#define LINGER_USEC (2 * USEC_PER_SEC)
#define LINGER_DISCARD_MAX (256 * 1024)

typedef enum ConnState {
        CONN_FREE,
        CONN_READING,
        CONN_WRITING,
        CONN_LINGERING, /* answered and shut down for writing; discarding input until the client closes */
} ConnState;

typedef struct Conn {
        PrometheusServer *server;
        ConnState state;
        int fd;
        sd_event_source *io;
        uint64_t accepted_usec;
        uint64_t deadline_usec;
        size_t req_len;
        size_t discarded;           /* while lingering: bytes read and dropped */
        char req[HTTP_REQUEST_MAX];
        char head[256];
        size_t head_len;
        size_t head_sent;
        PromWriter body;            /* the answer's body; freed when the connection closes */
        size_t body_len;            /* bytes of body to send (0 for HEAD) */
        size_t body_sent;
} Conn;

struct PrometheusServer {
        sd_event *event;
        PrometheusCollector collect;
        void *userdata;

        int listen_fd[PROMETHEUS_LISTENERS_MAX];
        sd_event_source *listen_source[PROMETHEUS_LISTENERS_MAX];
        size_t n_listeners;
        sd_event_source *timer;

        Conn conns[PROMETHEUS_CONNECTIONS_MAX];
        PrometheusServerStats stats;
        uint64_t head_timeout_usec;
        uint64_t write_timeout_usec;
};

static void server_arm_timer(PrometheusServer *s) {
        uint64_t next = UINT64_MAX;

        for (size_t i = 0; i < PROMETHEUS_CONNECTIONS_MAX; i++)
                if (s->conns[i].state != CONN_FREE)
                        next = MIN(next, s->conns[i].deadline_usec);
        if (next == UINT64_MAX) {
                (void) sd_event_source_set_enabled(s->timer, SD_EVENT_OFF);
                return;
        }
        (void) event_timer_rearm(s->timer, next);
}

static void conn_close(Conn *c) {
        if (c->state == CONN_FREE)
                return;
        c->io = sd_event_source_disable_unref(c->io);
        c->fd = safe_close(c->fd);
        prom_writer_done(&c->body);
        c->state = CONN_FREE;
        c->server->stats.open--;
}

/* Sends what the client will take now. Returns 1 when everything is out, 0 to wait for EPOLLOUT,
 * or -errno (the client went away). */
static int conn_flush(Conn *c) {
        for (;;) {
                struct iovec iov[2];
                struct msghdr mh = { .msg_iov = iov };
                ssize_t n;

                if (c->head_sent < c->head_len)
                        iov[mh.msg_iovlen++] = (struct iovec) { c->head + c->head_sent, c->head_len - c->head_sent };
                if (c->body_sent < c->body_len)
                        iov[mh.msg_iovlen++] = (struct iovec) { c->body.buf + c->body_sent, c->body_len - c->body_sent };
                if (mh.msg_iovlen == 0)
                        return 1;
                n = sendmsg(c->fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        if (errno == EAGAIN)
                                return 0;
                        return -errno;
                }
                size_t h = MIN((size_t) n, c->head_len - c->head_sent);
                c->head_sent += h;
                c->body_sent += (size_t) n - h;
        }
}

static void conn_answer(Conn *c, int status, const HttpRequest *req) {
        PrometheusServer *s = c->server;
        const char *content_type = "text/plain; charset=utf-8";
        bool metrics = status == 200 && req->target == HTTP_TARGET_METRICS;
        int r;

        prom_writer_init(&c->body, PROMETHEUS_BODY_MAX);
        if (metrics) {
                r = s->collect(&c->body, s->userdata);
                if (r < 0 || c->body.overflow) {
                        log_warning_errno(r < 0 ? r : -ENOBUFS, "Failed to collect the metrics: %m");
                        prom_writer_reset(&c->body);
                        status = 500;
                        metrics = false;
                } else
                        content_type = PROMETHEUS_CONTENT_TYPE;
        }
        if (!metrics) {
                char line[96];

                if (status == 200)
                        prom_write_text(&c->body, "insole2mqtt: the metrics are at /metrics\n");
                else {
                        (void) snprintf(line, sizeof(line), "%d %s\n", status, http_status_reason(status));
                        prom_write_text(&c->body, line);
                }
        }

        if (metrics)
                s->stats.scrapes++;
        else if (status >= 400) {
                /* Once at notice, so that a hostile client cannot flood the journal; all are counted. */
                log_full(s->stats.rejected == 0 ? LOG_NOTICE : LOG_DEBUG,
                         "Prometheus endpoint: answered a request with %d %s (counted in "
                         "insole2mqtt_prometheus_rejected_requests_total; further ones are logged at debug level).",
                         status, http_status_reason(status));
                s->stats.rejected++;
        }

        r = http_response_head(c->head, sizeof(c->head), status, content_type, c->body.len);
        c->head_len = r < 0 ? 0 : (size_t) r;
        c->head_sent = c->body_sent = 0;
        c->body_len = req->method == HTTP_METHOD_HEAD ? 0 : c->body.len;
        c->state = CONN_WRITING;
        c->deadline_usec = event_now_usec(s->event, CLOCK_MONOTONIC) + s->write_timeout_usec;
}

/* Reads and drops what the client still sends. Returns 1 at its end of stream (or an error, or
 * too much), 0 to wait for more. */
static int conn_discard(Conn *c) {
        for (;;) {
                ssize_t n = recv(c->fd, c->req, sizeof(c->req), MSG_DONTWAIT);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0 && errno == EAGAIN)
                        return 0;
                if (n <= 0)
                        return 1;
                c->discarded += (size_t) n;
                if (c->discarded > LINGER_DISCARD_MAX)
                        return 1;
        }
}

/* Done writing: send our end of stream, then wait (bounded) for the client's before closing, so
 * that the request bytes we never read cannot turn the close into a reset. */
static void conn_finish(Conn *c) {
        PrometheusServer *s = c->server;

        (void) shutdown(c->fd, SHUT_WR);
        c->discarded = 0;
        if (conn_discard(c) > 0) {
                conn_close(c);
                return;
        }
        c->state = CONN_LINGERING;
        c->deadline_usec = event_now_usec(s->event, CLOCK_MONOTONIC) + LINGER_USEC;
        (void) sd_event_source_set_io_events(c->io, EPOLLIN);
}

static int on_conn_io(sd_event_source *source, int fd, uint32_t revents, void *userdata) {
        Conn *c = userdata;
        PrometheusServer *s = c->server;
        int r;

        if (c->state == CONN_LINGERING) {
                if (conn_discard(c) > 0) {
                        conn_close(c);
                        server_arm_timer(s);
                }
                return 0;
        }
        if (c->state == CONN_READING) {
                HttpRequest req;
                ssize_t n;
                int status;

                n = recv(c->fd, c->req + c->req_len, sizeof(c->req) - c->req_len, MSG_DONTWAIT);
                if (n < 0) {
                        if (errno == EAGAIN || errno == EINTR)
                                return 0;
                        conn_close(c);
                        server_arm_timer(s);
                        return 0;
                }
                if (n == 0) {
                        /* gone before the request was complete */
                        conn_close(c);
                        server_arm_timer(s);
                        return 0;
                }
                c->req_len += (size_t) n;
                status = http_request_parse(c->req, c->req_len, &req);
                if (status == 0)
                        return 0;
                conn_answer(c, status, &req);
        }

        r = conn_flush(c);
        if (r == 0) {
                (void) sd_event_source_set_io_events(c->io, EPOLLOUT);
                server_arm_timer(s);
                return 0;
        }
        if (r < 0)
                conn_close(c);
        else
                conn_finish(c);
        server_arm_timer(s);
        return 0;
}

static int evict_rank(const Conn *c) {
        return c->state == CONN_LINGERING ? 0 : c->state == CONN_READING ? 1 : 2;
}

static Conn *server_take_slot(PrometheusServer *s) {
        Conn *oldest = NULL;

        for (size_t i = 0; i < PROMETHEUS_CONNECTIONS_MAX; i++) {
                Conn *c = &s->conns[i];
                if (c->state == CONN_FREE)
                        return c;
                /* Evict one that is only lingering (already answered) first, then the oldest: one
                 * still sending its request before one that is being answered. */
                if (!oldest || evict_rank(c) < evict_rank(oldest) ||
                    (evict_rank(c) == evict_rank(oldest) && c->accepted_usec < oldest->accepted_usec))
                        oldest = c;
        }
        if (oldest->state != CONN_LINGERING)
                s->stats.evicted++;
        conn_close(oldest);
        return oldest;
}

#define PROMETHEUS_SNDBUF (128 * 1024) /* the kernel doubles it */

static int on_listen(sd_event_source *source, int fd, uint32_t revents, void *userdata) {
        PrometheusServer *s = userdata;

        for (unsigned i = 0; i < ACCEPT_BURST; i++) {
                _cleanup_close_ int cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
                Conn *c;
                int r;

                if (cfd < 0) {
                        if (errno == EAGAIN || errno == EINTR || errno == ECONNABORTED)
                                break;
                        /* EMFILE and friends: back off until the next wake-up rather than spin */
                        log_debug_errno(errno, "Prometheus endpoint: accept() failed: %m");
                        break;
                }
                /* A fixed send buffer: the kernel would otherwise grow it (up to tcp_wmem's 4 MiB)
                 * for a client that never reads, holding a whole answer in kernel memory and
                 * leaving the write timeout nothing to time. An answer to a reading client leaves
                 * at the same speed. */
                (void) setsockopt(cfd, SOL_SOCKET, SO_SNDBUF, &(int) { PROMETHEUS_SNDBUF }, sizeof(int));
                c = server_take_slot(s);
                r = sd_event_add_io(s->event, &c->io, cfd, EPOLLIN, on_conn_io, c);
                if (r < 0) {
                        log_debug_errno(r, "Prometheus endpoint: cannot watch a connection: %m");
                        continue;
                }
                c->fd = TAKE_FD(cfd);
                c->state = CONN_READING;
                c->req_len = 0;
                c->accepted_usec = event_now_usec(s->event, CLOCK_MONOTONIC);
                c->deadline_usec = c->accepted_usec + s->head_timeout_usec;
                s->stats.connections++;
                s->stats.open++;
        }
        server_arm_timer(s);
        return 0;
}

static int on_timer(sd_event_source *source, uint64_t usec, void *userdata) {
        PrometheusServer *s = userdata;
        uint64_t now = event_now_usec(s->event, CLOCK_MONOTONIC);

        for (size_t i = 0; i < PROMETHEUS_CONNECTIONS_MAX; i++) {
                Conn *c = &s->conns[i];
                if (c->state != CONN_FREE && c->deadline_usec <= now) {
                        /* a client that keeps its end open after the answer is no failure */
                        if (c->state != CONN_LINGERING)
                                s->stats.timeouts++;
                        conn_close(c);
                }
        }
        server_arm_timer(s);
        return 0;
}

static int server_listen(PrometheusServer *s, const char *listen_address) {
        struct sockaddr_storage ss;
        socklen_t len;
        _cleanup_close_ int fd = -1;
        int r;

        r = config_parse_listen_address(listen_address, &ss, &len);
        if (r < 0)
                return r;
        fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        (void) setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &(int) { 1 }, sizeof(int));
        if (bind(fd, (struct sockaddr *) &ss, len) < 0 || listen(fd, LISTEN_BACKLOG) < 0)
                return -errno;
        s->listen_fd[s->n_listeners++] = TAKE_FD(fd);
        log_info("Serving Prometheus metrics on http://%s/metrics", listen_address);
        return 0;
}

/* Socket activation: every listening stream socket systemd passed. */
static int server_take_systemd_sockets(PrometheusServer *s) {
        int n = sd_listen_fds(true);

        if (n < 0)
                return n;
        for (int fd = SD_LISTEN_FDS_START; fd < SD_LISTEN_FDS_START + n; fd++) {
                if (sd_is_socket(fd, AF_UNSPEC, SOCK_STREAM, 1) <= 0 || s->n_listeners >= PROMETHEUS_LISTENERS_MAX) {
                        (void) safe_close(fd);
                        continue;
                }
                (void) fcntl(fd, F_SETFD, FD_CLOEXEC);
                (void) fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
                s->listen_fd[s->n_listeners++] = fd;
        }
        if (s->n_listeners == 0)
                return -EBADF; /* none passed: no socket unit, or not a listening stream */
        log_info("Serving Prometheus metrics on %zu socket(s) from systemd.", s->n_listeners);
        return 0;
}

PrometheusServer *prometheus_server_free(PrometheusServer *s) {
        if (!s)
                return NULL;
        for (size_t i = 0; i < PROMETHEUS_CONNECTIONS_MAX; i++)
                conn_close(&s->conns[i]);
        for (size_t i = 0; i < s->n_listeners; i++) {
                sd_event_source_disable_unref(s->listen_source[i]);
                safe_close(s->listen_fd[i]);
        }
        sd_event_source_disable_unref(s->timer);
        sd_event_unref(s->event);
        free(s);
        return NULL;
}

int prometheus_server_new(sd_event *event, const char *listen_address, PrometheusCollector collect, void *userdata,
                          PrometheusServer **ret) {
        _cleanup_(prometheus_server_freep) PrometheusServer *s = NULL;
        int r;

        if (!event || !listen_address || !collect || !ret)
                return -EINVAL;
        s = calloc(1, sizeof(*s));
        if (!s)
                return -ENOMEM;
        s->event = sd_event_ref(event);
        s->collect = collect;
        s->userdata = userdata;
        prometheus_server_set_timeouts(s, 0, 0);
        for (size_t i = 0; i < PROMETHEUS_CONNECTIONS_MAX; i++)
                s->conns[i] = (Conn) { .server = s, .fd = -1 };

        if (streq(listen_address, PROMETHEUS_LISTEN_SYSTEMD))
                r = server_take_systemd_sockets(s);
        else
                r = server_listen(s, listen_address);
        if (r < 0)
                return r;

        for (size_t i = 0; i < s->n_listeners; i++) {
                r = sd_event_add_io(event, &s->listen_source[i], s->listen_fd[i], EPOLLIN, on_listen, s);
                if (r < 0)
                        return r;
        }
        r = sd_event_add_time(event, &s->timer, CLOCK_MONOTONIC, UINT64_MAX, 100 * USEC_PER_MSEC, on_timer, s);
        if (r < 0)
                return r;
        (void) sd_event_source_set_enabled(s->timer, SD_EVENT_OFF);

        *ret = TAKE_PTR(s);
        return 0;
}

void prometheus_server_get_stats(const PrometheusServer *s, PrometheusServerStats *ret) {
        *ret = s ? s->stats : (PrometheusServerStats) {};
}

void prometheus_server_set_timeouts(PrometheusServer *s, uint64_t head_usec, uint64_t write_usec) {
        s->head_timeout_usec = head_usec ?: PROMETHEUS_HEAD_TIMEOUT_USEC;
        s->write_timeout_usec = write_usec ?: PROMETHEUS_WRITE_TIMEOUT_USEC;
}
