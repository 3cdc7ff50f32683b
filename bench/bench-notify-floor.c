/* SPDX-License-Identifier: MIT */
/* The floors for bench/bench-load.py.
 *
 * The notify floor: the least a program can do to receive the insoles' notifications through
 * BlueZ's AcquireNotify. It connects the given Open Insole Profile devices on
 * $DBUS_SYSTEM_BUS_ADDRESS (the BlueZ simulator), acquires their pressure characteristic and then
 * only waits in epoll_wait() and takes one notification per ready socket with recv(), no decoding
 * beyond the sequence number (to count gaps) and the simulator's send time (load mode: t0_us is
 * CLOCK_MONOTONIC µs mod 2^32), to tell how late the recv() was.
 *
 * The publish floor (--publish PORT): the least a program can do to also publish every
 * notification: per notification one hand-made MQTT 3.1.1 PUBLISH, QoS 0, with one send() to the
 * broker on 127.0.0.1:PORT (TCP_NODELAY, as the gateway). Topic bench/floor/<n>, payload the frame
 * as received, zero-padded to PAYLOAD_SIZE bytes (about a raw `pressure` message of the gateway),
 * so a subscriber reads the sequence number and the send time at the same offsets as in the frame.
 * --cork: corks the socket over a wake-up that publishes more than one message, as the gateway's
 * client_flush() does. --batch: one send() per wake-up for all its messages.
 *
 * Built with WITH_LIBMOSQUITTO (bench-publish-floor-mosquitto): the same publishes through
 * libmosquitto instead of by hand, as the gateway publishes: a client without the wake-up
 * socketpair (mqtt-wakeup-pair.h), TCP_NODELAY, mosquitto_publish() QoS 0 outside any callback,
 * which libmosquitto writes at once with one send() per packet; --cork as above. What any
 * libmosquitto program pays to publish every notification, with no decoding and no JSON. Its own
 * binary, so that the plain floor maps neither libmosquitto nor OpenSSL.
 *
 * SIGUSR1 prints the counters so far, and the notification -> recv() latency since the previous
 * SIGUSR1 (10 µs bins):
 *
 *     notifications N gaps G latency_us P50 P99 MAX
 *
 *     bench-notify-floor [--publish PORT [--cork|--batch]] ADDRESS...
 *     bench-publish-floor-mosquitto --publish PORT [--cork] ADDRESS...
 *
 * Set-up uses blocking D-Bus calls: this is a benchmark, not the gateway. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
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

#include "file-io.h"

#ifndef WITH_LIBMOSQUITTO
#define WITH_LIBMOSQUITTO 0
#endif
#if WITH_LIBMOSQUITTO
#include <mosquitto.h>

#include "mqtt-wakeup-pair.h"
#endif

#define MAX_DEVICES 64
/* The simulator's object layout (docs/simulator.md): service000a/char000b is the pressure frame. */
#define PRESSURE_CHAR "/service000a/char000b"
/* The gateway's raw `pressure` messages from the simulator are 124-140 bytes (8 cells, no IMU). */
#define PAYLOAD_SIZE 140
/* packet type (1) + remaining length (2) + topic length (2) + "bench/floor/NN" + payload */
#define PACKET_MAX (6 + 16 + PAYLOAD_SIZE)
#define LAT_BIN_US 10
#define LAT_BINS 20000 /* up to 200 ms; later ones count in the last bin, and in the maximum */

typedef struct Insole {
        int fd;
        bool have_seq;
        uint16_t seq;
        /* The PUBLISH packet, header and topic written once; the payload is rewritten. */
        uint8_t packet[PACKET_MAX];
        size_t payload_offset, packet_size;
        char topic[17];
} Insole;

enum { PUBLISH_NONE, PUBLISH_EACH, PUBLISH_CORK, PUBLISH_BATCH };

static uint64_t notifications, gaps;
static uint32_t latency_bins[LAT_BINS], latency_max;
static uint64_t latency_count;
static int mqtt_fd = -1, publish_mode = PUBLISH_NONE;
static uint8_t batch[MAX_DEVICES * PACKET_MAX];
static size_t batch_size;
#if WITH_LIBMOSQUITTO
static struct mosquitto *mosq;
static bool mosq_connected;
static int mosq_marker; /* the epoll tag of libmosquitto's socket */
#endif

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

/* MQTT's variable byte integer; returns the bytes written (at most 4). */
static size_t put_varint(uint8_t *p, size_t v) {
        size_t n = 0;

        do {
                p[n] = (uint8_t) (v % 128);
                v /= 128;
                if (v > 0)
                        p[n] |= 0x80;
                n++;
        } while (v > 0 && n < 4);
        return n;
}

#if !WITH_LIBMOSQUITTO
/* Connects to the broker: CONNECT (MQTT 3.1.1, clean session) and its CONNACK, blocking. */
static int mqtt_connect(uint16_t port) {
        struct sockaddr_in sa = {
                .sin_family = AF_INET,
                .sin_port = htons(port),
                .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
        };
        uint8_t pkt[64], ack[4];
        char id[32];
        size_t id_len, o = 0;
        int fd, one = 1, r;

        id_len = (size_t) snprintf(id, sizeof(id), "bench-floor-%d", (int) getpid());
        fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        /* As the gateway (MOSQ_OPT_TCP_NODELAY): a message leaves when it is sent. */
        (void) setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        if (connect(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0) {
                r = -errno;
                close(fd);
                return r;
        }
        pkt[o++] = 0x10;
        o += put_varint(pkt + o, 10 + 2 + id_len);
        memcpy(pkt + o, "\0\4MQTT\4\2\0\74", 10); /* protocol name, level 4, clean session, keep-alive 60 s */
        o += 10;
        pkt[o++] = 0;
        pkt[o++] = (uint8_t) id_len;
        memcpy(pkt + o, id, id_len);
        o += id_len;
        r = write_all(fd, pkt, o);
        if (r >= 0 && recv(fd, ack, sizeof(ack), MSG_WAITALL) != (ssize_t) sizeof(ack))
                r = -EPROTO;
        if (r >= 0 && (ack[0] != 0x20 || ack[3] != 0))
                r = -ECONNREFUSED;
        if (r < 0) {
                close(fd);
                return r;
        }
        return fd;
}
#else
static void on_connect(struct mosquitto *m, void *userdata, int rc) {
        (void) m;
        (void) userdata;
        mosq_connected = rc == 0;
}

/* Connects through libmosquitto (MQTT 3.1.1, clean session) and waits for the CONNACK with
 * libmosquitto's own loop, which is fine before the measurement; returns the client's socket. The
 * keep-alive is long enough for any run: nothing calls mosquitto_loop_misc() later. */
static int mqtt_connect(uint16_t port) {
        char id[32];
        int rc;

        (void) mosquitto_lib_init();
        (void) snprintf(id, sizeof(id), "bench-floor-%d", (int) getpid());
        mosq = mqtt_mosquitto_new_without_wakeup_pair(id, true, NULL);
        if (!mosq)
                return -ENOMEM;
        (void) mosquitto_int_option(mosq, MOSQ_OPT_TCP_NODELAY, 1);
        mosquitto_connect_callback_set(mosq, on_connect);
        rc = mosquitto_connect(mosq, "127.0.0.1", port, 3600);
        for (int i = 0; rc == MOSQ_ERR_SUCCESS && !mosq_connected && i < 50; i++)
                rc = mosquitto_loop(mosq, 100, 1);
        if (rc != MOSQ_ERR_SUCCESS || !mosq_connected)
                return -ECONNREFUSED;
        return mosquitto_socket(mosq);
}
#endif

static void publish_prepare(Insole *in, int index) {
        size_t topic_len, o = 0;

        topic_len = (size_t) snprintf(in->topic, sizeof(in->topic), "bench/floor/%d", index);
        in->packet[o++] = 0x30; /* PUBLISH, QoS 0, no retain */
        o += put_varint(in->packet + o, 2 + topic_len + PAYLOAD_SIZE);
        in->packet[o++] = 0;
        in->packet[o++] = (uint8_t) topic_len;
        memcpy(in->packet + o, in->topic, topic_len);
        in->payload_offset = o + topic_len;
        in->packet_size = in->payload_offset + PAYLOAD_SIZE;
}

static int publish(Insole *in, const uint8_t *buf, size_t n) {
        uint8_t *payload = in->packet + in->payload_offset;

        n = n < PAYLOAD_SIZE ? n : PAYLOAD_SIZE;
        memcpy(payload, buf, n);
        memset(payload + n, 0, PAYLOAD_SIZE - n);
#if WITH_LIBMOSQUITTO
        int rc = mosquitto_publish(mosq, NULL, in->topic, PAYLOAD_SIZE, payload, 0, false);
        return rc == MOSQ_ERR_SUCCESS ? 0 : -EIO;
#else
        if (publish_mode != PUBLISH_BATCH)
                return write_all(mqtt_fd, in->packet, in->packet_size);
        memcpy(batch + batch_size, in->packet, in->packet_size);
        batch_size += in->packet_size;
        return 0;
#endif
}

static void latency_add(const uint8_t *buf) {
        struct timespec ts;
        uint32_t sent, now, us;

        (void) clock_gettime(CLOCK_MONOTONIC, &ts);
        now = (uint32_t) ((uint64_t) ts.tv_sec * 1000000 + (uint64_t) ts.tv_nsec / 1000);
        sent = (uint32_t) (buf[4] | buf[5] << 8 | buf[6] << 16 | (uint32_t) buf[7] << 24);
        us = now - sent; /* both mod 2^32 */
        latency_bins[us / LAT_BIN_US < LAT_BINS ? us / LAT_BIN_US : LAT_BINS - 1]++;
        if (us > latency_max)
                latency_max = us;
        latency_count++;
}

/* The upper edge of the bin holding the fraction f of the latencies, in µs. */
static unsigned latency_quantile(double f) {
        uint64_t want = (uint64_t) (f * (double) latency_count), seen = 0;

        for (unsigned i = 0; i < LAT_BINS; i++) {
                seen += latency_bins[i];
                if (seen > want)
                        return (i + 1) * LAT_BIN_US;
        }
        return LAT_BINS * LAT_BIN_US;
}

static void print_counters(void) {
        printf("notifications %llu gaps %llu latency_us %u %u %u\n", (unsigned long long) notifications,
               (unsigned long long) gaps, latency_quantile(0.5), latency_quantile(0.99), latency_max);
        fflush(stdout);
        memset(latency_bins, 0, sizeof(latency_bins));
        latency_count = 0;
        latency_max = 0;
}

static int on_notification(Insole *in, const uint8_t *buf, ssize_t n) {
        uint16_t seq;

        notifications++;
        if (n < 8)
                return 0;
        latency_add(buf);
        seq = (uint16_t) (buf[2] | buf[3] << 8);
        if (in->have_seq)
                gaps += (uint16_t) (seq - in->seq - 1);
        in->seq = seq;
        in->have_seq = true;
        return mqtt_fd >= 0 ? publish(in, buf, (size_t) n) : 0;
}

static void cork(int on) {
        (void) setsockopt(mqtt_fd, IPPROTO_TCP, TCP_CORK, &on, sizeof(on));
}

int main(int argc, char **argv) {
        static const struct option options[] = {
                { "publish", required_argument, NULL, 'p' },
                { "cork", no_argument, NULL, 'c' },
                { "batch", no_argument, NULL, 'b' },
                {},
        };
        static Insole insoles[MAX_DEVICES];
        struct epoll_event events[MAX_DEVICES + 1];
        sd_bus *bus = NULL;
        sigset_t mask;
        long port = 0;
        int ep, sfd, n, c, r;

        while ((c = getopt_long(argc, argv, "", options, NULL)) >= 0) {
                switch (c) {
                case 'p':
                        port = strtol(optarg, NULL, 10);
                        if (publish_mode == PUBLISH_NONE)
                                publish_mode = PUBLISH_EACH;
                        break;
                case 'c':
                        publish_mode = PUBLISH_CORK;
                        break;
                case 'b':
                        publish_mode = PUBLISH_BATCH;
                        break;
                default:
                        return 2;
                }
        }
        n = argc - optind;
        if (n < 1 || n > MAX_DEVICES || (publish_mode != PUBLISH_NONE && (port <= 0 || port > 65535))) {
                fprintf(stderr, "usage: %s [--publish PORT [--cork|--batch]] ADDRESS... (at most %d)\n", argv[0],
                        MAX_DEVICES);
                return 2;
        }
#if WITH_LIBMOSQUITTO
        if (publish_mode == PUBLISH_NONE || publish_mode == PUBLISH_BATCH) {
                fprintf(stderr, "%s: publishes through libmosquitto: --publish PORT [--cork]\n", argv[0]);
                return 2;
        }
#endif
        if (publish_mode != PUBLISH_NONE) {
                /* A broker that goes away is an error from write_all(), not a SIGPIPE. */
                (void) signal(SIGPIPE, SIG_IGN);
                mqtt_fd = mqtt_connect((uint16_t) port);
                if (mqtt_fd < 0) {
                        fprintf(stderr, "MQTT broker on port %ld: %s\n", port, strerror(-mqtt_fd));
                        return 1;
                }
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
#if WITH_LIBMOSQUITTO
        /* The broker's few packets to us (none expected at QoS 0, but a client must read them). */
        (void) epoll_ctl(ep, EPOLL_CTL_ADD, mqtt_fd,
                         &(struct epoll_event) { .events = EPOLLIN, .data.ptr = &mosq_marker });
#endif

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
                if (acquire(bus, argv[optind + i], &insoles[i]) < 0)
                        return 1;
                if (mqtt_fd >= 0)
                        publish_prepare(&insoles[i], i);
                (void) epoll_ctl(ep, EPOLL_CTL_ADD, insoles[i].fd,
                                 &(struct epoll_event) { .events = EPOLLIN, .data.ptr = &insoles[i] });
        }
        printf("READY\n");
        fflush(stdout);

        for (;;) {
                int k = epoll_wait(ep, events, MAX_DEVICES + 1, -1);
                /* As the gateway: cork only when the wake-up will publish more than one message. */
                bool corked = publish_mode == PUBLISH_CORK && k > 1;

                if (corked)
                        cork(1);
                for (int i = 0; i < k; i++) {
                        Insole *in = events[i].data.ptr;
                        uint8_t buf[1024];

#if WITH_LIBMOSQUITTO
                        if (events[i].data.ptr == &mosq_marker) {
                                if (mosquitto_loop_read(mosq, 1) != MOSQ_ERR_SUCCESS) {
                                        fprintf(stderr, "the broker closed the connection\n");
                                        return 1;
                                }
                                continue;
                        }
#endif
                        if (!in) {
                                struct signalfd_siginfo si;
                                if (read(sfd, &si, sizeof(si)) != sizeof(si))
                                        continue;
                                print_counters();
                                if (si.ssi_signo != SIGUSR1)
                                        return 0;
                                continue;
                        }
                        ssize_t len = recv(in->fd, buf, sizeof(buf), MSG_DONTWAIT);
                        if (len > 0)
                                r = on_notification(in, buf, len);
                        else if (len == 0 || (errno != EAGAIN && errno != EINTR)) {
                                fprintf(stderr, "a notification socket closed\n");
                                return 1;
                        } else
                                r = 0;
                        if (r < 0) {
                                fprintf(stderr, "publishing: %s\n", strerror(-r));
                                return 1;
                        }
                }
                if (corked)
                        cork(0);
#if WITH_LIBMOSQUITTO
                /* A send() that did not take the whole packet leaves the rest to loop_write(). */
                if (mosquitto_want_write(mosq))
                        (void) mosquitto_loop_write(mosq, 1);
#endif
                if (batch_size > 0) {
                        r = write_all(mqtt_fd, batch, batch_size);
                        if (r < 0) {
                                fprintf(stderr, "publishing: %s\n", strerror(-r));
                                return 1;
                        }
                        batch_size = 0;
                }
        }
}
