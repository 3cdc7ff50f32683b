/* SPDX-License-Identifier: MIT */
#pragma once

/* The gait engine: pressure samples of both insoles of one wearer in, gait events, per-stride
 * records and a metrics snapshot out. It is pure: it never logs, never reads a clock and never does
 * I/O. It allocates nothing per sample: after gait_engine_new() only a foot's sample ring (with
 * the lists its stance fold keeps) grows, once, when a faster insole's first samples fill it, the
 * windows' strides grow once for a walker faster than 128 steps/min, and a snapshot borrows buffers
 * for its duration. Time comes in with every sample (device microseconds, monotonic per wearer).
 * Every metric, its unit and its JSON name is defined in docs/metrics.md. */

#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "insole.h"
#include "json.h"

/* Per-sample load summary: cells -> force per region, total and centre of pressure.
 * PRESSURE_UNIT_KPA cells are multiplied by their area (kPa x mm^2 = mN; the result is in N);
 * cells of unknown area (0) are taken as they are. Newton and raw cells are summed as they are, so a
 * raw total keeps the sensor's offset (the event detector is relative and does not mind). The centre
 * of pressure only uses positive cell values; cop_valid is false when they add up to (almost)
 * nothing. Returns -EINVAL on a NULL argument or a cell count that does not match the layout. */
int foot_load_compute(const InsoleLayout *layout, const PressureSample *sample, FootLoad *ret);

typedef enum GaitEventType {
        GAIT_EVENT_INITIAL_CONTACT,
        GAIT_EVENT_TOE_OFF,
        _GAIT_EVENT_TYPE_MAX,
        _GAIT_EVENT_TYPE_INVALID = -1,
} GaitEventType;

const char *gait_event_type_to_string(GaitEventType t); /* "initial_contact", "toe_off" */

typedef struct GaitEvent {
        FootSide foot;
        GaitEventType type;
        uint64_t t_us; /* when it happened (refined), not when it was recognised */
} GaitEvent;

typedef enum StrikePattern {
        STRIKE_HEEL,
        STRIKE_MIDFOOT,
        STRIKE_FOREFOOT,
        STRIKE_FLAT,
        _STRIKE_PATTERN_MAX,
        _STRIKE_PATTERN_INVALID = -1,
} StrikePattern;

const char *strike_pattern_to_string(StrikePattern p); /* "heel", "midfoot", "forefoot", "flat" */

/* How one stance phase loaded the foot. Only filled (valid) for insoles with cells in at least two
 * regions (heel and forefoot); a single-cell insole has no spatial information. Loads are in newtons
 * (or raw counts for uncalibrated insoles, after removing each cell's unloaded offset). */
typedef struct GaitStanceMetrics {
        bool valid;
        StrikePattern strike;
        float strike_cop_x;        /* COP x when the foot had taken 10 % of its stance peak */
        float peak_total;          /* largest total load over the stance */
        float peak_heel;           /* largest heel-region load in the first half of stance */
        float heel_loading_rate;   /* peak_heel / time from contact to that peak, unit per second */
        float load_share[_REGION_MAX]; /* share of the stance impulse per region, 0..1 */
        float cop_start_x;
        float cop_end_x;
        float cop_forward_fraction; /* forward COP x travel / all COP x travel, 0..1 */
        float ml_index;            /* 1 - 2 * mean COP y, load weighted: > 0 medial (pronation), < 0 lateral */
        float push_peak;           /* largest forefoot + toes load in the second half of stance */
        bool per_body_weight;      /* loads above are in body weights (calibrated insole, weight known) */
} GaitStanceMetrics;

/* One stride of one foot: initial contact to the next initial contact of the same foot. */
typedef struct GaitStride {
        FootSide foot;
        uint64_t t_contact_us;     /* initial contact that starts the stride */
        uint64_t t_toe_off_us;
        uint64_t t_next_contact_us;
        uint32_t stride_us;
        uint32_t stance_us;
        uint32_t swing_us;
        int32_t step_us;           /* previous contralateral contact -> this stride's start; -1 unknown */
        int32_t double_support_us; /* both feet on the ground during this stride; -1 unknown */
        bool flight;               /* both feet were off the ground at some moment of this stride */
        /* How far the initial contact moves with the contact slope and the contact level anywhere in
         * the ranges the validation fits them over (GAIT_CONTACT_SLOPE_MIN..MAX, the threshold to
         * GAIT_CONTACT_LEVEL_MAX): how clearly the signal shows the landing. */
        uint32_t contact_spread_us;
        GaitStanceMetrics stance;
} GaitStride;

typedef struct GaitParams {
        float body_weight_kg;      /* 0 when unknown; loads are then not normalised */
        uint32_t not_worn_after_ms;    /* baseline on both insoles for this long: not worn (default 30000) */
        float running_cadence_spm;     /* above this cadence: running (default 150) */
        /* Event detector constants, in spans (loaded - unloaded level of the foot) per second; 0 takes
         * the default. Only the validation (analyze --validate) sets them, to fit them on training
         * records and score them on held-out ones (docs/validation.md). */
        float contact_slope;           /* a contact's rise is steeper than this */
        float toe_off_slope;           /* a toe-off's fall is steeper than this */
        float contact_level;           /* share of the span: a double bump's first rise is the contact
                                        * when it reaches this, else the rise after its plateau */
        bool single_foot;              /* one insole only: the other foot never sends; a contact of
                                        * the worn foot counts two steps, standing load is twice
                                        * its load, and two-foot figures stay unknown */
        bool no_result_queues;         /* nobody calls gait_engine_take_*(): keep no queues for them
                                        * (the daemon reads the windows; 17 KB less per wearer) */
        uint32_t ring_cover_ms;        /* samples kept per foot, in time at the foot's rate; 0 takes
                                        * 1000, at most 8000. Longer costs memory and changes no figure:
                                        * a stance that leaves the ring is folded (tests/gait compares
                                        * the two, with a ring longer than every stance) */
} GaitParams;

#define GAIT_CONTACT_SLOPE_DEFAULT 2.5f
#define GAIT_TOE_OFF_SLOPE_DEFAULT 2.0f
#define GAIT_CONTACT_LEVEL_DEFAULT 0.35f
#define GAIT_PARAMS_DEFAULT ((GaitParams) { .body_weight_kg = 0, .not_worn_after_ms = 30000, .running_cadence_spm = 150, \
                                            .contact_slope = GAIT_CONTACT_SLOPE_DEFAULT, .toe_off_slope = GAIT_TOE_OFF_SLOPE_DEFAULT, \
                                            .contact_level = GAIT_CONTACT_LEVEL_DEFAULT })

/* The ranges the validation fits the contact slope and level over (docs/validation.md; the level
 * from the contact threshold, 0.30). A contact that moves by GAIT_CONTACT_UNCERTAIN_MS or more
 * within them, the per-stride tolerance of the validation, is uncertain: the landing is not clear
 * in the signal (docs/metrics.md, "Timing certainty"). */
#define GAIT_CONTACT_SLOPE_MIN 1.5f
#define GAIT_CONTACT_SLOPE_MAX 4.0f
#define GAIT_CONTACT_LEVEL_MAX 0.40f
#define GAIT_CONTACT_UNCERTAIN_MS 20u
/* The contact that starts stride s moves by GAIT_CONTACT_UNCERTAIN_MS or more within those ranges:
 * the signal does not show the landing clearly. */
static inline bool gait_contact_uncertain(const GaitStride *s) {
        return s->contact_spread_us >= GAIT_CONTACT_UNCERTAIN_MS * 1000u;
}

typedef struct GaitEngine GaitEngine;

/* Both layouts must be given; their cell counts are fixed for the engine's life. */
int gait_engine_new(const InsoleLayout *left, const InsoleLayout *right, const GaitParams *params, GaitEngine **ret);
GaitEngine *gait_engine_free(GaitEngine *e);
/* A new body weight (kg, 0 = unknown), e.g. from a reload: strides from now on are measured
 * against it, and it is the reference load for the activity state at once. */
void gait_engine_set_body_weight(GaitEngine *e, float body_weight_kg);
static inline void gait_engine_freep(GaitEngine **e) {
        if (*e)
                gait_engine_free(*e);
}

/* One sample of one foot. Both feet's t_us must be on one time base (two insoles are two devices:
 * the caller maps each device's clock onto a common monotonic one), since double support, step
 * time and the activity state compare the feet. Non-finite cell values mark invalid readings: the
 * cell's last valid value is used instead. Samples that go back in time are rejected with -EINVAL.
 * Completed strides and events are queued (bounded, 128 each; the oldest are dropped when nobody
 * takes them), unless the engine was made with no_result_queues. */
int gait_engine_feed(GaitEngine *e, FootSide side, const PressureSample *sample);

/* Fallback without pressure: the device's cumulative step counter or a footpod's cadence. These only
 * drive step count, cadence and the walking/running state when no pressure sample came for 5 s. */
int gait_engine_feed_steps(GaitEngine *e, uint64_t t_us, uint32_t cumulative_steps);
int gait_engine_feed_cadence(GaitEngine *e, uint64_t t_us, float cadence_spm, bool running);

/* Starts a new day for the daily window (the caller knows the local calendar; the engine has no clock). */
void gait_engine_start_day(GaitEngine *e, uint64_t t_us);

/* Drain queues; return how many were copied (always 0 with no_result_queues). */
size_t gait_engine_take_events(GaitEngine *e, GaitEvent *ret, size_t n);
size_t gait_engine_take_strides(GaitEngine *e, GaitStride *ret, size_t n);

typedef enum GaitWindow {
        GAIT_WINDOW_10S,
        GAIT_WINDOW_60S,
        GAIT_WINDOW_DAY,
        _GAIT_WINDOW_MAX,
} GaitWindow;

const char *gait_window_to_string(GaitWindow w); /* "last_10s", "last_60s", "day" */

typedef enum GaitSource {
        GAIT_SOURCE_NONE,
        GAIT_SOURCE_PRESSURE,
        GAIT_SOURCE_STEPS,
        GAIT_SOURCE_CADENCE,
        _GAIT_SOURCE_MAX,
} GaitSource;

/* NAN marks "not enough data". Times in ms; loads in the insole's unit (see load_unit). */
typedef struct GaitFootSummary {
        uint32_t strides;
        float stride_time_ms, stance_time_ms, swing_time_ms; /* medians */
        float stance_pct, swing_pct;                         /* medians, % of stride */
        float step_time_ms;                                  /* median, contralateral contact -> this contact */
        float stride_time_cv_pct;                            /* coefficient of variation of stride time */
        float uncertain_contacts_pct;                        /* strides whose contact spread is GAIT_CONTACT_UNCERTAIN_MS or more */
        /* stance metrics (pressure-mapped insoles only) */
        uint32_t stance_strides;                             /* strides behind the fields below */
        uint32_t strikes[_STRIKE_PATTERN_MAX];
        float peak_heel, heel_loading_rate, push_peak, peak_total; /* medians */
        float load_share_pct[_REGION_MAX];                   /* means */
        float cop_start_x, cop_end_x, cop_forward_fraction, ml_index; /* medians */
} GaitFootSummary;

typedef struct GaitSymmetry {
        float step_time_pct, stance_time_pct, swing_time_pct, peak_load_pct; /* SI = 2|L-R|/(L+R) x 100 */
        uint32_t strides_left, strides_right;
} GaitSymmetry;

typedef struct GaitWindowSummary {
        uint64_t duration_us;       /* how much time the window covers so far */
        GaitFootSummary foot[_FOOT_SIDE_MAX];
        uint32_t steps;
        float cadence_spm;          /* 120000 / median stride time of both feet */
        float stride_time_ms;       /* median, both feet */
        float stride_time_cv_pct;
        float double_support_ms;    /* median, per stride */
        float double_support_pct;
        float flight_share_pct;     /* strides with a flight phase */
        GaitSymmetry symmetry;
} GaitWindowSummary;

typedef struct GaitBalance {
        bool standing;              /* currently in a quiet-standing bout */
        uint64_t standing_us;       /* length of the current (or last) bout */
        float sway_path_pct_per_s;  /* COP path, % of insole length per second */
        float sway_range_x_pct, sway_range_y_pct;
        float left_share_pct;       /* left foot's share of the load of both feet */
        uint32_t toe_grips;
        float toe_grips_per_min;
} GaitBalance;

/* Whether a foot's numbers can be trusted (docs/metrics.md, "Signal quality"). The worst one applies. */
typedef enum GaitFootQuality {
        GAIT_QUALITY_OK,
        GAIT_QUALITY_NO_SIGNAL,    /* no valid reading for 2 s, or one unchanging value for 5 s while the other foot walks: a dead sensor */
        GAIT_QUALITY_FLAT,         /* the signal moves less than a step would for 5 s while the other foot walks */
        GAIT_QUALITY_SATURATED,    /* recent stances spend more than a quarter of their samples at the signal's ceiling */
        GAIT_QUALITY_UNRELIABLE,   /* more than 4 of the last 16 contact-to-contact intervals were rejected */
        _GAIT_FOOT_QUALITY_MAX,
} GaitFootQuality;

const char *gait_foot_quality_to_string(GaitFootQuality q); /* "ok", "no_signal", "flat", "saturated", "unreliable" */
/* What a Running Speed and Cadence footpod measured; not the engine's: the wearer fills it in. */
typedef struct GaitFootpod {
        bool present;               /* the wearer has a footpod */
        bool fresh;                 /* a measurement within the last seconds: the values below */
        float speed_m_s;
        float cadence_spm;
        bool has_stride_length;
        float stride_length_m;
        bool running;               /* the footpod's walking/running status bit */
        double distance_today_m;
        double distance_total_m;
} GaitFootpod;

typedef struct GaitSnapshot {
        uint64_t t_us;
        GaitSource source;
        PressureUnit load_unit;     /* NEWTON (also for kPa insoles) or RAW */
        float body_weight_kg;
        ActivityState activity;
        uint64_t activity_since_us;
        uint64_t activity_day_us[_ACTIVITY_MAX]; /* time per state since gait_engine_start_day() */
        uint64_t steps_total;       /* since the engine started */
        uint64_t steps_day;
        GaitWindowSummary window[_GAIT_WINDOW_MAX];
        GaitBalance balance;
        GaitFootQuality quality[_FOOT_SIDE_MAX];
        GaitFootpod footpod;        /* left empty by the engine */
} GaitSnapshot;

/* Cheap accessors for per-tick callers (the snapshot sorts every window). */
ActivityState gait_engine_activity(const GaitEngine *e, uint64_t *ret_since_us);
uint64_t gait_engine_steps_total(const GaitEngine *e);

/* Summarises everything up to the last fed sample. Allocation free. */
int gait_engine_snapshot(GaitEngine *e, GaitSnapshot *ret);

/* "n", "bw" or "raw": the suffix of load fields (newtons, body weights, uncalibrated counts). */
const char *gait_load_unit_suffix(PressureUnit unit, bool per_body_weight);
/* One foot's summary as a JSON object; the gait payload and `analyze` share it. */
void gait_foot_summary_to_json(const GaitFootSummary *f, const char *load_unit, JsonWriter *w);

/* "quality": {"left": ..., "right": ...}; the gait payload and `analyze` share it. */
void gait_quality_to_json(const GaitFootQuality quality[_FOOT_SIDE_MAX], JsonWriter *w);

/* Writes the snapshot as one JSON object (the payload of <base>/<wearer>/gait). */
int gait_snapshot_to_json(const GaitSnapshot *s, JsonWriter *w);

/* 2 (L - R) / (L + R) x 100, in %: > 0 when the left figure is the larger; NAN when either side is not
 * finite or both are 0. Inline, so that the alerts' day values use it without the gait engine. */
static inline float gait_asymmetry_signed(float left, float right) {
        if (!isfinite(left) || !isfinite(right) || left + right == 0)
                return NAN;
        return 2.0f * (left - right) / fabsf(left + right) * 100.0f;
}

/* Symmetry index in %: the same without its sign. */
float gait_symmetry_index(float left, float right);

/* Summarises strides[0..n) (any order, both feet) into *ret; steps = n (each stride closes with
 * one contact). scratch holds at least n floats. duration_us is left 0 for the caller. The engine's
 * windows, `analyze` and the validation share it. */
void gait_summarize_strides(const GaitStride *strides, size_t n, float *scratch, GaitWindowSummary *ret);
