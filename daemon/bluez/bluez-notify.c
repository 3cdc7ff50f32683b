/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bluez-notify.h"
#include "event-util.h"
#include "log.h"

/* Ready sockets taken from the inner set per wake-up; more are reported on the next one. */
#define NOTIFY_EVENTS_MAX 32

typedef struct NotifyReader {
        int fd;                 /* -1: free slot */
        uint32_t generation;    /* bumped on removal: stale ids and epoll events are ignored */
        NotifyValueHandler on_value;
        NotifyClosedHandler on_closed;
        void *userdata;
} NotifyReader;

struct NotifyDrain {
        sd_event *event;
        int epoll_fd;
        sd_event_source *io;
        sd_event_source *coalesce_timer;
        NotifyCoalesceFunc coalesce;
        void *coalesce_userdata;

        NotifyReader *readers;  /* indexed by the low half of an id - 1 */
        size_t n_readers;

        uint64_t wakeups;
        uint64_t notifications;

        uint8_t buffers[NOTIFY_BATCH][NOTIFY_BUFFER_SIZE];
};

static uint64_t reader_id(const NotifyDrain *d, const NotifyReader *r) {
        return ((uint64_t) r->generation << 32) | (uint64_t) (r - d->readers + 1);
}

static NotifyReader *reader_lookup(NotifyDrain *d, uint64_t id) {
        size_t index = (size_t) (id & UINT32_MAX);
        NotifyReader *r;

        if (index == 0 || index > d->n_readers)
                return NULL;
        r = &d->readers[index - 1];
        if (r->fd < 0 || r->generation != (uint32_t) (id >> 32))
                return NULL;
        return r;
}

static void reader_release(NotifyDrain *d, NotifyReader *r) {
        /* The fd is still open (the caller closes it after us), so EPOLL_CTL_DEL cannot hit a
         * recycled descriptor. */
        (void) epoll_ctl(d->epoll_fd, EPOLL_CTL_DEL, r->fd, NULL);
        r->fd = -1;
        r->generation++;
}

/* Up to NOTIFY_BATCH notifications in one system call; recvmmsg() stops at an empty queue by
 * itself, so no read is spent learning that it is empty. */
static void reader_drain(NotifyDrain *d, uint64_t id, uint32_t events) {
        struct mmsghdr msgs[NOTIFY_BATCH];
        struct iovec iov[NOTIFY_BATCH];
        NotifyReader *r = reader_lookup(d, id);
        bool closed = false;
        int n;

        if (!r)
                return; /* removed by a handler earlier in this wake-up */

        if (events & EPOLLIN) {
                memset(msgs, 0, sizeof(msgs));
                for (size_t i = 0; i < NOTIFY_BATCH; i++) {
                        iov[i] = (struct iovec) { .iov_base = d->buffers[i], .iov_len = NOTIFY_BUFFER_SIZE };
                        msgs[i].msg_hdr.msg_iov = &iov[i];
                        msgs[i].msg_hdr.msg_iovlen = 1;
                }
                n = recvmmsg(r->fd, msgs, NOTIFY_BATCH, MSG_DONTWAIT, NULL);
                if (n < 0)
                        closed = errno != EAGAIN && errno != EINTR;
                for (int i = 0; i < n; i++) {
                        if (msgs[i].msg_len == 0) {
                                closed = true; /* end of file: BlueZ closed its end */
                                break;
                        }
                        d->notifications++;
                        r->on_value(r->userdata, d->buffers[i], msgs[i].msg_len);
                        r = reader_lookup(d, id);
                        if (!r)
                                return;
                }
        } else if (events & (EPOLLHUP | EPOLLERR))
                closed = true;

        if (closed) {
                NotifyClosedHandler on_closed = r->on_closed;
                void *userdata = r->userdata;

                reader_release(d, r);
                if (on_closed)
                        on_closed(userdata);
        }
}

static void drain_ready(NotifyDrain *d) {
        struct epoll_event events[NOTIFY_EVENTS_MAX];
        int n;

        n = epoll_wait(d->epoll_fd, events, NOTIFY_EVENTS_MAX, 0);
        if (n < 0) {
                if (errno != EINTR)
                        log_debug_errno(-errno, "Polling the notification sockets failed: %m");
                return;
        }
        d->wakeups++;
        for (int i = 0; i < n; i++)
                reader_drain(d, events[i].data.u64, events[i].events);
}

static int on_coalesce_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        NotifyDrain *d = userdata;

        /* Level-triggered: whatever arrived meanwhile wakes us right away. */
        return sd_event_source_set_enabled(d->io, SD_EVENT_ON);
}

static int on_ready(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        NotifyDrain *d = userdata;
        uint64_t now, window;
        int r;

        drain_ready(d);
        window = d->coalesce ? d->coalesce(d->coalesce_userdata) : 0;
        if (window == 0)
                return 0;

        r = sd_event_now(d->event, CLOCK_MONOTONIC, &now);
        if (r < 0)
                return 0;
        r = event_timer_arm(d->event, &d->coalesce_timer, CLOCK_MONOTONIC, now + window, 1, on_coalesce_timer, d,
                            "bluez-notify-coalesce");
        if (r < 0) {
                log_debug_errno(r, "Cannot coalesce notification wake-ups, reading at once: %m");
                return 0;
        }
        (void) sd_event_source_set_enabled(d->io, SD_EVENT_OFF);
        return 0;
}

int notify_drain_new(sd_event *event, NotifyCoalesceFunc coalesce, void *userdata, NotifyDrain **ret) {
        _cleanup_(notify_drain_freep) NotifyDrain *d = NULL;
        int r;

        if (!event || !ret)
                return -EINVAL;
        d = calloc(1, sizeof(*d));
        if (!d)
                return -ENOMEM;
        d->event = sd_event_ref(event);
        d->coalesce = coalesce;
        d->coalesce_userdata = userdata;
        d->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
        if (d->epoll_fd < 0)
                return -errno;
        r = sd_event_add_io(event, &d->io, d->epoll_fd, EPOLLIN, on_ready, d);
        if (r < 0)
                return r;
        (void) sd_event_source_set_description(d->io, "bluez-notify");
        *ret = TAKE_PTR(d);
        return 0;
}

NotifyDrain *notify_drain_free(NotifyDrain *d) {
        if (!d)
                return NULL;
        d->io = sd_event_source_disable_unref(d->io);
        d->coalesce_timer = sd_event_source_disable_unref(d->coalesce_timer);
        if (d->epoll_fd >= 0)
                (void) close(d->epoll_fd);
        free(d->readers);
        sd_event_unref(d->event);
        free(d);
        return NULL;
}

int notify_drain_add(NotifyDrain *d, int fd, NotifyValueHandler on_value, NotifyClosedHandler on_closed,
                     void *userdata, uint64_t *ret_id) {
        NotifyReader *r = NULL;
        struct epoll_event ev;

        if (!d || fd < 0 || !on_value || !ret_id)
                return -EINVAL;
        for (size_t i = 0; i < d->n_readers; i++)
                if (d->readers[i].fd < 0) {
                        r = &d->readers[i];
                        break;
                }
        if (!r) {
                NotifyReader *grown = reallocarray(d->readers, d->n_readers + 1, sizeof(*grown));
                if (!grown)
                        return -ENOMEM;
                d->readers = grown;
                r = &d->readers[d->n_readers++];
                *r = (NotifyReader) { .fd = -1 };
        }

        r->fd = fd;
        ev = (struct epoll_event) { .events = EPOLLIN, .data.u64 = reader_id(d, r) };
        if (epoll_ctl(d->epoll_fd, EPOLL_CTL_ADD, fd, &ev) < 0) {
                r->fd = -1;
                return -errno;
        }
        r->on_value = on_value;
        r->on_closed = on_closed;
        r->userdata = userdata;
        *ret_id = reader_id(d, r);
        return 0;
}

void notify_drain_remove(NotifyDrain *d, uint64_t id) {
        NotifyReader *r;

        if (!d || id == 0)
                return;
        r = reader_lookup(d, id);
        if (r)
                reader_release(d, r);
}

void notify_drain_counts(const NotifyDrain *d, uint64_t *ret_wakeups, uint64_t *ret_notifications) {
        if (ret_wakeups)
                *ret_wakeups = d ? d->wakeups : 0;
        if (ret_notifications)
                *ret_notifications = d ? d->notifications : 0;
}
