/* SPDX-License-Identifier: MIT */
#include "event-util.h"
#include "time-util.h"

uint64_t event_now_usec(sd_event *e, clockid_t clock) {
        uint64_t t;

        if (!e || sd_event_now(e, clock, &t) < 0)
                return clock_now_usec(clock);
        return t;
}

int event_timer_rearm(sd_event_source *s, uint64_t usec) {
        int r;

        r = sd_event_source_set_time(s, usec);
        if (r < 0)
                return r;
        return sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
}

int event_timer_arm(sd_event *e, sd_event_source **s, clockid_t clock, uint64_t usec, uint64_t accuracy,
                    sd_event_time_handler_t callback, void *userdata, const char *description) {
        int r;

        if (*s)
                return event_timer_rearm(*s, usec);
        r = sd_event_add_time(e, s, clock, usec, accuracy, callback, userdata);
        if (r < 0)
                return r;
        if (description)
                (void) sd_event_source_set_description(*s, description);
        return 0;
}
