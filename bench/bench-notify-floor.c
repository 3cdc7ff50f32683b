/* SPDX-License-Identifier: MIT */
/* The floor for bench/bench-load.py: the least a program can do to receive the insoles'
 * notifications through BlueZ's AcquireNotify. It connects the given Open Insole Profile devices
 * on $DBUS_SYSTEM_BUS_ADDRESS (the BlueZ simulator), acquires their pressure characteristic and
 * then only waits in epoll_wait() and takes one notification per ready socket with recv(), no
 * decoding beyond the sequence number (to count gaps). SIGUSR1 prints the counters so far:
 *
 *     notifications N gaps G
 *
 *     bench-notify-floor ADDRESS...
 *
 * Set-up uses blocking D-Bus calls: this is a benchmark, not the gateway. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <systemd/sd-bus.h>
#include <time.h>
#include <unistd.h>

#define MAX_DEVICES 64
/* The simulator's object layout (docs/simulator.md): service000a/char000b is the pressure frame. */
#define PRESSURE_CHAR "/service000a/char000b"

typedef struct Insole {
        int fd;
        bool have_seq;
        uint16_t seq;
} Insole;

static uint64_t notifications, gaps;

static void device_path(const char *address, char *buf, size_t size) {
        size_t o = (size_t) snprintf(buf, size, "/org/bluez/hci0/dev_");
        for (const char *p = address; *p && o + 1 < size; p++)
                buf[o++] = *p == ':' ? '_' : *p;
        buf[o] = '\0';
}

static int wait_resolved(sd_bus *bus, const char *path) {
        for (int i = 0; i < 200; i++) {
                int resolved = 0, r;

                r = sd_bus_get_property_trivial(bus, "org.bluez", path, "org.bluez.Device1", "ServicesResolved", NULL,
                                                'b', &resolved);
                if (r >= 0 && resolved)
                        return 0;
                (void) nanosleep(&(struct timespec) { .tv_nsec = 50 * 1000 * 1000 }, NULL);
        }
        return -ETIMEDOUT;
}

static int acquire(sd_bus *bus, const char *address, Insole *ret) {
        sd_bus_error error = SD_BUS_ERROR_NULL;
        sd_bus_message *reply = NULL;
        char dev[128], chr[160];
        uint16_t mtu;
        int fd, r;

        device_path(address, dev, sizeof(dev));
        /* The device object appears once discovery saw it advertise. */
        for (int i = 0; i < 200; i++) {
                sd_bus_error_free(&error);
                r = sd_bus_call_method(bus, "org.bluez", dev, "org.bluez.Device1", "Connect", &error, NULL, "");
                if (r >= 0 || !sd_bus_error_has_name(&error, SD_BUS_ERROR_UNKNOWN_OBJECT))
                        break;
                (void) nanosleep(&(struct timespec) { .tv_nsec = 50 * 1000 * 1000 }, NULL);
        }
        if (r < 0 && !sd_bus_error_has_name(&error, "org.bluez.Error.AlreadyConnected")) {
                fprintf(stderr, "Connect %s: %s\n", address, error.message ?: strerror(-r));
                sd_bus_error_free(&error);
                return r;
        }
        sd_bus_error_free(&error);
        r = wait_resolved(bus, dev);
        if (r < 0) {
                fprintf(stderr, "%s: services not resolved\n", address);
                return r;
        }
        (void) snprintf(chr, sizeof(chr), "%s%s", dev, PRESSURE_CHAR);
        r = sd_bus_call_method(bus, "org.bluez", chr, "org.bluez.GattCharacteristic1", "AcquireNotify", &error, &reply,
                               "a{sv}", 0);
        if (r < 0) {
                fprintf(stderr, "AcquireNotify %s: %s\n", address, error.message ?: strerror(-r));
                sd_bus_error_free(&error);
                return r;
        }
        r = sd_bus_message_read(reply, "hq", &fd, &mtu);
        if (r >= 0) {
                ret->fd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
                r = ret->fd < 0 ? -errno : 0;
        }
        sd_bus_message_unref(reply);
        return r;
}

static void on_notification(Insole *in, const uint8_t *buf, ssize_t n) {
        uint16_t seq;

        notifications++;
        if (n < 4)
                return;
        seq = (uint16_t) (buf[2] | buf[3] << 8);
        if (in->have_seq)
                gaps += (uint16_t) (seq - in->seq - 1);
        in->seq = seq;
        in->have_seq = true;
}

int main(int argc, char **argv) {
        static Insole insoles[MAX_DEVICES];
        struct epoll_event events[MAX_DEVICES + 1];
        sd_bus *bus = NULL;
        sigset_t mask;
        int ep, sfd, n = argc - 1, r;

        if (n < 1 || n > MAX_DEVICES) {
                fprintf(stderr, "usage: %s ADDRESS... (at most %d)\n", argv[0], MAX_DEVICES);
                return 2;
        }
        r = sd_bus_open_system(&bus);
        if (r < 0) {
                fprintf(stderr, "system bus: %s\n", strerror(-r));
                return 1;
        }
        ep = epoll_create1(EPOLL_CLOEXEC);
        sigemptyset(&mask);
        sigaddset(&mask, SIGUSR1);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        sigprocmask(SIG_BLOCK, &mask, NULL);
        sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
        (void) epoll_ctl(ep, EPOLL_CTL_ADD, sfd, &(struct epoll_event) { .events = EPOLLIN, .data.ptr = NULL });

        /* bluetoothd (the simulator) may still be starting. */
        for (int i = 0; i < 100; i++) {
                r = sd_bus_call_method(bus, "org.bluez", "/org/bluez/hci0", "org.bluez.Adapter1", "StartDiscovery", NULL,
                                       NULL, "");
                if (r >= 0)
                        break;
                (void) nanosleep(&(struct timespec) { .tv_nsec = 50 * 1000 * 1000 }, NULL);
        }
        if (r < 0) {
                fprintf(stderr, "StartDiscovery: %s\n", strerror(-r));
                return 1;
        }
        for (int i = 0; i < n; i++) {
                if (acquire(bus, argv[i + 1], &insoles[i]) < 0)
                        return 1;
                (void) epoll_ctl(ep, EPOLL_CTL_ADD, insoles[i].fd,
                                 &(struct epoll_event) { .events = EPOLLIN, .data.ptr = &insoles[i] });
        }
        printf("READY\n");
        fflush(stdout);

        for (;;) {
                int k = epoll_wait(ep, events, MAX_DEVICES + 1, -1);

                for (int i = 0; i < k; i++) {
                        Insole *in = events[i].data.ptr;
                        uint8_t buf[1024];

                        if (!in) {
                                struct signalfd_siginfo si;
                                if (read(sfd, &si, sizeof(si)) != sizeof(si))
                                        continue;
                                printf("notifications %llu gaps %llu\n", (unsigned long long) notifications,
                                       (unsigned long long) gaps);
                                fflush(stdout);
                                if (si.ssi_signo != SIGUSR1)
                                        return 0;
                                continue;
                        }
                        ssize_t len = recv(in->fd, buf, sizeof(buf), MSG_DONTWAIT);
                        if (len > 0)
                                on_notification(in, buf, len);
                        else if (len == 0 || (errno != EAGAIN && errno != EINTR)) {
                                fprintf(stderr, "a notification socket closed\n");
                                return 1;
                        }
                }
        }
}
