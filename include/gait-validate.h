/* SPDX-License-Identifier: MIT */
#pragma once

/* Scoring the engine against the gaitndd authors' per-stride reference (.ts), and the targets a
 * record must meet (docs/validation.md). `insole2mqtt analyze --validate` and the CI test share it. */

#include <stdbool.h>
#include <stddef.h>

#include "gait.h"

/* Targets per foot and record. */
#define GAIT_TARGET_STRIDE_PCT 2.0   /* median stride time */
#define GAIT_TARGET_PHASE_PCT 5.0    /* median stance and median swing time */
#define GAIT_TARGET_COUNT_PCT 1.0    /* strides within the reference's span */
#define GAIT_TARGET_MATCH_PCT 95.0   /* reference strides matched by a detected stride ... */
#define GAIT_TARGET_MATCH_MS 20.0    /* ... whose stride time is within this */
/* Reference rows longer than this are stops (the walker stood still, up to 55 s), which the engine by
 * design does not count as strides (gait-engine.c, STRIDE_MAX_US): they are left out of the count and
 * the per-stride comparison, and shown in the table. */
#define GAIT_REFERENCE_STOP_S 8.0

typedef struct GaitReferenceRow {
        double t_s;                  /* the left contact that closes the left stride */
        double stride_s[_FOOT_SIDE_MAX], swing_s[_FOOT_SIDE_MAX], stance_s[_FOOT_SIDE_MAX];
        double double_support_s;
        bool not_a_stride[_FOOT_SIDE_MAX]; /* set by gait_reference_mark_not_strides() */
} GaitReferenceRow;

typedef struct GaitReference {
        GaitReferenceRow *rows;
        size_t n;
} GaitReference;

/* Reads a gaitndd .ts file (13 tab-separated columns per row). Bounded: at most 100000 rows.
 * -EBADMSG on a malformed row, -ENODATA when it has fewer than 2 rows. */
int gait_reference_load(const char *path, GaitReference **ret);
GaitReference *gait_reference_free(GaitReference *r);
/* Marks the rows that the signal shows are not strides of a foot; the scoring leaves them out, as it
 * does stops (docs/validation.md, "Shortfalls and their reasons"). By one rule for every record: a
 * right row that repeats the row before's right stride while the recording's right foot never
 * unloads between the two rows' left contacts (no right contact there, so the `.ts` repeated the
 * last one). And the few rows of `record` read by hand where the rule cannot tell. Returns how many. */
struct GaitRecording; /* gait-recording.h */
size_t gait_reference_mark_not_strides(GaitReference *r, const char *record, const struct GaitRecording *rec);
static inline void gait_reference_freep(GaitReference **r) {
        if (*r)
                gait_reference_free(*r);
}

enum { GAIT_METRIC_STRIDE, GAIT_METRIC_STANCE, GAIT_METRIC_SWING, _GAIT_METRIC_MAX };

typedef struct GaitFootScore {
        size_t ref_strides, strides;          /* rows but stops and rows left out; our strides within the span */
        size_t ref_stops;                     /* reference rows longer than GAIT_REFERENCE_STOP_S */
        size_t ref_left_out;                  /* rows marked not_a_stride (not stops) */
        double count_err_pct;
        double ref_ms[_GAIT_METRIC_MAX], ms[_GAIT_METRIC_MAX], err_pct[_GAIT_METRIC_MAX]; /* medians */
        double match_pct;                     /* reference strides matched within GAIT_TARGET_MATCH_MS */
        /* Stride-time variability of our strides within the span and of the reference's rows (but
         * stops and rows left out): as published (gait_cv_pct(): strides far off the median left out),
         * and plain (SD / mean of all), to show what the published rule spares a reader. */
        double cv_pct, ref_cv_pct, plain_cv_pct, ref_plain_cv_pct;
        /* What the engine says of its own landings (GaitStride.contact_spread_us): the share of our
         * strides within the span whose contact is uncertain, as the gait payload publishes it; and
         * the reference strides paired with one of ours, matched or missed, by whether either of our
         * stride's contacts is uncertain ([1]) or neither ([0]). */
        double uncertain_pct;
        size_t matched_by_certainty[2], missed_by_certainty[2];
} GaitFootScore;

/* Compares strides[0..n) (both feet, any order) with the reference. A left reference stride closes at
 * its row's time; the right stride of a row closes at the last right contact before that time. */
void gait_score_record(const GaitReference *ref, const GaitStride *strides, size_t n, GaitFootScore ret[_FOOT_SIDE_MAX]);

/* Where the engine's contact and the reference's disagree, which of the two the walker's rhythm
 * sides with. By the right foot, for left contacts (the `.ts` gives exact left contacts, right ones
 * as durations only): each left contact is placed by its phase within the right stride around it; a
 * contact where both agree (within GAIT_ARBITER_AGREE_MS, after taking off the median offset
 * between them) gives its neighbours the walker's usual phase there. Of a disagreement
 * (GAIT_ARBITER_DISAGREE_MS or more), the contact closer to the median phase of up to six agreeing
 * contacts on each side wins, if by GAIT_ARBITER_MARGIN_MS or more; otherwise it is undecided. The
 * phase varies from step to step by itself (a robust 10 ms on control walks, up to 130 ms on
 * Huntington's), so a verdict holds only over many contacts: this says which placement is the
 * noisier one, not which contact is true. */
#define GAIT_ARBITER_AGREE_MS 7.0
#define GAIT_ARBITER_DISAGREE_MS 20.0
#define GAIT_ARBITER_MARGIN_MS 10.0
typedef struct GaitArbiter {
        size_t disagreements;        /* contacts that disagree and could be placed */
        size_t ours, reference;      /* which one the rhythm sides with */
        /* The same judged by each foot alone, free of the other foot's contacts, on the strides the
         * scoring pairs (so for the right foot too, whose contacts the `.ts` gives only as
         * durations): where our stride and the reference's differ by d (GAIT_ARBITER_DISAGREE_MS or
         * more) and the next ones by about -d (within GAIT_ARBITER_AGREE_MS), the contact between
         * them is the one they disagree on, and its neighbours agree: it is judged against the
         * midpoint of those neighbours. */
        size_t own_disagreements[_FOOT_SIDE_MAX], own_ours[_FOOT_SIDE_MAX], own_reference[_FOOT_SIDE_MAX];
        double offset_ms;            /* median of (ours - reference) over contacts within 50 ms */
} GaitArbiter;
int gait_rhythm_arbiter(const GaitReference *ref, const GaitStride *strides, size_t n, GaitArbiter *ret);

/* Which targets a foot misses, as a bit mask: 1 << GAIT_METRIC_*, then GAIT_MISS_COUNT, GAIT_MISS_MATCH. */
#define GAIT_MISS_COUNT (1u << _GAIT_METRIC_MAX)
#define GAIT_MISS_MATCH (1u << (_GAIT_METRIC_MAX + 1))
unsigned gait_foot_score_misses(const GaitFootScore *s);

/* Where a record cannot meet a target for a reason in the data itself: the targets (mask as above)
 * that are excused, and why. NULL when nothing is excused. */
const char *gait_known_data_issue(const char *record, FootSide foot, unsigned *ret_targets);
