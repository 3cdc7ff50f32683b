/* SPDX-License-Identifier: MIT */
#include <getopt.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "config.h"
#include "log.h"
#include "manager.h"
#include "wall-clock.h"

static const char *arg_config = CONFIG_DEFAULT_PATH;
static bool arg_check_config = false;

static void help(void) {
        printf("insole2mqtt %s — Bluetooth LE smart insoles to MQTT\n\n"
               "Usage:\n"
               "  insole2mqtt [--config FILE] [--log-level LEVEL]   run the gateway\n"
               "  insole2mqtt --config FILE --check-config          validate the configuration and exit\n"
               "  insole2mqtt decode CHARACTERISTIC-UUID HEX       decode one captured value as JSON\n"
               "  insole2mqtt analyze FILE...                       gait analysis of recordings, JSON lines\n\n"
               "Options:\n"
               "  -c, --config FILE      configuration file (default %s)\n"
               "      --check-config     validate FILE, print a summary, touch neither Bluetooth nor MQTT\n"
               "      --log-level LEVEL  debug, info, notice, warning, err (default info)\n"
               "  -h, --help             this text\n"
               "      --version          print the version\n\n"
               "Secrets are never accepted on the command line: see [mqtt] password-file and\n"
               "password-credential in the configuration.\n",
               INSOLE2MQTT_VERSION, CONFIG_DEFAULT_PATH);
}

static int parse_argv(int argc, char **argv) {
        enum { ARG_CHECK_CONFIG = 0x100, ARG_LOG_LEVEL, ARG_VERSION };
        static const struct option options[] = {
                { "config", required_argument, NULL, 'c' },
                { "check-config", no_argument, NULL, ARG_CHECK_CONFIG },
                { "log-level", required_argument, NULL, ARG_LOG_LEVEL },
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, ARG_VERSION },
                {}
        };
        int c, r;

        while ((c = getopt_long(argc, argv, "c:h", options, NULL)) >= 0)
                switch (c) {
                case 'c':
                        arg_config = optarg;
                        break;
                case ARG_CHECK_CONFIG:
                        arg_check_config = true;
                        break;
                case ARG_LOG_LEVEL:
                        r = log_level_from_string(optarg);
                        if (r < 0) {
                                fprintf(stderr, "insole2mqtt: --log-level: found '%s', expected one of debug, info, notice, warning, err\n", optarg);
                                return -EINVAL;
                        }
                        log_set_max_level(r);
                        break;
                case 'h':
                        help();
                        return 0;
                case ARG_VERSION:
                        printf("insole2mqtt %s\n", INSOLE2MQTT_VERSION);
                        return 0;
                case '?':
                        return -EINVAL;
                default:
                        return -EINVAL;
                }

        if (optind < argc) {
                fprintf(stderr, "insole2mqtt: unexpected argument '%s' (see --help)\n", argv[optind]);
                return -EINVAL;
        }
        return 1;
}

static void print_summary(const Config *c) {
        printf("%s: OK\n", c->path ? c->path : arg_config);
        printf("gateway: %s\n", c->gateway_id);
        printf("broker: %s:%u (%s, MQTT %s)\n", c->host, c->port, c->tls ? "TLS" : "plain",
               c->protocol_version == 5 ? "5" : "3.1.1");
        if (c->prometheus_listen && c->prometheus_listen[0])
                printf("prometheus: %s\n", streq(c->prometheus_listen, "systemd") ? "socket from systemd"
                                                                                   : c->prometheus_listen);
        printf("wearers: %zu\n", c->n_wearers);
        for (size_t i = 0; i < c->n_wearers; i++) {
                const WearerConfig *w = &c->wearers[i];
                printf("  %s:", w->name);
                for (DeviceRole d = 0; d < _DEVICE_ROLE_MAX; d++)
                        if (w->has_device[d])
                                printf(" %s", device_role_to_string(d));
                printf("\n");
        }
}

/* --check-config answers on stderr in the loader's own form, "FILE:LINE: ...", without a level. */
static void print_problem(int level, const char *message, void *userdata) {
        if (level <= LOG_WARNING)
                fprintf(stderr, "%s\n", message);
}

static int run(int argc, char **argv) {
        _cleanup_(manager_freep) Manager *m = NULL;
        /* On the heap: the manager moves it into its own copy, and 10 KB of it would stay on the
         * stack, resident, for the life of the process (issue #15). */
        _cleanup_free_ Config *config = NULL;
        char error[CONFIG_ERROR_MAX];
        int r;

        log_setup();

        if (argc > 1 && streq(argv[1], "decode"))
                return decode_cli(argc - 1, argv + 1);
        if (argc > 1 && streq(argv[1], "analyze"))
                return analyze_cli(argc - 1, argv + 1);

        r = parse_argv(argc, argv);
        if (r <= 0)
                return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;

        /* glibc raises its mmap threshold to the largest mapped block freed, and its trim threshold
         * to twice that. After the start has parsed the history file (up to a few MB of JSON nodes),
         * the heap that the first connections grow would never shrink again: 0.2 MiB kept for nothing
         * at 28 insoles (issue #15). Fixed thresholds keep the trimming, and this heap (about 1 MB,
         * steady once the links are up) gives back what it does not use beyond 64 KB rather than
         * glibc's 128 KB pad on top of a 128 KB threshold, for a few more brk() calls while it grows. */
        (void) mallopt(M_MMAP_THRESHOLD, 128 * 1024);
        (void) mallopt(M_TRIM_THRESHOLD, 64 * 1024);
        (void) mallopt(M_TOP_PAD, 16 * 1024);

        r = wall_clock_setup();
        if (r < 0) {
                fprintf(stderr, "insole2mqtt: INSOLE2MQTT_TEST_CLOCK: expected EPOCH:SPEED (seconds since 1970, a speed-up from 1 to 100000)\n");
                return EXIT_FAILURE;
        }
        if (r > 0)
                log_warning("INSOLE2MQTT_TEST_CLOCK: the wall clock runs %g times faster than real time. For tests only.",
                            wall_clock_speed());

        config = malloc(sizeof *config);
        if (!config) {
                log_oom();
                return EXIT_FAILURE;
        }
        r = config_load(arg_config, config, error, sizeof(error));
        if (r < 0) {
                fprintf(stderr, "%s\n", error);
                return EXIT_FAILURE;
        }

        /* --check-config goes through the same constructor as a start (without touching Bluetooth
         * or the broker), so that what it accepts, a start accepts too. The constructor logs what
         * fails, naming the key at fault. */
        if (arg_check_config)
                log_set_sink(print_problem, NULL);
        r = manager_new(config, &m);
        if (r < 0) {
                config_done(config);
                return EXIT_FAILURE;
        }
        if (arg_check_config) {
                print_summary(manager_config(m));
                return EXIT_SUCCESS;
        }
        r = manager_start(m);
        if (r < 0)
                return EXIT_FAILURE;
        r = manager_run(m);
        return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}

int main(int argc, char **argv) {
        return run(argc, argv);
}
