/* SPDX-License-Identifier: MIT */
#pragma once

/* A checker for the subset of JSON Schema that docs/schema/ uses, on top of the daemon's strict
 * JSON reader (json-parse.h): type (a name or a list; "integer" = an integer literal), required,
 * properties, additionalProperties (boolean), items, enum and const (strings), minimum, maximum,
 * minLength, maxLength, pattern (POSIX extended regex), minItems, maxItems. */

#include <stddef.h>

#include "json-parse.h"

/* Validates the JSON text payload against $INSOLE2MQTT_SOURCE_ROOT/docs/schema/<name>.json.
 * 0 when valid; -1 with a message naming the path (or a parse error) in err. */
int schema_check(const char *schema_name, const char *payload, char *err, size_t err_size);

/* The string value of v, or NULL when v is absent or not a string. */
const char *json_str(const JsonValue *v);
