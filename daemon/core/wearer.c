/* SPDX-License-Identifier: MIT */
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "round-util.h"
#include "wearer.h"

/* A footpod reports about once a second; older values no longer describe the wearer's motion. */
#define FOOTPOD_FRESH_USEC (5 * USEC_PER_SEC)

static FootSide side_of_role(DeviceRole role) {
        switch (role) {
        case DEVICE_ROLE_LEFT:
                return FOOT_LEFT;
        case DEVICE_ROLE_RIGHT:
                return FOOT_RIGHT;
        default:
                return _FOOT_SIDE_INVALID;
        }
}

const char *wearer_device_noun(DeviceRole role) {
        switch (role) {
        case DEVICE_ROLE_LEFT:
                return "left insole";
        case DEVICE_ROLE_RIGHT:
                return "right insole";
        case DEVICE_ROLE_FOOTPOD:
                return "footpod";
        default:
                return "device";
        }
}

Wearer *wearer_free(Wearer *w) {
        if (!w)
                return NULL;
        gait_engine_free(w->gait);
        foot_pairer_done(&w->pairer);
        coach_free(w->coach);
        zone_free(w->zone);
        free(w);
        return NULL;
}

int wearer_new(size_t index, const WearerConfig *config, const ReminderSettings *settings, Wearer **ret) {
        _cleanup_(wearer_freep) Wearer *w = NULL;
        int r;

        w = calloc(1, sizeof(*w));
        if (!w)
                return -ENOMEM;
        w->index = index;
        w->config = config;
        w->log = (LogContext) { .wearer = config->name };
        for (DeviceRole d = 0; d < _DEVICE_ROLE_MAX; d++)
                (void) snprintf(w->device_names[d], sizeof(w->device_names[d]), "%s %s of %s",
                                device_role_to_string(d), d == DEVICE_ROLE_FOOTPOD ? "" : "insole", config->name);
        w->gait_params = GAIT_PARAMS_DEFAULT;
        w->gait_params.body_weight_kg = (float) config->body_weight_kg;
        w->gait_params.no_result_queues = true;
        /* One insole (with or without a footpod): the engine must not wait for the other foot. */
        w->gait_params.single_foot = config->has_device[DEVICE_ROLE_LEFT] != config->has_device[DEVICE_ROLE_RIGHT];
        for (DeviceRole d = 0; d < _DEVICE_ROLE_MAX; d++) {
                w->devices[d] = (WearerDevice) { .wearer = w, .role = d, .battery_percent = -1 };
                decoder_state_reset(&w->devices[d].decoder, side_of_role(d));
        }
        foot_pairer_init(&w->pairer);
        motion_accumulator_init(&w->motion);
        w->activity = ACTIVITY_UNKNOWN;

        /* The configuration checked that a named zone exists: if it cannot be loaded, the caller
         * says so against the key. The system's zone falls back to UTC rather than losing the
         * wearer. */
        (void) snprintf(w->zone_name, sizeof(w->zone_name), "%s", config->timezone);
        r = zone_load(config->timezone, &w->zone);
        if (r < 0 && config->timezone[0])
                return r;
        if (r < 0) {
                r = zone_load("UTC", &w->zone);
                if (r < 0)
                        return r;
        }
        r = coach_new(settings, w->zone, &w->coach);
        if (r < 0)
                return r;
        /* With a known body weight, each foot carries half of it when standing still; without one
         * (or with uncalibrated insoles) the exercise detector learns the level while standing. */
        w->weight_reference_n = config->body_weight_kg > 0 ? (float) (config->body_weight_kg * 9.81 / 2) : 0;

        *ret = TAKE_PTR(w);
        return 0;
}

int wearer_config_changed(Wearer *w) {
        float kg = (float) w->config->body_weight_kg;
        Zone *zone = NULL;
        int r;

        if (kg != w->gait_params.body_weight_kg) {
                w->gait_params.body_weight_kg = kg;
                if (w->gait)
                        gait_engine_set_body_weight(w->gait, kg);
                w->weight_reference_n = kg > 0 ? kg * 9.81f / 2 : 0;
                /* Without a weight (or with raw insoles) the exercise detector learns the level. */
                for (FootSide s = 0; s < _FOOT_SIDE_MAX; s++)
                        if (w->has_layout[s] && w->layout[s].unit == PRESSURE_UNIT_RAW)
                                kg = 0;
                coach_set_reference_load(w->coach, kg > 0 ? w->weight_reference_n : 0, kg > 0 ? w->weight_reference_n : 0);
        }

        if (!streq(w->config->timezone, w->zone_name)) {
                r = zone_load(w->config->timezone, &zone);
                if (r < 0)
                        return log_ctx_errno(LOG_WARNING, &w->log, r, "Failed to load the time zone \"%s\", keeping the previous one: %m",
                                             w->config->timezone);
                coach_set_zone(w->coach, zone);
                zone_free(w->zone);
                w->zone = zone;
                (void) snprintf(w->zone_name, sizeof(w->zone_name), "%s", w->config->timezone);
        }
        return 0;
}

bool wearer_any_streaming(const Wearer *w) {
        for (DeviceRole d = 0; d < _DEVICE_ROLE_MAX; d++)
                if (w->config->has_device[d] && w->streaming[d])
                        return true;
        return false;
}

/* A single-cell stand-in for feet we have no pressure map of (footpods), so that the engine can
 * still run on cadence. */
static void placeholder_layout(FootSide side, InsoleLayout *ret) {
        *ret = (InsoleLayout) {
                .side = side,
                .n_cells = 1,
                .unit = PRESSURE_UNIT_RAW,
                .scale = 1,
                .cells[0] = { .x = 0.5f, .y = 0.5f },
        };
}

static int ensure_engine(Wearer *w) {
        InsoleLayout layouts[_FOOT_SIDE_MAX];
        bool has_left = w->config->has_device[DEVICE_ROLE_LEFT], has_right = w->config->has_device[DEVICE_ROLE_RIGHT];

        if (w->gait)
                return 0;

        if (has_left && !w->has_layout[FOOT_LEFT])
                return -EAGAIN;
        if (has_right && !w->has_layout[FOOT_RIGHT])
                return -EAGAIN;

        for (FootSide s = 0; s < _FOOT_SIDE_MAX; s++) {
                FootSide other = s == FOOT_LEFT ? FOOT_RIGHT : FOOT_LEFT;
                if (w->has_layout[s])
                        layouts[s] = w->layout[s];
                else if (w->has_layout[other]) {
                        /* A wearer with one insole: the other foot mirrors it and stays silent. */
                        layouts[s] = w->layout[other];
                        layouts[s].side = s;
                } else
                        placeholder_layout(s, &layouts[s]);
        }
        return gait_engine_new(&layouts[FOOT_LEFT], &layouts[FOOT_RIGHT], &w->gait_params, &w->gait);
}

static void set_layout(Wearer *w, FootSide side, const InsoleLayout *layout) {
        InsoleLayout l = *layout;

        /* The configuration says which foot a device is on; a layout claiming the other side is
         * a device set up for the wrong shoe, and the configuration wins. */
        if (l.side != side) {
                log_ctx(LOG_WARNING, &w->log, "The %s insole reports itself as %s; using it as %s.",
                        foot_side_to_string(side), strna(foot_side_to_string(l.side)), foot_side_to_string(side));
                l.side = side;
        }
        if (w->has_layout[side] && memcmp(&w->layout[side], &l, sizeof(l)) == 0)
                return;
        if (w->gait) {
                /* A different sensor map (another insole model): the engine's per-cell state no
                 * longer applies. */
                log_ctx(LOG_INFO, &w->log, "Sensor layout of the %s insole changed, restarting gait analysis.",
                        foot_side_to_string(side));
                w->gait = gait_engine_free(w->gait);
        }
        w->layout[side] = l;
        w->has_layout[side] = true;
        if (w->weight_reference_n > 0 && l.unit != PRESSURE_UNIT_RAW)
                coach_set_reference_load(w->coach, w->weight_reference_n, w->weight_reference_n);
        (void) ensure_engine(w);
}

/* One sample in the layout's unit: to the gait engine, and paired with the other foot for the coach. */
static void feed_sample(Wearer *w, DeviceRole role, FootSide side, PressureSample *s) {
        FootLoad load;

        s->t_us = device_clock_map(&w->clock[role], s->t_us);
        (void) gait_engine_feed(w->gait, side, s);
        if (foot_load_compute(&w->layout[side], s, &load) >= 0)
                (void) foot_pairer_push(&w->pairer, side, &load);
}

/* ---- readings of one device (the ReadingSink of decoder.h) --------------------------------- */

typedef struct ReadingContext {
        WearerDevice *device;
        const CoachClock *now;
        int changes;
} ReadingContext;

static void reading_layout(void *userdata, const InsoleLayout *layout, bool is_default) {
        ReadingContext *x = userdata;
        Wearer *w = x->device->wearer;
        FootSide side = side_of_role(x->device->role);

        /* A family's assumed map never replaces one the device reported. */
        if (side < 0 || (is_default && w->has_layout[side]))
                return;
        set_layout(w, side, layout);
}

static void reading_pressure(void *userdata, const PressureReading *p) {
        ReadingContext *x = userdata;
        Wearer *w = x->device->wearer;
        DeviceRole role = x->device->role;
        FootSide side = side_of_role(role);
        size_t n = MIN(p->n_samples, (size_t) DECODER_MAX_SAMPLES);
        const InsoleLayout *layout;
        FootLoad left, right;

        if (side < 0 || n == 0)
                return;
        if (p->clock_restarted)
                device_clock_reset(&w->clock[role]);
        device_clock_observe(&w->clock[role], p->samples[n - 1].t_us, x->now->mono_usec);

        layout = &w->layout[side];
        if (!w->has_layout[side] || ensure_engine(w) < 0 || layout->n_cells != p->samples[0].n_cells) {
                /* No sensor map yet, or one with a different number of cells than the frames. */
                w->samples_without_layout += n;
                return;
        }
        /* The samples carry raw values: the device's layout makes them its unit. One at a time, on
         * the stack: a copy of a whole notification's samples would be 6.7 KB per wearer. */
        for (size_t i = 0; i < n; i++) {
                PressureSample s = p->samples[i];

                for (unsigned c = 0; c < s.n_cells; c++)
                        s.cell[c] = p->samples[i].cell[c] * layout->scale + layout->offset;
                feed_sample(w, role, side, &s);
                if (i == n - 1) {
                        w->latest[side] = s;
                        w->have_latest[side] = true;
                }
        }
        while (foot_pairer_take(&w->pairer, &left, &right))
                (void) coach_feed_foot_loads(w->coach, x->now, &left, &right, w->activity == ACTIVITY_STANDING);
}

static void reading_motion(void *userdata, const MotionReading *m) {
        ReadingContext *x = userdata;
        Wearer *w = x->device->wearer;
        const CoachClock *now = x->now;
        uint64_t dm;

        motion_accumulator_feed(&w->motion, m, now->mono_usec);
        w->have_motion = true;
        w->motion_last = *m;
        w->motion_last_usec = now->mono_usec;
        /* The accumulator reconciles Total Distance (reconnects, resets, the u32 wrap); what it
         * added since the last measurement is this wearer's new distance. */
        dm = (uint64_t) round_half_away(motion_accumulator_distance_m(&w->motion) * 10);
        if (dm > w->motion_dm_counted) {
                w->distance_total_dm += dm - w->motion_dm_counted;
                coach_feed_distance(w->coach, now, dm - w->motion_dm_counted);
                w->motion_dm_counted = dm;
                w->steps_counted_here = true; /* published with the steps */
        }
        /* The engine counts steps from the cadence (a footpod has no step counter). */
        if (ensure_engine(w) >= 0)
                (void) gait_engine_feed_cadence(w->gait, now->mono_usec, m->cadence_per_min, m->running);
}

static void reading_step_counter(void *userdata, uint32_t steps, uint32_t boot_id) {
        ReadingContext *x = userdata;
        WearerDevice *d = x->device;
        Wearer *w = d->wearer;
        uint32_t delta = device_steps_reconcile(&d->steps, steps, boot_id);

        /* Steps come from the devices' own counters now, each counted once. */
        w->has_step_counter = true;
        /* An insole counts the steps of its own foot; with one insole, the other foot took as many. */
        if (w->gait_params.single_foot && side_of_role(d->role) >= 0)
                wearer_add_steps(w, 2 * (uint64_t) delta, x->now);
        else
                wearer_add_steps(w, delta, x->now);
}

static void reading_battery(void *userdata, uint8_t percent) {
        ReadingContext *x = userdata;

        if (x->device->battery_percent == percent)
                return;
        x->device->battery_percent = percent;
        x->changes |= WEARER_VALUE_BATTERY;
}

static void reading_device_info(void *userdata, const DeviceInfoString *s) {
        ReadingContext *x = userdata;
        WearerDevice *d = x->device;
        Wearer *w = d->wearer;
        int r;

        /* Device-provided text: escaped by the decoder's bounds, logged at debug only. */
        if (log_get_max_level() >= LOG_DEBUG) {
                char esc[DEVICE_INFO_STRING_MAX * 4 + 1];
                log_ctx(LOG_DEBUG, &w->log, "%s: %s = \"%s\"", w->device_names[d->role],
                        device_info_field_to_string(s->field), log_escape(s->value, s->len, esc, sizeof(esc)));
        }
        r = wearer_set_device_info(w, d->role, s);
        if (r < 0) {
                log_ctx(LOG_WARNING, &w->log, "%s: ignoring its %s, which is not printable text.", w->device_names[d->role],
                        device_info_field_to_string(s->field));
                x->changes |= WEARER_VALUE_INFO_REJECTED;
        } else if (r > 0) {
                d->info_generation++;
                x->changes |= WEARER_VALUE_INFO;
        }
}

static const ReadingSink wearer_reading_sink = {
        .layout = reading_layout,
        .pressure = reading_pressure,
        .step_counter = reading_step_counter,
        .battery = reading_battery,
        .motion = reading_motion,
        .device_info = reading_device_info,
};

int wearer_on_value(WearerDevice *d, const DecoderCharacteristic *c, const uint8_t *data, size_t len,
                    const CoachClock *now) {
        ReadingContext x = { .device = d, .now = now };
        int r;

        r = decoder_read(c, &d->decoder, &d->decoder_stats, data, len, &wearer_reading_sink, &x);
        if (r < 0) {
                log_ctx(LOG_DEBUG, &d->wearer->log, "%s: dropped a %zu-byte %s value: %s", d->wearer->device_names[d->role],
                        len, c->name, strna(decode_result_to_string(r)));
                return r;
        }
        if (c->role == DECODER_ROLE_STREAM)
                x.changes |= WEARER_VALUE_STREAM;
        return x.changes;
}

void wearer_device_link_reset(WearerDevice *d) {
        decoder_state_link_reset(&d->decoder);
}

bool wearer_get_footpod_total(const Wearer *w, uint32_t *ret_total_dm) {
        return motion_accumulator_get_total(&w->motion, ret_total_dm);
}

void wearer_restore_footpod(Wearer *w, uint64_t distance_total_dm, bool has_footpod_total, uint32_t footpod_total_dm) {
        w->distance_total_dm = distance_total_dm;
        if (has_footpod_total && !w->have_motion)
                motion_accumulator_set_total(&w->motion, footpod_total_dm);
}

void wearer_take_over_distance(Wearer *w, const CoachClock *now, bool same_day, uint64_t today_dm, uint64_t total_dm) {
        uint64_t ours_today = coach_today(w->coach)->distance_dm;

        if (!w->config->has_device[DEVICE_ROLE_FOOTPOD])
                return;
        if (same_day && today_dm > ours_today)
                coach_feed_distance(w->coach, now, today_dm - ours_today);
        w->distance_total_dm = MAX(w->distance_total_dm, total_dm);
}

void wearer_take_over_footpod_total(Wearer *w, uint32_t footpod_total_dm) {
        if (w->config->has_device[DEVICE_ROLE_FOOTPOD])
                motion_accumulator_set_total(&w->motion, footpod_total_dm);
}

/* Device-provided text for payloads: printable ASCII only, surrounding spaces trimmed. Anything
 * else (control bytes, escapes, other encodings) is refused rather than repaired. */
static int device_info_text(const DeviceInfoString *s, char ret[static DEVICE_INFO_STRING_MAX + 1]) {
        size_t b = 0, e = MIN((size_t) s->len, (size_t) DEVICE_INFO_STRING_MAX);

        for (size_t i = 0; i < e; i++)
                if ((unsigned char) s->value[i] < 0x20 || (unsigned char) s->value[i] > 0x7e)
                        return -EBADMSG;
        while (b < e && s->value[b] == ' ')
                b++;
        while (e > b && s->value[e - 1] == ' ')
                e--;
        if (b == e)
                return -EBADMSG;
        memcpy(ret, s->value + b, e - b);
        ret[e - b] = 0;
        return 0;
}

int wearer_set_device_info(Wearer *w, DeviceRole role, const DeviceInfoString *s) {
        char text[DEVICE_INFO_STRING_MAX + 1];
        char *field;
        WearerDeviceInfo *info;
        int r;

        if (role < 0 || role >= _DEVICE_ROLE_MAX)
                return 0;
        info = &w->device_info[role];
        switch (s->field) {
        case DEVICE_INFO_MANUFACTURER:
                field = info->manufacturer;
                break;
        case DEVICE_INFO_MODEL:
                field = info->model;
                break;
        case DEVICE_INFO_FIRMWARE_REVISION:
                field = info->firmware;
                break;
        case DEVICE_INFO_HARDWARE_REVISION:
                field = info->hardware;
                break;
        default:
                return 0; /* the serial number identifies a person's device: not published */
        }
        r = device_info_text(s, text);
        if (r < 0)
                return r;
        if (streq(field, text))
                return 0;
        memcpy(field, text, strlen(text) + 1);
        return 1;
}

void wearer_add_steps(Wearer *w, uint64_t steps, const CoachClock *now) {
        if (steps == 0)
                return;
        w->steps_total += steps;
        w->steps_counted_here = true;
        coach_feed_steps(w->coach, now, (uint32_t) MIN(steps, (uint64_t) UINT32_MAX));
}

void wearer_on_streaming(Wearer *w, DeviceRole role, bool streaming, const CoachClock *now) {
        bool any;

        if (role < 0 || role >= _DEVICE_ROLE_MAX || w->streaming[role] == streaming)
                return;
        w->streaming[role] = streaming;
        if (!streaming) {
                /* The device's next frames start a new link: don't pair across the gap. */
                foot_pairer_reset(&w->pairer);
                if (role == DEVICE_ROLE_FOOTPOD)
                        motion_accumulator_link_lost(&w->motion);
        }
        any = wearer_any_streaming(w);
        if (any != w->coach_connected) {
                w->coach_connected = any;
                coach_set_connected(w->coach, now, any);
        }
}

static void queue_activity_change(Wearer *w, ActivityState state, uint64_t now_usec) {
        ActivityChange c = {
                .state = state,
                .previous = w->activity,
                .previous_duration_usec = w->activity_since_usec > 0 ? now_usec - w->activity_since_usec : 0,
                .mono_usec = now_usec,
        };

        if (w->n_changes == WEARER_ACTIVITY_QUEUE) {
                memmove(w->changes, w->changes + 1, sizeof(w->changes[0]) * (WEARER_ACTIVITY_QUEUE - 1));
                w->n_changes--;
        }
        w->changes[w->n_changes++] = c;
        w->activity = state;
        w->activity_since_usec = now_usec;
}

void wearer_tick(Wearer *w, const CoachClock *now) {
        ActivityState state = ACTIVITY_UNKNOWN;

        if (w->gait) {
                /* The cheap accessors: a full snapshot sorts every window. */
                uint64_t steps = gait_engine_steps_total(w->gait);

                state = gait_engine_activity(w->gait, NULL);
                if (!w->has_step_counter && steps > w->engine_steps_seen) {
                        wearer_add_steps(w, steps - w->engine_steps_seen, now);
                        w->engine_steps_seen = steps;
                }
        }
        /* A footpod's steps come from the engine (cadence over time, unless insoles count them);
         * its day always has a distance, 0 before the first measurement. */
        if (w->config->has_device[DEVICE_ROLE_FOOTPOD])
                coach_feed_distance(w->coach, now, 0);
        if (!wearer_any_streaming(w))
                state = ACTIVITY_UNKNOWN;

        if (state != w->activity) {
                queue_activity_change(w, state, now->mono_usec);
                coach_feed_activity(w->coach, now, state);
        }
        coach_tick(w->coach, now);

        /* Said at most once a minute: a foot flooding the pairer would say it every second. */
        if (w->pairer.dropped != w->pairer_dropped_logged &&
            (w->pairer_logged_usec == 0 || now->mono_usec - w->pairer_logged_usec >= USEC_PER_MINUTE)) {
                log_ctx(LOG_WARNING, &w->log,
                        "%" PRIu64 " insole samples found no room to wait for the other foot's; calf raises and "
                        "standing on one leg may have been missed.", w->pairer.dropped - w->pairer_dropped_logged);
                w->pairer_dropped_logged = w->pairer.dropped;
                w->pairer_logged_usec = now->mono_usec;
        }
}

/* The engine's daily window as day values, with the day's typical 60-second variability. */
static void gait_day_values(Wearer *w, const GaitSnapshot *snap, LocalDate date, GaitDay *ret) {
        if (snap)
                gait_day_from_snapshot(snap, date, ret);
        else
                gait_day_init(ret, date);
        ret->value[GAIT_METRIC_STRIDE_TIME_CV] = cv_tracker_median(&w->cv_today);
}

bool wearer_take_summary(Wearer *w, const CoachClock *now, DaySummary *ret) {
        GaitSnapshot snap;
        bool have_snap;

        if (!coach_take_summary(w->coach, ret))
                return false;
        /* A day finished from the saved state after a restart on a later day: the engine's window
         * holds today's walking, not that day's. */
        have_snap = !ret->info.restored && w->gait && gait_engine_snapshot(w->gait, &snap) >= 0;
        gait_day_values(w, have_snap ? &snap : NULL, ret->counters.date, &w->gait_finished);
        if (!have_snap)
                w->gait_finished.value[GAIT_METRIC_STRIDE_TIME_CV] = NAN;
        /* Steps and walking time as the day summary counted them (all sources, across restarts). */
        w->gait_finished.steps = (uint32_t) MIN(ret->counters.steps, (uint64_t) UINT32_MAX);
        w->gait_finished.active_s = (uint32_t) (day_counters_active_usec(&ret->counters) / USEC_PER_SEC);
        cv_tracker_reset(&w->cv_today);
        w->gait_today_fresh = false;
        /* The Coach knows the calendar: its day ended, so the engine's daily window restarts. */
        if (w->gait)
                gait_engine_start_day(w->gait, now->mono_usec);
        return true;
}

int wearer_gait_json(Wearer *w, const CoachClock *now, JsonWriter *json) {
        GaitSnapshot snap;
        const GaitWindowSummary *minute;
        int r;

        if (!w->gait)
                return -ENODATA;
        r = gait_engine_snapshot(w->gait, &snap);
        if (r < 0)
                return r;
        minute = &snap.window[GAIT_WINDOW_60S];
        if (snap.activity == ACTIVITY_WALKING || snap.activity == ACTIVITY_RUNNING) {
                coach_feed_gait(w->coach, now, minute->cadence_spm, minute->symmetry.step_time_pct);
                if (snap.activity == ACTIVITY_WALKING)
                        cv_tracker_add(&w->cv_today, minute->stride_time_cv_pct);
        }
        if (w->config->has_device[DEVICE_ROLE_FOOTPOD]) {
                const DayCounters *today = coach_today(w->coach);

                snap.footpod = (GaitFootpod) {
                        .present = true,
                        .fresh = w->have_motion && w->streaming[DEVICE_ROLE_FOOTPOD] &&
                                 now->mono_usec < w->motion_last_usec + FOOTPOD_FRESH_USEC,
                        .speed_m_s = w->motion_last.speed_m_s,
                        .cadence_spm = w->motion_last.cadence_per_min,
                        .has_stride_length = w->motion_last.has_stride_length,
                        .stride_length_m = w->motion_last.stride_length_m,
                        .running = w->motion_last.running,
                        .distance_today_m = today->distance_dm / 10.0,
                        .distance_total_m = w->distance_total_dm / 10.0,
                };
        }
        gait_day_values(w, &snap, coach_today(w->coach)->date, &w->gait_today);
        w->gait_today_fresh = true;
        return gait_snapshot_to_json(&snap, json);
}

bool wearer_take_activity_change(Wearer *w, ActivityChange *ret) {
        if (w->n_changes == 0)
                return false;
        *ret = w->changes[0];
        memmove(w->changes, w->changes + 1, sizeof(w->changes[0]) * (w->n_changes - 1));
        w->n_changes--;
        return true;
}
