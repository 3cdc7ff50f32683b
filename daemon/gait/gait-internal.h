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
/* Coefficient of variation (sample SD / mean x 100) of v[0..n). NAN when n < 2. */
float gait_cv_pct(const float *v, size_t n);

/* One text row of n whitespace-separated finite numbers into v: 1; a blank line: 0; anything else
 * (fewer numbers, a non-number, NaN/inf): -EBADMSG. Text after the n numbers is ignored. */
int gait_parse_row(const char *line, double *v, unsigned n);
