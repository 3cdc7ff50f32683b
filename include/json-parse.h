/* SPDX-License-Identifier: MIT */
#pragma once

/* A small JSON reader for untrusted input (MQTT command payloads, persisted state). The whole
 * document is parsed in one call into a read-only tree owned by a JsonDocument; every value handed
 * out points into that document and lives as long as it does.
 *
 * Policy (RFC 8259 with stricter choices, see docs/reminders.md "JSON reader"):
 *   - the input is bounded: size, nesting depth and number of values (JsonParseLimits);
 *   - the parser is iterative (an explicit stack bounded by max_depth), never recursive;
 *   - the input must be valid UTF-8: overlong forms, surrogates (also as \u escapes unless they
 *     form a valid pair) and code points above U+10FFFF are rejected; a byte-order mark is too;
 *   - duplicate keys in one object are rejected (-ENOTUNIQ), so no reader can see a different
 *     value than another one;
 *   - exactly one value, surrounded by optional whitespace; anything after it is an error;
 *   - numbers keep their text: the integer getters accept only integer literals (no fraction, no
 *     exponent) and check the range exactly, without a round trip through double.
 * Errors: -EINVAL syntax, -EILSEQ bad UTF-8, -E2BIG a limit exceeded, -ENOTUNIQ duplicate key,
 * -ENOMEM. A JsonParseError, when given, receives a one-line message and the byte offset. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "macro.h"

#define JSON_PARSE_MAX_SIZE_DEFAULT (64U * 1024U)
#define JSON_PARSE_MAX_DEPTH_DEFAULT 32U
#define JSON_PARSE_MAX_DEPTH_LIMIT 128U /* max_depth above this is clamped */
#define JSON_PARSE_MAX_VALUES_DEFAULT 16384U
#define JSON_PARSE_ERROR_MAX 128

typedef enum JsonType {
        JSON_TYPE_NULL,
        JSON_TYPE_BOOL,
        JSON_TYPE_NUMBER,
        JSON_TYPE_STRING,
        JSON_TYPE_ARRAY,
        JSON_TYPE_OBJECT,
        _JSON_TYPE_MAX,
        _JSON_TYPE_INVALID = -EINVAL,
} JsonType;

const char *json_type_to_string(JsonType t); /* "null", "boolean", "number", "string", "array", "object" */

typedef struct JsonParseLimits {
        size_t max_size;   /* bytes; 0 = JSON_PARSE_MAX_SIZE_DEFAULT */
        unsigned max_depth; /* nesting of arrays/objects; 0 = default; the root container is depth 1 */
        size_t max_values; /* values of any kind including keys' values; 0 = default */
} JsonParseLimits;

typedef struct JsonParseError {
        size_t offset; /* byte offset into the input where the problem was noticed */
        char message[JSON_PARSE_ERROR_MAX];
} JsonParseError;

typedef struct JsonDocument JsonDocument;
typedef struct JsonValue JsonValue;

/* Parses data[0..len). data need not be NUL-terminated. limits may be NULL for the defaults.
 * ret_error may be NULL. On failure *ret is left untouched. */
int json_parse(const char *data, size_t len, const JsonParseLimits *limits, JsonDocument **ret,
               JsonParseError *ret_error);
JsonDocument *json_document_free(JsonDocument *doc);
DEFINE_TRIVIAL_CLEANUP_FUNC(JsonDocument *, json_document_free);

const JsonValue *json_document_root(const JsonDocument *doc);

/* All accessors accept NULL values (a missing member) and then report "absent". */
JsonType json_value_type(const JsonValue *v);
/* Byte offset of the value's first character in the input. */
size_t json_value_offset(const JsonValue *v);
/* Number of elements of an array or members of an object; 0 for anything else. */
size_t json_value_count(const JsonValue *v);

/* Object member by key (exact byte comparison), NULL when absent or v is not an object. */
const JsonValue *json_value_member(const JsonValue *v, const char *key);
/* i-th member in document order; *ret_key (may be NULL) gets the key, NUL-terminated. */
const JsonValue *json_value_member_at(const JsonValue *v, size_t i, const char **ret_key);
/* i-th array element, NULL when out of range or v is not an array. */
const JsonValue *json_value_element(const JsonValue *v, size_t i);

/* Typed getters: -ENOENT for NULL, -EMEDIUMTYPE for the wrong type, -ERANGE out of range. */
bool json_value_is_null(const JsonValue *v);
int json_value_get_bool(const JsonValue *v, bool *ret);
/* The string is NUL-terminated. With ret_len == NULL, strings containing U+0000 are refused
 * (-EBADMSG) so that C string users cannot be fooled by a truncated value. */
int json_value_get_string(const JsonValue *v, const char **ret, size_t *ret_len);
/* Integer literal within [min, max]; "1.0" and "1e3" are not integers. */
int json_value_get_int64(const JsonValue *v, int64_t min, int64_t max, int64_t *ret);
int json_value_get_uint64(const JsonValue *v, uint64_t max, uint64_t *ret);
/* Any number; -ERANGE when it does not fit a finite double. */
int json_value_get_double(const JsonValue *v, double *ret);

/* Validating getters for command handlers: the same checks, plus a message naming the field and
 * the expectation ("'minutes': expected an integer in 1..1440") at the value's offset (offset 0 when
 * the value is absent, v == NULL). `what` names the field in the message. */
int json_expect_bool(const JsonValue *v, const char *what, bool *ret, JsonParseError *ret_error);
int json_expect_string(const JsonValue *v, const char *what, size_t max_len, const char **ret,
                       JsonParseError *ret_error);
int json_expect_int64(const JsonValue *v, const char *what, int64_t min, int64_t max, int64_t *ret,
                      JsonParseError *ret_error);
int json_expect_double(const JsonValue *v, const char *what, double min, double max, double *ret,
                       JsonParseError *ret_error);
/* Object with only keys from the NULL-terminated list `allowed`; -EINVAL for a non-object,
 * -EPROTO naming the first unknown key. */
int json_expect_object_keys(const JsonValue *v, const char *what, const char *const *allowed,
                            JsonParseError *ret_error);
