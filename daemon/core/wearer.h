/* SPDX-License-Identifier: MIT */
#pragma once

/* One wearer's pipeline inside the Manager, and everything the gateway keeps about the wearer and
 * their devices (like networkd's Link): the bytes of their insoles (or footpod) in, decoded here
 * once through the registry into neutral readings (decoder.h);
 * device clocks mapped onto the gateway's monotonic clock; pressure samples into the gait engine;
 * foot loads of both feet paired in time for the exercise detector; steps, activity and movement
 * into the Coach (reminders, daily counters). No I/O: the Manager drains what it should publish
 * (activity changes here, reminder events and day summaries from the Coach). */

#include <stdbool.h>
#include <stdint.h>

#include "alerts.h"
#include "config.h"
#include "daily.h"
#include "decoder.h"
#include "device-clock.h"
#include "foot-pairer.h"
#include "gait.h"
#include "log.h"
#include "raw-pacer.h"
#include "reminders.h"
#include "remote-steps.h"

#define WEARER_ACTIVITY_QUEUE 16

typedef struct ActivityChange {
        ActivityState state;
        ActivityState previous;
        uint64_t previous_duration_usec;
        uint64_t mono_usec;
} ActivityChange;

/* What a device's Device Information service said, validated (printable ASCII, trimmed, bounded);
 * "" = not reported. Safe for payloads, never for topics. */
typedef struct WearerDeviceInfo {
        char manufacturer[DEVICE_INFO_STRING_MAX + 1];
        char model[DEVICE_INFO_STRING_MAX + 1];
        char firmware[DEVICE_INFO_STRING_MAX + 1];
        char hardware[DEVICE_INFO_STRING_MAX + 1];
} WearerDeviceInfo;

typedef struct Wearer Wearer;
struct BluezDevice;

/* What wearer_on_value() changed that the caller may want to publish. */
typedef enum WearerValueChange {
        WEARER_VALUE_BATTERY = 1 << 0,       /* battery_percent changed */
        WEARER_VALUE_INFO = 1 << 1,          /* a Device Information field changed */
        WEARER_VALUE_INFO_REJECTED = 1 << 2, /* ... was refused (not printable text) */
        WEARER_VALUE_STREAM = 1 << 3,        /* a value of the device's data stream was decoded */
} WearerValueChange;

/* What the last published `link` of a device said, to tell when it is worth another message. */
typedef struct WearerLinkReport {
        bool published;
        bool connected;
        bool refused;
        bool has_rssi;
        int rssi_bucket;
        uint64_t errors;             /* decode errors + lost frames + connection failures */
        uint64_t reconnects;
        unsigned info_generation;
        uint64_t published_usec;
} WearerLinkReport;

/* One of the wearer's devices: its decoder state and counters, its step counter's reconciliation
 * state, its battery. The BlueZ client hands it back with every value (its userdata). */
typedef struct WearerDevice {
        Wearer *wearer;
        DeviceRole role;
        struct BluezDevice *link;    /* the BlueZ client's handle, NULL when not registered */
        DecoderState decoder;
        DecoderStats decoder_stats;
        DeviceStepState steps;       /* persisted in the state file */
        int battery_percent;         /* -1 = unknown */
        unsigned info_generation;    /* +1 whenever its Device Information changed */
        RawPacer raw_pacer;          /* of the optional raw stream */
        WearerLinkReport link_report;
} WearerDevice;

struct Wearer {
        size_t index;
        const WearerConfig *config;
        char device_names[_DEVICE_ROLE_MAX][CONFIG_NAME_MAX + 24]; /* "left insole of anna" */
        LogContext log;

        InsoleLayout layout[_FOOT_SIDE_MAX];
        bool has_layout[_FOOT_SIDE_MAX];
        GaitParams gait_params;
        GaitEngine *gait;
        uint64_t samples_without_layout;

        DeviceClock clock[_DEVICE_ROLE_MAX];
        FootPairer pairer;
        uint64_t pairer_dropped_logged;  /* of pairer.dropped, already logged at pairer_logged_usec */
        uint64_t pairer_logged_usec;
        MotionAccumulator motion;    /* the footpod's steps and distance */
        bool have_motion;
        MotionReading motion_last;     /* the footpod's latest measurement, received at motion_last_usec */
        uint64_t motion_last_usec;
        uint64_t motion_dm_counted;     /* of the accumulator's distance, already added below */
        uint64_t distance_total_dm;  /* footpod distance of this wearer, across restarts */
        WearerDeviceInfo device_info[_DEVICE_ROLE_MAX];
        Coach *coach;
        Zone *zone;
        char zone_name[64];     /* the configured name it was loaded from, "" = the system's */
        float weight_reference_n;    /* load per foot standing still, from the body weight; 0 = learn */

        bool streaming[_DEVICE_ROLE_MAX];
        bool coach_connected;
        bool has_step_counter;       /* steps come from the devices' own counters */
        uint64_t engine_steps_seen;  /* otherwise from the gait engine (or the footpod's cadence) */
        uint64_t steps_total;
        bool steps_counted_here;     /* this gateway counted steps (or distance) since they were last published */

        ActivityState activity;
        uint64_t activity_since_usec;
        ActivityChange changes[WEARER_ACTIVITY_QUEUE];
        size_t n_changes;

        /* The day's gait values for the change alerts: the day so far (refreshed with every gait
         * snapshot, `gait_today_fresh` until taken) and the last finished day. */
        CvTracker cv_today;
        GaitDay gait_today;
        bool gait_today_fresh;
        GaitDay gait_finished;

        /* newest sample per foot, for the optional raw stream */
        bool have_latest[_FOOT_SIDE_MAX];
        PressureSample latest[_FOOT_SIDE_MAX];

        WearerDevice devices[_DEVICE_ROLE_MAX];

        void *manager;               /* the owner, for the callbacks that hand back this wearer */
        /* What the Manager published or learnt of this wearer's steps */
        uint64_t published_steps;
        uint64_t published_distance_dm;
        bool steps_published;
        uint64_t steps_known_usec;   /* wall clock: our count last known right */
        uint32_t reminder_events_dropped_logged;
};

/* Fails with -ENOMEM, or with zone_load()'s error when the configured time zone cannot be loaded. */
int wearer_new(size_t index, const WearerConfig *config, const ReminderSettings *settings, Wearer **ret);
Wearer *wearer_free(Wearer *w);
DEFINE_TRIVIAL_CLEANUP_FUNC(Wearer *, wearer_free);

/* A value of characteristic c from one of the wearer's devices, received at now->mono_usec:
 * decoded (counted in d->decoder_stats) and fed to the pipeline. Returns WearerValueChange flags,
 * or a DecodeResult when the device sent something malformed (counted, nothing else changed). */
int wearer_on_value(WearerDevice *d, const DecoderCharacteristic *c, const uint8_t *data, size_t len,
                    const CoachClock *now);
/* "left insole", "right insole", "footpod": how logs name a device of a wearer. */
const char *wearer_device_noun(DeviceRole role);
/* The device's link came up again: its next frame's sequence gap is not a loss. */
void wearer_device_link_reset(WearerDevice *d);
/* A device started or stopped streaming. */
void wearer_on_streaming(Wearer *w, DeviceRole role, bool streaming, const CoachClock *now);
/* Once a second: activity state, steps counted by the engine, reminders' timers. */
void wearer_tick(Wearer *w, const CoachClock *now);
/* The WearerConfig it points to was reloaded: take the new body weight and time zone. */
int wearer_config_changed(Wearer *w);
/* The gait metrics now, for <base>/<wearer>/gait; also feeds the day's cadence/symmetry. -ENODATA
 * before any data arrived. */
int wearer_gait_json(Wearer *w, const CoachClock *now, JsonWriter *json);
bool wearer_take_activity_change(Wearer *w, ActivityChange *ret);
/* A finished local day (from the Coach); restarts the gait engine's daily window after keeping
 * its values in gait_finished. */
bool wearer_take_summary(Wearer *w, const CoachClock *now, DaySummary *ret);
/* Adds steps counted elsewhere (another gateway, restored from the broker). */
void wearer_add_steps(Wearer *w, uint64_t steps, const CoachClock *now);
/* Any configured device streaming. */
bool wearer_any_streaming(const Wearer *w);
/* A Device Information string of one of the wearer's devices: 1 stored and changed, 0 unchanged or
 * a field we do not keep, -EBADMSG not printable text (dropped). */
int wearer_set_device_info(Wearer *w, DeviceRole role, const DeviceInfoString *s);
/* The footpod's reconciliation state, to persist and restore (see motion_accumulator_get_total()). */
bool wearer_get_footpod_total(const Wearer *w, uint32_t *ret_total_dm);
void wearer_restore_footpod(Wearer *w, uint64_t distance_total_dm, bool has_footpod_total, uint32_t footpod_total_dm);
/* Another gateway counted the footpod's distance (the wearer was in its room): the larger of
 * today's (same local day) and of the totals win, and the footpod's Total Distance that gateway
 * last accounted for becomes ours, so that what was walked on the way is counted once, here. */
void wearer_take_over_distance(Wearer *w, const CoachClock *now, bool same_day, uint64_t today_dm, uint64_t total_dm);
void wearer_take_over_footpod_total(Wearer *w, uint32_t footpod_total_dm);

/* The wearer's day and reminders (its Coach), for the Manager's publishing, persistence and
 * commands: reached through the wearer only. */
static inline const DayCounters *wearer_today(const Wearer *w) {
        return coach_today(w->coach);
}
static inline bool wearer_take_reminder_event(Wearer *w, ReminderEvent *ret) {
        return coach_take_event(w->coach, ret);
}
static inline uint32_t wearer_reminder_events_dropped(const Wearer *w) {
        return coach_events_dropped(w->coach);
}
static inline int wearer_reminder_state_json(const Wearer *w, const CoachClock *now, JsonWriter *json) {
        return coach_state_to_json(w->coach, now, json);
}
static inline int wearer_today_json(const Wearer *w, const CoachClock *now, JsonWriter *json) {
        return coach_activity_to_json(w->coach, now, json);
}
/* A reminder command from MQTT (untrusted): a bad one becomes an error event, never a change. */
static inline int wearer_reminder_command(Wearer *w, const CoachClock *now, const void *payload, size_t len) {
        return coach_command(w->coach, now, payload, len);
}
static inline void wearer_set_reminder_settings(Wearer *w, const ReminderSettings *settings) {
        coach_set_settings(w->coach, settings);
}
/* Today's steps counted elsewhere (another gateway): the day's total, not movement here. */
static inline void wearer_add_day_steps(Wearer *w, const CoachClock *now, uint64_t steps) {
        coach_add_day_steps(w->coach, now, steps);
}
static inline int wearer_save_day(const Wearer *w, const CoachClock *now, JsonWriter *json) {
        return coach_save(w->coach, now, json);
}
static inline int wearer_restore_day(Wearer *w, const CoachClock *now, const char *data, size_t len,
                                     JsonParseError *ret_error) {
        return coach_restore(w->coach, now, data, len, ret_error);
}
