/* SPDX-License-Identifier: MIT */
/* The request side of a GET-only HTTP/1.x server (RFC 9112), strict where being lenient would
 * let a client smuggle or stall anything: no bodies, no line folding, no control characters, no
 * whitespace before a header's colon. Pure: bytes in, the status to answer out. */

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "prometheus.h"

#define METHOD_MAX 16

/* RFC 9110 tchar */
static bool is_tchar(char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               (c != '\0' && strchr("!#$%&'*+-.^_`|~", c));
}

static bool is_vchar(char c) {
        return c > 0x20 && c < 0x7f;
}

/* The next line of buf[*pos..len): its start and length without the line ending. Returns false
 * when it is not complete yet; -EBADMSG (through *ret_error) for a CR not followed by LF. */
static bool next_line(const char *buf, size_t len, size_t *pos, const char **ret_line, size_t *ret_len, int *ret_error) {
        const char *start = buf + *pos;
        const char *nl = memchr(start, '\n', len - *pos);
        size_t l;

        if (!nl) {
                /* A CR anywhere but right before the LF is a framing error, visible before the LF. */
                const char *cr = memchr(start, '\r', len - *pos);
                if (cr && cr + 1 < buf + len)
                        *ret_error = 400;
                return false;
        }
        l = (size_t) (nl - start);
        if (l > 0 && start[l - 1] == '\r')
                l--;
        if (memchr(start, '\r', l))
                *ret_error = 400;
        *ret_line = start;
        *ret_len = l;
        *pos += (size_t) (nl - start) + 1;
        return true;
}

static HttpTarget target_of(const char *t, size_t l) {
        const char *q;

        /* absolute-form, as a proxy would send it: skip scheme and authority */
        if (l >= 7 && strncasecmp(t, "http://", 7) == 0) {
                const char *slash = memchr(t + 7, '/', l - 7);
                if (!slash)
                        return HTTP_TARGET_ROOT;
                l -= (size_t) (slash - t);
                t = slash;
        }
        q = memchr(t, '?', l);
        if (q)
                l = (size_t) (q - t);
        if (l == 1 && t[0] == '/')
                return HTTP_TARGET_ROOT;
        if (l == 8 && memcmp(t, "/metrics", 8) == 0)
                return HTTP_TARGET_METRICS;
        return HTTP_TARGET_OTHER;
}

/* "METHOD SP TARGET SP HTTP/1.x": 0 or the error status. */
static int parse_request_line(const char *line, size_t l, HttpRequest *req) {
        const char *sp1, *sp2, *target, *version;
        size_t method_len, target_len, version_len;

        sp1 = memchr(line, ' ', l);
        if (!sp1)
                return 400;
        method_len = (size_t) (sp1 - line);
        if (method_len == 0 || method_len > METHOD_MAX)
                return 400;
        for (size_t i = 0; i < method_len; i++)
                if (!is_tchar(line[i]))
                        return 400;

        target = sp1 + 1;
        sp2 = memchr(target, ' ', l - (size_t) (target - line));
        if (!sp2)
                return 400;
        target_len = (size_t) (sp2 - target);
        if (target_len == 0)
                return 400;
        if (target_len > HTTP_TARGET_MAX)
                return 414;
        for (size_t i = 0; i < target_len; i++)
                if (!is_vchar(target[i]))
                        return 400;
        if (target[0] != '/' && !(target_len >= 7 && strncasecmp(target, "http://", 7) == 0))
                return 400;

        version = sp2 + 1;
        version_len = l - (size_t) (version - line);
        if (version_len != 8 || memcmp(version, "HTTP/", 5) != 0 || version[6] != '.' ||
            version[5] < '0' || version[5] > '9' || version[7] < '0' || version[7] > '9')
                return 400;
        if (version[5] != '1')
                return 505;
        req->version_minor = (unsigned) (version[7] - '0');

        if (method_len == 3 && memcmp(line, "GET", 3) == 0)
                req->method = HTTP_METHOD_GET;
        else if (method_len == 4 && memcmp(line, "HEAD", 4) == 0)
                req->method = HTTP_METHOD_HEAD;
        else
                req->method = HTTP_METHOD_OTHER;
        req->target = target_of(target, target_len);
        return 0;
}

typedef struct HeaderFacts {
        bool host;
        bool body;
} HeaderFacts;

/* "name: value": 0 or the error status. */
static int parse_header(const char *line, size_t l, HeaderFacts *facts) {
        const char *colon = memchr(line, ':', l);
        const char *v;
        size_t name_len, vl;

        if (l == 0)
                return 400;
        if (line[0] == ' ' || line[0] == '\t')
                return 400; /* obsolete line folding */
        if (!colon)
                return 400;
        name_len = (size_t) (colon - line);
        if (name_len == 0)
                return 400;
        for (size_t i = 0; i < name_len; i++)
                if (!is_tchar(line[i]))
                        return 400; /* includes whitespace before the colon */
        v = colon + 1;
        vl = l - name_len - 1;
        for (size_t i = 0; i < vl; i++) {
                unsigned char c = (unsigned char) v[i];
                if ((c < 0x20 && c != '\t') || c == 0x7f)
                        return 400;
        }
        while (vl > 0 && (*v == ' ' || *v == '\t'))
                v++, vl--;
        while (vl > 0 && (v[vl - 1] == ' ' || v[vl - 1] == '\t'))
                vl--;

        if (name_len == 4 && strncasecmp(line, "host", 4) == 0)
                facts->host = true;
        else if (name_len == 17 && strncasecmp(line, "transfer-encoding", 17) == 0)
                facts->body = true;
        else if (name_len == 14 && strncasecmp(line, "content-length", 14) == 0) {
                /* GET has no body; anything but a plain 0 would leave bytes we never read. */
                bool zero = vl > 0;
                for (size_t i = 0; i < vl; i++)
                        if (v[i] != '0')
                                zero = false;
                if (!zero)
                        facts->body = true;
        }
        return 0;
}

int http_request_parse(const char *buf, size_t len, HttpRequest *ret) {
        HttpRequest req = { .method = _HTTP_METHOD_INVALID, .target = _HTTP_TARGET_INVALID };
        HeaderFacts facts = {};
        size_t pos = 0;
        const char *line;
        size_t l;
        int error = 0, r;

        if (!buf || !ret)
                return 400;

        /* the request line */
        if (!next_line(buf, len, &pos, &line, &l, &error)) {
                *ret = req;
                if (error)
                        return error;
                /* Garbage (a TLS handshake, binary noise) shows in the method already. */
                for (size_t i = 0; i < len && buf[i] != ' '; i++)
                        if (i >= METHOD_MAX || !is_tchar(buf[i]))
                                return 400;
                if (len > HTTP_TARGET_MAX + METHOD_MAX + 16)
                        return 414; /* no request line fits this; the target is too long */
                return len >= HTTP_REQUEST_MAX ? 431 : 0;
        }
        if (error)
                return *ret = req, error;
        r = parse_request_line(line, l, &req);
        if (r != 0) {
                *ret = req;
                return r;
        }

        /* headers, up to the blank line */
        for (;;) {
                if (pos > HTTP_REQUEST_MAX) {
                        *ret = req;
                        return 431;
                }
                if (!next_line(buf, len, &pos, &line, &l, &error)) {
                        *ret = req;
                        if (error)
                                return error;
                        return len >= HTTP_REQUEST_MAX ? 431 : 0;
                }
                if (error) {
                        *ret = req;
                        return error;
                }
                if (l == 0)
                        break;
                if (++req.n_headers > HTTP_HEADERS_MAX) {
                        *ret = req;
                        return 431;
                }
                r = parse_header(line, l, &facts);
                if (r != 0) {
                        *ret = req;
                        return r;
                }
        }
        req.head_length = pos;
        *ret = req;
        if (pos > HTTP_REQUEST_MAX)
                return 431;

        if (facts.body || (req.version_minor >= 1 && !facts.host))
                return 400;
        if (req.method == HTTP_METHOD_OTHER)
                return 405;
        if (req.target == HTTP_TARGET_OTHER)
                return 404;
        return 200;
}

const char *http_status_reason(int status) {
        switch (status) {
        case 200: return "OK";
        case 400: return "Bad Request";
        case 404: return "Not Found";
        case 405: return "Method Not Allowed";
        case 408: return "Request Timeout";
        case 414: return "URI Too Long";
        case 431: return "Request Header Fields Too Large";
        case 500: return "Internal Server Error";
        case 503: return "Service Unavailable";
        case 505: return "HTTP Version Not Supported";
        default: return "Error";
        }
}

int http_response_head(char *buf, size_t size, int status, const char *content_type, size_t content_length) {
        int n;

        n = snprintf(buf, size,
                     "HTTP/1.1 %d %s\r\n"
                     "Content-Type: %s\r\n"
                     "Content-Length: %zu\r\n"
                     "%s"
                     "Cache-Control: no-store\r\n"
                     "Connection: close\r\n"
                     "\r\n",
                     status, http_status_reason(status), content_type, content_length,
                     status == 405 ? "Allow: GET, HEAD\r\n" : "");
        if (n < 0 || (size_t) n >= size)
                return -ENOBUFS;
        return n;
}
