/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <math.h>
#include <string.h>

#include "exercises.h"
#include "macro.h"

/* Fractions of the per-foot reference load, and times; exercises.h explains the rules. */
#define LOADED_FRACTION 0.25f
#define HEEL_OFF_SHARE 0.10f
#define HEEL_ON_SHARE 0.20f
#define RAISE_MIN_US (150 * USEC_PER_MSEC)
#define RAISE_MAX_US (5 * USEC_PER_SEC)
#define STANCE_ON_FRACTION 0.20f
#define STANCE_OFF_FRACTION 0.10f
#define STANCE_MIN_US (200 * USEC_PER_MSEC)
#define STANCE_MAX_US (2 * USEC_PER_SEC)
#define TOE_PAUSE_US (2 * USEC_PER_SEC)
#define SINGLE_LOAD_FRACTION 0.75f /* of both references together */
#define SINGLE_OTHER_FRACTION 0.10f
#define SINGLE_MIN_US (2 * USEC_PER_SEC)
#define SINGLE_GRACE_US (300 * USEC_PER_MSEC)
#define GAP_RESET_US (2 * USEC_PER_SEC)
#define LEARN_SAMPLES 100U

void exercise_detector_init(ExerciseDetector *d) {
        *d = (ExerciseDetector) {};
}

void exercise_detector_set_reference(ExerciseDetector *d, float left, float right) {
        if (left > 0 && right > 0 && isfinite(left) && isfinite(right)) {
                d->reference[FOOT_LEFT] = left;
                d->reference[FOOT_RIGHT] = right;
                d->reference_fixed = true;
        } else {
                d->reference[FOOT_LEFT] = d->reference[FOOT_RIGHT] = 0;
                d->reference_fixed = false;
                d->learn_acc[FOOT_LEFT] = d->learn_acc[FOOT_RIGHT] = 0;
                d->learn_n = 0;
        }
}

static void push(ExerciseDetector *d, ExerciseEventType type, ExerciseKind kind, uint64_t t, uint64_t duration) {
        if (d->queue_len == EXERCISE_EVENT_QUEUE) {
                d->queue_head = (d->queue_head + 1) % EXERCISE_EVENT_QUEUE;
                d->queue_len--;
                d->dropped++;
        }
        d->queue[(d->queue_head + d->queue_len++) % EXERCISE_EVENT_QUEUE] = (ExerciseEvent) {
                .type = type,
                .kind = kind,
                .t_us = t,
                .duration_us = duration,
        };
}

bool exercise_detector_take_event(ExerciseDetector *d, ExerciseEvent *ret) {
        if (d->queue_len == 0)
                return false;
        *ret = d->queue[d->queue_head];
        d->queue_head = (d->queue_head + 1) % EXERCISE_EVENT_QUEUE;
        d->queue_len--;
        return true;
}

static float heel_share(const FootLoad *f) {
        if (!(f->total > 0))
                return 0;
        return MAX(f->region[REGION_HEEL], 0.0f) / f->total;
}

static void end_toe_walking(ExerciseDetector *d) {
        if (d->toe_walking) {
                uint64_t dur = d->last_stance_end_us > d->toe_first_start_us ? d->last_stance_end_us - d->toe_first_start_us : 0;
                d->toe_walking_us += dur;
                push(d, EXERCISE_EVENT_ENDED, EXERCISE_TOE_WALKING, d->last_stance_end_us, dur);
        }
        d->toe_walking = false;
        d->toe_stances_in_row = 0;
}

static void end_single_leg(ExerciseDetector *d, uint64_t end) {
        if (d->single_active) {
                uint64_t dur = end > d->single_since_us ? end - d->single_since_us : 0;
                ExerciseKind k = d->single_side == FOOT_LEFT ? EXERCISE_SINGLE_LEG_LEFT : EXERCISE_SINGLE_LEG_RIGHT;
                d->single_leg_us[d->single_side] += dur;
                push(d, EXERCISE_EVENT_ENDED, k, end, dur);
        }
        d->single_active = false;
        d->single_candidate = false;
}

void exercise_detector_flush(ExerciseDetector *d) {
        end_toe_walking(d);
        end_single_leg(d, d->single_last_us);
        d->raise_phase = 0;
        d->in_stance[FOOT_LEFT] = d->in_stance[FOOT_RIGHT] = false;
        d->have_last = false;
}

static void learn(ExerciseDetector *d, const FootLoad *f[_FOOT_SIDE_MAX]) {
        float sum = f[FOOT_LEFT]->total + f[FOOT_RIGHT]->total;

        if (d->reference_fixed || !(sum > 0))
                return;
        /* Quiet double stance only: neither foot carries most of the load. */
        if (f[FOOT_LEFT]->total < 0.3f * sum || f[FOOT_RIGHT]->total < 0.3f * sum)
                return;
        if (d->learn_n < LEARN_SAMPLES) {
                d->learn_acc[FOOT_LEFT] += f[FOOT_LEFT]->total;
                d->learn_acc[FOOT_RIGHT] += f[FOOT_RIGHT]->total;
                if (++d->learn_n == LEARN_SAMPLES)
                        for (FootSide s = 0; s < _FOOT_SIDE_MAX; s++)
                                d->reference[s] = d->learn_acc[s] / (float) LEARN_SAMPLES;
                return;
        }
        for (FootSide s = 0; s < _FOOT_SIDE_MAX; s++)
                d->reference[s] += (f[s]->total - d->reference[s]) * 0.001f;
}

static void feed_calf_raise(ExerciseDetector *d, const FootLoad *f[_FOOT_SIDE_MAX], uint64_t t) {
        bool loaded = f[FOOT_LEFT]->total >= LOADED_FRACTION * d->reference[FOOT_LEFT] &&
                      f[FOOT_RIGHT]->total >= LOADED_FRACTION * d->reference[FOOT_RIGHT];
        float hl = heel_share(f[FOOT_LEFT]), hr = heel_share(f[FOOT_RIGHT]);
        bool flat = loaded && hl >= HEEL_ON_SHARE && hr >= HEEL_ON_SHARE;
        bool raised = loaded && hl < HEEL_OFF_SHARE && hr < HEEL_OFF_SHARE;

        if (!loaded) {
                d->raise_phase = 0;
                return;
        }
        switch (d->raise_phase) {
        case 0:
                if (flat)
                        d->raise_phase = 1;
                break;
        case 1:
                if (raised) {
                        d->raise_phase = 2;
                        d->raise_since_us = d->raise_last_us = t;
                }
                break;
        case 2:
                if (raised)
                        d->raise_last_us = t;
                if (flat) {
                        uint64_t held = d->raise_last_us - d->raise_since_us;
                        if (held >= RAISE_MIN_US) {
                                d->calf_raises++;
                                push(d, EXERCISE_EVENT_REPETITION, EXERCISE_CALF_RAISES, t, held);
                        }
                        d->raise_phase = 1;
                } else if (t - d->raise_since_us > RAISE_MAX_US)
                        d->raise_phase = 0; /* holding on the toes (or toe standing): not a repetition */
                break;
        }
}

static void stance_ended(ExerciseDetector *d, FootSide s, uint64_t t) {
        uint64_t dur = t - d->stance_start_us[s];
        bool toe = d->stance_heel_max_share[s] < HEEL_OFF_SHARE;

        if (dur < STANCE_MIN_US || dur > STANCE_MAX_US) {
                /* Not a step: standing or a twitch. */
                end_toe_walking(d);
                return;
        }
        if (!toe) {
                end_toe_walking(d);
                d->last_stance_end_us = t;
                return;
        }
        if (d->toe_stances_in_row > 0 && (d->last_toe_side == s || d->stance_start_us[s] > d->last_stance_end_us + TOE_PAUSE_US))
                end_toe_walking(d);
        if (d->toe_stances_in_row == 0)
                d->toe_first_start_us = d->stance_start_us[s];
        d->toe_stances_in_row++;
        d->last_toe_side = s;
        d->last_stance_end_us = t;
        if (d->toe_stances_in_row >= 2 && !d->toe_walking) {
                d->toe_walking = true;
                push(d, EXERCISE_EVENT_STARTED, EXERCISE_TOE_WALKING, d->toe_first_start_us, 0);
        }
}

static void feed_stances(ExerciseDetector *d, const FootLoad *f[_FOOT_SIDE_MAX], uint64_t t) {
        for (FootSide s = 0; s < _FOOT_SIDE_MAX; s++) {
                float on = STANCE_ON_FRACTION * d->reference[s], off = STANCE_OFF_FRACTION * d->reference[s];

                if (!d->in_stance[s]) {
                        if (f[s]->total >= on) {
                                d->in_stance[s] = true;
                                d->stance_start_us[s] = t;
                                d->stance_heel_max_share[s] = heel_share(f[s]);
                        }
                } else if (f[s]->total < off) {
                        d->in_stance[s] = false;
                        stance_ended(d, s, t);
                } else if (f[s]->total >= on)
                        d->stance_heel_max_share[s] = MAX(d->stance_heel_max_share[s], heel_share(f[s]));
        }
        if (d->toe_walking && t > d->last_stance_end_us + TOE_PAUSE_US)
                end_toe_walking(d);
}

static void feed_single_leg(ExerciseDetector *d, const FootLoad *f[_FOOT_SIDE_MAX], uint64_t t) {
        float both = d->reference[FOOT_LEFT] + d->reference[FOOT_RIGHT];
        int side = -1;

        for (FootSide s = 0; s < _FOOT_SIDE_MAX; s++) {
                FootSide o = s == FOOT_LEFT ? FOOT_RIGHT : FOOT_LEFT;
                if (f[s]->total >= SINGLE_LOAD_FRACTION * both && f[o]->total < SINGLE_OTHER_FRACTION * d->reference[o])
                        side = s;
        }

        if (side >= 0 && (!d->single_candidate || d->single_side != (FootSide) side)) {
                end_single_leg(d, d->single_last_us);
                d->single_candidate = true;
                d->single_side = (FootSide) side;
                d->single_since_us = t;
        }
        if (side >= 0) {
                d->single_last_us = t;
                if (!d->single_active && t - d->single_since_us >= SINGLE_MIN_US) {
                        d->single_active = true;
                        push(d, EXERCISE_EVENT_STARTED,
                             side == FOOT_LEFT ? EXERCISE_SINGLE_LEG_LEFT : EXERCISE_SINGLE_LEG_RIGHT, d->single_since_us, 0);
                }
        } else if (d->single_candidate && t - d->single_last_us > SINGLE_GRACE_US)
                end_single_leg(d, d->single_last_us);
}

int exercise_detector_feed(ExerciseDetector *d, const FootLoad *left, const FootLoad *right, bool standing) {
        const FootLoad *f[_FOOT_SIDE_MAX] = { left, right };
        uint64_t t;

        if (!d || !left || !right)
                return -EINVAL;
        if (!isfinite(left->total) || !isfinite(right->total) || !isfinite(left->region[REGION_HEEL]) ||
            !isfinite(right->region[REGION_HEEL]))
                return -EINVAL;
        t = MAX(left->t_us, right->t_us);
        if (d->have_last && t < d->last_t_us)
                return -EINVAL;
        if (d->have_last && t - d->last_t_us > GAP_RESET_US)
                exercise_detector_flush(d);
        d->last_t_us = t;
        d->have_last = true;

        if (standing)
                learn(d, f);
        if (!(d->reference[FOOT_LEFT] > 0) || !(d->reference[FOOT_RIGHT] > 0))
                return 0;

        feed_calf_raise(d, f, t);
        feed_stances(d, f, t);
        feed_single_leg(d, f, t);
        return 0;
}
