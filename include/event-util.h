/* SPDX-License-Identifier: MIT */
#pragma once

/* The one way to read the loop's clock and to (re)arm a timer in sd-event (daemon/util/event-util.c). */

#include <stdint.h>
#include <systemd/sd-event.h>

/* The time of the current loop iteration (sd_event_now()); before the loop first ran, or when
 * sd-event cannot tell, the clock itself. */
uint64_t event_now_usec(sd_event *e, clockid_t clock);

/* sd-event time sources are one-shot: sets the next time and enables the source again. */
int event_timer_rearm(sd_event_source *s, uint64_t usec);

/* Fires callback at usec (absolute, on clock): creates *s on first use, re-arms it afterwards.
 * accuracy 0 means sd-event's default of 250 ms. description names a new source (may be NULL). */
int event_timer_arm(sd_event *e, sd_event_source **s, clockid_t clock, uint64_t usec, uint64_t accuracy,
                    sd_event_time_handler_t callback, void *userdata, const char *description);
