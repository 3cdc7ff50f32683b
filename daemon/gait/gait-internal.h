/* SPDX-License-Identifier: MIT */
#pragma once

/* Shared between the engine, its statistics and the offline analyser; not a public contract. */

#include <stddef.h>

#include "gait.h"

/* Median of v[0..n) (reorders v). NAN when n == 0. */
float gait_median(float *v, size_t n);
/* Coefficient of variation (sample SD / mean x 100) of v[0..n). NAN when n < 2. */
float gait_cv_pct(const float *v, size_t n);

/* Summarises strides[0..n) (any order, both feet) into *ret. scratch holds at least n floats.
 * steps: number of initial contacts behind the strides (0: derived from the strides). */
void gait_summarize_strides(const GaitStride *strides, size_t n, float *scratch, GaitWindowSummary *ret);
