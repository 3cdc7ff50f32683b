/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <ini.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config-parse.h"
#include "config.h"
#include "gait-metrics.h"
#include "log.h"
#include "macro.h"

#define DEFAULT_STATE_DIRECTORY "/var/lib/insole2mqtt"
#define DEFAULT_CA_PATH "/etc/ssl/certs"
#define DEFAULT_ZONEINFO "/usr/share/zoneinfo"
#define ECHO_MAX 80 /* values quoted back in messages are cut here */

/* ---- the schema ---- */

typedef struct LoadState LoadState;
typedef struct ConfigItem ConfigItem;

/* Parsers return 0, -EINVAL (wrong shape) or -ERANGE (out of bounds); the caller turns both into
 * "found 'value', expected <item's description>". A parser that has something more precise to say
 * writes the message itself through load_error() and returns its error. */
typedef int (*ConfigParser)(LoadState *st, const ConfigItem *it, const char *value, void *base);

struct ConfigItem {
        ConfigKeyInfo info;
        ConfigParser parse;
        size_t offset;  /* into Config, or into WearerConfig for CONFIG_KEY_WEARER */
        const char *field; /* that member's name: the test that every key is consumed looks for it */
        size_t size;    /* bytes compared and copied on reload; 0 with is_string: an owned char* */
        bool is_string;
        bool computed_default; /* info.default_value describes a default that config_init() or a
                                * check across keys computes; otherwise it is the value itself */
        uint64_t min, max;
};

struct LoadState {
        Config *config;
        const char *path;
        FILE *f;
        char *line;
        size_t line_alloc;
        unsigned lineno;

        const char *section;   /* the schema's name of the current section, NULL before the first */
        WearerConfig *wearer;  /* within [wearer NAME] */
        unsigned section_line[8];

        int error;
        char *error_buf;
        size_t error_size;
};

static const char *const section_names[] = { "gateway", "bluetooth", "mqtt", "wearer", "reminders", "alerts", "metrics" };

/* The path as messages show it: control characters escaped, so that a message stays one line. */
static const char *printable_path(const char *path, char *buf, size_t size) {
        size_t o = 0;

        for (const char *p = path; *p && o + 5 < size; p++) {
                unsigned char ch = (unsigned char) *p;
                if (ch < 0x20 || ch == 0x7f)
                        o += (size_t) snprintf(buf + o, size - o, "\\x%02x", ch);
                else
                        buf[o++] = (char) ch;
        }
        buf[o] = '\0';
        return buf;
}

_printf_(5, 0) static int load_errorv(LoadState *st, int error, unsigned line, const ConfigItem *it,
                                       const char *format, va_list ap) {
        char prefix[128] = "";
        char text[CONFIG_ERROR_MAX];

        if (st->error < 0)
                return st->error; /* the first error is the one reported */
        st->error = error < 0 ? error : -EINVAL;

        if (it && st->wearer && (it->info.flags & CONFIG_KEY_WEARER))
                (void) snprintf(prefix, sizeof(prefix), "[wearer %s] %s: ", st->wearer->name, it->info.key);
        else if (it)
                (void) snprintf(prefix, sizeof(prefix), "[%s] %s: ", it->info.section, it->info.key);

        errno = -st->error; /* for %m */
        (void) vsnprintf(text, sizeof(text), format, ap);

        if (st->error_buf && st->error_size > 0) {
                char path[CONFIG_ERROR_MAX];

                printable_path(st->path, path, sizeof(path));
                if (line > 0)
                        (void) snprintf(st->error_buf, st->error_size, "%s:%u: %s%s", path, line, prefix, text);
                else
                        (void) snprintf(st->error_buf, st->error_size, "%s: %s%s", path, prefix, text);
        }
        return st->error;
}

_printf_(5, 6) static int load_error(LoadState *st, int error, unsigned line, const ConfigItem *it,
                                      const char *format, ...) {
        va_list ap;
        int r;

        va_start(ap, format);
        r = load_errorv(st, error, line, it, format, ap);
        va_end(ap);
        return r;
}

/* The value as it may be quoted in a message: escaped and cut short. */
static const char *echo(const char *value, char *buf, size_t size) {
        size_t l = strlen(value);

        log_escape(value, MIN(l, (size_t) ECHO_MAX), buf, size);
        if (l > ECHO_MAX && strlen(buf) + 4 <= size)
                strcat(buf, "...");
        return buf;
}
#define ECHO(v) echo((v), (char[ECHO_MAX * 4 + 4]) {}, ECHO_MAX * 4 + 4)

static void *field(void *base, const ConfigItem *it) {
        return (uint8_t *) base + it->offset;
}

static int parse_bool(LoadState *st, const ConfigItem *it, const char *value, void *base) {
        return config_parse_bool(value, field(base, it));
}

static int parse_uint(LoadState *st, const ConfigItem *it, const char *value, void *base) {
        uint64_t v;
        int r;

        r = config_parse_uint64(value, it->min, it->max, &v);
        if (r < 0)
                return r;
        switch (it->size) {
        case sizeof(uint8_t):
                *(uint8_t *) field(base, it) = (uint8_t) v;
                break;
        case sizeof(uint16_t):
                *(uint16_t *) field(base, it) = (uint16_t) v;
                break;
        case sizeof(uint32_t):
                /* unsigned and int (qos) fields alike: bounds keep v below INT_MAX */
                *(uint32_t *) field(base, it) = (uint32_t) v;
                break;
        default:
                *(uint64_t *) field(base, it) = v;
        }
        return 0;
}

static int parse_duration(LoadState *st, const ConfigItem *it, const char *value, void *base) {
        return config_parse_duration(value, it->min, it->max, field(base, it));
}

static int parse_duration_sec(LoadState *st, const ConfigItem *it, const char *value, void *base) {
        uint64_t usec;
        int r;

        r = config_parse_duration(value, it->min, it->max, &usec);
        if (r < 0)
                return r;
        if (usec % USEC_PER_SEC != 0)
                return -EINVAL;
        *(unsigned *) field(base, it) = (unsigned) (usec / USEC_PER_SEC);
        return 0;
}

static int parse_coalesce(LoadState *st, const ConfigItem *it, const char *value, void *base) {
        if (streq(value, "auto")) {
                *(uint64_t *) field(base, it) = CONFIG_NOTIFY_COALESCE_AUTO;
                return 0;
        }
        return parse_duration(st, it, value, base);
}

/* "auto" (0: whatever the insole prefers) or a rate in Hz. */
static int parse_stream_rate(LoadState *st, const ConfigItem *it, const char *value, void *base) {
        if (streq(value, "auto")) {
                *(unsigned *) field(base, it) = 0;
                return 0;
        }
        return parse_uint(st, it, value, base);
}

static int parse_double(LoadState *st, const ConfigItem *it, const char *value, void *base) {
        return config_parse_double(value, (double) it->min, (double) it->max, field(base, it));
}

static int set_string(char **dest, const char *value) {
        char *copy = NULL;

        if (*value) {
                copy = strdup(value);
                if (!copy)
                        return -ENOMEM;
        }
        free(*dest);
        *dest = copy;
        return 0;
}

static int parse_path(LoadState *st, const ConfigItem *it, const char *value, void *base) {
        if (*value && !config_path_is_valid(value))
                return -EINVAL;
        return set_string(field(base, it), value);
}

static int parse_required_path(LoadState *st, const ConfigItem *it, const char *value, void *base) {
        if (!config_path_is_valid(value))
                return -EINVAL;
        return set_string(field(base, it), value);
}

static int parse_host(LoadState *st, const ConfigItem *it, const char *value, void *base) {
        if (!config_host_is_valid(value))
                return -EINVAL;
        return set_string(field(base, it), value);
}

static int parse_optional_host(LoadState *st, const ConfigItem *it, const char *value, void *base) {
        if (*value && !config_host_is_valid(value))
                return -EINVAL;
        return set_string(field(base, it), value);
}

static int parse_username(LoadState *st, const ConfigItem *it, const char *value, void *base) {
        size_t l = strlen(value);

        if (l > it->max)
                return -ERANGE;
        for (size_t i = 0; i < l; i++)
                if ((unsigned char) value[i] < 0x20 || value[i] == 0x7f)
                        return -EINVAL;
        return set_string(field(base, it), value);
}

static int parse_listen(LoadState *st, const ConfigItem *it, const char *value, void *base) {
        if (*value && !streq(value, "systemd")) {
                int r = config_parse_listen_address(value, NULL, NULL);
                if (r < 0)
                        return r;
        }
        return set_string(field(base, it), value);
}

static int parse_credential(LoadState *st, const ConfigItem *it, const char *value, void *base) {
        if (*value && !config_credential_name_is_valid(value))
                return -EINVAL;
        return set_string(field(base, it), value);
}

/* Fixed buffers: names and topics, validated by the item's own check. */
static int parse_name(LoadState *st, const ConfigItem *it, const char *value, void *base) {
        if (!config_name_is_valid(value, MIN(it->size - 1, (size_t) CONFIG_NAME_MAX)))
                return -EINVAL;
        strcpy(field(base, it), value);
        return 0;
}

static int parse_topic(LoadState *st, const ConfigItem *it, const char *value, void *base) {
        if (!config_topic_is_valid(value, it->size - 1))
                return -EINVAL;
        strcpy(field(base, it), value);
        return 0;
}

static int parse_client_id(LoadState *st, const ConfigItem *it, const char *value, void *base) {
        char *dest = field(base, it);
        size_t l = strlen(value);

        if (l >= it->size)
                return -EINVAL;
        for (size_t i = 0; i < l; i++) {
                char c = value[i];
                if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
                      c == '-'))
                        return -EINVAL;
        }
        strcpy(dest, value);
        return 0;
}

/* "a, b, c": distinct names; "" = none */
static int parse_name_list(LoadState *st, const ConfigItem *it, const char *value, void *base) {
        Config *c = base;
        unsigned n = 0;

        for (const char *p = value; *p;) {
                size_t l = strcspn(p, ", \t");
                char name[CONFIG_NAME_MAX + 1];

                if (l > 0) {
                        if (l > CONFIG_NAME_MAX || n >= CONFIG_MAX_TRUSTED_GATEWAYS)
                                return -ERANGE;
                        memcpy(name, p, l);
                        name[l] = 0;
                        if (!config_name_is_valid(name, CONFIG_NAME_MAX))
                                return -EINVAL;
                        for (unsigned i = 0; i < n; i++)
                                if (streq(c->trusted_gateways[i], name))
                                        return -EINVAL;
                        strcpy(c->trusted_gateways[n++], name);
                }
                p += l;
                p += strspn(p, ", \t");
        }
        c->n_trusted_gateways = n;
        return 0;
}

static int parse_protocol(LoadState *st, const ConfigItem *it, const char *value, void *base) {
        unsigned *dest = field(base, it);

        if (streq(value, "3.1.1") || streq(value, "311"))
                *dest = 311;
        else if (streq(value, "5") || streq(value, "5.0"))
                *dest = 5;
        else
                return -EINVAL;
        return 0;
}

static int parse_hours(LoadState *st, const ConfigItem *it, const char *value, void *base) {
        Config *c = base;
        return config_parse_hours(value, &c->active_start_min, &c->active_end_min);
}

static int parse_weekdays(LoadState *st, const ConfigItem *it, const char *value, void *base) {
        return config_parse_weekdays(value, field(base, it));
}

/* A list of metric names that can change (include/gait-metrics.h), "default" or "none". */
static int parse_alert_metrics(LoadState *st, const ConfigItem *it, const char *value, void *base) {
        unsigned *dest = field(base, it), mask = 0;
        char name[32];

        if (streq(value, "default")) {
                *dest = gait_metrics_default_watched();
                return 0;
        }
        if (streq(value, "none")) {
                *dest = 0;
                return 0;
        }
        for (const char *p = value;;) {
                size_t l;
                GaitMetric m;

                p += strspn(p, " ");
                l = strcspn(p, ", ");
                if (l == 0 || l >= sizeof(name))
                        return -EINVAL;
                memcpy(name, p, l);
                name[l] = '\0';
                m = gait_metric_from_string(name);
                if (m < 0 || !gait_metric_info(m)->alertable)
                        return -EINVAL;
                mask |= 1u << m;
                p += l;
                p += strspn(p, " ");
                if (*p == '\0')
                        break;
                if (*p++ != ',')
                        return -EINVAL;
        }
        *dest = mask;
        return 0;
}

static int parse_sensitivity(LoadState *st, const ConfigItem *it, const char *value, void *base) {
        int *dest = field(base, it);
        AlertSensitivity s = alert_sensitivity_from_string(value);

        if (s < 0)
                return -EINVAL;
        *dest = s;
        return 0;
}

static int parse_address(const char *value, BdAddr *ret) {
        static const BdAddr none = { { 0, 0, 0, 0, 0, 0 } }, all = { { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff } };
        int r;

        r = bdaddr_from_string(value, ret);
        if (r < 0)
                return r;
        if (bdaddr_equal(ret, &none) || bdaddr_equal(ret, &all))
                return -ERANGE;
        return 0;
}

static int parse_adapter(LoadState *st, const ConfigItem *it, const char *value, void *base) {
        Config *c = base;

        if (!*value) {
                c->has_adapter = false;
                c->adapter = (BdAddr) {};
                return 0;
        }
        if (parse_address(value, &c->adapter) < 0)
                return -EINVAL;
        c->has_adapter = true;
        return 0;
}

static int parse_timezone(LoadState *st, const ConfigItem *it, const char *value, void *base) {
        char *dest = field(base, it);
        const char *root;
        struct stat s;

        if (!*value) {
                dest[0] = '\0';
                return 0;
        }
        if (!config_timezone_name_is_valid(value))
                return -EINVAL;

        /* TZDIR is glibc's own override of the zone database; tests use it as well. */
        root = getenv("TZDIR");
        if (!root || !*root)
                root = DEFAULT_ZONEINFO;
        _cleanup_free_ char *p = NULL;
        if (asprintf(&p, "%s/%s", root, value) < 0)
                return -ENOMEM;
        if (stat(p, &s) < 0 || !S_ISREG(s.st_mode))
                return load_error(st, -ENOENT, st->lineno, it, "found '%s', expected a time zone in %s such as Europe/Berlin",
                                  ECHO(value), root);
        strcpy(dest, value);
        return 0;
}

static int parse_refused_secret(LoadState *st, const ConfigItem *it, const char *value, void *base) {
        return load_error(st, -EPERM, st->lineno, it,
                          "found a password (not shown), expected password-file or password-credential: "
                          "the password never goes into this file");
}

static int parse_device(LoadState *st, const ConfigItem *it, const char *value, void *base);

#define FIELD(f) .offset = offsetof(Config, f), .size = sizeof(((Config *) NULL)->f), .field = #f
#define STRING(f) .offset = offsetof(Config, f), .size = 0, .is_string = true, .field = #f
#define WFIELD(f) .offset = offsetof(WearerConfig, f), .size = sizeof(((WearerConfig *) NULL)->f), .field = #f
#define SPAN(a, b) .offset = offsetof(Config, a), \
                   .size = offsetof(Config, b) + sizeof(((Config *) NULL)->b) - offsetof(Config, a), .field = #b
#define KEY(s, k, e, d, f) .info = { .section = s, .key = k, .expected = e, .default_value = d, .flags = f }
#define R CONFIG_KEY_RELOADABLE
#define W CONFIG_KEY_WEARER

#define TOPIC_EXPECTED "topic levels of 1-32 characters from a-z, 0-9, '_' and '-' separated by '/', at most 64 characters"
#define DURATION_BETWEEN(a, b) "a duration between " a " and " b " such as 90s, 5min or 1h"

static const ConfigItem schema[] = {
        { KEY("gateway", "id", "a name of 1-32 characters from a-z, 0-9, '_' and '-'", "the host name", 0),
          parse_name, FIELD(gateway_id), .computed_default = true },
        { KEY("gateway", "state-directory", "an absolute path", "$STATE_DIRECTORY, else " DEFAULT_STATE_DIRECTORY, 0),
          parse_required_path, STRING(state_directory), .computed_default = true },
        { KEY("gateway", "trust-wall-clock", "yes or no", "no", R), parse_bool, FIELD(trust_wall_clock) },
        { KEY("gateway", "trusted-gateways", "gateway ids separated by commas (at most 16), or nothing for all",
              "all", 0),
          parse_name_list, SPAN(n_trusted_gateways, trusted_gateways), .computed_default = true },

        { KEY("bluetooth", "adapter", "a MAC address such as 00:1A:7D:DA:71:13, or nothing for the first adapter",
              "the first adapter", 0),
          parse_adapter, SPAN(has_adapter, adapter), .computed_default = true },
        { KEY("bluetooth", "power-on-adapter", "yes or no", "yes", 0), parse_bool, FIELD(power_on_adapter) },
        { KEY("bluetooth", "auto-discovery", "yes or no", "no", 0), parse_bool, FIELD(auto_discovery) },
        { KEY("bluetooth", "require-bonded", "yes or no", "yes", 0), parse_bool, FIELD(require_bonded) },
        { KEY("bluetooth", "connect-timeout", DURATION_BETWEEN("1s", "10min"), "30s", R),
          parse_duration, FIELD(connect_timeout_usec), .min = USEC_PER_SEC, .max = 10 * USEC_PER_MINUTE },
        { KEY("bluetooth", "backoff-initial", DURATION_BETWEEN("100ms", "10min"), "1s", R),
          parse_duration, FIELD(backoff_initial_usec), .min = 100 * USEC_PER_MSEC, .max = 10 * USEC_PER_MINUTE },
        { KEY("bluetooth", "backoff-max", DURATION_BETWEEN("1s", "1h"), "60s", R),
          parse_duration, FIELD(backoff_max_usec), .min = USEC_PER_SEC, .max = USEC_PER_HOUR },
        { KEY("bluetooth", "stable-link", DURATION_BETWEEN("1s", "1h"), "60s", R),
          parse_duration, FIELD(stable_link_usec), .min = USEC_PER_SEC, .max = USEC_PER_HOUR },
        { KEY("bluetooth", "silence-timeout", DURATION_BETWEEN("1s", "1h"), "60s", R),
          parse_duration, FIELD(silence_timeout_usec), .min = USEC_PER_SEC, .max = USEC_PER_HOUR },
        { KEY("bluetooth", "adapter-reset-after", "a whole number from 0 (never) to 1000", "10", R),
          parse_uint, FIELD(adapter_reset_after), .min = 0, .max = 1000 },
        { KEY("bluetooth", "exit-after", "a whole number from 0 (never) to 1000", "3", R),
          parse_uint, FIELD(exit_after), .min = 0, .max = 1000 },
        { KEY("bluetooth", "notify-coalesce", "auto, 0 (off) or a duration up to 100ms such as 2ms", "auto", R),
          parse_coalesce, FIELD(notify_coalesce_usec), .min = 0, .max = 100 * USEC_PER_MSEC },

        { KEY("mqtt", "host", "a host name or an IP address", "localhost", 0), parse_host, STRING(host) },
        /* 8883 with tls = yes and no port: check_tls() */
        { KEY("mqtt", "port", "a port number from 1 to 65535", "1883", 0),
          parse_uint, FIELD(port), .min = 1, .max = 65535 },
        { KEY("mqtt", "protocol", "3.1.1 or 5", "5", 0), parse_protocol, FIELD(protocol_version) },
        { KEY("mqtt", "tls", "yes or no", "no", 0), parse_bool, FIELD(tls) },
        { KEY("mqtt", "ca-file", "an absolute path", NULL, 0), parse_path, STRING(tls_ca_file) },
        { KEY("mqtt", "ca-path", "an absolute path", DEFAULT_CA_PATH " with tls = yes and no ca-file", 0),
          parse_path, STRING(tls_ca_path), .computed_default = true },
        { KEY("mqtt", "cert-file", "an absolute path", NULL, 0), parse_path, STRING(tls_cert_file) },
        { KEY("mqtt", "key-file", "an absolute path", NULL, 0), parse_path, STRING(tls_key_file) },
        { KEY("mqtt", "tls-server-name", "a host name", "host", 0), parse_optional_host, STRING(tls_server_name),
          .computed_default = true },
        { KEY("mqtt", "username", "at most 256 printable characters", NULL, 0),
          parse_username, STRING(username), .max = 256 },
        /* Both are read here (load_password()); what the MQTT client uses is the password. */
        { KEY("mqtt", "password-file", "an absolute path", NULL, 0), parse_path,
          .offset = offsetof(Config, password_file), .is_string = true, .field = "password" },
        { KEY("mqtt", "password-credential", "a credential name such as mqtt-password", NULL, 0), parse_credential,
          .offset = offsetof(Config, password_credential), .is_string = true, .field = "password" },
        { KEY("mqtt", "password", "password-file or password-credential", NULL, CONFIG_KEY_SECRET),
          parse_refused_secret, .size = 0 },
        { KEY("mqtt", "base-topic", TOPIC_EXPECTED,
              "insole2mqtt", 0),
          parse_topic, FIELD(base_topic) },
        { KEY("mqtt", "client-id", "at most 23 characters from A-Z, a-z, 0-9, '_' and '-'",
              "insole2mqtt-<gateway id>", 0),
          parse_client_id, FIELD(client_id), .computed_default = true },
        { KEY("mqtt", "keepalive", "whole seconds between 5s and 65535s such as 60s or 5min", "60s", 0),
          parse_duration_sec, FIELD(keepalive_sec), .min = 5 * USEC_PER_SEC, .max = 65535 * USEC_PER_SEC },
        { KEY("mqtt", "qos", "0, 1 or 2", "1", 0), parse_uint, FIELD(qos), .min = 0, .max = 2 },
        { KEY("mqtt", "outbox-max", "a whole number from 0 to 1000000", "10000", 0),
          parse_uint, FIELD(outbox_max), .min = 0, .max = 1000000 },
        { KEY("mqtt", "outbox-max-bytes", "a whole number of bytes from 65536 to 1073741824", "4194304", 0),
          parse_uint, FIELD(outbox_max_bytes), .min = 65536, .max = 1073741824 },
        { KEY("mqtt", "homeassistant", "yes or no", "yes", 0), parse_bool, FIELD(homeassistant) },
        { KEY("mqtt", "homeassistant-prefix", TOPIC_EXPECTED, "homeassistant", 0),
          parse_topic, FIELD(homeassistant_prefix) },

        { KEY("wearer", "left", "a MAC address such as C0:FF:EE:00:00:01", NULL, W),
          parse_device, .offset = offsetof(WearerConfig, device[DEVICE_ROLE_LEFT]), .size = sizeof(BdAddr), .field = "device",
          .min = DEVICE_ROLE_LEFT },
        { KEY("wearer", "right", "a MAC address such as C0:FF:EE:00:00:02", NULL, W),
          parse_device, .offset = offsetof(WearerConfig, device[DEVICE_ROLE_RIGHT]), .size = sizeof(BdAddr), .field = "device",
          .min = DEVICE_ROLE_RIGHT },
        { KEY("wearer", "footpod", "a MAC address such as C0:FF:EE:00:00:03", NULL, W),
          parse_device, .offset = offsetof(WearerConfig, device[DEVICE_ROLE_FOOTPOD]), .size = sizeof(BdAddr), .field = "device",
          .min = DEVICE_ROLE_FOOTPOD },
        { KEY("wearer", "body-weight-kg", "a number of kilograms from 20 to 400", NULL, W | R),
          parse_double, WFIELD(body_weight_kg), .min = 20, .max = 400 },
        { KEY("wearer", "timezone", "an IANA time zone name such as Europe/Berlin", "the system's", W | R),
          parse_timezone, WFIELD(timezone), .computed_default = true },
        { KEY("wearer", "stream-rate", "auto or a rate in Hz from 10 to 400", "auto", W),
          parse_stream_rate, WFIELD(stream_rate_hz), .min = 10, .max = 400 },

        { KEY("reminders", "enabled", "yes or no", "yes", R), parse_bool, FIELD(reminders) },
        { KEY("reminders", "sitting-limit", DURATION_BETWEEN("1min", "24h"), "50min", R),
          parse_duration, FIELD(sitting_limit_usec), .min = USEC_PER_MINUTE, .max = 24 * USEC_PER_HOUR },
        { KEY("reminders", "standing-limit", DURATION_BETWEEN("1min", "24h"), "30min", R),
          parse_duration, FIELD(standing_limit_usec), .min = USEC_PER_MINUTE, .max = 24 * USEC_PER_HOUR },
        { KEY("reminders", "repeat-interval", DURATION_BETWEEN("1min", "24h"), "10min", R),
          parse_duration, FIELD(repeat_interval_usec), .min = USEC_PER_MINUTE, .max = 24 * USEC_PER_HOUR },
        { KEY("reminders", "active-hours", "HH:MM-HH:MM within one day such as 08:00-20:00", "08:00-20:00", R),
          parse_hours, SPAN(active_start_min, active_end_min) },
        { KEY("reminders", "quiet-days", "a list of mon, tue, wed, thu, fri, sat, sun such as sat,sun, or none",
              "sat,sun", R),
          parse_weekdays, FIELD(quiet_days) },
        { KEY("reminders", "clear-steps", "a whole number from 0 (off) to 100000", "200", R),
          parse_uint, FIELD(clear_steps), .min = 0, .max = 100000 },
        { KEY("reminders", "clear-walking", "0 (off) or " DURATION_BETWEEN("1s", "1h"), "2min", R),
          parse_duration, FIELD(clear_walking_usec), .min = 0, .max = USEC_PER_HOUR },
        { KEY("reminders", "clear-calf-raises", "a whole number from 0 (off) to 1000", "10", R),
          parse_uint, FIELD(clear_calf_raises), .min = 0, .max = 1000 },
        { KEY("reminders", "hourly-step-goal", "a whole number from 0 (off) to 100000", "250", R),
          parse_uint, FIELD(hourly_step_goal), .min = 0, .max = 100000 },

        { KEY("alerts", "enabled", "yes or no", "yes", R), parse_bool, FIELD(alerts) },
        { KEY("alerts", "metrics",
              "a list of cadence, stride_time, stance_time, swing_time, stride_time_cv, step_time_asym, "
              "stance_time_asym, step_time_si, stance_time_si, swing_time_si, heel_strike_share, "
              "midfoot_strike_share, forefoot_strike_share, flat_strike_share, roll_forward, ml_index such as "
              "step_time_asym,cadence; default or none",
              "cadence,stride_time_cv,step_time_asym,stance_time_asym,ml_index", R),
          parse_alert_metrics, FIELD(alert_metrics) },
        { KEY("alerts", "baseline-days", "a whole number of days from 3 to 28", "7", R),
          parse_uint, FIELD(alert_baseline_days), .min = 3, .max = 28 },
        { KEY("alerts", "sensitivity", "low, normal or high", "normal", R), parse_sensitivity, FIELD(alert_sensitivity) },

        { KEY("metrics", "publish-interval", DURATION_BETWEEN("1s", "1h"), "10s", R),
          parse_duration, FIELD(publish_interval_usec), .min = USEC_PER_SEC, .max = USEC_PER_HOUR },
        { KEY("metrics", "raw-stream", "yes or no", "no", R), parse_bool, FIELD(raw_stream) },
        { KEY("metrics", "raw-rate", "a rate in Hz from 1 to 400", "10", R),
          parse_uint, FIELD(raw_rate_hz), .min = 1, .max = 400 },
        { KEY("metrics", "prometheus-listen",
              "nothing (off), an address and port such as 127.0.0.1:9464 or [::1]:9464, or systemd", NULL, 0),
          parse_listen, STRING(prometheus_listen) },
};

_Static_assert(ELEMENTSOF(schema) <= CONFIG_KEYS_MAX, "CONFIG_KEYS_MAX is too small for the schema");

const ConfigKeyInfo *config_schema_key(size_t i) {
        return i < ELEMENTSOF(schema) ? &schema[i].info : NULL;
}

const char *config_schema_key_field(size_t i) {
        return i < ELEMENTSOF(schema) ? schema[i].field : NULL;
}

static size_t item_index(const ConfigItem *it) {
        return (size_t) (it - schema);
}

static const ConfigItem *find_item(const char *section, const char *key) {
        for (size_t i = 0; i < ELEMENTSOF(schema); i++)
                if (streq(schema[i].info.section, section) && streq(schema[i].info.key, key))
                        return &schema[i];
        return NULL;
}

static const ConfigItem *item_by_field(size_t offset, bool wearer) {
        for (size_t i = 0; i < ELEMENTSOF(schema); i++)
                if (schema[i].offset == offset && !!(schema[i].info.flags & CONFIG_KEY_WEARER) == wearer)
                        return &schema[i];
        abort(); /* a programming error: every field asked for is in the table */
}
#define ITEM(f) item_by_field(offsetof(Config, f), false)

static int parse_device(LoadState *st, const ConfigItem *it, const char *value, void *base) {
        WearerConfig *w = base;
        DeviceRole role = (DeviceRole) it->min;
        BdAddr a;
        char buf[18];

        if (parse_address(value, &a) < 0)
                return -EINVAL;

        for (size_t i = 0; i < st->config->n_wearers; i++) {
                const WearerConfig *o = &st->config->wearers[i];
                for (DeviceRole r = 0; r < _DEVICE_ROLE_MAX; r++) {
                        if (!o->has_device[r] || !bdaddr_equal(&o->device[r], &a))
                                continue;
                        const ConfigItem *other = find_item("wearer", device_role_to_string(r));
                        return load_error(st, -EEXIST, st->lineno, it,
                                          "found '%s', expected an address not used before ([wearer %s] %s on line %u)",
                                          bdaddr_to_string(&a, buf), o->name, device_role_to_string(r),
                                          o->key_line[item_index(other)]);
                }
        }
        w->device[role] = a;
        w->has_device[role] = true;
        return 0;
}

/* ---- sections ---- */

static int section_id(const char *section) {
        for (size_t i = 0; i < ELEMENTSOF(section_names); i++)
                if (streq(section_names[i], section))
                        return (int) i;
        return -1;
}

static int finish_wearer(LoadState *st) {
        WearerConfig *w = st->wearer;

        if (!w)
                return 0;
        for (DeviceRole r = 0; r < _DEVICE_ROLE_MAX; r++)
                if (w->has_device[r])
                        return 0;
        return load_error(st, -EINVAL, w->line, NULL,
                          "[wearer %s]: found no device, expected at least one of left, right or footpod", w->name);
}

static bool is_blank(char c) {
        return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

/* Called for every "[...]" line before inih sees it: inih tells the handler only about keys, so
 * sections without keys would otherwise go unchecked. */
static int begin_section(LoadState *st, const char *text) {
        char name[128];
        const char *end, *p;
        size_t l;
        int r, id;

        end = strchr(text, ']');
        if (!end)
                return load_error(st, -EINVAL, st->lineno, NULL, "found '%s', expected a section header such as [mqtt]",
                                  ECHO(text));
        for (p = end + 1; *p; p++)
                if (!is_blank(*p))
                        return load_error(st, -EINVAL, st->lineno, NULL,
                                          "found '%s', expected nothing after ']' (comments go on their own line)",
                                          ECHO(text));

        /* trim inside the brackets */
        p = text + 1;
        while (p < end && is_blank(*p))
                p++;
        while (end > p && is_blank(end[-1]))
                end--;
        l = (size_t) (end - p);
        if (l >= sizeof(name))
                l = sizeof(name) - 1;
        memcpy(name, p, l);
        name[l] = '\0';

        r = finish_wearer(st);
        if (r < 0)
                return r;
        st->wearer = NULL;
        st->section = NULL;

        if (strncmp(name, "wearer", 6) == 0 && (name[6] == '\0' || is_blank(name[6]))) {
                const char *wname = name + 6;
                Config *c = st->config;

                while (is_blank(*wname))
                        wname++;
                if (!config_name_is_valid(wname, CONFIG_NAME_MAX) || !topic_wearer_name_is_valid(wname))
                        return load_error(st, -EINVAL, st->lineno, NULL,
                                          "[%s]: found '%s', expected a wearer name of 1-32 characters from a-z, 0-9, '_' and '-', other than bridge",
                                          ECHO(name), ECHO(wname));
                for (size_t i = 0; i < c->n_wearers; i++)
                        if (streq(c->wearers[i].name, wname))
                                return load_error(st, -EEXIST, st->lineno, NULL,
                                                  "[wearer %s]: found a second [wearer %s], expected each wearer once (first on line %u)",
                                                  wname, wname, c->wearers[i].line);
                if (c->n_wearers >= CONFIG_MAX_WEARERS)
                        return load_error(st, -E2BIG, st->lineno, NULL,
                                          "[wearer %s]: found wearer number %zu, expected at most %d wearers", wname,
                                          c->n_wearers + 1, CONFIG_MAX_WEARERS);

                WearerConfig *w = &c->wearers[c->n_wearers++];
                *w = (WearerConfig) { .line = st->lineno };
                strcpy(w->name, wname);
                st->wearer = w;
                st->section = "wearer";
                return 0;
        }

        id = section_id(name);
        if (id < 0)
                return load_error(st, -EINVAL, st->lineno, NULL,
                                  "found section '[%s]', expected [gateway], [bluetooth], [mqtt], [wearer NAME], [reminders], [alerts] or [metrics]",
                                  ECHO(name));
        if (st->section_line[id] > 0)
                return load_error(st, -EEXIST, st->lineno, NULL,
                                  "[%s]: found the section again, expected each section once (first on line %u)", name,
                                  st->section_line[id]);
        st->section_line[id] = st->lineno;
        st->section = section_names[id];
        return 0;
}

/* inih's line reader: counts lines (inih 55 as built by Debian does not pass line numbers to the
 * handler), refuses overlong lines and NUL bytes instead of letting them split or truncate, and
 * sees section headers first. */
static char *read_line(char *str, int num, void *userdata) {
        LoadState *st = userdata;
        const char *p;
        ssize_t n;

        if (st->error < 0)
                return NULL;

        n = getline(&st->line, &st->line_alloc, st->f);
        if (n < 0) {
                if (ferror(st->f))
                        (void) load_error(st, -EIO, st->lineno, NULL, "found a read error, expected a readable file");
                return NULL;
        }
        st->lineno++;

        if (strlen(st->line) != (size_t) n) {
                (void) load_error(st, -EINVAL, st->lineno, NULL, "found a NUL byte, expected text");
                return NULL;
        }
        if (n - (st->line[n - 1] == '\n') > num - 2) {
                (void) load_error(st, -E2BIG, st->lineno, NULL, "found a line of %zd characters, expected at most %d",
                                  n - (st->line[n - 1] == '\n'), num - 2);
                return NULL;
        }

        p = st->line;
        if (st->lineno == 1 && strncmp(p, "\xEF\xBB\xBF", 3) == 0)
                p += 3;
        while (is_blank(*p))
                p++;
        if (*p == '[') {
                char *nl;

                /* drop the line break so that it does not show up in messages */
                nl = strchr(st->line, '\n');
                if (nl)
                        *nl = '\0';
                if (begin_section(st, p) < 0)
                        return NULL;
                if (nl)
                        *nl = '\n';
        }

        memcpy(str, st->line, (size_t) n + 1);
        return str;
}

static int handle_key(void *userdata, const char *section, const char *key, const char *value) {
        LoadState *st = userdata;
        const ConfigItem *it;
        unsigned *seen;
        void *base;
        int r;

        if (st->error < 0)
                return 0;
        if (!st->section) {
                (void) load_error(st, -EINVAL, st->lineno, NULL,
                                  "found key '%s' outside any section, expected a section header such as [mqtt] before it",
                                  ECHO(key));
                return 0;
        }

        it = find_item(st->section, key);
        if (!it) {
                char keys[CONFIG_ERROR_MAX] = "";
                size_t o = 0;

                for (size_t i = 0; i < ELEMENTSOF(schema); i++) {
                        if (!streq(schema[i].info.section, st->section) || (schema[i].info.flags & CONFIG_KEY_SECRET))
                                continue;
                        int k = snprintf(keys + o, sizeof(keys) - o, "%s%s", o > 0 ? ", " : "", schema[i].info.key);
                        if (k < 0 || (size_t) k >= sizeof(keys) - o)
                                break;
                        o += (size_t) k;
                }
                if (st->wearer)
                        (void) load_error(st, -EINVAL, st->lineno, NULL,
                                          "[wearer %s] %s: found an unknown key, expected one of %s", st->wearer->name,
                                          ECHO(key), keys);
                else
                        (void) load_error(st, -EINVAL, st->lineno, NULL,
                                          "[%s] %s: found an unknown key, expected one of %s", st->section, ECHO(key),
                                          keys);
                return 0;
        }

        if (it->info.flags & CONFIG_KEY_WEARER) {
                seen = &st->wearer->key_line[item_index(it)];
                base = st->wearer;
        } else {
                seen = &st->config->key_line[item_index(it)];
                base = st->config;
        }

        if (*seen > 0) {
                (void) load_error(st, -EEXIST, st->lineno, it, "found the key again, expected it once (first on line %u)",
                                  *seen);
                return 0;
        }

        r = it->parse(st, it, value, base);
        if (r == -ENOMEM) {
                (void) load_error(st, r, st->lineno, it, "found no memory left, expected some");
                return 0;
        }
        if (r < 0) {
                if (it->info.flags & CONFIG_KEY_SECRET)
                        (void) load_error(st, r, st->lineno, it, "found a value (not shown), expected %s",
                                          it->info.expected);
                else
                        (void) load_error(st, r, st->lineno, it, "found '%s', expected %s", ECHO(value),
                                          it->info.expected);
                return 0;
        }
        *seen = st->lineno;
        return 1;
}

/* ---- defaults and checks across keys ---- */

/* The defaults are the schema's: each documented default value is parsed as if the file said
 * it; the few that depend on the machine are computed here. */
void config_init(Config *c) {
        LoadState st = { .config = c, .path = "(defaults)" };
        const char *state;
        char host[256] = "";
        int r;

        *c = (Config) {};
        for (size_t i = 0; i < ELEMENTSOF(schema); i++) {
                const ConfigItem *it = &schema[i];

                if (!it->info.default_value || it->computed_default || (it->info.flags & CONFIG_KEY_WEARER))
                        continue;
                r = it->parse(&st, it, it->info.default_value, c);
                /* -ENOMEM leaves a string NULL, which finish() reports; a default that its own
                 * parser refuses is a programming error (the config tests catch it first). */
                if (r < 0 && r != -ENOMEM)
                        abort();
        }

        /* The gateway id defaults to the short host name, made topic-safe. */
        if (gethostname(host, sizeof(host) - 1) < 0)
                host[0] = '\0';
        size_t o = 0;
        for (const char *p = host; *p && *p != '.' && o < CONFIG_NAME_MAX; p++) {
                char ch = *p;
                if (ch >= 'A' && ch <= 'Z')
                        ch = (char) (ch - 'A' + 'a');
                c->gateway_id[o++] = config_name_is_valid((char[]) { ch, 0 }, 1) ? ch : '-';
        }
        c->gateway_id[o] = '\0';
        if (o == 0)
                strcpy(c->gateway_id, "gateway");

        /* systemd's StateDirectory= sets $STATE_DIRECTORY (several paths are separated by ':'). */
        state = getenv("STATE_DIRECTORY");
        if (state && state[0] == '/')
                c->state_directory = strndup(state, strcspn(state, ":"));
        else
                c->state_directory = strdup(DEFAULT_STATE_DIRECTORY);
}

void config_done(Config *c) {
        if (!c)
                return;
        if (c->password) {
                explicit_bzero(c->password, strlen(c->password));
                free(c->password);
        }
        free(c->path);
        free(c->state_directory);
        free(c->host);
        free(c->tls_ca_file);
        free(c->tls_ca_path);
        free(c->tls_cert_file);
        free(c->tls_key_file);
        free(c->tls_server_name);
        free(c->username);
        free(c->password_file);
        free(c->password_credential);
        free(c->prometheus_listen);
        *c = (Config) {};
}

static unsigned line_of(const Config *c, const ConfigItem *it) {
        return c->key_line[item_index(it)];
}

static int check_file(LoadState *st, const ConfigItem *it, const char *path, bool directory) {
        struct stat s;

        if (!path)
                return 0;
        if (access(path, R_OK) < 0 || stat(path, &s) < 0)
                return load_error(st, -errno, line_of(st->config, it), it, "found '%s', expected a readable %s (%s)",
                                  ECHO(path), directory ? "directory" : "file", strerror(errno));
        if (directory ? !S_ISDIR(s.st_mode) : S_ISDIR(s.st_mode))
                return load_error(st, directory ? -ENOTDIR : -EISDIR, line_of(st->config, it), it,
                                  "found '%s', expected a readable %s (%s)", ECHO(path),
                                  directory ? "directory" : "file",
                                  strerror(directory ? ENOTDIR : EISDIR));
        return 0;
}

static int load_password(LoadState *st) {
        Config *c = st->config;
        const ConfigItem *file = ITEM(password_file), *cred = ITEM(password_credential), *it;
        _cleanup_free_ char *cred_path = NULL;
        const char *path;
        int r;

        if (c->password_file && c->password_credential) {
                bool file_last = line_of(c, file) > line_of(c, cred);
                it = file_last ? file : cred;
                return load_error(st, -EINVAL, line_of(c, it), it,
                                  "found '%s', expected either password-file or password-credential, not both (%s is on line %u)",
                                  ECHO(file_last ? c->password_file : c->password_credential),
                                  file_last ? "password-credential" : "password-file",
                                  line_of(c, file_last ? cred : file));
        }

        if (c->password_file) {
                it = file;
                path = c->password_file;
        } else if (c->password_credential) {
                const char *dir = getenv("CREDENTIALS_DIRECTORY");

                it = cred;
                if (!dir || !*dir)
                        return load_error(st, -ENOKEY, line_of(c, it), it,
                                          "found '%s', expected $CREDENTIALS_DIRECTORY to be set (LoadCredential= in the service unit)",
                                          ECHO(c->password_credential));
                if (asprintf(&cred_path, "%s/%s", dir, c->password_credential) < 0)
                        return load_error(st, -ENOMEM, 0, NULL, "found no memory left, expected some");
                path = cred_path;
        } else
                return 0;

        r = config_read_secret_file(path, CONFIG_PASSWORD_MAX, &c->password);
        switch (r) {
        case 0:
                break;
        case -ENODATA:
                return load_error(st, r, line_of(c, it), it, "found '%s', expected a file holding the password (it is empty)",
                                  ECHO(path));
        case -EFBIG:
                return load_error(st, r, line_of(c, it), it, "found '%s', expected a password of at most %d bytes in it",
                                  ECHO(path), CONFIG_PASSWORD_MAX);
        case -EBADMSG:
                return load_error(st, r, line_of(c, it), it,
                                  "found '%s', expected a password on one line, without NUL bytes", ECHO(path));
        case -EBADF:
                return load_error(st, r, line_of(c, it), it, "found '%s', expected a regular file", ECHO(path));
        default:
                return load_error(st, r, line_of(c, it), it, "found '%s', expected a readable file (%s)", ECHO(path),
                                  strerror(-r));
        }

        if (!c->username)
                return load_error(st, -EINVAL, line_of(c, it), it,
                                  "found a password, expected username to be set as well (MQTT sends a password only with a user name)");
        return 0;
}

static int check_tls(LoadState *st) {
        Config *c = st->config;
        const ConfigItem *items[] = { ITEM(tls_ca_file), ITEM(tls_ca_path), ITEM(tls_cert_file), ITEM(tls_key_file),
                                      ITEM(tls_server_name) };
        int r;

        if (!c->tls) {
                for (size_t i = 0; i < ELEMENTSOF(items); i++) {
                        const char *v = *(char **) field(c, items[i]);
                        if (v)
                                return load_error(st, -EINVAL, line_of(c, items[i]), items[i],
                                                  "found '%s', expected tls = yes in [mqtt] as well", ECHO(v));
                }
                return 0;
        }

        if (!!c->tls_cert_file != !!c->tls_key_file) {
                const ConfigItem *it = c->tls_cert_file ? ITEM(tls_cert_file) : ITEM(tls_key_file);
                return load_error(st, -EINVAL, line_of(c, it), it, "found '%s', expected %s as well",
                                  ECHO(c->tls_cert_file ?: c->tls_key_file), c->tls_cert_file ? "key-file" : "cert-file");
        }

        r = check_file(st, ITEM(tls_ca_file), c->tls_ca_file, false);
        if (r < 0)
                return r;
        r = check_file(st, ITEM(tls_ca_path), c->tls_ca_path, true);
        if (r < 0)
                return r;
        r = check_file(st, ITEM(tls_cert_file), c->tls_cert_file, false);
        if (r < 0)
                return r;
        r = check_file(st, ITEM(tls_key_file), c->tls_key_file, false);
        if (r < 0)
                return r;

        /* Verification is always on: without a CA of its own the broker must chain to the system's. */
        if (!c->tls_ca_file && !c->tls_ca_path) {
                c->tls_ca_path = strdup(DEFAULT_CA_PATH);
                if (!c->tls_ca_path)
                        return load_error(st, -ENOMEM, 0, NULL, "found no memory left, expected some");
        }
        if (line_of(c, ITEM(port)) == 0)
                c->port = 8883;
        return 0;
}

static int finish(LoadState *st) {
        Config *c = st->config;
        char a[64], b[64];
        int r;

        r = finish_wearer(st);
        if (r < 0)
                return r;

        if (!c->state_directory || !c->host)
                return load_error(st, -ENOMEM, 0, NULL, "found no memory left, expected some");

        if (c->n_wearers == 0 && !c->auto_discovery)
                return load_error(st, -EINVAL, 0, NULL,
                                  "found no [wearer NAME] section, expected at least one (or auto-discovery = yes in [bluetooth])");

        if (c->backoff_initial_usec > c->backoff_max_usec) {
                const ConfigItem *ini = ITEM(backoff_initial_usec), *max = ITEM(backoff_max_usec);
                if (line_of(c, max) >= line_of(c, ini))
                        return load_error(st, -ERANGE, line_of(c, max), max, "found '%s', expected at least backoff-initial (%s)",
                                          config_format_duration(c->backoff_max_usec, a, sizeof(a)),
                                          config_format_duration(c->backoff_initial_usec, b, sizeof(b)));
                return load_error(st, -ERANGE, line_of(c, ini), ini, "found '%s', expected at most backoff-max (%s)",
                                  config_format_duration(c->backoff_initial_usec, a, sizeof(a)),
                                  config_format_duration(c->backoff_max_usec, b, sizeof(b)));
        }

        if (c->reminders && c->clear_steps == 0 && c->clear_walking_usec == 0 && c->clear_calf_raises == 0) {
                const ConfigItem *it = ITEM(clear_steps);
                const ConfigItem *more[] = { ITEM(clear_walking_usec), ITEM(clear_calf_raises) };
                for (size_t i = 0; i < ELEMENTSOF(more); i++)
                        if (line_of(c, more[i]) > line_of(c, it))
                                it = more[i];
                return load_error(st, -EINVAL, line_of(c, it), it,
                                  "found '0', expected at least one of clear-steps, clear-walking and clear-calf-raises above 0");
        }

        r = check_tls(st);
        if (r < 0)
                return r;
        return load_password(st);
}

static int load_stream(FILE *f, const char *path, Config *ret, char *ret_error, size_t error_size) {
        LoadState *st;
        Config *c;
        int r;

        if (ret_error && error_size > 0)
                ret_error[0] = '\0';

        /* Big enough (key lines for every wearer) to keep off the stack. */
        st = calloc(1, sizeof(*st));
        c = calloc(1, sizeof(*c));
        if (!st || !c) {
                free(st);
                free(c);
                if (ret_error && error_size > 0)
                        (void) snprintf(ret_error, error_size, "%s: found no memory left, expected some", path);
                return -ENOMEM;
        }
        config_init(c);
        *st = (LoadState) {
                .config = c,
                .path = path,
                .f = f,
                .error_buf = ret_error,
                .error_size = error_size,
        };

#ifdef HAVE_INIH_RUNTIME_OPTIONS
        /* Debian's inih exposes its build options as variables. Fixed choices: no multi-line values
         * (an indented line is an error, not a continuation), no inline comments (a ';' belongs to
         * the value), stop at the first error. Other builds keep their compiled-in options; the
         * first error still wins, as handle_key() and read_line() stop at it. */
        ini_allow_multiline = false;
        ini_allow_inline_comments = false;
        ini_stop_on_first_error = true;
        ini_allow_no_value = false;
#endif

        r = ini_parse_stream(read_line, st, handle_key, st);
        if (st->error >= 0) {
                if (r > 0) {
                        char *nl = st->line ? strchr(st->line, '\n') : NULL;
                        if (nl)
                                *nl = '\0';
                        (void) load_error(st, -EINVAL, (unsigned) r, NULL,
                                          "found '%s', expected 'key = value', a [section] or a comment starting with # or ;",
                                          ECHO(strempty(st->line)));
                } else if (r < 0)
                        (void) load_error(st, -ENOMEM, 0, NULL, "found no memory left, expected some");
                else
                        (void) finish(st);
        }
        free(st->line);
        r = st->error;
        free(st);

        if (r >= 0) {
                c->path = strdup(path);
                if (!c->path)
                        r = -ENOMEM;
        }
        if (r < 0) {
                config_done(c);
                free(c);
                return r;
        }
        *ret = *c;
        free(c);
        return 0;
}

int config_load(const char *path, Config *ret, char *ret_error, size_t error_size) {
        _cleanup_fclose_ FILE *f = NULL;

        f = fopen(path, "re");
        if (!f) {
                int r = -errno;
                char p[CONFIG_ERROR_MAX];

                if (ret_error && error_size > 0)
                        (void) snprintf(ret_error, error_size, "%s: found no readable file (%s), expected the configuration",
                                        printable_path(path, p, sizeof(p)), strerror(-r));
                return r;
        }
        return load_stream(f, path, ret, ret_error, error_size);
}

int config_load_string(const char *text, const char *name, Config *ret, char *ret_error, size_t error_size) {
        _cleanup_fclose_ FILE *f = NULL;

        f = fmemopen((void *) text, strlen(text), "r");
        if (!f) {
                int r = -errno;
                if (ret_error && error_size > 0)
                        (void) snprintf(ret_error, error_size, "%s: cannot read from memory (%s)", name, strerror(-r));
                return r;
        }
        return load_stream(f, name, ret, ret_error, error_size);
}

const WearerConfig *config_find_wearer(const Config *c, const char *name) {
        for (size_t i = 0; i < c->n_wearers; i++)
                if (streq(c->wearers[i].name, name))
                        return &c->wearers[i];
        return NULL;
}

/* ---- problems found at set-up ---- */

/* The schema item whose member holds `field`, and the wearer it belongs to (NULL for the other
 * sections). */
static const ConfigItem *item_at(const Config *c, const void *field, const WearerConfig **ret_wearer) {
        const uint8_t *p = field, *wearers = (const uint8_t *) c->wearers;
        bool wearer = p >= wearers && p < wearers + sizeof(c->wearers);
        size_t offset;

        if (wearer) {
                size_t i = (size_t) (p - wearers) / sizeof(WearerConfig);
                *ret_wearer = &c->wearers[i];
                offset = (size_t) (p - (const uint8_t *) &c->wearers[i]);
        } else {
                *ret_wearer = NULL;
                offset = (size_t) (p - (const uint8_t *) c);
        }
        for (size_t i = 0; i < ELEMENTSOF(schema); i++) {
                const ConfigItem *it = &schema[i];
                size_t size = it->is_string ? sizeof(char *) : it->size;

                if (!!(it->info.flags & CONFIG_KEY_WEARER) == wearer && offset >= it->offset &&
                    offset < it->offset + size)
                        return it;
        }
        abort(); /* a programming error: the field is not one a key sets */
}

int config_log_key(const Config *c, int level, int error, const void *field, const char *format, ...) {
        const WearerConfig *w;
        const ConfigItem *it = item_at(c, field, &w);
        char message[CONFIG_ERROR_MAX];
        LoadState st = {
                .config = (Config *) c,
                .path = c->path ?: "(configuration)",
                .wearer = (WearerConfig *) w,
                .error_buf = message,
                .error_size = sizeof(message),
        };
        va_list ap;

        va_start(ap, format);
        (void) load_errorv(&st, error > 0 ? -error : error, (w ? w->key_line : c->key_line)[item_index(it)], it,
                           format, ap);
        va_end(ap);
        return log_full_errno(level, error, "%s", message);
}

/* ---- reload ---- */

static bool item_differs(const ConfigItem *it, const void *a, const void *b) {
        const void *fa = (const uint8_t *) a + it->offset, *fb = (const uint8_t *) b + it->offset;

        if (it->is_string)
                return !streq_ptr(*(char *const *) fa, *(char *const *) fb);
        return it->size > 0 && memcmp(fa, fb, it->size) != 0;
}

static int copy_item(const ConfigItem *it, void *dest, const void *src) {
        void *fd = (uint8_t *) dest + it->offset;
        const void *fs = (const uint8_t *) src + it->offset;

        if (it->is_string)
                return set_string(fd, strempty(*(char *const *) fs));
        memcpy(fd, fs, it->size);
        return 0;
}

static bool wearer_devices_differ(const WearerConfig *a, const WearerConfig *b) {
        for (DeviceRole r = 0; r < _DEVICE_ROLE_MAX; r++)
                if (a->has_device[r] != b->has_device[r] ||
                    (a->has_device[r] && !bdaddr_equal(&a->device[r], &b->device[r])))
                        return true;
        /* The rate is written to the insoles when they connect. */
        return a->stream_rate_hz != b->stream_rate_hz;
}

int config_apply_reload(Config *cur, const Config *next, char *ret_error, size_t error_size) {
        LoadState st = {
                .path = next->path ?: "(reload)",
                .error_buf = ret_error,
                .error_size = error_size,
        };
        int r;

        if (ret_error && error_size > 0)
                ret_error[0] = '\0';

        for (size_t i = 0; i < ELEMENTSOF(schema); i++) {
                const ConfigItem *it = &schema[i];

                if (it->info.flags & CONFIG_KEY_WEARER)
                        continue;
                if (!item_differs(it, cur, next)) {
                        cur->key_line[i] = next->key_line[i]; /* the same value may have moved */
                        continue;
                }
                if (it->info.flags & CONFIG_KEY_RELOADABLE) {
                        r = copy_item(it, cur, next);
                        if (r < 0)
                                return r;
                        cur->key_line[i] = next->key_line[i];
                } else
                        (void) load_error(&st, -EBUSY, next->key_line[i], it,
                                          "found a new value, expected the running one: this key changes only with a restart");
        }

        if (!streq_ptr(cur->password, next->password)) {
                const ConfigItem *it = next->password_credential ? ITEM(password_credential) : ITEM(password_file);
                (void) load_error(&st, -EBUSY, next->key_line[item_index(it)], it,
                                  "found a new password (not shown), expected the running one: it changes only with a restart");
        }

        /* Wearers and their devices shape the whole pipeline; only their descriptive keys reload. */
        bool same_wearers = cur->n_wearers == next->n_wearers;
        for (size_t i = 0; same_wearers && i < next->n_wearers; i++) {
                const WearerConfig *w = config_find_wearer(cur, next->wearers[i].name);
                if (!w || wearer_devices_differ(w, &next->wearers[i]))
                        same_wearers = false;
        }
        if (!same_wearers) {
                const WearerConfig *changed = NULL;
                for (size_t i = 0; !changed && i < next->n_wearers; i++) {
                        const WearerConfig *w = config_find_wearer(cur, next->wearers[i].name);
                        if (!w || wearer_devices_differ(w, &next->wearers[i]))
                                changed = &next->wearers[i];
                }
                if (changed)
                        (void) load_error(&st, -EBUSY, changed->line, NULL,
                                          "[wearer %s]: found new or changed devices or stream-rate, expected the running ones: wearers, devices and stream rates change only with a restart",
                                          changed->name);
                else
                        (void) load_error(&st, -EBUSY, 0, NULL,
                                          "found fewer wearers, expected the running ones: wearers and devices change only with a restart");
        }
        for (size_t i = 0; i < cur->n_wearers; i++) {
                WearerConfig *w = &cur->wearers[i];
                const WearerConfig *n = config_find_wearer(next, w->name);

                if (!n)
                        continue;
                for (size_t k = 0; k < ELEMENTSOF(schema); k++)
                        if ((schema[k].info.flags & CONFIG_KEY_WEARER) && (schema[k].info.flags & CONFIG_KEY_RELOADABLE)) {
                                (void) copy_item(&schema[k], w, n);
                                w->key_line[k] = n->key_line[k];
                        }
        }

        return st.error;
}
