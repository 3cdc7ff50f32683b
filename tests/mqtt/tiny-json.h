/* SPDX-License-Identifier: MIT */
#pragma once

/* A minimal JSON DOM for the tests only (the daemon's reader, include/json-parse.h, was not
 * implemented yet when these tests were written), and a checker for the subset of JSON Schema
 * that docs/schema/ uses: type (string or list), required, properties, additionalProperties
 * (boolean), items, enum (strings), const, minimum, maximum, minLength, maxLength, pattern
 * (POSIX extended regex), minItems, maxItems. */

#include <stdbool.h>
#include <stddef.h>

typedef enum TjType { TJ_NULL, TJ_BOOL, TJ_NUMBER, TJ_STRING, TJ_ARRAY, TJ_OBJECT } TjType;

typedef struct TjValue TjValue;
struct TjValue {
        TjType type;
        bool boolean;
        double number;
        bool is_integer;
        char *string;        /* TJ_STRING value */
        char *key;           /* when a member of an object */
        TjValue *children;   /* array elements / object members */
        size_t n_children;
};

/* NULL on a syntax error (message in err). */
TjValue *tj_parse(const char *text, char *err, size_t err_size);
void tj_free(TjValue *v);
const TjValue *tj_get(const TjValue *obj, const char *key);
/* Reads a whole file; NULL on error. */
char *tj_read_file(const char *path);

/* 0 when instance satisfies schema; else -1 and a message naming the path in err. */
int tj_validate(const TjValue *schema, const TjValue *instance, char *err, size_t err_size);
