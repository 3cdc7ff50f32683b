/* SPDX-License-Identifier: MIT */
#pragma once

/* The day-level gait metrics a wearer's history keeps and the alerts can watch (docs/alerts.md).
 * One X-macro list, so that the configuration ([alerts] metrics) and the alerts module agree on
 * names and order without linking to each other.
 *
 * X(id, name, unit, decimals, lo, hi, day_sd, stride_sd, alertable, watched_by_default)
 *   lo..hi      plausible range: a persisted value outside it is refused
 *   day_sd      typical spread between days of healthy adults (docs/alerts.md): the prior a new
 *               wearer's own spread is pooled with, and half of it is the smallest spread assumed
 *   stride_sd   spread of a running value per stride, as stride_sd / sqrt(strides): how far the
 *               first strides of a day may sit from the day's value (walking bouts differ)
 *   alertable   0 for balance figures that do not come from strides
 *
 * Append only: the history file stores a day's values as an array in this order, and rows written
 * before a metric existed are shorter (alerts.c reads the missing ones as unknown). */

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include "string-table.h"

#define GAIT_METRICS(X)                                                                                  \
        X(CADENCE, "cadence", "steps/min", 1, 0, 300, 2.5, 80, 1, 1)                                     \
        X(STRIDE_TIME, "stride_time", "ms", 0, 0, 10000, 25, 800, 1, 0)                                  \
        X(STANCE_TIME, "stance_time", "ms", 0, 0, 10000, 15, 500, 1, 0)                                  \
        X(SWING_TIME, "swing_time", "ms", 0, 0, 10000, 10, 350, 1, 0)                                    \
        X(STRIDE_TIME_CV, "stride_time_cv", "%", 2, 0, 100, 0.4, 5, 1, 1)                                \
        X(STEP_TIME_SI, "step_time_si", "%", 2, 0, 200, 0.8, 12, 1, 0)                                   \
        X(STANCE_TIME_SI, "stance_time_si", "%", 2, 0, 200, 0.8, 14, 1, 0)                               \
        X(SWING_TIME_SI, "swing_time_si", "%", 2, 0, 200, 1.2, 20, 1, 0)                                 \
        X(HEEL_STRIKE, "heel_strike_share", "%", 1, 0, 100, 5, 60, 1, 0)                                 \
        X(MIDFOOT_STRIKE, "midfoot_strike_share", "%", 1, 0, 100, 5, 60, 1, 0)                           \
        X(FOREFOOT_STRIKE, "forefoot_strike_share", "%", 1, 0, 100, 5, 60, 1, 0)                         \
        X(FLAT_STRIKE, "flat_strike_share", "%", 1, 0, 100, 5, 60, 1, 0)                                 \
        X(ROLL, "roll_forward", "%", 1, 0, 100, 2, 30, 1, 0)                                             \
        X(ML_INDEX, "ml_index", "", 3, -1, 1, 0.02, 0.4, 1, 1)                                           \
        X(SWAY_PATH, "sway_path", "%/s", 2, 0, 10000, 0, 0, 0, 0)                                        \
        X(LEFT_SHARE, "left_share", "%", 1, 0, 100, 0, 0, 0, 0)                                          \
        X(STEP_TIME_ASYM, "step_time_asym", "%", 2, -200, 200, 0.8, 12, 1, 1)                            \
        X(STANCE_TIME_ASYM, "stance_time_asym", "%", 2, -200, 200, 0.8, 14, 1, 1)

typedef enum GaitMetric {
#define GAIT_METRIC_ENUM(id, ...) GAIT_METRIC_##id,
        GAIT_METRICS(GAIT_METRIC_ENUM)
#undef GAIT_METRIC_ENUM
        _GAIT_METRIC_MAX,
        _GAIT_METRIC_INVALID = -1,
} GaitMetric;

typedef struct GaitMetricInfo {
        const char *name;
        const char *unit;
        int decimals;
        double lo, hi;
        double day_sd;
        double stride_sd;
        bool alertable;
        bool watched_by_default;
} GaitMetricInfo;

static inline const GaitMetricInfo *gait_metric_info(GaitMetric m) {
        static const GaitMetricInfo table[_GAIT_METRIC_MAX] = {
#define GAIT_METRIC_INFO(id, n, u, d, l, h, f, s, a, w) [GAIT_METRIC_##id] = { n, u, d, l, h, f, s, a, w },
                GAIT_METRICS(GAIT_METRIC_INFO)
#undef GAIT_METRIC_INFO
        };
        if ((int) m < 0 || m >= _GAIT_METRIC_MAX)
                return NULL;
        return &table[m];
}

static inline const char *gait_metric_to_string(GaitMetric m) {
        const GaitMetricInfo *i = gait_metric_info(m);
        return i ? i->name : NULL;
}

static inline GaitMetric gait_metric_from_string(const char *s) {
        for (GaitMetric m = 0; m < _GAIT_METRIC_MAX; m++)
                if (s && strcmp(gait_metric_info(m)->name, s) == 0)
                        return m;
        return _GAIT_METRIC_INVALID;
}

/* Bit set of metrics, bit m = GaitMetric m. */
static inline unsigned gait_metrics_default_watched(void) {
        unsigned bits = 0;
        for (GaitMetric m = 0; m < _GAIT_METRIC_MAX; m++)
                if (gait_metric_info(m)->watched_by_default)
                        bits |= 1u << m;
        return bits;
}

typedef enum AlertSensitivity {
        ALERT_SENSITIVITY_LOW,
        ALERT_SENSITIVITY_NORMAL,
        ALERT_SENSITIVITY_HIGH,
        _ALERT_SENSITIVITY_MAX,
        _ALERT_SENSITIVITY_INVALID = -EINVAL,
} AlertSensitivity;

static const char *const alert_sensitivity_table[_ALERT_SENSITIVITY_MAX] = { "low", "normal", "high" };

_DEFINE_STRING_TABLE_LOOKUP_TO_STRING(alert_sensitivity, AlertSensitivity, static inline)
_DEFINE_STRING_TABLE_LOOKUP_FROM_STRING(alert_sensitivity, AlertSensitivity, static inline)
