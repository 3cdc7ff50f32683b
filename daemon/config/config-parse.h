/* SPDX-License-Identifier: MIT */
#pragma once

/* Typed value parsers for the configuration loader. Pure: no logging, no I/O except where the
 * name says so (config_read_secret_file). Every parser returns 0, or -EINVAL when the text has the
 * wrong shape, or -ERANGE when it has the right shape but is out of bounds. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

int config_parse_bool(const char *s, bool *ret);
/* Decimal digits only: no sign, no spaces, no hex. */
int config_parse_uint64(const char *s, uint64_t min, uint64_t max, uint64_t *ret);
/* A decimal number such as "72" or "42.5". */
int config_parse_double(const char *s, double min, double max, double *ret);
/* "90" (seconds), "90s", "250ms", "5min", "1h", and sums such as "1h 30min". */
int config_parse_duration(const char *s, uint64_t min_usec, uint64_t max_usec, uint64_t *ret_usec);
/* "HH:MM-HH:MM" within one day, start before end; "24:00" is allowed as the end. */
int config_parse_hours(const char *s, unsigned *ret_start_min, unsigned *ret_end_min);
/* "sat,sun", "mon, fri", "" or "none"; bit 0 = Sunday ... bit 6 = Saturday. */
int config_parse_weekdays(const char *s, uint8_t *ret_mask);

/* [a-z0-9_-]{1,max}: wearer names, the gateway id. */
bool config_name_is_valid(const char *s, size_t max);
/* Topic levels of [a-z0-9_-] separated by single '/', at most max bytes: no wildcards, no
 * leading '$', no empty levels. */
bool config_topic_is_valid(const char *s, size_t max);
/* An IANA zone name such as "Europe/Berlin": letters, digits, '_', '+', '-', levels separated
 * by '/', no "." or ".." levels. */
bool config_timezone_name_is_valid(const char *s);
/* A hostname or an IP address literal: [A-Za-z0-9.:_-], at most 253 bytes. */
bool config_host_is_valid(const char *s);
/* An absolute path without control characters. */
bool config_path_is_valid(const char *s);
/* A systemd credential name: [A-Za-z0-9_.-], not "." or "..". */
bool config_credential_name_is_valid(const char *s);

/* Reads a one-line secret from a regular file: strips one trailing "\n" or "\r\n"; refuses empty
 * files, NUL bytes, further line breaks and more than max bytes (-EBADMSG, -EFBIG, -ENODATA).
 * Never logs and never copies the content anywhere but *ret (wiped on every error path). */
int config_read_secret_file(const char *path, size_t max, char **ret);

/* Formats a duration the way the parser accepts it, e.g. "1h 30min", "250ms". */
char *config_format_duration(uint64_t usec, char *buf, size_t size);
