/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <systemd/sd-bus.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>
#include "macro.h"
#include "open-insole-profile.h"
#include "sim-harness.h"
#include "time-util.h"

uint64_t now_ms(void) {
        return clock_now_usec(CLOCK_MONOTONIC) / USEC_PER_MSEC;
}

pid_t spawn(char **argv, int stdout_fd) {
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                /* never outlive the test, even when it is killed */
                (void) prctl(PR_SET_PDEATHSIG, SIGKILL);
                if (stdout_fd >= 0)
                        dup2(stdout_fd, STDOUT_FILENO);
                int null = open("/dev/null", O_RDWR);
                if (getenv("SIM_TEST_VERBOSE") == NULL)
                        dup2(null, STDERR_FILENO);
                execvp(argv[0], argv);
                _exit(127);
        }
        return pid;
}

void harness_start(Harness *h, const char *const *args) {
        const char *src = getenv("INSOLE2MQTT_SOURCE_ROOT"), *build = getenv("INSOLE2MQTT_BUILD_ROOT");
        char config[4096], address[256], sock[128], sim[4096];
        assert_non_null(src);
        assert_non_null(build);
        *h = (Harness) {};
        snprintf(h->dir, sizeof(h->dir), "/tmp/sim-test.XXXXXX");
        assert_non_null(mkdtemp(h->dir));
        snprintf(sock, sizeof(sock), "%s/system_bus_socket", h->dir);
        snprintf(config, sizeof(config), "--config-file=%s/tests/sim/dbus-system.conf", src);
        snprintf(address, sizeof(address), "--address=unix:path=%s", sock);
        char *bus_argv[] = { (char *) "dbus-daemon", config, address, (char *) "--nofork", (char *) "--nopidfile", NULL };
        h->bus_pid = spawn(bus_argv, -1);
        for (int i = 0; i < 200 && access(sock, F_OK) < 0; i++)
                usleep(10000);
        assert_int_equal(access(sock, F_OK), 0);
        snprintf(address, sizeof(address), "unix:path=%s", sock);
        setenv("DBUS_SYSTEM_BUS_ADDRESS", address, 1);

        snprintf(sim, sizeof(sim), "%s/tests/sim/insole-sim", build);
        char *argv[32] = { sim };
        size_t n = 1;
        for (; args && *args && n < 31; args++)
                argv[n++] = (char *) *args;
        argv[n] = NULL;
        int pipefd[2];
        assert_int_equal(pipe(pipefd), 0);
        h->sim_pid = spawn(argv, pipefd[1]);
        close(pipefd[1]);
        struct pollfd p = { .fd = pipefd[0], .events = POLLIN };
        char buf[64] = "";
        assert_true(poll(&p, 1, 5000) == 1);
        assert_true(read(pipefd[0], buf, sizeof(buf) - 1) > 0);
        assert_non_null(strstr(buf, "READY"));
        close(pipefd[0]);
        assert_int_equal(sd_bus_open_system(&h->bus), 0);
}

void harness_stop(Harness *h) {
        char cmd[128];
        h->bus = sd_bus_flush_close_unref(h->bus);
        if (h->sim_pid > 0) {
                kill(h->sim_pid, SIGTERM);
                int status;
                waitpid(h->sim_pid, &status, 0);
                /* the simulator must exit cleanly, also under the sanitizers */
                assert_true(WIFEXITED(status));
                assert_int_equal(WEXITSTATUS(status), 0);
        }
        if (h->bus_pid > 0) {
                kill(h->bus_pid, SIGTERM);
                waitpid(h->bus_pid, NULL, 0);
        }
        snprintf(cmd, sizeof(cmd), "rm -rf %s", h->dir);
        (void) system(cmd);
}

/* Lets signals in and lets time pass. */
void pump(Harness *h, unsigned ms) {
        uint64_t end = now_ms() + ms;
        while (now_ms() < end) {
                while (sd_bus_process(h->bus, NULL) > 0)
                        ;
                (void) sd_bus_wait(h->bus, 10000);
        }
}

int call(Harness *h, const char *path, const char *iface, const char *method, char *ret_error, sd_bus_message **reply,
                const char *types, ...) {
        sd_bus_error e = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        const char *dest = streq(iface, "net.insole2mqtt.Sim1") ? "net.insole2mqtt.Sim" : "org.bluez";
        int r = sd_bus_message_new_method_call(h->bus, &m, dest, path, iface, method);
        assert_int_equal(r, 0);
        if (types) {
                va_list ap;
                va_start(ap, types);
                r = sd_bus_message_appendv(m, types, ap);
                va_end(ap);
                assert_true(r >= 0);
        }
        r = sd_bus_call(h->bus, m, 10 * USEC_PER_SEC, &e, reply);
        if (ret_error)
                snprintf(ret_error, 256, "%s %s", strempty(e.name), strempty(e.message));
        sd_bus_error_free(&e);
        return r;
}

void ok(Harness *h, const char *path, const char *iface, const char *method) {
        char err[256];
        int r = call(h, path, iface, method, err, NULL, NULL);
        if (r < 0)
                fail_msg("%s.%s on %s: %s", iface, method, path, err);
}

void expect_error(Harness *h, const char *path, const char *iface, const char *method, const char *name) {
        char err[256];
        if (streq(method, "AcquireNotify") || streq(method, "ReadValue"))
                assert_true(call(h, path, iface, method, err, NULL, "a{sv}", 0) < 0);
        else
                assert_true(call(h, path, iface, method, err, NULL, NULL) < 0);
        if (strncmp(err, name, strlen(name)) != 0)
                fail_msg("%s: expected %s, got %s", method, name, err);
}

void action(Harness *h, const char *line) {
        char err[256];
        if (call(h, "/net/insole2mqtt/Sim", "net.insole2mqtt.Sim1", "Action", err, NULL, "s", line) < 0)
                fail_msg("Action(%s): %s", line, err);
}

uint64_t stat_u64(Harness *h, const char *address, const char *key) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        assert_true(call(h, "/net/insole2mqtt/Sim", "net.insole2mqtt.Sim1", "Stats", NULL, &reply, "s", address) >= 0);
        assert_true(sd_bus_message_enter_container(reply, 'a', "{sv}") > 0);
        while (sd_bus_message_enter_container(reply, 'e', "sv") > 0) {
                const char *k, *contents;
                assert_true(sd_bus_message_read(reply, "s", &k) >= 0);
                assert_true(sd_bus_message_peek_type(reply, NULL, &contents) >= 0);
                if (streq(k, key)) {
                        uint64_t v = 0;
                        if (streq(contents, "t"))
                                assert_true(sd_bus_message_read(reply, "v", "t", &v) >= 0);
                        else if (streq(contents, "b")) {
                                int b;
                                assert_true(sd_bus_message_read(reply, "v", "b", &b) >= 0);
                                v = (uint64_t) b;
                        } else if (streq(contents, "u")) {
                                uint32_t u;
                                assert_true(sd_bus_message_read(reply, "v", "u", &u) >= 0);
                                v = u;
                        } else if (streq(contents, "y")) {
                                uint8_t y;
                                assert_true(sd_bus_message_read(reply, "v", "y", &y) >= 0);
                                v = y;
                        } else if (streq(contents, "q")) {
                                uint16_t q;
                                assert_true(sd_bus_message_read(reply, "v", "q", &q) >= 0);
                                v = q;
                        } else
                                fail_msg("unexpected type %s", contents);
                        return v;
                }
                assert_true(sd_bus_message_skip(reply, "v") >= 0);
                assert_true(sd_bus_message_exit_container(reply) >= 0);
        }
        fail_msg("no stat %s", key);
        return 0;
}

int get_bool(Harness *h, const char *path, const char *iface, const char *prop) {
        int b = -1;
        sd_bus_error e = SD_BUS_ERROR_NULL;
        if (sd_bus_get_property_trivial(h->bus, "org.bluez", path, iface, prop, &e, 'b', &b) < 0)
                b = -1;
        sd_bus_error_free(&e);
        return b;
}

bool exists(Harness *h, const char *path, const char *iface) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        sd_bus_error e = SD_BUS_ERROR_NULL;
        int r = sd_bus_call_method(h->bus, "org.bluez", path, "org.freedesktop.DBus.Properties", "GetAll", &e, &reply, "s", iface);
        sd_bus_error_free(&e);
        if (r < 0)
                return false;
        /* sd-bus answers GetAll on a known path for an unknown interface with an empty dict */
        return sd_bus_message_enter_container(reply, 'a', "{sv}") > 0 && sd_bus_message_at_end(reply, false) == 0;
}

bool wait_bool(Harness *h, const char *path, const char *iface, const char *prop, int want, unsigned timeout_ms) {
        uint64_t end = now_ms() + timeout_ms;
        do {
                if (get_bool(h, path, iface, prop) == want)
                        return true;
                pump(h, 20);
        } while (now_ms() < end);
        return false;
}

bool wait_exists(Harness *h, const char *path, const char *iface, bool want, unsigned timeout_ms) {
        uint64_t end = now_ms() + timeout_ms;
        do {
                if (exists(h, path, iface) == want)
                        return true;
                pump(h, 20);
        } while (now_ms() < end);
        return false;
}

void discover(Harness *h) {
        ok(h, "/org/bluez/hci0", ADAPTER, "StartDiscovery");
        assert_true(wait_exists(h, L1_PATH, DEV, true, 2000));
}

void connect_l1(Harness *h) {
        discover(h);
        ok(h, L1_PATH, DEV, "Connect");
        /* Connect() returns once the services are resolved, GATT objects included */
        assert_int_equal(get_bool(h, L1_PATH, DEV, "ServicesResolved"), 1);
        assert_true(exists(h, FRAME_PATH, CHR));
}

int acquire(Harness *h, const char *path, uint16_t *ret_mtu) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        char err[256];
        int fd;
        uint16_t mtu;
        if (call(h, path, CHR, "AcquireNotify", err, &reply, "a{sv}", 0) < 0)
                fail_msg("AcquireNotify: %s", err);
        assert_true(sd_bus_message_read(reply, "hq", &fd, &mtu) >= 0);
        if (ret_mtu)
                *ret_mtu = mtu;
        return fcntl(fd, F_DUPFD_CLOEXEC, 3);
}



void parse_frame(const uint8_t *b, size_t len, Frame *f) {
        *f = (Frame) { .len = len };
        memcpy(f->raw, b, MIN(len, sizeof(f->raw)));
        if (len < OIP_FRAME_HEADER_SIZE)
                return;
        f->seq = (uint16_t) (b[2] | b[3] << 8);
        f->t0 = (uint32_t) b[4] | (uint32_t) b[5] << 8 | (uint32_t) b[6] << 16 | (uint32_t) b[7] << 24;
        f->period = (uint16_t) (b[8] | b[9] << 8);
        f->n_cells = b[10];
        f->n_samples = b[11];
}

/* Reads up to n frames arriving within timeout_ms. */
size_t read_frames(int fd, Frame *frames, size_t n, unsigned timeout_ms) {
        uint64_t end = now_ms() + timeout_ms;
        size_t k = 0;
        while (k < n && now_ms() < end) {
                struct pollfd p = { .fd = fd, .events = POLLIN };
                if (poll(&p, 1, 50) <= 0)
                        continue;
                uint8_t buf[600];
                ssize_t len = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
                if (len <= 0)
                        break;
                parse_frame(buf, (size_t) len, &frames[k++]);
        }
        return k;
}

bool fd_hung_up(int fd, unsigned timeout_ms) {
        uint64_t end = now_ms() + timeout_ms;
        while (now_ms() < end) {
                uint8_t buf[600];
                struct pollfd p = { .fd = fd, .events = POLLIN };
                if (poll(&p, 1, 50) <= 0)
                        continue;
                ssize_t len = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
                if (len == 0)
                        return true;
        }
        return false;
}

size_t managed_devices(Harness *h) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        size_t n = 0;
        assert_true(call(h, "/", "org.freedesktop.DBus.ObjectManager", "GetManagedObjects", NULL, &reply, NULL) >= 0);
        assert_true(sd_bus_message_enter_container(reply, 'a', "{oa{sa{sv}}}") > 0);
        while (sd_bus_message_enter_container(reply, 'e', "oa{sa{sv}}") > 0) {
                const char *path;
                assert_true(sd_bus_message_read(reply, "o", &path) >= 0);
                assert_true(sd_bus_message_enter_container(reply, 'a', "{sa{sv}}") > 0);
                while (sd_bus_message_enter_container(reply, 'e', "sa{sv}") > 0) {
                        const char *iface;
                        assert_true(sd_bus_message_read(reply, "s", &iface) >= 0);
                        if (streq(iface, DEV))
                                n++;
                        assert_true(sd_bus_message_skip(reply, "a{sv}") >= 0);
                        assert_true(sd_bus_message_exit_container(reply) >= 0);
                }
                assert_true(sd_bus_message_exit_container(reply) >= 0);
                assert_true(sd_bus_message_exit_container(reply) >= 0);
        }
        return n;
}


void read_value(Harness *h, const char *path, uint8_t *buf, size_t *len) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        char err[256];
        const void *v;
        size_t n;
        if (call(h, path, CHR, "ReadValue", err, &reply, "a{sv}", 0) < 0)
                fail_msg("ReadValue %s: %s", path, err);
        assert_true(sd_bus_message_read_array(reply, 'y', &v, &n) >= 0);
        memcpy(buf, v, MIN(n, *len));
        *len = n;
}
