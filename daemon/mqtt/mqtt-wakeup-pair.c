/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <mosquitto.h>
#include <sys/resource.h>
#include <unistd.h>

#include "log.h"
#include "mqtt-wakeup-pair.h"

/* libmosquitto 2.0 writes one byte to an internal socketpair for every packet it queues, to wake
 * its own select() loop (lib/packet_mosq.c, packet__queue()). Driven from sd-event, nobody reads
 * that pair: the writes are pure cost, and once it is full every one fails with EAGAIN. The pair
 * is made in mosquitto_new(), and when socketpair() fails libmosquitto goes on without it (lib/
 * mosquitto.c, mosquitto_reinitialise()). So create the client while no descriptor is free: the
 * soft RLIMIT_NOFILE is lowered to the lowest free descriptor for that one call. Nothing else
 * runs then (no threads yet); if anything about it fails, the client simply keeps its pair. */
struct mosquitto *mqtt_mosquitto_new_without_wakeup_pair(const char *id, bool clean_session, void *userdata) {
        struct rlimit saved, tight;
        struct mosquitto *mosq;
        int lowest_free;

        lowest_free = fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, 0);
        if (lowest_free < 0 || getrlimit(RLIMIT_NOFILE, &saved) < 0) {
                if (lowest_free >= 0)
                        (void) close(lowest_free);
                return mosquitto_new(id, clean_session, userdata);
        }
        (void) close(lowest_free);
        tight = (struct rlimit) { .rlim_cur = (rlim_t) lowest_free, .rlim_max = saved.rlim_max };
        if (tight.rlim_cur >= saved.rlim_cur || setrlimit(RLIMIT_NOFILE, &tight) < 0)
                return mosquitto_new(id, clean_session, userdata);
        mosq = mosquitto_new(id, clean_session, userdata);
        if (setrlimit(RLIMIT_NOFILE, &saved) < 0)
                log_warning_errno(-errno, "MQTT: cannot restore the file descriptor limit: %m");
        return mosq;
}
