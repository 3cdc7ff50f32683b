/* SPDX-License-Identifier: MIT */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "gait-internal.h"
#include "macro.h"

static int float_cmp(const void *a, const void *b) {
        float x = *(const float *) a, y = *(const float *) b;
        return (x > y) - (x < y);
}

float gait_median(float *v, size_t n) {
        if (n == 0)
                return NAN;
        qsort(v, n, sizeof(float), float_cmp);
        if (n % 2)
                return v[n / 2];
        return 0.5f * (v[n / 2 - 1] + v[n / 2]);
}

/* The median absolute deviation from med of sorted v[0..n): the deviations grow outwards from med
 * on both sides, so the two sides are merged up to the middle rank. */
static float sorted_mad(const float *v, size_t n, float med) {
        size_t left = 0, right, rank_lo = (n - 1) / 2, rank_hi = n / 2;
        float at_lo = 0, dev = 0;

        while (left < n && v[left] < med)
                left++;
        right = left; /* v[left - 1] is the nearest below med, v[right] the nearest at or above */
        for (size_t rank = 0; rank <= rank_hi; rank++) {
                if (right >= n || (left > 0 && med - v[left - 1] < v[right] - med))
                        dev = med - v[--left];
                else
                        dev = v[right++] - med;
                if (rank == rank_lo)
                        at_lo = dev;
        }
        return 0.5f * (at_lo + dev);
}

float gait_cv_pct(float *v, size_t n) {
        double sum = 0, sq = 0, mean;
        size_t k = 0;

        if (n < 2)
                return NAN;
        float med = gait_median(v, n); /* sorts v */
        float band = gait_cv_band(med, sorted_mad(v, n, med));
        for (size_t i = 0; i < n; i++)
                if (fabsf(v[i] - med) <= band) {
                        sum += v[i];
                        k++;
                }
        if (k < 2)
                return NAN;
        mean = sum / k;
        if (mean <= 0)
                return NAN;
        for (size_t i = 0; i < n; i++)
                if (fabsf(v[i] - med) <= band)
                        sq += (v[i] - mean) * (v[i] - mean);
        return (float) (sqrt(sq / (k - 1)) / mean * 100.0);
}

float gait_symmetry_index(float left, float right) {
        return fabsf(gait_asymmetry_signed(left, right));
}

/* Collects one field of the strides that pass the filter into scratch and returns its median. */
#define COLLECT(field_expr, cond)                                               \
        __extension__({                                                         \
                size_t _k = 0;                                                  \
                for (size_t _i = 0; _i < n; _i++) {                             \
                        const GaitStride *s = &strides[_i];                     \
                        if (cond) {                                             \
                                float _v = (field_expr);                        \
                                if (isfinite(_v))                               \
                                        scratch[_k++] = _v;                     \
                        }                                                       \
                }                                                               \
                _k;                                                             \
        })

static void summarize_foot(const GaitStride *strides, size_t n, float *scratch, FootSide side, GaitFootSummary *f) {
        size_t k;

        *f = (GaitFootSummary) {};
        k = COLLECT(s->stride_us / 1000.0f, s->foot == side);
        f->strides = k;
        size_t uncertain = 0;
        for (size_t i = 0; i < n; i++)
                uncertain += strides[i].foot == side && gait_contact_uncertain(&strides[i]);
        f->uncertain_contacts_pct = k > 0 ? 100.0f * uncertain / k : NAN;
        f->stride_time_cv_pct = gait_cv_pct(scratch, k);
        f->stride_time_ms = gait_median(scratch, k);
        k = COLLECT(s->stance_us / 1000.0f, s->foot == side);
        f->stance_time_ms = gait_median(scratch, k);
        k = COLLECT(s->swing_us / 1000.0f, s->foot == side);
        f->swing_time_ms = gait_median(scratch, k);
        k = COLLECT(100.0f * s->stance_us / s->stride_us, s->foot == side);
        f->stance_pct = gait_median(scratch, k);
        k = COLLECT(100.0f * s->swing_us / s->stride_us, s->foot == side);
        f->swing_pct = gait_median(scratch, k);
        k = COLLECT(s->step_us / 1000.0f, s->foot == side && s->step_us >= 0);
        f->step_time_ms = gait_median(scratch, k);

        k = COLLECT(s->stance.peak_total, s->foot == side && s->stance.valid);
        f->stance_strides = k;
        f->peak_total = gait_median(scratch, k);
        for (size_t i = 0; i < _REGION_MAX; i++)
                f->load_share_pct[i] = NAN;
        f->peak_heel = f->heel_loading_rate = f->push_peak = NAN;
        f->cop_start_x = f->cop_end_x = f->cop_forward_fraction = f->ml_index = NAN;
        if (k == 0)
                return;

        for (size_t i = 0; i < n; i++)
                if (strides[i].foot == side && strides[i].stance.valid)
                        f->strikes[strides[i].stance.strike]++;
        k = COLLECT(s->stance.peak_heel, s->foot == side && s->stance.valid);
        f->peak_heel = gait_median(scratch, k);
        k = COLLECT(s->stance.heel_loading_rate, s->foot == side && s->stance.valid);
        f->heel_loading_rate = gait_median(scratch, k);
        k = COLLECT(s->stance.push_peak, s->foot == side && s->stance.valid);
        f->push_peak = gait_median(scratch, k);
        k = COLLECT(s->stance.cop_start_x, s->foot == side && s->stance.valid);
        f->cop_start_x = gait_median(scratch, k);
        k = COLLECT(s->stance.cop_end_x, s->foot == side && s->stance.valid);
        f->cop_end_x = gait_median(scratch, k);
        k = COLLECT(s->stance.cop_forward_fraction, s->foot == side && s->stance.valid);
        f->cop_forward_fraction = gait_median(scratch, k);
        k = COLLECT(s->stance.ml_index, s->foot == side && s->stance.valid);
        f->ml_index = gait_median(scratch, k);
        for (size_t r = 0; r < _REGION_MAX; r++) {
                double sum = 0;
                size_t m = 0;
                for (size_t i = 0; i < n; i++)
                        if (strides[i].foot == side && strides[i].stance.valid) {
                                sum += strides[i].stance.load_share[r];
                                m++;
                        }
                f->load_share_pct[r] = m > 0 ? (float) (100.0 * sum / m) : NAN;
        }
}

void gait_summarize_strides(const GaitStride *strides, size_t n, float *scratch, GaitWindowSummary *ret) {
        GaitWindowSummary w = {};
        size_t k, flights = 0;

        for (FootSide side = 0; side < _FOOT_SIDE_MAX; side++)
                summarize_foot(strides, n, scratch, side, &w.foot[side]);

        /* Every stride ends with a contact of its foot; the count of contacts is the count of steps. */
        w.steps = n;
        k = COLLECT(s->stride_us / 1000.0f, true);
        w.stride_time_cv_pct = gait_cv_pct(scratch, k);
        w.stride_time_ms = gait_median(scratch, k);
        w.cadence_spm = k > 0 && w.stride_time_ms > 0 ? 120000.0f / w.stride_time_ms : NAN;
        k = COLLECT(s->double_support_us / 1000.0f, s->double_support_us >= 0);
        w.double_support_ms = gait_median(scratch, k);
        k = COLLECT(100.0f * s->double_support_us / s->stride_us, s->double_support_us >= 0);
        w.double_support_pct = gait_median(scratch, k);
        for (size_t i = 0; i < n; i++)
                flights += strides[i].flight;
        w.flight_share_pct = n > 0 ? 100.0f * flights / n : NAN;

        const GaitFootSummary *l = &w.foot[FOOT_LEFT], *r = &w.foot[FOOT_RIGHT];
        w.symmetry = (GaitSymmetry) {
                .step_time_pct = gait_symmetry_index(l->step_time_ms, r->step_time_ms),
                .stance_time_pct = gait_symmetry_index(l->stance_time_ms, r->stance_time_ms),
                .swing_time_pct = gait_symmetry_index(l->swing_time_ms, r->swing_time_ms),
                .peak_load_pct = gait_symmetry_index(l->peak_total, r->peak_total),
                .strides_left = l->strides,
                .strides_right = r->strides,
        };
        *ret = w;
}
