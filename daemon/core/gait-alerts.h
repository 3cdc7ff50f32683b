/* SPDX-License-Identifier: MIT */
#pragma once

/* The Manager's wiring of the change alerts (docs/alerts.md): one AlertMonitor per wearer, the
 * history file in the state directory, the alert/set commands and what goes to MQTT. The
 * detection itself is the pure alerts module; this is its thin I/O shell. */

#include <stddef.h>
#include <stdint.h>

#include "alerts.h"
#include "config.h"
#include "mqtt.h"
#include "wearer.h"

#define GAIT_HISTORY_FILENAME "gait-history.json"
#define GAIT_HISTORY_DAMAGED_FILENAME GAIT_HISTORY_FILENAME ".damaged" /* refused at start, kept aside */

typedef struct GaitAlerts GaitAlerts;

/* wearers and mqtt are borrowed and must outlive the object. */
int gait_alerts_new(const Config *c, Wearer *const *wearers, size_t n, MqttClient *mqtt, GaitAlerts **ret);
GaitAlerts *gait_alerts_free(GaitAlerts *a);
DEFINE_TRIVIAL_CLEANUP_FUNC(GaitAlerts *, gait_alerts_free);
void gait_alerts_apply_config(GaitAlerts *a, const Config *c);

/* The history file: read at start (falling back to the previous copy when the newest is
 * unreadable), written when something changed (new file, fsync, keep the previous copy, rename). */
void gait_alerts_load(GaitAlerts *a, const char *dir);
void gait_alerts_save(GaitAlerts *a, const char *dir);
/* Pure file-level helpers, also for tests: read a file into memory (bounded), and write one
 * atomically keeping `<name>.prev`. */
int gait_history_read(const char *dir, const char *name, char **ret, size_t *ret_len);
int gait_history_write(const char *dir, const char *name, const char *text, size_t len, bool keep_previous);

const AlertMonitor *gait_alerts_monitor(const GaitAlerts *a, size_t i);

/* Subscribes to every wearer's alert/set and publishes the retained baseline and state. */
int gait_alerts_start(GaitAlerts *a);
/* A finished day of wearer i (after wearer_take_summary()): evaluated, kept, and its gait values
 * and alert line put into the summary (valid until the next call). */
void gait_alerts_end_day(GaitAlerts *a, size_t i, DaySummary *summary);
/* The running day, events and changed retained payloads of wearer i. */
void gait_alerts_drain(GaitAlerts *a, size_t i, uint64_t wall_usec);
