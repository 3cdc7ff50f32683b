/* SPDX-License-Identifier: MIT */
/* Integration tests of the BlueZ client: a private dbus-daemon (tests/bluez/bus.conf), the
 * simulator (tests/sim, owning org.bluez on it) and the real BluezClient driven by an sd-event loop
 * in this process. Each test starts its own bus and simulator. Faults are injected through the
 * simulator's control interface; reconnect times are measured here and printed as TAP comments. */

#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/wait.h>
#include <time.h>

#include <cmocka.h>

#include "bluez.h"
#include "decoder-records.h"
#include "log.h"
#include "remote-steps.h"

#define MAX_DEVICES 4
#define SIM_CONTROL_NAME "net.insole2mqtt.Sim"
#define SIM_CONTROL_PATH "/net/insole2mqtt/Sim"
#define SIM_CONTROL_IFACE "net.insole2mqtt.Sim1"

typedef struct DeviceObs {
        uint64_t frames;
        uint64_t samples;
        uint64_t seq_gaps;            /* gaps we saw ourselves inside one streaming period */
        bool have_seq;
        uint16_t last_seq;
        uint64_t layouts;
        BluezLinkState state;
        uint64_t streaming_count;     /* transitions into streaming */
        uint64_t streaming_at;        /* CLOCK_MONOTONIC of the last transition into streaming */
        uint64_t down_at;             /* ... of the last transition out of streaming */
        uint64_t steps_delta_total;
        uint64_t step_readings;
        bool have_first_steps;
        uint32_t first_steps, last_steps, first_boot, last_boot;
        DeviceStepState step_state;
        /* what core does with the bytes, done here: decode, count, reconcile the step counter */
        struct Harness *harness;
        BluezDevice *link;
        DecoderState decoder;
        DecoderStats decoder_stats;
        uint64_t frames_rejected;     /* stream values the decoder refused */
} DeviceObs;

typedef struct Harness Harness;
struct Harness {
        pid_t dbus_pid;
        pid_t sim_pid;
        char scenario_path[64]; /* the simulator's scenario file, removed with the harness */
        char address[512];
        sd_event *event;
        sd_bus *bus;  /* the client's connection */
        sd_bus *ctl;  /* the harness's own connection (control interface, other BlueZ clients) */
        Config config;
        BluezClient *client;
        DeviceObs obs[CONFIG_MAX_WEARERS][_DEVICE_ROLE_MAX];
        unsigned n_discovered;
        BluezDiscovery discovered[8];
        int fatal;
        unsigned service_up, service_down;
        /* log capture: lines at info or above */
        char **lines;
        size_t n_lines;
};

/* The harness of the running test, freed by the teardown even when an assertion fails (cmocka
 * leaves the test through longjmp). */
static Harness *current;

static uint64_t mono_usec(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * USEC_PER_SEC + (uint64_t) ts.tv_nsec / 1000;
}

/* ---- child processes ------------------------------------------------------------------------ */

static const char *source_root(void) {
        const char *s = getenv("INSOLE2MQTT_SOURCE_ROOT");
        return s ?: ".";
}

static const char *build_root(void) {
        const char *s = getenv("INSOLE2MQTT_BUILD_ROOT");
        return s ?: ".";
}

static pid_t start_dbus(char *address, size_t size) {
        char conf[1024], line[512];
        int pipefd[2];
        pid_t pid;
        ssize_t n;
        size_t got = 0;

        snprintf(conf, sizeof(conf), "--config-file=%s/tests/bluez/bus.conf", source_root());
        assert_int_equal(pipe2(pipefd, O_CLOEXEC), 0);
        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                int null = open("/dev/null", O_RDWR | O_CLOEXEC);
                /* Quiet, and not holding the test's stdout open should we leak it. */
                if (null >= 0) {
                        (void) dup2(null, STDOUT_FILENO);
                        (void) dup2(null, STDERR_FILENO);
                }
                (void) dup2(pipefd[1], 3); /* dup2 clears O_CLOEXEC on the copy */
                execlp("dbus-daemon", "dbus-daemon", conf, "--nofork", "--print-address=3", (char *) NULL);
                _exit(127);
        }
        close(pipefd[1]);
        while (got < sizeof(line) - 1 && (n = read(pipefd[0], line + got, sizeof(line) - 1 - got)) > 0) {
                got += (size_t) n;
                if (memchr(line, '\n', got))
                        break;
        }
        close(pipefd[0]);
        line[got] = 0;
        char *nl = strchr(line, '\n');
        assert_non_null(nl);
        *nl = 0;
        snprintf(address, size, "%s", line);
        return pid;
}

static void stop_child(pid_t *pid) {
        if (*pid <= 0)
                return;
        (void) kill(*pid, SIGTERM);
        for (unsigned i = 0; i < 200; i++) {
                if (waitpid(*pid, NULL, WNOHANG) == *pid) {
                        *pid = 0;
                        return;
                }
                usleep(10000);
        }
        (void) kill(*pid, SIGKILL);
        (void) waitpid(*pid, NULL, 0);
        *pid = 0;
}

/* argv for the simulator; the scenario file is written by the test. */
static pid_t start_sim(Harness *h, const char *scenario_text, const char *const *extra_args) {
        char sim[1024], *scenario = h->scenario_path;
        const char *argv[32];
        size_t n = 0;
        pid_t pid;
        int fd;

        snprintf(sim, sizeof(sim), "%s/tests/sim/insole-sim", build_root());
        assert_true(scenario[0] == '\0'); /* one simulator per harness */
        snprintf(h->scenario_path, sizeof(h->scenario_path), "/tmp/i2m-bluez-scenario-XXXXXX");
        fd = mkstemp(scenario);
        assert_true(fd >= 0);
        assert_int_equal(write(fd, scenario_text, strlen(scenario_text)), (ssize_t) strlen(scenario_text));
        close(fd);

        argv[n++] = sim;
        argv[n++] = "--scenario";
        argv[n++] = scenario;
        for (size_t i = 0; extra_args && extra_args[i] && n < ELEMENTSOF(argv) - 1; i++)
                argv[n++] = extra_args[i];
        argv[n] = NULL;

        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                setenv("DBUS_SYSTEM_BUS_ADDRESS", h->address, 1);
                int null = open("/dev/null", O_WRONLY | O_CLOEXEC);
                if (null >= 0) {
                        (void) dup2(null, STDOUT_FILENO);
                        if (!getenv("BLUEZ_TEST_VERBOSE"))
                                (void) dup2(null, STDERR_FILENO);
                }
                execv(sim, (char *const *) argv);
                _exit(127);
        }
        return pid;
}

/* ---- the client's side ---------------------------------------------------------------------- */

static void on_value(void *userdata, void *device_userdata, const DecoderCharacteristic *c, const uint8_t *data,
                     size_t len, uint64_t rx_usec) {
        DeviceObs *o = device_userdata;
        DecodedRecord rec;
        int r;

        r = decoder_decode(c, &o->decoder, data, len, &rec);
        decoder_stats_account(&o->decoder_stats, r, r >= 0 ? &rec : NULL);
        if (r < 0) {
                if (c->role == DECODER_ROLE_STREAM)
                        o->frames_rejected++;
                return;
        }
        switch (rec.kind) {
        case RECORD_OIP_PRESSURE_FRAME:
                o->frames++;
                o->samples += rec.oip_frame.n_samples;
                if (o->have_seq && (uint16_t) (o->last_seq + 1) != rec.oip_frame.seq)
                        o->seq_gaps++;
                o->have_seq = true;
                o->last_seq = rec.oip_frame.seq;
                break;
        case RECORD_OIP_SENSOR_LAYOUT:
                o->layouts++;
                break;
        case RECORD_OIP_STEP_COUNTER:
                o->step_readings++;
                if (!o->have_first_steps) {
                        o->have_first_steps = true;
                        o->first_steps = rec.oip_steps.steps;
                        o->first_boot = rec.oip_steps.boot_id;
                }
                o->last_steps = rec.oip_steps.steps;
                o->last_boot = rec.oip_steps.boot_id;
                o->steps_delta_total += device_steps_reconcile(&o->step_state, rec.oip_steps.steps, rec.oip_steps.boot_id);
                break;
        default:
                break;
        }
}

static void on_link_state(void *userdata, void *device_userdata, BluezLinkState state) {
        DeviceObs *o = device_userdata;

        if (state == BLUEZ_LINK_RESOLVING)
                decoder_state_link_reset(&o->decoder);
        if (state == BLUEZ_LINK_STREAMING) {
                o->streaming_count++;
                o->streaming_at = mono_usec();
                o->have_seq = false; /* a new link: the device may have sent frames we could not hear */
        } else if (o->state == BLUEZ_LINK_STREAMING)
                o->down_at = mono_usec();
        o->state = state;
}

static void on_discovered(void *userdata, const BluezDiscovery *d) {
        Harness *h = userdata;

        if (h->n_discovered < ELEMENTSOF(h->discovered))
                h->discovered[h->n_discovered] = *d;
        h->n_discovered++;
}

static void on_service(void *userdata, bool available) {
        Harness *h = userdata;

        if (available)
                h->service_up++;
        else
                h->service_down++;
}

static void on_fatal(void *userdata, int error) {
        Harness *h = userdata;
        h->fatal = error;
}

static void log_capture(int level, const char *message, void *userdata) {
        Harness *h = userdata;

        if (getenv("BLUEZ_TEST_VERBOSE"))
                fprintf(stderr, "# %.3f [%d] %s\n", mono_usec() / 1e6, level, message);
        if (level > LOG_INFO)
                return;
        char **n = realloc(h->lines, (h->n_lines + 1) * sizeof(char *));
        assert_non_null(n);
        h->lines = n;
        h->lines[h->n_lines++] = strdup(message);
}

static void config_defaults(Config *c) {
        memset(c, 0, sizeof(*c));
        c->power_on_adapter = true;
        c->connect_timeout_usec = 5 * USEC_PER_SEC;
        c->backoff_initial_usec = 200 * USEC_PER_MSEC;
        c->backoff_max_usec = 2 * USEC_PER_SEC;
        c->stable_link_usec = 2 * USEC_PER_SEC;
        c->silence_timeout_usec = 3 * USEC_PER_SEC;
        c->adapter_reset_after = 0;
        c->exit_after = 0;
}

static void config_wearer(Config *c, const char *name, const char *left, const char *right) {
        WearerConfig *w = &c->wearers[c->n_wearers++];

        snprintf(w->name, sizeof(w->name), "%s", name);
        if (left) {
                w->has_device[DEVICE_ROLE_LEFT] = true;
                assert_int_equal(bdaddr_from_string(left, &w->device[DEVICE_ROLE_LEFT]), 0);
        }
        if (right) {
                w->has_device[DEVICE_ROLE_RIGHT] = true;
                assert_int_equal(bdaddr_from_string(right, &w->device[DEVICE_ROLE_RIGHT]), 0);
        }
}

static sd_bus *connect_bus(const char *address) {
        sd_bus *bus = NULL;

        assert_true(sd_bus_new(&bus) >= 0);
        assert_true(sd_bus_set_address(bus, address) >= 0);
        assert_true(sd_bus_set_bus_client(bus, 1) >= 0);
        assert_true(sd_bus_negotiate_fds(bus, 1) >= 0);
        assert_true(sd_bus_start(bus) >= 0);
        return bus;
}

static Harness *harness_new(void) {
        Harness *h = calloc(1, sizeof(Harness));

        assert_non_null(h);
        config_defaults(&h->config);
        h->dbus_pid = start_dbus(h->address, sizeof(h->address));
        assert_int_equal(sd_event_new(&h->event), 0);
        h->bus = connect_bus(h->address);
        assert_int_equal(sd_bus_attach_event(h->bus, h->event, 0), 0);
        h->ctl = connect_bus(h->address);
        log_set_sink(log_capture, h);
        if (getenv("BLUEZ_TEST_VERBOSE"))
                log_set_max_level(LOG_DEBUG);
        return h;
}

static void harness_start_client(Harness *h) {
        const BluezClientCallbacks cb = {
                .on_value = on_value,
                .on_link_state = on_link_state,
                .on_discovered = on_discovered,
                .on_service = on_service,
                .on_fatal = on_fatal,
        };

        static const char *const nouns[_DEVICE_ROLE_MAX] = { "left insole", "right insole", "footpod" };

        assert_int_equal(bluez_client_new(h->event, h->bus, &h->config, &cb, h, &h->client), 0);
        /* What the Manager does for every configured device of every wearer. */
        for (size_t w = 0; w < h->config.n_wearers; w++)
                for (DeviceRole r = 0; r < _DEVICE_ROLE_MAX; r++) {
                        DeviceObs *o = &h->obs[w][r];
                        char label[CONFIG_NAME_MAX + 32];
                        BluezDeviceSetup setup = {
                                .address = h->config.wearers[w].device[r],
                                .label = label,
                                .log = { .wearer = h->config.wearers[w].name, .device = nouns[r] },
                                .stream_rate_hz = (uint16_t) h->config.wearers[w].stream_rate_hz,
                        };

                        if (!h->config.wearers[w].has_device[r])
                                continue;
                        snprintf(label, sizeof(label), "%s of %s", nouns[r], h->config.wearers[w].name);
                        o->harness = h;
                        decoder_state_reset(&o->decoder, r == DEVICE_ROLE_LEFT ? FOOT_LEFT : FOOT_RIGHT);
                        assert_int_equal(bluez_client_add_device(h->client, &setup, o, &o->link), 0);
                }
        assert_int_equal(bluez_client_start(h->client), 0);
}

static void harness_free(Harness *h) {
        if (!h)
                return;
        if (h == current)
                current = NULL;
        log_set_sink(NULL, NULL);
        h->client = bluez_client_free(h->client);
        stop_child(&h->sim_pid);
        if (h->scenario_path[0])
                (void) unlink(h->scenario_path);
        if (h->bus) {
                (void) sd_bus_detach_event(h->bus);
                h->bus = sd_bus_flush_close_unref(h->bus);
        }
        h->ctl = sd_bus_flush_close_unref(h->ctl);
        h->event = sd_event_unref(h->event);
        stop_child(&h->dbus_pid);
        for (size_t i = 0; i < h->n_lines; i++)
                free(h->lines[i]);
        free(h->lines);
        free(h);
}

typedef bool (*Predicate)(Harness *h, void *arg);

/* Runs the loop until pred holds or timeout_usec passes; returns whether pred held. */
static bool run_until(Harness *h, Predicate pred, void *arg, uint64_t timeout_usec) {
        uint64_t end = mono_usec() + timeout_usec;

        while (!(pred && pred(h, arg))) {
                uint64_t now = mono_usec();
                if (now >= end)
                        return false;
                int r = sd_event_run(h->event, MIN(end - now, 20 * USEC_PER_MSEC));
                assert_true(r >= 0);
        }
        return true;
}

static void run_for(Harness *h, uint64_t usec) {
        (void) run_until(h, NULL, NULL, usec);
}

/* The simulator's control interface: one action line. */
static void sim_do(Harness *h, const char *fmt, ...) _printf_(2, 3);
static void sim_do(Harness *h, const char *fmt, ...) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        char line[512];
        va_list ap;
        int r;

        va_start(ap, fmt);
        vsnprintf(line, sizeof(line), fmt, ap);
        va_end(ap);
        r = sd_bus_call_method(h->ctl, SIM_CONTROL_NAME, SIM_CONTROL_PATH, SIM_CONTROL_IFACE, "Action", &error, NULL,
                               "s", line);
        if (r < 0)
                fail_msg("simulator action '%s' failed: %s", line, error.message ?: strerror(-r));
}

static bool all_streaming(Harness *h, void *arg) {
        for (size_t w = 0; w < h->config.n_wearers; w++)
                for (DeviceRole r = 0; r < _DEVICE_ROLE_MAX; r++)
                        if (h->config.wearers[w].has_device[r] && h->obs[w][r].state != BLUEZ_LINK_STREAMING)
                                return false;
        return true;
}

static void assert_no_addresses_logged(Harness *h) {
        for (size_t w = 0; w < h->config.n_wearers; w++)
                for (DeviceRole r = 0; r < _DEVICE_ROLE_MAX; r++) {
                        char addr[18];
                        if (!h->config.wearers[w].has_device[r])
                                continue;
                        bdaddr_to_string(&h->config.wearers[w].device[r], addr);
                        for (size_t i = 0; i < h->n_lines; i++)
                                if (strcasestr(h->lines[i], addr))
                                        fail_msg("address logged at info level: %s", h->lines[i]);
                }
}

/* ---- helpers on top of the simulator ------------------------------------------------------- */

#define ANNA_L "AA:00:00:00:01:01"
#define ANNA_R "AA:00:00:00:01:02"
#define BEN_L "AA:00:00:00:02:01"
#define BEN_R "AA:00:00:00:02:02"
#define MALLORY "CC:00:00:00:66:01"

/* Fast radio timings so that a test spends its time on what it tests. */
#define FAST_RADIO "connect-delay 20ms\nresolve-delay 50ms\nadv-interval 100ms\n"

static uint64_t sim_stat(Harness *h, const char *address, const char *key) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        sd_bus_message *reply = NULL;
        uint64_t result = UINT64_MAX;
        int r;

        r = sd_bus_call_method(h->ctl, SIM_CONTROL_NAME, SIM_CONTROL_PATH, SIM_CONTROL_IFACE, "Stats", &error, &reply,
                               "s", address);
        if (r < 0)
                fail_msg("Stats(%s): %s", address, error.message ?: strerror(-r));
        assert_true(sd_bus_message_enter_container(reply, 'a', "{sv}") > 0);
        while (sd_bus_message_enter_container(reply, 'e', "sv") > 0) {
                const char *k;
                char type;
                const char *contents;

                assert_true(sd_bus_message_read(reply, "s", &k) > 0);
                assert_true(sd_bus_message_peek_type(reply, &type, &contents) > 0);
                if (streq(k, key)) {
                        assert_true(sd_bus_message_enter_container(reply, 'v', contents) > 0);
                        if (streq(contents, "t"))
                                assert_true(sd_bus_message_read(reply, "t", &result) > 0);
                        else if (streq(contents, "b")) {
                                int b;
                                assert_true(sd_bus_message_read(reply, "b", &b) > 0);
                                result = (uint64_t) b;
                        } else if (streq(contents, "u")) {
                                uint32_t u;
                                assert_true(sd_bus_message_read(reply, "u", &u) > 0);
                                result = u;
                        } else if (streq(contents, "q")) {
                                uint16_t q;
                                assert_true(sd_bus_message_read(reply, "q", &q) > 0);
                                result = q;
                        } else if (streq(contents, "y")) {
                                uint8_t y;
                                assert_true(sd_bus_message_read(reply, "y", &y) > 0);
                                result = y;
                        }
                        assert_true(sd_bus_message_exit_container(reply) >= 0);
                } else
                        assert_true(sd_bus_message_skip(reply, "v") >= 0);
                assert_true(sd_bus_message_exit_container(reply) >= 0);
        }
        sd_bus_message_unref(reply);
        if (result == UINT64_MAX)
                fail_msg("Stats(%s) has no '%s'", address, key);
        return result;
}

static Harness *harness_with_sim(const char *scenario) {
        Harness *h = harness_new();

        current = h;
        h->sim_pid = start_sim(h, scenario, NULL);
        /* Wait for the control interface, so that actions can be sent right away. */
        for (unsigned i = 0; i < 500; i++) {
                if (sd_bus_call_method(h->ctl, SIM_CONTROL_NAME, SIM_CONTROL_PATH, SIM_CONTROL_IFACE, "Now", NULL, NULL,
                                       NULL) >= 0)
                        return h;
                usleep(10000);
        }
        fail_msg("the simulator did not come up");
        return NULL;
}

static BluezLinkStats link_stats(Harness *h, size_t wearer, DeviceRole role) {
        BluezLinkStats st;
        assert_int_equal(bluez_client_get_link_stats(h->client, h->obs[wearer][role].link, &st), 0);
        return st;
}

static int cmp_u64(const void *a, const void *b) {
        uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;
        return x < y ? -1 : x > y;
}

static void report_times(const char *what, uint64_t *v, size_t n) {
        if (n == 0)
                return;
        qsort(v, n, sizeof(uint64_t), cmp_u64);
        printf("# %s: n=%zu min=%.1f ms median=%.1f ms p95=%.1f ms max=%.1f ms\n", what, n, v[0] / 1000.0,
               v[n / 2] / 1000.0, v[(n * 95) / 100 < n ? (n * 95) / 100 : n - 1] / 1000.0, v[n - 1] / 1000.0);
}

/* ---- predicates ------------------------------------------------------------------------------ */

static bool service_went_down(Harness *h, void *arg) {
        return h->service_down > 0;
}

/* Both of anna's insoles are streaming on a link newer than the first one. */
static bool anna_streams_again(Harness *h, void *arg) {
        return all_streaming(h, NULL) && h->obs[0][0].streaming_count >= 2 && h->obs[0][1].streaming_count >= 2;
}

/* Device (wearer 0, role *arg) streaming count reached a target. */
typedef struct StreamTarget {
        DeviceRole role;
        uint64_t count;
} StreamTarget;

static bool streaming_count_reached(Harness *h, void *arg) {
        StreamTarget *t = arg;
        return h->obs[0][t->role].state == BLUEZ_LINK_STREAMING && h->obs[0][t->role].streaming_count >= t->count;
}

static bool fatal_reported(Harness *h, void *arg) {
        return h->fatal != 0;
}

static bool left_not_streaming(Harness *h, void *arg) {
        return h->obs[0][DEVICE_ROLE_LEFT].state != BLUEZ_LINK_STREAMING;
}

/* ---- tests ---------------------------------------------------------------------------------- */

static void test_stream_two_wearers(void **state) {
        Harness *h = harness_with_sim(FAST_RADIO "rate 100\n"
                                      "wearer anna left=" ANNA_L " right=" ANNA_R "\n"
                                      "wearer ben left=" BEN_L " right=" BEN_R "\n");
        const char *addr[2][2] = { { ANNA_L, ANNA_R }, { BEN_L, BEN_R } };
        uint64_t t0, samples0[2][2];

        config_wearer(&h->config, "anna", ANNA_L, ANNA_R);
        config_wearer(&h->config, "ben", BEN_L, BEN_R);
        t0 = mono_usec();
        harness_start_client(h);
        assert_true(run_until(h, all_streaming, NULL, 10 * USEC_PER_SEC));
        printf("# start-up: all 4 insoles streaming %.0f ms after the client started\n", (mono_usec() - t0) / 1000.0);

        for (size_t w = 0; w < 2; w++)
                for (size_t s = 0; s < 2; s++)
                        samples0[w][s] = h->obs[w][s].samples;
        run_for(h, 5 * USEC_PER_SEC);

        for (size_t w = 0; w < 2; w++)
                for (DeviceRole s = 0; s < 2; s++) {
                        BluezLinkStats st = link_stats(h, w, s);
                        uint64_t samples = h->obs[w][s].samples - samples0[w][s];

                        printf("# %s/%s: %" PRIu64 " samples in 5 s, %" PRIu64 " frames, path %s\n",
                               h->config.wearers[w].name, s == 0 ? "left" : "right", samples, st.frames_received,
                               bluez_notify_path_to_string(st.notify_path));
                        assert_int_equal(st.state, BLUEZ_LINK_STREAMING);
                        assert_int_equal(st.notify_path, BLUEZ_NOTIFY_ACQUIRE);
                        assert_int_equal(h->obs[w][s].decoder_stats.lost_frames, 0);
                        assert_int_equal(h->obs[w][s].frames_rejected, 0);
                        assert_int_equal(h->obs[w][s].seq_gaps, 0);
                        assert_true(h->obs[w][s].layouts >= 1);
                        /* 100 Hz for 5 s, with some slack for scheduling. */
                        assert_true(samples >= 450);
                        assert_true(samples <= 550);
                        assert_int_equal(sim_stat(h, addr[w][s], "socket_dropped"), 0);
                        assert_int_equal(st.connects, 1);
                }
        assert_int_equal(h->fatal, 0);
        assert_no_addresses_logged(h);
        harness_free(h);
}

static void test_bluetoothd_restart(void **state) {
        Harness *h = harness_with_sim(FAST_RADIO "wearer anna left=" ANNA_L " right=" ANNA_R "\n");
        uint64_t t0, samples_before;

        config_wearer(&h->config, "anna", ANNA_L, ANNA_R);
        harness_start_client(h);
        assert_true(run_until(h, all_streaming, NULL, 10 * USEC_PER_SEC));
        run_for(h, 500 * USEC_PER_MSEC);

        t0 = mono_usec();
        sim_do(h, "restart-bluetoothd down=1s");
        assert_true(run_until(h, service_went_down, NULL, 5 * USEC_PER_SEC));
        assert_true(run_until(h, anna_streams_again, NULL, 10 * USEC_PER_SEC));
        uint64_t resumed = MAX(h->obs[0][0].streaming_at, h->obs[0][1].streaming_at) - t0;
        samples_before = h->obs[0][0].samples;
        printf("# bluetoothd restart (down 1 s): streaming again %.0f ms after the restart began\n", resumed / 1000.0);
        assert_true(resumed <= 10 * USEC_PER_SEC);
        assert_true(h->service_up >= 2);

        run_for(h, USEC_PER_SEC);
        /* 100 Hz: a second of samples after the resumption, give or take. */
        assert_true(h->obs[0][0].samples > samples_before + 80);
        assert_int_equal(h->obs[0][DEVICE_ROLE_LEFT].decoder_stats.lost_frames, 0);
        assert_int_equal(link_stats(h, 0, DEVICE_ROLE_LEFT).reconnects, 1);
        assert_int_equal(h->fatal, 0);
        harness_free(h);
}

/* The wearer keeps walking while the left insole is out of range; the steps it took meanwhile
 * arrive in one delta when it is back, and nothing is counted twice. OUT_OF_RANGE_SECONDS is the
 * simulated time out of range (default 120); the simulator runs at time-scale 10 so that it takes
 * 12 s of wall-clock time (the radio timings stay real-time). */
static void test_out_of_range_steps_once(void **state) {
        const char *span_env = getenv("OUT_OF_RANGE_SECONDS");
        unsigned span = span_env ? (unsigned) strtoul(span_env, NULL, 10) : 120;
        const double scale = 10;
        char scenario[512];
        StreamTarget again = { .role = DEVICE_ROLE_LEFT, .count = 2 };
        uint64_t steps_before, steps_after_sim, t_back;

        snprintf(scenario, sizeof(scenario),
                 FAST_RADIO "time-scale %g\nrate 50\nsamples-per-frame 10\n"
                 "wearer anna left=" ANNA_L " right=" ANNA_R " walking\n", scale);
        Harness *h = harness_with_sim(scenario);
        config_wearer(&h->config, "anna", ANNA_L, ANNA_R);
        h->config.backoff_max_usec = USEC_PER_SEC;
        /* A hair trigger: attempts on an insole that is away must not count against the adapter. */
        h->config.adapter_reset_after = 2;
        h->config.exit_after = 1;
        harness_start_client(h);
        assert_true(run_until(h, all_streaming, NULL, 10 * USEC_PER_SEC));
        run_for(h, USEC_PER_SEC);
        assert_true(h->obs[0][0].have_first_steps);

        steps_before = h->obs[0][0].steps_delta_total;
        sim_do(h, "out-of-range " ANNA_L);
        assert_true(run_until(h, left_not_streaming, NULL, 5 * USEC_PER_SEC));
        run_for(h, (uint64_t) (span / scale * USEC_PER_SEC));
        /* Nothing was counted while away. */
        assert_int_equal(h->obs[0][0].steps_delta_total, steps_before);

        sim_do(h, "in-range " ANNA_L);
        t_back = mono_usec();
        assert_true(run_until(h, streaming_count_reached, &again, 10 * USEC_PER_SEC));
        printf("# out of range for %u s (simulated): streaming again %.0f ms after the insole came back\n", span,
               (h->obs[0][0].streaming_at - t_back) / 1000.0);

        /* Let the wearer sit so the counter stops, then compare with the simulator's ground truth. */
        sim_do(h, "mode anna sitting");
        run_for(h, 2 * USEC_PER_SEC);
        steps_after_sim = sim_stat(h, ANNA_L, "steps");
        DeviceObs *o = &h->obs[0][0];
        printf("# left insole: %" PRIu64 " steps counted after the baseline, %" PRIu64 " of them while out of range\n",
               o->steps_delta_total, o->steps_delta_total - steps_before);
        assert_int_equal(o->first_boot, o->last_boot);
        /* Exactly once: the deltas add up to the device's own count since the first reading ... */
        assert_int_equal(o->steps_delta_total, (uint64_t) (o->last_steps - o->first_steps));
        /* ... which is the simulator's ground truth. */
        assert_int_equal((uint64_t) o->last_steps, steps_after_sim);
        /* A wearer walking at ~50 steps/min per foot for `span` s took a good number of steps. */
        assert_true(o->steps_delta_total - steps_before >= span / 2);
        assert_int_equal(o->step_state.steps, o->last_steps);
        assert_int_equal(h->fatal, 0);
        harness_free(h);
}

/* Another BlueZ client holds a StartNotify session on the pressure characteristic, so BlueZ refuses
 * AcquireNotify (InProgress): the client must stream through StartNotify + PropertiesChanged. */
static void test_acquire_refused_uses_start_notify(void **state) {
        Harness *h = harness_with_sim(FAST_RADIO "wearer anna left=" ANNA_L "\n");
        const char *dev = "/org/bluez/hci0/dev_AA_00_00_00_01_01";
        char char_path[256] = "";
        int r;

        /* The harness plays the other client, synchronously on its own connection. */
        r = sd_bus_call_method(h->ctl, "org.bluez", "/org/bluez/hci0", "org.bluez.Adapter1", "StartDiscovery", NULL,
                               NULL, NULL);
        assert_true(r >= 0);
        for (unsigned i = 0; i < 300 && !char_path[0]; i++) {
                sd_bus_message *reply = NULL;
                int connected = 0;

                if (sd_bus_get_property_trivial(h->ctl, "org.bluez", dev, "org.bluez.Device1", "Connected", NULL, 'b',
                                                &connected) >= 0 && !connected)
                        (void) sd_bus_call_method(h->ctl, "org.bluez", dev, "org.bluez.Device1", "Connect", NULL, NULL,
                                                  NULL);
                /* Find the pressure characteristic once the services are resolved. */
                if (connected &&
                    sd_bus_call_method(h->ctl, "org.bluez", "/", "org.freedesktop.DBus.ObjectManager",
                                       "GetManagedObjects", NULL, &reply, NULL) >= 0) {
                        const char *path;
                        assert_true(sd_bus_message_enter_container(reply, 'a', "{oa{sa{sv}}}") > 0);
                        while (sd_bus_message_enter_container(reply, 'e', "oa{sa{sv}}") > 0) {
                                assert_true(sd_bus_message_read(reply, "o", &path) > 0);
                                assert_true(sd_bus_message_enter_container(reply, 'a', "{sa{sv}}") > 0);
                                while (sd_bus_message_enter_container(reply, 'e', "sa{sv}") > 0) {
                                        const char *iface;
                                        assert_true(sd_bus_message_read(reply, "s", &iface) > 0);
                                        assert_true(sd_bus_message_enter_container(reply, 'a', "{sv}") > 0);
                                        while (sd_bus_message_enter_container(reply, 'e', "sv") > 0) {
                                                const char *key, *uuid;
                                                assert_true(sd_bus_message_read(reply, "s", &key) > 0);
                                                if (streq(iface, "org.bluez.GattCharacteristic1") && streq(key, "UUID") &&
                                                    sd_bus_message_read(reply, "v", "s", &uuid) > 0) {
                                                        if (strcasecmp(uuid, OIP_PRESSURE_FRAME_UUID) == 0)
                                                                snprintf(char_path, sizeof(char_path), "%s", path);
                                                } else
                                                        assert_true(sd_bus_message_skip(reply, "v") >= 0);
                                                assert_true(sd_bus_message_exit_container(reply) >= 0);
                                        }
                                        assert_true(sd_bus_message_exit_container(reply) >= 0);
                                        assert_true(sd_bus_message_exit_container(reply) >= 0);
                                }
                                assert_true(sd_bus_message_exit_container(reply) >= 0);
                                assert_true(sd_bus_message_exit_container(reply) >= 0);
                        }
                        sd_bus_message_unref(reply);
                }
                if (!char_path[0])
                        usleep(20000);
        }
        assert_true(char_path[0] != 0);
        assert_true(sd_bus_call_method(h->ctl, "org.bluez", char_path, "org.bluez.GattCharacteristic1", "StartNotify",
                                       NULL, NULL, NULL) >= 0);

        config_wearer(&h->config, "anna", ANNA_L, NULL);
        harness_start_client(h);
        assert_true(run_until(h, all_streaming, NULL, 10 * USEC_PER_SEC));
        run_for(h, 2 * USEC_PER_SEC);

        BluezLinkStats st = link_stats(h, 0, DEVICE_ROLE_LEFT);
        printf("# refused AcquireNotify (%s): %" PRIu64 " frames through %s in 2 s\n", st.last_error,
               st.frames_received, bluez_notify_path_to_string(st.notify_path));
        assert_int_equal(st.notify_path, BLUEZ_NOTIFY_START);
        assert_true(st.frames_received >= 30);
        assert_int_equal(h->obs[0][0].decoder_stats.lost_frames, 0);
        assert_int_equal(h->obs[0][0].seq_gaps, 0);
        harness_free(h);
}

static void test_malformed_frames_dropped(void **state) {
        Harness *h = harness_with_sim(FAST_RADIO "wearer anna left=" ANNA_L "\n");
        static const char *const kinds[] = { "short", "length", "version", "garbage" };
        uint64_t frames_before;

        config_wearer(&h->config, "anna", ANNA_L, NULL);
        harness_start_client(h);
        assert_true(run_until(h, all_streaming, NULL, 10 * USEC_PER_SEC));
        for (size_t i = 0; i < ELEMENTSOF(kinds); i++) {
                sim_do(h, "malformed " ANNA_L " 5 %s", kinds[i]);
                run_for(h, 500 * USEC_PER_MSEC);
        }
        frames_before = h->obs[0][0].frames;
        run_for(h, USEC_PER_SEC);

        BluezLinkStats st = link_stats(h, 0, DEVICE_ROLE_LEFT);
        uint64_t sent_bad = sim_stat(h, ANNA_L, "frames_malformed");
        printf("# malformed: %" PRIu64 " sent, %" PRIu64 " rejected, %" PRIu64 " received in all\n", sent_bad,
               h->obs[0][0].frames_rejected, st.frames_received);
        assert_int_equal(sent_bad, 20);
        assert_int_equal(h->obs[0][0].frames_rejected, 20);
        /* The stream goes on, on the same link. */
        assert_int_equal(st.state, BLUEZ_LINK_STREAMING);
        assert_int_equal(h->obs[0][0].streaming_count, 1);
        assert_true(h->obs[0][0].frames > frames_before + 10);
        harness_free(h);
}

/* 100 drops in a row, each followed by a reconnect; reports reconnect times. */
static void test_hundred_link_drops(void **state) {
        Harness *h = harness_with_sim("connect-delay 5ms\nresolve-delay 10ms\nadv-interval 20ms\n"
                                      "wearer anna left=" ANNA_L "\n");
        uint64_t times[100];

        config_wearer(&h->config, "anna", ANNA_L, NULL);
        h->config.backoff_initial_usec = 10 * USEC_PER_MSEC;
        h->config.backoff_max_usec = 40 * USEC_PER_MSEC;
        harness_start_client(h);
        assert_true(run_until(h, all_streaming, NULL, 10 * USEC_PER_SEC));

        for (unsigned i = 0; i < 100; i++) {
                StreamTarget next = { .role = DEVICE_ROLE_LEFT, .count = h->obs[0][0].streaming_count + 1 };
                uint64_t t0 = mono_usec();

                sim_do(h, "drop-link " ANNA_L);
                if (!run_until(h, streaming_count_reached, &next, 5 * USEC_PER_SEC))
                        fail_msg("no reconnect after drop %u (state %s, last error '%s')", i + 1,
                                 bluez_link_state_to_string(h->obs[0][0].state),
                                 link_stats(h, 0, DEVICE_ROLE_LEFT).last_error);
                times[i] = h->obs[0][0].streaming_at - t0;
        }
        BluezLinkStats st = link_stats(h, 0, DEVICE_ROLE_LEFT);
        report_times("100 link drops: drop -> streaming again", times, 100);
        assert_int_equal(st.reconnects, 100);
        assert_int_equal(st.connects, 101);
        assert_int_equal(h->obs[0][0].streaming_count, 101);
        assert_int_equal(h->fatal, 0);
        harness_free(h);
}

/* Samples per second of anna's left insole over about a second of the loop. */
static double left_sample_rate(Harness *h) {
        uint64_t s0 = h->obs[0][DEVICE_ROLE_LEFT].samples, t0 = mono_usec();

        run_for(h, USEC_PER_SEC);
        return (double) (h->obs[0][DEVICE_ROLE_LEFT].samples - s0) * 1e6 / (double) (mono_usec() - t0);
}

/* A 200 Hz insole streams at 200 Hz (stream-rate auto asks for its own rate), and link reports the
 * notification rate of the current link, also after reconnects (it used to divide the frames of
 * every link by the uptime of the last one). */
static void test_stream_rate_and_link_rate(void **state) {
        Harness *h = harness_with_sim(FAST_RADIO "rate 200\nsamples-per-frame 4\nwearer anna left=" ANNA_L "\n");
        StreamTarget again = { .role = DEVICE_ROLE_LEFT };
        double rate, link_rate;

        config_wearer(&h->config, "anna", ANNA_L, NULL);
        h->config.backoff_initial_usec = 100 * USEC_PER_MSEC;
        harness_start_client(h);
        assert_true(run_until(h, all_streaming, NULL, 10 * USEC_PER_SEC));
        run_for(h, 500 * USEC_PER_MSEC); /* the control point write */
        rate = left_sample_rate(h);
        printf("# stream-rate auto, a 200 Hz insole: %.0f samples/s\n", rate);
        assert_true(rate > 150 && rate < 250);

        for (unsigned i = 0; i < 3; i++) {
                run_for(h, USEC_PER_SEC);
                again.count = h->obs[0][0].streaming_count + 1;
                sim_do(h, "drop-link " ANNA_L);
                assert_true(run_until(h, streaming_count_reached, &again, 10 * USEC_PER_SEC));
        }
        run_for(h, 500 * USEC_PER_MSEC);
        uint64_t f0 = link_stats(h, 0, DEVICE_ROLE_LEFT).frames_received, t0 = mono_usec();
        run_for(h, 1500 * USEC_PER_MSEC);
        rate = (double) (link_stats(h, 0, DEVICE_ROLE_LEFT).frames_received - f0) * 1e6 / (double) (mono_usec() - t0);
        link_rate = link_stats(h, 0, DEVICE_ROLE_LEFT).notifications_per_s;
        printf("# after 3 reconnects: link says %.1f notifications/s, measured %.1f\n", link_rate, rate);
        assert_int_equal(link_stats(h, 0, DEVICE_ROLE_LEFT).reconnects, 3);
        assert_true(link_rate > 0.7 * rate && link_rate < 1.3 * rate);

        sim_do(h, "drop-link " ANNA_L);
        assert_true(run_until(h, left_not_streaming, NULL, 5 * USEC_PER_SEC));
        assert_true(link_stats(h, 0, DEVICE_ROLE_LEFT).notifications_per_s == 0);
        harness_free(h);
}

/* An insole from before "its own rate" refuses START at rate 0 and is asked for 100 Hz; a
 * configured stream-rate is asked for as it is. */
static void test_stream_rate_legacy_and_configured(void **state) {
        Harness *h = harness_with_sim(FAST_RADIO "rate 200\nlegacy-control\nwearer anna left=" ANNA_L "\n"
                                      "wearer ben left=" BEN_L "\n");
        uint64_t s0, t0;
        double rate;

        config_wearer(&h->config, "anna", ANNA_L, NULL);
        config_wearer(&h->config, "ben", BEN_L, NULL);
        h->config.wearers[1].stream_rate_hz = 50;
        harness_start_client(h);
        assert_true(run_until(h, all_streaming, NULL, 10 * USEC_PER_SEC));
        run_for(h, 500 * USEC_PER_MSEC);
        rate = left_sample_rate(h);
        s0 = h->obs[1][DEVICE_ROLE_LEFT].samples;
        t0 = mono_usec();
        run_for(h, USEC_PER_SEC);
        double ben = (double) (h->obs[1][DEVICE_ROLE_LEFT].samples - s0) * 1e6 / (double) (mono_usec() - t0);
        printf("# legacy insole: %.0f samples/s; stream-rate 50: %.0f samples/s\n", rate, ben);
        assert_true(rate > 75 && rate < 125);
        assert_true(ben > 35 && ben < 65);
        harness_free(h);
}

/* An unconfigured insole advertises a hostile 248-byte name: auto-discovery reports it escaped and
 * bounded, it is never connected, nothing raw reaches a log line, the configured insole streams. */
static void test_hostile_names(void **state) {
        Harness *h = harness_with_sim(FAST_RADIO "wearer anna left=" ANNA_L "\n"
                                      "wearer mallory left=" MALLORY "\n");

        sim_do(h, "name " MALLORY " @hostile");
        sim_do(h, "name " ANNA_L " @hostile");
        config_wearer(&h->config, "anna", ANNA_L, NULL);
        h->config.auto_discovery = true;
        harness_start_client(h);
        assert_true(run_until(h, all_streaming, NULL, 10 * USEC_PER_SEC));
        /* anna's insole streams; discovery stopped with it. Put it away so discovery runs again
         * until the stranger has been seen. */
        sim_do(h, "out-of-range " ANNA_L);
        for (unsigned i = 0; i < 500 && h->n_discovered == 0; i++)
                run_for(h, 20 * USEC_PER_MSEC);
        assert_int_equal(h->n_discovered, 1);

        const BluezDiscovery *d = &h->discovered[0];
        printf("# discovered: \"%.60s...\" (%zu bytes escaped)\n", d->name_escaped, strlen(d->name_escaped));
        assert_string_equal(d->address, MALLORY);
        assert_string_equal(d->noun, "Open Insole Profile");
        assert_true(strlen(d->name_escaped) > 0);
        assert_true(strlen(d->name_escaped) < sizeof(d->name_escaped));
        for (const char *c = d->name_escaped; *c; c++)
                assert_true(*c >= 0x20 && *c < 0x7f);
        assert_null(strchr(d->name_escaped, 0x1b));
        assert_non_null(strstr(d->name_escaped, "\\x1b")); /* the escape sequence, defused */
        assert_int_equal(sim_stat(h, MALLORY, "connects"), 0);

        for (size_t i = 0; i < h->n_lines; i++)
                for (const char *c = h->lines[i]; *c; c++)
                        if ((unsigned char) *c < 0x20 || *c == 0x7f)
                                fail_msg("control character in a log line: %s", h->lines[i]);
        assert_no_addresses_logged(h);
        harness_free(h);
}

/* The link stays up but the data path goes silent: the watchdog cuts it and streaming resumes. */
static void test_watchdog_silent_link(void **state) {
        Harness *h = harness_with_sim(FAST_RADIO "wearer anna left=" ANNA_L "\n");
        StreamTarget again = { .role = DEVICE_ROLE_LEFT, .count = 2 };
        uint64_t t0;

        config_wearer(&h->config, "anna", ANNA_L, NULL);
        h->config.silence_timeout_usec = USEC_PER_SEC;
        harness_start_client(h);
        assert_true(run_until(h, all_streaming, NULL, 10 * USEC_PER_SEC));
        run_for(h, 300 * USEC_PER_MSEC);

        /* 100 Hz, 4 samples per frame: 25 frames/s; 200 lost frames are 8 s of silence. */
        t0 = mono_usec();
        sim_do(h, "lose " ANNA_L " 200");
        assert_true(run_until(h, streaming_count_reached, &again, 10 * USEC_PER_SEC));
        BluezLinkStats st = link_stats(h, 0, DEVICE_ROLE_LEFT);
        printf("# silent link: cut and streaming again %.0f ms after the silence began (timeout 1 s)\n",
               (h->obs[0][0].streaming_at - t0) / 1000.0);
        assert_int_equal(st.watchdog_trips, 1);
        assert_true(h->obs[0][0].streaming_at - t0 >= USEC_PER_SEC);
        harness_free(h);
}


/* BlueZ's routine connection errors and GATT objects that appear after ServicesResolved: retried
 * through the backoff, never fatal. */
static void test_routine_errors(void **state) {
        Harness *h = harness_with_sim(FAST_RADIO "wearer anna left=" ANNA_L "\n");
        StreamTarget again = { .role = DEVICE_ROLE_LEFT };
        BluezLinkStats st;

        sim_do(h, "fail-connect " ANNA_L " count=2");
        sim_do(h, "objects-late " ANNA_L " 300ms");
        config_wearer(&h->config, "anna", ANNA_L, NULL);
        h->config.backoff_initial_usec = 50 * USEC_PER_MSEC;
        h->config.backoff_max_usec = 200 * USEC_PER_MSEC;
        harness_start_client(h);
        assert_true(run_until(h, all_streaming, NULL, 10 * USEC_PER_SEC));
        st = link_stats(h, 0, DEVICE_ROLE_LEFT);
        assert_int_equal(st.connect_failures, 2);

        static const char *const errors[] = { "inprogress", "software-abort" };
        for (size_t i = 0; i < ELEMENTSOF(errors); i++) {
                sim_do(h, "fail-connect " ANNA_L " count=2 %s", errors[i]);
                sim_do(h, "drop-link " ANNA_L);
                again.count = h->obs[0][0].streaming_count + 1;
                assert_true(run_until(h, streaming_count_reached, &again, 10 * USEC_PER_SEC));
                st = link_stats(h, 0, DEVICE_ROLE_LEFT);
                printf("# after 2 x %s: streaming again, %" PRIu64 " failed attempts so far\n", errors[i],
                       st.connect_failures);
                assert_int_equal(st.connect_failures, 4 + 2 * i);
        }
        assert_int_equal(h->fatal, 0);
        assert_int_equal(h->obs[0][0].seq_gaps, 0);
        harness_free(h);
}

/* Connected=true arrives before Connect()'s error reply (bluetoothd answers only after service
 * discovery): the error ends the attempt at once and the next one follows the backoff, instead of
 * waiting the whole connect timeout for ServicesResolved. */
static void test_connect_error_after_connected(void **state) {
        Harness *h = harness_with_sim(FAST_RADIO "wearer anna left=" ANNA_L "\n");
        BluezLinkStats st;
        uint64_t t0;

        sim_do(h, "fail-connect " ANNA_L " count=1 after-connected software-abort");
        config_wearer(&h->config, "anna", ANNA_L, NULL);
        h->config.connect_timeout_usec = 30 * USEC_PER_SEC;
        t0 = mono_usec();
        harness_start_client(h);
        /* well within the 30 s connect timeout the old behaviour waited for */
        assert_true(run_until(h, all_streaming, NULL, 10 * USEC_PER_SEC));
        printf("# Connect() error after Connected=true: streaming %.0f ms after start\n",
               (h->obs[0][0].streaming_at - t0) / 1000.0);
        st = link_stats(h, 0, DEVICE_ROLE_LEFT);
        assert_int_equal(st.connect_failures, 1);
        assert_int_equal(h->obs[0][0].streaming_count, 1);
        /* the half-up link was taken down before the next attempt */
        assert_true(sim_stat(h, ANNA_L, "connects") >= 2);
        assert_true(sim_stat(h, ANNA_L, "disconnects") >= 1);
        assert_int_equal(h->fatal, 0);
        harness_free(h);
}

/* bluetoothd stopping powers the adapter off first and goes away a moment later: the client must
 * not race it with a power-on (that only earns a warning), and streams again once it is back. */
static void test_no_power_on_while_bluetoothd_stops(void **state) {
        Harness *h = harness_with_sim(FAST_RADIO "wearer anna left=" ANNA_L "\n");
        StreamTarget again = { .role = DEVICE_ROLE_LEFT, .count = 2 };

        config_wearer(&h->config, "anna", ANNA_L, NULL);
        harness_start_client(h);
        assert_true(run_until(h, all_streaming, NULL, 10 * USEC_PER_SEC));
        sim_do(h, "restart-bluetoothd down=1s graceful");
        assert_true(run_until(h, service_went_down, NULL, 5 * USEC_PER_SEC));
        assert_true(run_until(h, streaming_count_reached, &again, 10 * USEC_PER_SEC));
        for (size_t i = 0; i < h->n_lines; i++) {
                if (strstr(h->lines[i], "Powering the Bluetooth adapter on") ||
                    strstr(h->lines[i], "adapter's power"))
                        fail_msg("power-on attempted while bluetoothd was stopping: %s", h->lines[i]);
        }
        assert_int_equal(h->fatal, 0);
        harness_free(h);
}

/* The adapter is powered off (we power it on again), then removed and re-added. */
static void test_adapter_power_and_removal(void **state) {
        Harness *h = harness_with_sim(FAST_RADIO "wearer anna left=" ANNA_L "\n");
        StreamTarget again = { .role = DEVICE_ROLE_LEFT };
        uint64_t t0;

        config_wearer(&h->config, "anna", ANNA_L, NULL);
        assert_int_equal(bdaddr_from_string("DC:A6:32:00:00:01", &h->config.adapter), 0);
        h->config.has_adapter = true;
        harness_start_client(h);
        assert_true(run_until(h, all_streaming, NULL, 10 * USEC_PER_SEC));

        t0 = mono_usec();
        sim_do(h, "power off");
        again.count = 2;
        assert_true(run_until(h, streaming_count_reached, &again, 10 * USEC_PER_SEC));
        printf("# adapter powered off: powered on and streaming again after %.0f ms\n",
               (h->obs[0][0].streaming_at - t0) / 1000.0);

        sim_do(h, "remove-adapter");
        assert_true(run_until(h, left_not_streaming, NULL, 5 * USEC_PER_SEC));
        run_for(h, 500 * USEC_PER_MSEC);
        assert_int_equal(h->obs[0][0].state, BLUEZ_LINK_ABSENT);
        t0 = mono_usec();
        sim_do(h, "add-adapter");
        again.count = 3;
        assert_true(run_until(h, streaming_count_reached, &again, 10 * USEC_PER_SEC));
        printf("# adapter removed and re-added: streaming again %.0f ms after it returned\n",
               (h->obs[0][0].streaming_at - t0) / 1000.0);
        assert_int_equal(h->fatal, 0);
        harness_free(h);
}

static bool service_is_up(Harness *h, void *arg) {
        return h->service_up > 0;
}

/* A configured adapter that bluetoothd does not have: a warning against the key, without the
 * address, and no connection; the client keeps waiting for it. */
static void test_adapter_not_found(void **state) {
        Harness *h = harness_with_sim(FAST_RADIO "wearer anna left=" ANNA_L "\n");
        bool warned = false;

        config_wearer(&h->config, "anna", ANNA_L, NULL);
        assert_int_equal(bdaddr_from_string("00:11:22:33:44:55", &h->config.adapter), 0);
        h->config.has_adapter = true;
        harness_start_client(h);
        assert_true(run_until(h, service_is_up, NULL, 10 * USEC_PER_SEC));
        run_for(h, 500 * USEC_PER_MSEC);
        for (size_t i = 0; i < h->n_lines; i++) {
                warned = warned || strstr(h->lines[i], "[bluetooth] adapter: found no adapter with this address among the 1") != NULL;
                assert_null(strcasestr(h->lines[i], "00:11:22:33:44:55"));
        }
        assert_true(warned);
        assert_false(link_stats(h, 0, DEVICE_ROLE_LEFT).connected);
        assert_int_equal(h->fatal, 0);
        harness_free(h);
}

/* A device that advertises but never accepts a connection: after adapter_reset_after failures the
 * adapter is power-cycled; when that does not help either, the client gives up (on_fatal). */
static void test_escalation_to_exit(void **state) {
        Harness *h = harness_with_sim(FAST_RADIO "wearer anna left=" ANNA_L "\n");
        uint64_t t0;

        sim_do(h, "fail-connect " ANNA_L " count=1000");
        config_wearer(&h->config, "anna", ANNA_L, NULL);
        h->config.backoff_initial_usec = 200 * USEC_PER_MSEC;
        h->config.backoff_max_usec = 400 * USEC_PER_MSEC;
        h->config.adapter_reset_after = 3;
        h->config.exit_after = 1;
        t0 = mono_usec();
        harness_start_client(h);
        assert_true(run_until(h, fatal_reported, NULL, 18 * USEC_PER_SEC));
        BluezLinkStats st = link_stats(h, 0, DEVICE_ROLE_LEFT);
        printf("# escalation: gave up after %" PRIu64 " failed attempts (6 of them while the insole advertised)"
               " and one power cycle, %.0f ms\n", st.connect_failures, (mono_usec() - t0) / 1000.0);
        assert_int_equal(h->fatal, -EIO);
        assert_int_equal(bluez_client_fatal_error(h->client), -EIO);
        /* Only attempts on an insole that advertised count: at least 3 before the power cycle and
         * 3 after it. */
        assert_true(st.connect_failures >= 6);
        /* After giving up the client stays quiet: no more attempts. */
        run_for(h, 500 * USEC_PER_MSEC);
        assert_int_equal(link_stats(h, 0, DEVICE_ROLE_LEFT).connect_failures, st.connect_failures);
        harness_free(h);
}

/* Any process on the system bus can emit signals that look like BlueZ's: only bluetoothd's unique
 * name is believed. */
static void test_spoofed_signals_ignored(void **state) {
        Harness *h = harness_with_sim(FAST_RADIO "wearer anna left=" ANNA_L "\n");
        const char *dev = "/org/bluez/hci0/dev_AA_00_00_00_01_01";
        uint64_t frames, samples;

        config_wearer(&h->config, "anna", ANNA_L, NULL);
        harness_start_client(h);
        assert_true(run_until(h, all_streaming, NULL, 10 * USEC_PER_SEC));

        assert_true(sd_bus_emit_signal(h->ctl, dev, "org.freedesktop.DBus.Properties", "PropertiesChanged", "sa{sv}as",
                                       "org.bluez.Device1", 1, "Connected", "b", 0, 0) >= 0);
        assert_true(sd_bus_emit_signal(h->ctl, "/", "org.freedesktop.DBus.ObjectManager", "InterfacesRemoved", "oas",
                                       dev, 1, "org.bluez.Device1") >= 0);
        assert_true(sd_bus_emit_signal(h->ctl, "/", "org.freedesktop.DBus.ObjectManager", "InterfacesRemoved", "oas",
                                       "/org/bluez/hci0", 1, "org.bluez.Adapter1") >= 0);
        /* A forged frame on the pressure characteristic (it streams through AcquireNotify, but
         * the Value path must not be open to strangers either). */
        assert_true(sd_bus_emit_signal(h->ctl, "/org/bluez/hci0/dev_AA_00_00_00_01_01/service000a/char000b",
                                       "org.freedesktop.DBus.Properties", "PropertiesChanged", "sa{sv}as",
                                       "org.bluez.GattCharacteristic1", 1, "Value", "ay", 3, 1, 2, 3, 0) >= 0);
        assert_true(sd_bus_flush(h->ctl) >= 0);
        frames = link_stats(h, 0, DEVICE_ROLE_LEFT).frames_received;
        samples = h->obs[0][0].samples;
        run_for(h, USEC_PER_SEC);

        BluezLinkStats st = link_stats(h, 0, DEVICE_ROLE_LEFT);
        assert_int_equal(st.state, BLUEZ_LINK_STREAMING);
        assert_int_equal(h->obs[0][0].streaming_count, 1);
        assert_int_equal(h->obs[0][0].frames_rejected, 0);
        assert_true(h->obs[0][0].samples > samples + 80);
        assert_true(st.frames_received > frames);
        assert_int_equal(h->service_down, 0);
        harness_free(h);
}

static int teardown(void **state) {
        harness_free(current);
        return 0;
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_teardown(test_stream_two_wearers, teardown),
                cmocka_unit_test_teardown(test_bluetoothd_restart, teardown),
                cmocka_unit_test_teardown(test_out_of_range_steps_once, teardown),
                cmocka_unit_test_teardown(test_acquire_refused_uses_start_notify, teardown),
                cmocka_unit_test_teardown(test_malformed_frames_dropped, teardown),
                cmocka_unit_test_teardown(test_hundred_link_drops, teardown),
                cmocka_unit_test_teardown(test_stream_rate_and_link_rate, teardown),
                cmocka_unit_test_teardown(test_stream_rate_legacy_and_configured, teardown),
                cmocka_unit_test_teardown(test_hostile_names, teardown),
                cmocka_unit_test_teardown(test_watchdog_silent_link, teardown),
                cmocka_unit_test_teardown(test_routine_errors, teardown),
                cmocka_unit_test_teardown(test_connect_error_after_connected, teardown),
                cmocka_unit_test_teardown(test_no_power_on_while_bluetoothd_stops, teardown),
                cmocka_unit_test_teardown(test_adapter_power_and_removal, teardown),
                cmocka_unit_test_teardown(test_adapter_not_found, teardown),
                cmocka_unit_test_teardown(test_escalation_to_exit, teardown),
                cmocka_unit_test_teardown(test_spoofed_signals_ignored, teardown),
        };

        /* Make stdout line-buffered so TAP comments interleave with results. */
        setvbuf(stdout, NULL, _IOLBF, 0);
        if (getenv("BLUEZ_TEST_FILTER"))
                cmocka_set_test_filter(getenv("BLUEZ_TEST_FILTER"));
        signal(SIGPIPE, SIG_IGN);
        return cmocka_run_group_tests_name("bluez-integration", tests, NULL, NULL);
}
