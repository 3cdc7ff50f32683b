/* SPDX-License-Identifier: MIT */
/* The Prometheus metrics of the gateway, by Prometheus' naming rules: base units (seconds, bytes,
 * ratios 0..1), _total for counters. Families are written one at a time across all wearers, as the
 * format wants each family's samples together. Gait figures are tables over the gait snapshot. */

#include <math.h>
#include <stddef.h>
#include <stdio.h>

#include "gateway-metrics.h"
#include "log.h"

#define P "insole2mqtt_"

/* A float of a gait summary, scaled into a base unit (ms -> s, % -> ratio, per minute -> per second). */
typedef struct FloatMetric {
        const char *name;
        const char *help;
        size_t offset;
        double scale;
        bool stance;        /* only for insoles that map pressure (stance_strides > 0) */
} FloatMetric;

#define WIN(f) offsetof(GaitWindowSummary, f)
#define FOOT(f) offsetof(GaitFootSummary, f)

static const FloatMetric window_metrics[] = {
        { P "gait_cadence_steps_per_second", "Cadence (steps of both feet per second; x60 for steps per minute).",
          WIN(cadence_spm), 1.0 / 60 },
        { P "gait_stride_time_seconds", "Median stride time of both feet.", WIN(stride_time_ms), 1e-3 },
        { P "gait_stride_time_cv_ratio", "Coefficient of variation of stride time (stride-to-stride variability).",
          WIN(stride_time_cv_pct), 1e-2 },
        { P "gait_double_support_seconds", "Median time per stride with both feet on the ground.",
          WIN(double_support_ms), 1e-3 },
        { P "gait_double_support_ratio", "Share of the stride with both feet on the ground.",
          WIN(double_support_pct), 1e-2 },
        { P "gait_flight_ratio", "Share of strides with a flight phase (both feet off the ground: running).",
          WIN(flight_share_pct), 1e-2 },
        { P "gait_step_time_symmetry_ratio", "Step time symmetry index 2|L-R|/(L+R); 0 is perfectly symmetric.",
          WIN(symmetry.step_time_pct), 1e-2 },
        { P "gait_stance_time_symmetry_ratio", "Stance time symmetry index 2|L-R|/(L+R).",
          WIN(symmetry.stance_time_pct), 1e-2 },
        { P "gait_swing_time_symmetry_ratio", "Swing time symmetry index 2|L-R|/(L+R).",
          WIN(symmetry.swing_time_pct), 1e-2 },
        { P "gait_peak_load_symmetry_ratio", "Peak load symmetry index 2|L-R|/(L+R).",
          WIN(symmetry.peak_load_pct), 1e-2 },
};

static const FloatMetric foot_metrics[] = {
        { P "gait_foot_stride_time_seconds", "Median stride time of one foot.", FOOT(stride_time_ms), 1e-3 },
        { P "gait_foot_stance_time_seconds", "Median stance time (foot on the ground).", FOOT(stance_time_ms), 1e-3 },
        { P "gait_foot_swing_time_seconds", "Median swing time (foot in the air).", FOOT(swing_time_ms), 1e-3 },
        { P "gait_foot_stance_ratio", "Median stance share of the stride.", FOOT(stance_pct), 1e-2 },
        { P "gait_foot_swing_ratio", "Median swing share of the stride.", FOOT(swing_pct), 1e-2 },
        { P "gait_foot_step_time_seconds", "Median step time (the other foot's contact to this foot's contact).",
          FOOT(step_time_ms), 1e-3 },
        { P "gait_foot_stride_time_cv_ratio", "Coefficient of variation of this foot's stride time.",
          FOOT(stride_time_cv_pct), 1e-2 },
        { P "gait_foot_uncertain_contacts_ratio",
          "Share of strides whose initial contact the signal does not show clearly (it moves 20 ms or more with the detector's constants).",
          FOOT(uncertain_contacts_pct), 1e-2 },
        { P "gait_foot_cop_start_ratio",
          "Median centre of pressure at initial contact, along the insole from heel (0) to toe (1).",
          FOOT(cop_start_x), 1, true },
        { P "gait_foot_cop_end_ratio", "Median centre of pressure at toe-off, heel (0) to toe (1).",
          FOOT(cop_end_x), 1, true },
        { P "gait_foot_cop_forward_ratio", "Share of the centre of pressure's travel that went forward (roll-over).",
          FOOT(cop_forward_fraction), 1, true },
        { P "gait_foot_medial_lateral_index",
          "Median medial-lateral index: > 0 medial loading (pronation tendency), < 0 lateral (supination).",
          FOOT(ml_index), 1, true },
};

/* Loads are in newtons, body weights or uncalibrated counts; the unit is part of the name. */
typedef struct LoadMetric {
        const char *name;   /* completed with _<unit> and suffix */
        const char *suffix;
        const char *help;
        size_t offset;
} LoadMetric;

static const LoadMetric load_metrics[] = {
        { P "gait_foot_peak_load", "", "Median peak load of the stance phase.", FOOT(peak_total) },
        { P "gait_foot_heel_peak_load", "", "Median peak heel load in the first half of stance.", FOOT(peak_heel) },
        { P "gait_foot_heel_loading_rate", "_per_second", "Median heel loading rate (peak heel load / time to it).",
          FOOT(heel_loading_rate) },
        { P "gait_foot_push_peak_load", "", "Median peak forefoot and toe load in the second half of stance.",
          FOOT(push_peak) },
};

static const char *const load_units[] = { "newtons", "body_weights", "raw" };

static const char *load_unit_of(const GaitSnapshot *s) {
        const char *suffix = gait_load_unit_suffix(s->load_unit, s->body_weight_kg > 0);
        return streq(suffix, "bw") ? "body_weights" : streq(suffix, "raw") ? "raw" : "newtons";
}

static float float_at(const void *base, size_t offset) {
        return *(const float *) ((const uint8_t *) base + offset);
}

/* ---- the gateway itself ---------------------------------------------------------------------- */

static void collect_gateway(const GatewayMetricsSources *src, PromWriter *w) {
        const PromLabels g = { .gateway = src->config->gateway_id };
        MqttClientStats ms = {};
        PrometheusServerStats ps;
        unsigned configured = 0, streaming = 0;
        uint64_t rss;

        prom_family(w, P "build_info", PROM_GAUGE, "Always 1; the version label says which insole2mqtt runs.");
        prom_sample(w, &(PromLabels) { .gateway = g.gateway, .extra_name = "version", .extra_value = INSOLE2MQTT_VERSION }, 1);
        prom_family(w, P "uptime_seconds", PROM_GAUGE, "Time since the gateway started.");
        prom_sample(w, &g, (double) (src->now_usec - MIN(src->start_usec, src->now_usec)) / 1e6);
        if (mqtt_read_rss_bytes(&rss) >= 0) {
                prom_family(w, P "resident_memory_bytes", PROM_GAUGE, "Resident memory of the gateway process.");
                prom_sample(w, &g, (double) rss);
        }
        prom_family(w, P "notifications_total", PROM_COUNTER, "Notifications received from all insoles.");
        prom_sample(w, &g, (double) src->notifications);

        for (size_t i = 0; i < src->n_wearers; i++)
                for (DeviceRole d = 0; d < _DEVICE_ROLE_MAX; d++)
                        if (src->wearers[i]->config->has_device[d]) {
                                configured++;
                                streaming += src->wearers[i]->streaming[d];
                        }
        prom_family(w, P "insoles_configured", PROM_GAUGE, "Insoles and footpods in the configuration.");
        prom_sample(w, &g, configured);
        prom_family(w, P "insoles_streaming", PROM_GAUGE, "Insoles and footpods streaming now.");
        prom_sample(w, &g, streaming);

        if (src->mqtt)
                mqtt_client_get_stats(src->mqtt, &ms);
        prom_family(w, P "mqtt_connected", PROM_GAUGE, "1 while the gateway is connected to the MQTT broker.");
        prom_sample(w, &g, ms.connected);
        prom_family(w, P "mqtt_outbox_messages", PROM_GAUGE, "Messages queued for the broker (pending and in flight).");
        prom_sample(w, &g, ms.outbox_depth);
        prom_family(w, P "mqtt_inflight_messages", PROM_GAUGE, "Messages sent and not yet acknowledged by the broker.");
        prom_sample(w, &g, ms.inflight);
        prom_family(w, P "mqtt_published_total", PROM_COUNTER, "Messages the broker took.");
        prom_sample(w, &g, (double) ms.published);
        prom_family(w, P "mqtt_dropped_total", PROM_COUNTER,
                    "Messages dropped from a full outbox (only the optional raw pressure stream is ever dropped).");
        prom_sample(w, &g, (double) ms.dropped);
        prom_family(w, P "mqtt_rejected_total", PROM_COUNTER, "Messages refused because the outbox was full.");
        prom_sample(w, &g, (double) ms.rejected);
        prom_family(w, P "mqtt_reconnects_total", PROM_COUNTER, "Connections to the broker after the first one.");
        prom_sample(w, &g, (double) ms.reconnects);
        prom_family(w, P "mqtt_connect_failures_total", PROM_COUNTER, "Failed attempts to connect to the broker.");
        prom_sample(w, &g, (double) ms.connect_failures);

        prometheus_server_get_stats(src->server, &ps);
        prom_family(w, P "prometheus_scrapes_total", PROM_COUNTER, "Answers to GET /metrics.");
        prom_sample(w, &g, (double) ps.scrapes);
        prom_family(w, P "prometheus_rejected_requests_total", PROM_COUNTER,
                    "Requests to the metrics endpoint answered with an error (malformed, too large, other paths).");
        prom_sample(w, &g, (double) ps.rejected);
        prom_family(w, P "prometheus_timeouts_total", PROM_COUNTER,
                    "Connections closed because the client was too slow to send its request or take the answer.");
        prom_sample(w, &g, (double) ps.timeouts);
        prom_family(w, P "prometheus_evicted_connections_total", PROM_COUNTER,
                    "Connections closed to make room for a new one.");
        prom_sample(w, &g, (double) ps.evicted);
        prom_family(w, P "prometheus_connections", PROM_GAUGE, "Open connections to the metrics endpoint.");
        prom_sample(w, &g, ps.open);
}

/* ---- insoles -------------------------------------------------------------------------------- */

typedef enum LinkField {
        LINK_BATTERY,
        LINK_RSSI,
        LINK_CONNECTED,
        LINK_STREAMING,
        LINK_UP,
        LINK_NOTIFICATIONS,
        LINK_LOST,
        LINK_DECODE_ERRORS,
        LINK_RECONNECTS,
        LINK_CONNECT_FAILURES,
        _LINK_FIELD_MAX,
} LinkField;

static const struct {
        const char *name;
        PromType type;
        const char *help;
} link_families[_LINK_FIELD_MAX] = {
        [LINK_BATTERY] = { P "insole_battery_ratio", PROM_GAUGE, "Battery level reported by the insole, 0..1." },
        [LINK_RSSI] = { P "insole_rssi_dbm", PROM_GAUGE, "Received signal strength of the insole, dBm." },
        [LINK_CONNECTED] = { P "insole_connected", PROM_GAUGE, "1 while BlueZ reports the insole connected." },
        [LINK_STREAMING] = { P "insole_streaming", PROM_GAUGE, "1 while the insole's notifications flow." },
        [LINK_UP] = { P "insole_link_up_seconds", PROM_GAUGE, "Time since the current link came up (0 while down)." },
        [LINK_NOTIFICATIONS] = { P "insole_notifications_total", PROM_COUNTER, "Notifications of the data characteristic." },
        [LINK_LOST] = { P "insole_lost_frames_total", PROM_COUNTER, "Gaps in the pressure frames' sequence numbers." },
        [LINK_DECODE_ERRORS] = { P "insole_decode_errors_total", PROM_COUNTER, "Notifications the decoder refused as malformed." },
        [LINK_RECONNECTS] = { P "insole_reconnects_total", PROM_COUNTER, "Links established after an earlier one was lost." },
        [LINK_CONNECT_FAILURES] = { P "insole_connect_failures_total", PROM_COUNTER, "Connection attempts that did not reach streaming." },
};

static double link_value(LinkField f, const BluezLinkStats *ls, const WearerDevice *dev) {
        switch (f) {
        case LINK_BATTERY: return dev->battery_percent >= 0 ? dev->battery_percent / 100.0 : NAN;
        case LINK_RSSI: return ls->has_rssi ? ls->rssi : NAN;
        case LINK_CONNECTED: return ls->connected;
        case LINK_STREAMING: return ls->state == BLUEZ_LINK_STREAMING;
        case LINK_UP: return (double) ls->link_uptime_usec / 1e6;
        case LINK_NOTIFICATIONS: return (double) ls->frames_received;
        case LINK_LOST: return (double) dev->decoder_stats.lost_frames;
        case LINK_DECODE_ERRORS: return (double) decoder_stats_rejected(&dev->decoder_stats);
        case LINK_RECONNECTS: return (double) ls->reconnects;
        case LINK_CONNECT_FAILURES: return (double) ls->connect_failures;
        default: return NAN;
        }
}

/* What one scrape reads once and every family of it uses (26 KB at the most wearers: on the heap for
 * the scrape, not on the main thread's stack, which stays resident at its deepest; issue #15). */
typedef struct Scrape {
        GaitSnapshot snap[CONFIG_MAX_WEARERS];
        bool have[CONFIG_MAX_WEARERS];
        BluezLinkStats link[CONFIG_MAX_WEARERS][_DEVICE_ROLE_MAX];
        bool have_link[CONFIG_MAX_WEARERS][_DEVICE_ROLE_MAX];
} Scrape;

static void collect_insoles(const GatewayMetricsSources *src, Scrape *s, PromWriter *w) {
        for (size_t i = 0; i < src->n_wearers; i++)
                for (DeviceRole d = 0; d < _DEVICE_ROLE_MAX; d++)
                        s->have_link[i][d] = src->wearers[i]->config->has_device[d] && src->bluez &&
                                             bluez_client_get_link_stats(src->bluez, src->wearers[i]->devices[d].link,
                                                                         &s->link[i][d]) >= 0;

        for (LinkField f = 0; f < _LINK_FIELD_MAX; f++) {
                prom_family(w, link_families[f].name, link_families[f].type, link_families[f].help);
                for (size_t i = 0; i < src->n_wearers; i++)
                        for (DeviceRole d = 0; d < _DEVICE_ROLE_MAX; d++) {
                                PromLabels l = { .gateway = src->config->gateway_id,
                                                 .wearer = src->wearers[i]->config->name,
                                                 .foot = device_role_to_string(d) };
                                if (s->have_link[i][d])
                                        prom_sample(w, &l, link_value(f, &s->link[i][d], &src->wearers[i]->devices[d]));
                        }
        }
}

/* ---- wearers: day, activity, reminders, exercises ---------------------------------------------- */

static void collect_wearers(const GatewayMetricsSources *src, PromWriter *w) {
        const char *gw = src->config->gateway_id;

#define EACH_WEARER(body)                                                                        \
        for (size_t i = 0; i < src->n_wearers; i++) {                                           \
                const Wearer *wr = src->wearers[i];                                             \
                const DayCounters *day = coach_today(wr->coach);                                \
                const PromLabels l = { .gateway = gw, .wearer = wr->config->name };             \
                (void) day, (void) l;                                                           \
                body;                                                                           \
        }

        prom_family(w, P "wearer_steps_total", PROM_COUNTER, "Steps counted since the wearer was first seen.");
        EACH_WEARER(prom_sample(w, &l, (double) wr->steps_total));
        prom_family(w, P "wearer_steps_today", PROM_GAUGE, "Steps since local midnight.");
        EACH_WEARER(prom_sample(w, &l, (double) day->steps));
        prom_family(w, P "wearer_hourly_step_goal", PROM_GAUGE,
                    "The configured steps per hour ([reminders] hourly-step-goal; 0 = off).");
        EACH_WEARER(prom_sample(w, &l, src->config->hourly_step_goal));

        prom_family(w, P "wearer_activity", PROM_GAUGE, "The current activity as a state set: 1 for the current state, 0 for the others.");
        EACH_WEARER(for (ActivityState a = 0; a < _ACTIVITY_MAX; a++)
                prom_sample(w, &(PromLabels) { .gateway = gw, .wearer = wr->config->name, .extra_name = "activity",
                                               .extra_value = activity_state_to_string(a) },
                            wr->activity == a));
        prom_family(w, P "wearer_activity_duration_seconds", PROM_GAUGE, "How long the current activity has lasted.");
        EACH_WEARER(if (wr->activity_since_usec > 0)
                prom_sample(w, &l, (double) (src->now_usec - MIN(wr->activity_since_usec, src->now_usec)) / 1e6));
        prom_family(w, P "wearer_activity_today_seconds", PROM_GAUGE, "Time in each activity since local midnight.");
        EACH_WEARER(for (ActivityState a = 0; a < _ACTIVITY_MAX; a++)
                prom_sample(w, &(PromLabels) { .gateway = gw, .wearer = wr->config->name, .extra_name = "activity",
                                               .extra_value = activity_state_to_string(a) },
                            (double) day->activity_usec[a] / 1e6));
        prom_family(w, P "wearer_longest_sitting_today_seconds", PROM_GAUGE, "The longest sitting bout since local midnight.");
        EACH_WEARER(prom_sample(w, &l, (double) day->longest_sitting_usec / 1e6));

        prom_family(w, P "wearer_reminder_due", PROM_GAUGE, "1 while a move reminder is due (sent and not yet answered by moving).");
        EACH_WEARER(prom_sample(w, &l, coach_due(wr->coach)));
        prom_family(w, P "wearer_reminders_sent_today", PROM_GAUGE, "Move reminders sent since local midnight (first ones of a bout).");
        EACH_WEARER(prom_sample(w, &l, day->reminders_sent));
        prom_family(w, P "wearer_reminder_repeats_today", PROM_GAUGE, "Repeated reminders since local midnight.");
        EACH_WEARER(prom_sample(w, &l, day->reminder_repeats));
        prom_family(w, P "wearer_reminders_cleared_today", PROM_GAUGE, "Reminders answered by moving since local midnight.");
        EACH_WEARER(prom_sample(w, &l, day->reminders_answered));

        prom_family(w, P "wearer_calf_raises_today", PROM_GAUGE, "Calf raises since local midnight.");
        EACH_WEARER(prom_sample(w, &l, day->calf_raises));
        prom_family(w, P "wearer_toe_walking_today_seconds", PROM_GAUGE, "Time walking on the toes since local midnight.");
        EACH_WEARER(prom_sample(w, &l, (double) day->toe_walking_usec / 1e6));
        prom_family(w, P "wearer_single_leg_today_seconds", PROM_GAUGE, "Time standing on one leg since local midnight, per foot.");
        EACH_WEARER(for (FootSide f = 0; f < _FOOT_SIDE_MAX; f++)
                prom_sample(w, &(PromLabels) { .gateway = gw, .wearer = wr->config->name, .foot = foot_side_to_string(f) },
                            (double) day->single_leg_usec[f] / 1e6));
#undef EACH_WEARER
}

/* ---- gait ------------------------------------------------------------------------------------ */

static PromLabels gait_labels(const GatewayMetricsSources *src, size_t i, GaitWindow x, int foot) {
        return (PromLabels) { .gateway = src->config->gateway_id, .wearer = src->wearers[i]->config->name,
                              .foot = foot >= 0 ? foot_side_to_string((FootSide) foot) : NULL,
                              .window = gait_window_to_string(x) };
}

/* foot -1: a figure of both feet */
static void gait_sample(PromWriter *w, const GatewayMetricsSources *src, size_t i, GaitWindow x, int foot, double v) {
        PromLabels l = gait_labels(src, i, x, foot);
        prom_sample(w, &l, v);
}

static void collect_gait(const GatewayMetricsSources *src, const Scrape *s, PromWriter *w) {
        prom_family(w, P "gait_window_seconds", PROM_GAUGE, "How much time each gait window covers so far.");
        for (size_t i = 0; i < src->n_wearers; i++)
                for (GaitWindow x = 0; s->have[i] && x < _GAIT_WINDOW_MAX; x++)
                        gait_sample(w, src, i, x, -1, (double) s->snap[i].window[x].duration_us / 1e6);
        prom_family(w, P "gait_steps", PROM_GAUGE, "Steps within the gait window.");
        for (size_t i = 0; i < src->n_wearers; i++)
                for (GaitWindow x = 0; s->have[i] && x < _GAIT_WINDOW_MAX; x++)
                        gait_sample(w, src, i, x, -1, s->snap[i].window[x].steps);

        for (size_t m = 0; m < ELEMENTSOF(window_metrics); m++) {
                prom_family(w, window_metrics[m].name, PROM_GAUGE, window_metrics[m].help);
                for (size_t i = 0; i < src->n_wearers; i++)
                        for (GaitWindow x = 0; s->have[i] && x < _GAIT_WINDOW_MAX; x++)
                                gait_sample(w, src, i, x, -1,
                                            float_at(&s->snap[i].window[x], window_metrics[m].offset) * window_metrics[m].scale);
        }

        prom_family(w, P "gait_foot_strides", PROM_GAUGE, "Strides of one foot within the gait window.");
        for (size_t i = 0; i < src->n_wearers; i++)
                for (GaitWindow x = 0; s->have[i] && x < _GAIT_WINDOW_MAX; x++)
                        for (FootSide f = 0; f < _FOOT_SIDE_MAX; f++)
                                gait_sample(w, src, i, x, f, s->snap[i].window[x].foot[f].strides);

        for (size_t m = 0; m < ELEMENTSOF(foot_metrics); m++) {
                prom_family(w, foot_metrics[m].name, PROM_GAUGE, foot_metrics[m].help);
                for (size_t i = 0; i < src->n_wearers; i++)
                        for (GaitWindow x = 0; s->have[i] && x < _GAIT_WINDOW_MAX; x++)
                                for (FootSide f = 0; f < _FOOT_SIDE_MAX; f++) {
                                        const GaitFootSummary *fs = &s->snap[i].window[x].foot[f];
                                        if (foot_metrics[m].stance && fs->stance_strides == 0)
                                                continue;
                                        gait_sample(w, src, i, x, f,
                                                    float_at(fs, foot_metrics[m].offset) * foot_metrics[m].scale);
                                }
        }

        prom_family(w, P "gait_foot_landing_ratio", PROM_GAUGE,
                    "Share of the strides that landed on each part of the foot (pattern: heel, midfoot, forefoot, flat).");
        for (size_t i = 0; i < src->n_wearers; i++)
                for (GaitWindow x = 0; s->have[i] && x < _GAIT_WINDOW_MAX; x++)
                        for (FootSide f = 0; f < _FOOT_SIDE_MAX; f++) {
                                const GaitFootSummary *fs = &s->snap[i].window[x].foot[f];
                                for (StrikePattern p = 0; fs->stance_strides > 0 && p < _STRIKE_PATTERN_MAX; p++) {
                                        PromLabels l = gait_labels(src, i, x, f);
                                        l.extra_name = "pattern";
                                        l.extra_value = strike_pattern_to_string(p);
                                        prom_sample(w, &l, (double) fs->strikes[p] / fs->stance_strides);
                                }
                        }
        prom_family(w, P "gait_foot_load_share_ratio", PROM_GAUGE,
                    "Share of the stance impulse carried by each region of the foot (region: heel, midfoot, forefoot, toes).");
        for (size_t i = 0; i < src->n_wearers; i++)
                for (GaitWindow x = 0; s->have[i] && x < _GAIT_WINDOW_MAX; x++)
                        for (FootSide f = 0; f < _FOOT_SIDE_MAX; f++) {
                                const GaitFootSummary *fs = &s->snap[i].window[x].foot[f];
                                for (FootRegion r = 0; fs->stance_strides > 0 && r < _REGION_MAX; r++) {
                                        PromLabels l = gait_labels(src, i, x, f);
                                        l.extra_name = "region";
                                        l.extra_value = foot_region_to_string(r);
                                        prom_sample(w, &l, fs->load_share_pct[r] / 100.0);
                                }
                        }

        for (size_t m = 0; m < ELEMENTSOF(load_metrics); m++)
                for (size_t u = 0; u < ELEMENTSOF(load_units); u++) {
                        char name[96];

                        (void) snprintf(name, sizeof(name), "%s_%s%s", load_metrics[m].name, load_units[u],
                                        load_metrics[m].suffix);
                        prom_family(w, name, PROM_GAUGE, load_metrics[m].help);
                        for (size_t i = 0; i < src->n_wearers; i++) {
                                if (!s->have[i] || !streq(load_unit_of(&s->snap[i]), load_units[u]))
                                        continue;
                                for (GaitWindow x = 0; x < _GAIT_WINDOW_MAX; x++)
                                        for (FootSide f = 0; f < _FOOT_SIDE_MAX; f++) {
                                                const GaitFootSummary *fs = &s->snap[i].window[x].foot[f];
                                                if (fs->stance_strides > 0)
                                                        gait_sample(w, src, i, x, f,
                                                                    float_at(fs, load_metrics[m].offset));
                                        }
                        }
                }
}

static void collect_balance(const GatewayMetricsSources *src, const Scrape *s, PromWriter *w) {
#define EACH_STANDING(cond, value)                                                               \
        for (size_t i = 0; i < src->n_wearers; i++) {                                           \
                const GaitBalance *b = &s->snap[i].balance;                                      \
                PromLabels l = { .gateway = src->config->gateway_id, .wearer = src->wearers[i]->config->name }; \
                if (s->have[i] && (cond))                                                        \
                        prom_sample(w, &l, value);                                               \
        }

        prom_family(w, P "balance_standing", PROM_GAUGE, "1 during a quiet-standing bout.");
        EACH_STANDING(true, b->standing);
        prom_family(w, P "balance_standing_seconds", PROM_GAUGE, "Length of the current (or last) quiet-standing bout.");
        EACH_STANDING(true, (double) b->standing_us / 1e6);
        prom_family(w, P "balance_sway_path_ratio_per_second", PROM_GAUGE,
                    "Centre-of-pressure path while standing, in insole lengths per second.");
        EACH_STANDING(b->standing_us > 0, b->sway_path_pct_per_s / 100.0);
        prom_family(w, P "balance_sway_range_ratio", PROM_GAUGE,
                    "Range of the centre of pressure while standing, share of the insole (axis: heel_toe, medial_lateral).");
        for (size_t i = 0; i < src->n_wearers; i++) {
                const GaitBalance *b = &s->snap[i].balance;
                PromLabels l = { .gateway = src->config->gateway_id, .wearer = src->wearers[i]->config->name,
                                 .extra_name = "axis" };
                if (!s->have[i] || b->standing_us == 0)
                        continue;
                l.extra_value = "heel_toe";
                prom_sample(w, &l, b->sway_range_x_pct / 100.0);
                l.extra_value = "medial_lateral";
                prom_sample(w, &l, b->sway_range_y_pct / 100.0);
        }
        prom_family(w, P "balance_left_load_ratio", PROM_GAUGE, "The left foot's share of the load of both feet while standing.");
        EACH_STANDING(b->standing_us > 0, b->left_share_pct / 100.0);
        prom_family(w, P "balance_toe_grips", PROM_GAUGE, "Toe grips in the current (or last) standing bout.");
        EACH_STANDING(b->standing_us > 0, b->toe_grips);
        prom_family(w, P "balance_toe_grips_per_second", PROM_GAUGE, "Toe grips per second of that bout.");
        EACH_STANDING(b->standing_us > 0, b->toe_grips_per_min / 60.0);
#undef EACH_STANDING
}

int gateway_metrics_collect(const GatewayMetricsSources *src, PromWriter *w) {
        _cleanup_free_ Scrape *scrape = NULL;

        if (!src || !w || src->n_wearers > CONFIG_MAX_WEARERS)
                return -EINVAL;
        scrape = malloc(sizeof *scrape);
        if (!scrape)
                return -ENOMEM;

        /* One snapshot per wearer per scrape (it sorts every window); gait_engine_snapshot() has no
         * side effects on the engine's results, unlike wearer_gait_json() which also feeds the day.
         * Like the gait payload, only while a device streams: afterwards the windows would hold
         * the last walk forever (the wearer went to another room, another gateway has them). */
        for (size_t i = 0; i < src->n_wearers; i++)
                scrape->have[i] = src->wearers[i]->gait && wearer_any_streaming(src->wearers[i]) &&
                                  gait_engine_snapshot(src->wearers[i]->gait, &scrape->snap[i]) >= 0;

        collect_gateway(src, w);
        collect_insoles(src, scrape, w);
        collect_wearers(src, w);
        collect_gait(src, scrape, w);
        collect_balance(src, scrape, w);
        return w->overflow ? -ENOBUFS : 0;
}
