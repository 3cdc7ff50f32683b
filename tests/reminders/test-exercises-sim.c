/* SPDX-License-Identifier: MIT */
/* The exercise detector against the simulator's gait model (tests/sim/gait-model.h), with the gait
 * engine's foot_load_compute() in between: calf raises, toe walking and single-leg standing must be
 * counted as the model performs them, and ordinary walking must not count as any of them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>

#include "exercises.h"
#include "gait-model.h"
#include "gait.h"
#include "macro.h"

#define RATE_HZ 100
#define DT_US (USEC_PER_SEC / RATE_HZ)

typedef struct Run {
        GaitModel *model;
        ExerciseDetector det;
        uint64_t t;
        unsigned reps;
        unsigned started[_EXERCISE_KIND_MAX];
        unsigned ended[_EXERCISE_KIND_MAX];
        uint64_t duration[_EXERCISE_KIND_MAX];
} Run;

static void sample_for(Run *r, GaitMode mode, double seconds, bool standing_hint) {
        GaitModelParams p = *gait_model_get_params(r->model);
        p.mode = mode;
        gait_model_set_params(r->model, &p);

        for (double s = 0; s < seconds; s += 1.0 / RATE_HZ, r->t += DT_US) {
                PressureSample ps[_FOOT_SIDE_MAX];
                FootLoad fl[_FOOT_SIDE_MAX];
                ExerciseEvent e;

                for (FootSide side = 0; side < _FOOT_SIDE_MAX; side++) {
                        gait_model_sample(r->model, side, r->t, &ps[side]);
                        assert_int_equal(foot_load_compute(gait_model_layout(r->model, side), &ps[side], &fl[side]), 0);
                }
                bool standing = standing_hint && gait_model_current_mode(r->model, FOOT_LEFT) == GAIT_MODE_STANDING;
                assert_int_equal(exercise_detector_feed(&r->det, &fl[FOOT_LEFT], &fl[FOOT_RIGHT], standing), 0);
                while (exercise_detector_take_event(&r->det, &e)) {
                        if (e.type == EXERCISE_EVENT_REPETITION)
                                r->reps++;
                        else if (e.type == EXERCISE_EVENT_STARTED)
                                r->started[e.kind]++;
                        else if (e.type == EXERCISE_EVENT_ENDED) {
                                r->ended[e.kind]++;
                                r->duration[e.kind] += e.duration_us;
                        }
                }
        }
}

static void run_init(Run *r, double noise, uint64_t seed) {
        GaitModelParams p = { .mode = GAIT_MODE_STANDING, .noise = noise, .seed = seed };
        *r = (Run) { .t = USEC_PER_SEC };
        assert_int_equal(gait_model_new(&p, &r->model), 0);
        exercise_detector_init(&r->det);
        /* The reference is learnt from quiet standing, as in the daemon without a configured weight. */
        sample_for(r, GAIT_MODE_STANDING, 5, true);
        assert_true(r->det.reference[FOOT_LEFT] > 0 && r->det.reference[FOOT_RIGHT] > 0);
}

static void check_session(double noise, uint64_t seed) {
        Run r;

        run_init(&r, noise, seed);

        /* 30 s of calf raises at the model's 40 per minute: 20 repetitions. */
        sample_for(&r, GAIT_MODE_CALF_RAISES, 30, false);
        sample_for(&r, GAIT_MODE_STANDING, 3, false);
        print_message("# noise %.2f: %u calf raises (expected about 20)\n", noise, r.reps);
        assert_in_range(r.reps, 19, 21);

        /* Walking: no repetitions, no toe walking. */
        unsigned reps = r.reps;
        sample_for(&r, GAIT_MODE_WALKING, 30, false);
        sample_for(&r, GAIT_MODE_STANDING, 3, false);
        assert_int_equal(r.reps, reps);
        assert_int_equal(r.started[EXERCISE_TOE_WALKING], 0);
        assert_int_equal(r.started[EXERCISE_SINGLE_LEG_LEFT] + r.started[EXERCISE_SINGLE_LEG_RIGHT], 0);

        /* 20 s of toe walking (entered from walking, left into standing). */
        sample_for(&r, GAIT_MODE_WALKING, 5, false);
        sample_for(&r, GAIT_MODE_TOE_WALKING, 20, false);
        sample_for(&r, GAIT_MODE_STANDING, 4, false);
        double toe_s = (double) r.duration[EXERCISE_TOE_WALKING] / 1e6;
        print_message("# noise %.2f: toe walking %.1f s (expected about 20)\n", noise, toe_s);
        assert_int_equal(r.ended[EXERCISE_TOE_WALKING], 1);
        assert_true(toe_s > 17.5 && toe_s < 21.5);
        assert_int_equal(r.reps, reps);

        /* Single-leg standing, 10 s each side. */
        sample_for(&r, GAIT_MODE_SINGLE_LEG_LEFT, 10, false);
        sample_for(&r, GAIT_MODE_STANDING, 3, false);
        sample_for(&r, GAIT_MODE_SINGLE_LEG_RIGHT, 10, false);
        sample_for(&r, GAIT_MODE_STANDING, 3, false);
        double left_s = (double) r.duration[EXERCISE_SINGLE_LEG_LEFT] / 1e6;
        double right_s = (double) r.duration[EXERCISE_SINGLE_LEG_RIGHT] / 1e6;
        print_message("# noise %.2f: single leg %.1f s left, %.1f s right (expected about 10 each)\n", noise, left_s, right_s);
        assert_int_equal(r.ended[EXERCISE_SINGLE_LEG_LEFT], 1);
        assert_int_equal(r.ended[EXERCISE_SINGLE_LEG_RIGHT], 1);
        assert_true(left_s > 8.5 && left_s < 11.5);
        assert_true(right_s > 8.5 && right_s < 11.5);
        assert_int_equal(r.reps, reps);

        /* Sitting, then running: nothing. */
        sample_for(&r, GAIT_MODE_SITTING, 20, false);
        sample_for(&r, GAIT_MODE_RUNNING, 20, false);
        sample_for(&r, GAIT_MODE_STANDING, 3, false);
        assert_int_equal(r.reps, reps);
        assert_int_equal(r.started[EXERCISE_TOE_WALKING], 1);

        gait_model_free(r.model);
}

static void test_model_exact(void **state) {
        check_session(0, 1);
}

static void test_model_noisy(void **state) {
        check_session(0.05, 7);
        check_session(0.10, 99);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_model_exact),
                cmocka_unit_test(test_model_noisy),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
