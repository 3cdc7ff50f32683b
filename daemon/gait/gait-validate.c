/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gait-internal.h"
#include "gait-recording.h"
#include "gait-validate.h"
#include "macro.h"

#define TS_COLUMNS 13
#define TS_MAX_ROWS 100000u
/* A detected left stride belongs to a reference row when it closes this close to the row's time. */
#define LEFT_PAIR_S 0.10
/* Our left strides count when they close within the reference's span, plus this. */
#define SPAN_SLACK_S 0.15

GaitReference *gait_reference_free(GaitReference *r) {
        if (!r)
                return NULL;
        free(r->rows);
        free(r);
        return NULL;
}

int gait_reference_load(const char *path, GaitReference **ret) {
        _cleanup_fclose_ FILE *f = NULL;
        _cleanup_(gait_reference_freep) GaitReference *r = NULL;
        char line[1024];
        size_t cap = 0;

        if (!path || !ret)
                return -EINVAL;
        f = fopen(path, "re");
        if (!f)
                return -errno;
        r = calloc(1, sizeof(GaitReference));
        if (!r)
                return -ENOMEM;
        while (fgets(line, sizeof(line), f)) {
                double v[TS_COLUMNS];
                int k = gait_parse_row(line, v, TS_COLUMNS);

                if (k < 0)
                        return k;
                if (k == 0)
                        continue;
                if (r->n >= TS_MAX_ROWS)
                        return -EBADMSG;
                if (r->n == cap) {
                        size_t ncap = MAX(cap * 2, (size_t) 256);
                        GaitReferenceRow *m = realloc(r->rows, ncap * sizeof(GaitReferenceRow));
                        if (!m)
                                return -ENOMEM;
                        r->rows = m;
                        cap = ncap;
                }
                /* columns: time, stride L/R, swing L/R, swing % L/R, stance L/R, stance % L/R, double support, % */
                r->rows[r->n++] = (GaitReferenceRow) {
                        .t_s = v[0],
                        .stride_s = { v[1], v[2] },
                        .swing_s = { v[3], v[4] },
                        .stance_s = { v[7], v[8] },
                        .double_support_s = v[11],
                };
        }
        if (ferror(f))
                return -EIO;
        if (r->n < 2)
                return -ENODATA;
        *ret = TAKE_PTR(r);
        return 0;
}

/* Reference rows that are not strides of the foot, read from the signal next to the `.ts`
 * (docs/validation.md) where mark_standing_rows() cannot tell. */
static const struct {
        const char *record;
        FootSide foot;
        double t_s;
} known_rows[] = {
        /* the right foot stands until 21.5 s and first lands at 23.40 s: the first row's right
         * stride began while it stood, and the second row repeats it */
        { "als7", FOOT_RIGHT, 23.5267 },
        { "als7", FOOT_RIGHT, 25.3167 },
};

static size_t mark_known_rows(GaitReference *r, const char *record) {
        size_t marked = 0;

        if (!record)
                return 0;
        for (size_t k = 0; k < ELEMENTSOF(known_rows); k++) {
                if (!streq(known_rows[k].record, record))
                        continue;
                for (size_t i = 0; i < r->n; i++)
                        if (fabs(r->rows[i].t_s - known_rows[k].t_s) < 0.001 && !r->rows[i].not_a_stride[known_rows[k].foot]) {
                                r->rows[i].not_a_stride[known_rows[k].foot] = true;
                                marked++;
                        }
        }
        return marked;
}

static int cmp_double(const void *a, const void *b) {
        double x = *(const double *) a, y = *(const double *) b;
        return (x > y) - (x < y);
}

static size_t mark_standing_rows(GaitReference *r, const GaitRecording *rec) {
        const FootSide side = FOOT_RIGHT;
        _cleanup_free_ double *v = NULL;
        size_t n, k = 0, j = 0, marked = 0;
        double lo, hi;

        if (!rec || rec->layout[side].n_cells != 1 || rec->n[side] == 0)
                return 0;
        n = rec->n[side];
        v = malloc(n * sizeof(double));
        if (!v)
                return 0;
        for (size_t i = 0; i < n; i++)
                if (isfinite(rec->cells[side][i]))
                        v[k++] = rec->cells[side][i];
        if (k < 100)
                return 0;
        qsort(v, k, sizeof(double), cmp_double);
        lo = v[k * 2 / 100];
        hi = v[k * 98 / 100];
        if (!(hi > lo))
                return 0;
        for (size_t i = 1; i < r->n; i++) {
                GaitReferenceRow *row = &r->rows[i];
                double from = r->rows[i - 1].t_s, to = row->t_s;
                float least = INFINITY;

                if (row->stride_s[side] > GAIT_REFERENCE_STOP_S || row->stride_s[side] != r->rows[i - 1].stride_s[side])
                        continue;
                while (j < n && rec->t_us[side][j] / 1e6 <= from)
                        j++;
                for (size_t q = j; q < n && rec->t_us[side][q] / 1e6 <= to; q++)
                        if (isfinite(rec->cells[side][q]))
                                least = MIN(least, rec->cells[side][q]);
                /* never below the engine's release level (of the 2nd to 98th percentile span): it stood */
                if (isfinite(least) && (least - lo) / (hi - lo) > GAIT_TH_RELEASE && !row->not_a_stride[side]) {
                        row->not_a_stride[side] = true;
                        marked++;
                }
        }
        return marked;
}

size_t gait_reference_mark_not_strides(GaitReference *r, const char *record, const GaitRecording *rec) {
        size_t marked;

        if (!r)
                return 0;
        marked = mark_known_rows(r, record);
        return marked + mark_standing_rows(r, rec);
}

static bool row_is_stop(const GaitReferenceRow *row, FootSide side) {
        return row->stride_s[side] > GAIT_REFERENCE_STOP_S;
}

static bool row_left_out(const GaitReferenceRow *row, FootSide side) {
        return row_is_stop(row, side) || row->not_a_stride[side];
}

static double median(double *v, size_t n) {
        if (n == 0)
                return NAN;
        qsort(v, n, sizeof(double), cmp_double);
        return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static double stride_value_ms(const GaitStride *s, unsigned metric) {
        uint32_t us = metric == GAIT_METRIC_STRIDE ? s->stride_us : metric == GAIT_METRIC_STANCE ? s->stance_us : s->swing_us;
        return us / 1000.0;
}

static double ref_value_ms(const GaitReferenceRow *row, FootSide side, unsigned metric) {
        double s = metric == GAIT_METRIC_STRIDE   ? row->stride_s[side]
                   : metric == GAIT_METRIC_STANCE ? row->stance_s[side]
                                                  : row->swing_s[side];
        return s * 1000.0;
}

/* The reference's closing-contact window of row i for one foot. */
static void row_window(const GaitReference *ref, size_t i, FootSide side, double *ret_from, double *ret_to) {
        const GaitReferenceRow *row = &ref->rows[i];

        if (side == FOOT_LEFT) {
                *ret_from = row->t_s - LEFT_PAIR_S;
                *ret_to = row->t_s + LEFT_PAIR_S;
        } else {
                /* the last right contact before this row's left contact, after the previous one's */
                *ret_from = i > 0 ? ref->rows[i - 1].t_s : row->t_s - row->stride_s[FOOT_LEFT];
                *ret_to = row->t_s;
        }
}

/* Our stride that the scoring pairs with row i of one foot: closing in the row's window, nearest in
 * stride time. NULL when none closes there or the row is left out. */
static const GaitStride *paired_stride(const GaitReference *ref, size_t i, FootSide side, const GaitStride *strides, size_t n) {
        const GaitStride *best = NULL;
        double from, to, want = ref_value_ms(&ref->rows[i], side, GAIT_METRIC_STRIDE), best_diff = INFINITY;

        if (row_left_out(&ref->rows[i], side))
                return NULL;
        row_window(ref, i, side, &from, &to);
        for (size_t j = 0; j < n; j++) {
                double end = strides[j].t_next_contact_us / 1e6, diff;
                if (strides[j].foot != side || !(end > from && end <= to))
                        continue;
                diff = fabs(stride_value_ms(&strides[j], GAIT_METRIC_STRIDE) - want);
                if (diff < best_diff) {
                        best_diff = diff;
                        best = &strides[j];
                }
        }
        return best;
}

/* Whether the contact that closes stride p (one of strides[0..n)) is uncertain: it opens the foot's
 * next stride, if any. In the order strides complete, that is the foot's next one in the array. */
static bool closing_contact_uncertain(const GaitStride *p, const GaitStride *strides, size_t n) {
        for (const GaitStride *q = p + 1; q < strides + n; q++)
                if (q->foot == p->foot) {
                        if (q->t_contact_us == p->t_next_contact_us)
                                return gait_contact_uncertain(q);
                        break;
                }
        for (size_t j = 0; j < n; j++)
                if (strides[j].foot == p->foot && strides[j].t_contact_us == p->t_next_contact_us)
                        return gait_contact_uncertain(&strides[j]);
        return false;
}

/* Plain coefficient of variation (sample SD / mean x 100) of v[0..n). */
static double plain_cv_pct(const float *v, size_t n) {
        double sum = 0, sq = 0;

        if (n < 2)
                return NAN;
        for (size_t i = 0; i < n; i++)
                sum += v[i];
        for (size_t i = 0; i < n; i++)
                sq += (v[i] - sum / n) * (v[i] - sum / n);
        return sqrt(sq / (n - 1)) / (sum / n) * 100.0;
}

/* Both CVs of f[0..k) (reordered). */
static void stride_cvs(float *f, size_t k, double *ret_cv, double *ret_plain) {
        *ret_plain = plain_cv_pct(f, k);
        *ret_cv = gait_cv_pct(f, k);
}

void gait_score_record(const GaitReference *ref, const GaitStride *strides, size_t n, GaitFootScore ret[_FOOT_SIDE_MAX]) {
        _cleanup_free_ double *v = NULL;
        _cleanup_free_ float *f = NULL;
        const GaitReferenceRow *first = &ref->rows[0], *last = &ref->rows[ref->n - 1];

        v = calloc(MAX(n, ref->n) + 1, sizeof(double));
        f = calloc(MAX(n, ref->n) + 1, sizeof(float));
        if (!v || !f) {
                for (FootSide side = 0; side < _FOOT_SIDE_MAX; side++)
                        ret[side] = (GaitFootScore) { .count_err_pct = NAN, .match_pct = NAN, .cv_pct = NAN,
                                                      .ref_cv_pct = NAN, .plain_cv_pct = NAN, .ref_plain_cv_pct = NAN,
                                                      .uncertain_pct = NAN };
                return;
        }
        for (FootSide side = 0; side < _FOOT_SIDE_MAX; side++) {
                GaitFootScore *s = &ret[side];
                double from = side == FOOT_LEFT ? first->t_s - SPAN_SLACK_S : first->t_s - first->stride_s[FOOT_LEFT];
                double to = side == FOOT_LEFT ? last->t_s + SPAN_SLACK_S : last->t_s;
                size_t matched = 0;

                *s = (GaitFootScore) {};
                for (size_t i = 0; i < ref->n; i++) {
                        s->ref_stops += row_is_stop(&ref->rows[i], side);
                        s->ref_left_out += !row_is_stop(&ref->rows[i], side) && ref->rows[i].not_a_stride[side];
                }
                s->ref_strides = ref->n - s->ref_stops - s->ref_left_out;
                for (unsigned m = 0; m < _GAIT_METRIC_MAX; m++) {
                        size_t k = 0, uncertain = 0;
                        for (size_t i = 0; i < n; i++) {
                                double end = strides[i].t_next_contact_us / 1e6;
                                /* the right span is open at its start: that contact closes the row before */
                                if (strides[i].foot == side && end <= to && (side == FOOT_LEFT ? end >= from : end > from)) {
                                        v[k++] = stride_value_ms(&strides[i], m);
                                        uncertain += gait_contact_uncertain(&strides[i]);
                                }
                        }
                        s->strides = k;
                        if (m == GAIT_METRIC_STRIDE) {
                                for (size_t i = 0; i < k; i++)
                                        f[i] = (float) v[i];
                                stride_cvs(f, k, &s->cv_pct, &s->plain_cv_pct);
                                size_t kr = 0;
                                for (size_t i = 0; i < ref->n; i++)
                                        if (!row_left_out(&ref->rows[i], side))
                                                f[kr++] = (float) ref_value_ms(&ref->rows[i], side, m);
                                stride_cvs(f, kr, &s->ref_cv_pct, &s->ref_plain_cv_pct);
                                s->uncertain_pct = k > 0 ? 100.0 * (double) uncertain / (double) k : NAN;
                        }
                        s->ms[m] = median(v, k);
                        for (size_t i = 0; i < ref->n; i++)
                                v[i] = ref_value_ms(&ref->rows[i], side, m);
                        s->ref_ms[m] = median(v, ref->n);
                        s->err_pct[m] = 100.0 * (s->ms[m] - s->ref_ms[m]) / s->ref_ms[m];
                }
                s->count_err_pct = s->ref_strides > 0
                                           ? 100.0 * ((double) s->strides - (double) s->ref_strides) / (double) s->ref_strides
                                           : NAN;

                for (size_t i = 0; i < ref->n; i++) {
                        const GaitStride *p;

                        if (row_left_out(&ref->rows[i], side))
                                continue;
                        /* the nearest in stride time: matched when any stride in the window is */
                        p = paired_stride(ref, i, side, strides, n);
                        bool hit = p && fabs(stride_value_ms(p, GAIT_METRIC_STRIDE) -
                                             ref_value_ms(&ref->rows[i], side, GAIT_METRIC_STRIDE)) <= GAIT_TARGET_MATCH_MS;
                        matched += hit;
                        if (p) {
                                bool uncertain = gait_contact_uncertain(p) || closing_contact_uncertain(p, strides, n);
                                (hit ? s->matched_by_certainty : s->missed_by_certainty)[uncertain]++;
                        }
                }
                s->match_pct = s->ref_strides > 0 ? 100.0 * (double) matched / (double) s->ref_strides : NAN;
        }
}

unsigned gait_foot_score_misses(const GaitFootScore *s) {
        static const double tol[_GAIT_METRIC_MAX] = {
                [GAIT_METRIC_STRIDE] = GAIT_TARGET_STRIDE_PCT,
                [GAIT_METRIC_STANCE] = GAIT_TARGET_PHASE_PCT,
                [GAIT_METRIC_SWING] = GAIT_TARGET_PHASE_PCT,
        };
        unsigned miss = 0;

        for (unsigned m = 0; m < _GAIT_METRIC_MAX; m++)
                if (!(fabs(s->err_pct[m]) <= tol[m]))
                        miss |= 1u << m;
        if (!(fabs(s->count_err_pct) <= GAIT_TARGET_COUNT_PCT))
                miss |= GAIT_MISS_COUNT;
        if (!(s->match_pct >= GAIT_TARGET_MATCH_PCT))
                miss |= GAIT_MISS_MATCH;
        return miss;
}

/* Reasons found by reading the signals and the reference (docs/validation.md shows them). Only what
 * the data itself explains belongs here; a detector shortfall is reported as one, not excused. */
static const struct {
        const char *record;
        FootSide foot;
        unsigned targets;
        const char *reason;
} data_issues[] = {
        { "hunt20", FOOT_RIGHT, (1u << GAIT_METRIC_STRIDE) | (1u << GAIT_METRIC_STANCE) | (1u << GAIT_METRIC_SWING) | GAIT_MISS_COUNT | GAIT_MISS_MATCH,
          "the reference's right-foot columns are not strides: median 42.9 s, 122 of 238 rows repeat 58.39 s "
          "(the right signal itself shows ~1 s strides)" },
};

const char *gait_known_data_issue(const char *record, FootSide foot, unsigned *ret_targets) {
        for (size_t i = 0; i < ELEMENTSOF(data_issues); i++)
                if (streq(data_issues[i].record, record) && data_issues[i].foot == foot) {
                        if (ret_targets)
                                *ret_targets = data_issues[i].targets;
                        return data_issues[i].reason;
                }
        if (ret_targets)
                *ret_targets = 0;
        return NULL;
}

/* A longer stride is a stop or a turn: there is no rhythm to judge a contact by. */
#define ARBITER_STRIDE_MAX_S 2.5

/* Sorted, distinct contact times (s) of one foot's strides; ret has room for 2 n. */
static size_t foot_contacts(const GaitStride *strides, size_t n, FootSide side, double *ret) {
        size_t k = 0, m = 0;

        for (size_t i = 0; i < n; i++)
                if (strides[i].foot == side) {
                        ret[k++] = strides[i].t_contact_us / 1e6;
                        ret[k++] = strides[i].t_next_contact_us / 1e6;
                }
        qsort(ret, k, sizeof(double), cmp_double);
        for (size_t i = 0; i < k; i++)
                if (m == 0 || ret[i] > ret[m - 1])
                        ret[m++] = ret[i];
        return m;
}

/* The first index of sorted v[0..n) whose value is >= x (n when none). */
static size_t first_at_or_after(const double *v, size_t n, double x) {
        size_t lo = 0, hi = n;

        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                if (v[mid] < x)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        return lo;
}

/* The median phase of up to six agreeing contacts on each side of row i; NAN with fewer than four. */
static double neighbour_phase(const double *phase, const bool *agree, size_t rows, size_t i, double *scratch) {
        size_t k = 0, found = 0;

        for (size_t j = i; j > 0 && found < 6; j--)
                if (agree[j - 1]) {
                        scratch[k++] = phase[j - 1];
                        found++;
                }
        found = 0;
        for (size_t j = i + 1; j < rows && found < 6; j++)
                if (agree[j]) {
                        scratch[k++] = phase[j];
                        found++;
                }
        return k >= 4 ? median(scratch, k) : NAN;
}

/* By one foot's own rhythm (GaitArbiter.own_*): a stride of ours longer than the reference's by d and
 * the next shorter by about d share one contact that the two place d apart, between two on which
 * they agree. */
static void judge_by_own_foot(const GaitReference *ref, FootSide side, const GaitStride *strides, size_t n, GaitArbiter *ret) {
        const GaitStride *next = ref->n > 0 ? paired_stride(ref, 0, side, strides, n) : NULL;

        for (size_t i = 0; i + 1 < ref->n; i++) {
                const GaitStride *p = next, *q = next = paired_stride(ref, i + 1, side, strides, n);
                double d, d_next, mid, ours, theirs;

                if (!p || !q || p->t_next_contact_us != q->t_contact_us ||
                    (q->t_next_contact_us - p->t_contact_us) / 1e6 > 2 * ARBITER_STRIDE_MAX_S)
                        continue;
                d = stride_value_ms(p, GAIT_METRIC_STRIDE) - ref_value_ms(&ref->rows[i], side, GAIT_METRIC_STRIDE);
                d_next = stride_value_ms(q, GAIT_METRIC_STRIDE) - ref_value_ms(&ref->rows[i + 1], side, GAIT_METRIC_STRIDE);
                if (fabs(d) < GAIT_ARBITER_DISAGREE_MS || !(fabs(d + d_next) <= GAIT_ARBITER_AGREE_MS))
                        continue;
                mid = (p->t_contact_us + q->t_next_contact_us) / 2e3;
                ours = p->t_next_contact_us / 1e3;
                theirs = ours - d;
                ret->own_disagreements[side]++;
                if (fabs(ours - mid) <= fabs(theirs - mid) - GAIT_ARBITER_MARGIN_MS)
                        ret->own_ours[side]++;
                else if (fabs(theirs - mid) <= fabs(ours - mid) - GAIT_ARBITER_MARGIN_MS)
                        ret->own_reference[side]++;
        }
}

int gait_rhythm_arbiter(const GaitReference *ref, const GaitStride *strides, size_t n, GaitArbiter *ret) {
        _cleanup_free_ double *left = NULL, *right = NULL, *offset = NULL, *phase_ref = NULL, *phase_ours = NULL,
                              *period = NULL, *scratch = NULL;
        _cleanup_free_ bool *agree = NULL;
        size_t n_left, n_right, rows, k = 0;
        double off;

        if (!ref || !ret || (n > 0 && !strides))
                return -EINVAL;
        *ret = (GaitArbiter) { .offset_ms = NAN };
        rows = ref->n;
        left = calloc(2 * n + 1, sizeof(double));
        right = calloc(2 * n + 1, sizeof(double));
        offset = calloc(rows + 1, sizeof(double));
        phase_ref = calloc(rows + 1, sizeof(double));
        phase_ours = calloc(rows + 1, sizeof(double));
        period = calloc(rows + 1, sizeof(double));
        scratch = calloc(rows + 13, sizeof(double));
        agree = calloc(rows + 1, sizeof(bool));
        if (!left || !right || !offset || !phase_ref || !phase_ours || !period || !scratch || !agree)
                return -ENOMEM;
        for (FootSide side = 0; side < _FOOT_SIDE_MAX; side++)
                judge_by_own_foot(ref, side, strides, n, ret);
        n_left = foot_contacts(strides, n, FOOT_LEFT, left);
        n_right = foot_contacts(strides, n, FOOT_RIGHT, right);

        /* our contact nearest each reference contact (within 250 ms), and the usual offset between them */
        for (size_t i = 0; i < rows; i++) {
                double r = ref->rows[i].t_s;
                size_t j = first_at_or_after(left, n_left, r);

                offset[i] = NAN;
                if (j < n_left && left[j] - r <= 0.25)
                        offset[i] = left[j] - r;
                if (j > 0 && r - left[j - 1] <= 0.25 && !(fabs(offset[i]) <= r - left[j - 1]))
                        offset[i] = left[j - 1] - r;
                if (fabs(offset[i]) <= 0.05)
                        scratch[k++] = offset[i];
        }
        off = median(scratch, k);
        if (!isfinite(off))
                return 0;
        ret->offset_ms = off * 1000.0;

        /* each contact's phase within the right stride around both placements */
        for (size_t i = 0; i < rows; i++) {
                double r = ref->rows[i].t_s, ours = r + offset[i] - off;
                size_t b;

                period[i] = NAN;
                if (!isfinite(offset[i]))
                        continue;
                b = first_at_or_after(right, n_right, MAX(r, ours));
                if (b == 0 || b >= n_right)
                        continue;
                size_t a = first_at_or_after(right, n_right, MIN(r, ours) + 1e-9);
                if (a == 0)
                        continue;
                double from = right[a - 1], to = right[b];
                if (!(to > from) || to - from > ARBITER_STRIDE_MAX_S)
                        continue;
                period[i] = to - from;
                phase_ref[i] = (r - from) / period[i];
                phase_ours[i] = (ours - from) / period[i];
                agree[i] = fabs(ours - r) * 1000.0 <= GAIT_ARBITER_AGREE_MS;
        }

        for (size_t i = 0; i < rows; i++) {
                if (!isfinite(period[i]) || fabs(phase_ours[i] - phase_ref[i]) * period[i] * 1000.0 < GAIT_ARBITER_DISAGREE_MS)
                        continue;
                double usual = neighbour_phase(phase_ref, agree, rows, i, scratch);
                if (!isfinite(usual))
                        continue;
                double by_ref = fabs(phase_ref[i] - usual) * period[i] * 1000.0;
                double by_ours = fabs(phase_ours[i] - usual) * period[i] * 1000.0;
                ret->disagreements++;
                if (by_ours <= by_ref - GAIT_ARBITER_MARGIN_MS)
                        ret->ours++;
                else if (by_ref <= by_ours - GAIT_ARBITER_MARGIN_MS)
                        ret->reference++;
        }
        return 0;
}
