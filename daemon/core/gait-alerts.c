/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "file-io.h"
#include "gait-alerts.h"
#include "log.h"
#include "time-util.h"
#include "wall-clock.h"

#define DAY_GAIT_JSON_MAX 2048

typedef struct AlertCommandCtx {
        GaitAlerts *alerts;
        size_t wearer;
} AlertCommandCtx;

struct GaitAlerts {
        Wearer *const *wearers;
        size_t n;
        MqttClient *mqtt;
        AlertMonitor *monitors[CONFIG_MAX_WEARERS];
        const char *names[CONFIG_MAX_WEARERS];
        AlertCommandCtx ctx[CONFIG_MAX_WEARERS];
        bool publish_retained[CONFIG_MAX_WEARERS]; /* state/baseline changed since last published */
        uint32_t events_dropped_logged[CONFIG_MAX_WEARERS];
        bool dirty;                                /* the history file is behind */
        bool loaded_ok;                            /* the newest file was good: keep it as .prev */
        bool newer_file;                           /* written by a newer version: never overwritten */
        char day_json[DAY_GAIT_JSON_MAX];
};

static void settings_from_config(const Config *c, AlertSettings *ret) {
        alert_settings_default(ret);
        ret->enabled = c->alerts;
        ret->metrics = c->alert_metrics;
        ret->baseline_days = c->alert_baseline_days;
        ret->sensitivity = (AlertSensitivity) c->alert_sensitivity;
}

int gait_alerts_new(const Config *c, Wearer *const *wearers, size_t n, MqttClient *mqtt, GaitAlerts **ret) {
        _cleanup_(gait_alerts_freep) GaitAlerts *a = NULL;
        AlertSettings s;
        int r;

        if (n > CONFIG_MAX_WEARERS)
                return -E2BIG;
        a = calloc(1, sizeof(*a));
        if (!a)
                return -ENOMEM;
        a->wearers = wearers;
        a->n = n;
        a->mqtt = mqtt;
        settings_from_config(c, &s);
        for (size_t i = 0; i < n; i++) {
                r = alert_monitor_new(&s, &a->monitors[i]);
                if (r < 0)
                        return r;
                a->names[i] = wearers[i]->config->name;
                a->ctx[i] = (AlertCommandCtx) { .alerts = a, .wearer = i };
        }
        *ret = TAKE_PTR(a);
        return 0;
}

GaitAlerts *gait_alerts_free(GaitAlerts *a) {
        if (!a)
                return NULL;
        for (size_t i = 0; i < a->n; i++)
                alert_monitor_free(a->monitors[i]);
        free(a);
        return NULL;
}

void gait_alerts_apply_config(GaitAlerts *a, const Config *c) {
        AlertSettings s;

        settings_from_config(c, &s);
        for (size_t i = 0; i < a->n; i++) {
                alert_monitor_set_settings(a->monitors[i], &s);
                a->publish_retained[i] = true;
        }
}

const AlertMonitor *gait_alerts_monitor(const GaitAlerts *a, size_t i) {
        return i < a->n ? a->monitors[i] : NULL;
}

/* ---- the history file ---- */

int gait_history_read(const char *dir, const char *name, char **ret, size_t *ret_len) {
        return read_file_in(dir, name, ALERT_HISTORY_MAX_SIZE, ret, ret_len);
}

int gait_history_write(const char *dir, const char *name, const char *text, size_t len, bool keep_previous) {
        return write_file_atomic(dir, name, text, len, keep_previous);
}

static int load_one(GaitAlerts *a, const char *dir, const char *name) {
        _cleanup_free_ char *text = NULL;
        JsonParseError e = {};
        size_t len;
        int r;

        r = gait_history_read(dir, name, &text, &len);
        if (r < 0)
                return r;
        r = alert_history_parse(text, len, a->monitors, a->names, a->n, &e);
        if (r < 0)
                log_warning("Ignoring the gait history %s/%s: %s (at byte %zu).", dir, name, e.message, e.offset);
        if (r > 0)
                log_info("The gait history %s/%s measured stride-time variability by an older definition: that "
                         "metric's baseline starts again (docs/alerts.md).", dir, name);
        return r;
}

static void set_aside_damaged(const char *dir) {
        int r;

        r = file_set_aside(dir, GAIT_HISTORY_FILENAME, GAIT_HISTORY_DAMAGED_FILENAME);
        if (r < 0) {
                log_warning_errno(r, "Failed to keep the refused gait history aside as %s/" GAIT_HISTORY_DAMAGED_FILENAME ": %m",
                                  dir);
                return;
        }
        log_warning("Kept the refused gait history as %s/" GAIT_HISTORY_DAMAGED_FILENAME " (never loaded).", dir);
}

void gait_alerts_load(GaitAlerts *a, const char *dir) {
        int r;

        if (!dir)
                return;
        r = load_one(a, dir, GAIT_HISTORY_FILENAME);
        a->loaded_ok = r >= 0;
        /* Like the state file: a downgrade must not destroy the newer version's history. The
         * previous copy may still give this run a baseline, but nothing is saved. */
        a->newer_file = r == -EPROTONOSUPPORT;
        if (a->newer_file)
                log_error("%s/" GAIT_HISTORY_FILENAME " was written by a newer version of insole2mqtt; it is left "
                          "as it is and this run saves no gait history. Start the newer version again, or move "
                          "the file away.", dir);
        if (r == -ENOENT)
                a->loaded_ok = true; /* nothing yet: the first save has nothing to keep */
        else if (r < 0 && !a->newer_file)
                /* Like the state file: a refused file is kept for inspection, never loaded again,
                 * and the next save neither keeps it as the previous copy nor loses it. */
                set_aside_damaged(dir);
        if (r < 0 && r != -ENOENT && load_one(a, dir, GAIT_HISTORY_FILENAME ".prev") >= 0)
                log_info("Restored the gait history from the previous copy.");
        for (size_t i = 0; i < a->n; i++)
                a->publish_retained[i] = true;
}

void gait_alerts_save(GaitAlerts *a, const char *dir) {
        JsonWriter w;
        char *text = NULL;
        size_t len;
        int r;

        if (!dir || !a->dirty || a->newer_file)
                return;
        json_writer_init_dynamic(&w);
        r = alert_history_format(a->monitors, a->names, a->n, &w);
        if (r >= 0)
                r = json_writer_steal(&w, &text, &len);
        json_writer_done(&w);
        if (r >= 0)
                r = gait_history_write(dir, GAIT_HISTORY_FILENAME, text, len, a->loaded_ok);
        free(text);
        if (r < 0) {
                log_warning_errno(r, "Failed to save the gait history in %s, will try again: %m", dir);
                return;
        }
        /* What we wrote is good: from now on it is the copy to keep. */
        a->loaded_ok = true;
        a->dirty = false;
}

/* ---- MQTT ---- */

/* Starts message type for wearer i: the builder appends to the writer returned. */
static JsonWriter *begin(GaitAlerts *a, size_t i, MqttMessage *msg, MqttMessageType type, uint64_t wall_usec) {
        return mqtt_message_begin(msg, a->mqtt, type, a->names[i], _DEVICE_ROLE_INVALID, wall_usec, NULL, 0);
}

static void publish(GaitAlerts *a, size_t i, MqttMessage *msg, int build_result) {
        int r;

        r = mqtt_message_queue(msg, build_result);
        if (r < 0 && r != -ENOBUFS && build_result >= 0)
                log_ctx_errno(LOG_DEBUG, &a->wearers[i]->log, r, "Failed to queue a message: %m");
}

static void publish_retained(GaitAlerts *a, size_t i, uint64_t wall_usec) {
        MqttMessage msg;

        publish(a, i, &msg,
                alert_monitor_state_to_json(a->monitors[i], begin(a, i, &msg, MQTT_MESSAGE_ALERT_STATE, wall_usec)));
        publish(a, i, &msg,
                alert_monitor_baseline_to_json(a->monitors[i], begin(a, i, &msg, MQTT_MESSAGE_BASELINE, wall_usec)));
        a->publish_retained[i] = false;
}

static void on_alert_command(MqttClient *c, const char *topic, const void *payload, size_t len, bool retained,
                             void *userdata) {
        AlertCommandCtx *ctx = userdata;
        GaitAlerts *a = ctx->alerts;

        /* A retained command would acknowledge every future change at each start. */
        if (retained || ctx->wearer >= a->n)
                return;
        /* A bad command becomes an error event; it never changes the state. */
        (void) alert_monitor_command(a->monitors[ctx->wearer], payload, len);
        gait_alerts_drain(a, ctx->wearer, 0);
}

int gait_alerts_start(GaitAlerts *a) {
        int r;

        for (size_t i = 0; i < a->n; i++) {
                r = mqtt_subscribe_alert_set(a->mqtt, a->names[i], on_alert_command, &a->ctx[i]);
                if (r < 0)
                        return r;
                a->publish_retained[i] = true;
        }
        return 0;
}

void gait_alerts_end_day(GaitAlerts *a, size_t i, DaySummary *summary) {
        AlertMonitor *m = a->monitors[i];
        const GaitDay *day = &a->wearers[i]->gait_finished;
        JsonWriter w;

        alert_monitor_end_day(m, day);
        a->dirty = true;
        a->publish_retained[i] = true;
        json_writer_init(&w, a->day_json, sizeof(a->day_json));
        if (alert_monitor_day_to_json(m, day, &w) >= 0 && json_writer_finish(&w, NULL, NULL) >= 0)
                summary->info.gait_json = a->day_json;
}

static const char *direction_word(int direction) {
        return direction > 0 ? "rose" : "fell";
}

void gait_alerts_drain(GaitAlerts *a, size_t i, uint64_t wall_usec) {
        Wearer *wr = a->wearers[i];
        AlertMonitor *m = a->monitors[i];
        AlertEvent e;

        if (wall_usec == 0)
                wall_usec = wall_clock_usec();
        if (wr->gait_today_fresh) {
                alert_monitor_update_today(m, &wr->gait_today);
                wr->gait_today_fresh = false;
        }
        while (alert_monitor_take_event(m, &e)) {
                MqttMessage msg;

                if (e.type == ALERT_EVENT_CHANGED) {
                        char since[16];
                        log_ctx(LOG_INFO, &wr->log, "Walking changed: %s %s (since %s).", gait_metric_to_string(e.metric),
                                direction_word(e.direction), local_date_to_string(e.since, since, sizeof(since)));
                }
                publish(a, i, &msg, alert_event_to_json(&e, begin(a, i, &msg, MQTT_MESSAGE_ALERT, wall_usec)));
                if (e.type != ALERT_EVENT_ERROR) {
                        a->publish_retained[i] = true;
                        a->dirty = true;
                }
        }
        uint32_t dropped = alert_monitor_events_dropped(m);

        if (dropped != a->events_dropped_logged[i]) {
                log_ctx(LOG_WARNING, &wr->log, "%" PRIu32 " alert events lost (queue full or out of memory).",
                        dropped - a->events_dropped_logged[i]);
                a->events_dropped_logged[i] = dropped;
                /* The retained state still tells what they would have; the history did not change. */
                a->publish_retained[i] = true;
        }
        if (a->publish_retained[i])
                publish_retained(a, i, wall_usec);
}
