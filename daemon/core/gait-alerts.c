/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "gait-alerts.h"
#include "log.h"

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
        bool dirty;                                /* the history file is behind */
        bool loaded_ok;                            /* the newest file was good: keep it as .prev */
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

static int path_join(char *buf, size_t size, const char *dir, const char *name, const char *suffix) {
        int n = snprintf(buf, size, "%s/%s%s", dir, name, suffix);
        return n < 0 || (size_t) n >= size ? -ENAMETOOLONG : 0;
}

int gait_history_read(const char *dir, const char *name, char **ret, size_t *ret_len) {
        _cleanup_close_ int fd = -1;
        _cleanup_free_ char *buf = NULL;
        char path[4096];
        struct stat st;
        size_t len = 0;
        int r;

        r = path_join(path, sizeof(path), dir, name, "");
        if (r < 0)
                return r;
        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0)
                return -errno;
        if (fstat(fd, &st) < 0)
                return -errno;
        if (!S_ISREG(st.st_mode))
                return -EBADMSG;
        if (st.st_size > ALERT_HISTORY_MAX_SIZE)
                return -E2BIG;
        buf = malloc((size_t) st.st_size + 1);
        if (!buf)
                return -ENOMEM;
        while (len < (size_t) st.st_size) {
                ssize_t k = read(fd, buf + len, (size_t) st.st_size - len);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (k == 0)
                        break;
                len += (size_t) k;
        }
        buf[len] = '\0';
        *ret = TAKE_PTR(buf);
        *ret_len = len;
        return 0;
}

static int write_all(int fd, const char *p, size_t n) {
        while (n > 0) {
                ssize_t k = write(fd, p, n);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                p += k;
                n -= (size_t) k;
        }
        return 0;
}

/* New file next to the old one, fsync, the old one becomes <name>.prev (a hard link, so that
 * <name> never goes missing), rename over, fsync the directory. */
int gait_history_write(const char *dir, const char *name, const char *text, size_t len, bool keep_previous) {
        char path[4096], tmp[4096], prev[4096], prev_tmp[4096];
        _cleanup_close_ int fd = -1, dfd = -1;
        int r;

        r = path_join(path, sizeof(path), dir, name, "");
        if (r >= 0)
                r = path_join(tmp, sizeof(tmp), dir, ".", name);
        if (r >= 0)
                r = path_join(prev, sizeof(prev), dir, name, ".prev");
        if (r >= 0)
                r = path_join(prev_tmp, sizeof(prev_tmp), dir, ".prev.", name);
        if (r < 0)
                return r;
        if (strlen(tmp) + 7 >= sizeof(tmp))
                return -ENAMETOOLONG;
        strcat(tmp, ".XXXXXX");

        if (mkdir(dir, 0700) < 0 && errno != EEXIST)
                return -errno;
        fd = mkostemp(tmp, O_CLOEXEC);
        if (fd < 0)
                return -errno;
        r = write_all(fd, text, len);
        if (r >= 0 && fchmod(fd, 0600) < 0)
                r = -errno;
        if (r >= 0 && fsync(fd) < 0)
                r = -errno;
        if (r >= 0 && close(TAKE_FD(fd)) < 0)
                r = -errno;
        if (r >= 0 && keep_previous) {
                /* One writer (this process): a fixed name for the link is enough. */
                (void) unlink(prev_tmp);
                if (link(path, prev_tmp) >= 0 && rename(prev_tmp, prev) < 0)
                        (void) unlink(prev_tmp);
        }
        if (r >= 0 && rename(tmp, path) < 0)
                r = -errno;
        if (r < 0) {
                (void) unlink(tmp);
                return r;
        }
        dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0)
                return -errno;
        if (fsync(dfd) < 0)
                return -errno;
        return 0;
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
        return r;
}

void gait_alerts_load(GaitAlerts *a, const char *dir) {
        int r;

        if (!dir)
                return;
        r = load_one(a, dir, GAIT_HISTORY_FILENAME);
        a->loaded_ok = r >= 0;
        if (r == -ENOENT)
                a->loaded_ok = true; /* nothing yet: the first save has nothing to keep */
        else if (r < 0 && load_one(a, dir, GAIT_HISTORY_FILENAME ".prev") >= 0)
                log_info("Restored the gait history from the previous copy.");
        for (size_t i = 0; i < a->n; i++)
                a->publish_retained[i] = true;
}

void gait_alerts_save(GaitAlerts *a, const char *dir) {
        JsonWriter w;
        char *text = NULL;
        size_t len;
        int r;

        if (!dir || !a->dirty)
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

typedef int (*AlertPublisher)(MqttClient *c, const char *wearer, const char *json, uint64_t now_usec);

static void publish(GaitAlerts *a, size_t i, AlertPublisher p, JsonWriter *w, int build_result, uint64_t wall_usec) {
        const char *s;
        int r;

        if (build_result >= 0 && json_writer_finish(w, &s, NULL) >= 0) {
                r = p(a->mqtt, a->names[i], s, wall_usec);
                if (r < 0 && r != -ENOBUFS)
                        log_ctx_errno(LOG_DEBUG, &a->wearers[i]->log, r, "Failed to queue a message: %m");
        }
        json_writer_done(w);
}

static void publish_retained(GaitAlerts *a, size_t i, uint64_t wall_usec) {
        JsonWriter w;

        json_writer_init_dynamic(&w);
        publish(a, i, mqtt_publish_alert_state, &w, alert_monitor_state_to_json(a->monitors[i], &w), wall_usec);
        json_writer_init_dynamic(&w);
        publish(a, i, mqtt_publish_baseline, &w, alert_monitor_baseline_to_json(a->monitors[i], &w), wall_usec);
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

        if (wall_usec == 0) {
                struct timespec ts;
                (void) clock_gettime(CLOCK_REALTIME, &ts);
                wall_usec = (uint64_t) ts.tv_sec * USEC_PER_SEC + (uint64_t) ts.tv_nsec / 1000;
        }
        if (wr->gait_today_fresh) {
                alert_monitor_update_today(m, &wr->gait_today);
                wr->gait_today_fresh = false;
        }
        while (alert_monitor_take_event(m, &e)) {
                JsonWriter w;

                if (e.type == ALERT_EVENT_CHANGED)
                        log_ctx(LOG_INFO, &wr->log, "Walking changed: %s %s (since %u).", gait_metric_to_string(e.metric),
                                direction_word(e.direction), e.since);
                json_writer_init_dynamic(&w);
                publish(a, i, mqtt_publish_alert, &w, alert_event_to_json(&e, &w), wall_usec);
                if (e.type != ALERT_EVENT_ERROR) {
                        a->publish_retained[i] = true;
                        a->dirty = true;
                }
        }
        if (a->publish_retained[i])
                publish_retained(a, i, wall_usec);
}
