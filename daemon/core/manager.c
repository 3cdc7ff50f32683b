/* SPDX-License-Identifier: MIT */
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/timex.h>
#include <systemd/sd-daemon.h>
#include <time.h>
#include <unistd.h>

#include "bluez.h"
#include "event-util.h"
#include "gait-alerts.h"
#include "gateway-metrics.h"
#include "log.h"
#include "manager.h"
#include "mqtt.h"
#include "raw-pacer.h"
#include "remote-steps.h"
#include "state-store.h"
#include "time-util.h"
#include "wall-clock.h"
#include "wearer.h"

#define TICK_USEC USEC_PER_SEC
#define HEALTH_INTERVAL_USEC (60 * USEC_PER_SEC)
#define SAVE_INTERVAL_USEC (60 * USEC_PER_SEC)
#define SHUTDOWN_FLUSH_USEC (3 * USEC_PER_SEC)
#define JSON_BUFFER_SIZE 8192
/* `link` between health reports: a connection change at once, counters and RSSI at most this often */
#define LINK_CHANGE_INTERVAL_USEC (5 * USEC_PER_SEC)
#define RSSI_BUCKET_DB 10


struct Manager {
        Config config;
        char *config_path;

        sd_event *event;
        sd_bus *bus;
        BluezClient *bluez;
        MqttClient *mqtt;
        PrometheusServer *prometheus;

        Wearer *wearers[CONFIG_MAX_WEARERS];
        size_t n_wearers;
        uint64_t remote_refused;                       /* step counts from the broker we did not believe */
        uint64_t remote_refused_logged_usec;
        bool seqs_unsure;                              /* we may have published past the state we loaded */
        unsigned restore_pending;                      /* retained topics still being fetched */
        sd_event_source *restore_timer;                /* gives up waiting for the broker */
        bool publishing;                               /* manager_start_publishing() ran */
        size_t publish_next;                           /* the wearer whose turn it is (on_publish()) */

        StateStore state;
        GaitAlerts *alerts;

        sd_event_source *sigterm_source;
        sd_event_source *sigint_source;
        sd_event_source *sighup_source;
        sd_event_source *tick_timer;
        sd_event_source *publish_timer;
        sd_event_source *health_timer;
        sd_event_source *save_timer;

        uint64_t start_usec;
        uint64_t notifications;
        uint64_t notifications_at_health;
        uint64_t health_usec;


        /* The loop runs until quit is set; MQTT still needs the loop to flush after that. */
        bool quit;
        int exit_error;

        /* A device told us about itself (kept in its wearer): discovery and bridge info are due */
        bool device_info_changed;
        bool adapter_published;      /* bridge/<id>/info went out with this adapter state */
        BluezAdapterInfo adapter;
        bool have_adapter;
        uint64_t device_info_rejected;

        char last_status[256];
        MqttMessage message;
        char json_buffer[JSON_BUFFER_SIZE];
};

static void manager_quit(Manager *m, int error) {
        if (!m->quit)
                m->exit_error = error;
        m->quit = true;
}

/* A Raspberry Pi has no real-time clock: its wall clock is a guess until NTP synchronised it.
 * The kernel knows (adjtimex() stops reporting TIME_ERROR), and systemd-timesyncd leaves a flag
 * file. The configuration can vouch for it (an RTC, or a machine that is always synchronised). */
static bool wall_clock_trusted(const Manager *m) {
        struct timex tx = {};

        if (m->config.trust_wall_clock)
                return true;
        if (adjtimex(&tx) >= 0 && !(tx.status & STA_UNSYNC))
                return true;
        return access("/run/systemd/timesync/synchronized", F_OK) == 0;
}

static CoachClock coach_clock(Manager *m) {
        return (CoachClock) {
                .mono_usec = event_now_usec(m->event, CLOCK_MONOTONIC),
                .wall_usec = wall_clock_usec(),
                .wall_trusted = wall_clock_trusted(m),
        };
}

/* ---- state persistence ------------------------------------------------------------------- */

/* The Device Information fields the state file keeps, in StateDeviceInfo order. */
static const DeviceInfoField state_device_info_fields[_STATE_DEVICE_INFO_MAX] = {
        [STATE_DEVICE_INFO_MANUFACTURER] = DEVICE_INFO_MANUFACTURER,
        [STATE_DEVICE_INFO_MODEL] = DEVICE_INFO_MODEL,
        [STATE_DEVICE_INFO_FIRMWARE] = DEVICE_INFO_FIRMWARE_REVISION,
        [STATE_DEVICE_INFO_HARDWARE] = DEVICE_INFO_HARDWARE_REVISION,
};

static const char *device_info_text(const WearerDeviceInfo *info, StateDeviceInfo k) {
        switch (k) {
        case STATE_DEVICE_INFO_MANUFACTURER:
                return info->manufacturer;
        case STATE_DEVICE_INFO_MODEL:
                return info->model;
        case STATE_DEVICE_INFO_FIRMWARE:
                return info->firmware;
        default:
                return info->hardware;
        }
}

static void manager_save_state(Manager *m) {
        CoachClock now = coach_clock(m);
        int r;

        if (!m->config.state_directory || !m->publishing)
                return; /* a lost state not restored yet: saving now would make it zero for good */
        for (size_t i = 0; i < m->n_wearers; i++) {
                Wearer *w = m->wearers[i];
                WearerState *ws = state_store_wearer(&m->state, w->config->name, true);
                JsonWriter json;

                if (!ws)
                        continue;
                ws->steps_total = w->steps_total;
                ws->distance_total_dm = w->distance_total_dm;
                ws->has_footpod_total = wearer_get_footpod_total(w, &ws->footpod_total_dm);
                ws->steps_today = wearer_today(w)->steps;
                (void) local_date_to_string(wearer_today(w)->date, ws->day, sizeof(ws->day));
                ws->activity = w->activity;
                for (DeviceRole d = 0; d < _DEVICE_ROLE_MAX; d++) {
                        const DeviceStepState *st = &w->devices[d].steps;
                        if (w->config->has_device[d] && st->valid) {
                                ws->has_device_steps[d] = true;
                                ws->device_steps[d] = st->steps;
                                ws->device_boot_id[d] = st->boot_id;
                        }
                        ws->battery_percent[d] = w->devices[d].battery_percent;
                        for (StateDeviceInfo k = 0; k < _STATE_DEVICE_INFO_MAX; k++)
                                (void) snprintf(ws->device_info[d][k], sizeof(ws->device_info[d][k]), "%s",
                                                device_info_text(&w->device_info[d], k));
                }
                json_writer_init_dynamic(&json);
                if (wearer_save_day(w, &now, &json) >= 0) {
                        char *s = NULL;
                        if (json_writer_steal(&json, &s, NULL) >= 0) {
                                free(ws->coach_json);
                                ws->coach_json = s;
                        }
                }
                json_writer_done(&json);
        }
        if (m->mqtt)
                (void) mqtt_client_save_seqs(m->mqtt, &m->state);
        gait_alerts_save(m->alerts, m->config.state_directory);
        m->state.saved_usec = now.wall_usec;
        r = state_store_save(m->config.state_directory, &m->state);
        if (r < 0)
                log_warning_errno(r, "Failed to save state to %s, will try again: %m", m->config.state_directory);
}

static int manager_restore_state(Manager *m) {
        CoachClock now = coach_clock(m);
        const char *source = NULL;
        int r;

        if (!m->config.state_directory)
                return 0;
        r = state_store_load(m->config.state_directory, &m->state, &source);
        if (r == -EPROTONOSUPPORT)
                return log_error_errno(r, "%s/" STATE_STORE_FILENAME " was written by a newer version of insole2mqtt; "
                                       "refusing to start rather than overwrite it. Start the newer version again, or "
                                       "move the file away (today's counts then come back from the broker).",
                                       m->config.state_directory);
        if (r < 0) {
                /* Both copies gone or damaged: today's counts and every seq come back from what we
                 * published, before anything new is published. */
                if (r != -ENOENT)
                        log_warning_errno(r, "Cannot read the saved state in %s: %m", m->config.state_directory);
                log_info("No saved state: restoring today's counts and sequence numbers from the broker.");
                state_store_done(&m->state);
                state_store_init(&m->state);
                m->seqs_unsure = true;
                return 0;
        }
        if (source && streq(source, STATE_STORE_LAST_FILENAME)) {
                /* older than what we published since: the broker has the newer counts and seqs */
                log_warning("%s/" STATE_STORE_FILENAME " is missing or damaged (kept as " STATE_STORE_DAMAGED_FILENAME
                            " if it was there); continuing from " STATE_STORE_LAST_FILENAME
                            " and what the broker holds.", m->config.state_directory);
                m->seqs_unsure = true;
        }
        for (size_t i = 0; i < m->n_wearers; i++) {
                Wearer *w = m->wearers[i];
                WearerState *ws = state_store_wearer(&m->state, w->config->name, false);

                if (!ws)
                        continue;
                w->steps_total = ws->steps_total;
                wearer_restore_footpod(w, ws->distance_total_dm, ws->has_footpod_total, ws->footpod_total_dm);
                w->steps_known_usec = m->state.saved_usec;
                if (ws->coach_json) {
                        JsonParseError error = {};
                        r = wearer_restore_day(w, &now, ws->coach_json, strlen(ws->coach_json), &error);
                        if (r < 0)
                                log_ctx(LOG_WARNING, &w->log, "Ignoring the saved day counters: %s", error.message);
                }
                for (DeviceRole d = 0; d < _DEVICE_ROLE_MAX; d++) {
                        w->devices[d].battery_percent = ws->battery_percent[d];
                        /* what the device said last time, until it is read again */
                        for (StateDeviceInfo k = 0; k < _STATE_DEVICE_INFO_MAX; k++) {
                                DeviceInfoString s = { .field = state_device_info_fields[k] };
                                size_t n = strnlen(ws->device_info[d][k], DEVICE_INFO_STRING_MAX);
                                if (n == 0 || !w->config->has_device[d])
                                        continue;
                                memcpy(s.value, ws->device_info[d][k], n);
                                s.len = (uint8_t) n;
                                (void) wearer_set_device_info(w, d, &s);
                        }
                        if (ws->has_device_steps[d])
                                w->devices[d].steps = (DeviceStepState) {
                                        .valid = true,
                                        .boot_id = (uint32_t) ws->device_boot_id[d],
                                        .steps = (uint32_t) ws->device_steps[d],
                                };
                }
        }
        log_info("Restored the saved state of %zu wearer(s).", m->state.n_wearers);
        return 0;
}

/* ---- publishing --------------------------------------------------------------------------- */

/* Payloads are written once, in the Manager's buffer: json_begin() starts the message (topic,
 * timestamp, seq), the module's builder appends its members, publish_json() queues the result.
 * One at a time; nothing here runs concurrently. w is NULL for the bridge's messages. */
static JsonWriter *json_begin(Manager *m, MqttMessageType type, const Wearer *w, DeviceRole role, uint64_t wall_usec) {
        return mqtt_message_begin(&m->message, m->mqtt, type, w ? w->config->name : NULL, role, wall_usec,
                                  m->json_buffer, sizeof(m->json_buffer));
}

/* The same for the messages that name no device: the bridge's (w NULL) and a wearer's own. */
static JsonWriter *message_begin(Manager *m, MqttMessageType type, const Wearer *w, uint64_t wall_usec) {
        return json_begin(m, type, w, _DEVICE_ROLE_INVALID, wall_usec);
}

static int publish_json(Manager *m, Wearer *w, int build_result) {
        int r;

        r = mqtt_message_queue(&m->message, build_result);
        if (r < 0 && r != -ENOBUFS && build_result >= 0) {
                if (w)
                        log_ctx_errno(LOG_DEBUG, &w->log, r, "Failed to queue a message: %m");
                else
                        log_debug_errno(r, "Failed to queue a message: %m");
        }
        return r;
}

/* role _DEVICE_ROLE_INVALID: the wearer's availability, else that device's. */
static int publish_online(Manager *m, Wearer *w, DeviceRole role, bool online) {
        MqttMessageType type = role == _DEVICE_ROLE_INVALID ? MQTT_MESSAGE_AVAILABILITY
                                                            : MQTT_MESSAGE_DEVICE_AVAILABILITY;

        return publish_json(m, w, mqtt_payload_availability(json_begin(m, type, w, role, 0), online,
                                                            m->config.gateway_id));
}

/* Steps are published only by the gateway that counted them: a gateway that merely took over
 * another gateway's count (the wearer is in another room) must not echo it back. */
static void publish_steps(Manager *m, size_t i, const CoachClock *now) {
        Wearer *w = m->wearers[i];
        const DayCounters *today = wearer_today(w);
        MqttSteps s = { .steps_today = today->steps, .steps_total = w->steps_total, .gateway = m->config.gateway_id };

        if (!w->steps_counted_here || (w->steps_published && w->published_steps == w->steps_total &&
                                       w->published_distance_dm == w->distance_total_dm))
                return;
        /* Until the wall clock is trusted there is no local day to count from: the message waits
         * (the counts keep growing and go out once the day is known) rather than say "unknown",
         * which the other gateways could not compare and the schema does not allow. */
        if (today->date == 0)
                return;
        (void) local_date_to_string(today->date, s.day, sizeof(s.day));
        for (DeviceRole d = 0; d < _DEVICE_ROLE_MAX; d++) {
                const DeviceStepState *st = &w->devices[d].steps;
                if (w->config->has_device[d] && st->valid)
                        s.device[d] = (MqttDeviceSteps) { .valid = true, .boot_id = st->boot_id, .steps = st->steps };
        }
        if (w->config->has_device[DEVICE_ROLE_FOOTPOD]) {
                s.has_distance = true;
                s.distance_today_dm = today->distance_dm;
                s.distance_total_dm = w->distance_total_dm;
                s.has_footpod_total = wearer_get_footpod_total(w, &s.footpod_total_dm);
        }
        if (publish_json(m, w, mqtt_payload_steps(message_begin(m, MQTT_MESSAGE_STEPS, w, now->wall_usec), &s)) >= 0) {
                w->published_steps = w->steps_total;
                w->published_distance_dm = w->distance_total_dm;
                w->steps_published = true;
                w->steps_counted_here = false;
        }
}

static void drain_wearer(Manager *m, size_t i, const CoachClock *now) {
        Wearer *w = m->wearers[i];
        ActivityChange change;
        ReminderEvent event;
        DaySummary summary;
        bool state_changed = false;

        while (wearer_take_activity_change(w, &change)) {
                log_ctx(LOG_DEBUG, &w->log, "Activity: %s -> %s", activity_state_to_string(change.previous),
                        activity_state_to_string(change.state));
                (void) publish_json(m, w, mqtt_payload_activity(message_begin(m, MQTT_MESSAGE_ACTIVITY, w, now->wall_usec),
                                                                change.state, change.previous,
                                                                change.previous_duration_usec));
        }
        while (wearer_take_reminder_event(w, &event)) {
                switch (event.type) {
                case REMINDER_EVENT_STATE:
                        state_changed = true;
                        break;
                case REMINDER_EVENT_EXERCISE:
                        publish_json(m, w, reminder_event_to_json(&event, message_begin(m, MQTT_MESSAGE_EXERCISE, w,
                                                                                               now->wall_usec)));
                        break;
                case REMINDER_EVENT_REMINDER:
                        log_ctx(LOG_INFO, &w->log, "Move reminder (%s for %" PRIu64 " min).",
                                reminder_reason_to_string(event.reason), (uint64_t) (event.still_usec / USEC_PER_MINUTE));
                        publish_json(m, w, reminder_event_to_json(&event, message_begin(m, MQTT_MESSAGE_REMINDER, w,
                                                                                               now->wall_usec)));
                        state_changed = true;
                        break;
                case REMINDER_EVENT_ERROR:
                        /* A refused command changed nothing: the retained state stays as it is. */
                        publish_json(m, w, reminder_event_to_json(&event, message_begin(m, MQTT_MESSAGE_REMINDER, w,
                                                                                               now->wall_usec)));
                        break;
                default:
                        publish_json(m, w, reminder_event_to_json(&event, message_begin(m, MQTT_MESSAGE_REMINDER, w,
                                                                                               now->wall_usec)));
                        state_changed = true;
                }
        }
        uint32_t dropped = wearer_reminder_events_dropped(w);

        if (dropped != w->reminder_events_dropped_logged) {
                log_ctx(LOG_WARNING, &w->log, "%" PRIu32 " reminder events or day summaries lost (queue full or out of memory).",
                        dropped - w->reminder_events_dropped_logged);
                w->reminder_events_dropped_logged = dropped;
                state_changed = true; /* the retained state still tells where the reminders stand */
        }
        if (state_changed)
                publish_json(m, w, wearer_reminder_state_json(w, now, message_begin(m, MQTT_MESSAGE_REMINDER_STATE, w,
                                                                                     now->wall_usec)));
        while (wearer_take_summary(w, now, &summary)) {
                gait_alerts_end_day(m->alerts, i, &summary);
                publish_json(m, w, day_summary_event_to_json(&summary, message_begin(m, MQTT_MESSAGE_DAILY, w,
                                                                                          now->wall_usec)));
        }
        gait_alerts_drain(m->alerts, i, now->wall_usec);
        publish_steps(m, i, now);
}

static void publish_availability(Manager *m, size_t i, DeviceRole role, bool online) {
        Wearer *w = m->wearers[i];

        (void) publish_online(m, w, role, online);
        (void) publish_online(m, w, _DEVICE_ROLE_INVALID, wearer_any_streaming(w));
}

/* ---- status -------------------------------------------------------------------------------- */

static void manager_update_status(Manager *m) {
        unsigned configured = 0, streaming = 0;
        char status[256];

        for (size_t i = 0; i < m->n_wearers; i++)
                for (DeviceRole d = 0; d < _DEVICE_ROLE_MAX; d++)
                        if (m->wearers[i]->config->has_device[d]) {
                                configured++;
                                if (m->wearers[i]->streaming[d])
                                        streaming++;
                        }

        (void) snprintf(status, sizeof(status), "%u/%u insoles streaming, %s%s", streaming, configured,
                        m->mqtt && mqtt_client_is_connected(m->mqtt) ? "MQTT connected" : "MQTT connecting",
                        m->bluez && !bluez_client_service_available(m->bluez) ? ", waiting for bluetoothd" : "");
        if (streq(status, m->last_status))
                return;
        (void) snprintf(m->last_status, sizeof(m->last_status), "%s", status);
        (void) sd_notifyf(false, "STATUS=%s", status);
        log_debug("Status: %s", status);
}

/* ---- device information, link and bridge states on change ---------------------------------- */

/* What a device told about itself, as the payloads show it: pointers into the wearer's own copy. */
static MqttDeviceInfo device_info_of(const Wearer *w, DeviceRole d) {
        const WearerDeviceInfo *x = &w->device_info[d];

        return (MqttDeviceInfo) {
                .manufacturer = x->manufacturer,
                .model = x->model,
                .firmware = x->firmware,
                .hardware = x->hardware,
        };
}

/* Discovery and the bridge's info describe every wearer's devices at once. */
typedef MqttDeviceInfo DeviceInfoTable[CONFIG_MAX_WEARERS][_DEVICE_ROLE_MAX];

static void device_info_collect(const Manager *m, DeviceInfoTable ret) {
        for (size_t i = 0; i < m->n_wearers; i++)
                for (DeviceRole d = 0; d < _DEVICE_ROLE_MAX; d++)
                        ret[i][d] = device_info_of(m->wearers[i], d);
}

static void publish_discovery(Manager *m) {
        DeviceInfoTable info = {};

        device_info_collect(m, info);
        (void) mqtt_publish_discovery(m->mqtt, INSOLE2MQTT_VERSION, (const MqttDeviceInfo (*)[_DEVICE_ROLE_MAX]) info);
}

/* The link payload of one device; false when BlueZ has no such device. */
static bool link_stats(Manager *m, size_t i, DeviceRole d, BluezLinkStats *ls, MqttLinkStats *ret) {
        const WearerDevice *dev = &m->wearers[i]->devices[d];

        if (!m->bluez || bluez_client_get_link_stats(m->bluez, dev->link, ls) < 0)
                return false;
        *ret = (MqttLinkStats) {
                .connected = ls->connected,
                .refused = ls->refused,
                .has_rssi = ls->has_rssi,
                .rssi_dbm = ls->rssi,
                .lost_frames = dev->decoder_stats.lost_frames,
                .decode_errors = decoder_stats_rejected(&dev->decoder_stats),
                .reconnects = ls->reconnects,
                .connected_usec = ls->link_uptime_usec,
                .notifications_per_s = ls->notifications_per_s,
                .info = device_info_of(m->wearers[i], d),
        };
        return true;
}

static WearerLinkReport link_report_of(Manager *m, size_t i, DeviceRole d, const BluezLinkStats *ls) {
        const WearerDevice *dev = &m->wearers[i]->devices[d];

        return (WearerLinkReport) {
                .connected = ls->connected,
                .refused = ls->refused,
                .has_rssi = ls->has_rssi,
                /* floor division, so that -59 and -51 share a bucket and -60 does not */
                .rssi_bucket = ls->has_rssi ? (ls->rssi - (ls->rssi < 0 ? RSSI_BUCKET_DB - 1 : 0)) / RSSI_BUCKET_DB : 0,
                .errors = decoder_stats_rejected(&dev->decoder_stats) + dev->decoder_stats.lost_frames + ls->connect_failures,
                .reconnects = ls->reconnects,
                .info_generation = dev->info_generation,
        };
}

static void publish_link(Manager *m, size_t i, DeviceRole d, const BluezLinkStats *ls, const MqttLinkStats *l,
                         uint64_t mono, uint64_t wall) {
        WearerLinkReport *rep = &m->wearers[i]->devices[d].link_report;

        if (publish_json(m, m->wearers[i],
                         mqtt_payload_link(json_begin(m, MQTT_MESSAGE_LINK, m->wearers[i], d, wall), d, l)) < 0)
                return;
        *rep = link_report_of(m, i, d, ls);
        rep->published = true;
        rep->published_usec = mono;
}

/* Called every tick: `link` when the connection, the RSSI bucket, the error counters or the
 * device's information changed; counters and RSSI at most every LINK_CHANGE_INTERVAL_USEC. */
static void publish_link_changes(Manager *m, uint64_t mono, uint64_t wall) {
        for (size_t i = 0; i < m->n_wearers; i++)
                for (DeviceRole d = 0; d < _DEVICE_ROLE_MAX; d++) {
                        const WearerLinkReport *last = &m->wearers[i]->devices[d].link_report;
                        BluezLinkStats ls;
                        MqttLinkStats l;
                        WearerLinkReport now;

                        if (!m->wearers[i]->config->has_device[d] || !link_stats(m, i, d, &ls, &l))
                                continue;
                        now = link_report_of(m, i, d, &ls);
                        if (last->published && now.connected == last->connected && now.refused == last->refused &&
                            now.info_generation == last->info_generation) {
                                if (now.has_rssi == last->has_rssi && now.rssi_bucket == last->rssi_bucket &&
                                    now.errors == last->errors && now.reconnects == last->reconnects)
                                        continue;
                                if (mono < last->published_usec + LINK_CHANGE_INTERVAL_USEC)
                                        continue; /* the next tick after the interval sends it */
                        }
                        publish_link(m, i, d, &ls, &l, mono, wall);
                }
}

static void publish_bridge_info(Manager *m, uint64_t wall) {
        MqttAdapterInfo adapter = { .name = m->adapter.name, .powered = m->adapter.powered };
        DeviceInfoTable device_info = {};
        MqttBridgeInfo info = {
                .version = INSOLE2MQTT_VERSION,
                .config = &m->config,
                .adapters = &adapter,
                .n_adapters = m->have_adapter ? 1 : 0,
                .device_info = (const MqttDeviceInfo (*)[_DEVICE_ROLE_MAX]) device_info,
        };

        device_info_collect(m, device_info);

        if (publish_json(m, NULL, mqtt_payload_bridge_info(message_begin(m, MQTT_MESSAGE_BRIDGE_INFO, NULL, wall),
                                                           &info)) >= 0)
                m->adapter_published = true;
}

/* The adapter in use or its power changed, or a device told us about itself. */
static void publish_bridge_changes(Manager *m, uint64_t wall) {
        BluezAdapterInfo a = {};
        bool have = m->bluez && bluez_client_get_adapter(m->bluez, &a) >= 0;

        if (have != m->have_adapter || (have && (!streq(a.name, m->adapter.name) || a.powered != m->adapter.powered))) {
                m->have_adapter = have;
                m->adapter = a;
                m->adapter_published = false;
        }
        if (m->device_info_changed) {
                m->device_info_changed = false;
                m->adapter_published = false;
                publish_discovery(m);
        }
        if (!m->adapter_published)
                publish_bridge_info(m, wall);
}

/* ---- BlueZ callbacks ----------------------------------------------------------------------- */

static void on_bluez_value(void *userdata, void *device_userdata, const DecoderCharacteristic *c, const uint8_t *data,
                           size_t len, uint64_t rx_usec) {
        Manager *m = userdata;
        WearerDevice *dev = device_userdata;
        Wearer *w = dev->wearer;
        DeviceRole role = dev->role;
        CoachClock now = coach_clock(m);
        int changes;

        now.mono_usec = rx_usec;
        changes = wearer_on_value(dev, c, data, len, &now);
        if (changes < 0)
                return; /* malformed: counted in the device's decoder stats, logged at debug */
        if (changes & WEARER_VALUE_BATTERY)
                (void) publish_json(m, w, mqtt_payload_battery(json_begin(m, MQTT_MESSAGE_BATTERY, w, role, now.wall_usec),
                                                               role, (uint8_t) dev->battery_percent));
        if (changes & WEARER_VALUE_INFO_REJECTED)
                m->device_info_rejected++;
        if (changes & WEARER_VALUE_INFO)
                m->device_info_changed = true; /* the tick republishes discovery, bridge info and link */
        if (!(changes & WEARER_VALUE_STREAM))
                return;
        m->notifications++;

        if (m->config.raw_stream && m->config.raw_rate_hz > 0 && role != DEVICE_ROLE_FOOTPOD) {
                FootSide side = role == DEVICE_ROLE_LEFT ? FOOT_LEFT : FOOT_RIGHT;
                /* Paced by the samples' own times: arrival times come in bursts (connection events). */
                if (w->have_latest[side] && raw_pacer_take(&dev->raw_pacer, w->latest[side].t_us, m->config.raw_rate_hz))
                        (void) publish_json(m, w, mqtt_payload_pressure(json_begin(m, MQTT_MESSAGE_PRESSURE, w, role,
                                                                                   now.wall_usec),
                                                                        &w->latest[side], w->layout[side].unit));
        }
}

static void on_bluez_link_state(void *userdata, void *device_userdata, BluezLinkState state) {
        Manager *m = userdata;
        WearerDevice *dev = device_userdata;
        Wearer *w = dev->wearer;
        CoachClock now;
        bool streaming = state == BLUEZ_LINK_STREAMING;

        if (state == BLUEZ_LINK_RESOLVING)
                wearer_device_link_reset(dev); /* connected again: a new link's frames follow */
        if (w->streaming[dev->role] == streaming)
                return;
        now = coach_clock(m);
        /* The BlueZ client logged the transition; here it only changes what we publish. */
        wearer_on_streaming(w, dev->role, streaming, &now);
        publish_availability(m, w->index, dev->role, streaming);
        manager_update_status(m);
}

static void on_bluez_discovered(void *userdata, const BluezDiscovery *d) {
        log_info("Found an unconfigured %s device named \"%s\" (add its address to a [wearer] section to use it).",
                 d->noun ?: "insole", d->name_escaped);
        log_debug("Its address is %s.", d->address);
}

static void on_bluez_service(void *userdata, bool available) {
        Manager *m = userdata;

        /* Logged by the BlueZ client; the status line says it too. */
        manager_update_status(m);
}

static void on_bluez_fatal(void *userdata, int error) {
        Manager *m = userdata;

        /* The BlueZ client said why, once, at error level. */
        manager_quit(m, error);
}

static const BluezClientCallbacks bluez_callbacks = {
        .on_value = on_bluez_value,
        .on_link_state = on_bluez_link_state,
        .on_discovered = on_bluez_discovered,
        .on_service = on_bluez_service,
        .on_fatal = on_bluez_fatal,
};

/* Every configured device of every wearer, with its WearerDevice as the BlueZ client's userdata. */
static int manager_add_devices(Manager *m) {
        for (size_t i = 0; i < m->n_wearers; i++)
                for (DeviceRole d = 0; d < _DEVICE_ROLE_MAX; d++) {
                        Wearer *w = m->wearers[i];
                        char label[CONFIG_NAME_MAX + 32];
                        BluezDeviceSetup setup = {
                                .address = w->config->device[d],
                                .label = label,
                                .log = { .wearer = w->config->name, .device = wearer_device_noun(d) },
                                .stream_rate_hz = (uint16_t) w->config->stream_rate_hz,
                        };
                        int r;

                        if (!w->config->has_device[d])
                                continue;
                        (void) snprintf(label, sizeof(label), "%s of %s", wearer_device_noun(d), w->config->name);
                        r = bluez_client_add_device(m->bluez, &setup, &w->devices[d], &w->devices[d].link);
                        if (r < 0)
                                return r;
                }
        return 0;
}

/* The system bus itself went away (dbus-daemon restarted or crashed). Every BlueZ object, match
 * and acquired fd went with it, and a bus restart breaks every client, so we do not limp on
 * without Bluetooth: exit non-zero and let systemd (Restart=on-failure) start us on the new bus. */
static int on_bus_disconnected(sd_bus_message *message, void *userdata, sd_bus_error *error) {
        Manager *m = userdata;

        log_error("Lost the connection to the system bus; exiting so that systemd restarts the service.");
        manager_quit(m, -ECONNRESET);
        return 0;
}

/* ---- MQTT callbacks ----------------------------------------------------------------------- */

static void on_mqtt_connection(MqttClient *c, bool connected, int error, void *userdata) {
        Manager *m = userdata;

        if (error < 0) {
                /* The MQTT client logged the failure and its cause, once, at error level. */
                log_notice("Exiting: the MQTT client gave up.");
                manager_quit(m, error);
                return;
        }
        /* The MQTT client logged the connection change. */
        manager_update_status(m);
}

static void on_reminder_command(MqttClient *c, const char *topic, const void *payload, size_t len, bool retained,
                                void *userdata) {
        Wearer *w = userdata;
        Manager *m = w->manager;
        CoachClock now;

        /* A retained command would replay an old snooze at every start. */
        if (retained)
                return;
        now = coach_clock(m);
        /* A bad command becomes an error event; it never changes the state. */
        (void) wearer_reminder_command(w, &now, payload, len);
        drain_wearer(m, w->index, &now);
}

/* Another gateway's count for a wearer we do not hold right now (or our own retained message
 * after a restart): take over the larger counts and the newer insole counter states. */
static void restore_seq(Manager *m, const char *topic, uint64_t seq);

/* Counted always, said at most once a minute: anyone who may publish there can send many. */
static void refuse_remote_steps(Manager *m, Wearer *w, const char *why) {
        uint64_t now = event_now_usec(m->event, CLOCK_MONOTONIC);

        m->remote_refused++;
        if (m->remote_refused_logged_usec != 0 && now - m->remote_refused_logged_usec < USEC_PER_MINUTE)
                return;
        m->remote_refused_logged_usec = now;
        log_ctx(LOG_WARNING, &w->log, "Refusing a step count on the broker: %s (%" PRIu64 " refused so far).", why,
                m->remote_refused);
}

static void on_steps_message(MqttClient *c, const char *topic, const void *payload, size_t len, bool retained,
                             void *userdata) {
        Wearer *w = userdata;
        Manager *m = w->manager;
        RemoteSteps rs;
        char our_day[11];
        CoachClock now;

        if (wearer_any_streaming(w))
                return; /* we are the source of this wearer's counts */
        if (remote_steps_parse(payload, len, &rs) < 0) {
                log_ctx(LOG_DEBUG, &w->log, "Ignoring a malformed step count on the broker.");
                return;
        }
        now = coach_clock(m);
        if (streq(rs.gateway, m->config.gateway_id) && rs.seq > 0)
                restore_seq(m, topic, rs.seq);
        if (!remote_gateway_is_trusted(&m->config, rs.gateway)) {
                refuse_remote_steps(m, w, "from a gateway not in trusted-gateways");
                return;
        }
        (void) local_date_to_string(wearer_today(w)->date, our_day, sizeof(our_day));
        if ((streq(rs.day, our_day) &&
             !remote_steps_plausible(wearer_today(w)->steps, rs.steps_today, w->steps_known_usec,
                                     now.wall_usec, REMOTE_STEPS_DAY_MAX)) ||
            !remote_steps_plausible(w->steps_total, rs.steps_total, w->steps_known_usec, now.wall_usec,
                                    REMOTE_STEPS_LIFETIME_MAX)) {
                refuse_remote_steps(m, w, "it grew faster than anyone walks");
                return;
        }
        if (rs.has_distance &&
            ((streq(rs.day, our_day) &&
              !remote_distance_plausible(wearer_today(w)->distance_dm, rs.distance_today_dm, w->steps_known_usec,
                                         now.wall_usec, REMOTE_DISTANCE_DAY_MAX_DM)) ||
             !remote_distance_plausible(w->distance_total_dm, rs.distance_total_dm, w->steps_known_usec, now.wall_usec,
                                        REMOTE_DISTANCE_LIFETIME_MAX_DM))) {
                refuse_remote_steps(m, w, "its distance grew faster than anyone runs");
                return;
        }
        w->steps_known_usec = now.wall_usec;
        if (streq(rs.day, our_day) && rs.steps_today > wearer_today(w)->steps) {
                log_ctx(LOG_DEBUG, &w->log, "Taking over today's count from %s: %" PRIu64 " steps.",
                        rs.gateway[0] ? rs.gateway : "the broker", rs.steps_today);
                /* Counted elsewhere: today's total, not movement that answers a reminder here. */
                wearer_add_day_steps(w, &now, rs.steps_today - wearer_today(w)->steps);
        }
        if (rs.steps_total > w->steps_total)
                w->steps_total = rs.steps_total;
        if (rs.has_distance)
                wearer_take_over_distance(w, &now, streq(rs.day, our_day), rs.distance_today_dm, rs.distance_total_dm);
        /* Our own insole counter states are in our state file; another gateway's are newer when it
         * held the insoles after us. */
        if (streq(rs.gateway, m->config.gateway_id) && !(m->seqs_unsure && !m->publishing))
                return;
        for (DeviceRole d = 0; d < _DEVICE_ROLE_MAX; d++)
                if (w->config->has_device[d] && remote_device_state_is_newer(&w->devices[d].steps, &rs.device[d]))
                        w->devices[d].steps = (DeviceStepState) {
                                .valid = true,
                                .boot_id = rs.device[d].boot_id,
                                .steps = rs.device[d].steps,
                        };
        /* whoever published last held the footpod after us */
        if (rs.has_footpod_total)
                wearer_take_over_footpod_total(w, rs.footpod_total_dm);
}

/* A retained "online" that this gateway published in an earlier life (it crashed or lost power)
 * is withdrawn; another gateway's claim is left alone. */
static void withdraw_stale_availability(Wearer *w, DeviceRole role, const void *payload, size_t len) {
        static const JsonParseLimits limits = { .max_size = 512, .max_depth = 2, .max_values = 8 };
        _cleanup_(json_document_freep) JsonDocument *doc = NULL;
        Manager *m = w->manager;
        const char *state, *gateway;
        bool ours_online;

        if (json_parse(payload, len, &limits, &doc, NULL) < 0)
                return;
        if (json_value_get_string(json_value_member(json_document_root(doc), "state"), &state, NULL) < 0 ||
            json_value_get_string(json_value_member(json_document_root(doc), "gateway"), &gateway, NULL) < 0)
                return;
        if (!streq(state, "online") || !streq(gateway, m->config.gateway_id))
                return;
        ours_online = role == _DEVICE_ROLE_INVALID ? wearer_any_streaming(w) : w->streaming[role];
        if (!ours_online)
                (void) publish_online(m, w, role, false);
}

/* <base>/<wearer>/availability */
static void on_wearer_availability_message(MqttClient *c, const char *topic, const void *payload, size_t len,
                                           bool retained, void *userdata) {
        withdraw_stale_availability(userdata, _DEVICE_ROLE_INVALID, payload, len);
}

/* <base>/<wearer>/<device>/availability */
static void on_device_availability_message(MqttClient *c, const char *topic, const void *payload, size_t len,
                                           bool retained, void *userdata) {
        WearerDevice *d = userdata;

        withdraw_stale_availability(d->wearer, d->role, payload, len);
}

/* ---- timers ------------------------------------------------------------------------------- */

static int on_tick(sd_event_source *s, uint64_t usec, void *userdata) {
        Manager *m = userdata;
        CoachClock now = coach_clock(m);

        for (size_t i = 0; i < m->n_wearers; i++) {
                wearer_tick(m->wearers[i], &now);
                drain_wearer(m, i, &now);
                if (wearer_any_streaming(m->wearers[i]))
                        m->wearers[i]->steps_known_usec = now.wall_usec; /* we count them ourselves */
        }
        publish_link_changes(m, now.mono_usec, now.wall_usec);
        publish_bridge_changes(m, now.wall_usec);
        manager_update_status(m);
        return event_timer_rearm(s, usec + TICK_USEC);
}

/* Wearers take turns across the interval, each every publish_interval: all at once, every
 * wearer's gait message (2 KB) and libmosquitto's copy of it would be held together until the
 * broker acknowledged them, 0.1 MiB more heap at 14 wearers (issue #15). */
static uint64_t publish_turn_usec(const Manager *m, uint64_t interval) {
        return interval / MAX(m->n_wearers, (size_t) 1);
}

static int on_publish(sd_event_source *s, uint64_t usec, void *userdata) {
        Manager *m = userdata;
        CoachClock now = coach_clock(m);

        if (m->n_wearers > 0) {
                Wearer *w = m->wearers[m->publish_next];

                m->publish_next = (m->publish_next + 1) % m->n_wearers;
                if (wearer_any_streaming(w))
                        publish_json(m, w, wearer_gait_json(w, &now, message_begin(m, MQTT_MESSAGE_GAIT, w, now.wall_usec)));
                publish_json(m, w, wearer_today_json(w, &now, message_begin(m, MQTT_MESSAGE_TODAY, w, now.wall_usec)));
        }
        return event_timer_rearm(s, usec + publish_turn_usec(m, m->config.publish_interval_usec));
}

static int on_health(sd_event_source *s, uint64_t usec, void *userdata) {
        Manager *m = userdata;
        uint64_t now = event_now_usec(m->event, CLOCK_MONOTONIC), wall = wall_clock_usec();
        MqttHealth h = {};
        double elapsed = (double) (now - m->health_usec) / 1e6;

        h.uptime_usec = now - m->start_usec;
        (void) mqtt_read_rss_bytes(&h.memory_rss_bytes);
        h.notifications_per_s = elapsed > 0 ? (double) (m->notifications - m->notifications_at_health) / elapsed : 0;
        h.mqtt_refused = m->remote_refused;
        mqtt_health_fill_transport(&h, m->mqtt);

        for (size_t i = 0; i < m->n_wearers; i++) {
                Wearer *w = m->wearers[i];
                for (DeviceRole d = 0; d < _DEVICE_ROLE_MAX; d++) {
                        BluezLinkStats ls;
                        MqttLinkStats l;

                        if (!w->config->has_device[d])
                                continue;
                        h.devices_configured++;
                        if (!link_stats(m, i, d, &ls, &l))
                                continue;
                        if (ls.state == BLUEZ_LINK_STREAMING)
                                h.devices_connected++;
                        h.decode_errors += l.decode_errors;
                        h.lost_frames += l.lost_frames;
                        publish_link(m, i, d, &ls, &l, now, wall);
                }
        }
        (void) publish_json(m, NULL, mqtt_payload_bridge_health(message_begin(m, MQTT_MESSAGE_BRIDGE_HEALTH, NULL, wall),
                                                                &h));
        m->notifications_at_health = m->notifications;
        m->health_usec = now;
        return event_timer_rearm(s, usec + HEALTH_INTERVAL_USEC);
}

static int on_save(sd_event_source *s, uint64_t usec, void *userdata) {
        Manager *m = userdata;

        manager_save_state(m);
        return event_timer_rearm(s, usec + SAVE_INTERVAL_USEC);
}

/* ---- the Prometheus endpoint ---------------------------------------------------------------- */

static int on_metrics_scrape(PromWriter *w, void *userdata) {
        Manager *m = userdata;
        GatewayMetricsSources src = {
                .config = &m->config,
                .wearers = m->wearers,
                .n_wearers = m->n_wearers,
                .bluez = m->bluez,
                .mqtt = m->mqtt,
                .now_usec = event_now_usec(m->event, CLOCK_MONOTONIC),
                .start_usec = m->start_usec,
                .notifications = m->notifications,
                .server = m->prometheus,
        };

        return gateway_metrics_collect(&src, w);
}

/* ---- signals ------------------------------------------------------------------------------ */

static int on_terminate(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
        Manager *m = userdata;

        log_info("Received %s, shutting down.", strsignal((int) si->ssi_signo));
        (void) sd_notify(false, "STOPPING=1\nSTATUS=Shutting down");
        manager_quit(m, 0);
        return 0;
}

/* A new publish interval counts from the last publication, not from the reload: reloads more
 * often than the interval must not hold the metrics back. */
static void manager_reschedule_publish(Manager *m, uint64_t old_interval) {
        uint64_t next = 0, now = event_now_usec(m->event, CLOCK_MONOTONIC);
        uint64_t old_turn = publish_turn_usec(m, old_interval), turn = publish_turn_usec(m, m->config.publish_interval_usec);

        if (!m->publish_timer || sd_event_source_get_time(m->publish_timer, &next) < 0)
                return;
        next = next > old_turn ? next - old_turn + turn : now;
        (void) event_timer_rearm(m->publish_timer, MAX(next, now));
}

static int on_reload(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
        Manager *m = userdata;
        /* On the heap, not the stack, like the one the start loads (daemon/main.c) */
        _cleanup_free_ Config *next = NULL;
        char error[CONFIG_ERROR_MAX];
        ReminderSettings settings;
        uint64_t old_publish_interval;
        int r;

        (void) sd_notify(false, "RELOADING=1");
        old_publish_interval = m->config.publish_interval_usec;
        next = malloc(sizeof *next);
        if (!next) {
                log_warning_errno(ENOMEM, "Reload failed, keeping the running configuration: %m");
                (void) sd_notify(false, "READY=1");
                return 0;
        }
        r = config_load(m->config_path, next, error, sizeof(error));
        if (r < 0) {
                log_warning("Reload failed, keeping the running configuration: %s", error);
                (void) sd_notify(false, "READY=1");
                return 0;
        }
        r = config_apply_reload(&m->config, next, error, sizeof(error));
        if (r < 0)
                log_warning("Reloaded what can change at run time; %s", error);
        else
                log_info("Configuration reloaded.");
        config_done(next);

        reminder_settings_from_config(&m->config, &settings);
        for (size_t i = 0; i < m->n_wearers; i++) {
                wearer_set_reminder_settings(m->wearers[i], &settings);
                (void) wearer_config_changed(m->wearers[i]);
        }
        if (m->bluez)
                bluez_client_config_changed(m->bluez);
        if (m->config.publish_interval_usec != old_publish_interval)
                manager_reschedule_publish(m, old_publish_interval);
        gait_alerts_apply_config(m->alerts, &m->config);
        (void) sd_notify(false, "READY=1");
        return 0;
}

/* ---- life cycle ---------------------------------------------------------------------------- */

Manager *manager_free(Manager *m) {
        if (!m)
                return NULL;

        sd_event_source_disable_unref(m->save_timer);
        sd_event_source_disable_unref(m->restore_timer);
        sd_event_source_disable_unref(m->health_timer);
        sd_event_source_disable_unref(m->publish_timer);
        sd_event_source_disable_unref(m->tick_timer);
        sd_event_source_disable_unref(m->sighup_source);
        sd_event_source_disable_unref(m->sigint_source);
        sd_event_source_disable_unref(m->sigterm_source);
        prometheus_server_free(m->prometheus);
        bluez_client_free(m->bluez);
        mqtt_client_free(m->mqtt);
        gait_alerts_free(m->alerts);
        for (size_t i = 0; i < m->n_wearers; i++)
                wearer_free(m->wearers[i]);
        state_store_done(&m->state);
        sd_bus_flush_close_unref(m->bus);
        sd_event_unref(m->event);
        config_done(&m->config);
        free(m->config_path);
        free(m);
        return NULL;
}

int manager_new(Config *config, Manager **ret) {
        _cleanup_(manager_freep) Manager *m = NULL;
        ReminderSettings settings;
        int r;

        m = calloc(1, sizeof(*m));
        if (!m)
                return log_oom();
        m->config = *config;
        /* The Manager owns the strings now. */
        *config = (Config) {};
        if (m->config.path) {
                m->config_path = strdup(m->config.path);
                if (!m->config_path)
                        return log_oom();
        }
        state_store_init(&m->state);

        /* Not sd_event_default(): that loop checks its thread with gettid() on every iteration. */
        r = sd_event_new(&m->event);
        if (r >= 0)
                r = sd_event_add_signal(m->event, &m->sigterm_source, SIGTERM | SD_EVENT_SIGNAL_PROCMASK, on_terminate, m);
        if (r >= 0)
                r = sd_event_add_signal(m->event, &m->sigint_source, SIGINT | SD_EVENT_SIGNAL_PROCMASK, on_terminate, m);
        if (r >= 0)
                r = sd_event_add_signal(m->event, &m->sighup_source, SIGHUP | SD_EVENT_SIGNAL_PROCMASK, on_reload, m);
        /* Pings the service manager from the loop, so a stuck loop gets us restarted. */
        if (r >= 0)
                r = sd_event_set_watchdog(m->event, true);
        if (r < 0)
                return log_error_errno(r, "Failed to set up the event loop: %m");

        /* Found now rather than at the first save, minutes later. */
        r = state_store_check_directory(m->config.state_directory);
        if (r < 0)
                return config_log_key(&m->config, LOG_ERR, r, &m->config.state_directory,
                                      "found '%s', expected a directory that this user can write to or create (%m)",
                                      m->config.state_directory);

        reminder_settings_from_config(&m->config, &settings);
        for (size_t i = 0; i < m->config.n_wearers; i++) {
                r = wearer_new(i, &m->config.wearers[i], &settings, &m->wearers[i]);
                if (r == -ENOMEM)
                        return log_oom();
                if (r < 0)
                        return config_log_key(&m->config, LOG_ERR, r, m->config.wearers[i].timezone,
                                              "found '%s', expected a time zone file that can be read (%m)",
                                              m->config.wearers[i].timezone);
                m->n_wearers++;
        }

        r = mqtt_client_new(m->event, &m->config, &m->mqtt); /* logs its failures */
        if (r < 0)
                return r;
        mqtt_client_set_connection_handler(m->mqtt, on_mqtt_connection, m);
        r = gait_alerts_new(&m->config, m->wearers, m->n_wearers, m->mqtt, &m->alerts);
        if (r < 0)
                return r;

        *ret = TAKE_PTR(m);
        return 0;
}

const Config *manager_config(const Manager *m) {
        return &m->config;
}

static int manager_start_publishing(Manager *m);

/* ---- a lost state comes back from the broker ------------------------------------------------ */

#define RESTORE_FETCH_USEC (2 * USEC_PER_SEC)   /* per retained topic, once connected */
#define RESTORE_DEADLINE_USEC (10 * USEC_PER_SEC) /* the broker is away: start without it */

/* One of our own retained messages: a seq beyond the one we know means the state we loaded is older
 * than what we published (its saves failed, or it is state.prev). */
static void restore_seq(Manager *m, const char *topic, uint64_t seq) {
        if (m->publishing)
                return;
        if (seq > mqtt_client_get_seq(m->mqtt, topic))
                m->seqs_unsure = true;
        (void) mqtt_client_set_seq(m->mqtt, topic, seq);
}

static void restore_done_one(Manager *m) {
        if (m->restore_pending > 0 && --m->restore_pending == 0) {
                log_debug("Compared the saved state with the broker's retained messages%s.",
                          m->seqs_unsure ? ": it is older" : "");
                (void) manager_start_publishing(m);
        }
}

/* One of our own retained payloads: its seq is the last one we used on that topic. */
static void on_restore_fetched(MqttClient *c, const char *topic, const void *payload, size_t len, int error,
                               void *userdata) {
        static const JsonParseLimits limits = { .max_size = 16384, .max_depth = 8, .max_values = 1024 };
        _cleanup_(json_document_freep) JsonDocument *doc = NULL;
        Manager *m = userdata;
        uint64_t seq;

        if (error >= 0 && payload && json_parse(payload, len, &limits, &doc, NULL) >= 0 &&
            json_value_get_uint64(json_value_member(json_document_root(doc), "seq"), UINT64_MAX / 2, &seq) >= 0)
                restore_seq(m, topic, seq);
        restore_done_one(m);
}

static int on_restore_deadline(sd_event_source *s, uint64_t usec, void *userdata) {
        Manager *m = userdata;

        log_warning("The broker did not answer within %u s: starting without what it holds.",
                    (unsigned) (RESTORE_DEADLINE_USEC / USEC_PER_SEC));
        m->seqs_unsure = true; /* nothing to compare the state with */
        m->restore_pending = 0;
        (void) manager_start_publishing(m);
        return 0;
}

static int restore_fetch(Manager *m, const char *topic) {
        int r = mqtt_client_fetch_retained(m->mqtt, topic, RESTORE_FETCH_USEC, on_restore_fetched, m);
        if (r >= 0)
                m->restore_pending++;
        return r;
}

/* At every start, before anything is published or counted: what we published last is on the
 * broker. Today's counts come with our own retained steps message (the steps subscription takes
 * them over like another gateway's, BlueZ has not started); the seqs of the other retained topics
 * are fetched here. The steps message arrives with the same burst of retained messages, before
 * the last fetch times out. A state file that is older than those (state.prev, none, or saves
 * that failed) means we do not know the seqs of topics that are not retained: they all continue
 * after the wall clock in ms (no topic publishes 1000 a second), so no seq ever goes backwards. */
static int manager_restore_from_broker(Manager *m) {
        char topic[MQTT_TOPIC_MAX];
        int r;

        static const MqttWearerTopic wearer_topics[] = { MQTT_WEARER_TODAY, MQTT_WEARER_DAILY,
                                                         MQTT_WEARER_REMINDER_STATE };
        static const MqttDeviceTopic device_topics[] = { MQTT_DEVICE_BATTERY, MQTT_DEVICE_LINK };

        if (mqtt_topic_bridge(topic, sizeof(topic), m->config.base_topic, m->config.gateway_id, MQTT_BRIDGE_INFO) >= 0)
                (void) restore_fetch(m, topic);
        for (size_t i = 0; i < m->n_wearers; i++) {
                const WearerConfig *wc = m->wearers[i]->config;
                for (size_t t = 0; t < ELEMENTSOF(wearer_topics); t++)
                        if (mqtt_topic_wearer(topic, sizeof(topic), m->config.base_topic, wc->name, wearer_topics[t]) >= 0)
                                (void) restore_fetch(m, topic);
                for (DeviceRole d = 0; d < _DEVICE_ROLE_MAX; d++)
                        for (size_t t = 0; wc->has_device[d] && t < ELEMENTSOF(device_topics); t++)
                                if (mqtt_topic_device(topic, sizeof(topic), m->config.base_topic, wc->name, d,
                                                      device_topics[t]) >= 0)
                                        (void) restore_fetch(m, topic);
        }
        if (m->restore_pending == 0)
                return manager_start_publishing(m);
        r = sd_event_add_time_relative(m->event, &m->restore_timer, CLOCK_MONOTONIC, RESTORE_DEADLINE_USEC, 0,
                                       on_restore_deadline, m);
        if (r < 0)
                return log_error_errno(r, "Failed to arm a timer: %m");
        return 0;
}

int manager_start(Manager *m) {
        int r;

        m->start_usec = m->health_usec = event_now_usec(m->event, CLOCK_MONOTONIC);

        /* First, so that an address we cannot bind stops us before we connect anywhere. */
        if (m->config.prometheus_listen && m->config.prometheus_listen[0]) {
                r = prometheus_server_new(m->event, m->config.prometheus_listen, on_metrics_scrape, m, &m->prometheus);
                if (r < 0)
                        return config_log_key(&m->config, LOG_ERR, r, &m->config.prometheus_listen,
                                              "found '%s', expected an address to serve the metrics on (%m)",
                                              m->config.prometheus_listen);
        }

        /* sd_bus_open_system() honours DBUS_SYSTEM_BUS_ADDRESS, which the tests and the demo use
         * to point us at a private bus with the simulator. */
        r = sd_bus_open_system(&m->bus);
        if (r < 0)
                return log_error_errno(r, "Failed to connect to the system bus: %m");
        r = sd_bus_attach_event(m->bus, m->event, SD_EVENT_PRIORITY_NORMAL);
        if (r < 0)
                return log_error_errno(r, "Failed to attach the bus to the event loop: %m");
        r = sd_bus_match_signal_async(m->bus, NULL, "org.freedesktop.DBus.Local", NULL, "org.freedesktop.DBus.Local",
                                      "Disconnected", on_bus_disconnected, NULL, m);
        if (r < 0)
                return log_error_errno(r, "Failed to watch the bus connection: %m");
        r = bluez_client_new(m->event, m->bus, &m->config, &bluez_callbacks, m, &m->bluez);
        if (r < 0)
                return log_error_errno(r, "Failed to set up the Bluetooth client: %m");
        r = manager_add_devices(m);
        if (r < 0)
                return log_error_errno(r, "Failed to set up the Bluetooth client: %m");

        r = manager_restore_state(m);
        if (r < 0)
                return r;
        (void) mqtt_client_load_seqs(m->mqtt, &m->state);
        gait_alerts_load(m->alerts, m->config.state_directory);
        r = gait_alerts_start(m->alerts);
        if (r < 0)
                return log_error_errno(r, "Failed to subscribe to the alert commands: %m");

        for (size_t i = 0; i < m->n_wearers; i++) {
                Wearer *w = m->wearers[i];
                char topic[MQTT_TOPIC_MAX];

                w->manager = m;
                r = mqtt_subscribe_reminder_set(m->mqtt, w->config->name, on_reminder_command, w);
                if (r < 0)
                        return log_error_errno(r, "Failed to subscribe to %s's reminder commands: %m", w->config->name);

                /* Several gateways, one broker: follow the counts of the gateway that holds the
                 * wearer, so that we continue from them when the wearer comes to us. */
                r = mqtt_topic_wearer(topic, sizeof(topic), m->config.base_topic, w->config->name, MQTT_WEARER_STEPS);
                if (r >= 0)
                        r = mqtt_client_subscribe(m->mqtt, topic, on_steps_message, w);
                if (r < 0)
                        return log_error_errno(r, "Failed to subscribe to %s's step counts: %m", w->config->name);

                for (int d = -1; d < _DEVICE_ROLE_MAX; d++) {
                        if (d >= 0 && !w->config->has_device[d])
                                continue;
                        r = d < 0 ? mqtt_topic_wearer(topic, sizeof(topic), m->config.base_topic, w->config->name,
                                                      MQTT_WEARER_AVAILABILITY)
                                  : mqtt_topic_device(topic, sizeof(topic), m->config.base_topic, w->config->name,
                                                      (DeviceRole) d, MQTT_DEVICE_AVAILABILITY);
                        if (r >= 0)
                                r = d < 0 ? mqtt_client_subscribe(m->mqtt, topic, on_wearer_availability_message, w)
                                          : mqtt_client_subscribe(m->mqtt, topic, on_device_availability_message,
                                                                  &w->devices[d]);
                        if (r < 0)
                                return log_error_errno(r, "Failed to subscribe to %s's availability: %m",
                                                       w->config->name);
                }
        }
        r = mqtt_client_start(m->mqtt);
        if (r < 0)
                return log_error_errno(r, "Failed to start the MQTT client: %m");
        {
                CoachClock now = coach_clock(m);
                /* the coach must know what day it is to take today's count over */
                for (size_t i = 0; i < m->n_wearers; i++)
                        wearer_tick(m->wearers[i], &now);
        }
        r = manager_restore_from_broker(m);
        if (r < 0)
                return r;

        if (!m->config.require_bonded)
                log_warning("require-bonded = no: any device that uses a configured address is believed, "
                            "bonded or not (docs/bluetooth.md).");
        if (m->config.n_trusted_gateways == 0)
                log_warning("trusted-gateways is empty: step counts from every gateway on the broker are believed "
                            "(within the plausible step rate).");
        manager_update_status(m);
        (void) sd_notify(false, "READY=1");
        log_info("insole2mqtt %s started: %zu wearer(s).", INSOLE2MQTT_VERSION, m->n_wearers);
        return 0;
}

/* Everything that publishes or counts: held back while a lost state comes back from the broker. */
static int manager_start_publishing(Manager *m) {
        CoachClock now = coach_clock(m);
        int r;

        if (m->publishing)
                return 0;
        m->publishing = true;
        m->restore_timer = sd_event_source_disable_unref(m->restore_timer);
        if (m->seqs_unsure) {
                if (now.wall_trusted)
                        mqtt_client_raise_seqs(m->mqtt, now.wall_usec / USEC_PER_MSEC);
                else
                        log_warning("The saved state is older than what was published, and the wall clock is not "
                                    "synchronised: sequence numbers of topics with nothing retained may repeat.");
        }
        publish_bridge_info(m, now.wall_usec);
        publish_discovery(m);

        r = bluez_client_start(m->bluez);
        if (r < 0)
                return r; /* the client logged which step failed */

        r = sd_event_add_time_relative(m->event, &m->tick_timer, CLOCK_MONOTONIC, TICK_USEC, 100 * USEC_PER_MSEC,
                                       on_tick, m);
        if (r < 0)
                return log_error_errno(r, "Failed to arm a timer: %m");
        r = sd_event_add_time_relative(m->event, &m->publish_timer, CLOCK_MONOTONIC,
                                       publish_turn_usec(m, m->config.publish_interval_usec),
                                       100 * USEC_PER_MSEC, on_publish, m);
        if (r < 0)
                return log_error_errno(r, "Failed to arm a timer: %m");
        r = sd_event_add_time_relative(m->event, &m->health_timer, CLOCK_MONOTONIC, HEALTH_INTERVAL_USEC,
                                       USEC_PER_SEC, on_health, m);
        if (r < 0)
                return log_error_errno(r, "Failed to arm a timer: %m");
        r = sd_event_add_time_relative(m->event, &m->save_timer, CLOCK_MONOTONIC, SAVE_INTERVAL_USEC, USEC_PER_SEC,
                                       on_save, m);
        if (r < 0)
                return log_error_errno(r, "Failed to arm a timer: %m");
        return 0;
}

int manager_run(Manager *m) {
        int r = 0, q;

        /* Our own loop instead of sd_event_loop(): after a stop request the loop must still run
         * so that MQTT can flush, which sd-event refuses once sd_event_loop() has finished. */
        while (!m->quit) {
                r = sd_event_run(m->event, UINT64_MAX);
                if (r < 0) {
                        log_error_errno(r, "Event loop failed: %m");
                        manager_quit(m, r);
                }
        }

        /* Orderly shutdown: keep today's counters, then let the broker have what is queued. */
        manager_save_state(m);
        for (size_t i = 0; i < m->n_wearers; i++) {
                Wearer *w = m->wearers[i];

                /* Only our own claims: another gateway may hold this wearer right now. */
                if (!wearer_any_streaming(w))
                        continue;
                for (DeviceRole d = 0; d < _DEVICE_ROLE_MAX; d++)
                        if (w->streaming[d])
                                (void) publish_online(m, w, d, false);
                (void) publish_online(m, w, _DEVICE_ROLE_INVALID, false);
        }
        q = mqtt_client_stop(m->mqtt, SHUTDOWN_FLUSH_USEC);
        if (q < 0)
                log_warning_errno(q, "Not every MQTT message reached the broker before shutdown: %m");
        return m->exit_error;
}
