/* SPDX-License-Identifier: MIT */
/* insole-sim: owns org.bluez on a private bus and behaves like bluetoothd 5.66 with simulated
 * insoles, footpods and ORPHE INSOLEs in range. See docs/simulator.md. */

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-daemon.h>
#include <time.h>

#include "log.h"
#include "macro.h"
#include "sim.h"
#include "time-util.h"

uint64_t sim_mono_now(void) {
        return clock_now_usec(CLOCK_MONOTONIC);
}

uint64_t sim_now(Sim *sim) {
        uint64_t elapsed = sim_mono_now() - sim->start_mono_us;
        return sim->opt.time_scale == 1.0 ? elapsed : (uint64_t) ((double) elapsed * sim->opt.time_scale);
}

static int on_tick(sd_event_source *s, uint64_t usec, void *userdata) {
        Sim *sim = userdata;
        uint64_t now = sim_now(sim);

        sim_actions_due(sim, now);
        for (size_t i = 0; i < sim->n_devices; i++)
                sim_device_tick(sim->devices[i], now);
        for (size_t i = 0; i < sim->n_wearers; i++)
                sim_wearer_advance(sim->wearers[i], now);
        (void) sd_event_source_set_time(s, MAX(usec + sim->tick_us, sim_mono_now()));
        return 0;
}

static int on_advertise(sd_event_source *s, uint64_t usec, void *userdata) {
        Sim *sim = userdata;
        sim_advertise(sim);
        (void) sd_event_source_set_time(s, usec + sim->opt.adv_interval_us);
        return 0;
}

static void sim_free(Sim *sim) {
        sim_bluez_stop(sim, false);
        for (size_t i = 0; i < sim->n_devices; i++)
                sim_device_free(sim->devices[i]);
        for (size_t i = 0; i < sim->n_wearers; i++)
                sim_wearer_free(sim->wearers[i]);
        for (size_t i = 0; i < sim->n_actions; i++)
                free(sim->actions[i].line);
        free(sim->actions);
        sd_event_source_disable_unref(sim->tick);
        sd_event_source_disable_unref(sim->adv);
        sd_event_source_disable_unref(sim->restart_timer);
        sim->control = sd_bus_flush_close_unref(sim->control);
        sd_event_unref(sim->event);
}

static void help(void) {
        printf("insole-sim [OPTIONS]\n\n"
               "Owns org.bluez on $DBUS_SYSTEM_BUS_ADDRESS and simulates bluetoothd 5.66 with insoles in range.\n\n"
               "  -s --scenario FILE         setup lines and timed actions (docs/simulator.md)\n"
               "  -c --config LINE           one scenario line, e.g. -c 'at 10s drop-link AA:BB:CC:DD:EE:01'\n"
               "  -w --wearer NAME:LEFT,RIGHT[:MODE]\n"
               "                             a wearer with two Open Insole Profile insoles (default mode walking)\n"
               "  -r --replay NAME:LEFT,RIGHT:DATASET/RECORD\n"
               "                             a wearer replaying gaitpdb/<record> or gaitndd/<record>\n"
               "     --seed N                deterministic runs (default 1)\n"
               "     --time-scale X          simulated seconds per real second (default 1)\n"
               "     --rate HZ               insole sample rate (default 100)\n"
               "     --samples-per-frame N   samples per notification (default 4)\n"
               "     --mtu N                 ATT MTU reported by AcquireNotify (default 247)\n"
               "     --resolve-delay DUR     Connected -> ServicesResolved (default 150ms)\n"
               "     --connect-delay DUR     Connect -> Connected (default 100ms)\n"
               "     --load N:HZ             load mode: N insoles at HZ, send time in t0_us\n"
               "     --datasets DIR          default $INSOLE2MQTT_DATA or data/physionet\n"
               "     --require-start         stream only after a control-point START\n"
               "     --legacy-control        refuse START at rate 0 (the insole's own rate), as older insoles\n"
               "     --allow-system-bus      run without DBUS_SYSTEM_BUS_ADDRESS (dangerous)\n"
               "     --log-level LEVEL\n"
               "  -h --help\n");
}

/* "NAME:AA:BB:CC:DD:EE:01,AA:BB:CC:DD:EE:02[:TAIL]" */
static int wearer_shorthand(Sim *sim, const char *arg, bool replay) {
        char name[64], left[18], right[18], line[1024], err[256] = "";
        const char *colon = strchr(arg, ':');
        if (!colon || (size_t) (colon - arg) >= sizeof(name))
                goto bad;
        memcpy(name, arg, (size_t) (colon - arg));
        name[colon - arg] = 0;
        const char *p = colon + 1;
        if (strlen(p) < 35 || p[17] != ',')
                goto bad;
        memcpy(left, p, 17);
        left[17] = 0;
        memcpy(right, p + 18, 17);
        right[17] = 0;
        const char *tail = p + 35;
        if (*tail == ':')
                tail++;
        else if (*tail)
                goto bad;
        if (replay && !*tail)
                goto bad;
        if (replay)
                snprintf(line, sizeof(line), "wearer %s left=%s right=%s replay=%s", name, left, right, tail);
        else
                snprintf(line, sizeof(line), "wearer %s left=%s right=%s %s", name, left, right, *tail ? tail : "walking");
        if (sim_config_line(sim, line, err, sizeof(err)) < 0) {
                log_error("--%s %s: %s", replay ? "replay" : "wearer", arg, err);
                return -EINVAL;
        }
        return 0;
bad:
        log_error("Expected NAME:LEFT,RIGHT%s, got '%s'.", replay ? ":DATASET/RECORD" : "[:MODE]", arg);
        return -EINVAL;
}

static int config(Sim *sim, const char *setting, const char *value) {
        char line[1024], err[256] = "";
        snprintf(line, sizeof(line), "%s%s", setting, value);
        if (sim_config_line(sim, line, err, sizeof(err)) < 0) {
                log_error("%s: %s", line, err);
                return -EINVAL;
        }
        return 0;
}

static int parse_argv(Sim *sim, int argc, char *argv[]) {
        enum {
                ARG_SEED = 0x100,
                ARG_TIME_SCALE,
                ARG_RATE,
                ARG_SPF,
                ARG_MTU,
                ARG_RESOLVE_DELAY,
                ARG_CONNECT_DELAY,
                ARG_LOAD,
                ARG_DATASETS,
                ARG_REQUIRE_START,
                ARG_LEGACY_CONTROL,
                ARG_ALLOW_SYSTEM_BUS,
                ARG_LOG_LEVEL,
        };
        static const struct option options[] = {
                { "scenario", required_argument, NULL, 's' },
                { "config", required_argument, NULL, 'c' },
                { "wearer", required_argument, NULL, 'w' },
                { "replay", required_argument, NULL, 'r' },
                { "seed", required_argument, NULL, ARG_SEED },
                { "time-scale", required_argument, NULL, ARG_TIME_SCALE },
                { "rate", required_argument, NULL, ARG_RATE },
                { "samples-per-frame", required_argument, NULL, ARG_SPF },
                { "mtu", required_argument, NULL, ARG_MTU },
                { "resolve-delay", required_argument, NULL, ARG_RESOLVE_DELAY },
                { "connect-delay", required_argument, NULL, ARG_CONNECT_DELAY },
                { "load", required_argument, NULL, ARG_LOAD },
                { "datasets", required_argument, NULL, ARG_DATASETS },
                { "require-start", no_argument, NULL, ARG_REQUIRE_START },
                { "legacy-control", no_argument, NULL, ARG_LEGACY_CONTROL },
                { "allow-system-bus", no_argument, NULL, ARG_ALLOW_SYSTEM_BUS },
                { "log-level", required_argument, NULL, ARG_LOG_LEVEL },
                { "help", no_argument, NULL, 'h' },
                {},
        };
        char load[128] = "";
        int c, r;
        /* Settings first (seed, datasets) so that wearers created later see them, then wearers and
         * scenario files, then the settings again so that the command line wins over a file. */
        for (int pass = 0; pass < 3; pass++) {
                optind = 0;
                while ((c = getopt_long(argc, argv, "s:c:w:r:h", options, NULL)) >= 0) {
                        bool setting = c >= ARG_SEED;
                        if (c == 'h') {
                                help();
                                return 0;
                        }
                        if (c == '?')
                                return -EINVAL;
                        if ((pass == 1) == setting || (pass == 2 && c == ARG_LOAD))
                                continue;
                        switch (c) {
                        case 's':
                                r = sim_scenario_load(sim, optarg);
                                break;
                        case 'c':
                                r = config(sim, "", optarg);
                                break;
                        case 'w':
                                r = wearer_shorthand(sim, optarg, false);
                                break;
                        case 'r':
                                r = wearer_shorthand(sim, optarg, true);
                                break;
                        case ARG_SEED:
                                r = config(sim, "seed ", optarg);
                                break;
                        case ARG_TIME_SCALE:
                                r = config(sim, "time-scale ", optarg);
                                break;
                        case ARG_RATE:
                                r = config(sim, "rate ", optarg);
                                break;
                        case ARG_SPF:
                                r = config(sim, "samples-per-frame ", optarg);
                                break;
                        case ARG_MTU:
                                r = config(sim, "mtu ", optarg);
                                break;
                        case ARG_RESOLVE_DELAY:
                                r = config(sim, "resolve-delay ", optarg);
                                break;
                        case ARG_CONNECT_DELAY:
                                r = config(sim, "connect-delay ", optarg);
                                break;
                        case ARG_LOAD: {
                                char line[128];
                                snprintf(line, sizeof(line), "%s", optarg);
                                char *colon = strchr(line, ':');
                                if (!colon) {
                                        log_error("--load N:HZ");
                                        return -EINVAL;
                                }
                                *colon = ' ';
                                r = 0;
                                sim->opt.load_mode = true;
                                /* the insoles are created after the settings pass, like wearers */
                                snprintf(load, sizeof(load), "%s", line);
                                break;
                        }
                        case ARG_DATASETS:
                                r = config(sim, "datasets ", optarg);
                                break;
                        case ARG_REQUIRE_START:
                                r = config(sim, "require-start", "");
                                break;
                        case ARG_LEGACY_CONTROL:
                                r = config(sim, "legacy-control", "");
                                break;
                        case ARG_ALLOW_SYSTEM_BUS:
                                sim->opt.allow_system_bus = true;
                                r = 0;
                                break;
                        case ARG_LOG_LEVEL:
                                r = log_level_from_string(optarg);
                                if (r >= 0) {
                                        log_set_max_level(r);
                                        r = 0;
                                }
                                break;
                        default:
                                r = -EINVAL;
                        }
                        if (r < 0)
                                return r;
                }
                if (pass == 0 && load[0]) {
                        r = config(sim, "load ", load);
                        if (r < 0)
                                return r;
                }
        }
        return 1;
}

int main(int argc, char *argv[]) {
        Sim sim = {
                .opt = {
                        .seed = 1,
                        .time_scale = 1.0,
                        .rate_hz = 100,
                        .samples_per_frame = 4,
                        .mtu = 247,
                        .connect_delay_us = 100 * USEC_PER_MSEC,
                        .resolve_delay_us = 150 * USEC_PER_MSEC,
                        .adv_interval_us = 100 * USEC_PER_MSEC,
                        .temporary_timeout_us = 30 * USEC_PER_SEC,
                        .connect_timeout_us = 2 * USEC_PER_SEC,
                },
                .adapter_present = true,
                .powered = true,
        };
        int r;

        log_setup();
        snprintf(sim.adapter_alias, sizeof(sim.adapter_alias), "raspberrypi");
        r = parse_argv(&sim, argc, argv);
        if (r <= 0)
                goto finish;
        if (sim.opt.load_mode && sim.opt.time_scale != 1.0) {
                log_error("Load mode embeds CLOCK_MONOTONIC send times: --time-scale must be 1.");
                r = -EINVAL;
                goto finish;
        }
        if (!getenv("DBUS_SYSTEM_BUS_ADDRESS") && !sim.opt.allow_system_bus) {
                log_error("DBUS_SYSTEM_BUS_ADDRESS is not set: refusing to claim org.bluez on the real system bus.");
                r = -EPERM;
                goto finish;
        }
        if (sim.n_devices == 0) {
                /* two insole pairs in range, as on the demo Raspberry Pi */
                static const char *const defaults[] = {
                        "wearer anna left=AA:BB:CC:DD:EE:01 right=AA:BB:CC:DD:EE:02 mode=walking cadence=108",
                        "wearer ben left=AA:BB:CC:DD:EE:03 right=AA:BB:CC:DD:EE:04 mode=standing",
                };
                char err[256];
                for (size_t i = 0; i < ELEMENTSOF(defaults); i++)
                        if ((r = sim_config_line(&sim, defaults[i], err, sizeof(err))) < 0) {
                                log_error("%s", err);
                                goto finish;
                        }
        }

        r = sd_event_default(&sim.event);
        if (r < 0)
                goto finish;
        sigset_t mask;
        sigemptyset(&mask);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        sigprocmask(SIG_BLOCK, &mask, NULL);
        (void) sd_event_add_signal(sim.event, NULL, SIGTERM, NULL, NULL);
        (void) sd_event_add_signal(sim.event, NULL, SIGINT, NULL, NULL);

        sim.start_mono_us = sim_mono_now();
        uint64_t frame_us = USEC_PER_SEC / MAX(sim.opt.rate_hz, 1u);
        if (!sim.opt.load_mode)
                frame_us *= sim.opt.samples_per_frame;
        sim.tick_us = CLAMP((uint64_t) ((double) frame_us / sim.opt.time_scale / 2), (uint64_t) 1000, (uint64_t) 10000);

        r = sim_control_start(&sim);
        if (r < 0)
                goto finish;
        r = sim_bluez_start(&sim);
        if (r < 0)
                goto finish;
        r = sd_event_add_time_relative(sim.event, &sim.tick, CLOCK_MONOTONIC, 0, 1, on_tick, &sim);
        if (r < 0)
                goto finish;
        (void) sd_event_source_set_enabled(sim.tick, SD_EVENT_ON);
        r = sd_event_add_time_relative(sim.event, &sim.adv, CLOCK_MONOTONIC, 0, 1, on_advertise, &sim);
        if (r < 0)
                goto finish;
        (void) sd_event_source_set_enabled(sim.adv, SD_EVENT_ON);

        log_info("insole-sim: %zu devices, %zu wearers, seed %llu, time scale %g.", sim.n_devices, sim.n_wearers,
                 (unsigned long long) sim.opt.seed, sim.opt.time_scale);
        printf("READY\n");
        fflush(stdout);
        (void) sd_notify(0, "READY=1");
        r = sd_event_loop(sim.event);

finish:
        if (r < 0)
                log_error_errno(r, "insole-sim failed: %m");
        sim_free(&sim);
        return r < 0 ? 1 : r;
}
