/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <math.h>
#include <stdio.h>

#include "gait.h"
#include "macro.h"

static const char *const source_names[_GAIT_SOURCE_MAX] = {
        [GAIT_SOURCE_NONE] = "none", [GAIT_SOURCE_PRESSURE] = "pressure",
        [GAIT_SOURCE_STEPS] = "steps", [GAIT_SOURCE_CADENCE] = "cadence",
};


/* Load keys carry their unit: _n (newtons), _bw (body weights) or _raw (uncalibrated counts). */
static void kv_load(JsonWriter *w, const char *unit, const char *name, const char *per, double v) {
        bool bw = streq(unit, "bw");
        char key[96];

        snprintf(key, sizeof(key), "%s_%s%s", name, unit, strempty(per));
        /* Body weights need three decimals, newtons and counts none; rates per second one less. */
        json_kv_double_finite(w, key, v, per ? (bw ? 2 : 0) : (bw ? 3 : 1));
}

const char *gait_load_unit_suffix(PressureUnit unit, bool per_body_weight) {
        return unit == PRESSURE_UNIT_RAW ? "raw" : per_body_weight ? "bw" : "n";
}

void gait_foot_summary_to_json(const GaitFootSummary *f, const char *load_unit, JsonWriter *w) {
        json_object_begin(w);
        json_kv_uint(w, "strides", f->strides);
        json_kv_double_finite(w, "stride_time_ms", f->stride_time_ms, 1);
        json_kv_double_finite(w, "stance_time_ms", f->stance_time_ms, 1);
        json_kv_double_finite(w, "swing_time_ms", f->swing_time_ms, 1);
        json_kv_double_finite(w, "stance_pct", f->stance_pct, 2);
        json_kv_double_finite(w, "swing_pct", f->swing_pct, 2);
        json_kv_double_finite(w, "step_time_ms", f->step_time_ms, 1);
        json_kv_double_finite(w, "stride_time_cv_pct", f->stride_time_cv_pct, 2);
        json_kv_double_finite(w, "uncertain_contacts_pct", f->uncertain_contacts_pct, 1);
        if (f->stance_strides > 0) {
                StrikePattern most = STRIKE_HEEL;

                json_kv_uint(w, "stance_strides", f->stance_strides);
                json_key(w, "strikes");
                json_object_begin(w);
                for (StrikePattern p = 0; p < _STRIKE_PATTERN_MAX; p++) {
                        json_kv_uint(w, strike_pattern_to_string(p), f->strikes[p]);
                        if (f->strikes[p] > f->strikes[most])
                                most = p;
                }
                json_object_end(w);
                json_kv_string(w, "strike", strike_pattern_to_string(most));
                kv_load(w, load_unit, "peak_load", NULL, f->peak_total);
                kv_load(w, load_unit, "peak_heel", NULL, f->peak_heel);
                kv_load(w, load_unit, "heel_loading_rate", "_per_s", f->heel_loading_rate);
                kv_load(w, load_unit, "push_peak", NULL, f->push_peak);
                json_key(w, "load_share_pct");
                json_object_begin(w);
                for (FootRegion r = 0; r < _REGION_MAX; r++)
                        json_kv_double_finite(w, foot_region_to_string(r), f->load_share_pct[r], 1);
                json_object_end(w);
                json_kv_double_finite(w, "cop_start_x_pct", 100.0 * f->cop_start_x, 1);
                json_kv_double_finite(w, "cop_end_x_pct", 100.0 * f->cop_end_x, 1);
                json_kv_double_finite(w, "cop_forward_pct", 100.0 * f->cop_forward_fraction, 1);
                json_kv_double_finite(w, "ml_index", f->ml_index, 3);
        }
        json_object_end(w);
}

static void foot_to_json(const GaitSnapshot *s, const GaitFootSummary *f, JsonWriter *w) {
        gait_foot_summary_to_json(f, gait_load_unit_suffix(s->load_unit, s->body_weight_kg > 0), w);
}

static void window_to_json(const GaitSnapshot *s, const GaitWindowSummary *x, JsonWriter *w) {
        json_object_begin(w);
        json_kv_double(w, "duration_s", x->duration_us / 1e6, 1);
        json_kv_uint(w, "steps", x->steps);
        json_kv_uint(w, "strides", x->foot[FOOT_LEFT].strides + x->foot[FOOT_RIGHT].strides);
        json_kv_double_finite(w, "cadence_spm", x->cadence_spm, 1);
        json_kv_double_finite(w, "stride_time_ms", x->stride_time_ms, 1);
        json_kv_double_finite(w, "stride_time_cv_pct", x->stride_time_cv_pct, 2);
        json_kv_double_finite(w, "double_support_ms", x->double_support_ms, 1);
        json_kv_double_finite(w, "double_support_pct", x->double_support_pct, 1);
        json_kv_double_finite(w, "flight_pct", x->flight_share_pct, 1);
        json_key(w, "symmetry");
        json_object_begin(w);
        json_kv_double_finite(w, "step_time_si_pct", x->symmetry.step_time_pct, 2);
        json_kv_double_finite(w, "stance_time_si_pct", x->symmetry.stance_time_pct, 2);
        json_kv_double_finite(w, "swing_time_si_pct", x->symmetry.swing_time_pct, 2);
        json_kv_double_finite(w, "peak_load_si_pct", x->symmetry.peak_load_pct, 2);
        json_kv_uint(w, "strides_left", x->symmetry.strides_left);
        json_kv_uint(w, "strides_right", x->symmetry.strides_right);
        json_object_end(w);
        json_key(w, "left");
        foot_to_json(s, &x->foot[FOOT_LEFT], w);
        json_key(w, "right");
        foot_to_json(s, &x->foot[FOOT_RIGHT], w);
        json_object_end(w);
}

void gait_quality_to_json(const GaitFootQuality quality[_FOOT_SIDE_MAX], JsonWriter *w) {
        json_key(w, "quality");
        json_object_begin(w);
        for (FootSide side = 0; side < _FOOT_SIDE_MAX; side++)
                json_kv_string(w, foot_side_to_string(side), gait_foot_quality_to_string(quality[side]));
        json_object_end(w);
}

/* Pace below a slow shuffle (0.2 m/s, 83 min/km) says nothing: left out. */
#define FOOTPOD_MIN_PACE_SPEED 0.2f

static void footpod_to_json(const GaitFootpod *f, JsonWriter *w) {
        json_key(w, "footpod");
        json_object_begin(w);
        if (f->fresh) {
                json_kv_double(w, "speed_m_s", f->speed_m_s, 2);
                if (f->speed_m_s >= FOOTPOD_MIN_PACE_SPEED)
                        json_kv_double(w, "pace_s_per_km", 1000.0 / f->speed_m_s, 1);
                json_kv_double(w, "cadence_spm", f->cadence_spm, 0);
                if (f->has_stride_length)
                        json_kv_double(w, "stride_length_m", f->stride_length_m, 2);
                json_kv_string(w, "motion", f->running ? "running" : "walking");
        }
        json_kv_double(w, "distance_today_m", f->distance_today_m, 1);
        json_kv_double(w, "distance_total_m", f->distance_total_m, 1);
        json_object_end(w);
}

int gait_snapshot_to_json(const GaitSnapshot *s, JsonWriter *w) {
        if (!s || !w)
                return -EINVAL;

        json_object_begin(w);
        json_kv_double(w, "t_s", s->t_us / 1e6, 3);
        json_kv_string(w, "source", source_names[s->source]);
        json_kv_string(w, "load_unit", s->load_unit == PRESSURE_UNIT_RAW ? "raw" : s->body_weight_kg > 0 ? "bw" : "N");
        if (s->body_weight_kg > 0)
                json_kv_double(w, "body_weight_kg", s->body_weight_kg, 1);
        json_key(w, "activity");
        json_object_begin(w);
        json_kv_string(w, "state", activity_state_to_string(s->activity));
        json_kv_double(w, "for_s", (s->t_us - MIN(s->activity_since_us, s->t_us)) / 1e6, 1);
        json_key(w, "day_s");
        json_object_begin(w);
        for (ActivityState a = 0; a < _ACTIVITY_MAX; a++)
                json_kv_double(w, activity_state_to_string(a), s->activity_day_us[a] / 1e6, 1);
        json_object_end(w);
        json_object_end(w);
        json_kv_uint(w, "steps_total", s->steps_total);
        json_kv_uint(w, "steps_day", s->steps_day);
        gait_quality_to_json(s->quality, w);
        for (GaitWindow x = 0; x < _GAIT_WINDOW_MAX; x++) {
                json_key(w, gait_window_to_string(x));
                window_to_json(s, &s->window[x], w);
        }
        json_key(w, "balance");
        json_object_begin(w);
        json_kv_bool(w, "standing", s->balance.standing);
        json_kv_double(w, "standing_s", s->balance.standing_us / 1e6, 1);
        if (s->balance.standing_us > 0) {
                json_kv_double_finite(w, "sway_path_pct_per_s", s->balance.sway_path_pct_per_s, 2);
                json_kv_double_finite(w, "sway_range_x_pct", s->balance.sway_range_x_pct, 2);
                json_kv_double_finite(w, "sway_range_y_pct", s->balance.sway_range_y_pct, 2);
                json_kv_double_finite(w, "left_share_pct", s->balance.left_share_pct, 1);
                json_kv_uint(w, "toe_grips", s->balance.toe_grips);
                json_kv_double_finite(w, "toe_grips_per_min", s->balance.toe_grips_per_min, 2);
        }
        json_object_end(w);
        if (s->footpod.present)
                footpod_to_json(&s->footpod, w);
        json_object_end(w);
        return w->error;
}
