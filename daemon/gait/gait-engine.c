/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "gait-internal.h"
#include "macro.h"
#include "round-util.h"
#include "string-table.h"

/* Samples kept per foot for refining events (300 ms back at most) and for placing a toe-off, which
 * is decided up to ~0.7 s after it: a second of them (GaitParams.ring_cover_ms) at the foot's own
 * rate. A stance's metrics are taken from the samples still in the ring plus the samples of the same
 * stance that left it, folded into a StanceFold on their way out (fold_sample()), so a stance of up
 * to STANCE_METRICS_MAX_US gets its metrics from a ring a quarter as long (issue #15). The ring
 * starts sized for 100 Hz and grows when a full ring spans clearly less than its time (a faster
 * insole, found once its first samples fill it; ring_grow_if_short()); it never shrinks. */
#define RING_COVER_MS_DEFAULT 1000u /* GaitParams.ring_cover_ms */
#define RING_COVER_MS_MAX 8000u
#define RING_START_HZ 100u          /* the ring is sized for this rate at first ... */
#define RING_MAX_HZ 400u            /* ... and for at most this one, the highest stream rate */
/* A stance longer than this is standing, not a gait stance: no stance metrics. */
#define STANCE_METRICS_MAX_US (4 * USEC_PER_SEC)
/* Candidates a StanceFold keeps per decision that needs the stance's end: one per FOLD_SLOTS_PER_MARK
 * ring slots (12 at 100 Hz, 50 at 400 Hz: a slow rise has more samples at a higher rate). More than
 * that (a stance with unusually many new highs after it left the ring) costs that stance its metrics
 * only when a dropped candidate would have been the answer. */
#define FOLD_SLOTS_PER_MARK 8u
#define FOLD_PEAK_GROWTH 1.5f /* of the foot's usual peak load: more is rare in one stance */
/* Levels: the loaded level and the unloaded baseline of the total load are robust percentiles of
 * the minima and maxima of the last LEVEL_BLOCKS blocks of LEVEL_BLOCK_US that saw movement. */
#define LEVEL_BLOCK_US (250 * USEC_PER_MSEC)
#define LEVEL_BLOCKS 32u
#define LEVEL_MIN_BLOCKS 4u
#define LEVEL_LOW_PCT 0.15f
#define LEVEL_HIGH_PCT 0.75f
/* Per-cell offset of raw (uncalibrated) insoles: low percentile of 2 s block minima over ~1 min. */
#define CELL_BLOCK_US (2 * USEC_PER_SEC)
#define CELL_BLOCKS 32u
#define CELL_LOW_PCT 0.10f
/* All insoles: each cell's offset and noise band are re-learnt from every swing longer than this,
 * committed in chunks one chunk late (see swing_track()). */
#define SWING_OFFSET_MIN_US (150 * USEC_PER_MSEC)
#define SWING_CHUNK_US (50 * USEC_PER_MSEC)
/* Time constant of the load that tells a worn insole from an empty one. */
#define PRESENCE_TAU_US (1 * USEC_PER_SEC)
/* Thresholds as fractions of (loaded - baseline). */
#define TH_CONTACT 0.30f     /* entering stance */
#define TH_MID 0.40f         /* last fall through this level starts the toe-off search */
/* GAIT_TH_RELEASE (gait-internal.h): below it for CONFIRM_US, the foot is in the air */
#define TH_RELEASE_HYST 0.05f
#define TH_RELEASE_SHUFFLE 0.35f /* release level within an over-long stance (a shuffle) */
#define LONG_STANCE_FACTOR 1.4f  /* a stance this much longer than usual may be a shuffle ... */
#define SHUFFLE_MAX_FACTOR 3.0f  /* ... but one this long is standing */
/* Event refinement: slopes are measured over +-SLOPE_HALF_US (10 ms: 3 samples at 300 Hz, 1 at 100 Hz);
 * a contact is looked for at most REFINE_BACK_US before the threshold crossing. */
#define SLOPE_HALF_US (10500)
#define REFINE_BACK_US (300 * USEC_PER_MSEC)
#define CONTACT_PENDING_US (150 * USEC_PER_MSEC)
#define NOISE_SLOPE_FACTOR 3.0f
/* The fall that ends in a toe-off is looked for back over a plateau this close (share of the span) above
 * the release crossing, not further: higher up, a slow unloading is still stance. */
#define TOE_OFF_PLATEAU 0.10f
/* A reloading that ends within this time after a release is a bump early in the swing, not stance. */
#define BUMP_MAX_US (150 * USEC_PER_MSEC)
#define CONFIRM_US (80 * USEC_PER_MSEC)
#define CANCEL_US (15 * USEC_PER_MSEC)  /* a release is cancelled by a reloading that lasts this long */
/* Strides outside this range are pauses or artefacts, not strides. */
#define STRIDE_MIN_US (250 * USEC_PER_MSEC)
#define STRIDE_MAX_US (8 * USEC_PER_SEC)
/* Smallest loaded-baseline span that is gait rather than sensor noise: a stepping foot changes its
 * load by hundreds of newtons; raw front ends are 10-12 bit ADCs. */
#define SPAN_FLOOR_NEWTON 30.0f
#define SPAN_FLOOR_RAW 25.0f
#define SPAN_FLOOR_BW 0.25f          /* of body weight, when known */
#define CALIBRATED_AIR_SHARE 0.50f   /* unloaded level below this share of the loaded level */
/* A block counts as movement when its range exceeds this share of the current loaded-baseline span. */
#define DYNAMIC_BLOCK_SHARE 0.30f
#define FLAT_WINDOW_US (30 * USEC_PER_MSEC)
#define FLIGHT_MIN_US (20 * USEC_PER_MSEC)
#define HISTORY 16u
/* Strides of both feet kept for the rolling windows: the longest (60 s) holds one stride per step.
 * The ring starts with room for 128 steps/min and grows once, when a faster walker fills it, to
 * 256 steps/min (issue #15). */
#define STRIDE_RING_START 128u
#define STRIDE_RING 256u
#define WINDOW_LONGEST_US (60 * USEC_PER_SEC)
#define QUEUE 128u
#define TICK_US (20 * USEC_PER_MSEC)
#define WALKING_HOLD_US (3 * USEC_PER_SEC)
#define STATE_HOLD_US (1 * USEC_PER_SEC)
#define FOOT_STALE_US (1 * USEC_PER_SEC)
#define FALLBACK_AFTER_US (5 * USEC_PER_SEC)
#define STEP_MARKS 72u                  /* >= 60 s of once-a-second marks */
#define POD_CADENCE_MAX_GAP_US (5 * USEC_PER_SEC) /* longer between two cadences: a link loss, not walked */
#define SITTING_SHARE 0.40f   /* of the wearer's standing load */
#define NOT_WORN_SHARE 0.03f
#define DAY_BIN_MS 10u
#define DAY_BINS 400u         /* 0..4 s */
#define GRAVITY 9.80665f
#define RUNNING_STRIDES 6u
#define RUNNING_MIN_STRIDES 3u
#define TOE_GRIP_TICKS 5u     /* x TICK_US */
/* Signal quality (GaitFootQuality). */
#define QUALITY_INVALID_US (2 * USEC_PER_SEC)  /* no valid reading for this long: no signal */
#define QUALITY_QUIET_US (5 * USEC_PER_SEC)    /* no movement (or no change) for this long while the other foot walks */
#define QUALITY_CEILING_US (30 * USEC_PER_MSEC)  /* at the ceiling this long: clipped */
#define QUALITY_SATURATED_SHARE 0.25f          /* of stance samples at the ceiling, averaged over recent stances */
#define QUALITY_HISTORY 16u                    /* contact-to-contact intervals remembered */
#define QUALITY_MAX_REJECTED 4u                /* of QUALITY_HISTORY */

enum { DAY_STRIDE, DAY_STANCE, DAY_SWING, DAY_STEP, _DAY_HIST_MAX };

/* A sample decoded from its slot (ring_at()), for the stance metrics and the tick; the detector
 * reads only times and totals (ring_t(), ring_total()). */
typedef struct RingSample {
        uint64_t t_us;
        float total;              /* detector signal: cell forces summed as they are */
        float load;               /* offset-corrected, non-negative */
        float region[_REGION_MAX];
        float cop_x, cop_y;       /* NaN without a centre of pressure */
} RingSample;

/* A sample as the ring keeps it: 24 bytes instead of 40 (issue #15). The regions are shares of
 * the load, which they add up to (cell loads are non-negative), to 1/65535 of the load; the centre
 * of pressure, normalised to the insole (0..1), to 1/16384. The detector's signals stay floats. */
#define SHARE_ONE 65535.0f
#define SHARE_UNIT (1.0f / SHARE_ONE) /* multiplied by, not divided by: a division costs ~10 ns a sample */
#define COP_ONE 16384.0f
#define COP_NONE INT16_MIN
typedef struct RingSlot {
        uint32_t t_off_us;        /* since FootState.ring_base_us */
        float total, load;
        uint16_t region_share[_REGION_MAX];
        int16_t cop_x, cop_y;
} RingSlot;

static float cop_from_slot(int16_t v) {
        return v == COP_NONE ? NAN : v * (1.0f / COP_ONE);
}

static int16_t cop_to_slot(float v) {
        return isnan(v) ? COP_NONE : (int16_t) lrintf(CLAMP(v, -1.99f, 1.99f) * COP_ONE);
}

typedef struct DayFoot {
        /* 16 bits a bin: 65535 strides of one foot in one 10 ms bin is more than 130,000 steps in a
         * day; a bin that full stays full (half the size of 32 bits, 6.4 KB a wearer, issue #15) */
        uint16_t hist[_DAY_HIST_MAX][DAY_BINS];
        uint32_t n;
        uint32_t uncertain;      /* strides with an uncertain contact */
        uint32_t stance_n;
        uint32_t strikes[_STRIKE_PATTERN_MAX];
        double peak_heel, loading_rate, push, peak_total, share[_REGION_MAX], cop_start, cop_end, cop_fwd, ml;
} DayFoot;

/* A sample that may decide a stance metric once the stance's peak load or midpoint is known. */
typedef struct FoldMark {
        uint32_t t_off_us; /* since the contact */
        float v;
} FoldMark;

/* The strict running maxima of a value, dropping those that can no longer be the first at or
 * above a share of the stance's peak: that first one is among them (fold_rise_first()). */
typedef struct FoldRise {
        FoldMark *mark;    /* room for StanceFold.cap */
        float max;         /* the largest value so far */
        float peak_bound;  /* > 0: complete for any peak up to this (fold_rise_add()) */
        uint16_t n;
        bool frozen;       /* a new maximum found no room: nothing is added after it */
} FoldRise;

/* Beside the centre of pressure's start candidates: where each was, and the path up to it. */
typedef struct FoldPath {
        int16_t x;
        uint32_t fwd, all;
} FoldPath;

typedef struct FoldEnd {
        float load;
        int16_t x;
} FoldEnd;

/* Lists of marks in a foot's fold block (fold_alloc()), each with room for its `cap`. */
enum { FOLD_LIST_HEEL = _REGION_MAX, FOLD_LIST_FRONT, FOLD_LIST_START, _FOLD_LISTS };

/* The stance's samples that left the ring, reduced to what measure_stance() needs from them. The
 * sums run in the same order as over the ring, and the centre-of-pressure path is counted in
 * steps of the ring's resolution (1/16384), so the metrics are the ones the whole stance in a
 * ring would give: tests/gait checks them against a ring longer than the stance. */
typedef struct StanceFold {
        uint16_t cap;            /* marks per list */
        bool active;             /* from the contact until the toe-off is placed */
        bool broken;             /* no metrics for this stance: too long, or a candidate lost */
        uint64_t first, next;    /* the contact's index; the next sample to fold */
        uint64_t t_ic;           /* the contact's time */
        float peak;              /* the largest load */
        double impulse[_REGION_MAX], impulse_total, y_sum, y_w;
        uint32_t path_fwd, path_all; /* centre-of-pressure path, in 1/16384 */
        int16_t last_x;          /* last valid centre of pressure (COP_NONE before one) */
        FoldRise onset[_REGION_MAX]; /* first region load >= 5 % of the peak */
        FoldRise heel;           /* heel peak before the midpoint: the last maximum at or before it
                                  * (frozen: older maxima were given up) */
        FoldMark *front;         /* front peak from the midpoint on: maxima of what follows */
        uint16_t front_n;
        uint32_t front_lost_off; /* latest candidate given up for room (0: none) */
        bool front_lost;
        /* where the centre of pressure starts (first valid sample >= 10 % of the peak), with the
         * path up to each candidate beside it, and ends (last such): maxima of what follows */
        FoldRise start;
        FoldPath *start_path;
        FoldEnd *end;
        uint16_t end_n;
        float end_lost;          /* largest end candidate given up for room (0: none) */
} StanceFold;

typedef struct FootState {
        FootSide side;
        InsoleLayout layout;
        bool spatial;              /* cells in the heel and in the forefoot or toes */
        bool raw;

        /* Per-cell state points into one block (cells_alloc()) sized for this insole's cells: most
         * have 8 to 16, not INSOLE_MAX_CELLS, and only raw ones keep block minima (issue #15). */
        void *cells;
        float *last_valid;
        bool *have_valid;

        /* raw insoles: per-cell unloaded offset */
        float *cell_blk_min;
        float (*cell_mins)[CELL_BLOCKS]; /* NULL unless raw */
        unsigned cell_n, cell_pos;
        uint64_t cell_blk_start;
        bool cell_blk_open;
        float *cell_offset;
        float *swing_min; /* per cell, since the last toe-off */
        float *swing_max;
        float *cell_band;  /* a cell's noise in the air: loads below it are noise */
        /* swing statistics are committed one chunk late, so that the landing's first samples (seen
         * before the contact is recognised) never count as swing */
        float *chunk_min[2], *chunk_max[2];
        double *chunk_sum[2];
        unsigned chunk_n[2];
        uint64_t chunk_start;
        bool chunk_open, chunk_prev;
        bool offsets_from_swing;
        /* Whether the insole is worn: each cell's mean in the air (from swings; before any, the
         * offset), and the 1 s mean of the load above it. Unlike `load`, nothing is cut off as
         * noise, so that the few percent of body weight of a foot resting on the floor while
         * sitting are not taken for an empty insole by a noisy sensor. */
        double *swing_sum;
        unsigned swing_n;
        float *cell_air;
        float presence;
        bool have_presence;

        RingSlot *ring;     /* ring_cap samples; sample i (absolute) at i % ring_cap */
        StanceFold fold;    /* the current stance's samples that left the ring */
        void *fold_block;   /* its lists: _FOLD_LISTS of FoldMark, then FoldStart, then FoldEnd */
        float usual_peak;   /* running mean of the stances' peak loads, 0 before the first */
        uint32_t ring_cap;
        uint32_t ring_cover_ms; /* GaitParams.ring_cover_ms */
        uint64_t ring_base_us; /* the slots' times count from here (ring_put()) */
        uint64_t ring_first; /* oldest absolute index still kept: the ring grew, or its time base passed older ones */
        uint64_t n_samples; /* absolute index of the next sample */
        uint64_t last_t_us;

        float blk_min, blk_max;
        uint64_t blk_start;
        bool blk_open;
        float mins[LEVEL_BLOCKS], maxs[LEVEL_BLOCKS];
        unsigned lv_n, lv_pos;
        float lo, hi;
        float span_floor;
        bool levels_ok;

        bool in_stance;
        uint64_t ic_idx;
        bool contact_pending;    /* in stance, the contact not placed yet ... */
        uint64_t crossing_idx;   /* ... the sample that crossed the contact threshold */
        uint64_t last_high_idx;
        bool release_pending;
        uint64_t release_t_us;
        uint64_t release_idx;    /* sample that fell through the release level */
        bool reloading;          /* above the release level again since reload_t_us */
        uint64_t reload_t_us;
        bool have_bump;          /* a release was cancelled by a brief reloading ... */
        uint64_t bump_to_idx;    /* ... and would have been a toe-off here */
        uint64_t bump_t_us;
        float release_level;
        float typical_stance_us; /* running mean of recent stance phases, 0 until the first */
        float stance_max;        /* largest total since the contact */

        bool have_ic, have_to;
        uint64_t ic_t, to_t;
        uint64_t ic_first_us, ic_latest_us; /* the contact's earliest and latest placements so far ... */
        uint64_t ic_after_us;    /* ... all after the previous toe-off (GaitStride.contact_spread_us) */
        bool spread_open;        /* the load may still reach the highest contact level */
        GaitStanceMetrics stance;

        GaitEvent hist[HISTORY];
        unsigned hist_n, hist_pos;

        /* signal quality */
        uint64_t last_valid_us, moving_us, changing_us; /* last valid reading, movement, any change */
        bool have_valid_reading;
        float swing_noise;         /* mean sample-to-sample change in the air */
        float ceiling;             /* largest detector signal seen ... */
        uint64_t ceiling_since_us; /* ... held since */
        uint32_t stance_samples, stance_at_ceiling;
        float ceiling_share;       /* running mean over stances of the share at the ceiling */
        uint32_t rejected_bits;    /* last QUALITY_HISTORY intervals, 1 = rejected */
        unsigned intervals;

        DayFoot day;
        float toe_slow;
        bool toe_gripping;
        unsigned toe_above_ticks;
} FootState;

static int fold_alloc(FootState *f, unsigned cap);

/* GaitStanceMetrics as the windows keep them: shares to 1/65535, positions on the insole (and the
 * medial-lateral index, -1..1) to 1/16384 like the ring's; loads stay floats, their unit varies. */
typedef struct KeptStance {
        float peak_total, peak_heel, heel_loading_rate, push_peak;
        uint16_t load_share[_REGION_MAX], cop_forward_fraction;
        int16_t strike_cop_x, cop_start_x, cop_end_x, ml_index;
        uint8_t strike;
        bool valid, per_body_weight;
} KeptStance;

/* A GaitStride as the rolling windows keep it: without the toe-off and next contact times, which
 * follow from the contact and the durations (72 B instead of 120, issue #15). */
typedef struct KeptStride {
        uint64_t t_contact_us;
        uint32_t stride_us, stance_us, swing_us;
        int32_t step_us, double_support_us;
        uint8_t foot;
        bool flight;
        uint16_t contact_spread_10us; /* in the padding before stance: the size stays */
        KeptStance stance;
} KeptStride;

static uint16_t share_to_kept(float v) {
        return (uint16_t) lrintf(CLAMP(v, 0.0f, 1.0f) * SHARE_ONE);
}

static KeptStance stance_keep(const GaitStanceMetrics *m) {
        KeptStance k = { .peak_total = m->peak_total, .peak_heel = m->peak_heel, .heel_loading_rate = m->heel_loading_rate,
                         .push_peak = m->push_peak, .cop_forward_fraction = share_to_kept(m->cop_forward_fraction),
                         .strike_cop_x = cop_to_slot(m->strike_cop_x), .cop_start_x = cop_to_slot(m->cop_start_x),
                         .cop_end_x = cop_to_slot(m->cop_end_x), .ml_index = cop_to_slot(m->ml_index),
                         .strike = (uint8_t) (m->strike + 1), .valid = m->valid, .per_body_weight = m->per_body_weight };

        for (unsigned r = 0; r < _REGION_MAX; r++)
                k.load_share[r] = share_to_kept(m->load_share[r]);
        return k;
}

static GaitStanceMetrics stance_unkeep(const KeptStance *k) {
        GaitStanceMetrics m = { .valid = k->valid, .strike = (StrikePattern) (k->strike - 1), .peak_total = k->peak_total,
                                .peak_heel = k->peak_heel, .heel_loading_rate = k->heel_loading_rate, .push_peak = k->push_peak,
                                .cop_forward_fraction = k->cop_forward_fraction * SHARE_UNIT,
                                .strike_cop_x = cop_from_slot(k->strike_cop_x), .cop_start_x = cop_from_slot(k->cop_start_x),
                                .cop_end_x = cop_from_slot(k->cop_end_x), .ml_index = cop_from_slot(k->ml_index),
                                .per_body_weight = k->per_body_weight };

        for (unsigned r = 0; r < _REGION_MAX; r++)
                m.load_share[r] = k->load_share[r] * SHARE_UNIT;
        return m;
}

static KeptStride stride_keep(const GaitStride *s) {
        return (KeptStride) { .t_contact_us = s->t_contact_us, .stride_us = s->stride_us, .stance_us = s->stance_us,
                              .swing_us = s->swing_us, .step_us = s->step_us, .double_support_us = s->double_support_us,
                              .foot = (uint8_t) s->foot, .flight = s->flight,
                              .contact_spread_10us = (uint16_t) MIN(s->contact_spread_us / 10, (uint32_t) UINT16_MAX),
                              .stance = stance_keep(&s->stance) };
}

static GaitStride stride_unkeep(const KeptStride *k) {
        return (GaitStride) { .foot = (FootSide) k->foot, .t_contact_us = k->t_contact_us,
                              .t_toe_off_us = k->t_contact_us + k->stance_us,
                              .t_next_contact_us = k->t_contact_us + k->stride_us, .stride_us = k->stride_us,
                              .stance_us = k->stance_us, .swing_us = k->swing_us, .step_us = k->step_us,
                              .double_support_us = k->double_support_us, .flight = k->flight,
                              .contact_spread_us = k->contact_spread_10us * 10u, .stance = stance_unkeep(&k->stance) };
}

struct GaitEngine {
        GaitParams params;
        FootState foot[_FOOT_SIDE_MAX];

        KeptStride *strides; /* both feet, for the rolling windows: st_cap, oldest at st_pos */
        unsigned st_cap, st_n, st_pos;

        /* for gait_engine_take_*(); NULL with no_result_queues */
        GaitEvent *ev_queue;    /* QUEUE */
        unsigned evq_n, evq_pos;
        GaitStride *st_queue;   /* QUEUE */
        unsigned stq_n, stq_pos;

        uint64_t now_us;
        bool have_now;
        uint64_t last_pressure_us;
        bool have_pressure;

        /* wearer level, evaluated every TICK_US */
        uint64_t next_tick_us;
        uint64_t last_tick_us;
        ActivityState activity, candidate;
        uint64_t activity_since_us, candidate_since_us, low_since_us;
        bool low_load;
        uint64_t activity_day_us[_ACTIVITY_MAX];
        uint64_t last_contact_us;
        bool have_contact;
        uint64_t steps_total, steps_day;
        uint64_t day_start_us;

        /* balance */
        GaitBalance balance;
        bool bal_have_prev;
        bool bal_toes_ready;
        float bal_x, bal_y, bal_min_x, bal_max_x, bal_min_y, bal_max_y, bal_path;
        double bal_left_sum;
        uint32_t bal_left_n;
        uint64_t bal_start_us;

        /* fallback */
        bool have_steps;
        uint32_t steps_last;
        uint64_t steps_first_us, steps_last_us;
        uint64_t steps_counted;
        float pod_cadence;
        bool pod_running;
        uint64_t pod_cadence_t_us;
        bool have_pod_cadence;
        double pod_step_fraction;    /* steps from cadence over time, not yet whole */

        /* steps_total at most once a second, for the windows' step counts without pressure */
        uint64_t mark_t_us[STEP_MARKS];
        uint64_t mark_steps[STEP_MARKS];
        unsigned mark_pos, mark_n;
};

static const char *const gait_event_type_table[_GAIT_EVENT_TYPE_MAX] = {
        [GAIT_EVENT_INITIAL_CONTACT] = "initial_contact",
        [GAIT_EVENT_TOE_OFF] = "toe_off",
};

DEFINE_STRING_TABLE_LOOKUP_TO_STRING(gait_event_type, GaitEventType);

static const char *const strike_pattern_table[_STRIKE_PATTERN_MAX] = {
        [STRIKE_HEEL] = "heel", [STRIKE_MIDFOOT] = "midfoot",
        [STRIKE_FOREFOOT] = "forefoot", [STRIKE_FLAT] = "flat",
};

DEFINE_STRING_TABLE_LOOKUP_TO_STRING(strike_pattern, StrikePattern);

static const char *const gait_foot_quality_table[_GAIT_FOOT_QUALITY_MAX] = {
        [GAIT_QUALITY_OK] = "ok", [GAIT_QUALITY_NO_SIGNAL] = "no_signal", [GAIT_QUALITY_FLAT] = "flat",
        [GAIT_QUALITY_SATURATED] = "saturated", [GAIT_QUALITY_UNRELIABLE] = "unreliable",
};

DEFINE_STRING_TABLE_LOOKUP_TO_STRING(gait_foot_quality, GaitFootQuality);

static const char *const gait_window_table[_GAIT_WINDOW_MAX] = {
        [GAIT_WINDOW_10S] = "last_10s", [GAIT_WINDOW_60S] = "last_60s", [GAIT_WINDOW_DAY] = "day",
};

DEFINE_STRING_TABLE_LOOKUP_TO_STRING(gait_window, GaitWindow);

static float percentile_of(const float *v, unsigned n, float p, float *tmp) {
        memcpy(tmp, v, n * sizeof(float));
        /* n is at most 32: insertion sort, no allocation */
        for (unsigned i = 1; i < n; i++) {
                float x = tmp[i];
                unsigned j = i;
                while (j > 0 && tmp[j - 1] > x) {
                        tmp[j] = tmp[j - 1];
                        j--;
                }
                tmp[j] = x;
        }
        return tmp[(unsigned) round_half_away(p * (n - 1))];
}

static bool layout_valid(const InsoleLayout *l) {
        return l && l->n_cells >= 1 && l->n_cells <= INSOLE_MAX_CELLS && l->unit >= 0 && l->unit < _PRESSURE_UNIT_MAX;
}

static void swing_reset(FootState *f) {
        for (unsigned c = 0; c < f->layout.n_cells; c++) {
                f->swing_min[c] = INFINITY;
                f->swing_max[c] = -INFINITY;
                f->swing_sum[c] = 0;
        }
        f->swing_n = 0;
        f->chunk_open = f->chunk_prev = false;
}

GaitEngine *gait_engine_free(GaitEngine *e) {
        if (!e)
                return NULL;
        for (FootSide s = 0; s < _FOOT_SIDE_MAX; s++) {
                free(e->foot[s].ring);
                free(e->foot[s].fold_block);
                free(e->foot[s].cells);
        }
        free(e->strides);
        free(e->ev_queue);
        free(e->st_queue);
        free(e);
        return NULL;
}

/* Carves the per-cell arrays out of one zeroed block: doubles first, then floats, then bools, so
 * that each part is aligned. */
static int cells_alloc(FootState *f) {
        float **floats[] = { &f->last_valid, &f->cell_blk_min, &f->cell_offset, &f->swing_min, &f->swing_max, &f->cell_band,
                             &f->chunk_min[0], &f->chunk_min[1], &f->chunk_max[0], &f->chunk_max[1], &f->cell_air };
        size_t n = f->layout.n_cells, n_floats = (ELEMENTSOF(floats) + (f->raw ? CELL_BLOCKS : 0)) * n;
        double *d;
        float *x;

        f->cells = calloc(1, 3 * n * sizeof(double) + n_floats * sizeof(float) + n * sizeof(bool));
        if (!f->cells)
                return -ENOMEM;
        d = f->cells;
        f->chunk_sum[0] = d;
        f->chunk_sum[1] = d + n;
        f->swing_sum = d + 2 * n;
        x = (float *) (d + 3 * n);
        for (size_t i = 0; i < ELEMENTSOF(floats); i++, x += n)
                *floats[i] = x;
        if (f->raw) {
                f->cell_mins = (float (*)[CELL_BLOCKS]) x;
                x += n * CELL_BLOCKS;
        }
        f->have_valid = (bool *) x;
        return 0;
}

int gait_engine_new(const InsoleLayout *left, const InsoleLayout *right, const GaitParams *params, GaitEngine **ret) {
        _cleanup_(gait_engine_freep) GaitEngine *e = NULL;
        const InsoleLayout *layouts[_FOOT_SIDE_MAX] = { left, right };

        if (!ret || !layout_valid(left) || !layout_valid(right))
                return -EINVAL;

        e = calloc(1, sizeof(GaitEngine));
        if (!e)
                return -ENOMEM;

        e->params = params ? *params : GAIT_PARAMS_DEFAULT;
        e->strides = calloc(STRIDE_RING_START, sizeof(KeptStride));
        if (!e->strides)
                return -ENOMEM;
        e->st_cap = STRIDE_RING_START;
        if (!e->params.no_result_queues) {
                e->ev_queue = calloc(QUEUE, sizeof(GaitEvent));
                e->st_queue = calloc(QUEUE, sizeof(GaitStride));
                if (!e->ev_queue || !e->st_queue)
                        return -ENOMEM;
        }
        if (e->params.not_worn_after_ms == 0)
                e->params.not_worn_after_ms = GAIT_PARAMS_DEFAULT.not_worn_after_ms;
        if (!(e->params.running_cadence_spm > 0))
                e->params.running_cadence_spm = GAIT_PARAMS_DEFAULT.running_cadence_spm;
        if (!(e->params.body_weight_kg > 0))
                e->params.body_weight_kg = 0;
        if (!(e->params.contact_slope > 0 && e->params.contact_slope < 1000))
                e->params.contact_slope = GAIT_CONTACT_SLOPE_DEFAULT;
        if (!(e->params.toe_off_slope > 0 && e->params.toe_off_slope < 1000))
                e->params.toe_off_slope = GAIT_TOE_OFF_SLOPE_DEFAULT;
        if (!(e->params.contact_level >= TH_CONTACT && e->params.contact_level < 1))
                e->params.contact_level = GAIT_CONTACT_LEVEL_DEFAULT;
        e->params.ring_cover_ms = e->params.ring_cover_ms == 0 ? RING_COVER_MS_DEFAULT :
                                  CLAMP(e->params.ring_cover_ms, RING_COVER_MS_DEFAULT, RING_COVER_MS_MAX);

        for (FootSide s = 0; s < _FOOT_SIDE_MAX; s++) {
                FootState *f = &e->foot[s];
                bool heel = false, front = false;

                f->side = s;
                f->ring_cover_ms = e->params.ring_cover_ms;
                f->ring_cap = f->ring_cover_ms * RING_START_HZ / 1000;
                f->ring = calloc(f->ring_cap, sizeof(RingSlot));
                if (!f->ring)
                        return -ENOMEM;
                f->layout = *layouts[s];
                f->raw = f->layout.unit == PRESSURE_UNIT_RAW;
                if (cells_alloc(f) < 0)
                        return -ENOMEM;
                for (unsigned i = 0; i < f->layout.n_cells; i++) {
                        FootRegion r = foot_region_of(f->layout.cells[i].x);
                        heel |= r == REGION_HEEL;
                        front |= r == REGION_FOREFOOT || r == REGION_TOES;
                }
                f->spatial = heel && front;
                /* stance metrics, and so a fold, only with cells in the heel and the front */
                if (f->spatial && fold_alloc(f, f->ring_cap / FOLD_SLOTS_PER_MARK) < 0)
                        return -ENOMEM;
                swing_reset(f);
        }
        gait_engine_set_body_weight(e, e->params.body_weight_kg);
        e->activity = e->candidate = ACTIVITY_UNKNOWN;

        *ret = TAKE_PTR(e);
        return 0;
}

void gait_engine_set_body_weight(GaitEngine *e, float body_weight_kg) {
        e->params.body_weight_kg = body_weight_kg > 0 ? body_weight_kg : 0;
        for (FootSide s = 0; s < _FOOT_SIDE_MAX; s++) {
                FootState *f = &e->foot[s];

                f->span_floor = f->raw ? SPAN_FLOOR_RAW : SPAN_FLOOR_NEWTON;
                if (!f->raw && e->params.body_weight_kg > 0)
                        f->span_floor = MAX(f->span_floor, SPAN_FLOOR_BW * e->params.body_weight_kg * GRAVITY);
        }
}

static void queue_event(GaitEngine *e, FootState *f, GaitEventType type, uint64_t t_us) {
        GaitEvent ev = { .foot = f->side, .type = type, .t_us = t_us };

        f->hist[f->hist_pos] = ev;
        f->hist_pos = (f->hist_pos + 1) % HISTORY;
        f->hist_n = MIN(f->hist_n + 1, HISTORY);

        if (!e->ev_queue)
                return;
        e->ev_queue[(e->evq_pos + e->evq_n) % QUEUE] = ev;
        if (e->evq_n < QUEUE)
                e->evq_n++;
        else
                e->evq_pos = (e->evq_pos + 1) % QUEUE;
}

static const GaitEvent *history_at(const FootState *f, unsigned age) {
        /* age 0 = most recent */
        if (age >= f->hist_n)
                return NULL;
        return &f->hist[(f->hist_pos + HISTORY - 1 - age) % HISTORY];
}

/* Time within [a, b) during which foot o was on the ground, from its event history. Returns -1 when
 * its history does not reach back to a. */
static int64_t stance_overlap(const FootState *o, uint64_t a, uint64_t b) {
        int64_t sum = 0;
        uint64_t end = b;
        bool covered = false;

        if (b <= a)
                return 0;
        /* Walk back through the other foot's events; between consecutive events its state is known. */
        for (unsigned age = 0; age < o->hist_n; age++) {
                const GaitEvent *ev = history_at(o, age);
                uint64_t start = ev->t_us;

                if (start < end) {
                        uint64_t lo = MAX(start, a), hi = end;
                        if (ev->type == GAIT_EVENT_INITIAL_CONTACT && hi > lo)
                                sum += (int64_t) (hi - lo);
                        end = start;
                }
                if (ev->t_us <= a) {
                        covered = true;
                        break;
                }
        }
        return covered ? sum : -1;
}

static void day_add(DayFoot *d, const GaitStride *s) {
        uint32_t v[_DAY_HIST_MAX] = { s->stride_us, s->stance_us, s->swing_us, (uint32_t) MAX(s->step_us, 0) };

        for (unsigned h = 0; h < _DAY_HIST_MAX; h++) {
                if (h == DAY_STEP && s->step_us < 0)
                        continue;
                uint16_t *bin = &d->hist[h][MIN(v[h] / 1000 / DAY_BIN_MS, DAY_BINS - 1)];

                if (*bin < UINT16_MAX)
                        (*bin)++;
        }
        d->n++;
        d->uncertain += gait_contact_uncertain(s);
        if (s->stance.valid) {
                const GaitStanceMetrics *m = &s->stance;
                d->stance_n++;
                d->strikes[m->strike]++;
                d->peak_heel += m->peak_heel;
                d->loading_rate += m->heel_loading_rate;
                d->push += m->push_peak;
                d->peak_total += m->peak_total;
                for (unsigned r = 0; r < _REGION_MAX; r++)
                        d->share[r] += m->load_share[r];
                d->cop_start += m->cop_start_x;
                d->cop_end += m->cop_end_x;
                d->cop_fwd += m->cop_forward_fraction;
                d->ml += m->ml_index;
        }
}

/* A full ring whose oldest stride still ends within the longest window grows (once) instead of
 * dropping it. Without memory it stays as it is: the window then covers a little less than 60 s. */
static void keep_stride(GaitEngine *e, const GaitStride *s) {
        if (e->st_n == e->st_cap && e->st_cap < STRIDE_RING) {
                const KeptStride *oldest = &e->strides[e->st_pos];
                KeptStride *grown;

                if (oldest->t_contact_us + oldest->stride_us + WINDOW_LONGEST_US >= s->t_next_contact_us &&
                    (grown = malloc(STRIDE_RING * sizeof(KeptStride)))) {
                        for (unsigned i = 0; i < e->st_n; i++)
                                grown[i] = e->strides[(e->st_pos + i) % e->st_cap];
                        free(e->strides);
                        e->strides = grown;
                        e->st_cap = STRIDE_RING;
                        e->st_pos = 0;
                }
        }
        e->strides[(e->st_pos + e->st_n) % e->st_cap] = stride_keep(s);
        if (e->st_n < e->st_cap)
                e->st_n++;
        else
                e->st_pos = (e->st_pos + 1) % e->st_cap;
}

static void emit_stride(GaitEngine *e, FootState *f, uint64_t next_ic) {
        FootState *o = &e->foot[!f->side];
        GaitStride s = {
                .foot = f->side,
                .t_contact_us = f->ic_t,
                .t_toe_off_us = f->to_t,
                .t_next_contact_us = next_ic,
                .stride_us = (uint32_t) (next_ic - f->ic_t),
                .stance_us = (uint32_t) (f->to_t - f->ic_t),
                .swing_us = (uint32_t) (next_ic - f->to_t),
                .step_us = -1,
                .double_support_us = -1,
                .contact_spread_us = (uint32_t) MIN(f->ic_latest_us - f->ic_first_us, (uint64_t) UINT32_MAX),
                .stance = f->stance,
        };
        int64_t ds, air;

        /* step: the other foot's last contact before this stride's contact */
        for (unsigned age = 0; age < o->hist_n; age++) {
                const GaitEvent *ev = history_at(o, age);
                if (ev->type == GAIT_EVENT_INITIAL_CONTACT && ev->t_us < f->ic_t) {
                        if (f->ic_t - ev->t_us < s.stride_us)
                                s.step_us = (int32_t) (f->ic_t - ev->t_us);
                        break;
                }
        }
        ds = stance_overlap(o, f->ic_t, f->to_t);
        if (ds >= 0)
                s.double_support_us = (int32_t) ds;
        air = stance_overlap(o, f->to_t, next_ic);
        if (air >= 0)
                s.flight = (int64_t) s.swing_us - air >= (int64_t) FLIGHT_MIN_US;

        keep_stride(e, &s);

        if (e->st_queue) {
                e->st_queue[(e->stq_pos + e->stq_n) % QUEUE] = s;
                if (e->stq_n < QUEUE)
                        e->stq_n++;
                else
                        e->stq_pos = (e->stq_pos + 1) % QUEUE;
        }

        day_add(&f->day, &s);
}

static const RingSlot *ring_slot(const FootState *f, uint64_t idx) {
        return &f->ring[idx % f->ring_cap];
}

/* The detector reads only times and totals: these two decode nothing else. */
static uint64_t ring_t(const FootState *f, uint64_t idx) {
        return f->ring_base_us + ring_slot(f, idx)->t_off_us;
}

static float ring_total(const FootState *f, uint64_t idx) {
        return ring_slot(f, idx)->total;
}

static RingSample ring_at(const FootState *f, uint64_t idx) {
        const RingSlot *s = ring_slot(f, idx);
        RingSample r = { .t_us = f->ring_base_us + s->t_off_us, .total = s->total, .load = s->load,
                         .cop_x = cop_from_slot(s->cop_x), .cop_y = cop_from_slot(s->cop_y) };

        for (unsigned k = 0; k < _REGION_MAX; k++)
                r.region[k] = s->load * (s->region_share[k] * SHARE_UNIT);
        return r;
}

/* Times are kept as 32-bit offsets from ring_base_us. When a sample's offset would not fit, the
 * base moves to 2^31 us (36 min) before it: every sample the detector can still look at is far
 * younger, and any older one (the stream stopped for that long) is given up. */
static void ring_put(FootState *f, uint64_t slot, uint64_t t_us, float total, const FootLoad *load) {
        RingSlot *s = &f->ring[slot];
        /* one division, not one per region; a load too small for it to stay finite is no load */
        float to_share = load->total > 1e-30f ? SHARE_ONE / load->total : 0;

        if (t_us - f->ring_base_us > UINT32_MAX) {
                uint64_t base = t_us - (UINT64_C(1) << 31), shift = base - f->ring_base_us;
                uint64_t kept = MAX(f->ring_first, f->n_samples > f->ring_cap ? f->n_samples - f->ring_cap : 0);

                /* samples are in time order: the ones older than the new base come first */
                while (kept < f->n_samples && ring_slot(f, kept)->t_off_us < shift)
                        kept++;
                f->ring_first = kept;
                for (uint32_t i = 0; i < f->ring_cap; i++)
                        f->ring[i].t_off_us = f->ring[i].t_off_us < shift ? 0 : (uint32_t) (f->ring[i].t_off_us - shift);
                f->ring_base_us = base;
        }
        *s = (RingSlot) { .t_off_us = (uint32_t) (t_us - f->ring_base_us), .total = total, .load = load->total,
                          .cop_x = cop_to_slot(load->cop_valid ? load->cop_x : NAN),
                          .cop_y = cop_to_slot(load->cop_valid ? load->cop_y : NAN) };
        for (unsigned k = 0; k < _REGION_MAX; k++)
                s->region_share[k] = (uint16_t) lrintf(CLAMP(load->region[k] * to_share, 0.0f, SHARE_ONE));
}

static bool ring_has(const FootState *f, uint64_t idx) {
        return idx >= f->ring_first && idx < f->n_samples && f->n_samples - idx <= f->ring_cap;
}

/* Called before sample n_samples overwrites the oldest one: a full ring whose rate calls for more
 * than a sixteenth more samples than it holds to cover its time grows to cover it (10 % to
 * spare for jitter). The margin keeps an insole at exactly the ring's rate, or a little faster,
 * where it is. Without memory the ring stays as it is: long stances then lose their metrics,
 * nothing else. Returns whether it grew. */
static bool ring_grow_if_short(FootState *f) {
        uint64_t oldest = f->n_samples - f->ring_cap, span = f->last_t_us - ring_t(f, oldest);
        uint64_t need, want;
        RingSlot *ring;

        uint64_t cover_us = (uint64_t) f->ring_cover_ms * USEC_PER_MSEC;
        uint64_t max_samples = (uint64_t) f->ring_cover_ms * RING_MAX_HZ / 1000;

        if (f->ring_cap >= max_samples)
                return false;
        /* ring_cap samples span ring_cap - 1 intervals */
        need = span > 0 ? (uint64_t) (f->ring_cap - 1) * cover_us / span : max_samples;
        if (need <= f->ring_cap + f->ring_cap / 16)
                return false;
        want = MIN(need * 11 / 10, max_samples);
        ring = malloc(want * sizeof(RingSlot));
        if (!ring)
                return false;
        for (uint64_t i = oldest; i < f->n_samples; i++)
                ring[i % want] = f->ring[i % f->ring_cap];
        free(f->ring);
        f->ring = ring;
        f->ring_cap = (uint32_t) want;
        f->ring_first = oldest;
        /* without memory the fold keeps its lists: a stance more often loses its metrics */
        if (f->spatial)
                (void) fold_alloc(f, (unsigned) (want / FOLD_SLOTS_PER_MARK));
        return true;
}

static size_t fold_block_size(unsigned cap) {
        return cap * (_FOLD_LISTS * sizeof(FoldMark) + sizeof(FoldPath) + sizeof(FoldEnd));
}

/* Points the fold's lists into the foot's block. */
static void fold_lists(FootState *f) {
        StanceFold *sf = &f->fold;
        FoldMark *marks = f->fold_block;

        for (unsigned k = 0; k < _REGION_MAX; k++)
                sf->onset[k].mark = marks + k * sf->cap;
        sf->heel.mark = marks + FOLD_LIST_HEEL * sf->cap;
        sf->front = marks + FOLD_LIST_FRONT * sf->cap;
        sf->start.mark = marks + FOLD_LIST_START * sf->cap;
        sf->start_path = (FoldPath *) (marks + _FOLD_LISTS * sf->cap);
        sf->end = (FoldEnd *) (sf->start_path + sf->cap);
}

/* Room for `cap` marks per list, keeping an open stance's marks (the ring grew under it). */
static int fold_alloc(FootState *f, unsigned cap) {
        StanceFold *sf = &f->fold;
        StanceFold old = *sf;
        void *block, *old_block;

        if (cap <= sf->cap)
                return 0;
        block = calloc(1, fold_block_size(cap));
        if (!block)
                return -ENOMEM;
        old_block = f->fold_block;
        f->fold_block = block;
        sf->cap = (uint16_t) cap;
        fold_lists(f);
        if (old_block) {
                for (unsigned k = 0; k < _REGION_MAX; k++)
                        memcpy(sf->onset[k].mark, old.onset[k].mark, old.onset[k].n * sizeof(FoldMark));
                memcpy(sf->heel.mark, old.heel.mark, old.heel.n * sizeof(FoldMark));
                memcpy(sf->front, old.front, old.front_n * sizeof(FoldMark));
                memcpy(sf->start.mark, old.start.mark, old.start.n * sizeof(FoldMark));
                memcpy(sf->start_path, old.start_path, old.start.n * sizeof(FoldPath));
                memcpy(sf->end, old.end, old.end_n * sizeof(FoldEnd));
                free(old_block);
        }
        return 0;
}

static void fold_start(FootState *f, uint64_t ic) {
        StanceFold *sf = &f->fold;

        if (!f->spatial) /* no stance metrics to fold for */
                return;

        *sf = (StanceFold) { .cap = sf->cap, .active = true, .first = ic, .next = ic, .t_ic = ring_t(f, ic),
                             .last_x = COP_NONE, .start.max = -1.0f /* any first value is a maximum */ };
        fold_lists(f);
        for (unsigned k = 0; k < _REGION_MAX; k++)
                sf->onset[k].max = -1.0f;
}

/* Removes the first `drop` of a fold list's n elements of `size` bytes; returns how many are left. */
static uint16_t fold_drop_front(void *list, size_t size, unsigned n, unsigned drop) {
        if (drop > 0)
                memmove(list, (char *) list + drop * size, (n - drop) * size);
        return (uint16_t) (n - drop);
}

/* A new value of a rise looking for the first value at `share` of the stance's peak or above,
 * `peak` being the largest load so far: candidates below share × peak can no longer be that
 * one. A candidate at share × `bound` or above is the answer for any final peak up to `bound`
 * (a few of the foot's usual peaks), so nothing after it is needed; the end checks the bound.
 * Returns how many candidates it dropped from the front, after adding v if it did, for a list
 * that runs beside this one. */
static unsigned fold_rise_add(FoldRise *r, unsigned cap, uint32_t t_off, float v, float share, float peak, float bound) {
        float floor = share * peak;
        unsigned drop = 0;

        if (v > r->max) {
                r->max = v;
                if (v >= floor && !r->frozen && !(r->peak_bound > 0)) {
                        if (bound > 0 && v >= share * bound)
                                r->peak_bound = bound;
                        if (r->n == cap)
                                r->frozen = true;
                        else
                                r->mark[r->n++] = (FoldMark) { t_off, v };
                }
        }
        while (drop < r->n && r->mark[drop].v < floor)
                drop++;
        r->n = fold_drop_front(r->mark, sizeof(FoldMark), r->n, drop);
        return drop;
}

/* The index of the first folded value >= threshold, for a stance whose peak is `peak`; -ENOENT:
 * none reached it; -ENOBUFS: one that did found no room. */
static int fold_rise_first(const FoldRise *r, float threshold, float peak) {
        if (r->peak_bound > 0 && peak > r->peak_bound)
                return -ENOBUFS;
        for (unsigned i = 0; i < r->n; i++)
                if (r->mark[i].v >= threshold)
                        return (int) i;
        return r->frozen && r->max >= threshold ? -ENOBUFS : -ENOENT;
}

/* Sample i leaves the ring during a stance: keep what measure_stance() will need of it. Its
 * successor is still in the ring (for dt). The stance's midpoint is at least half-way to this
 * sample (`low_mid`): candidates that cannot matter for it are dropped. */
static void fold_sample(FootState *f, uint64_t i) {
        StanceFold *sf = &f->fold;
        const RingSlot *s = ring_slot(f, i);
        const RingSample r = ring_at(f, i);
        float dt, front, floor10, usual, bound;
        uint32_t off, low_mid;
        unsigned drop, n;

        if (sf->broken)
                return;
        if (!ring_has(f, i) || r.t_us - sf->t_ic > STANCE_METRICS_MAX_US) {
                sf->broken = true;
                return;
        }
        off = (uint32_t) (r.t_us - sf->t_ic);
        low_mid = off / 2;
        dt = (float) (ring_t(f, i + 1) - r.t_us) / USEC_PER_SEC;
        front = r.region[REGION_FOREFOOT] + r.region[REGION_TOES];
        sf->peak = MAX(sf->peak, s->load);
        floor10 = 0.10f * sf->peak;
        /* no stance's peak is likely to exceed this (fold_rise_add()): the usual peak, or the
         * loaded level where that is higher (a first stance cut short) */
        usual = MAX(f->usual_peak, f->hi - f->lo);
        bound = FOLD_PEAK_GROWTH * MAX(sf->peak, usual);

        for (unsigned k = 0; k < _REGION_MAX; k++) {
                fold_rise_add(&sf->onset[k], sf->cap, off, r.region[k], 0.05f, sf->peak, bound);
                sf->impulse[k] += r.region[k] * dt;
                sf->impulse_total += r.region[k] * dt;
        }

        /* the peak before the midpoint is the last maximum at or before it: keep the latest ones
         * (the midpoint is later than most of a heel's rise) */
        if (r.region[REGION_HEEL] > sf->heel.max) {
                sf->heel.max = r.region[REGION_HEEL];
                if (sf->heel.n == sf->cap) {
                        sf->heel.frozen = true; /* marks were given up: mark[0] is not the first */
                        sf->heel.n = fold_drop_front(sf->heel.mark, sizeof(FoldMark), sf->heel.n, 1);
                }
                sf->heel.mark[sf->heel.n++] = (FoldMark) { off, r.region[REGION_HEEL] };
        }
        /* of the maxima at or before low_mid only the last can still be the peak before the midpoint */
        while (sf->heel.n >= 2 && sf->heel.mark[1].t_off_us <= low_mid)
                sf->heel.n = fold_drop_front(sf->heel.mark, sizeof(FoldMark), sf->heel.n, 1);

        while (sf->front_n > 0 && sf->front[sf->front_n - 1].v <= front)
                sf->front_n--;
        if (sf->front_n == sf->cap) {
                sf->front_lost = true;
                sf->front_lost_off = sf->front[0].t_off_us;
                sf->front_n = fold_drop_front(sf->front, sizeof(FoldMark), sf->front_n, 1);
        }
        sf->front[sf->front_n++] = (FoldMark) { off, front };
        drop = 0;
        while (drop < sf->front_n && sf->front[drop].t_off_us < low_mid)
                drop++;
        sf->front_n = fold_drop_front(sf->front, sizeof(FoldMark), sf->front_n, drop);

        if (s->cop_x != COP_NONE) {
                if (sf->last_x != COP_NONE) {
                        int32_t d = (int32_t) s->cop_x - sf->last_x;
                        sf->path_all += (uint32_t) abs(d);
                        if (d > 0)
                                sf->path_fwd += (uint32_t) d;
                }
                sf->last_x = s->cop_x;

                n = sf->start.n;
                drop = fold_rise_add(&sf->start, sf->cap, off, r.load, 0.10f, sf->peak, bound);
                if (sf->start.n + drop > n) /* this sample became candidate n */
                        sf->start_path[n++] = (FoldPath) { .x = s->cop_x, .fwd = sf->path_fwd, .all = sf->path_all };
                (void) fold_drop_front(sf->start_path, sizeof(FoldPath), n, drop);

                while (sf->end_n > 0 && (sf->end[sf->end_n - 1].load <= r.load || sf->end[sf->end_n - 1].load < floor10))
                        sf->end_n--;
                if (r.load >= floor10) {
                        if (sf->end_n == sf->cap) {
                                sf->end_lost = MAX(sf->end_lost, sf->end[0].load);
                                sf->end_n = fold_drop_front(sf->end, sizeof(FoldEnd), sf->end_n, 1);
                        }
                        sf->end[sf->end_n++] = (FoldEnd) { .load = r.load, .x = s->cop_x };
                }
                sf->y_sum += (double) r.cop_y * r.load * dt;
                sf->y_w += (double) r.load * dt;
        }
}

/* Sample n is about to take the oldest one's slot. */
static void fold_leaving(FootState *f, uint64_t n) {
        StanceFold *sf = &f->fold;

        for (; sf->next + f->ring_cap <= n; sf->next++)
                fold_sample(f, sf->next);
}

static void measure_stance(const GaitEngine *e, FootState *f, uint64_t ic, uint64_t to) {
        StanceFold *sf = &f->fold;
        GaitStanceMetrics m = { .valid = false };
        double impulse[_REGION_MAX], impulse_total, y_sum, y_w, fwd = 0, all = 0;
        uint64_t t_ic, t_to, t_mid, onset[_REGION_MAX], from = sf->next;
        bool have_onset[_REGION_MAX] = {};
        float prev_x = NAN, peak_heel_t = 0;
        bool have_start = false, end_in_ring = false;
        uint32_t mid_off;
        int cand;

        f->stance = m;
        /* [ic, from) left the ring and are folded; [from, to) are in it */
        if (!f->spatial || to <= ic + 2 || sf->first != ic || sf->broken || from > to || !ring_has(f, to) ||
            (from < to && !ring_has(f, from)))
                return;

        t_ic = sf->t_ic;
        t_to = ring_t(f, to);
        if (t_to - t_ic > STANCE_METRICS_MAX_US)
                return;
        t_mid = t_ic + (t_to - t_ic) / 2;
        mid_off = (uint32_t) (t_mid - t_ic);

        m.peak_total = sf->peak;
        for (uint64_t i = from; i < to; i++)
                m.peak_total = MAX(m.peak_total, ring_slot(f, i)->load);
        if (!(m.peak_total > 0))
                return;

        /* what the folded samples decide, now that the peak and the midpoint are known */
        for (unsigned k = 0; k < _REGION_MAX; k++) {
                cand = fold_rise_first(&sf->onset[k], 0.05f * m.peak_total, m.peak_total);
                if (cand == -ENOBUFS)
                        return;
                if (cand >= 0) {
                        have_onset[k] = true;
                        onset[k] = t_ic + sf->onset[k].mark[cand].t_off_us;
                }
                impulse[k] = sf->impulse[k];
        }
        impulse_total = sf->impulse_total;
        if ((sf->heel.frozen && (sf->heel.n == 0 || sf->heel.mark[0].t_off_us > mid_off)) ||
            (sf->front_lost && sf->front_lost_off >= mid_off))
                return;
        for (unsigned i = sf->heel.n; i > 0; i--)
                if (sf->heel.mark[i - 1].t_off_us <= mid_off) {
                        m.peak_heel = sf->heel.mark[i - 1].v;
                        peak_heel_t = (float) (uint64_t) sf->heel.mark[i - 1].t_off_us / USEC_PER_SEC;
                        break;
                }
        for (unsigned i = 0; i < sf->front_n; i++)
                if (sf->front[i].t_off_us >= mid_off) {
                        m.push_peak = sf->front[i].v;
                        break;
                }
        cand = fold_rise_first(&sf->start, 0.10f * m.peak_total, m.peak_total);
        if (cand == -ENOBUFS)
                return;
        if (cand >= 0) {
                const FoldPath *p = &sf->start_path[cand];

                have_start = true;
                m.cop_start_x = m.strike_cop_x = cop_from_slot(p->x);
                fwd = (sf->path_fwd - p->fwd) * (1.0 / COP_ONE);
                all = (sf->path_all - p->all) * (1.0 / COP_ONE);
                prev_x = cop_from_slot(sf->last_x);
        }
        for (unsigned i = sf->end_n; i > 0; i--)
                if (sf->end[i - 1].load >= 0.10f * m.peak_total) {
                        m.cop_end_x = cop_from_slot(sf->end[i - 1].x);
                        break;
                }
        y_sum = sf->y_sum;
        y_w = sf->y_w;

        for (uint64_t i = from; i < to; i++) {
                const RingSample r = ring_at(f, i);
                float dt = (float) (ring_t(f, i + 1) - r.t_us) / USEC_PER_SEC;
                float front = r.region[REGION_FOREFOOT] + r.region[REGION_TOES];

                /* A region has landed when it carries 5 % of this stance's peak load. */
                for (unsigned k = 0; k < _REGION_MAX; k++) {
                        if (!have_onset[k] && r.region[k] >= 0.05f * m.peak_total) {
                                have_onset[k] = true;
                                onset[k] = r.t_us;
                        }
                        impulse[k] += r.region[k] * dt;
                        impulse_total += r.region[k] * dt;
                }
                if (r.t_us <= t_mid && r.region[REGION_HEEL] > m.peak_heel) {
                        m.peak_heel = r.region[REGION_HEEL];
                        peak_heel_t = (float) (r.t_us - t_ic) / USEC_PER_SEC;
                }
                if (r.t_us >= t_mid)
                        m.push_peak = MAX(m.push_peak, front);
                if (!isnan(r.cop_x)) {
                        if (!have_start && r.load >= 0.10f * m.peak_total) {
                                have_start = true;
                                m.cop_start_x = r.cop_x;
                                m.strike_cop_x = r.cop_x;
                        }
                        if (have_start) {
                                if (isfinite(prev_x)) {
                                        float dx = r.cop_x - prev_x;
                                        all += fabsf(dx);
                                        if (dx > 0)
                                                fwd += dx;
                                }
                                prev_x = r.cop_x;
                                /* symmetric to the start: where the foot still carries 10 % of its peak */
                                if (r.load >= 0.10f * m.peak_total) {
                                        m.cop_end_x = r.cop_x;
                                        end_in_ring = true;
                                }
                        }
                        y_sum += (double) r.cop_y * r.load * dt;
                        y_w += (double) r.load * dt;
                }
        }
        if (!have_start || !(impulse_total > 0))
                return;
        /* the last sample at 10 % of the peak may be one that found no room */
        if (!end_in_ring && sf->end_lost >= 0.10f * m.peak_total &&
            (sf->end_n == 0 || !(sf->end[0].load >= 0.10f * m.peak_total)))
                return;

        /* Strike: the region that reached 5 % of the peak first; heel and forefoot (or toes) within
         * FLAT_WINDOW_US of each other is a flat landing. */
        {
                uint64_t heel = have_onset[REGION_HEEL] ? onset[REGION_HEEL] : UINT64_MAX;
                uint64_t mid = have_onset[REGION_MIDFOOT] ? onset[REGION_MIDFOOT] : UINT64_MAX;
                uint64_t fore = have_onset[REGION_FOREFOOT] ? onset[REGION_FOREFOOT] : UINT64_MAX;
                uint64_t toes = have_onset[REGION_TOES] ? onset[REGION_TOES] : UINT64_MAX;
                uint64_t ff = fore < toes ? fore : toes;
                uint64_t first = heel < mid ? heel : mid;
                first = first < ff ? first : ff;

                if (heel != UINT64_MAX && ff != UINT64_MAX &&
                    (heel > ff ? heel - ff : ff - heel) <= FLAT_WINDOW_US)
                        m.strike = STRIKE_FLAT;
                else if (first == heel)
                        m.strike = STRIKE_HEEL;
                else if (first == mid)
                        m.strike = STRIKE_MIDFOOT;
                else
                        m.strike = STRIKE_FOREFOOT;
        }
        f->usual_peak = f->usual_peak > 0 ? 0.8f * f->usual_peak + 0.2f * m.peak_total : m.peak_total;
        m.heel_loading_rate = peak_heel_t > 0 ? m.peak_heel / peak_heel_t : NAN;
        for (unsigned k = 0; k < _REGION_MAX; k++)
                m.load_share[k] = (float) (impulse[k] / impulse_total);
        m.cop_forward_fraction = all > 0 ? (float) (fwd / all) : NAN;
        m.ml_index = y_w > 0 ? (float) (1.0 - 2.0 * y_sum / y_w) : NAN;
        if (e->params.body_weight_kg > 0 && !f->raw) {
                float bw = e->params.body_weight_kg * GRAVITY;
                m.peak_total /= bw;
                m.peak_heel /= bw;
                m.heel_loading_rate /= bw;
                m.push_peak /= bw;
                m.per_body_weight = true;
        }
        m.valid = true;
        f->stance = m;
}

static void on_contact(GaitEngine *e, FootState *f, uint64_t t_us) {
        if (f->have_ic && t_us > f->ic_t && t_us - f->ic_t <= STRIDE_MAX_US) {
                /* longer is a stop, not a rejected stride */
                uint64_t stride = t_us - f->ic_t;
                bool ok = f->have_to && f->to_t > f->ic_t && t_us > f->to_t && stride >= STRIDE_MIN_US;

                if (ok)
                        emit_stride(e, f, t_us);
                f->rejected_bits = (f->rejected_bits << 1 | !ok) & ((1u << QUALITY_HISTORY) - 1);
                f->intervals = MIN(f->intervals + 1, QUALITY_HISTORY);
        }
        queue_event(e, f, GAIT_EVENT_INITIAL_CONTACT, t_us);
        f->have_ic = true;
        f->have_to = false;
        f->ic_t = t_us;
        f->stance = (GaitStanceMetrics) {};
        /* With one insole, each of its contacts closes a stride: two steps. */
        e->steps_total += e->params.single_foot ? 2 : 1;
        e->steps_day += e->params.single_foot ? 2 : 1;
        e->last_contact_us = t_us;
        e->have_contact = true;
}

static void update_levels(FootState *f, float v, uint64_t t) {
        float tmp[LEVEL_BLOCKS];

        if (!f->blk_open) {
                f->blk_open = true;
                f->blk_start = t;
                f->blk_min = f->blk_max = v;
                return;
        }
        f->blk_min = MIN(f->blk_min, v);
        f->blk_max = MAX(f->blk_max, v);
        if (t - f->blk_start < LEVEL_BLOCK_US)
                return;

        if (f->blk_max > f->blk_min)
                f->changing_us = t;
        if (f->blk_max - f->blk_min > f->span_floor)
                f->moving_us = t;
        /* Quiet blocks (standing, sitting) keep the last gait levels: thresholds stay meaningful when
         * walking resumes, and a flat signal cannot collapse them onto its noise. */
        float span = f->levels_ok ? f->hi - f->lo : 0;
        if (f->blk_max - f->blk_min > DYNAMIC_BLOCK_SHARE * span) {
                f->mins[f->lv_pos] = f->blk_min;
                f->maxs[f->lv_pos] = f->blk_max;
                f->lv_pos = (f->lv_pos + 1) % LEVEL_BLOCKS;
                f->lv_n = MIN(f->lv_n + 1, LEVEL_BLOCKS);
                if (f->lv_n >= LEVEL_MIN_BLOCKS) {
                        f->lo = percentile_of(f->mins, f->lv_n, LEVEL_LOW_PCT, tmp);
                        f->hi = percentile_of(f->maxs, f->lv_n, LEVEL_HIGH_PCT, tmp);
                        f->levels_ok = f->hi - f->lo >= f->span_floor;
                        /* A calibrated foot in the air carries (almost) nothing: without that, the
                         * swings are weight shifts while standing, not steps. */
                        if (!f->raw && f->lo > CALIBRATED_AIR_SHARE * f->hi)
                                f->levels_ok = false;
                }
        }
        f->blk_open = false;
}

static void update_cell_offsets(FootState *f, const float *force, uint64_t t) {
        float tmp[CELL_BLOCKS];
        unsigned n = f->layout.n_cells;

        if (!f->cell_blk_open) {
                f->cell_blk_open = true;
                f->cell_blk_start = t;
                memcpy(f->cell_blk_min, force, n * sizeof(float));
                if (f->cell_n == 0)
                        memcpy(f->cell_offset, force, n * sizeof(float));
                return;
        }
        for (unsigned i = 0; i < n; i++) {
                f->cell_blk_min[i] = MIN(f->cell_blk_min[i], force[i]);
                if (f->cell_n == 0 && !f->offsets_from_swing)
                        f->cell_offset[i] = MIN(f->cell_offset[i], force[i]);
        }
        if (t - f->cell_blk_start < CELL_BLOCK_US)
                return;
        for (unsigned i = 0; i < n; i++)
                f->cell_mins[i][f->cell_pos] = f->cell_blk_min[i];
        f->cell_pos = (f->cell_pos + 1) % CELL_BLOCKS;
        f->cell_n = MIN(f->cell_n + 1, CELL_BLOCKS);
        if (!f->offsets_from_swing)
                for (unsigned i = 0; i < n; i++)
                        f->cell_offset[i] = percentile_of(f->cell_mins[i], f->cell_n, CELL_LOW_PCT, tmp);
        f->cell_blk_open = false;
}

static void swing_track(FootState *f, const float *force, uint64_t t) {
        unsigned n = f->layout.n_cells;

        if (!f->chunk_open) {
                memcpy(f->chunk_min[1], force, n * sizeof(float));
                memcpy(f->chunk_max[1], force, n * sizeof(float));
                for (unsigned i = 0; i < n; i++)
                        f->chunk_sum[1][i] = force[i];
                f->chunk_n[1] = 1;
                f->chunk_start = t;
                f->chunk_open = true;
                return;
        }
        for (unsigned i = 0; i < n; i++) {
                f->chunk_min[1][i] = MIN(f->chunk_min[1][i], force[i]);
                f->chunk_max[1][i] = MAX(f->chunk_max[1][i], force[i]);
                f->chunk_sum[1][i] += force[i];
        }
        f->chunk_n[1]++;
        if (t - f->chunk_start < SWING_CHUNK_US)
                return;
        if (f->chunk_prev) {
                for (unsigned i = 0; i < n; i++) {
                        f->swing_min[i] = MIN(f->swing_min[i], f->chunk_min[0][i]);
                        f->swing_max[i] = MAX(f->swing_max[i], f->chunk_max[0][i]);
                        f->swing_sum[i] += f->chunk_sum[0][i];
                }
                f->swing_n += f->chunk_n[0];
        }
        memcpy(f->chunk_min[0], f->chunk_min[1], n * sizeof(float));
        memcpy(f->chunk_max[0], f->chunk_max[1], n * sizeof(float));
        memcpy(f->chunk_sum[0], f->chunk_sum[1], n * sizeof(double));
        f->chunk_n[0] = f->chunk_n[1];
        f->chunk_prev = true;
        f->chunk_open = false;
}

/* The load above the cells' level in the air, averaged: noise around that level cancels out
 * instead of being cut off, so a low load stays visible. */
static void update_presence(FootState *f, const float *force, uint64_t t) {
        const float *air = f->offsets_from_swing ? f->cell_air : f->cell_offset;
        float above = 0;

        for (unsigned i = 0; i < f->layout.n_cells; i++)
                above += force[i] - air[i];
        if (!f->have_presence || f->n_samples == 0) {
                f->presence = above;
                f->have_presence = true;
                return;
        }
        float dt = (float) (t - f->last_t_us);
        f->presence += (above - f->presence) * dt / (dt + (float) PRESENCE_TAU_US);
}

/* Slope of the detector signal at sample k, per second, over +-SLOPE_HALF_US (not past sample last). */
static float slope_at(const FootState *f, uint64_t k, uint64_t last) {
        uint64_t a = k, b = k;
        uint64_t t_k = ring_t(f, k);

        while (a > 0 && ring_has(f, a - 1) && t_k - ring_t(f, a - 1) <= SLOPE_HALF_US)
                a--;
        while (b < last && ring_t(f, b + 1) - t_k <= SLOPE_HALF_US)
                b++;
        if (a == b)
                return 0;
        return (ring_total(f, b) - ring_total(f, a)) * (float) USEC_PER_SEC /
               (float) (ring_t(f, b) - ring_t(f, a));
}

/* A slope that noise alone reaches now and then: events are not refined on noise (a very noisy cell
 * then leaves them at the threshold crossings). */
static float noise_slope(const FootState *f) {
        return NOISE_SLOPE_FACTOR * f->swing_noise * (float) USEC_PER_SEC / (2 * SLOPE_HALF_US);
}

/* Toe-off is the end of the steep fall that brought the foot down through the release level at sample
 * `crossing`: the last fall steeper than toe_off_slope spans per second at or shortly before the
 * crossing (the crossing may lie on a slow tail when the unloaded level sits high), followed to where it
 * flattens. A slow unloading before that fall (the heel lifting long before the toes) is stance; the
 * slow drift after it is swing. */
static uint64_t toe_off_at(const GaitEngine *e, const FootState *f, uint64_t crossing, uint64_t last) {
        float fall = MAX(e->params.toe_off_slope * (f->hi - f->lo), noise_slope(f));
        uint64_t k, j;

        if (!ring_has(f, crossing))
                return last;
        for (k = crossing; k > f->ic_idx && ring_has(f, k - 1) &&
                           ring_t(f, crossing) - ring_t(f, k) < REFINE_BACK_US &&
                           ring_total(f, k - 1) <= ring_total(f, crossing) + TOE_OFF_PLATEAU * (f->hi - f->lo) &&
                           !(slope_at(f, k, last) < -fall); k--)
                ;
        j = slope_at(f, k, last) < -fall ? k : crossing;
        while (j < last && slope_at(f, j, last) < -fall)
                j++;
        return j;
}

/* Contact is the onset of the steep rise that carried the load up through `crossing`: walk back while the
 * rise is steeper than contact_slope spans per second, never to or past the previous toe-off. A slow
 * creep before it (the FSR's own recovery, a foot hovering) and a first bump separated by a plateau (a
 * double bump) are not part of it. One walk gives that onset for each of CONTACT_SLOPES (the engine's
 * own slope first): the steeper one stops first, on the way of the others. */
#define CONTACT_SLOPES 3
static void contact_walk(const GaitEngine *e, const FootState *f, uint64_t crossing, uint64_t last, uint64_t ret[CONTACT_SLOPES]) {
        const float slopes[CONTACT_SLOPES] = { e->params.contact_slope, GAIT_CONTACT_SLOPE_MIN, GAIT_CONTACT_SLOPE_MAX };
        uint64_t t_crossing = ring_t(f, crossing), j = crossing;
        float rise[CONTACT_SLOPES];
        unsigned open = CONTACT_SLOPES;

        for (unsigned k = 0; k < CONTACT_SLOPES; k++) {
                rise[k] = MAX(slopes[k] * (f->hi - f->lo), noise_slope(f));
                ret[k] = UINT64_MAX;
        }
        for (;; j--) {
                bool further = j > 0 && ring_has(f, j - 1) && t_crossing - ring_t(f, j - 1) <= REFINE_BACK_US &&
                               ring_t(f, j - 1) > f->ic_after_us;
                float slope = further ? slope_at(f, j, last) : -INFINITY;

                for (unsigned k = 0; k < CONTACT_SLOPES; k++)
                        if (ret[k] == UINT64_MAX && !(slope > rise[k])) {
                                ret[k] = j;
                                open--;
                        }
                if (open == 0)
                        return;
        }
}

/* Widens the contact's spread (GaitStride.contact_spread_us) by its placements in at[]. */
static void contact_spread_add(FootState *f, const uint64_t at[CONTACT_SLOPES]) {
        for (unsigned k = 0; k < CONTACT_SLOPES; k++) {
                uint64_t t = ring_t(f, at[k]);
                f->ic_first_us = MIN(f->ic_first_us, t);
                f->ic_latest_us = MAX(f->ic_latest_us, t);
        }
}

static void detect(GaitEngine *e, FootState *f, uint64_t idx) {
        uint64_t t = ring_t(f, idx);
        float lo = f->lo, span = f->hi - f->lo, v = ring_total(f, idx);

        if (!f->levels_ok)
                return;

        if (!f->in_stance) {
                if (v <= lo + TH_CONTACT * span)
                        return;
                if (f->have_to && t - f->to_t >= SWING_OFFSET_MIN_US && isfinite(f->swing_min[0])) {
                        for (unsigned c = 0; c < f->layout.n_cells; c++) {
                                f->cell_offset[c] = f->swing_min[c];
                                f->cell_band[c] = f->swing_max[c] - f->swing_min[c];
                                f->cell_air[c] = f->swing_n > 0 ? (float) (f->swing_sum[c] / f->swing_n) : f->swing_min[c];
                        }
                        f->offsets_from_swing = true;
                }
                f->in_stance = true;
                f->stance_samples = f->stance_at_ceiling = 0;
                f->stance_max = v;
                f->last_high_idx = idx;
                f->release_pending = false;
                f->have_bump = false;
                f->contact_pending = true;
                f->crossing_idx = idx;
        }

        /* The contact is placed once the load reaches contact_level: a first bump that stops below it
         * (the heel brushing the floor) is not the landing, the rise that follows its plateau is; one
         * that reaches it is. A load that never gets there (CONTACT_PENDING_US, or back below the
         * release level) lands where it crossed the threshold. */
        if (f->contact_pending) {
                float level = lo + e->params.contact_level * span;
                if (v < level && t - ring_t(f, f->crossing_idx) < CONTACT_PENDING_US &&
                    v >= lo + GAIT_TH_RELEASE * span)
                        return;
                /* The contact's placements with the contact slope and level anywhere in the ranges
                 * the validation fits them over, from the threshold crossing, this level and (below)
                 * the highest: a clear rise's onset stays within a sample or two; a slow rise or a
                 * double bump scatters them over tens of ms (GaitStride.contact_spread_us). */
                uint64_t at[CONTACT_SLOPES];
                f->contact_pending = false;
                f->ic_after_us = f->have_to ? f->to_t : 0;
                contact_walk(e, f, v >= level ? idx : f->crossing_idx, idx, at);
                f->ic_idx = at[0];
                fold_start(f, f->ic_idx);
                on_contact(e, f, ring_t(f, f->ic_idx)); /* closes the stride of the previous contact */
                f->ic_first_us = f->ic_latest_us = f->ic_t;
                contact_spread_add(f, at);
                if (v >= level) {
                        contact_walk(e, f, f->crossing_idx, idx, at);
                        contact_spread_add(f, at);
                }
                f->spread_open = v >= level && level < lo + GAIT_CONTACT_LEVEL_MAX * span;
                return;
        }
        if (f->spread_open) {
                /* the highest level: a rise that stops between the engine's level and this one, and
                 * the rise after its plateau */
                if (v >= lo + GAIT_CONTACT_LEVEL_MAX * span) {
                        uint64_t at[CONTACT_SLOPES];
                        contact_walk(e, f, idx, idx, at);
                        contact_spread_add(f, at);
                        f->spread_open = false;
                } else if (t - ring_t(f, f->crossing_idx) >= CONTACT_PENDING_US || v < lo + GAIT_TH_RELEASE * span)
                        f->spread_open = false;
        }

        if (v >= lo + TH_MID * span)
                f->last_high_idx = idx;
        f->stance_max = MAX(f->stance_max, v);

        if (!f->release_pending) {
                /* A stance far longer than usual is a shuffle (turning, hesitating): there, a
                 * shallower unloading already counts as lifting the foot. */
                float level = GAIT_TH_RELEASE;
                uint64_t in_stance_us = t - f->ic_t;
                if (f->typical_stance_us > 0 &&
                    in_stance_us > LONG_STANCE_FACTOR * f->typical_stance_us &&
                    in_stance_us < SHUFFLE_MAX_FACTOR * f->typical_stance_us &&
                    v - lo < 0.5f * (f->stance_max - lo))
                        level = TH_RELEASE_SHUFFLE;
                if (v < lo + level * span) {
                        f->release_pending = true;
                        f->release_t_us = t;
                        f->release_idx = idx;
                        f->release_level = level;
                        f->reloading = false;
                }
                return;
        }
        if (v >= lo + (f->release_level + TH_RELEASE_HYST) * span) {
                /* A dip within stance, not a toe-off, once the load is back for CANCEL_US (a single
                 * noisy sample is not); unless it comes back only briefly (a bump early in the
                 * swing), so remember where this toe-off would have been. */
                if (!f->reloading) {
                        f->reloading = true;
                        f->reload_t_us = t;
                }
                if (t - f->reload_t_us < CANCEL_US)
                        return;
                f->reloading = false;
                f->release_pending = false;
                f->bump_to_idx = toe_off_at(e, f, f->release_idx, idx);
                f->bump_t_us = t;
                f->have_bump = true;
                return;
        }
        f->reloading = false;
        bool shuffle = f->release_level > GAIT_TH_RELEASE;
        if (t - f->release_t_us < (shuffle ? CONFIRM_US / 2 : CONFIRM_US) ||
            (!shuffle && ring_has(f, f->last_high_idx + 1) && t - ring_t(f, f->last_high_idx + 1) < 100 * USEC_PER_MSEC))
                return;

        uint64_t j = toe_off_at(e, f, f->release_idx, idx);
        if (f->have_bump && f->release_t_us - f->bump_t_us <= BUMP_MAX_US && ring_has(f, f->bump_to_idx) &&
            f->bump_to_idx > f->ic_idx)
                j = f->bump_to_idx;
        f->have_bump = false;
        f->in_stance = false;
        f->fold.active = false; /* measure_stance() below has what it needs */
        f->release_pending = false;
        swing_reset(f);
        if (f->have_ic && ring_t(f, j) > f->ic_t) {
                f->have_to = true;
                f->to_t = ring_t(f, j);
                if (f->to_t - f->ic_t < 3 * USEC_PER_SEC)
                        f->typical_stance_us = f->typical_stance_us > 0 ?
                                0.8f * f->typical_stance_us + 0.2f * (f->to_t - f->ic_t) : (float) (f->to_t - f->ic_t);
                measure_stance(e, f, f->ic_idx, j);
                queue_event(e, f, GAIT_EVENT_TOE_OFF, f->to_t);
                if (f->stance_samples > 0)
                        f->ceiling_share = 0.8f * f->ceiling_share + 0.2f * f->stance_at_ceiling / f->stance_samples;
        }
}

static float wearer_reference_load(const GaitEngine *e) {
        float sum = 0;
        unsigned n = 0;

        if (e->params.body_weight_kg > 0 && !e->foot[FOOT_LEFT].raw && !e->foot[FOOT_RIGHT].raw)
                return e->params.body_weight_kg * GRAVITY;
        for (FootSide s = 0; s < _FOOT_SIDE_MAX; s++)
                if (e->foot[s].levels_ok) {
                        sum += e->foot[s].hi - e->foot[s].lo;
                        n++;
                }
        return n > 0 ? sum / n : NAN;
}

/* Running: most of the recent strides had a flight phase, or their median cadence is above the
 * running threshold. Medians, so that one artefact stride cannot make a walker run. */
static bool recent_running(const GaitEngine *e, uint64_t now) {
        float stride_ms[RUNNING_STRIDES];
        unsigned n = 0, flights = 0;

        for (unsigned i = 0; i < e->st_n && n < RUNNING_STRIDES; i++) {
                const KeptStride *s = &e->strides[(e->st_pos + e->st_n - 1 - i) % e->st_cap];
                if (s->t_contact_us + s->stride_us + 10 * USEC_PER_SEC < now)
                        break;
                flights += s->flight;
                stride_ms[n++] = s->stride_us / 1000.0f;
        }
        if (n < RUNNING_MIN_STRIDES)
                return false;
        if (2 * flights > n)
                return true;
        return 120000.0f / gait_median(stride_ms, n) > e->params.running_cadence_spm;
}

static void set_activity(GaitEngine *e, ActivityState a, uint64_t now) {
        if (a == e->activity)
                return;
        e->activity = a;
        e->activity_since_us = now;
        if (a == ACTIVITY_STANDING) {
                e->bal_have_prev = false;
                e->bal_toes_ready = false;
                e->bal_path = 0;
                e->bal_left_sum = 0;
                e->bal_left_n = 0;
                e->bal_start_us = now;
                e->balance = (GaitBalance) { .standing = true };
        } else
                e->balance.standing = false;
}

static void balance_tick(GaitEngine *e, const RingSample *l, const RingSample *r, uint64_t now) {
        GaitBalance *b = &e->balance;
        float w = l->load + r->load;

        if (!(w > 0))
                return;
        e->bal_left_sum += l->load / w;
        e->bal_left_n++;
        b->standing_us = now - e->bal_start_us;
        b->left_share_pct = (float) (100.0 * e->bal_left_sum / e->bal_left_n);

        /* Toe gripping: the toes suddenly take far more than their slow standing level. */
        for (FootSide s = 0; s < _FOOT_SIDE_MAX; s++) {
                FootState *f = &e->foot[s];
                const RingSample *x = s == FOOT_LEFT ? l : r;
                float toes = x->region[REGION_TOES];

                if (!f->spatial)
                        continue;
                if (!e->bal_toes_ready) {
                        f->toe_slow = toes;
                        f->toe_gripping = false;
                        f->toe_above_ticks = 0;
                        continue;
                }
                /* a grip: toes above twice their standing level plus 3 % of the load, for 100 ms */
                if (toes > 2.0f * f->toe_slow + 0.03f * w) {
                        if (!f->toe_gripping && ++f->toe_above_ticks >= TOE_GRIP_TICKS) {
                                f->toe_gripping = true;
                                b->toe_grips++;
                        }
                } else {
                        f->toe_above_ticks = 0;
                        if (f->toe_gripping && toes < 1.5f * f->toe_slow + 0.015f * w)
                                f->toe_gripping = false;
                }
                if (!f->toe_gripping && f->toe_above_ticks == 0)
                        f->toe_slow += (toes - f->toe_slow) * 0.004f; /* ~5 s at 50 Hz ticks */
        }
        e->bal_toes_ready = true;
        if (b->standing_us > 0)
                b->toe_grips_per_min = b->toe_grips * 60e6f / b->standing_us;

        if (!e->foot[FOOT_LEFT].spatial || !e->foot[FOOT_RIGHT].spatial || isnan(l->cop_x) || isnan(r->cop_x))
                return;
        /* Both feet's centres of pressure, weighted by their load, in insole coordinates, low-pass
         * filtered at about 4 Hz so that sensor noise does not add path length. */
        float x = (l->cop_x * l->load + r->cop_x * r->load) / w;
        float y = (l->cop_y * l->load + r->cop_y * r->load) / w;
        if (!e->bal_have_prev) {
                e->bal_have_prev = true;
                e->bal_x = e->bal_min_x = e->bal_max_x = x;
                e->bal_y = e->bal_min_y = e->bal_max_y = y;
                return;
        }
        float nx = e->bal_x + 0.4f * (x - e->bal_x), ny = e->bal_y + 0.4f * (y - e->bal_y);
        e->bal_path += hypot_float(nx - e->bal_x, ny - e->bal_y);
        e->bal_x = nx;
        e->bal_y = ny;
        e->bal_min_x = MIN(e->bal_min_x, nx);
        e->bal_max_x = MAX(e->bal_max_x, nx);
        e->bal_min_y = MIN(e->bal_min_y, ny);
        e->bal_max_y = MAX(e->bal_max_y, ny);
        if (b->standing_us > 0)
                b->sway_path_pct_per_s = 100.0f * e->bal_path * USEC_PER_SEC / b->standing_us;
        b->sway_range_x_pct = 100.0f * (e->bal_max_x - e->bal_min_x);
        b->sway_range_y_pct = 100.0f * (e->bal_max_y - e->bal_min_y);
}

static ActivityState posture_tick(GaitEngine *e, uint64_t now, float ref, float load, bool empty);
static void single_foot_tick(GaitEngine *e, uint64_t now, float ref);

static void engine_activity_tick(GaitEngine *e, uint64_t now) {
        const FootState *fl = &e->foot[FOOT_LEFT], *fr = &e->foot[FOOT_RIGHT];
        float ref = wearer_reference_load(e);

        if (e->last_tick_us > 0 && now > e->last_tick_us)
                e->activity_day_us[e->activity] += now - e->last_tick_us;
        e->last_tick_us = now;

        if (e->params.single_foot) {
                single_foot_tick(e, now, ref);
                return;
        }
        /* a tick may lag the latest sample of a foot: compare without unsigned wrap-around */
        if (fl->n_samples == 0 || fr->n_samples == 0 ||
            fl->last_t_us + FOOT_STALE_US < now || fr->last_t_us + FOOT_STALE_US < now) {
                set_activity(e, ACTIVITY_UNKNOWN, now);
                e->low_load = false;
                return;
        }
        const RingSample l = ring_at(fl, fl->n_samples - 1), r = ring_at(fr, fr->n_samples - 1);
        float load = l.load + r.load;
        bool empty = isfinite(ref) && ref > 0 && fl->presence + fr->presence < NOT_WORN_SHARE * ref;

        /* Not worn is a continuous run of empty ticks: anything else in between starts it again. */
        if (!empty)
                e->low_load = false;

        if (posture_tick(e, now, ref, load, empty) == ACTIVITY_STANDING)
                balance_tick(e, &l, &r, now);
}

/* Walking/running from recent contacts, otherwise a posture from the load both feet carry (empty:
 * their presence says nobody is in the shoes); returns the state now adopted. */
static ActivityState posture_tick(GaitEngine *e, uint64_t now, float ref, float load, bool empty) {
        ActivityState want;

        if (e->have_contact && now - e->last_contact_us <= WALKING_HOLD_US && e->st_n > 0) {
                set_activity(e, recent_running(e, now) ? ACTIVITY_RUNNING : ACTIVITY_WALKING, now);
                e->candidate = e->activity;
                e->candidate_since_us = now;
                return e->activity;
        }
        if (!isfinite(ref) || ref <= 0)
                want = ACTIVITY_UNKNOWN;
        else if (empty) {
                if (!e->low_load) {
                        e->low_load = true;
                        e->low_since_us = now;
                }
                want = now - e->low_since_us >= e->params.not_worn_after_ms * USEC_PER_MSEC ? ACTIVITY_NOT_WORN : ACTIVITY_SITTING;
        } else if (load < SITTING_SHARE * ref)
                want = ACTIVITY_SITTING;
        else
                want = ACTIVITY_STANDING;

        if (want != e->candidate) {
                e->candidate = want;
                e->candidate_since_us = now;
        }
        if (want == ACTIVITY_NOT_WORN || now - e->candidate_since_us >= STATE_HOLD_US)
                set_activity(e, want, now);
        return e->activity;
}

/* One insole: its foot alone decides. Standing still, people share their weight about evenly, so
 * twice the worn foot's load stands for both feet's; the balance figures need both feet. */
static void single_foot_tick(GaitEngine *e, uint64_t now, float ref) {
        const FootState *f = e->foot[FOOT_LEFT].n_samples > 0 ? &e->foot[FOOT_LEFT] : &e->foot[FOOT_RIGHT];

        bool empty;

        if (f->n_samples == 0 || f->last_t_us + FOOT_STALE_US < now) {
                set_activity(e, ACTIVITY_UNKNOWN, now);
                e->low_load = false;
                return;
        }
        empty = isfinite(ref) && ref > 0 && 2 * f->presence < NOT_WORN_SHARE * ref;
        if (!empty)
                e->low_load = false;
        (void) posture_tick(e, now, ref, 2 * ring_slot(f, f->n_samples - 1)->load, empty);
}

int gait_engine_feed(GaitEngine *e, FootSide side, const PressureSample *sample) {
        FootState *f;
        PressureSample conv;
        float force[INSOLE_MAX_CELLS];
        FootLoad load;
        uint64_t slot;
        float total = 0;
        bool any_valid = false;
        int r;

        if (!e || side < 0 || side >= _FOOT_SIDE_MAX || !sample)
                return -EINVAL;
        f = &e->foot[side];
        if (sample->n_cells != f->layout.n_cells)
                return -EINVAL;
        if (f->n_samples > 0 && sample->t_us <= f->last_t_us)
                return -EINVAL;

        conv = (PressureSample) { .t_us = sample->t_us, .n_cells = sample->n_cells };
        /* the per-cell arrays through locals: a store through one may alias the pointers in f */
        float *last_valid = f->last_valid;
        bool *have_valid = f->have_valid;
        for (unsigned i = 0; i < f->layout.n_cells; i++) {
                float v = sample->cell[i];

                if (isfinite(v)) {
                        last_valid[i] = v;
                        have_valid[i] = true;
                        any_valid = true;
                } else if (have_valid[i])
                        v = last_valid[i];
                else
                        v = 0;
                if (f->layout.unit == PRESSURE_UNIT_KPA && f->layout.cells[i].area_mm2 > 0)
                        v *= f->layout.cells[i].area_mm2 * 1e-3f;
                force[i] = v;
                total += v;
        }
        if (f->raw)
                update_cell_offsets(f, force, sample->t_us);
        /* In the air every cell reads its unloaded offset plus noise: learn both, stride by stride,
         * so that drift, a stuck cell and a noisy cell do not pose as load. */
        if (!f->in_stance)
                swing_track(f, force, sample->t_us);
        const float *offset = f->cell_offset, *band = f->cell_band;
        for (unsigned i = 0; i < f->layout.n_cells; i++)
                conv.cell[i] = MAX(force[i] - offset[i] - band[i], 0.0f);
        update_presence(f, force, sample->t_us);
        r = foot_load_from_forces(&f->layout, &conv, &load);
        if (r < 0)
                return r;

        slot = f->n_samples % f->ring_cap;
        if (slot == 0 && f->n_samples >= f->ring_cap && ring_grow_if_short(f))
                slot = f->n_samples % f->ring_cap;
        if (f->fold.active)
                fold_leaving(f, f->n_samples);
        ring_put(f, slot, sample->t_us, total, &load);
        f->last_t_us = sample->t_us;
        f->n_samples++;

        if (f->n_samples == 1)
                f->moving_us = f->changing_us = sample->t_us; /* quiet periods count from the first sample */
        if (any_valid) {
                f->last_valid_us = sample->t_us;
                f->have_valid_reading = true;
        }
        update_levels(f, total, sample->t_us);
        detect(e, f, f->n_samples - 1);
        /* A clipping sensor sits at its ceiling: count stance samples that have held the largest value
         * for QUALITY_CEILING_US (a sensor at its peak repeats a value for a sample or two). */
        if (f->n_samples == 1 || total > f->ceiling) {
                f->ceiling = total;
                f->ceiling_since_us = sample->t_us;
        } else if (total == f->ceiling) {
                if (ring_total(f, f->n_samples - 2) != total)
                        f->ceiling_since_us = sample->t_us;
                else if (f->in_stance && sample->t_us - f->ceiling_since_us >= QUALITY_CEILING_US)
                        f->stance_at_ceiling++;
        }
        if (f->in_stance)
                f->stance_samples++;
        else if (f->n_samples >= 2) {
                /* the noise of the detector signal in the air, sample to sample */
                float d = fabsf(total - ring_total(f, f->n_samples - 2));
                f->swing_noise = f->swing_noise > 0 ? 0.99f * f->swing_noise + 0.01f * d : d;
        }

        if (!e->have_now || sample->t_us > e->now_us) {
                e->now_us = sample->t_us;
                e->have_now = true;
        }
        e->last_pressure_us = e->now_us;
        e->have_pressure = true;
        if (e->next_tick_us == 0)
                e->next_tick_us = e->now_us;
        while (e->now_us >= e->next_tick_us) {
                engine_activity_tick(e, e->next_tick_us);
                e->next_tick_us += TICK_US;
        }
        return 0;
}

static bool pressure_recent(const GaitEngine *e, uint64_t t) {
        return e->have_pressure && t < e->last_pressure_us + FALLBACK_AFTER_US;
}

static void advance_now(GaitEngine *e, uint64_t t) {
        if (!e->have_now || t > e->now_us) {
                if (e->have_now && !pressure_recent(e, t) && e->last_tick_us > 0 && t > e->last_tick_us) {
                        e->activity_day_us[e->activity] += t - e->last_tick_us;
                        e->last_tick_us = t;
                }
                e->now_us = t;
                e->have_now = true;
        }
}

/* steps_total as of t, at most one mark a second: the windows' step counts without strides. */
static void mark_steps(GaitEngine *e, uint64_t t_us) {
        unsigned last = (e->mark_pos + STEP_MARKS - 1) % STEP_MARKS;

        if (e->mark_n > 0 && t_us < e->mark_t_us[last] + USEC_PER_SEC) {
                e->mark_steps[last] = e->steps_total;
                return;
        }
        e->mark_t_us[e->mark_pos] = t_us;
        e->mark_steps[e->mark_pos] = e->steps_total;
        e->mark_pos = (e->mark_pos + 1) % STEP_MARKS;
        e->mark_n = MIN(e->mark_n + 1, STEP_MARKS);
}

/* Steps since `from`: the newest mark at or before it (or the oldest one) to now. */
static uint64_t steps_since(const GaitEngine *e, uint64_t from) {
        uint64_t base = e->steps_total;

        for (unsigned i = 0; i < e->mark_n; i++) {
                unsigned k = (e->mark_pos + STEP_MARKS - 1 - i) % STEP_MARKS;
                base = e->mark_steps[k];
                if (e->mark_t_us[k] <= from)
                        break;
        }
        return e->steps_total - MIN(base, e->steps_total);
}

int gait_engine_feed_steps(GaitEngine *e, uint64_t t_us, uint32_t cumulative_steps) {
        if (!e)
                return -EINVAL;
        advance_now(e, t_us);
        if (!e->have_steps) {
                e->have_steps = true;
                e->steps_last = cumulative_steps;
                e->steps_first_us = e->steps_last_us = t_us;
                e->steps_counted = 0;
                return 0;
        }
        /* the counter may wrap or restart with the device: only count forward steps */
        uint32_t delta = cumulative_steps - e->steps_last;
        if (cumulative_steps < e->steps_last && e->steps_last - cumulative_steps < 1000)
                delta = 0;
        if (delta > 10000)
                delta = 0;
        e->steps_last = cumulative_steps;
        if (delta > 0 && !pressure_recent(e, t_us)) {
                e->steps_counted += delta;
                e->steps_total += delta;
                e->steps_day += delta;
                mark_steps(e, t_us);
                e->steps_last_us = t_us;
                if (e->activity != ACTIVITY_WALKING && e->activity != ACTIVITY_RUNNING) {
                        e->activity = ACTIVITY_WALKING;
                        e->activity_since_us = t_us;
                }
                e->last_tick_us = t_us;
        }
        return 0;
}

int gait_engine_feed_cadence(GaitEngine *e, uint64_t t_us, float cadence_spm, bool running) {
        if (!e || !isfinite(cadence_spm) || cadence_spm < 0)
                return -EINVAL;
        advance_now(e, t_us);
        if (e->have_pod_cadence && t_us > e->pod_cadence_t_us && t_us - e->pod_cadence_t_us <= POD_CADENCE_MAX_GAP_US &&
            !pressure_recent(e, t_us)) {
                /* A footpod has no step counter: its cadence held until this report is the count.
                 * Insoles count steps themselves while they send pressure. */
                double whole;

                e->pod_step_fraction += e->pod_cadence * (double) (t_us - e->pod_cadence_t_us) / (60.0 * USEC_PER_SEC);
                whole = floor(e->pod_step_fraction);
                e->pod_step_fraction -= whole;
                e->steps_total += (uint64_t) whole;
                e->steps_day += (uint64_t) whole;
        }
        mark_steps(e, t_us);
        e->have_pod_cadence = true;
        e->pod_cadence = cadence_spm;
        e->pod_running = running;
        e->pod_cadence_t_us = t_us;
        if (!pressure_recent(e, t_us)) {
                ActivityState a = cadence_spm <= 0 ? ACTIVITY_STANDING :
                                  (running || cadence_spm > e->params.running_cadence_spm) ? ACTIVITY_RUNNING : ACTIVITY_WALKING;
                if (a != e->activity) {
                        e->activity = a;
                        e->activity_since_us = t_us;
                }
                e->last_tick_us = t_us;
        }
        return 0;
}

void gait_engine_start_day(GaitEngine *e, uint64_t t_us) {
        if (!e)
                return;
        for (FootSide s = 0; s < _FOOT_SIDE_MAX; s++)
                e->foot[s].day = (DayFoot) {};
        memset(e->activity_day_us, 0, sizeof(e->activity_day_us));
        e->steps_day = 0;
        e->day_start_us = t_us;
}

size_t gait_engine_take_events(GaitEngine *e, GaitEvent *ret, size_t n) {
        size_t k = 0;

        if (!e || !ret)
                return 0;
        while (k < n && e->evq_n > 0) {
                ret[k++] = e->ev_queue[e->evq_pos];
                e->evq_pos = (e->evq_pos + 1) % QUEUE;
                e->evq_n--;
        }
        return k;
}

size_t gait_engine_take_strides(GaitEngine *e, GaitStride *ret, size_t n) {
        size_t k = 0;

        if (!e || !ret)
                return 0;
        while (k < n && e->stq_n > 0) {
                ret[k++] = e->st_queue[e->stq_pos];
                e->stq_pos = (e->stq_pos + 1) % QUEUE;
                e->stq_n--;
        }
        return k;
}

/* The median of what the bins of h (plus those of h2, if not NULL) hold; a full bin no longer
 * counts all its strides. */
static float hist_median(const uint16_t *h, const uint16_t *h2) {
        uint32_t n = 0, acc = 0;

#define BIN(b) ((uint32_t) h[b] + (h2 ? h2[b] : 0u))
        for (unsigned b = 0; b < DAY_BINS; b++)
                n += BIN(b);
        if (n == 0)
                return NAN;
        for (unsigned b = 0; b < DAY_BINS; b++) {
                uint32_t k = BIN(b);

                if (k == 0)
                        continue;
                if (2 * (acc + k) >= n) {
                        /* interpolate within the bin */
                        float frac = (n / 2.0f - acc) / k;
                        return (b + CLAMP(frac, 0.0f, 1.0f)) * DAY_BIN_MS;
                }
                acc += k;
        }
#undef BIN
        return NAN;
}

/* The stride-time CV of what the bins of h (plus h2) hold, whose median is med (hist_median()), by
 * the rule of gait_cv_pct(): each bin's strides stand at its centre, and Sheppard's correction takes
 * off the variance that the binning adds (a bin's width squared over 12). */
static float hist_cv_pct(const uint16_t *h, const uint16_t *h2, float med) {
        float mad = 0;
        uint32_t n = 0, acc = 0, k = 0;
        double sum = 0, sq = 0;

#define BIN(b) ((uint32_t) h[b] + (h2 ? h2[b] : 0u))
#define CENTRE(b) (((float) (b) + 0.5f) * DAY_BIN_MS)
        if (!isfinite(med))
                return NAN;
        for (unsigned b = 0; b < DAY_BINS; b++)
                n += BIN(b);
        /* the median absolute deviation: bins taken outwards from the median, nearest first */
        int below = (int) (med / DAY_BIN_MS - 0.5f), above = below + 1;
        while (2 * acc < n && (below >= 0 || above < (int) DAY_BINS)) {
                bool take_below = above >= (int) DAY_BINS || (below >= 0 && med - CENTRE(below) <= CENTRE(above) - med);
                unsigned b = (unsigned) (take_below ? below-- : above++);
                acc += BIN(b);
                mad = fabsf(CENTRE(b) - med);
        }
        float band = gait_cv_band(med, mad);
        for (unsigned b = 0; b < DAY_BINS; b++)
                if (fabsf(CENTRE(b) - med) <= band) {
                        k += BIN(b);
                        sum += (double) BIN(b) * CENTRE(b);
                }
        if (k < 2)
                return NAN;
        double mean = sum / k;
        for (unsigned b = 0; b < DAY_BINS; b++)
                if (fabsf(CENTRE(b) - med) <= band)
                        sq += (double) BIN(b) * (CENTRE(b) - mean) * (CENTRE(b) - mean);
        double var = sq / (k - 1) - (double) DAY_BIN_MS * DAY_BIN_MS / 12.0;
#undef CENTRE
#undef BIN
        return (float) (sqrt(MAX(var, 0.0)) / mean * 100);
}

static void day_summary(const GaitEngine *e, GaitWindowSummary *w) {
        uint32_t total = 0;

        *w = (GaitWindowSummary) { .duration_us = e->now_us - MIN(e->day_start_us, e->now_us) };
        for (FootSide s = 0; s < _FOOT_SIDE_MAX; s++) {
                const DayFoot *d = &e->foot[s].day;
                GaitFootSummary *f = &w->foot[s];

                f->strides = d->n;
                f->uncertain_contacts_pct = d->n > 0 ? 100.0f * d->uncertain / d->n : NAN;
                f->stride_time_ms = hist_median(d->hist[DAY_STRIDE], NULL);
                f->stance_time_ms = hist_median(d->hist[DAY_STANCE], NULL);
                f->swing_time_ms = hist_median(d->hist[DAY_SWING], NULL);
                f->step_time_ms = hist_median(d->hist[DAY_STEP], NULL);
                f->stance_pct = 100.0f * f->stance_time_ms / f->stride_time_ms;
                f->swing_pct = 100.0f * f->swing_time_ms / f->stride_time_ms;
                f->stride_time_cv_pct = hist_cv_pct(d->hist[DAY_STRIDE], NULL, f->stride_time_ms);
                f->stance_strides = d->stance_n;
                memcpy(f->strikes, d->strikes, sizeof(f->strikes));
#define DAY_MEAN(x) (d->stance_n > 0 ? (float) ((x) / d->stance_n) : NAN)
                f->peak_heel = DAY_MEAN(d->peak_heel);
                f->heel_loading_rate = DAY_MEAN(d->loading_rate);
                f->push_peak = DAY_MEAN(d->push);
                f->peak_total = DAY_MEAN(d->peak_total);
                for (unsigned r = 0; r < _REGION_MAX; r++)
                        f->load_share_pct[r] = 100.0f * DAY_MEAN(d->share[r]);
                f->cop_start_x = DAY_MEAN(d->cop_start);
                f->cop_end_x = DAY_MEAN(d->cop_end);
                f->cop_forward_fraction = DAY_MEAN(d->cop_fwd);
                f->ml_index = DAY_MEAN(d->ml);
#undef DAY_MEAN
                total += d->n;
        }
        w->steps = total;
        if (total > 0) {
                w->stride_time_ms = hist_median(e->foot[FOOT_LEFT].day.hist[DAY_STRIDE], e->foot[FOOT_RIGHT].day.hist[DAY_STRIDE]);
                w->cadence_spm = 120000.0f / w->stride_time_ms;
        } else
                w->stride_time_ms = w->cadence_spm = NAN;
        w->stride_time_cv_pct = hist_cv_pct(e->foot[FOOT_LEFT].day.hist[DAY_STRIDE], e->foot[FOOT_RIGHT].day.hist[DAY_STRIDE],
                                            w->stride_time_ms);
        w->double_support_ms = w->double_support_pct = w->flight_share_pct = NAN;
        const GaitFootSummary *l = &w->foot[FOOT_LEFT], *r = &w->foot[FOOT_RIGHT];
        w->symmetry = (GaitSymmetry) {
                .step_time_pct = gait_symmetry_index(l->step_time_ms, r->step_time_ms),
                .stance_time_pct = gait_symmetry_index(l->stance_time_ms, r->stance_time_ms),
                .swing_time_pct = gait_symmetry_index(l->swing_time_ms, r->swing_time_ms),
                .peak_load_pct = gait_symmetry_index(l->peak_total, r->peak_total),
                .strides_left = l->strides,
                .strides_right = r->strides,
        };
}

ActivityState gait_engine_activity(const GaitEngine *e, uint64_t *ret_since_us) {
        if (!e)
                return ACTIVITY_UNKNOWN;
        if (ret_since_us)
                *ret_since_us = e->activity_since_us;
        return e->activity;
}

uint64_t gait_engine_steps_total(const GaitEngine *e) {
        return e ? e->steps_total : 0;
}

static GaitFootQuality foot_quality(const GaitEngine *e, const FootState *f) {
        const FootState *o = &e->foot[!f->side];
        bool other_walks = o->have_ic && e->now_us >= o->ic_t && e->now_us - o->ic_t <= QUALITY_QUIET_US;

        if (!f->have_valid_reading || e->now_us - MIN(f->last_valid_us, e->now_us) >= QUALITY_INVALID_US)
                return GAIT_QUALITY_NO_SIGNAL;
        if (other_walks && e->now_us - MIN(f->changing_us, e->now_us) >= QUALITY_QUIET_US)
                return GAIT_QUALITY_NO_SIGNAL;
        if (other_walks && e->now_us - MIN(f->moving_us, e->now_us) >= QUALITY_QUIET_US)
                return GAIT_QUALITY_FLAT;
        if (f->ceiling_share > QUALITY_SATURATED_SHARE)
                return GAIT_QUALITY_SATURATED;
        if ((unsigned) __builtin_popcount(f->rejected_bits) > QUALITY_MAX_REJECTED)
                return GAIT_QUALITY_UNRELIABLE;
        return GAIT_QUALITY_OK;
}

int gait_engine_snapshot(GaitEngine *e, GaitSnapshot *ret) {
        static const uint64_t spans[] = { [GAIT_WINDOW_10S] = 10 * USEC_PER_SEC, [GAIT_WINDOW_60S] = WINDOW_LONGEST_US };
        GaitSnapshot s = {};

        if (!e || !ret)
                return -EINVAL;

        s.t_us = e->now_us;
        s.load_unit = e->foot[FOOT_LEFT].raw || e->foot[FOOT_RIGHT].raw ? PRESSURE_UNIT_RAW : PRESSURE_UNIT_NEWTON;
        s.body_weight_kg = e->params.body_weight_kg;
        s.activity = e->activity;
        s.activity_since_us = e->activity_since_us;
        memcpy(s.activity_day_us, e->activity_day_us, sizeof(s.activity_day_us));
        s.steps_total = e->steps_total;
        s.steps_day = e->steps_day;
        if (pressure_recent(e, e->now_us))
                s.source = GAIT_SOURCE_PRESSURE;
        else if (e->have_pod_cadence && e->pod_cadence_t_us + FALLBACK_AFTER_US > e->now_us)
                s.source = GAIT_SOURCE_CADENCE;
        else if (e->have_steps)
                s.source = GAIT_SOURCE_STEPS;
        else
                s.source = GAIT_SOURCE_NONE;

        /* The windows' strides are copied out and sorted in memory borrowed for this snapshot only:
         * a snapshot is taken every few seconds, and a wearer should not carry 30 KB of scratch. */
        _cleanup_free_ GaitStride *window_strides = NULL;
        _cleanup_free_ float *scratch = NULL;
        if (e->st_n > 0) {
                window_strides = malloc(e->st_n * sizeof(GaitStride));
                scratch = malloc(e->st_n * sizeof(float));
                if (!window_strides || !scratch)
                        return -ENOMEM;
        }
        for (GaitWindow w = GAIT_WINDOW_10S; w <= GAIT_WINDOW_60S; w++) {
                size_t n = 0;
                uint64_t from = e->now_us > spans[w] ? e->now_us - spans[w] : 0;

                for (unsigned i = 0; i < e->st_n; i++) {
                        const KeptStride *st = &e->strides[(e->st_pos + i) % e->st_cap];
                        if (st->t_contact_us + st->stride_us >= from)
                                window_strides[n++] = stride_unkeep(st);
                }
                gait_summarize_strides(window_strides, n, scratch, &s.window[w]);
                s.window[w].duration_us = MIN(spans[w], e->now_us);
        }
        day_summary(e, &s.window[GAIT_WINDOW_DAY]);

        if (s.source == GAIT_SOURCE_STEPS || s.source == GAIT_SOURCE_CADENCE) {
                /* Without pressure only counts and cadence are known. */
                float cadence = NAN;
                if (s.source == GAIT_SOURCE_CADENCE)
                        cadence = e->pod_cadence;
                else if (e->steps_last_us > e->steps_first_us && e->now_us < e->steps_last_us + FALLBACK_AFTER_US)
                        cadence = (float) (e->steps_counted * 60.0 * USEC_PER_SEC / (e->steps_last_us - e->steps_first_us));
                for (GaitWindow w = GAIT_WINDOW_10S; w <= GAIT_WINDOW_60S; w++) {
                        s.window[w].cadence_spm = cadence;
                        s.window[w].steps = (uint32_t) MIN(steps_since(e, e->now_us > spans[w] ? e->now_us - spans[w] : 0),
                                                           (uint64_t) UINT32_MAX);
                }
                s.window[GAIT_WINDOW_DAY].steps = (uint32_t) MIN(e->steps_day, (uint64_t) UINT32_MAX);
        } else if (e->params.single_foot)
                /* Each stride of the one insole is two steps. */
                for (GaitWindow w = 0; w < _GAIT_WINDOW_MAX; w++)
                        s.window[w].steps *= 2;
        s.balance = e->balance;
        for (FootSide side = 0; side < _FOOT_SIDE_MAX; side++)
                s.quality[side] = foot_quality(e, &e->foot[side]);
        *ret = s;
        return 0;
}
