/* SPDX-License-Identifier: MIT */
/* insole2mqtt-view: a live, readable view of what a gateway publishes. It subscribes to
 * <base>/# and prints one line per gait, activity, steps, reminder and availability message,
 * turning unit-suffixed field names (cadence_spm, stance_time_ms, ...) into "cadence 112 spm". */

#include <getopt.h>
#include <mosquitto.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "json-parse.h"
#include "macro.h"

static const char *arg_host = "127.0.0.1";
static int arg_port = 1883;
static const char *arg_base = "insole2mqtt";
static bool arg_all = false;
static volatile sig_atomic_t stop_requested = 0;

typedef struct UnitSuffix {
        const char *suffix;
        const char *unit;
} UnitSuffix;

/* Longest suffixes first so that "_m_s" wins over "_s". */
static const UnitSuffix unit_suffixes[] = {
        { "_per_min", "/min" }, { "_m_s", "m/s" }, { "_spm", "spm" }, { "_ms", "ms" }, { "_pct", "%" },
        { "_percent", "%" },    { "_kg", "kg" },   { "_min", "min" }, { "_n", "N" },   { "_s", "s" },
        { "_m", "m" },          { "_bw", "×BW" },  { "_hz", "Hz" },   { "_dbm", "dBm" },
};

static void print_field_name(const char *key, const char **ret_unit) {
        size_t klen = strlen(key);

        *ret_unit = NULL;
        for (size_t i = 0; i < ELEMENTSOF(unit_suffixes); i++) {
                size_t slen = strlen(unit_suffixes[i].suffix);
                if (klen > slen && streq(key + klen - slen, unit_suffixes[i].suffix)) {
                        *ret_unit = unit_suffixes[i].unit;
                        klen -= slen;
                        break;
                }
        }
        for (size_t i = 0; i < klen; i++)
                putchar(key[i] == '_' ? ' ' : key[i]);
}

static void print_scalar(const JsonValue *v) {
        const char *s;
        double d;
        bool b;

        switch (json_value_type(v)) {
        case JSON_TYPE_STRING:
                if (json_value_get_string(v, &s, NULL) >= 0)
                        printf("%.60s", s);
                break;
        case JSON_TYPE_NUMBER:
                if (json_value_get_double(v, &d) >= 0)
                        printf("%.4g", d);
                break;
        case JSON_TYPE_BOOL:
                if (json_value_get_bool(v, &b) >= 0)
                        printf("%s", b ? "yes" : "no");
                break;
        case JSON_TYPE_NULL:
                printf("–");
                break;
        default:
                printf("…");
        }
}

/* Prints the scalars of an object, and one level of nested objects as "name: a · b". */
static void print_object(const JsonValue *obj, int depth) {
        bool first = true;

        for (size_t i = 0; i < json_value_count(obj); i++) {
                const char *key, *unit;
                const JsonValue *v = json_value_member_at(obj, i, &key);
                JsonType t = json_value_type(v);

                if (streq(key, "seq") || streq(key, "ts") || streq(key, "timestamp"))
                        continue;
                if (t == JSON_TYPE_ARRAY)
                        continue;
                if (t == JSON_TYPE_OBJECT) {
                        if (depth > 0)
                                continue;
                        printf("%s[%s: ", first ? "" : " · ", key);
                        print_object(v, depth + 1);
                        printf("]");
                        first = false;
                        continue;
                }
                if (!first)
                        printf(" · ");
                first = false;
                print_field_name(key, &unit);
                putchar(' ');
                print_scalar(v);
                if (unit)
                        printf(" %s", unit);
        }
}


/* ---- curated lines for the topics a person watches ---- */

static const JsonValue *path(const JsonValue *v, const char *a, const char *b, const char *c) {
        v = json_value_member(v, a);
        if (b)
                v = json_value_member(v, b);
        if (c)
                v = json_value_member(v, c);
        return v;
}

static bool num(const JsonValue *v, double *ret) {
        return json_value_get_double(v, ret) >= 0;
}

static const char *str(const JsonValue *v) {
        const char *s;
        return json_value_get_string(v, &s, NULL) >= 0 ? s : NULL;
}

/* Latest step count per wearer, shown on the gait line instead of a line per step. */
#define MAX_WEARERS 16
static struct {
        char name[33];
        double today;
        bool known;
} steps_seen[MAX_WEARERS];

static double *steps_slot(const char *wearer) {
        for (size_t i = 0; i < MAX_WEARERS; i++) {
                if (steps_seen[i].known && streq(steps_seen[i].name, wearer))
                        return &steps_seen[i].today;
                if (!steps_seen[i].known) {
                        (void) snprintf(steps_seen[i].name, sizeof(steps_seen[i].name), "%s", wearer);
                        steps_seen[i].known = true;
                        steps_seen[i].today = -1;
                        return &steps_seen[i].today;
                }
        }
        return NULL;
}

static void print_gait(const char *wearer, const JsonValue *g) {
        const JsonValue *win = path(g, "last_60s", NULL, NULL);
        const char *state = str(path(g, "activity", "state", NULL));
        double v, l, r, *steps = steps_slot(wearer);

        printf("%-8s %-9s", wearer, state ? state : "?");
        if (num(path(g, "activity", "for_s", NULL), &v))
                printf(" %4.0f s", v);
        if (steps && *steps >= 0)
                printf(" · %.0f steps today", *steps);
        if (state && streq(state, "standing")) {
                const JsonValue *b = path(g, "balance", NULL, NULL);
                if (num(path(b, "left_share_pct", NULL, NULL), &v))
                        printf(" · weight on left %.0f%%", v);
                if (num(path(b, "sway_path_pct_per_s", NULL, NULL), &v))
                        printf(" · sway %.1f%% of foot length/s", v);
                if (num(path(b, "toe_grips_per_min", NULL, NULL), &v))
                        printf(" · toe grips %.1f/min", v);
        }
        /* Gait figures only while moving: the windows still hold the last walk otherwise. */
        if (!state || (!streq(state, "walking") && !streq(state, "running"))) {
                putchar('\n');
                return;
        }
        if (num(path(win, "cadence_spm", NULL, NULL), &v))
                printf(" · %.0f steps/min", v);
        if (num(path(win, "stride_time_ms", NULL, NULL), &v))
                printf(" · stride %.2f s", v / 1000);
        if (num(path(win, "left", "stance_pct", NULL), &l) && num(path(win, "right", "stance_pct", NULL), &r))
                printf(" · stance L %.0f%% R %.0f%%", l, r);
        if (num(path(win, "double_support_pct", NULL, NULL), &v))
                printf(" · double support %.0f%%", v);
        if (num(path(win, "symmetry", "step_time_si_pct", NULL), &v))
                printf(" · step asymmetry %.1f%%", v);
        {
                const char *sl = str(path(win, "left", "strike", NULL)), *sr = str(path(win, "right", "strike", NULL));
                if (sl || sr)
                        printf(" · landing %s/%s", sl ? sl : "?", sr ? sr : "?");
        }
        if (num(path(win, "left", "cop_start_x_pct", NULL), &l) && num(path(win, "left", "cop_end_x_pct", NULL), &r))
                printf(" · roll %.0f→%.0f%%", l, r);
        if (num(path(win, "left", "ml_index", NULL), &l) && num(path(win, "right", "ml_index", NULL), &r))
                printf(" · medial-lateral L %+.2f R %+.2f", l, r);
        putchar('\n');
}

static void print_event(const char *wearer, const char *kind, const JsonValue *e) {
        const char *event = str(path(e, "event", NULL, NULL));
        double v;

        printf("%-8s ", wearer);
        if (streq(kind, "activity")) {
                const char *state = str(path(e, "activity", NULL, NULL)), *prev = str(path(e, "previous", NULL, NULL));
                printf("now %s", state ? state : "?");
                if (prev && num(path(e, "previous_duration_ms", NULL, NULL), &v))
                        printf(" (was %s for %.0f s)", prev, v / 1000);
        } else if (streq(kind, "exercise")) {
                const char *ex = str(path(e, "exercise", NULL, NULL));
                printf("exercise: %s", ex ? ex : "?");
                if (num(path(e, "repetitions", NULL, NULL), &v))
                        printf(" × %.0f", v);
                if (num(path(e, "duration_s", NULL, NULL), &v))
                        printf(" (%.0f s)", v);
        } else if (event && streq(event, "reminder")) {
                const char *why = str(path(e, "reason", NULL, NULL));
                printf(">>> time to move: %s", why ? why : "still");
                if (num(path(e, "still_s", NULL, NULL), &v))
                        printf(" for %.0f min", v / 60);
                if (num(path(e, "repeat", NULL, NULL), &v) && v > 1)
                        printf(" (reminder %.0f)", v);
        } else if (event && streq(event, "cleared")) {
                const char *by = str(path(e, "cleared_by", NULL, NULL));
                printf("reminder cleared by %s", by ? by : "moving");
                if (num(path(e, "response_s", NULL, NULL), &v))
                        printf(" after %.0f s", v);
        } else if (event) {
                printf("reminder %s", event);
        } else {
                print_object(e, 0);
        }
        putchar('\n');
}

static void on_message(struct mosquitto *mosq, void *userdata, const struct mosquitto_message *msg) {
        _cleanup_(json_document_freep) JsonDocument *doc = NULL;
        size_t blen = strlen(arg_base);
        const char *rest;
        char clock[16];
        time_t now = time(NULL);
        struct tm tm;

        if (strncmp(msg->topic, arg_base, blen) != 0 || msg->topic[blen] != '/')
                return;
        rest = msg->topic + blen + 1;

        if (!arg_all && !strstr(rest, "/gait") && !strstr(rest, "/activity") && !strstr(rest, "/steps") &&
            !streq(rest + strlen(rest) - MIN(strlen(rest), strlen("/reminder")), "/reminder") &&
            !strstr(rest, "/daily") && !strstr(rest, "/exercise"))
                return;

        if (json_parse(msg->payload, (size_t) msg->payloadlen, NULL, &doc, NULL) < 0 ||
            json_value_type(json_document_root(doc)) != JSON_TYPE_OBJECT) {
                if (arg_all)
                        printf("%-28s %.*s\n", rest, MIN(msg->payloadlen, 120), (const char *) msg->payload);
                return;
        }
        (void) localtime_r(&now, &tm);
        (void) strftime(clock, sizeof(clock), "%H:%M:%S", &tm);

        if (!arg_all) {
                char wearer[33];
                const char *slash = strchr(rest, '/');
                size_t wl = slash ? (size_t) (slash - rest) : 0;
                const JsonValue *root = json_document_root(doc);

                if (!slash || wl == 0 || wl >= sizeof(wearer) || strncmp(rest, "bridge/", 7) == 0)
                        return;
                memcpy(wearer, rest, wl);
                wearer[wl] = 0;
                slash++;
                if (streq(slash, "steps")) {
                        double *slot = steps_slot(wearer), v;
                        if (slot && num(path(root, "steps_today", NULL, NULL), &v))
                                *slot = v;
                        return;
                }
                printf("%s ", clock);
                if (streq(slash, "gait"))
                        print_gait(wearer, root);
                else if (streq(slash, "activity") || streq(slash, "reminder") || streq(slash, "exercise"))
                        print_event(wearer, slash, root);
                else {
                        printf("%-8s %s: ", wearer, slash);
                        print_object(root, 0);
                        putchar('\n');
                }
                fflush(stdout);
                return;
        }

        printf("%s %-28s ", clock, rest);
        print_object(json_document_root(doc), 0);
        putchar('\n');
        fflush(stdout);
}

static void on_connect(struct mosquitto *mosq, void *userdata, int rc) {
        char sub[256];

        if (rc != 0) {
                fprintf(stderr, "insole2mqtt-view: broker refused the connection: %s\n", mosquitto_connack_string(rc));
                return;
        }
        (void) snprintf(sub, sizeof(sub), "%s/#", arg_base);
        (void) mosquitto_subscribe(mosq, NULL, sub, 1);
}

static void on_signal(int sig) {
        stop_requested = 1;
}

static int parse_argv(int argc, char **argv) {
        static const struct option options[] = {
                { "host", required_argument, NULL, 'H' },
                { "port", required_argument, NULL, 'p' },
                { "base", required_argument, NULL, 'b' },
                { "all", no_argument, NULL, 'a' },
                { "help", no_argument, NULL, 'h' },
                {}
        };
        int c;

        while ((c = getopt_long(argc, argv, "H:p:b:ah", options, NULL)) >= 0)
                switch (c) {
                case 'H': arg_host = optarg; break;
                case 'p': {
                        char *end;
                        errno = 0;
                        long v = strtol(optarg, &end, 10);
                        arg_port = (errno != 0 || *end || end == optarg) ? -1 : (int) CLAMP(v, -1L, 65536L);
                        break;
                }
                case 'b': arg_base = optarg; break;
                case 'a': arg_all = true; break;
                case 'h':
                        printf("Usage: insole2mqtt-view [--host H] [--port P] [--base TOPIC] [--all]\n");
                        return 0;
                default: return -EINVAL;
                }
        if (arg_port <= 0 || arg_port > 65535) {
                fprintf(stderr, "insole2mqtt-view: --port: expected 1..65535\n");
                return -EINVAL;
        }
        return 1;
}

int main(int argc, char **argv) {
        struct mosquitto *mosq;
        int r;

        r = parse_argv(argc, argv);
        if (r <= 0)
                return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;

        (void) signal(SIGINT, on_signal);
        (void) signal(SIGTERM, on_signal);
        mosquitto_lib_init();
        mosq = mosquitto_new(NULL, true, NULL);
        if (!mosq) {
                fprintf(stderr, "insole2mqtt-view: out of memory\n");
                return EXIT_FAILURE;
        }
        mosquitto_connect_callback_set(mosq, on_connect);
        mosquitto_message_callback_set(mosq, on_message);
        r = mosquitto_connect(mosq, arg_host, arg_port, 30);
        if (r != MOSQ_ERR_SUCCESS) {
                fprintf(stderr, "insole2mqtt-view: cannot connect to %s:%d: %s\n", arg_host, arg_port,
                        mosquitto_strerror(r));
                mosquitto_destroy(mosq);
                return EXIT_FAILURE;
        }
        while (!stop_requested) {
                r = mosquitto_loop(mosq, 500, 1);
                if (r != MOSQ_ERR_SUCCESS && !stop_requested) {
                        (void) mosquitto_reconnect(mosq);
                        struct timespec ts = { .tv_sec = 1 };
                        (void) nanosleep(&ts, NULL);
                }
        }
        mosquitto_destroy(mosq);
        mosquitto_lib_cleanup();
        return EXIT_SUCCESS;
}
