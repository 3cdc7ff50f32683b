/* SPDX-License-Identifier: MIT */
#pragma once

/* Daily counters and last states, persisted in config->state_directory so that a restart or a
 * reboot loses no steps.
 *
 * File: <state_directory>/state, a versioned line-based text format (docs/mqtt.md "State file"):
 *     insole2mqtt-state 1
 *     saved_usec=1795000000000000
 *     wearer.anna.day=2026-11-22
 *     wearer.anna.steps_today=1234
 *     wearer.anna.steps_total=98765
 *     wearer.anna.activity=walking
 *     wearer.anna.activity_since_usec=...
 *     wearer.anna.left.battery_pct=80
 *     wearer.anna.left.device_steps=4321
 *     wearer.anna.left.boot_id=2864434397
 *     wearer.anna.distance_total_dm=123456
 *     wearer.anna.footpod.total_dm=98765      (the footpod's Total Distance, for reconciliation)
 *     wearer.anna.footpod.model=Stryd         (Device Information: printable ASCII, 1..64 bytes)
 *     wearer.anna.coach={"version":1,...}     (one line of JSON, parsed by the reminders module)
 *     seq.insole/anna/gait=812
 * Unknown keys are skipped (a newer daemon may add some), a different major version is refused,
 * names are checked as topic segments, numbers must be plain decimal. Writing goes to a temporary
 * file in the same directory, fsync, rename over the old file, fsync of the directory: a crash
 * leaves either the old or the new file, never a torn one. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "insole.h"

#define STATE_STORE_VERSION 2           /* 2 ends with "end=<checksum>"; 1 (no end line) is still read */
#define STATE_STORE_FILENAME "state"
#define STATE_STORE_LAST_FILENAME "state.prev"       /* the previous good file, kept by every save */
#define STATE_STORE_DAMAGED_FILENAME "state.damaged" /* a file that could not be read, kept aside */
#define STATE_STORE_MAX_SEQS 1024
#define STATE_STORE_MAX_SIZE (1024 * 1024)
#define STATE_DEVICE_INFO_MAX 64 /* = DEVICE_INFO_STRING_MAX */

typedef enum StateDeviceInfo {
        STATE_DEVICE_INFO_MANUFACTURER,
        STATE_DEVICE_INFO_MODEL,
        STATE_DEVICE_INFO_FIRMWARE,
        STATE_DEVICE_INFO_HARDWARE,
        _STATE_DEVICE_INFO_MAX,
} StateDeviceInfo;

typedef struct WearerState {
        char name[CONFIG_NAME_MAX + 1];
        char day[11];                            /* local date of steps_today, "" = unknown */
        uint64_t steps_today;
        uint64_t steps_total;
        ActivityState activity;
        uint64_t activity_since_usec;            /* CLOCK_REALTIME */
        int battery_percent[_DEVICE_ROLE_MAX];   /* -1 = unknown */
        bool has_device_steps[_DEVICE_ROLE_MAX];
        uint64_t device_steps[_DEVICE_ROLE_MAX]; /* the insole's own counter when last seen */
        bool has_device_boot_id[_DEVICE_ROLE_MAX];
        uint32_t device_boot_id[_DEVICE_ROLE_MAX]; /* the device boot that counter belongs to */
        char *coach_json;                        /* the reminders' saved day (coach_save()), one line */
        uint64_t distance_total_dm;              /* footpod distance counted for this wearer, 1/10 m */
        bool has_footpod_total;
        uint32_t footpod_total_dm;               /* the footpod's own Total Distance when last seen */
        /* a device's Device Information (printable ASCII, "" = unknown), so that Home Assistant's
         * device does not fall back to our defaults at every restart until the device is read */
        char device_info[_DEVICE_ROLE_MAX][_STATE_DEVICE_INFO_MAX][STATE_DEVICE_INFO_MAX + 1];
} WearerState;

typedef struct StateSeq {
        char *topic;
        uint64_t seq;
} StateSeq;

typedef struct StateStore {
        uint64_t saved_usec;
        WearerState wearers[CONFIG_MAX_WEARERS];
        size_t n_wearers;
        StateSeq *seqs;
        size_t n_seqs;
} StateStore;

void state_store_init(StateStore *s);
void state_store_done(StateStore *s);

/* The wearer's entry; with create, a fresh one (unknown values) is added. NULL for an invalid
 * name or when CONFIG_MAX_WEARERS are in use. */
WearerState *state_store_wearer(StateStore *s, const char *name, bool create);
int state_store_set_seq(StateStore *s, const char *topic, uint64_t seq);
uint64_t state_store_get_seq(const StateStore *s, const char *topic);

/* Pure: serialise / parse the text format. Parsing replaces *s (initialise it first).
 * -EBADMSG malformed, -EPROTONOSUPPORT other major version, -E2BIG too large. */
int state_store_format(const StateStore *s, char **ret, size_t *ret_len);
int state_store_parse(const char *text, size_t len, StateStore *s);

/* I/O: dir is created (0700) when missing.
 *
 * load reads "state", all or nothing. When that is missing or damaged (unreadable, truncated, a bad
 * value, a wrong checksum) a damaged one is renamed to "state.damaged" and "state.prev" is read
 * instead; *ret_source (may be NULL) says which one was loaded. -ENOENT: neither is usable (the
 * caller restores from the broker). -EPROTONOSUPPORT: "state" was written by a newer version; it
 * is left alone and must never be overwritten (the caller refuses to start). */
int state_store_load(const char *dir, StateStore *s, const char **ret_source);
/* write_file_atomic() with keep_previous: the current "state" stays as "state.prev" (a hard link,
 * "state" never goes missing), the new one is renamed over it, the directory fsynced. On any error (read-only or full file system) nothing
 * that was there is changed and the temporary file is removed. */
int state_store_save(const char *dir, const StateStore *s);
/* Whether state_store_save() can write into dir: a directory this process may write to, or one
 * it may create (its parent exists and is writable). Creates nothing; returns 0 or -errno. */
int state_store_check_directory(const char *dir);

