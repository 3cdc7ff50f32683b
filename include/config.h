/* SPDX-License-Identifier: MIT */
#pragma once

/* The gateway's configuration (/etc/insole2mqtt/insole2mqtt.conf). The schema is one table in
 * daemon/config/config.c; docs/configuration.md and config/insole2mqtt.conf document every key.
 * Loading never logs: errors come back as a one-line message "FILE:LINE: ..." in ret_error. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "insole.h"
#include "macro.h"
#include "topic-name.h"

#define CONFIG_DEFAULT_PATH "/etc/insole2mqtt/insole2mqtt.conf"
#define CONFIG_NAME_MAX TOPIC_LEVEL_MAX  /* wearer names and gateway id: [a-z0-9_-]{1,32} */
#define CONFIG_MAX_WEARERS 16
#define CONFIG_TOPIC_MAX TOPIC_PREFIX_MAX
#define CONFIG_MAX_TRUSTED_GATEWAYS 16
#define CONFIG_ERROR_MAX 512
#define CONFIG_KEYS_MAX 96          /* room for the schema table, see config_schema_key() */
#define CONFIG_PASSWORD_MAX 1024

#define CONFIG_NOTIFY_COALESCE_AUTO UINT64_MAX

typedef struct WearerConfig {
        char name[CONFIG_NAME_MAX + 1]; /* topic segment: [a-z0-9_-] only */
        bool has_device[_DEVICE_ROLE_MAX];
        BdAddr device[_DEVICE_ROLE_MAX];
        double body_weight_kg; /* 0 = not given */
        char timezone[64];     /* IANA zone name, "" = the system's */
        unsigned stream_rate_hz; /* asked of the insoles; 0 = their own preferred rate */
        unsigned line;         /* where the section starts, for messages */
        unsigned key_line[CONFIG_KEYS_MAX]; /* where each key of the section was set, as Config's */
} WearerConfig;

typedef struct Config {
        char *path;

        /* [gateway] */
        char gateway_id[CONFIG_NAME_MAX + 1];
        char *state_directory;
        bool trust_wall_clock;           /* the wall clock is right from boot (an RTC): days need no NTP sync */
        unsigned n_trusted_gateways;     /* 0 = every gateway on the broker is believed */
        char trusted_gateways[CONFIG_MAX_TRUSTED_GATEWAYS][CONFIG_NAME_MAX + 1];

        /* [bluetooth] */
        bool has_adapter;
        BdAddr adapter;
        bool power_on_adapter;
        bool auto_discovery;
        bool require_bonded;             /* stream only from bonded (hence encrypted) links */
        uint64_t connect_timeout_usec;
        uint64_t backoff_initial_usec;
        uint64_t backoff_max_usec;
        uint64_t stable_link_usec;       /* a link up this long resets the backoff */
        uint64_t silence_timeout_usec;   /* connected but no data this long -> reconnect */
        unsigned adapter_reset_after;    /* consecutive failures before power-cycling the adapter */
        unsigned exit_after;             /* consecutive adapter resets without success before exiting */
        uint64_t notify_coalesce_usec;   /* wait this long after a notification wake-up; 0 = read at once,
                                          * CONFIG_NOTIFY_COALESCE_AUTO = decided by the BlueZ client */

        /* [mqtt] */
        char *host;
        uint16_t port;
        unsigned protocol_version;       /* 311 or 5 */
        bool tls;
        char *tls_ca_file;
        char *tls_ca_path;
        char *tls_cert_file;
        char *tls_key_file;
        char *tls_server_name;           /* hostname to verify instead of host */
        char *username;
        char *password_file;
        char *password_credential;       /* name under $CREDENTIALS_DIRECTORY */
        char *password;                  /* secret, loaded from one of the two above; never logged */
        char base_topic[CONFIG_TOPIC_MAX + 1];
        char client_id[24];              /* "" = derived from gateway id */
        unsigned keepalive_sec;
        int qos;
        unsigned outbox_max;             /* messages held while the broker is away */
        uint64_t outbox_max_bytes;       /* ... and their topics and payloads, in bytes */
        bool homeassistant;
        char homeassistant_prefix[CONFIG_TOPIC_MAX + 1];

        /* [reminders] */
        bool reminders;
        uint64_t sitting_limit_usec;
        uint64_t standing_limit_usec;
        uint64_t repeat_interval_usec;
        unsigned active_start_min;       /* minutes after local midnight */
        unsigned active_end_min;
        uint8_t quiet_days;              /* bit 0 = Sunday ... bit 6 = Saturday */
        unsigned clear_steps;
        uint64_t clear_walking_usec;
        unsigned clear_calf_raises;
        unsigned hourly_step_goal;

        /* [alerts] */
        bool alerts;
        unsigned alert_metrics;          /* bit per GaitMetric (include/gait-metrics.h) */
        unsigned alert_baseline_days;
        int alert_sensitivity;           /* AlertSensitivity */

        /* [metrics] */
        uint64_t publish_interval_usec;
        bool raw_stream;
        unsigned raw_rate_hz;
        char *prometheus_listen;         /* "" or NULL = off; "HOST:PORT", "[IPv6]:PORT" or "systemd" */

        WearerConfig wearers[CONFIG_MAX_WEARERS];
        size_t n_wearers;

        /* Where each key of the schema was set (index as in config_schema_key()), 0 = default. */
        unsigned key_line[CONFIG_KEYS_MAX];
} Config;

/* The schema as data, for documentation checks and tooling. */
typedef enum ConfigKeyFlags {
        CONFIG_KEY_RELOADABLE = 1 << 0, /* SIGHUP applies a new value */
        CONFIG_KEY_SECRET = 1 << 1,     /* the value is never echoed in a message */
        CONFIG_KEY_WEARER = 1 << 2,     /* a key of [wearer NAME] sections */
} ConfigKeyFlags;

typedef struct ConfigKeyInfo {
        const char *section;       /* "gateway", "bluetooth", "mqtt", "wearer", "reminders", "alerts", "metrics" */
        const char *key;
        const char *expected;      /* what a valid value looks like, as error messages say it */
        const char *default_value; /* as documented, NULL when there is none */
        unsigned flags;            /* ConfigKeyFlags */
} ConfigKeyInfo;

/* The i-th key of the schema, in documentation order; NULL past the end. */
const ConfigKeyInfo *config_schema_key(size_t i);
/* The name of the Config (or WearerConfig) member the i-th key sets; NULL for a refused key. */
const char *config_schema_key_field(size_t i);

/* Fills every default. */
void config_init(Config *c);
/* Frees owned strings and wipes the password. */
void config_done(Config *c);
/* Loads path into a fresh Config. On error returns -errno, leaves *ret untouched and writes one
 * line into ret_error: "path:line: [section] key: found 'value', expected description" (a secret
 * value is never quoted). Never logs. */
int config_load(const char *path, Config *ret, char *ret_error, size_t error_size);
/* Copies from `next` what may change at run time (SIGHUP) into `cur`; fills ret_error and returns
 * -EBUSY naming the first key that would need a restart but differs. */
int config_apply_reload(Config *cur, const Config *next, char *ret_error, size_t error_size);
/* (Even when it returns -EBUSY, every reloadable key has been copied; what needs a restart keeps
 * its running value. `next` is left untouched: the caller still config_done()s it.) */
const WearerConfig *config_find_wearer(const Config *c, const char *name);

/* Set-up code (the Manager and the modules it builds) reports a problem with a configured value
 * against the key that set it, as one line in the loader's form
 *         FILE:LINE: [section] key: TEXT
 * (without ":LINE" when the key was not in the file and its default is at fault). `field` points at
 * the member of `c`, or of one of c->wearers, that the key sets; `%m` in the format is `error`.
 * Logs at `level` and returns -|error|. */
int config_log_key(const Config *c, int level, int error, const void *field, const char *format, ...)
        _printf_(5, 6);

/* Like config_load(), for a configuration held in memory (an embedded default); `name` stands in
 * for the path in messages and in ret->path. */
int config_load_string(const char *text, const char *name, Config *ret, char *ret_error, size_t error_size);
/* A listening address: "HOST:PORT" with a numeric IPv4 address or "[IPv6]:PORT" (no names: a
 * listener must not wait for DNS). -EINVAL, or -ERANGE for a port outside 1-65535. */
int config_parse_listen_address(const char *s, struct sockaddr_storage *ret, socklen_t *ret_len);
