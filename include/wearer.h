/* SPDX-License-Identifier: MIT */
#pragma once

/* One wearer's pipeline inside the Manager: decoded records of their insoles (or footpod) in;
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
#include "reminders.h"

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

typedef struct Wearer {
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
        RscAccumulator rsc;
        bool have_rsc;
        RscMeasurement rsc_last;     /* the footpod's latest measurement, received at rsc_last_usec */
        uint64_t rsc_last_usec;
        uint64_t rsc_dm_counted;     /* of the accumulator's distance, already added below */
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

        PressureSample scratch[OIP_MAX_SAMPLES];
} Wearer;

/* Fails with -ENOMEM, or with zone_load()'s error when the configured time zone cannot be loaded. */
int wearer_new(size_t index, const WearerConfig *config, const ReminderSettings *settings, Wearer **ret);
Wearer *wearer_free(Wearer *w);
DEFINE_TRIVIAL_CLEANUP_FUNC(Wearer *, wearer_free);

/* A decoded record of one of the wearer's devices, received at now->mono_usec. */
void wearer_on_record(Wearer *w, DeviceRole role, const DecodedRecord *rec, const CoachClock *now);
/* New steps from a device's own cumulative counter (already reconciled: counted once). */
void wearer_on_device_steps(Wearer *w, DeviceRole role, uint32_t delta, const CoachClock *now);
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
/* The footpod's reconciliation state, to persist and restore (see rsc_accumulator_get_total()). */
bool wearer_get_footpod_total(const Wearer *w, uint32_t *ret_total_dm);
void wearer_restore_footpod(Wearer *w, uint64_t distance_total_dm, bool has_footpod_total, uint32_t footpod_total_dm);
/* Another gateway counted the footpod's distance (the wearer was in its room): the larger of
 * today's (same local day) and of the totals win, and the footpod's Total Distance that gateway
 * last accounted for becomes ours, so that what was walked on the way is counted once, here. */
void wearer_take_over_distance(Wearer *w, const CoachClock *now, bool same_day, uint64_t today_dm, uint64_t total_dm);
void wearer_take_over_footpod_total(Wearer *w, uint32_t footpod_total_dm);
