/* SPDX-License-Identifier: MIT */
/* The pure parts of the Prometheus endpoint: the HTTP request parser, the response head, the
 * exposition writer, and the listening address of the configuration. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <math.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <systemd/sd-daemon.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "macro.h"
#include "prometheus.h"

static int parse(const char *s, HttpRequest *req) {
        return http_request_parse(s, strlen(s), req);
}

#define GET_METRICS "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1:9464\r\nUser-Agent: Prometheus/2.42.0\r\n" \
                    "Accept: text/plain;version=0.0.4;q=1\r\nAccept-Encoding: gzip\r\n\r\n"

static void test_valid_request(void **state) {
        HttpRequest req;

        assert_int_equal(parse(GET_METRICS, &req), 200);
        assert_int_equal(req.method, HTTP_METHOD_GET);
        assert_int_equal(req.target, HTTP_TARGET_METRICS);
        assert_int_equal(req.version_minor, 1);
        assert_int_equal(req.n_headers, 4);
        assert_int_equal(req.head_length, strlen(GET_METRICS));

        /* bytes after the head (a pipelined request) do not change the answer */
        assert_int_equal(parse(GET_METRICS "GET / HTTP/1.1\r\n", &req), 200);
        assert_int_equal(req.head_length, strlen(GET_METRICS));

        assert_int_equal(parse("HEAD /metrics HTTP/1.1\r\nHost: x\r\n\r\n", &req), 200);
        assert_int_equal(req.method, HTTP_METHOD_HEAD);
        assert_int_equal(parse("GET / HTTP/1.0\r\n\r\n", &req), 200);
        assert_int_equal(req.target, HTTP_TARGET_ROOT);
        assert_int_equal(req.version_minor, 0);
        assert_int_equal(parse("GET /metrics?name[]=up HTTP/1.1\nhost:x\n\n", &req), 200);
        assert_int_equal(req.target, HTTP_TARGET_METRICS);
        assert_int_equal(parse("GET http://gw:9464/metrics HTTP/1.1\r\nHost: gw\r\n\r\n", &req), 200);
        assert_int_equal(req.target, HTTP_TARGET_METRICS);
        assert_int_equal(parse("GET /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nX-Empty:\r\n\r\n", &req), 200);
}

static void test_every_prefix_waits(void **state) {
        const char *full = GET_METRICS;
        size_t l = strlen(full);
        HttpRequest req;

        for (size_t i = 0; i < l; i++)
                assert_int_equal(http_request_parse(full, i, &req), 0);
        assert_int_equal(http_request_parse(full, l, &req), 200);
}

static void test_answers(void **state) {
        static const struct {
                const char *request;
                int status;
        } cases[] = {
                { "POST /metrics HTTP/1.1\r\nHost: x\r\n\r\n", 405 },
                { "DELETE / HTTP/1.0\r\n\r\n", 405 },
                { "GET /metric HTTP/1.1\r\nHost: x\r\n\r\n", 404 },
                { "GET /metrics/ HTTP/1.1\r\nHost: x\r\n\r\n", 404 },
                { "GET /metrics HTTP/1.1\r\n\r\n", 400 },                 /* HTTP/1.1 needs Host */
                { "GET /metrics HTTP/2.0\r\n\r\n", 505 },
                { "GET /metrics HTTP/1.1x\r\n\r\n", 400 },
                { "GET /metrics http/1.1\r\n\r\n", 400 },
                { "GET  /metrics HTTP/1.1\r\nHost: x\r\n\r\n", 400 },
                { "GET metrics HTTP/1.1\r\nHost: x\r\n\r\n", 400 },
                { "GET /metrics\r\n\r\n", 400 },                           /* HTTP/0.9 */
                { "\r\nGET /metrics HTTP/1.1\r\nHost: x\r\n\r\n", 400 },
                { "GET /me\ttrics HTTP/1.1\r\nHost: x\r\n\r\n", 400 },
                { "GET /metrics HTTP/1.1\r\nHost x\r\n\r\n", 400 },         /* no colon */
                { "GET /metrics HTTP/1.1\r\nHost : x\r\n\r\n", 400 },       /* space before the colon */
                { "GET /metrics HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n", 400 },
                { "GET /metrics HTTP/1.1\r\nHost: x\r\n: empty\r\n\r\n", 400 },
                { "GET /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello", 400 },
                { "GET /metrics HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n", 400 },
                { "GET /metrics HTTP/1.1\r\nHost: a\rb\r\n\r\n", 400 },     /* a bare CR */
                /* answered before the head is complete: */
                { "GET /metrics HTTP/1.1\r\nHost: x\r\nBad Header\r\n", 400 },
                { "GET /metrics HTTP/1.1\rX", 400 },
                { "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 400 },  /* a TLS ClientHello */
                { "GETGETGETGETGETGETGETGET", 400 },                       /* no method is this long */
                { "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 400 },
        };
        HttpRequest req;

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                int r = http_request_parse(cases[i].request, strlen(cases[i].request), &req);
                if (r != cases[i].status)
                        print_error("case %zu: %d, expected %d\n", i, r, cases[i].status);
                assert_int_equal(r, cases[i].status);
        }
}

static void test_limits(void **state) {
        char buf[HTTP_REQUEST_MAX + 64];
        HttpRequest req;
        size_t o;

        /* a head that never ends */
        o = (size_t) snprintf(buf, sizeof(buf), "GET /metrics HTTP/1.1\r\nHost: x\r\n");
        while (o + 200 < HTTP_REQUEST_MAX)
                o += (size_t) snprintf(buf + o, sizeof(buf) - o, "X-Long: %0180zu\r\n", o);
        assert_int_equal(http_request_parse(buf, o, &req), 0);
        memset(buf + o, 'a', HTTP_REQUEST_MAX - o);
        assert_int_equal(http_request_parse(buf, HTTP_REQUEST_MAX, &req), 431);

        /* too many headers, well within the size */
        o = (size_t) snprintf(buf, sizeof(buf), "GET /metrics HTTP/1.1\r\nHost: x\r\n");
        for (unsigned i = 0; i < HTTP_HEADERS_MAX; i++)
                o += (size_t) snprintf(buf + o, sizeof(buf) - o, "A: b\r\n");
        o += (size_t) snprintf(buf + o, sizeof(buf) - o, "\r\n");
        assert_int_equal(http_request_parse(buf, o, &req), 431);

        /* a target too long, with and without its line ending */
        o = (size_t) snprintf(buf, sizeof(buf), "GET /");
        memset(buf + o, 'x', HTTP_TARGET_MAX + 100);
        o += HTTP_TARGET_MAX + 100;
        assert_int_equal(http_request_parse(buf, o, &req), 414);
        o += (size_t) snprintf(buf + o, sizeof(buf) - o, " HTTP/1.1\r\nHost: x\r\n\r\n");
        assert_int_equal(http_request_parse(buf, o, &req), 414);

        /* a slow client: the request line byte by byte keeps waiting */
        assert_int_equal(http_request_parse("GET /metr", 9, &req), 0);
        assert_int_equal(http_request_parse("", 0, &req), 0);
        assert_int_equal(http_request_parse(NULL, 0, &req), 400);
}

static void test_response_head(void **state) {
        char buf[256];
        int n;

        n = http_response_head(buf, sizeof(buf), 200, PROMETHEUS_CONTENT_TYPE, 1234);
        assert_true(n > 0);
        assert_int_equal((size_t) n, strlen(buf));
        assert_string_equal(buf, "HTTP/1.1 200 OK\r\n"
                                 "Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n"
                                 "Content-Length: 1234\r\n"
                                 "Cache-Control: no-store\r\n"
                                 "Connection: close\r\n\r\n");
        n = http_response_head(buf, sizeof(buf), 405, "text/plain", 0);
        assert_non_null(strstr(buf, "HTTP/1.1 405 Method Not Allowed\r\n"));
        assert_non_null(strstr(buf, "\r\nAllow: GET, HEAD\r\n"));
        assert_int_equal(http_response_head(buf, 16, 200, "text/plain", 0), -ENOBUFS);
        assert_string_equal(http_status_reason(431), "Request Header Fields Too Large");
}

static void test_writer(void **state) {
        PromWriter w;
        const PromLabels l = { .gateway = "gw", .wearer = "anna", .foot = "left", .window = "last_60s" };

        prom_writer_init(&w, PROMETHEUS_BODY_MAX);
        prom_family(&w, "a_seconds", PROM_GAUGE, "Help with a \\ and\na line feed.");
        prom_sample(&w, &l, 1.5);
        prom_sample(&w, &(PromLabels) { .gateway = "g\"w\\\n" }, 2);
        prom_sample(&w, NULL, NAN);         /* not enough data: no sample */
        prom_family(&w, "b_total", PROM_COUNTER, "Never sampled.");
        prom_sample(&w, NULL, INFINITY);
        prom_family(&w, "c_total", PROM_COUNTER, "Counted.");
        prom_sample(&w, &(PromLabels) { .extra_name = "state", .extra_value = "walking" }, 12345678901234.0);
        prom_sample(&w, NULL, 0.1);
        assert_false(w.overflow);
        assert_string_equal(w.buf, "# HELP a_seconds Help with a \\\\ and\\na line feed.\n"
                                   "# TYPE a_seconds gauge\n"
                                   "a_seconds{gateway=\"gw\",wearer=\"anna\",foot=\"left\",window=\"last_60s\"} 1.5\n"
                                   "a_seconds{gateway=\"g\\\"w\\\\\\n\"} 2\n"
                                   "# HELP c_total Counted.\n"
                                   "# TYPE c_total counter\n"
                                   "c_total{state=\"walking\"} 12345678901234\n"
                                   "c_total 0.1\n");
        assert_int_equal(w.len, strlen(w.buf));
        prom_writer_reset(&w);
        prom_write_text(&w, "plain\n");
        assert_string_equal(w.buf, "plain\n");
        prom_writer_done(&w);

        /* bounded: what does not fit marks the result unusable, it never grows past max */
        prom_writer_init(&w, 64);
        prom_family(&w, "a_long_metric_name_seconds", PROM_GAUGE, "A help text that is long enough.");
        prom_sample(&w, &l, 1);
        assert_true(w.overflow);
        assert_true(w.alloc <= 64);
        prom_writer_done(&w);
}

static void test_listen_address(void **state) {
        struct sockaddr_storage ss;
        socklen_t len;
        char text[CONFIG_ERROR_MAX];
        Config c;

        assert_int_equal(config_parse_listen_address("127.0.0.1:9464", &ss, &len), 0);
        assert_int_equal(ss.ss_family, AF_INET);
        assert_int_equal(len, sizeof(struct sockaddr_in));
        assert_int_equal(ntohs(((struct sockaddr_in *) &ss)->sin_port), 9464);
        assert_int_equal(config_parse_listen_address("0.0.0.0:1", &ss, &len), 0);
        assert_int_equal(config_parse_listen_address("[::1]:9464", &ss, &len), 0);
        assert_int_equal(ss.ss_family, AF_INET6);
        assert_int_equal(ntohs(((struct sockaddr_in6 *) &ss)->sin6_port), 9464);
        assert_int_equal(config_parse_listen_address("[::]:65535", &ss, &len), 0);

        assert_int_equal(config_parse_listen_address("localhost:9464", &ss, &len), -EINVAL);
        assert_int_equal(config_parse_listen_address("127.0.0.1", &ss, &len), -EINVAL);
        assert_int_equal(config_parse_listen_address("127.0.0.1:", &ss, &len), -EINVAL);
        assert_int_equal(config_parse_listen_address(":9464", &ss, &len), -EINVAL);
        assert_int_equal(config_parse_listen_address("::1:9464", &ss, &len), -EINVAL);
        assert_int_equal(config_parse_listen_address("[::1]9464", &ss, &len), -EINVAL);
        assert_int_equal(config_parse_listen_address("127.0.0.1:+80", &ss, &len), -EINVAL);
        assert_int_equal(config_parse_listen_address("127.0.0.1:0", &ss, &len), -ERANGE);
        assert_int_equal(config_parse_listen_address("127.0.0.1:65536", &ss, &len), -ERANGE);
        assert_int_equal(config_parse_listen_address(NULL, &ss, &len), -EINVAL);

        assert_int_equal(config_load_string("[metrics]\nprometheus-listen = [::1]:9464\n[wearer anna]\nleft = C0:FF:EE:00:00:01\n",
                                            "@", &c, text, sizeof(text)),
                         0);
        assert_string_equal(c.prometheus_listen, "[::1]:9464");
        config_done(&c);
        assert_int_equal(config_load_string("[metrics]\nprometheus-listen = systemd\n[wearer anna]\nleft = C0:FF:EE:00:00:01\n",
                                            "@", &c, text, sizeof(text)),
                         0);
        assert_string_equal(c.prometheus_listen, PROMETHEUS_LISTEN_SYSTEMD);
        config_done(&c);
        assert_int_equal(config_load_string("[metrics]\nprometheus-listen = pi.lan:9464\n[wearer anna]\nleft = C0:FF:EE:00:00:01\n",
                                            "@", &c, text, sizeof(text)),
                         -EINVAL);
        assert_string_equal(text, "@:2: [metrics] prometheus-listen: found 'pi.lan:9464', expected nothing (off), an "
                                  "address and port such as 127.0.0.1:9464 or [::1]:9464, or systemd");
}


/* ---- the server, in process, on a loopback port --------------------------------------------- */

#define BIG_SAMPLES 20000 /* about 1.4 MB: more than the server's fixed send buffer and a reader's 1 KiB window hold */

static int collect_big(PromWriter *w, void *userdata) {
        unsigned *calls = userdata;
        char wearer[64];

        (*calls)++;
        prom_family(w, "test_value", PROM_GAUGE, "A value.");
        for (unsigned i = 0; i < BIG_SAMPLES; i++) {
                (void) snprintf(wearer, sizeof(wearer), "wearer-%08u-with-a-long-name-to-fill", i);
                prom_sample(w, &(PromLabels) { .gateway = "test", .wearer = wearer }, i);
        }
        return 0;
}

static uint16_t free_port(void) {
        struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        socklen_t l = sizeof(a);
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

        assert_true(fd >= 0);
        assert_int_equal(bind(fd, (struct sockaddr *) &a, l), 0);
        assert_int_equal(getsockname(fd, (struct sockaddr *) &a, &l), 0);
        close(fd);
        return ntohs(a.sin_port);
}

static int client(uint16_t port, int rcvbuf) {
        struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

        assert_true(fd >= 0);
        if (rcvbuf > 0)
                assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf)), 0);
        assert_int_equal(connect(fd, (struct sockaddr *) &a, sizeof(a)), 0);
        return fd;
}

static uint64_t mono_usec(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * USEC_PER_SEC + (uint64_t) ts.tv_nsec / 1000;
}

static bool client_saw_end; /* run_until() read the end of fd's stream */

/* Runs the loop until pred() or 5 s, reading fd's answer (if fd >= 0) into *out as it arrives. */
static void run_until(sd_event *e, PrometheusServer *s, bool (*pred)(const PrometheusServerStats *st, size_t got),
                      int fd, char **out, size_t *got) {
        uint64_t end = mono_usec() + 5 * USEC_PER_SEC;
        PrometheusServerStats st;

        for (;;) {
                prometheus_server_get_stats(s, &st);
                if (pred(&st, got ? *got : 0) || mono_usec() > end)
                        return;
                assert_true(sd_event_run(e, 20 * USEC_PER_MSEC) >= 0);
                while (fd >= 0) {
                        char buf[65536];
                        ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
                        client_saw_end = client_saw_end || n == 0;
                        if (n <= 0)
                                break;
                        *out = realloc(*out, *got + (size_t) n + 1);
                        assert_non_null(*out);
                        memcpy(*out + *got, buf, (size_t) n);
                        *got += (size_t) n;
                        (*out)[*got] = '\0';
                }
        }
}

static bool two_timeouts(const PrometheusServerStats *st, size_t got) {
        return st->timeouts >= 2;
}
static bool eight_open_one_evicted(const PrometheusServerStats *st, size_t got) {
        return st->open == 8 && st->evicted >= 1;
}
static bool answer_complete(const PrometheusServerStats *st, size_t got) {
        return st->scrapes == 1 && client_saw_end;
}
static bool none_open(const PrometheusServerStats *st, size_t got) {
        return st->open == 0;
}
static bool one_rejected(const PrometheusServerStats *st, size_t got) {
        return st->rejected == 1;
}

/* The rest of an answer that the server has finished: its bytes, then 0 at the end of stream
 * (never a reset). */
static ssize_t read_to_end(int fd, char *buf, size_t size, size_t *got) {
        struct timeval tv = { .tv_sec = 5 };
        ssize_t n;

        assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)), 0);
        while ((n = recv(fd, buf + *got, size - 1 - *got, 0)) > 0) {
                *got += (size_t) n;
                buf[*got] = '\0';
        }
        return n < 0 ? -errno : 0;
}

static void test_server(void **state) {
        _cleanup_(prometheus_server_freep) PrometheusServer *s = NULL;
        sd_event *e = NULL;
        PrometheusServerStats st;
        char address[32], *answer = NULL;
        uint16_t port = free_port();
        unsigned calls = 0;
        size_t got = 0;
        int fds[9], reader, slow, good;

        assert_int_equal(sd_event_new(&e), 0);
        (void) snprintf(address, sizeof(address), "127.0.0.1:%u", port);
        assert_int_equal(prometheus_server_new(e, address, collect_big, &calls, &s), 0);

        /* a whole answer, taken as it comes */
        good = client(port, 0);
        client_saw_end = false;
        assert_int_equal(send(good, GET_METRICS, strlen(GET_METRICS), 0), (ssize_t) strlen(GET_METRICS));
        run_until(e, s, answer_complete, good, &answer, &got);
        prometheus_server_get_stats(s, &st);
        assert_int_equal(st.scrapes, 1);
        assert_int_equal(calls, 1);
        assert_non_null(answer);
        assert_true(strncmp(answer, "HTTP/1.1 200 OK\r\nContent-Type: " PROMETHEUS_CONTENT_TYPE "\r\n", 60) == 0);
        {
                const char *body = strstr(answer, "\r\n\r\n");
                unsigned long length = 0;
                assert_non_null(body);
                assert_int_equal(sscanf(strstr(answer, "Content-Length: "), "Content-Length: %lu", &length), 1);
                assert_int_equal(length, got - (size_t) (body + 4 - answer));
                assert_true(strncmp(body + 4, "# HELP test_value A value.\n# TYPE test_value gauge\n", 50) == 0);
        }
        free(answer);
        /* answered: the server waits for our end of stream, and closes on it */
        prometheus_server_get_stats(s, &st);
        assert_int_equal(st.open, 1);
        close(good);
        run_until(e, s, none_open, -1, NULL, NULL);
        prometheus_server_get_stats(s, &st);
        assert_int_equal(st.open, 0);
        assert_int_equal(st.timeouts, 0);

        /* one that never reads its (too large) answer, one that never ends its request. Short limits
         * for these two only: the complete answer above and the idle connections below must not
         * meet them on a loaded machine or under emulation. */
        prometheus_server_set_timeouts(s, 200 * USEC_PER_MSEC, 300 * USEC_PER_MSEC);
        reader = client(port, 1024);
        assert_int_equal(send(reader, GET_METRICS, strlen(GET_METRICS), 0), (ssize_t) strlen(GET_METRICS));
        slow = client(port, 0);
        assert_int_equal(send(slow, "GET /metrics HTTP/1.1\r\n", 23, 0), 23);
        run_until(e, s, two_timeouts, -1, NULL, NULL);
        prometheus_server_get_stats(s, &st);
        assert_int_equal(st.timeouts, 2);
        assert_int_equal(st.open, 0);
        assert_int_equal(st.scrapes, 2); /* answered, just never taken */
        close(reader);
        close(slow);

        /* nine idle connections: the ninth evicts the oldest */
        prometheus_server_set_timeouts(s, 0, 0); /* the defaults */
        for (size_t i = 0; i < ELEMENTSOF(fds); i++)
                fds[i] = client(port, 0);
        run_until(e, s, eight_open_one_evicted, -1, NULL, NULL);
        prometheus_server_get_stats(s, &st);
        assert_int_equal(st.open, PROMETHEUS_CONNECTIONS_MAX);
        assert_int_equal(st.evicted, 1);
        {
                char c;
                assert_int_equal(recv(fds[0], &c, 1, MSG_DONTWAIT), 0); /* the oldest was closed */
        }
        for (size_t i = 0; i < ELEMENTSOF(fds); i++)
                close(fds[i]);

        s = prometheus_server_free(s);
        sd_event_unref(e);
}

/* A head far over the limit: the server answers 431 after reading 4 KiB of it and must not close
 * on the unread rest, which would answer the client's further bytes with a reset (and a reset can
 * destroy an answer the client has not read or not yet received, RFC 9112 section 9.6). The client
 * sends more after the answer, then reads: the send succeeds, and the answer ends in an end of
 * stream. */
static void test_server_oversized_head_gets_its_answer(void **state) {
        _cleanup_(prometheus_server_freep) PrometheusServer *s = NULL;
        sd_event *e = NULL;
        PrometheusServerStats st;
        char address[32], answer[1024] = "";
        uint16_t port = free_port();
        unsigned calls = 0;
        size_t got = 0, head_len = 64 * 1024;
        char *head = malloc(head_len);
        int fd;

        assert_non_null(head);
        memset(head, 'a', head_len);
        memcpy(head, "GET /metrics HTTP/1.1\r\nX-Long: ", 32);
        assert_int_equal(sd_event_new(&e), 0);
        (void) snprintf(address, sizeof(address), "127.0.0.1:%u", port);
        assert_int_equal(prometheus_server_new(e, address, collect_big, &calls, &s), 0);

        fd = client(port, 0);
        assert_int_equal(send(fd, head, head_len, 0), (ssize_t) head_len);
        run_until(e, s, one_rejected, -1, NULL, NULL);
        /* let the server finish (and, without the lingering, close) before the client reads */
        for (int i = 0; i < 10; i++)
                assert_true(sd_event_run(e, 10 * USEC_PER_MSEC) >= 0);
        /* still sending when the answer has come: no reset */
        assert_int_equal(send(fd, head, 4096, MSG_NOSIGNAL), 4096);
        for (int i = 0; i < 10; i++)
                assert_true(sd_event_run(e, 10 * USEC_PER_MSEC) >= 0);
        assert_int_equal(read_to_end(fd, answer, sizeof(answer), &got), 0);
        assert_true(strncmp(answer, "HTTP/1.1 431 ", 13) == 0);
        assert_int_equal(calls, 0);
        close(fd);
        run_until(e, s, none_open, -1, NULL, NULL);
        prometheus_server_get_stats(s, &st);
        assert_int_equal(st.open, 0);
        assert_int_equal(st.rejected, 1);
        assert_int_equal(st.timeouts, 0);

        free(head);
        s = prometheus_server_free(s);
        sd_event_unref(e);
}

/* prometheus-listen = systemd: the socket comes from socket activation (fd 3, $LISTEN_FDS). */
static void test_server_socket_activation(void **state) {
        _cleanup_(prometheus_server_freep) PrometheusServer *s = NULL;
        struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        socklen_t l = sizeof(a);
        sd_event *e = NULL;
        PrometheusServerStats st;
        char pid[32], *answer = NULL;
        unsigned calls = 0;
        size_t got = 0;
        int fd, c;

        if (fcntl(SD_LISTEN_FDS_START, F_GETFD) >= 0)
                skip(); /* fd 3 is taken in this environment */
        fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        assert_true(fd >= 0);
        assert_int_equal(bind(fd, (struct sockaddr *) &a, l), 0);
        assert_int_equal(listen(fd, 4), 0);
        assert_int_equal(getsockname(fd, (struct sockaddr *) &a, &l), 0);
        if (fd != SD_LISTEN_FDS_START) { /* fd 3 is free, so socket() may well have returned it */
                assert_int_equal(dup2(fd, SD_LISTEN_FDS_START), SD_LISTEN_FDS_START);
                close(fd);
        }
        (void) snprintf(pid, sizeof(pid), "%d", (int) getpid());
        assert_int_equal(setenv("LISTEN_PID", pid, 1), 0);
        assert_int_equal(setenv("LISTEN_FDS", "1", 1), 0);

        assert_int_equal(sd_event_new(&e), 0);
        assert_int_equal(prometheus_server_new(e, PROMETHEUS_LISTEN_SYSTEMD, collect_big, &calls, &s), 0);
        assert_null(getenv("LISTEN_FDS")); /* taken: not passed on to children */

        c = client(ntohs(a.sin_port), 0);
        client_saw_end = false;
        assert_int_equal(send(c, GET_METRICS, strlen(GET_METRICS), 0), (ssize_t) strlen(GET_METRICS));
        run_until(e, s, answer_complete, c, &answer, &got);
        prometheus_server_get_stats(s, &st);
        assert_int_equal(st.scrapes, 1);
        assert_non_null(answer);
        assert_true(strncmp(answer, "HTTP/1.1 200 OK\r\n", 17) == 0);
        free(answer);
        close(c);

        s = prometheus_server_free(s);
        sd_event_unref(e);
        /* no socket passed: a clear error */
        assert_int_equal(sd_event_new(&e), 0);
        assert_true(prometheus_server_new(e, PROMETHEUS_LISTEN_SYSTEMD, collect_big, &calls, &s) < 0);
        sd_event_unref(e);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_valid_request),
                cmocka_unit_test(test_every_prefix_waits),
                cmocka_unit_test(test_answers),
                cmocka_unit_test(test_limits),
                cmocka_unit_test(test_response_head),
                cmocka_unit_test(test_writer),
                cmocka_unit_test(test_listen_address),
                cmocka_unit_test(test_server),
                cmocka_unit_test(test_server_oversized_head_gets_its_answer),
                cmocka_unit_test(test_server_socket_activation),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
