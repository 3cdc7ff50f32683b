/* SPDX-License-Identifier: MIT */
#pragma once

/* Personal gait baselines and change alerts (docs/alerts.md).
 *
 * An AlertMonitor keeps one wearer's history of daily gait values (up to ALERT_HISTORY_DAYS),
 * builds a robust personal baseline per metric from the recent days that had enough walking, and
 * runs a two-sided CUSUM per watched metric on the standardised daily values. The running values of
 * the current day are checked against the baseline too (every ALERT_EVAL_STRIDES strides once
 * ALERT_MIN_STRIDES are reached), with a standard error that shrinks with the strides behind them,
 * so that a large change is noticed on the first day of walking after it.
 *
 * Pure: values and local dates come in as arguments; no clock, no I/O, no logging. An alert is a
 * prompt to see a professional, not a diagnosis. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "daily.h"
#include "gait-metrics.h"
#include "gait.h"
#include "json-parse.h"
#include "json.h"
#include "macro.h"

#define ALERT_HISTORY_DAYS 120    /* kept per wearer (>= 90 days); older days are dropped */
#define ALERT_MIN_STRIDES 300     /* a day (or the running day) counts only from this many strides */
#define ALERT_EVAL_STRIDES 50     /* the running day is checked at every 50 new strides */
#define ALERT_BASELINE_WINDOW 28  /* the baseline uses at most the 28 latest qualifying days */
#define ALERT_BASELINE_DAYS_MIN 3
#define ALERT_BASELINE_DAYS_MAX ALERT_BASELINE_WINDOW
#define ALERT_RETURN_DAYS 3       /* qualifying days back in range that end a change by themselves */
#define ALERT_COMMAND_MAX 1024
#define ALERT_HISTORY_MAX_SIZE (4U * 1024U * 1024U) /* the history file of all wearers */

/* One local day of gait values (or the current day so far). NAN: not measured. */
typedef struct GaitDay {
        LocalDate date;
        uint32_t strides;   /* both feet */
        uint32_t steps;     /* 32 bits: 88 B a day instead of 96, 1 KB a wearer over 120 days */
        uint32_t active_s;  /* walking + running */
        float value[_GAIT_METRIC_MAX];
} GaitDay;

void gait_day_init(GaitDay *d, LocalDate date);
/* The engine's daily window (docs/metrics.md) as day values: per-foot figures are averaged over
 * the feet that have them; landing shares are shares of the stances with a strike pattern. The
 * stride-time CV is left out (NAN): it comes from a CvTracker. */
void gait_day_from_snapshot(const GaitSnapshot *s, LocalDate date, GaitDay *ret);

/* Stride-time variability of a day as the median of the 60-second windows' CVs while walking:
 * the whole day's CV would mostly measure how much the pace differed between walks. */
#define CV_TRACKER_BINS 401 /* 0.05 % bins, 0..20 % (larger values go to the last bin) */
typedef struct CvTracker {
        /* 16 bits a bin: a wearer's gait is published at most once a second, and 65535 windows in
         * one 0.05 % bin would be 18 hours of walking (0.8 KB less a wearer than 32 bits) */
        uint16_t hist[CV_TRACKER_BINS];
        uint32_t n;
} CvTracker;

void cv_tracker_reset(CvTracker *t);
void cv_tracker_add(CvTracker *t, float cv_pct);
float cv_tracker_median(const CvTracker *t); /* NAN when empty */

typedef struct AlertSettings {
        bool enabled;
        unsigned metrics;          /* watched metrics, bit per GaitMetric (alertable ones only) */
        unsigned baseline_days;    /* qualifying days before any alert */
        AlertSensitivity sensitivity;
} AlertSettings;

/* The defaults of the [alerts] section (the configuration schema has them too; a test checks). */
void alert_settings_default(AlertSettings *ret);

/* CUSUM reference value k and decision limit h (in standard errors) of a sensitivity. */
void alert_sensitivity_limits(AlertSensitivity s, double *ret_k, double *ret_h);

typedef struct MetricBaseline {
        bool valid;        /* enough qualifying days */
        unsigned days;     /* qualifying days behind it */
        double median;
        double spread;     /* robust SD (Qn), pooled with the metric's typical spread */
        double low, high;  /* the usual range: median -/+ 2 spreads (within the plausible range) */
} MetricBaseline;

typedef enum AlertEventType {
        ALERT_EVENT_CHANGED,       /* a watched metric moved away from the usual range */
        ALERT_EVENT_RETURNED,      /* it came back by itself for ALERT_RETURN_DAYS days */
        ALERT_EVENT_ACKNOWLEDGED,
        ALERT_EVENT_ACCEPTED,      /* "this is my new normal": the baseline restarts at the change */
        ALERT_EVENT_ERROR,         /* a refused command */
        _ALERT_EVENT_TYPE_MAX,
        _ALERT_EVENT_TYPE_INVALID = -1,
} AlertEventType;

const char *alert_event_type_to_string(AlertEventType t);

typedef struct AlertEvent {
        AlertEventType type;
        GaitMetric metric;         /* CHANGED, RETURNED */
        int direction;             /* +1 rose, -1 fell */
        double value;              /* the value that decided it */
        MetricBaseline baseline;
        LocalDate since;           /* the first day of the change */
        LocalDate date;            /* the day it was noticed */
        uint64_t strides;          /* strides behind the change, since `since` */
        bool intraday;             /* noticed on the running values of a day */
        char error[JSON_PARSE_ERROR_MAX];
        int64_t error_offset;      /* -1: no position */
} AlertEvent;

int alert_event_to_json(const AlertEvent *e, JsonWriter *w);

typedef struct AlertMonitor AlertMonitor;

int alert_monitor_new(const AlertSettings *s, AlertMonitor **ret);
AlertMonitor *alert_monitor_free(AlertMonitor *m);
DEFINE_TRIVIAL_CLEANUP_FUNC(AlertMonitor *, alert_monitor_free);
void alert_monitor_set_settings(AlertMonitor *m, const AlertSettings *s);

/* The current day so far. Cheap to call often: it only evaluates at fixed stride counts. */
void alert_monitor_update_today(AlertMonitor *m, const GaitDay *today);
/* A finished day: evaluated against the baseline of the days before it, then kept in the
 * history (a second call for the same date replaces it without evaluating again). */
void alert_monitor_end_day(AlertMonitor *m, const GaitDay *day);
/* <base>/<wearer>/alert/set: {"action":"acknowledge"} or {"action":"accept"}. A bad command
 * becomes an ALERT_EVENT_ERROR and changes nothing; returns its -errno. */
int alert_monitor_command(AlertMonitor *m, const void *payload, size_t len);
bool alert_monitor_take_event(AlertMonitor *m, AlertEvent *ret);
/* Events lost to a full queue (the oldest give way) or to no memory, since the start. */
uint32_t alert_monitor_events_dropped(const AlertMonitor *m);

/* The Home Assistant "walking changed" sensor: a change not acknowledged yet. */
bool alert_monitor_changed(const AlertMonitor *m);
/* "disabled", "learning", "watching", "changed" (unacknowledged), "acknowledged" */
const char *alert_monitor_state(const AlertMonitor *m);
void alert_monitor_baseline(const AlertMonitor *m, GaitMetric metric, MetricBaseline *ret);
size_t alert_monitor_history(const AlertMonitor *m, const GaitDay **ret); /* oldest first */

/* Payloads: retained <base>/<wearer>/baseline and <base>/<wearer>/alert/state, and the `gait`
 * object of the daily summary (the day's values and one line about the alerts). */
int alert_monitor_baseline_to_json(const AlertMonitor *m, JsonWriter *w);
int alert_monitor_state_to_json(const AlertMonitor *m, JsonWriter *w);
int alert_monitor_day_to_json(const AlertMonitor *m, const GaitDay *day, JsonWriter *w);

/* Persistence (versioned): the history and the detector state of one wearer as one object. */
int alert_monitor_save(const AlertMonitor *m, JsonWriter *w);
/* Validates every field; on failure the monitor is unchanged. */
int alert_monitor_restore(AlertMonitor *m, const JsonValue *v, JsonParseError *ret_error);

/* The history file of all wearers: {"version":1,"wearers":{"<name>":{...}}}. Wearers in the file
 * that are not configured are ignored; a bad wearer entry fails the whole file (-EINVAL, message),
 * so that the caller can fall back to the previous copy; a file of a newer format is
 * -EPROTONOSUPPORT (the caller must not overwrite it). Parsing returns 1 when the file measured the
 * stride-time CV by an older definition, whose days it forgot (the baseline of that metric starts
 * again), else 0. */
int alert_history_format(AlertMonitor *const *monitors, const char *const *names, size_t n, JsonWriter *w);
int alert_history_parse(const char *data, size_t len, AlertMonitor *const *monitors, const char *const *names,
                        size_t n, JsonParseError *ret_error);
