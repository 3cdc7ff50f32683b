/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "gait-model.h"
#include "macro.h"

/* How it works: a scheduler cuts time into segments (one gait stride, or a static block such as one
 * second of standing or one calf-raise repetition). Generating a segment appends, per foot, a
 * contiguous list of pieces (stance, swing, static posture) with their contact events. Sampling a
 * foot evaluates the piece covering t. Stances may run past the segment end (the right foot's
 * stance overlaps the next stride's left initial contact: double support), which is why feet have
 * their own piece lists. */

#define G 9.81
#define STATIC_BLOCK_S 1.0
#define STATIC_BLEND_S 0.3
#define LANDING_BLEND_S 0.06
#define UNLOAD_S 0.15

typedef enum PieceKind {
        PIECE_SWING,
        PIECE_STANCE,
        PIECE_STATIC,
} PieceKind;

typedef struct PieceCore {
        PieceKind kind;
        GaitMode mode;     /* stance: walking/running/toe walking; static: the posture */
        int64_t ic_us;     /* stance: (possibly virtual) initial contact */
        double stance_s;   /* stance: nominal duration */
        double peak;       /* stance: first peak, multiple of body weight */
        int64_t seg_us;    /* static: block start */
        double seg_s;      /* static: block length */
        double weight_n;
        double pronation;
        bool flat_foot;
        bool hard_heel_strike;
} PieceCore;

typedef struct Piece {
        PieceCore core;
        uint64_t start_us, end_us; /* [start, end) */
        bool ic_event, step, to_event;
        bool ic_done, to_done;
        bool blend;
        PieceCore blend_from;
        uint64_t blend_us;
} Piece;

typedef struct FootTrack {
        Piece *pieces;
        size_t n, allocated, cursor;
        bool sampled;
        uint64_t last_t_us;
        uint64_t steps;
        InsoleLayout layout;
} FootTrack;

struct GaitModel {
        GaitModelParams params;   /* in effect for new segments */
        GaitModelParams pending;
        bool have_pending;
        GaitModelParams latest;   /* as last set, for gait_model_get_params() */

        bool started;
        uint64_t seg_end_us;      /* where the next segment starts */
        bool prev_gait;           /* the previous segment was a stride */
        uint64_t n_segments;
        double sway_phase[6];

        FootTrack foot[_FOOT_SIDE_MAX];

        GaitTruthEvent events[GAIT_MODEL_MAX_EVENTS];
        size_t ev_head, ev_n;
};

static const char *const mode_names[_GAIT_MODE_MAX] = {
        [GAIT_MODE_NOT_WORN] = "not_worn",
        [GAIT_MODE_SITTING] = "sitting",
        [GAIT_MODE_STANDING] = "standing",
        [GAIT_MODE_WALKING] = "walking",
        [GAIT_MODE_RUNNING] = "running",
        [GAIT_MODE_CALF_RAISES] = "calf_raises",
        [GAIT_MODE_TOE_WALKING] = "toe_walking",
        [GAIT_MODE_SINGLE_LEG_LEFT] = "single_leg_left",
        [GAIT_MODE_SINGLE_LEG_RIGHT] = "single_leg_right",
};

const char *gait_mode_to_string(GaitMode m) {
        if (m < 0 || m >= _GAIT_MODE_MAX)
                return NULL;
        return mode_names[m];
}

GaitMode gait_mode_from_string(const char *s) {
        static const struct {
                const char *alias;
                GaitMode mode;
        } aliases[] = {
                { "walk", GAIT_MODE_WALKING },     { "run", GAIT_MODE_RUNNING },
                { "sit", GAIT_MODE_SITTING },      { "stand", GAIT_MODE_STANDING },
                { "calf", GAIT_MODE_CALF_RAISES }, { "toe", GAIT_MODE_TOE_WALKING },
                { "off", GAIT_MODE_NOT_WORN },
        };
        if (!s)
                return _GAIT_MODE_INVALID;
        for (GaitMode m = 0; m < _GAIT_MODE_MAX; m++)
                if (streq(s, mode_names[m]))
                        return m;
        for (size_t i = 0; i < ELEMENTSOF(aliases); i++)
                if (streq(s, aliases[i].alias))
                        return aliases[i].mode;
        return _GAIT_MODE_INVALID;
}

/* splitmix64 as a hash: per-stride variability and per-sample noise are functions of (seed, index)
 * or (seed, time), independent of how often or in which order the feet are sampled. */
static uint64_t splitmix64(uint64_t x) {
        x += 0x9e3779b97f4a7c15ULL;
        x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
        x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
        return x ^ (x >> 31);
}

static double u64_to_unit(uint64_t x) {
        return (double) (x >> 11) * (1.0 / 9007199254740992.0); /* [0, 1) */
}

/* Roughly normal, mean 0, sd 1, bounded to +-3.5 (Irwin-Hall of 4 uniforms). */
static double approx_gauss_from(uint64_t x) {
        double s = 0;
        for (int i = 0; i < 4; i++) {
                x = splitmix64(x);
                s += u64_to_unit(x);
        }
        return (s - 2.0) * 1.7320508;
}

static double hash_gauss(uint64_t seed, uint64_t a, uint64_t b) {
        return approx_gauss_from(splitmix64(seed ^ splitmix64(a * 0x100000001b3ULL + b)));
}

static double smoothstep(double a, double b, double x) {
        if (x <= a)
                return 0;
        if (x >= b)
                return 1;
        double u = (x - a) / (b - a);
        return u * u * (3 - 2 * u);
}

static void normalise_params(GaitModelParams *p) {
        if (p->mode < 0 || p->mode >= _GAIT_MODE_MAX)
                p->mode = GAIT_MODE_STANDING;
        if (!isfinite(p->body_weight_kg) || p->body_weight_kg <= 0)
                p->body_weight_kg = 70;
        p->body_weight_kg = CLAMP(p->body_weight_kg, 20.0, 250.0);
        if (!isfinite(p->asymmetry))
                p->asymmetry = 0;
        p->asymmetry = CLAMP(p->asymmetry, -0.5, 0.5);
        if (!isfinite(p->pronation))
                p->pronation = 0;
        p->pronation = CLAMP(p->pronation, -1.0, 1.0);
        if (!isfinite(p->noise) || p->noise < 0)
                p->noise = 0;
        p->noise = MIN(p->noise, 0.5);
        if (!isfinite(p->cadence_spm) || p->cadence_spm < 0)
                p->cadence_spm = 0;
        if (!isfinite(p->speed_m_s) || p->speed_m_s < 0)
                p->speed_m_s = 0;
}

double gait_model_gauss(uint64_t seed, uint64_t a, uint64_t b) {
        return hash_gauss(seed, a, b);
}

void gait_model_params_for_day(const GaitModelParams *usual, const GaitDayVariability *v, uint64_t seed,
                               unsigned day, GaitModelParams *ret) {
        /* Streams 11.. of the day index: independent of the per-stride and per-sample draws. */
        bool odd = u64_to_unit(splitmix64(seed ^ splitmix64(day * 0x100000001b3ULL + 10))) < v->odd_day_share;
        double f = odd ? 2.0 : 1.0;
        double cadence = usual->cadence_spm > 0 ? usual->cadence_spm : 105;

        *ret = *usual;
        ret->cadence_spm = MAX(cadence + f * v->cadence_sd_spm * hash_gauss(seed, day, 11), 30.0);
        ret->asymmetry = usual->asymmetry + f * v->asymmetry_sd * hash_gauss(seed, day, 12);
        ret->pronation = usual->pronation + f * v->pronation_sd * hash_gauss(seed, day, 13);
        ret->noise = usual->noise * MAX(1 + f * v->noise_rel_sd * hash_gauss(seed, day, 14), 0.2);
        normalise_params(ret);
}

static bool params_valid(const GaitModelParams *p) {
        return p->mode >= 0 && p->mode < _GAIT_MODE_MAX && isfinite(p->body_weight_kg) && p->body_weight_kg >= 0 &&
               p->body_weight_kg <= 250 && isfinite(p->asymmetry) && fabs(p->asymmetry) <= 0.5 &&
               isfinite(p->pronation) && fabs(p->pronation) <= 1 && isfinite(p->noise) && p->noise >= 0 &&
               p->noise <= 0.5 && isfinite(p->cadence_spm) && p->cadence_spm >= 0 && p->cadence_spm <= 300 &&
               isfinite(p->speed_m_s) && p->speed_m_s >= 0 && p->speed_m_s <= 12;
}

static bool mode_is_gait(GaitMode m) {
        return m == GAIT_MODE_WALKING || m == GAIT_MODE_RUNNING || m == GAIT_MODE_TOE_WALKING;
}

static void layout_init(InsoleLayout *l, FootSide side) {
        static const InsoleCell cells[GAIT_MODEL_CELLS] = {
                { 0.10f, 0.35f, 1100 }, { 0.10f, 0.70f, 1100 }, { 0.42f, 0.78f, 1300 }, { 0.42f, 0.30f, 1000 },
                { 0.70f, 0.18f, 900 },  { 0.72f, 0.45f, 1000 }, { 0.66f, 0.82f, 800 },  { 0.92f, 0.20f, 700 },
        };
        *l = (InsoleLayout) {
                .side = side,
                .n_cells = GAIT_MODEL_CELLS,
                .unit = PRESSURE_UNIT_NEWTON,
                .scale = 1.0f,
                .offset = 0.0f,
        };
        memcpy(l->cells, cells, sizeof(cells));
}

int gait_model_new(const GaitModelParams *p, GaitModel **ret) {
        if (!p || !ret || !params_valid(p))
                return -EINVAL;

        GaitModel *m = calloc(1, sizeof(GaitModel));
        if (!m)
                return -ENOMEM;
        m->params = *p;
        normalise_params(&m->params);
        m->latest = m->params;
        for (size_t i = 0; i < ELEMENTSOF(m->sway_phase); i++)
                m->sway_phase[i] = 2 * M_PI * u64_to_unit(splitmix64(p->seed + 101 * (i + 1)));
        for (FootSide s = 0; s < _FOOT_SIDE_MAX; s++) {
                layout_init(&m->foot[s].layout, s);
        }
        *ret = m;
        return 0;
}

GaitModel *gait_model_free(GaitModel *m) {
        if (!m)
                return NULL;
        for (FootSide s = 0; s < _FOOT_SIDE_MAX; s++)
                free(m->foot[s].pieces);
        free(m);
        return NULL;
}

void gait_model_set_params(GaitModel *m, const GaitModelParams *p) {
        if (!m || !p)
                return;
        GaitModelParams n = *p;
        normalise_params(&n);
        m->pending = n;
        m->have_pending = true;
        m->latest = n;
}

const GaitModelParams *gait_model_get_params(const GaitModel *m) {
        return m ? &m->latest : NULL;
}

const InsoleLayout *gait_model_layout(const GaitModel *m, FootSide side) {
        if (!m || side < 0 || side >= _FOOT_SIDE_MAX)
                return NULL;
        return &m->foot[side].layout;
}

/* ---- piece lists ---- */

static Piece *track_append(FootTrack *t, const Piece *p) {
        if (t->n >= t->allocated) {
                /* Drop what the cursor has passed before growing. */
                if (t->cursor > 0) {
                        memmove(t->pieces, t->pieces + t->cursor, (t->n - t->cursor) * sizeof(Piece));
                        t->n -= t->cursor;
                        t->cursor = 0;
                }
                if (t->n >= t->allocated) {
                        size_t na = MAX(t->allocated * 2, (size_t) 16);
                        Piece *np = realloc(t->pieces, na * sizeof(Piece));
                        if (!np)
                                return NULL;
                        t->pieces = np;
                        t->allocated = na;
                }
        }
        t->pieces[t->n] = *p;
        return &t->pieces[t->n++];
}

static Piece *track_last(FootTrack *t) {
        return t->n > 0 ? &t->pieces[t->n - 1] : NULL;
}

static uint64_t track_end(FootTrack *t) {
        Piece *l = track_last(t);
        return l ? l->end_us : 0;
}

static bool static_contact(GaitMode mode, FootSide side) {
        switch (mode) {
        case GAIT_MODE_NOT_WORN:
                return false;
        case GAIT_MODE_SINGLE_LEG_LEFT:
                return side == FOOT_LEFT;
        case GAIT_MODE_SINGLE_LEG_RIGHT:
                return side == FOOT_RIGHT;
        default:
                return true;
        }
}

static bool piece_contact(const Piece *p, FootSide side) {
        switch (p->core.kind) {
        case PIECE_SWING:
                return false;
        case PIECE_STANCE:
                return true;
        default:
                return static_contact(p->core.mode, side);
        }
}

typedef struct StrideShape {
        double stride_s, stance_s, right_offset_s, peak;
} StrideShape;

static StrideShape stride_shape(const GaitModel *m, const GaitModelParams *p) {
        StrideShape s = {};
        double cadence = p->cadence_spm, speed = p->speed_m_s;
        double jitter = hash_gauss(p->seed, m->n_segments, 1) * p->noise * 0.5;
        double peak_jitter = hash_gauss(p->seed, m->n_segments, 2) * p->noise;

        switch (p->mode) {
        case GAIT_MODE_RUNNING:
                if (cadence <= 0)
                        cadence = 165;
                if (speed <= 0)
                        speed = 3.0;
                cadence = CLAMP(cadence, 120.0, 230.0);
                s.stride_s = 120.0 / cadence;
                s.stance_s = s.stride_s * CLAMP(0.40 - 0.02 * (speed - 3.0), 0.28, 0.45);
                s.peak = CLAMP(2.2 + 0.1 * speed, 2.0, 3.0);
                break;
        case GAIT_MODE_TOE_WALKING:
                if (cadence <= 0)
                        cadence = 100;
                if (speed <= 0)
                        speed = 1.0;
                cadence = CLAMP(cadence, 40.0, 160.0);
                s.stride_s = 120.0 / cadence;
                s.stance_s = s.stride_s * 0.60;
                s.peak = CLAMP(1.0 + 0.08 * speed, 1.0, 1.3);
                break;
        default:
                if (cadence <= 0)
                        cadence = 105;
                if (speed <= 0)
                        speed = 1.3;
                cadence = CLAMP(cadence, 20.0, 160.0);
                s.stride_s = 120.0 / cadence;
                s.stance_s = s.stride_s * CLAMP(0.62 - 0.02 * (speed - 1.3), 0.56, 0.66);
                s.peak = CLAMP(1.05 + 0.08 * speed, 1.05, 1.30);
                break;
        }
        double f = CLAMP(1.0 + jitter, 0.8, 1.2);
        s.stride_s *= f;
        s.stance_s *= f;
        s.peak *= CLAMP(1.0 + peak_jitter, 0.7, 1.3);
        /* right step (left IC -> right IC) / left step (right IC -> next left IC) = 1 + asymmetry */
        s.right_offset_s = s.stride_s * (1 + p->asymmetry) / (2 + p->asymmetry);
        return s;
}

static PieceCore core_base(const GaitModelParams *p) {
        return (PieceCore) {
                .mode = p->mode,
                .weight_n = p->body_weight_kg * G,
                .pronation = p->pronation,
                .flat_foot = p->flat_foot,
                .hard_heel_strike = p->hard_heel_strike,
        };
}

static uint64_t us(double s) {
        return (uint64_t) llround(s * 1e6);
}

static int append_swing(FootTrack *t, uint64_t from, uint64_t to) {
        if (to <= from)
                return 0;
        Piece p = { .core.kind = PIECE_SWING, .start_us = from, .end_us = to };
        return track_append(t, &p) ? 0 : -ENOMEM;
}

static int append_stance(FootTrack *t, const PieceCore *base, const StrideShape *s, uint64_t ic, bool step) {
        uint64_t start = MAX(ic, track_end(t));
        Piece p = {
                .core = *base,
                .start_us = start,
                .end_us = ic + us(s->stance_s),
                .ic_event = true,
                .step = step,
                .to_event = true,
        };
        p.core.kind = PIECE_STANCE;
        p.core.ic_us = (int64_t) start;
        p.core.stance_s = s->stance_s;
        p.core.peak = s->peak;
        if (p.end_us <= start)
                p.end_us = start + 1000;
        return track_append(t, &p) ? 0 : -ENOMEM;
}

static int generate_stride(GaitModel *m, const GaitModelParams *p) {
        StrideShape s = stride_shape(m, p);
        PieceCore base = core_base(p);
        FootTrack *L = &m->foot[FOOT_LEFT], *R = &m->foot[FOOT_RIGHT];
        uint64_t S = m->seg_end_us;
        int r;

        if (!m->prev_gait) {
                /* Gait initiation from a posture: the left foot unloads and swings, the right foot
                 * takes the body weight and pushes off as if a stride were already running. */
                Piece *lp = track_last(L);
                PieceCore from = lp ? lp->core : (PieceCore) { .kind = PIECE_SWING };
                double swing_s = s.stride_s - s.stance_s;
                Piece unload = {
                        .core.kind = PIECE_SWING,
                        .start_us = MAX(S, track_end(L)),
                        .end_us = MAX(S, track_end(L)) + us(UNLOAD_S),
                        .to_event = true,
                        .blend = true,
                        .blend_from = from,
                        .blend_us = us(UNLOAD_S),
                };
                if (!track_append(L, &unload))
                        return -ENOMEM;
                uint64_t S1 = unload.end_us + us(swing_s);
                r = append_swing(L, unload.end_us, S1);
                if (r < 0)
                        return r;

                Piece *rp = track_last(R);
                PieceCore rfrom = rp ? rp->core : (PieceCore) { .kind = PIECE_SWING };
                Piece carry = {
                        .core = base,
                        .start_us = MAX(S, track_end(R)),
                        .to_event = true,
                        .blend = true,
                        .blend_from = rfrom,
                        .blend_us = us(0.2),
                };
                carry.core.kind = PIECE_STANCE;
                carry.core.stance_s = s.stance_s;
                carry.core.peak = s.peak;
                /* A virtual stance already 30 % through at S (loaded), toeing off where the right
                 * foot would in a steady stride: 10 % of a stride after the left contact. */
                int64_t virtual_ic = (int64_t) carry.start_us - (int64_t) us(0.3 * s.stance_s);
                carry.end_us = S1 + us(s.right_offset_s + s.stance_s - s.stride_s);
                if (carry.end_us <= carry.start_us + us(UNLOAD_S))
                        carry.end_us = carry.start_us + us(UNLOAD_S) + us(0.1);
                carry.core.ic_us = virtual_ic;
                carry.core.stance_s = (double) ((int64_t) carry.end_us - virtual_ic) / 1e6;
                if (!track_append(R, &carry))
                        return -ENOMEM;
                S = S1;
        }

        r = append_stance(L, &base, &s, S, true);
        if (r < 0)
                return r;
        r = append_swing(L, track_end(L), S + us(s.stride_s));
        if (r < 0)
                return r;

        uint64_t ric = S + us(s.right_offset_s);
        r = append_swing(R, track_end(R), ric);
        if (r < 0)
                return r;
        r = append_stance(R, &base, &s, ric, true);
        if (r < 0)
                return r;

        m->seg_end_us = S + us(s.stride_s);
        /* Running: the right foot is airborne at the stride end (flight phase). */
        r = append_swing(R, track_end(R), m->seg_end_us);
        if (r < 0)
                return r;
        m->prev_gait = true;
        return 0;
}

static int generate_static(GaitModel *m, const GaitModelParams *p) {
        uint64_t S = m->seg_end_us;
        double len = STATIC_BLOCK_S;

        if (p->mode == GAIT_MODE_CALF_RAISES) {
                double reps = p->cadence_spm > 0 ? CLAMP(p->cadence_spm, 20.0, 60.0) : 40.0;
                len = 60.0 / reps * CLAMP(1.0 + hash_gauss(p->seed, m->n_segments, 3) * p->noise * 0.5, 0.8, 1.2);
        }

        PieceCore core = core_base(p);
        core.kind = PIECE_STATIC;
        core.seg_us = (int64_t) S;
        core.seg_s = len;
        uint64_t end = S + us(len);

        for (FootSide side = 0; side < _FOOT_SIDE_MAX; side++) {
                FootTrack *t = &m->foot[side];
                Piece *lp = track_last(t);
                bool contact = static_contact(p->mode, side);
                Piece np = { .core = core, .end_us = end };

                if (!lp) {
                        np.start_us = S;
                        if (!track_append(t, &np))
                                return -ENOMEM;
                        continue;
                }

                if (lp->core.kind == PIECE_STANCE && lp->end_us > S) {
                        /* Stopping mid-stance: the foot stays down and settles into the posture. */
                        uint64_t cut = MAX(S, t->sampled ? t->last_t_us : 0);
                        if (cut < lp->end_us) {
                                lp->end_us = cut;
                                lp->to_event = !contact;
                        }
                        np.blend = true;
                        np.blend_from = lp->core;
                        np.blend_us = us(STATIC_BLEND_S);
                } else if (lp->core.kind == PIECE_SWING) {
                        if (append_swing(t, lp->end_us, S) < 0)
                                return -ENOMEM;
                        lp = track_last(t);
                        /* The last step when stopping counts, as it does on a pedometer. */
                        np.ic_event = contact;
                        np.step = contact && m->prev_gait;
                        np.blend = true;
                        np.blend_from = lp->core;
                        np.blend_us = us(LANDING_BLEND_S);
                } else {
                        bool was = piece_contact(lp, side);
                        if (was && !contact)
                                lp->to_event = true;
                        np.ic_event = !was && contact;
                        if (lp->core.mode != p->mode) {
                                np.blend = true;
                                np.blend_from = lp->core;
                                np.blend_us = us(STATIC_BLEND_S);
                        }
                }
                np.start_us = track_end(t);
                if (np.start_us >= np.end_us)
                        continue;
                if (!track_append(t, &np))
                        return -ENOMEM;
        }

        m->seg_end_us = end;
        m->prev_gait = false;
        return 0;
}

static int generate_segment(GaitModel *m) {
        if (m->have_pending) {
                m->params = m->pending;
                m->have_pending = false;
        }
        int r = mode_is_gait(m->params.mode) ? generate_stride(m, &m->params) : generate_static(m, &m->params);
        m->n_segments++;
        return r;
}

/* ---- force profiles ---- */

typedef struct Regions {
        double load[_REGION_MAX]; /* newtons */
        double ml_shift;          /* extra medial(+)/lateral(-) share from sway */
} Regions;

static void stance_regions(const PieceCore *c, int64_t t_us, Regions *ret) {
        double phi = (double) (t_us - c->ic_us) / 1e6 / c->stance_s;
        *ret = (Regions) {};
        if (phi < 0 || phi >= 1)
                return;

        double w[_REGION_MAX], force, impact = 0;
        if (c->mode == GAIT_MODE_RUNNING) {
                force = c->peak * pow(sin(M_PI * phi), 1.2);
                w[REGION_HEEL] = 1 - smoothstep(0.08, 0.35, phi);
                w[REGION_MIDFOOT] = 0.3 * smoothstep(0.0, 0.15, phi) * (1 - smoothstep(0.4, 0.7, phi));
                w[REGION_FOREFOOT] = smoothstep(0.03, 0.3, phi) * (1 - 0.5 * smoothstep(0.8, 1.0, phi));
                w[REGION_TOES] = 0.5 * smoothstep(0.5, 0.9, phi);
                if (c->hard_heel_strike)
                        impact = 0.9 * exp(-pow((phi - 0.05) / 0.02, 2));
                if (c->flat_foot) {
                        w[REGION_HEEL] = 0.6 * (1 - smoothstep(0.15, 0.4, phi));
                        w[REGION_FOREFOOT] = 0.8 + 0.2 * smoothstep(0.0, 0.3, phi);
                }
        } else {
                /* Double hump: sin(pi phi) (c0 - c1 cos(4 pi phi)) peaks near phi 0.25 and 0.75 at
                 * `peak` with a mid-stance valley. */
                double valley = c->mode == GAIT_MODE_TOE_WALKING ? 0.85 : 0.72;
                double c0 = (c->peak / 0.70711 + valley) / 2, c1 = (c->peak / 0.70711 - valley) / 2;
                force = sin(M_PI * phi) * (c0 - c1 * cos(4 * M_PI * phi));
                if (c->mode == GAIT_MODE_TOE_WALKING) {
                        w[REGION_HEEL] = 0;
                        w[REGION_MIDFOOT] = 0.08;
                        w[REGION_FOREFOOT] = 1;
                        w[REGION_TOES] = 0.3 + 0.3 * smoothstep(0.5, 0.9, phi);
                } else if (c->flat_foot) {
                        w[REGION_HEEL] = 1 - smoothstep(0.3, 0.6, phi);
                        w[REGION_MIDFOOT] = 0.4 * (1 - smoothstep(0.5, 0.8, phi));
                        w[REGION_FOREFOOT] = 0.9 * (1 - 0.5 * smoothstep(0.85, 1.0, phi));
                        w[REGION_TOES] = 0.6 * smoothstep(0.55, 0.9, phi);
                } else {
                        w[REGION_HEEL] = 1 - smoothstep(0.25, 0.55, phi);
                        w[REGION_MIDFOOT] = 0.35 * smoothstep(0.05, 0.3, phi) * (1 - smoothstep(0.45, 0.7, phi));
                        w[REGION_FOREFOOT] = smoothstep(0.12, 0.5, phi) * (1 - 0.5 * smoothstep(0.85, 1.0, phi));
                        w[REGION_TOES] = 0.6 * smoothstep(0.55, 0.9, phi);
                }
                if (c->hard_heel_strike && c->mode != GAIT_MODE_TOE_WALKING)
                        impact = 1.2 * exp(-pow((phi - 0.035) / 0.015, 2));
        }

        double sum = 0;
        for (int r = 0; r < _REGION_MAX; r++)
                sum += w[r];
        for (int r = 0; r < _REGION_MAX; r++)
                ret->load[r] = c->weight_n * force * w[r] / sum;
        ret->load[REGION_HEEL] += c->weight_n * impact;
}

static double sway(const GaitModel *m, int which, double t_s) {
        /* Slow postural sway: two incommensurate sines with seeded phases, continuous in time. */
        const double *ph = m->sway_phase;
        if (which == 0) /* anterior-posterior, share of load moving heel <-> forefoot */
                return 0.06 * sin(2 * M_PI * 0.15 * t_s + ph[0]) + 0.04 * sin(2 * M_PI * 0.37 * t_s + ph[1]);
        if (which == 1) /* medial-lateral / left-right */
                return 0.05 * sin(2 * M_PI * 0.11 * t_s + ph[2]) + 0.03 * sin(2 * M_PI * 0.29 * t_s + ph[3]);
        return sin(2 * M_PI * 0.05 * t_s + ph[4]) * 0.5 + sin(2 * M_PI * 0.013 * t_s + ph[5]) * 0.5;
}

static void static_regions(const GaitModel *m, const PieceCore *c, FootSide side, int64_t t_us, Regions *ret) {
        double t_s = (double) t_us / 1e6, ap = sway(m, 0, t_s), ml = sway(m, 1, t_s);
        double total = 0, share[_REGION_MAX] = { 0.50 + ap, 0.12, 0.33 - ap, 0.05 };
        *ret = (Regions) {};

        switch (c->mode) {
        case GAIT_MODE_NOT_WORN:
                return;
        case GAIT_MODE_SITTING:
                /* Feet resting on the floor: a few percent of body weight. */
                total = c->weight_n * (0.04 + 0.01 * sway(m, 2, t_s));
                share[REGION_HEEL] = 0.45;
                share[REGION_MIDFOOT] = 0.10;
                share[REGION_FOREFOOT] = 0.40;
                share[REGION_TOES] = 0.05;
                break;
        case GAIT_MODE_SINGLE_LEG_LEFT:
        case GAIT_MODE_SINGLE_LEG_RIGHT:
                if (!static_contact(c->mode, side))
                        return;
                total = c->weight_n * (1.0 + 0.03 * sway(m, 2, t_s * 20));
                ap *= 2;
                ml *= 3;
                share[REGION_HEEL] = 0.45 + ap;
                share[REGION_FOREFOOT] = 0.38 - ap;
                break;
        case GAIT_MODE_CALF_RAISES: {
                /* One repetition: rise (30 %), hold on the forefoot (20 %), lower (30 %), rest. */
                double p = (double) (t_us - c->seg_us) / 1e6 / c->seg_s;
                double h = p < 0.3 ? smoothstep(0, 0.3, p) : p < 0.5 ? 1 : 1 - smoothstep(0.5, 0.8, p);
                double accel = p < 0.3 ? 0.12 * sin(2 * M_PI * p / 0.3) : p >= 0.5 && p < 0.8 ? -0.12 * sin(2 * M_PI * (p - 0.5) / 0.3) : 0;
                total = c->weight_n * 0.5 * (1 + accel + (side == FOOT_LEFT ? ml : -ml));
                share[REGION_HEEL] = (0.50 + ap) * (1 - h);
                share[REGION_MIDFOOT] = 0.12 * (1 - h) + 0.03 * h;
                share[REGION_FOREFOOT] = (0.33 - ap) * (1 - h) + 0.72 * h;
                share[REGION_TOES] = 0.05 * (1 - h) + 0.25 * h;
                ml = 0;
                break;
        }
        default: /* standing: both feet about half the body weight, shifting with the sway */
                total = c->weight_n * (0.5 + (side == FOOT_LEFT ? ml : -ml));
                ml = 0;
                break;
        }
        for (int r = 0; r < _REGION_MAX; r++)
                ret->load[r] = total * MAX(share[r], 0.0);
        ret->ml_shift = ml;
}

static void regions_to_cells(const PieceCore *c, const Regions *rg, double cell[GAIT_MODEL_CELLS]) {
        double p = c->pronation, s = rg->ml_shift;
        double heel_medial = CLAMP(0.5 + 0.2 * p + s, 0.1, 0.9);
        double arch = CLAMP(0.2 + 0.25 * p + (c->flat_foot ? 0.2 : 0) + s, 0.02, 0.9);
        double f1 = MAX(0.35 + 0.15 * p + s, 0.02), f2 = 0.43, f5 = MAX(0.22 - 0.15 * p - s, 0.02);
        double fs = f1 + f2 + f5;

        cell[0] = rg->load[REGION_HEEL] * heel_medial;
        cell[1] = rg->load[REGION_HEEL] * (1 - heel_medial);
        cell[2] = rg->load[REGION_MIDFOOT] * (1 - arch);
        cell[3] = rg->load[REGION_MIDFOOT] * arch;
        cell[4] = rg->load[REGION_FOREFOOT] * f1 / fs;
        cell[5] = rg->load[REGION_FOREFOOT] * f2 / fs;
        cell[6] = rg->load[REGION_FOREFOOT] * f5 / fs;
        cell[7] = rg->load[REGION_TOES];
}

static void core_eval(const GaitModel *m, const PieceCore *c, FootSide side, int64_t t_us, double cell[GAIT_MODEL_CELLS]) {
        Regions rg = {};
        switch (c->kind) {
        case PIECE_STANCE:
                stance_regions(c, t_us, &rg);
                break;
        case PIECE_STATIC:
                static_regions(m, c, side, t_us, &rg);
                break;
        default:
                break;
        }
        regions_to_cells(c, &rg, cell);
}

static void emit(GaitModel *m, FootSide side, bool ic, uint64_t t_us) {
        size_t idx = (m->ev_head + m->ev_n) % GAIT_MODEL_MAX_EVENTS;
        m->events[idx] = (GaitTruthEvent) { .side = side, .initial_contact = ic, .t_us = t_us };
        if (m->ev_n < GAIT_MODEL_MAX_EVENTS)
                m->ev_n++;
        else
                m->ev_head = (m->ev_head + 1) % GAIT_MODEL_MAX_EVENTS;
}

void gait_model_sample(GaitModel *m, FootSide side, uint64_t t_us, PressureSample *ret) {
        if (!m || side < 0 || side >= _FOOT_SIDE_MAX || !ret)
                return;
        FootTrack *ft = &m->foot[side];

        if (!m->started) {
                m->started = true;
                m->seg_end_us = t_us;
                m->prev_gait = false;
        }
        if (ft->sampled && t_us < ft->last_t_us)
                t_us = ft->last_t_us; /* time never goes backwards: hold */

        while (track_end(ft) <= t_us)
                if (generate_segment(m) < 0)
                        break;

        double cell[GAIT_MODEL_CELLS] = {};
        const Piece *cur = NULL;
        for (size_t i = ft->cursor; i < ft->n; i++) {
                Piece *p = &ft->pieces[i];
                if (p->start_us > t_us)
                        break;
                if (p->ic_event && !p->ic_done) {
                        p->ic_done = true;
                        emit(m, side, true, p->start_us);
                        if (p->step)
                                ft->steps++;
                }
                if (p->end_us <= t_us) {
                        if (p->to_event && !p->to_done) {
                                p->to_done = true;
                                emit(m, side, false, p->end_us);
                        }
                        ft->cursor = i + 1;
                        continue;
                }
                cur = p;
                break;
        }
        if (!cur && ft->n > 0)
                cur = &ft->pieces[MIN(ft->cursor, ft->n - 1)];

        if (cur) {
                core_eval(m, &cur->core, side, (int64_t) t_us, cell);
                if (cur->blend && cur->blend_us > 0 && t_us < cur->start_us + cur->blend_us) {
                        double prev[GAIT_MODEL_CELLS] = {};
                        double w = (double) (t_us - cur->start_us) / (double) cur->blend_us;
                        core_eval(m, &cur->blend_from, side, (int64_t) t_us, prev);
                        if (cur->blend_from.kind == PIECE_STANCE) {
                                /* The interrupted stance is frozen at its last phase, not continued. */
                                core_eval(m, &cur->blend_from, side, (int64_t) cur->start_us - 1, prev);
                        }
                        for (int i = 0; i < GAIT_MODEL_CELLS; i++)
                                cell[i] = (1 - w) * prev[i] + w * cell[i];
                }
        }

        double noise = m->params.noise;
        *ret = (PressureSample) { .t_us = t_us, .n_cells = GAIT_MODEL_CELLS };
        for (int i = 0; i < GAIT_MODEL_CELLS; i++) {
                double v = cell[i];
                /* a function of (seed, foot, time, cell), not of the call history: a sample
                 * at a given time is the same however often the foot was sampled before */
                if (noise > 0 && v > 0)
                        v *= 1 + noise * hash_gauss(m->params.seed ^ ((uint64_t) side + 1) * 0x5851f42d4c957f2dULL, t_us, (uint64_t) i);
                ret->cell[i] = (float) MAX(v, 0.0);
        }
        ft->sampled = true;
        ft->last_t_us = t_us;
}

size_t gait_model_take_events(GaitModel *m, GaitTruthEvent *buf, size_t n) {
        size_t k = 0;
        if (!m || !buf)
                return 0;
        while (k < n && m->ev_n > 0) {
                buf[k++] = m->events[m->ev_head];
                m->ev_head = (m->ev_head + 1) % GAIT_MODEL_MAX_EVENTS;
                m->ev_n--;
        }
        return k;
}

uint64_t gait_model_steps(const GaitModel *m, FootSide side) {
        if (!m || side < 0 || side >= _FOOT_SIDE_MAX)
                return 0;
        return m->foot[side].steps;
}

GaitMode gait_model_current_mode(const GaitModel *m, FootSide side) {
        if (!m || side < 0 || side >= _FOOT_SIDE_MAX)
                return _GAIT_MODE_INVALID;
        const FootTrack *ft = &m->foot[side];
        if (ft->n == 0)
                return m->params.mode;
        const Piece *p = &ft->pieces[MIN(ft->cursor, ft->n - 1)];
        if (p->core.kind == PIECE_SWING && p->blend)
                return p->blend_from.mode;
        return p->core.kind == PIECE_SWING ? m->params.mode : p->core.mode;
}
