/* SPDX-License-Identifier: MIT */
#pragma once

/* Logging: native journald fields when stderr is connected to the journal, readable stderr lines
 * otherwise. Pure modules (decoders, gait, reminders, config helpers) never log; the layer doing
 * I/O logs once. The *_errno variants return the negative errno so that callers can write
 *         return log_error_errno(r, "Failed to connect: %m");
 */

#include <stdarg.h>
#include <syslog.h>

#include "macro.h"

/* Extra structured context attached to a log line (journald fields WEARER=, DEVICE=, SIDE=).
 * DEVICE must never be a MAC address at info level or above: use the configured role
 * ("left insole of anna"), and put addresses only into debug lines. */
typedef struct LogContext {
        const char *wearer;
        const char *device;
} LogContext;

typedef void (*LogSink)(int level, const char *message, void *userdata);

void log_setup(void);
void log_set_max_level(int level);
int log_get_max_level(void);
/* "debug", "info", "notice", "warning", "err"/"error", "crit" or a number 0..7; returns -EINVAL */
int log_level_from_string(const char *s);
const char *log_level_to_string(int level);
/* Tests capture formatted lines here; NULL restores the default target. */
void log_set_sink(LogSink sink, void *userdata);
/* Whether lines go to the journal natively (decided by log_setup()). */
bool log_to_journal(void);

int log_internal(int level, int error, const LogContext *ctx, const char *file, int line, const char *func,
                 const char *format, ...) _printf_(7, 8);

#define log_full_errno_ctx(level, error, ctx, ...)                                                   \
        __extension__({                                                                             \
                int _level = (level), _e = (error);                                                 \
                (log_get_max_level() >= _level)                                                     \
                        ? log_internal(_level, _e, (ctx), __FILE__, __LINE__, __func__, __VA_ARGS__) \
                        : negative_errno(_e);                                                       \
        })

#define log_full_errno(level, error, ...) log_full_errno_ctx(level, error, NULL, __VA_ARGS__)
#define log_full(level, ...) (void) log_full_errno(level, 0, __VA_ARGS__)

#define log_debug(...) log_full(LOG_DEBUG, __VA_ARGS__)
#define log_info(...) log_full(LOG_INFO, __VA_ARGS__)
#define log_notice(...) log_full(LOG_NOTICE, __VA_ARGS__)
#define log_warning(...) log_full(LOG_WARNING, __VA_ARGS__)
#define log_error(...) log_full(LOG_ERR, __VA_ARGS__)

#define log_debug_errno(e, ...) log_full_errno(LOG_DEBUG, e, __VA_ARGS__)
#define log_info_errno(e, ...) log_full_errno(LOG_INFO, e, __VA_ARGS__)
#define log_notice_errno(e, ...) log_full_errno(LOG_NOTICE, e, __VA_ARGS__)
#define log_warning_errno(e, ...) log_full_errno(LOG_WARNING, e, __VA_ARGS__)
#define log_error_errno(e, ...) log_full_errno(LOG_ERR, e, __VA_ARGS__)

/* With wearer/device context. */
#define log_ctx(level, ctx, ...) (void) log_full_errno_ctx(level, 0, ctx, __VA_ARGS__)
#define log_ctx_errno(level, ctx, e, ...) log_full_errno_ctx(level, e, ctx, __VA_ARGS__)

#define log_oom() log_error_errno(ENOMEM, "Out of memory.")

/* Escapes untrusted bytes (device names, advertisement data) for a log line: printable ASCII
 * stays, everything else becomes \xNN; the output is truncated to fit and always terminated.
 * Returns buf. */
char *log_escape(const void *data, size_t len, char *buf, size_t bufsize);
