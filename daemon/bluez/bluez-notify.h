/* SPDX-License-Identifier: MIT */
#pragma once

/* Reads every AcquireNotify socket from one sd-event source. sd-event dispatches one source per
 * loop iteration, so with one source per socket every notification paid for its own iteration
 * (epoll_wait, a recv, a second recv that returns EAGAIN). Here the sockets sit in an inner epoll
 * set: one wake-up asks it which sockets are ready and takes up to NOTIFY_BATCH notifications
 * from each with one recvmmsg(), so a flooding insole cannot starve the others (the set is
 * level-triggered: what is left is reported again on the next iteration). */

#include <stddef.h>
#include <stdint.h>
#include <systemd/sd-event.h>

#include "macro.h"

/* Notifications taken from one socket per wake-up. */
#define NOTIFY_BATCH 16
/* Large enough for any ATT MTU (517) plus slack: SOCK_SEQPACKET truncates shorter reads. */
#define NOTIFY_BUFFER_SIZE 1024

typedef struct NotifyDrain NotifyDrain;

/* One notification. May remove any reader, this one included. */
typedef void (*NotifyValueHandler)(void *userdata, const uint8_t *data, size_t len);
/* The peer closed the socket (or it failed): the reader is already removed; the fd is still the
 * caller's to close. */
typedef void (*NotifyClosedHandler)(void *userdata);

/* Asked after every wake-up: > 0 waits that long before the next one, so that the notifications
 * of several insoles, and several of each, are read together (fewer wake-ups and reads, that much
 * more latency). */
typedef uint64_t (*NotifyCoalesceFunc)(void *userdata);

int notify_drain_new(sd_event *event, NotifyCoalesceFunc coalesce, void *userdata, NotifyDrain **ret);
NotifyDrain *notify_drain_free(NotifyDrain *d);
DEFINE_TRIVIAL_CLEANUP_FUNC(NotifyDrain *, notify_drain_free);

/* Watches fd (non-blocking, owned by the caller) until notify_drain_remove(). *ret_id is never 0. */
int notify_drain_add(NotifyDrain *d, int fd, NotifyValueHandler on_value, NotifyClosedHandler on_closed,
                     void *userdata, uint64_t *ret_id);
/* Safe from inside the handlers; id 0 and ids already removed are ignored. */
void notify_drain_remove(NotifyDrain *d, uint64_t id);

/* For the benchmark and tests: wake-ups and notifications read so far. */
void notify_drain_counts(const NotifyDrain *d, uint64_t *ret_wakeups, uint64_t *ret_notifications);
