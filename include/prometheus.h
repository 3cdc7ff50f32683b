/* SPDX-License-Identifier: MIT */
#pragma once

/* A Prometheus endpoint without threads or an HTTP library: a deliberately minimal HTTP/1.x server
 * that answers GET (and HEAD) /metrics from the sd-event loop. Three layers:
 *
 *   - http_request_parse(): pure, bytes in, the status to answer out; the fuzzers' target;
 *   - PromWriter: pure, the text exposition format 0.0.4 into a bounded buffer;
 *   - PrometheusServer: the I/O shell. At most PROMETHEUS_CONNECTIONS_MAX connections, each with a
 *     fixed request buffer of HTTP_REQUEST_MAX bytes (allocated once with the server) and, while it
 *     answers, one response buffer of at most PROMETHEUS_BODY_MAX bytes. One request per connection
 *     ("Connection: close"). A connection that has not sent its whole request head within
 *     PROMETHEUS_HEAD_TIMEOUT_USEC, or not taken its whole answer within PROMETHEUS_WRITE_TIMEOUT_USEC,
 *     is closed; when every slot is taken, a new connection evicts the oldest one, so a crowd of slow
 *     clients cannot lock a scraper out for longer than it takes to send one request.
 *
 * docs/prometheus.md documents the endpoint and every metric. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <systemd/sd-event.h>

#include "macro.h"

/* ---- HTTP request heads ------------------------------------------------------------------- */

#define HTTP_REQUEST_MAX 4096       /* request line and headers, blank line included */
#define HTTP_HEADERS_MAX 32
#define HTTP_TARGET_MAX 1024

typedef enum HttpMethod {
        HTTP_METHOD_GET,
        HTTP_METHOD_HEAD,
        HTTP_METHOD_OTHER,          /* a well-formed method we do not serve: 405 */
        _HTTP_METHOD_MAX,
        _HTTP_METHOD_INVALID = -1,
} HttpMethod;

typedef enum HttpTarget {
        HTTP_TARGET_METRICS,        /* /metrics */
        HTTP_TARGET_ROOT,           /* / : a line that points at /metrics */
        HTTP_TARGET_OTHER,
        _HTTP_TARGET_MAX,
        _HTTP_TARGET_INVALID = -1,
} HttpTarget;

typedef struct HttpRequest {
        HttpMethod method;          /* known once the request line is complete, else _INVALID */
        HttpTarget target;
        unsigned version_minor;     /* HTTP/1.0 or HTTP/1.1 */
        unsigned n_headers;
        size_t head_length;         /* bytes up to and including the blank line */
} HttpRequest;

/* Parses the head of one HTTP/1.x request held in buf[0..len). Returns 0 while more bytes are
 * needed, else the status to answer: 200 (GET or HEAD of / or /metrics), 400 (malformed: bad
 * request line, header syntax, control characters, obsolete line folding, a body announced,
 * HTTP/1.1 without Host), 404, 405, 431 (head longer than HTTP_REQUEST_MAX or more than
 * HTTP_HEADERS_MAX headers), 505 (another HTTP version). Lines end in CRLF or a bare LF. A bad
 * request line or header is answered as soon as its line is complete, before the head ends. */
int http_request_parse(const char *buf, size_t len, HttpRequest *ret);

/* The reason phrase of the statuses above (and 500, 503); "Error" for others. */
const char *http_status_reason(int status);

/* Writes a response head ("HTTP/1.1 STATUS REASON", Content-Type, Content-Length,
 * Connection: close, and Allow on 405) into buf. Returns its length, or -ENOBUFS. */
int http_response_head(char *buf, size_t size, int status, const char *content_type, size_t content_length);

/* ---- the text exposition format ------------------------------------------------------------ */

#define PROMETHEUS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"
#define PROMETHEUS_BODY_MAX (2 * 1024 * 1024) /* one wearer takes about 40 KiB */

typedef enum PromType {
        PROM_GAUGE,
        PROM_COUNTER,
        _PROM_TYPE_MAX,
} PromType;

/* The labels a sample may carry, always written in this order; NULL ones are left out. extra_name
 * is a fixed label name of the metric (state, pattern, region, ...). Values are escaped. */
typedef struct PromLabels {
        const char *gateway;
        const char *wearer;
        const char *foot;
        const char *window;
        const char *extra_name;
        const char *extra_value;
} PromLabels;

typedef struct PromWriter {
        char *buf;
        size_t len;
        size_t alloc;
        size_t max;
        bool overflow;              /* something did not fit into max bytes: the result is unusable */
        /* The family announced last; its HELP and TYPE lines are written before its first sample,
         * so a family without samples leaves no trace. */
        char family[128];           /* "" = none */
        const char *help;
        PromType type;
        bool family_written;
} PromWriter;

/* The buffer grows as needed up to max bytes. */
void prom_writer_init(PromWriter *w, size_t max);
void prom_writer_done(PromWriter *w);
void prom_writer_reset(PromWriter *w);

/* Starts a metric family: name [a-zA-Z_:][a-zA-Z0-9_:]* (copied), help one line (must stay valid
 * until the next family). Every sample until the next call belongs to it. */
void prom_family(PromWriter *w, const char *name, PromType type, const char *help);
/* A sample of the current family. Non-finite values are left out: "not enough data" is no sample,
 * never NaN. */
void prom_sample(PromWriter *w, const PromLabels *labels, double value);
/* A sample with an explicit metric name (e.g. a histogram's _bucket); same rules. */
void prom_sample_named(PromWriter *w, const char *name, const PromLabels *labels, double value);

/* Plain text as it is (the one-line bodies of other answers). */
void prom_write_text(PromWriter *w, const char *text);

/* ---- the server ---------------------------------------------------------------------------- */

#define PROMETHEUS_CONNECTIONS_MAX 8
#define PROMETHEUS_LISTENERS_MAX 4
#define PROMETHEUS_HEAD_TIMEOUT_USEC (5 * USEC_PER_SEC)
#define PROMETHEUS_WRITE_TIMEOUT_USEC (10 * USEC_PER_SEC)
/* The configuration value that takes the listening sockets from systemd socket activation. */
#define PROMETHEUS_LISTEN_SYSTEMD "systemd"

typedef struct PrometheusServer PrometheusServer;

/* Writes every metric; a negative return turns the answer into a 500. */
typedef int (*PrometheusCollector)(PromWriter *w, void *userdata);

typedef struct PrometheusServerStats {
        uint64_t connections;       /* accepted */
        uint64_t scrapes;           /* answered /metrics with 200 */
        uint64_t rejected;          /* answered with 4xx or 5xx */
        uint64_t timeouts;          /* closed: too slow to send the request or to take the answer */
        uint64_t evicted;           /* closed to make room for a new connection */
        unsigned open;              /* connections held, including answered ones waiting for the client to close */
} PrometheusServerStats;

/* listen: "HOST:PORT" with a numeric IPv4 address, "[IPv6]:PORT", or "systemd" for the stream
 * sockets passed by socket activation (sd_listen_fds()). Logs no failure: the caller says what went
 * wrong against its configuration (-EADDRINUSE and the like from bind(), -EBADF when systemd passed
 * no listening stream socket). */
int prometheus_server_new(sd_event *event, const char *listen, PrometheusCollector collect, void *userdata,
                          PrometheusServer **ret);
PrometheusServer *prometheus_server_free(PrometheusServer *s);
DEFINE_TRIVIAL_CLEANUP_FUNC(PrometheusServer *, prometheus_server_free);
void prometheus_server_get_stats(const PrometheusServer *s, PrometheusServerStats *ret);
/* Tests shorten the time-outs; 0 restores a default. */
void prometheus_server_set_timeouts(PrometheusServer *s, uint64_t head_usec, uint64_t write_usec);
