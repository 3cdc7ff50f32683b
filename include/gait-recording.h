/* SPDX-License-Identifier: MIT */
#pragma once

/* Offline recordings for `insole2mqtt analyze` and the validation tests. Unlike the engine this part
 * reads files; it produces the same PressureSamples a live insole would and feeds them through the
 * same engine.
 *
 * Formats:
 *   gaitpdb  PhysioNet "Gait in Parkinson's Disease" text: time + 8 sensors per foot in newtons,
 *            100 Hz. Sensor positions mapped to insole coordinates as docs/metrics.md documents.
 *   gaitndd  PhysioNet "Gait in Neurodegenerative Disease" WFDB record: <base>.hea + <base>.let
 *            (left) + <base>.rit (right), format 212, one raw force signal per foot. -2048 samples
 *            (WFDB "invalid") become NAN, which the engine bridges with the last valid value. */

#include <stddef.h>
#include <stdint.h>

#include "gait.h"
#include "json.h"

typedef enum GaitRecordingFormat {
        GAIT_RECORDING_GAITPDB,
        GAIT_RECORDING_GAITNDD,
        _GAIT_RECORDING_FORMAT_MAX,
} GaitRecordingFormat;

typedef struct GaitRecording {
        GaitRecordingFormat format;
        InsoleLayout layout[_FOOT_SIDE_MAX];
        size_t n[_FOOT_SIDE_MAX];
        uint64_t *t_us[_FOOT_SIDE_MAX];  /* n entries, from 0 */
        float *cells[_FOOT_SIDE_MAX];    /* n x layout.n_cells */
} GaitRecording;

/* path: a gaitpdb .txt file, or any of a gaitndd record's .hea/.let/.rit files or its base name. */
int gait_recording_load(const char *path, GaitRecording **ret);
GaitRecording *gait_recording_free(GaitRecording *r);
static inline void gait_recording_freep(GaitRecording **r) {
        if (*r)
                gait_recording_free(*r);
}

/* The layout analyze uses for gaitpdb's 8 sensors. */
void gait_gaitpdb_layout(FootSide side, InsoleLayout *ret);

/* Runs the engine over the whole recording (both feet merged in time order) and returns every
 * stride, ordered by completion; *ret_strides is freed by the caller. */
int gait_recording_analyze(const GaitRecording *rec, const GaitParams *params,
                           GaitStride **ret_strides, size_t *ret_n);
/* The same, also returning the engine's snapshot at the end of the recording (ret_snapshot may be
 * NULL). The daily window covers the whole recording. */
int gait_recording_run(const GaitRecording *rec, const GaitParams *params,
                       GaitStride **ret_strides, size_t *ret_n, GaitSnapshot *ret_snapshot);

/* One analyze line per stride, and the final {"summary": ...} line. */
void gait_stride_to_json(const GaitStride *s, PressureUnit unit, JsonWriter *w);
/* quality: the engine's per-foot signal quality at the end of the recording (NULL: left out). */
int gait_summary_to_json(const GaitStride *strides, size_t n, PressureUnit unit, const GaitFootQuality *quality, JsonWriter *w);
