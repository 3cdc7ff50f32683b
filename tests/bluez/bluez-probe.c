/* SPDX-License-Identifier: MIT */
/* bluez-probe: runs the BluezClient alone against the system bus (or $DBUS_SYSTEM_BUS_ADDRESS) for
 * a while and prints what it saw, one line per configured device. Used against the simulator and on
 * the real-BlueZ test VM (tests/vm). Exit status 0 when every device streamed without sequence gaps.
 *
 *   bluez-probe [--seconds N] [--silence-ms N] [--adapter MAC] WEARER LEFT-MAC [RIGHT-MAC] ...
 */

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "bluez-parse.h"
#include "bluez.h"
#include "decoder-records.h"
#include "log.h"

typedef struct ProbeDevice {
        struct Probe *probe;
        size_t wearer;
        DeviceRole role;
        BluezDevice *link;
        DecoderState decoder;
        DecoderStats stats;
        bool have_steps;
        uint32_t first_steps, last_steps; /* of the device's own counter */
        uint64_t frames;
        uint64_t first_stream_usec;
} ProbeDevice;

typedef struct Probe {
        Config config;
        BluezClient *client;
        ProbeDevice devices[CONFIG_MAX_WEARERS][_DEVICE_ROLE_MAX];
        uint64_t start_usec;
} Probe;

static uint64_t mono(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * USEC_PER_SEC + (uint64_t) ts.tv_nsec / 1000;
}

static void on_value(void *userdata, void *device_userdata, const DecoderCharacteristic *c, const uint8_t *data,
                     size_t len, uint64_t rx) {
        ProbeDevice *d = device_userdata;
        DecodedRecord rec;
        int r;

        r = decoder_decode(c, &d->decoder, data, len, &rec);
        decoder_stats_account(&d->stats, r, r >= 0 ? &rec : NULL);
        if (r < 0)
                return;
        if (c->role == DECODER_ROLE_STREAM)
                d->frames++;
        if (rec.kind == RECORD_OIP_STEP_COUNTER || rec.kind == RECORD_UKATON_STEPS) {
                uint32_t steps = rec.kind == RECORD_OIP_STEP_COUNTER ? rec.oip_steps.steps : rec.ukaton_steps.steps;
                if (!d->have_steps)
                        d->first_steps = steps;
                d->have_steps = true;
                d->last_steps = steps;
        }
}

static void on_link_state(void *userdata, void *device_userdata, BluezLinkState s) {
        Probe *p = userdata;
        ProbeDevice *d = device_userdata;

        if (s == BLUEZ_LINK_RESOLVING)
                decoder_state_link_reset(&d->decoder);
        if (s == BLUEZ_LINK_STREAMING && d->first_stream_usec == 0)
                d->first_stream_usec = mono();
        printf("%.3f %s/%s %s\n", (double) (mono() - p->start_usec) / 1e6, p->config.wearers[d->wearer].name,
               d->role == DEVICE_ROLE_LEFT ? "left" : d->role == DEVICE_ROLE_RIGHT ? "right" : "footpod",
               bluez_link_state_to_string(s));
        fflush(stdout);
}

static int on_timeout(sd_event_source *s, uint64_t usec, void *userdata) {
        return sd_event_exit(sd_event_source_get_event(s), 0);
}

int main(int argc, char **argv) {
        static const struct option options[] = {
                { "seconds", required_argument, NULL, 's' },
                { "silence-ms", required_argument, NULL, 'S' },
                { "adapter", required_argument, NULL, 'a' },
                { "debug", no_argument, NULL, 'd' },
                {}
        };
        Probe p = {};
        sd_event *event = NULL;
        sd_bus *bus = NULL;
        unsigned seconds = 20;
        int c, r, bad = 0;

        log_setup();
        p.config.power_on_adapter = true;
        p.config.connect_timeout_usec = 20 * USEC_PER_SEC;
        p.config.backoff_initial_usec = USEC_PER_SEC;
        p.config.backoff_max_usec = 10 * USEC_PER_SEC;
        p.config.stable_link_usec = 10 * USEC_PER_SEC;
        p.config.silence_timeout_usec = 10 * USEC_PER_SEC;
        p.config.adapter_reset_after = 5;
        p.config.exit_after = 3;

        while ((c = getopt_long(argc, argv, "s:S:a:d", options, NULL)) >= 0)
                switch (c) {
                case 's':
                        seconds = (unsigned) strtoul(optarg, NULL, 10);
                        break;
                case 'S':
                        p.config.silence_timeout_usec = strtoull(optarg, NULL, 10) * USEC_PER_MSEC;
                        break;
                case 'a':
                        if (bdaddr_from_string(optarg, &p.config.adapter) < 0) {
                                fprintf(stderr, "bad adapter address\n");
                                return 2;
                        }
                        p.config.has_adapter = true;
                        break;
                case 'd':
                        log_set_max_level(LOG_DEBUG);
                        break;
                default:
                        return 2;
                }

        for (int i = optind; i < argc;) {
                WearerConfig *w;

                if (p.config.n_wearers >= CONFIG_MAX_WEARERS || i + 1 >= argc) {
                        fprintf(stderr, "usage: bluez-probe [--seconds N] WEARER LEFT-MAC [RIGHT-MAC] ...\n");
                        return 2;
                }
                w = &p.config.wearers[p.config.n_wearers++];
                snprintf(w->name, sizeof(w->name), "%s", argv[i++]);
                for (DeviceRole role = DEVICE_ROLE_LEFT; role <= DEVICE_ROLE_RIGHT && i < argc; role++) {
                        if (bdaddr_from_string(argv[i], &w->device[role]) < 0)
                                break;
                        w->has_device[role] = true;
                        i++;
                }
        }

        r = sd_event_default(&event);
        if (r >= 0)
                r = sd_bus_open_system(&bus);
        if (r >= 0)
                r = sd_bus_attach_event(bus, event, 0);
        if (r < 0) {
                fprintf(stderr, "bus: %s\n", strerror(-r));
                return 1;
        }

        const BluezClientCallbacks cb = {
                .on_value = on_value,
                .on_link_state = on_link_state,
        };
        p.start_usec = mono();
        r = bluez_client_new(event, bus, &p.config, &cb, &p, &p.client);
        for (size_t w = 0; r >= 0 && w < p.config.n_wearers; w++)
                for (DeviceRole role = 0; r >= 0 && role < _DEVICE_ROLE_MAX; role++) {
                        ProbeDevice *d = &p.devices[w][role];
                        char label[CONFIG_NAME_MAX + 32];
                        BluezDeviceSetup setup = {
                                .address = p.config.wearers[w].device[role],
                                .label = label,
                                .log = { .wearer = p.config.wearers[w].name },
                        };

                        if (!p.config.wearers[w].has_device[role])
                                continue;
                        snprintf(label, sizeof(label), "%s of %s", role == DEVICE_ROLE_LEFT ? "left insole" : "right insole",
                                 p.config.wearers[w].name);
                        *d = (ProbeDevice) { .probe = &p, .wearer = w, .role = role };
                        decoder_state_reset(&d->decoder, role == DEVICE_ROLE_LEFT ? FOOT_LEFT : FOOT_RIGHT);
                        r = bluez_client_add_device(p.client, &setup, d, &d->link);
                }
        if (r >= 0)
                r = bluez_client_start(p.client);
        if (r < 0) {
                fprintf(stderr, "client: %s\n", strerror(-r));
                return 1;
        }
        (void) sd_event_add_time_relative(event, NULL, CLOCK_MONOTONIC, seconds * USEC_PER_SEC, 0, on_timeout, NULL);
        (void) sd_event_loop(event);

        for (size_t w = 0; w < p.config.n_wearers; w++)
                for (DeviceRole role = 0; role < _DEVICE_ROLE_MAX; role++) {
                        ProbeDevice *d = &p.devices[w][role];
                        BluezLinkStats st = {};
                        if (!p.config.wearers[w].has_device[role])
                                continue;
                        (void) bluez_client_get_link_stats(p.client, d->link, &st);
                        printf("RESULT %s/%s state=%s path=%s frames=%" PRIu64 " lost=%" PRIu64 " rejected=%" PRIu64
                               " connects=%" PRIu64 " failures=%" PRIu64 " steps=%" PRIu64 " first_stream_s=%.3f"
                               " last_error=\"%s\"\n",
                               p.config.wearers[w].name, role == DEVICE_ROLE_LEFT ? "left" : "right",
                               bluez_link_state_to_string(st.state), bluez_notify_path_to_string(st.notify_path),
                               st.frames_received, d->stats.lost_frames, decoder_stats_rejected(&d->stats), st.connects,
                               st.connect_failures, (uint64_t) (d->last_steps - d->first_steps),
                               d->first_stream_usec ? (double) (d->first_stream_usec - p.start_usec) / 1e6 : -1.0,
                               st.last_error);
                        if (st.frames_received == 0 || d->stats.lost_frames > 0)
                                bad = 1;
                }

        p.client = bluez_client_free(p.client);
        sd_bus_flush_close_unref(bus);
        sd_event_unref(event);
        return bad;
}
