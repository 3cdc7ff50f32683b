/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "macro.h"

void json_writer_init(JsonWriter *w, char *buf, size_t size) {
        *w = (JsonWriter) { .buf = buf, .cap = size };
        w->first[0] = true;
        if (!buf || size == 0)
                w->error = -EINVAL;
        else
                buf[0] = 0;
}

void json_writer_init_dynamic(JsonWriter *w) {
        *w = (JsonWriter) { .dynamic = true };
        w->first[0] = true;
}

void json_writer_done(JsonWriter *w) {
        if (w->dynamic)
                free(w->buf);
        w->buf = NULL;
        w->len = w->cap = 0;
}

static bool reserve(JsonWriter *w, size_t extra) {
        size_t need;

        if (w->error)
                return false;
        need = w->len + extra + 1;
        if (need <= w->cap)
                return true;
        if (!w->dynamic) {
                w->error = -ENOBUFS;
                return false;
        }
        size_t ncap = MAX(need, w->cap * 2);
        ncap = MAX(ncap, (size_t) 256);
        char *n = realloc(w->buf, ncap);
        if (!n) {
                w->error = -ENOMEM;
                return false;
        }
        w->buf = n;
        w->cap = ncap;
        return true;
}

static void put(JsonWriter *w, const char *s, size_t n) {
        if (!reserve(w, n))
                return;
        memcpy(w->buf + w->len, s, n);
        w->len += n;
        w->buf[w->len] = 0;
}

static void puts_(JsonWriter *w, const char *s) {
        put(w, s, strlen(s));
}

/* Comma handling before any value or key. Inlined on purpose: it runs once per value, and with the
 * join check GCC stopped inlining it on its own (+0.3% instructions per gait payload). */
static inline __attribute__((always_inline)) void before_value(JsonWriter *w) {
        if (w->error)
                return;
        if (w->join_object) {
                w->error = -EINVAL;
                return;
        }
        if (w->after_key) {
                w->after_key = false;
                return;
        }
        if (!w->first[w->depth])
                put(w, ",", 1);
        w->first[w->depth] = false;
}

static void open_(JsonWriter *w, char c) {
        before_value(w);
        if (w->depth >= JSON_MAX_DEPTH) {
                if (!w->error)
                        w->error = -EINVAL;
                return;
        }
        put(w, &c, 1);
        w->depth++;
        w->first[w->depth] = true;
}

static void close_(JsonWriter *w, char c) {
        if (w->error)
                return;
        if (w->depth == 0 || w->after_key || w->join_object) {
                w->error = -EINVAL;
                return;
        }
        w->depth--;
        put(w, &c, 1);
}

void json_object_begin(JsonWriter *w) {
        if (w->join_object && !w->error) {
                w->join_object = false;
                return;
        }
        open_(w, '{');
}

void json_object_join_next(JsonWriter *w) {
        if (w->error)
                return;
        if (w->depth == 0 || w->after_key || w->join_object)
                w->error = -EINVAL;
        else
                w->join_object = true;
}
void json_object_end(JsonWriter *w) {
        close_(w, '}');
}
void json_array_begin(JsonWriter *w) {
        open_(w, '[');
}
void json_array_end(JsonWriter *w) {
        close_(w, ']');
}

static void escaped(JsonWriter *w, const char *s, size_t len) {
        const unsigned char *p = (const unsigned char *) s;

        put(w, "\"", 1);
        for (size_t i = 0; i < len && !w->error;) {
                unsigned char c = p[i];
                char esc[8];

                if (c == '"' || c == '\\') {
                        esc[0] = '\\';
                        esc[1] = (char) c;
                        put(w, esc, 2);
                        i++;
                } else if (c < 0x20 || c == 0x7f) {
                        switch (c) {
                        case '\n': put(w, "\\n", 2); break;
                        case '\r': put(w, "\\r", 2); break;
                        case '\t': put(w, "\\t", 2); break;
                        default:
                                (void) snprintf(esc, sizeof(esc), "\\u%04x", c);
                                put(w, esc, 6);
                        }
                        i++;
                } else if (c < 0x80) {
                        put(w, (const char *) p + i, 1);
                        i++;
                } else {
                        /* Pass valid UTF-8 sequences through, escape anything else byte by byte. */
                        size_t n = (c & 0xe0) == 0xc0 ? 2 : (c & 0xf0) == 0xe0 ? 3 : (c & 0xf8) == 0xf0 ? 4 : 0;
                        bool ok = n > 0 && i + n <= len;
                        for (size_t k = 1; ok && k < n; k++)
                                ok = (p[i + k] & 0xc0) == 0x80;
                        if (ok && n == 2 && c < 0xc2)
                                ok = false; /* overlong */
                        if (ok) {
                                put(w, (const char *) p + i, n);
                                i += n;
                        } else {
                                (void) snprintf(esc, sizeof(esc), "\\u%04x", c);
                                put(w, esc, 6);
                                i++;
                        }
                }
        }
        put(w, "\"", 1);
}

void json_key(JsonWriter *w, const char *key) {
        if (w->error)
                return;
        if (w->after_key || w->depth == 0) {
                w->error = -EINVAL;
                return;
        }
        before_value(w);
        escaped(w, key, strlen(key));
        put(w, ":", 1);
        w->after_key = true;
}

void json_string(JsonWriter *w, const char *s) {
        if (!s) {
                json_null(w);
                return;
        }
        json_string_len(w, s, strlen(s));
}

void json_string_len(JsonWriter *w, const char *s, size_t len) {
        before_value(w);
        escaped(w, s, len);
}

/* Digits of v, written backwards from end; returns where they start. (Every message has a few:
 * seq, sample times; snprintf() cost more than the rest of the number's way.) */
static char *format_uint(char *end, uint64_t v) {
        do
                *--end = (char) ('0' + v % 10);
        while ((v /= 10) > 0);
        return end;
}

void json_int(JsonWriter *w, int64_t v) {
        char b[24], *p;

        before_value(w);
        p = format_uint(b + sizeof(b), v < 0 ? 0 - (uint64_t) v : (uint64_t) v);
        if (v < 0)
                *--p = '-';
        put(w, p, (size_t) (b + sizeof(b) - p));
}

void json_uint(JsonWriter *w, uint64_t v) {
        char b[24], *p;

        before_value(w);
        p = format_uint(b + sizeof(b), v);
        put(w, p, (size_t) (b + sizeof(b) - p));
}

/* What snprintf("%.*f") writes, without it, for the values payloads carry: every raw pressure
 * frame is a few dozen numbers, and printf's exact decimal conversion was a tenth of the gateway's
 * CPU with the raw stream on. Returns 0 (use printf) for large values and where v * 10^decimals
 * lies within 1e-6 of a rounding tie: there the product's own rounding error (at most 2^-21 below
 * 2^32) could decide, and printf rounds the exact binary value. */
static size_t format_fixed(char *b, double v, int decimals) {
        static const uint32_t pow10[10] = { 1, 10, 100, 1000, 10000, 100000, 1000000, 10000000, 100000000, 1000000000 };
        double scaled = v * pow10[decimals], frac;
        uint64_t u, part;
        char digits[24], *whole;
        size_t n = 0, k;

        if (!(fabs(scaled) < 4294967296.0))
                return 0;
        frac = fabs(scaled - trunc(scaled));
        if (fabs(frac - 0.5) < 1e-6)
                return 0;
        u = (uint64_t) (fabs(scaled) + 0.5);
        if (v < 0 && u > 0) /* printf's "-0.00" ends up as "0" below anyway */
                b[n++] = '-';
        whole = format_uint(digits + sizeof(digits), u / pow10[decimals]);
        k = (size_t) (digits + sizeof(digits) - whole);
        memcpy(b + n, whole, k);
        n += k;
        part = u % pow10[decimals];
        if (decimals > 0) {
                b[n++] = '.';
                for (int i = decimals - 1; i >= 0; i--) {
                        b[n + (size_t) i] = (char) ('0' + part % 10);
                        part /= 10;
                }
                n += (size_t) decimals;
        }
        return n;
}

void json_double(JsonWriter *w, double v, int decimals) {
        char b[64];
        size_t n;

        if (!isfinite(v)) {
                json_null(w);
                return;
        }
        decimals = CLAMP(decimals, 0, 9);
        before_value(w);
        n = format_fixed(b, v, decimals);
        if (n > 0)
                b[n] = 0;
        else
                n = (size_t) snprintf(b, sizeof(b), "%.*f", decimals, v);
        if (n >= sizeof(b)) {
                n = (size_t) snprintf(b, sizeof(b), "%.6g", v);
                if (n >= sizeof(b))
                        n = sizeof(b) - 1;
        } else if (decimals > 0) {
                while (n > 0 && b[n - 1] == '0')
                        b[--n] = 0;
                if (n > 0 && b[n - 1] == '.')
                        b[--n] = 0;
        }
        if (streq(b, "-0"))
                strcpy(b, "0");
        puts_(w, b);
}

void json_bool(JsonWriter *w, bool v) {
        before_value(w);
        puts_(w, v ? "true" : "false");
}

void json_null(JsonWriter *w) {
        before_value(w);
        puts_(w, "null");
}

void json_raw(JsonWriter *w, const char *raw) {
        before_value(w);
        puts_(w, raw);
}

void json_kv_string(JsonWriter *w, const char *key, const char *v) {
        json_key(w, key);
        json_string(w, v);
}
void json_kv_int(JsonWriter *w, const char *key, int64_t v) {
        json_key(w, key);
        json_int(w, v);
}
void json_kv_uint(JsonWriter *w, const char *key, uint64_t v) {
        json_key(w, key);
        json_uint(w, v);
}
void json_kv_double(JsonWriter *w, const char *key, double v, int decimals) {
        json_key(w, key);
        json_double(w, v, decimals);
}
void json_kv_double_finite(JsonWriter *w, const char *key, double v, int decimals) {
        if (isfinite(v))
                json_kv_double(w, key, v, decimals);
}
void json_kv_bool(JsonWriter *w, const char *key, bool v) {
        json_key(w, key);
        json_bool(w, v);
}
void json_kv_null(JsonWriter *w, const char *key) {
        json_key(w, key);
        json_null(w);
}

int json_writer_finish(JsonWriter *w, const char **ret, size_t *ret_len) {
        if (w->error)
                return w->error;
        if (w->depth != 0 || w->after_key)
                return -EINVAL;
        if (!w->buf) /* empty dynamic writer */
                put(w, "", 0);
        if (w->error)
                return w->error;
        if (ret)
                *ret = w->buf;
        if (ret_len)
                *ret_len = w->len;
        return 0;
}

int json_writer_steal(JsonWriter *w, char **ret, size_t *ret_len) {
        const char *s;
        int r;

        if (!w->dynamic)
                return -EINVAL;
        r = json_writer_finish(w, &s, ret_len);
        if (r < 0)
                return r;
        *ret = w->buf;
        w->buf = NULL;
        w->len = w->cap = 0;
        return 0;
}
