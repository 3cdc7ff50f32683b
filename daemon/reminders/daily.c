/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "daily.h"
#include "macro.h"
#include "round-util.h"
#include "string-table.h"

static const char *const exercise_kind_table[_EXERCISE_KIND_MAX] = {
        [EXERCISE_CALF_RAISES] = "calf_raises",
        [EXERCISE_TOE_WALKING] = "toe_walking",
        [EXERCISE_SINGLE_LEG_LEFT] = "single_leg_left",
        [EXERCISE_SINGLE_LEG_RIGHT] = "single_leg_right",
};

DEFINE_STRING_TABLE_LOOKUP_TO_STRING(exercise_kind, ExerciseKind);

void day_counters_reset(DayCounters *c, LocalDate date) {
        *c = (DayCounters) { .date = date };
}

void day_counters_merge(DayCounters *a, const DayCounters *b) {
        a->steps += b->steps;
        for (size_t i = 0; i < _ACTIVITY_MAX; i++)
                a->activity_usec[i] += b->activity_usec[i];
        a->longest_sitting_usec = MAX(a->longest_sitting_usec, b->longest_sitting_usec);
        a->reminders_sent += b->reminders_sent;
        a->reminder_repeats += b->reminder_repeats;
        a->reminders_answered += b->reminders_answered;
        a->response_usec_total += b->response_usec_total;
        a->calf_raises += b->calf_raises;
        a->toe_walking_usec += b->toe_walking_usec;
        for (size_t i = 0; i < _FOOT_SIDE_MAX; i++)
                a->single_leg_usec[i] += b->single_leg_usec[i];
        for (size_t i = 0; i < DAY_MAX_HOURS; i++) {
                a->hour[i].steps += b->hour[i].steps;
                a->hour[i].calf_raises += b->hour[i].calf_raises;
                a->hour[i].active_usec += b->hour[i].active_usec;
        }
        for (size_t i = 0; i < DAY_CADENCE_BINS; i++)
                a->cadence_hist[i] += b->cadence_hist[i];
        for (size_t i = 0; i < DAY_SYMMETRY_BINS; i++)
                a->symmetry_hist[i] += b->symmetry_hist[i];
        a->has_distance = a->has_distance || b->has_distance;
        a->distance_dm += b->distance_dm;
}

void day_counters_add_cadence(DayCounters *c, float cadence_spm) {
        if (!isfinite(cadence_spm) || cadence_spm <= 0)
                return;
        c->cadence_hist[(size_t) MIN(round_half_away(cadence_spm), (int64_t) DAY_CADENCE_BINS - 1)]++;
}

void day_counters_add_symmetry(DayCounters *c, float symmetry_pct) {
        if (!isfinite(symmetry_pct) || symmetry_pct < 0)
                return;
        c->symmetry_hist[(size_t) MIN(round_half_away(symmetry_pct * 2), (int64_t) DAY_SYMMETRY_BINS - 1)]++;
}

static float hist_median(const uint32_t *h, size_t n, float bin_width) {
        uint64_t total = 0, acc = 0;

        for (size_t i = 0; i < n; i++)
                total += h[i];
        if (total == 0)
                return NAN;
        /* Lower median: the first bin where half of the values are reached. */
        for (size_t i = 0; i < n; i++) {
                acc += h[i];
                if (acc * 2 >= total)
                        return (float) i * bin_width;
        }
        return (float) (n - 1) * bin_width;
}

float day_counters_median_cadence(const DayCounters *c) {
        return hist_median(c->cadence_hist, DAY_CADENCE_BINS, 1.0f);
}

float day_counters_median_symmetry(const DayCounters *c) {
        return hist_median(c->symmetry_hist, DAY_SYMMETRY_BINS, 0.5f);
}

uint64_t day_counters_active_usec(const DayCounters *c) {
        return c->activity_usec[ACTIVITY_WALKING] + c->activity_usec[ACTIVITY_RUNNING];
}

/* ---- persistence ---- */

#define DAY_STATE_VERSION 1

/* Sparse histogram: [[bin, count], ...] for the non-zero bins. */
static void hist_to_json(JsonWriter *w, const char *key, const uint32_t *h, size_t n) {
        json_key(w, key);
        json_array_begin(w);
        for (size_t i = 0; i < n; i++)
                if (h[i] > 0) {
                        json_array_begin(w);
                        json_uint(w, i);
                        json_uint(w, h[i]);
                        json_array_end(w);
                }
        json_array_end(w);
}

int day_counters_to_json(const DayCounters *c, JsonWriter *w) {
        char date[16];

        json_object_begin(w);
        json_kv_int(w, "version", DAY_STATE_VERSION);
        if (c->date)
                json_kv_string(w, "date", local_date_to_string(c->date, date, sizeof(date)));
        else
                json_kv_null(w, "date");
        json_kv_uint(w, "steps", c->steps);
        json_key(w, "activity_usec");
        json_object_begin(w);
        for (ActivityState s = 0; s < _ACTIVITY_MAX; s++)
                json_kv_uint(w, activity_state_to_string(s), c->activity_usec[s]);
        json_object_end(w);
        json_kv_uint(w, "longest_sitting_usec", c->longest_sitting_usec);
        json_kv_uint(w, "reminders_sent", c->reminders_sent);
        json_kv_uint(w, "reminder_repeats", c->reminder_repeats);
        json_kv_uint(w, "reminders_answered", c->reminders_answered);
        json_kv_uint(w, "response_usec_total", c->response_usec_total);
        json_kv_uint(w, "calf_raises", c->calf_raises);
        json_kv_uint(w, "toe_walking_usec", c->toe_walking_usec);
        json_kv_uint(w, "single_leg_left_usec", c->single_leg_usec[FOOT_LEFT]);
        json_kv_uint(w, "single_leg_right_usec", c->single_leg_usec[FOOT_RIGHT]);
        json_key(w, "hours");
        json_array_begin(w);
        for (size_t i = 0; i < DAY_MAX_HOURS; i++) {
                json_array_begin(w);
                json_uint(w, c->hour[i].steps);
                json_uint(w, c->hour[i].calf_raises);
                json_uint(w, c->hour[i].active_usec);
                json_array_end(w);
        }
        json_array_end(w);
        hist_to_json(w, "cadence_hist", c->cadence_hist, DAY_CADENCE_BINS);
        hist_to_json(w, "symmetry_hist", c->symmetry_hist, DAY_SYMMETRY_BINS);
        if (c->has_distance)
                json_kv_uint(w, "distance_dm", c->distance_dm);
        json_object_end(w);
        return w->error;
}

#define MAX_USEC (400ULL * USEC_PER_DAY) /* plausibility bound for any duration field */

static int set_json_error(JsonParseError *e, const JsonValue *v, const char *what, const char *msg) {
        if (e) {
                e->offset = json_value_offset(v);
                (void) snprintf(e->message, sizeof(e->message), "'%s': %s", what, msg);
        }
        return -EINVAL;
}

static int get_u64(const JsonValue *o, const char *key, uint64_t max, uint64_t *ret, JsonParseError *e) {
        int64_t v;
        int r = json_expect_int64(json_value_member(o, key), key, 0, (int64_t) MIN(max, (uint64_t) INT64_MAX), &v, e);
        if (r < 0)
                return r;
        *ret = (uint64_t) v;
        return 0;
}

static int get_u32(const JsonValue *o, const char *key, uint32_t *ret, JsonParseError *e) {
        uint64_t v;
        int r = get_u64(o, key, UINT32_MAX, &v, e);
        if (r < 0)
                return r;
        *ret = (uint32_t) v;
        return 0;
}

static int hist_from_json(const JsonValue *o, const char *key, uint32_t *h, size_t n, JsonParseError *e) {
        const JsonValue *a = json_value_member(o, key);

        if (json_value_type(a) != JSON_TYPE_ARRAY)
                return set_json_error(e, a, key, "expected an array");
        for (size_t i = 0; i < json_value_count(a); i++) {
                const JsonValue *pair = json_value_element(a, i);
                int64_t bin, count;
                int r;

                if (json_value_count(pair) != 2 || json_value_type(pair) != JSON_TYPE_ARRAY)
                        return set_json_error(e, pair, key, "expected [bin, count] pairs");
                r = json_expect_int64(json_value_element(pair, 0), key, 0, (int64_t) n - 1, &bin, e);
                if (r < 0)
                        return r;
                r = json_expect_int64(json_value_element(pair, 1), key, 0, UINT32_MAX, &count, e);
                if (r < 0)
                        return r;
                h[bin] = (uint32_t) count;
        }
        return 0;
}

int day_counters_from_json(const JsonValue *o, DayCounters *ret, JsonParseError *e) {
        DayCounters c = {};
        const JsonValue *v;
        const char *s;
        int64_t version;
        int r;

        if (json_value_type(o) != JSON_TYPE_OBJECT)
                return set_json_error(e, o, "day", "expected an object");
        r = json_expect_int64(json_value_member(o, "version"), "version", DAY_STATE_VERSION, DAY_STATE_VERSION,
                              &version, e);
        if (r < 0)
                return r;

        v = json_value_member(o, "date");
        if (!json_value_is_null(v)) {
                r = json_expect_string(v, "date", 10, &s, e);
                if (r < 0)
                        return r;
                if (local_date_from_string(s, &c.date) < 0)
                        return set_json_error(e, v, "date", "expected YYYY-MM-DD");
        }

        if ((r = get_u64(o, "steps", UINT32_MAX, &c.steps, e)) < 0)
                return r;
        v = json_value_member(o, "activity_usec");
        if (json_value_type(v) != JSON_TYPE_OBJECT)
                return set_json_error(e, v, "activity_usec", "expected an object");
        for (ActivityState st = 0; st < _ACTIVITY_MAX; st++)
                if ((r = get_u64(v, activity_state_to_string(st), MAX_USEC, &c.activity_usec[st], e)) < 0)
                        return r;
        if ((r = get_u64(o, "longest_sitting_usec", MAX_USEC, &c.longest_sitting_usec, e)) < 0 ||
            (r = get_u32(o, "reminders_sent", &c.reminders_sent, e)) < 0 ||
            (r = get_u32(o, "reminder_repeats", &c.reminder_repeats, e)) < 0 ||
            (r = get_u32(o, "reminders_answered", &c.reminders_answered, e)) < 0 ||
            (r = get_u64(o, "response_usec_total", MAX_USEC, &c.response_usec_total, e)) < 0 ||
            (r = get_u32(o, "calf_raises", &c.calf_raises, e)) < 0 ||
            (r = get_u64(o, "toe_walking_usec", MAX_USEC, &c.toe_walking_usec, e)) < 0 ||
            (r = get_u64(o, "single_leg_left_usec", MAX_USEC, &c.single_leg_usec[FOOT_LEFT], e)) < 0 ||
            (r = get_u64(o, "single_leg_right_usec", MAX_USEC, &c.single_leg_usec[FOOT_RIGHT], e)) < 0)
                return r;

        v = json_value_member(o, "hours");
        if (json_value_type(v) != JSON_TYPE_ARRAY || json_value_count(v) != DAY_MAX_HOURS)
                return set_json_error(e, v, "hours", "expected an array of 25 [steps, calf_raises, active_usec]");
        for (size_t i = 0; i < DAY_MAX_HOURS; i++) {
                const JsonValue *h = json_value_element(v, i);
                int64_t a, b, d;
                if (json_value_type(h) != JSON_TYPE_ARRAY || json_value_count(h) != 3)
                        return set_json_error(e, h, "hours", "expected [steps, calf_raises, active_usec]");
                if ((r = json_expect_int64(json_value_element(h, 0), "hours", 0, UINT32_MAX, &a, e)) < 0 ||
                    (r = json_expect_int64(json_value_element(h, 1), "hours", 0, UINT32_MAX, &b, e)) < 0 ||
                    (r = json_expect_int64(json_value_element(h, 2), "hours", 0, (int64_t) MAX_USEC, &d, e)) < 0)
                        return r;
                c.hour[i] = (DayHour) { .steps = (uint32_t) a, .calf_raises = (uint32_t) b, .active_usec = (uint64_t) d };
        }
        if ((r = hist_from_json(o, "cadence_hist", c.cadence_hist, DAY_CADENCE_BINS, e)) < 0 ||
            (r = hist_from_json(o, "symmetry_hist", c.symmetry_hist, DAY_SYMMETRY_BINS, e)) < 0)
                return r;
        /* Optional: only footpod wearers have it (and files from before it existed do not). */
        if (json_value_member(o, "distance_dm")) {
                /* 1000 km in a day is already far beyond anyone's walk */
                if ((r = get_u64(o, "distance_dm", 10000000, &c.distance_dm, e)) < 0)
                        return r;
                c.has_distance = true;
        }

        *ret = c;
        return 0;
}

/* ---- the published summary ---- */

static bool minute_in_window(unsigned minute, unsigned start, unsigned end) {
        if (start == end)
                return true;
        if (start < end)
                return minute >= start && minute < end;
        return minute >= start || minute < end;
}

int day_summary_to_json(const DayCounters *c, const DaySummaryInfo *info, JsonWriter *w) {
        char date[16];
        unsigned hours = CLAMP(info->hours, 1u, (unsigned) DAY_MAX_HOURS);
        unsigned goal_hours = 0, goal_met = 0;

        json_object_begin(w);
        json_kv_string(w, "date", local_date_to_string(c->date, date, sizeof(date)));
        json_kv_uint(w, "hours", hours);
        json_kv_bool(w, "partial", info->partial);
        json_kv_bool(w, "restored", info->restored);
        json_kv_uint(w, "steps", c->steps);
        if (c->has_distance)
                json_kv_double(w, "distance_m", c->distance_dm / 10.0, 1);
        json_kv_uint(w, "calf_pump_activations", c->steps + c->calf_raises);
        json_kv_uint(w, "active_minutes", day_counters_active_usec(c) / USEC_PER_MINUTE);
        json_kv_uint(w, "sitting_s", c->activity_usec[ACTIVITY_SITTING] / USEC_PER_SEC);
        json_kv_uint(w, "standing_s", c->activity_usec[ACTIVITY_STANDING] / USEC_PER_SEC);
        json_kv_uint(w, "walking_s", c->activity_usec[ACTIVITY_WALKING] / USEC_PER_SEC);
        json_kv_uint(w, "running_s", c->activity_usec[ACTIVITY_RUNNING] / USEC_PER_SEC);
        json_kv_uint(w, "not_worn_s", c->activity_usec[ACTIVITY_NOT_WORN] / USEC_PER_SEC);
        json_kv_uint(w, "unknown_s", c->activity_usec[ACTIVITY_UNKNOWN] / USEC_PER_SEC);
        json_kv_uint(w, "longest_sitting_s", c->longest_sitting_usec / USEC_PER_SEC);
        json_kv_uint(w, "reminders_sent", c->reminders_sent);
        json_kv_uint(w, "reminder_repeats", c->reminder_repeats);
        json_kv_uint(w, "reminders_answered", c->reminders_answered);
        if (c->reminders_answered > 0)
                json_kv_uint(w, "mean_response_s", c->response_usec_total / c->reminders_answered / USEC_PER_SEC);
        else
                json_kv_null(w, "mean_response_s");
        json_kv_double(w, "median_cadence_spm", day_counters_median_cadence(c), 0);
        json_kv_double(w, "median_symmetry_pct", day_counters_median_symmetry(c), 1);
        json_key(w, "exercises");
        json_object_begin(w);
        json_kv_uint(w, "calf_raises", c->calf_raises);
        json_kv_uint(w, "toe_walking_s", c->toe_walking_usec / USEC_PER_SEC);
        json_kv_uint(w, "single_leg_left_s", c->single_leg_usec[FOOT_LEFT] / USEC_PER_SEC);
        json_kv_uint(w, "single_leg_right_s", c->single_leg_usec[FOOT_RIGHT] / USEC_PER_SEC);
        json_object_end(w);

        json_key(w, "hourly");
        json_array_begin(w);
        for (unsigned i = 0; i < hours; i++) {
                bool active = minute_in_window(info->hour_label[i] * 60u, info->active_start_min, info->active_end_min);
                json_object_begin(w);
                json_kv_uint(w, "hour", info->hour_label[i]);
                json_kv_uint(w, "steps", c->hour[i].steps);
                json_kv_uint(w, "calf_pump_activations", (uint64_t) c->hour[i].steps + c->hour[i].calf_raises);
                json_kv_uint(w, "active_s", c->hour[i].active_usec / USEC_PER_SEC);
                json_kv_bool(w, "active_hour", active);
                json_object_end(w);
                if (active && info->hourly_step_goal > 0) {
                        goal_hours++;
                        if (c->hour[i].steps >= info->hourly_step_goal)
                                goal_met++;
                }
        }
        json_array_end(w);
        json_key(w, "hourly_goal");
        json_object_begin(w);
        json_kv_uint(w, "steps", info->hourly_step_goal);
        json_kv_uint(w, "active_hours", goal_hours);
        json_kv_uint(w, "hours_met", goal_met);
        json_object_end(w);
        if (info->gait_json) {
                json_key(w, "gait");
                json_raw(w, info->gait_json);
        }
        json_object_end(w);
        return w->error;
}
