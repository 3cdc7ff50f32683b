/* SPDX-License-Identifier: MIT */
#pragma once

/* Shared between the engine, its statistics and the offline analyser; not a public contract. */

#include <stddef.h>

#include "gait.h"

/* A foot whose load is below this share of (loaded - baseline) is in the air: the engine's release
 * level, and what the validation takes for "unloaded". */
#define GAIT_TH_RELEASE 0.15f

/* foot_load_compute() of cell values that are forces already, whatever the layout's unit. */
int foot_load_from_forces(const InsoleLayout *layout, const PressureSample *sample, FootLoad *ret);

/* Median of v[0..n) (reorders v). NAN when n == 0. */
float gait_median(float *v, size_t n);
/* Stride-time variability: the coefficient of variation (sample SD / mean x 100) of the values of
 * v[0..n) within GAIT_CV_OUTLIER_SDS robust standard deviations (GAIT_MAD_TO_SD x the median absolute
 * deviation) of their median, that band being at least GAIT_CV_BAND_MIN_SHARE of the median on either
 * side. A stop, a turn, or one missed or split contact is not variability of the walk's rhythm, and
 * one such stride in a minute would multiply its CV (docs/metrics.md). Sorts v. NAN when fewer than
 * 2 values are in the band. */
#define GAIT_CV_OUTLIER_SDS 3.0f   /* the Hampel identifier's usual 3 */
#define GAIT_MAD_TO_SD 1.4826f     /* MAD to SD for normally distributed values */
/* A regular walk sampled at 100-300 Hz has many equal stride times (a MAD of 0): keep its strides. */
#define GAIT_CV_BAND_MIN_SHARE 0.03f
float gait_cv_pct(float *v, size_t n);
/* The band of gait_cv_pct() around median m with median absolute deviation mad: half its width. */
static inline float gait_cv_band(float m, float mad) {
        float band = GAIT_CV_OUTLIER_SDS * GAIT_MAD_TO_SD * mad;
        return band > GAIT_CV_BAND_MIN_SHARE * m ? band : GAIT_CV_BAND_MIN_SHARE * m;
}

/* One text row of n whitespace-separated finite numbers into v: 1; a blank line: 0; anything else
 * (fewer numbers, a non-number, NaN/inf): -EBADMSG. Text after the n numbers is ignored. */
int gait_parse_row(const char *line, double *v, unsigned n);
