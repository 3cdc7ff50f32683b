/* SPDX-License-Identifier: MIT */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <systemd/sd-journal.h>

#include "log.h"

static int max_level = LOG_INFO;
static bool journal_native = false;
static LogSink log_sink = NULL;
static void *log_sink_userdata = NULL;

static const char *const level_names[] = {
        [LOG_EMERG] = "emerg",  [LOG_ALERT] = "alert", [LOG_CRIT] = "crit",  [LOG_ERR] = "err",
        [LOG_WARNING] = "warning", [LOG_NOTICE] = "notice", [LOG_INFO] = "info", [LOG_DEBUG] = "debug",
};

/* systemd sets JOURNAL_STREAM to "dev:ino" of the stream it connected our stderr to. */
static bool stderr_is_journal(void) {
        const char *e = getenv("JOURNAL_STREAM");
        unsigned long long dev, ino;
        struct stat st;

        if (!e || sscanf(e, "%llu:%llu", &dev, &ino) != 2)
                return false;
        if (fstat(STDERR_FILENO, &st) < 0)
                return false;
        return (unsigned long long) st.st_dev == dev && (unsigned long long) st.st_ino == ino;
}

void log_setup(void) {
        journal_native = stderr_is_journal();
}

bool log_to_journal(void) {
        return journal_native;
}

void log_set_max_level(int level) {
        max_level = CLAMP(level, LOG_EMERG, LOG_DEBUG);
}

int log_get_max_level(void) {
        return max_level;
}

int log_level_from_string(const char *s) {
        char *end;
        long v;

        if (!s || !*s)
                return -EINVAL;
        for (size_t i = 0; i < ELEMENTSOF(level_names); i++)
                if (streq(s, level_names[i]))
                        return (int) i;
        if (streq(s, "error"))
                return LOG_ERR;
        if (streq(s, "warn"))
                return LOG_WARNING;
        errno = 0;
        v = strtol(s, &end, 10);
        if (errno != 0 || *end || v < LOG_EMERG || v > LOG_DEBUG)
                return -EINVAL;
        return (int) v;
}

const char *log_level_to_string(int level) {
        if (level < 0 || (size_t) level >= ELEMENTSOF(level_names))
                return NULL;
        return level_names[level];
}

void log_set_sink(LogSink sink, void *userdata) {
        log_sink = sink;
        log_sink_userdata = userdata;
}

int log_internal(int level, int error, const LogContext *ctx, const char *file, int line, const char *func,
                 const char *format, ...) {
        char msg[2048];
        va_list ap;
        int e = error < 0 ? -error : error;

        /* Make %m print the error we were given. */
        errno = e;
        va_start(ap, format);
        (void) vsnprintf(msg, sizeof(msg), format, ap);
        va_end(ap);

        if (log_sink) {
                log_sink(level, msg, log_sink_userdata);
        } else if (journal_native) {
                char code_file[256], code_line[32], code_func[128], prio[16], errno_field[32];
                char wearer[80], device[128];

                (void) snprintf(prio, sizeof(prio), "PRIORITY=%d", level);
                (void) snprintf(code_file, sizeof(code_file), "CODE_FILE=%s", file);
                (void) snprintf(code_line, sizeof(code_line), "CODE_LINE=%d", line);
                (void) snprintf(code_func, sizeof(code_func), "CODE_FUNC=%s", func);
                (void) snprintf(errno_field, sizeof(errno_field), "ERRNO=%d", e);
                (void) snprintf(wearer, sizeof(wearer), "WEARER=%s", ctx && ctx->wearer ? ctx->wearer : "");
                (void) snprintf(device, sizeof(device), "DEVICE=%s", ctx && ctx->device ? ctx->device : "");
                (void) sd_journal_send("MESSAGE=%s", msg, prio, code_file, code_line, code_func,
                                       e > 0 ? errno_field : "ERRNO=", ctx && ctx->wearer ? wearer : "WEARER=",
                                       ctx && ctx->device ? device : "DEVICE=", "SYSLOG_IDENTIFIER=insole2mqtt",
                                       NULL);
        } else {
                if (ctx && (ctx->wearer || ctx->device))
                        fprintf(stderr, "%s: [%s%s%s] %s\n", strempty(log_level_to_string(level)),
                                strempty(ctx->wearer), ctx->wearer && ctx->device ? " " : "",
                                strempty(ctx->device), msg);
                else
                        fprintf(stderr, "%s: %s\n", strempty(log_level_to_string(level)), msg);
        }

        return -e;
}

char *log_escape(const void *data, size_t len, char *buf, size_t bufsize) {
        const uint8_t *p = data;
        size_t o = 0;

        if (bufsize == 0)
                return buf;
        for (size_t i = 0; i < len; i++) {
                uint8_t c = p[i];
                if (c >= 0x20 && c < 0x7f && c != '\\') {
                        if (o + 1 >= bufsize)
                                break;
                        buf[o++] = (char) c;
                } else {
                        if (o + 4 >= bufsize)
                                break;
                        (void) snprintf(buf + o, 5, "\\x%02x", c);
                        o += 4;
                }
        }
        buf[o] = 0;
        return buf;
}
