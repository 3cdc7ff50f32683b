/* SPDX-License-Identifier: MIT */
#pragma once

/* A small streaming JSON writer. It writes into a caller-provided buffer (no allocation: the hot
 * path uses this) or, when constructed with json_writer_init_dynamic(), into a growing heap buffer.
 * Errors are sticky: after the first failure every call is a no-op and json_writer_finish()
 * reports it (-ENOBUFS when a fixed buffer is full, -ENOMEM, -EINVAL on misuse). Strings are
 * escaped per RFC 8259; non-finite doubles are written as null. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define JSON_MAX_DEPTH 16

typedef struct JsonWriter {
        char *buf;
        size_t len;
        size_t cap;
        bool dynamic;
        int error;
        unsigned depth;
        bool first[JSON_MAX_DEPTH + 1];
        bool after_key;
        bool join_object;   /* set by json_object_join_next() */
} JsonWriter;

void json_writer_init(JsonWriter *w, char *buf, size_t size);
void json_writer_init_dynamic(JsonWriter *w);
/* Frees the dynamic buffer (no-op for fixed buffers). */
void json_writer_done(JsonWriter *w);
/* Returns 0 and a NUL-terminated string in *ret (owned by the writer), or the sticky error. */
int json_writer_finish(JsonWriter *w, const char **ret, size_t *ret_len);
/* For dynamic writers: takes the buffer; the caller frees it. */
int json_writer_steal(JsonWriter *w, char **ret, size_t *ret_len);

void json_object_begin(JsonWriter *w);
void json_object_end(JsonWriter *w);
void json_array_begin(JsonWriter *w);
void json_array_end(JsonWriter *w);
void json_key(JsonWriter *w, const char *key);
/* The next json_object_begin() opens no object of its own: its members continue the object that
 * is open, and its json_object_end() closes that one. So a publisher can write its own leading
 * members and let a module's unchanged builder append the rest, in one pass. Any other value
 * first is misuse (-EINVAL). */
void json_object_join_next(JsonWriter *w);

void json_string(JsonWriter *w, const char *s);
/* Escapes arbitrary bytes; invalid UTF-8 and control bytes become \u00XX escapes. */
void json_string_len(JsonWriter *w, const char *s, size_t len);
void json_int(JsonWriter *w, int64_t v);
void json_uint(JsonWriter *w, uint64_t v);
/* decimals: digits after the point, 0..9; trailing zeros are kept out of the output. */
void json_double(JsonWriter *w, double v, int decimals);
void json_bool(JsonWriter *w, bool v);
void json_null(JsonWriter *w);
/* Inserts an already-serialised JSON value. */
void json_raw(JsonWriter *w, const char *raw);

/* key + value shorthands */
void json_kv_string(JsonWriter *w, const char *key, const char *v);
void json_kv_int(JsonWriter *w, const char *key, int64_t v);
void json_kv_uint(JsonWriter *w, const char *key, uint64_t v);
void json_kv_double(JsonWriter *w, const char *key, double v, int decimals);
/* Leaves the member out when v is NaN or infinite: a figure without enough data behind it. */
void json_kv_double_finite(JsonWriter *w, const char *key, double v, int decimals);
void json_kv_bool(JsonWriter *w, const char *key, bool v);
void json_kv_null(JsonWriter *w, const char *key);
