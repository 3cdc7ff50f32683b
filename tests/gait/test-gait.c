/* SPDX-License-Identifier: MIT */
/* Engine unit tests: foot load, formulas, and synthetic walks from the simulator's gait model
 * (tests/sim/gait-model.h) whose ground truth (events, steps, injected asymmetry, pronation, flat
 * landing, cadence) the engine must recover within the tolerances stated at each test. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "gait-test-util.h"
#include "gait.h"
#include "json-parse.h"
#include "macro.h"

#define RATE_HZ 100.0

/* Allocation counter: the engine must not allocate while fed (link with --wrap); a snapshot may
 * borrow memory, and gives it back. */
static unsigned long allocations, releases;
void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t m);
void *__real_realloc(void *p, size_t n);
void __real_free(void *p);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t m);
void *__wrap_realloc(void *p, size_t n);
void __wrap_free(void *p);
void *__wrap_malloc(size_t n) {
        allocations++;
        return __real_malloc(n);
}
void *__wrap_calloc(size_t n, size_t m) {
        allocations++;
        return __real_calloc(n, m);
}
void *__wrap_realloc(void *p, size_t n) {
        allocations++;
        return __real_realloc(p, n);
}
void __wrap_free(void *p) {
        if (p)
                releases++;
        __real_free(p);
}

static SimRun *run_new(void) {
        SimRun *r = calloc(1, sizeof(SimRun));
        assert_non_null(r);
        return r;
}

static GaitModel *model_new(GaitModelParams p) {
        GaitModel *m = NULL;
        if (p.body_weight_kg == 0)
                p.body_weight_kg = 70;
        assert_int_equal(gait_model_new(&p, &m), 0);
        return m;
}

static GaitEngine *engine_for(const GaitModel *m, float body_weight_kg) {
        GaitEngine *e = NULL;
        GaitParams p = GAIT_PARAMS_DEFAULT;
        p.body_weight_kg = body_weight_kg;
        assert_int_equal(gait_engine_new(gait_model_layout(m, FOOT_LEFT), gait_model_layout(m, FOOT_RIGHT), &p, &e), 0);
        return e;
}

/* Runs one mode for duration_s and returns the run; the model and engine are freed. */
static SimRun *simulate(GaitModelParams p, double duration_s, float engine_bw) {
        GaitModel *m = model_new(p);
        GaitEngine *e = engine_for(m, engine_bw);
        SimRun *r = run_new();

        sim_feed(e, m, 0, duration_s, RATE_HZ, NULL, NULL, r);
        gait_engine_free(e);
        gait_model_free(m);
        return r;
}

static int cmp_u64(const void *a, const void *b) {
        uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;
        return (x > y) - (x < y);
}

static int cmp_i64(const void *a, const void *b) {
        int64_t x = *(const int64_t *) a, y = *(const int64_t *) b;
        return (x > y) - (x < y);
}

/* Median |engine - truth| in ms over events of one kind that both saw; counts unmatched ones.
 * *ret_bias_ms: median signed error (engine later > 0). */
static double event_error_ms(const SimRun *r, GaitEventType type, unsigned *ret_matched, unsigned *ret_truth,
                             double *ret_bias_ms) {
        static uint64_t err[SIM_MAX_TRUTH];
        static int64_t signed_err[SIM_MAX_TRUTH];
        unsigned n = 0, truth = 0;

        for (size_t i = 0; i < r->n_truth; i++) {
                const GaitTruthEvent *t = &r->truth[i];
                uint64_t best = UINT64_MAX;
                int64_t best_signed = 0;

                if (t->initial_contact != (type == GAIT_EVENT_INITIAL_CONTACT) || t->t_us < 5 * USEC_PER_SEC)
                        continue;
                truth++;
                for (size_t j = 0; j < r->n_events; j++) {
                        const GaitEvent *ev = &r->events[j];
                        if (ev->foot != t->side || ev->type != type)
                                continue;
                        uint64_t d = ev->t_us > t->t_us ? ev->t_us - t->t_us : t->t_us - ev->t_us;
                        if (d < best) {
                                best = d;
                                best_signed = (int64_t) ev->t_us - (int64_t) t->t_us;
                        }
                }
                if (best <= 150 * USEC_PER_MSEC) {
                        signed_err[n] = best_signed;
                        err[n++] = best;
                }
        }
        *ret_matched = n;
        *ret_truth = truth;
        if (n == 0)
                return NAN;
        qsort(err, n, sizeof(uint64_t), cmp_u64);
        qsort(signed_err, n, sizeof(int64_t), cmp_i64);
        *ret_bias_ms = signed_err[n / 2] / 1000.0;
        return err[n / 2] / 1000.0;
}

static void test_foot_load(void **state) {
        InsoleLayout l = { .side = FOOT_LEFT, .n_cells = 3, .unit = PRESSURE_UNIT_KPA, .scale = 1 };
        PressureSample s = { .t_us = 42, .n_cells = 3, .cell = { 100, 200, 0 } };
        FootLoad f;

        l.cells[0] = (InsoleCell) { .x = 0.1f, .y = 0.5f, .area_mm2 = 500 };  /* heel */
        l.cells[1] = (InsoleCell) { .x = 0.7f, .y = 0.2f, .area_mm2 = 250 };  /* forefoot */
        l.cells[2] = (InsoleCell) { .x = 0.9f, .y = 0.2f, .area_mm2 = 100 };  /* toes */
        assert_int_equal(foot_load_compute(&l, &s, &f), 0);
        /* 100 kPa x 500 mm^2 = 50 N, 200 kPa x 250 mm^2 = 50 N */
        assert_float_equal(f.total, 100.0f, 1e-3);
        assert_float_equal(f.region[REGION_HEEL], 50.0f, 1e-3);
        assert_float_equal(f.region[REGION_FOREFOOT], 50.0f, 1e-3);
        assert_float_equal(f.region[REGION_TOES], 0.0f, 1e-6);
        assert_true(f.cop_valid);
        assert_float_equal(f.cop_x, 0.4f, 1e-5);
        assert_float_equal(f.cop_y, 0.35f, 1e-5);
        assert_int_equal(f.t_us, 42);

        /* newton cells as they are; nothing loaded: no centre of pressure */
        l.unit = PRESSURE_UNIT_NEWTON;
        s.cell[0] = s.cell[1] = s.cell[2] = 0;
        assert_int_equal(foot_load_compute(&l, &s, &f), 0);
        assert_false(f.cop_valid);
        assert_float_equal(f.total, 0, 1e-6);

        /* raw counts keep their offset in the total; negative cells do not move the COP */
        l.unit = PRESSURE_UNIT_RAW;
        s.cell[0] = -1800;
        s.cell[1] = 300;
        assert_int_equal(foot_load_compute(&l, &s, &f), 0);
        assert_float_equal(f.total, -1500, 1e-3);
        assert_float_equal(f.cop_x, 0.7f, 1e-5);

        s.n_cells = 2;
        assert_int_equal(foot_load_compute(&l, &s, &f), -EINVAL);
        assert_int_equal(foot_load_compute(NULL, &s, &f), -EINVAL);
}

static void test_symmetry_index(void **state) {
        assert_float_equal(gait_symmetry_index(550, 450), 20.0f, 1e-4);
        assert_float_equal(gait_symmetry_index(450, 550), 20.0f, 1e-4);
        assert_float_equal(gait_symmetry_index(500, 500), 0.0f, 1e-6);
        assert_true(isnan(gait_symmetry_index(NAN, 500)));
        assert_true(isnan(gait_symmetry_index(0, 0)));
}

static void test_invalid_input(void **state) {
        GaitModelParams p = { .mode = GAIT_MODE_WALKING, .seed = 1 };
        GaitModel *m = model_new(p);
        GaitEngine *e = engine_for(m, 0);
        PressureSample s;

        gait_model_sample(m, FOOT_LEFT, 1000000, &s);
        assert_int_equal(gait_engine_feed(e, FOOT_LEFT, &s), 0);
        s.t_us = 500000; /* back in time */
        assert_int_equal(gait_engine_feed(e, FOOT_LEFT, &s), -EINVAL);
        s.t_us = 2000000;
        s.n_cells = 3;
        assert_int_equal(gait_engine_feed(e, FOOT_LEFT, &s), -EINVAL);
        assert_int_equal(gait_engine_feed(e, _FOOT_SIDE_INVALID, &s), -EINVAL);
        assert_int_equal(gait_engine_new(NULL, NULL, NULL, &e), -EINVAL);
        gait_engine_free(e);
        gait_model_free(m);
        assert_null(gait_engine_free(NULL));
}

/* Cadence from 85 to 125 spm: cadence within 2 %, step count within 2 of the model's, median event
 * timing error below 40 ms for contacts and toe-offs (the engine marks the onset of the
 * rise and the end of the fall as the gaitndd reference does; the model marks the first and last
 * newton, which lie on the slow tails of the load curve), no allocation while fed. */
static void test_walk_cadence(void **state) {
        static const double cadences[] = { 85, 105, 125 };

        for (size_t i = 0; i < ELEMENTSOF(cadences); i++) {
                GaitModelParams p = { .mode = GAIT_MODE_WALKING, .cadence_spm = cadences[i], .seed = 7 + i, .noise = 0.05 };
                GaitModel *m = model_new(p);
                GaitEngine *e = engine_for(m, 70);
                SimRun *r = run_new();
                unsigned matched, truth;
                double err, bias;

                sim_feed(e, m, 0, 5, RATE_HZ, NULL, NULL, r); /* warm up, allocations allowed */
                allocations = releases = 0;
                sim_feed(e, m, 5 * USEC_PER_SEC, 55, RATE_HZ, NULL, NULL, r);
                /* 5500 samples per foot, then one snapshot: its two buffers, freed before it returns */
                assert_true(allocations <= 2);
                assert_int_equal(releases, allocations);

                const GaitWindowSummary *w = &r->snapshot.window[GAIT_WINDOW_60S];
                print_message("# cadence %.0f: engine %.1f spm, steps %" PRIu64 " vs model %" PRIu64 "\n",
                              cadences[i], w->cadence_spm, r->snapshot.steps_total, r->model_steps);
                assert_float_equal(w->cadence_spm, cadences[i], cadences[i] * 0.02);
                assert_true(llabs((long long) r->snapshot.steps_total - (long long) r->model_steps) <= 2);
                assert_int_equal(r->snapshot.activity, ACTIVITY_WALKING);

                err = event_error_ms(r, GAIT_EVENT_INITIAL_CONTACT, &matched, &truth, &bias);
                print_message("#   contact error %.1f ms, bias %+.1f ms (%u/%u matched)\n", err, bias, matched, truth);
                assert_true(err < 40);
                assert_true(matched + 2 >= truth);
                err = event_error_ms(r, GAIT_EVENT_TOE_OFF, &matched, &truth, &bias);
                print_message("#   toe-off error %.1f ms, bias %+.1f ms (%u/%u matched)\n", err, bias, matched, truth);
                assert_true(err < 40);
                assert_true(matched + 2 >= truth);

                /* heel -> toe roll-over for a normal walk */
                for (FootSide s = 0; s < _FOOT_SIDE_MAX; s++) {
                        const GaitFootSummary *f = &w->foot[s];
                        assert_true(f->stance_strides > 20);
                        assert_true(f->strikes[STRIKE_HEEL] > f->stance_strides * 8 / 10);
                        assert_true(f->cop_start_x < 0.3f);
                        assert_true(f->cop_end_x > 0.6f);
                        assert_true(f->cop_forward_fraction > 0.8f);
                }
                gait_engine_free(e);
                gait_model_free(m);
                free(r);
        }
}

/* The daemon makes its engines without result queues (nobody takes strides there): the windows and
 * counters must not depend on them, and gait_engine_take_*() then gives nothing. */
static void test_no_result_queues(void **state) {
        GaitModelParams mp = { .mode = GAIT_MODE_WALKING, .cadence_spm = 110, .seed = 31, .noise = 0.05 };
        GaitModel *m1 = model_new(mp), *m2 = model_new(mp);
        GaitEngine *queued = engine_for(m1, 70), *bare = NULL;
        GaitParams p = GAIT_PARAMS_DEFAULT;
        SimRun *r1 = run_new(), *r2 = run_new();

        p.body_weight_kg = 70;
        p.no_result_queues = true;
        assert_int_equal(gait_engine_new(gait_model_layout(m2, FOOT_LEFT), gait_model_layout(m2, FOOT_RIGHT), &p, &bare), 0);
        sim_feed(queued, m1, 0, 40, RATE_HZ, NULL, NULL, r1);
        sim_feed(bare, m2, 0, 40, RATE_HZ, NULL, NULL, r2);

        assert_true(r1->n_strides > 30);
        assert_true(r1->n_events > 60);
        assert_int_equal(r2->n_strides, 0);
        assert_int_equal(r2->n_events, 0);
        assert_true(r1->snapshot.steps_total > 60);
        assert_int_equal(r1->snapshot.steps_total, r2->snapshot.steps_total);
        for (GaitWindow w = 0; w < _GAIT_WINDOW_MAX; w++) {
                assert_true(r1->snapshot.window[w].cadence_spm == r2->snapshot.window[w].cadence_spm);
                assert_true(r1->snapshot.window[w].stride_time_cv_pct == r2->snapshot.window[w].stride_time_cv_pct ||
                            (isnan(r1->snapshot.window[w].stride_time_cv_pct) && isnan(r2->snapshot.window[w].stride_time_cv_pct)));
        }
        gait_engine_free(queued);
        gait_engine_free(bare);
        gait_model_free(m1);
        gait_model_free(m2);
        free(r1);
        free(r2);
}

/* Injected asymmetry a (right step = (1 + a) x left step): step-time SI = 2a / (2 + a) x 100 within
 * 2 percentage points; the symmetric walk stays below 2 %. */
static void test_asymmetry(void **state) {
        static const double asym[] = { 0, 0.10, 0.25 };

        for (size_t i = 0; i < ELEMENTSOF(asym); i++) {
                GaitModelParams p = { .mode = GAIT_MODE_WALKING, .asymmetry = asym[i], .seed = 3, .noise = 0.03 };
                SimRun *r = simulate(p, 60, 70);
                const GaitWindowSummary *w = &r->snapshot.window[GAIT_WINDOW_60S];
                double expect = 200.0 * asym[i] / (2.0 + asym[i]);

                print_message("# asymmetry %.2f: step SI %.2f %% (expected %.2f), strides %u/%u\n", asym[i],
                              w->symmetry.step_time_pct, expect, w->symmetry.strides_left, w->symmetry.strides_right);
                assert_float_equal(w->symmetry.step_time_pct, expect, 2.0);
                assert_true(w->foot[FOOT_RIGHT].step_time_ms > w->foot[FOOT_LEFT].step_time_ms || asym[i] == 0);
                assert_true(w->symmetry.strides_left > 20 && w->symmetry.strides_right > 20);
                free(r);
        }
}

/* Pronation +-0.8 moves the medial-lateral index by more than 0.1 to the medial (> 0) and lateral
 * (< 0) side of the same walker's neutral value. */
static void test_pronation(void **state) {
        static const double pron[] = { -0.8, 0, 0.8 };
        float ml[3][_FOOT_SIDE_MAX];

        for (size_t i = 0; i < ELEMENTSOF(pron); i++) {
                GaitModelParams p = { .mode = GAIT_MODE_WALKING, .pronation = pron[i], .seed = 5, .noise = 0.03 };
                SimRun *r = simulate(p, 40, 70);
                for (FootSide s = 0; s < _FOOT_SIDE_MAX; s++)
                        ml[i][s] = r->snapshot.window[GAIT_WINDOW_60S].foot[s].ml_index;
                print_message("# pronation %+.1f: ml_index left %.3f right %.3f\n", pron[i], ml[i][0], ml[i][1]);
                free(r);
        }
        for (FootSide s = 0; s < _FOOT_SIDE_MAX; s++) {
                assert_true(ml[2][s] > ml[1][s] + 0.1f);
                assert_true(ml[0][s] < ml[1][s] - 0.1f);
        }
}

/* Flat-foot landing: most strides are classified "flat"; a normal walk "heel". A hard heel strike
 * raises the heel loading rate by more than 20 %. */
static void test_strike_pattern(void **state) {
        GaitModelParams p = { .mode = GAIT_MODE_WALKING, .seed = 11, .noise = 0.03 };
        SimRun *normal = simulate(p, 40, 70);
        p.flat_foot = true;
        SimRun *flat = simulate(p, 40, 70);
        p.flat_foot = false;
        p.hard_heel_strike = true;
        SimRun *hard = simulate(p, 40, 70);

        for (FootSide s = 0; s < _FOOT_SIDE_MAX; s++) {
                const GaitFootSummary *n = &normal->snapshot.window[GAIT_WINDOW_60S].foot[s];
                const GaitFootSummary *f = &flat->snapshot.window[GAIT_WINDOW_60S].foot[s];
                const GaitFootSummary *h = &hard->snapshot.window[GAIT_WINDOW_60S].foot[s];

                print_message("# %s: normal heel %u flat %u of %u; flat-foot heel %u flat %u of %u; loading rate %.2f vs hard %.2f BW/s\n",
                              foot_side_to_string(s), n->strikes[STRIKE_HEEL], n->strikes[STRIKE_FLAT], n->stance_strides,
                              f->strikes[STRIKE_HEEL], f->strikes[STRIKE_FLAT], f->stance_strides,
                              n->heel_loading_rate, h->heel_loading_rate);
                assert_true(n->strikes[STRIKE_HEEL] * 10 >= n->stance_strides * 8);
                assert_true(f->strikes[STRIKE_FLAT] * 10 >= f->stance_strides * 7);
                assert_true(h->heel_loading_rate > 1.2f * n->heel_loading_rate);
                assert_true(h->peak_heel > n->peak_heel);
        }
        free(normal);
        free(flat);
        free(hard);
}

/* The sample ring covers 1 s at the insole's own rate: at 300 Hz it grows once per foot, from the
 * 100 Hz size, while the first samples come in (with the lists a stance's folded samples keep),
 * and allocates nothing after that but a snapshot's borrowed buffers. A slow walk's stances of
 * about 2.8 s, almost three rings long, still get their stance metrics, at 300 Hz as at 100 Hz. */
static void test_ring_follows_rate(void **state) {
        static const double rates[] = { 100, 300 };

        for (size_t i = 0; i < ELEMENTSOF(rates); i++) {
                GaitModelParams p = { .mode = GAIT_MODE_WALKING, .cadence_spm = 20, .seed = 3, .noise = 0.02 };
                GaitModel *m = model_new(p);
                GaitEngine *e = engine_for(m, 70);
                SimRun *r = run_new();
                unsigned long first;

                allocations = releases = 0;
                sim_feed(e, m, 0, 5, rates[i], NULL, NULL, r);
                first = allocations;
                allocations = releases = 0;
                sim_feed(e, m, 5 * USEC_PER_SEC, 55, rates[i], NULL, NULL, r);
                print_message("# %.0f Hz: %lu allocations in the first 5 s, %lu after (one snapshot)\n", rates[i], first,
                              allocations);
                assert_true(allocations <= 2);
                assert_int_equal(releases, allocations);
                /* both periods end with a snapshot; at 300 Hz each foot's ring and fold lists grew
                 * once, at 100 Hz not */
                assert_int_equal(first, allocations + (rates[i] > 100 ? 4 : 0));
                for (FootSide s = 0; s < _FOOT_SIDE_MAX; s++) {
                        const GaitFootSummary *f = &r->snapshot.window[GAIT_WINDOW_60S].foot[s];
                        print_message("#   %s: %u strides, stance %.2f s, %u with stance metrics, heel first %u\n",
                                      foot_side_to_string(s), f->strides, f->stance_time_ms / 1000, f->stance_strides,
                                      f->strikes[STRIKE_HEEL]);
                        assert_true(f->stance_time_ms > 2600);
                        assert_true(f->strides >= 8);
                        assert_true(f->stance_strides * 10 >= f->strides * 9);
                        assert_true(f->strikes[STRIKE_HEEL] * 10 >= f->stance_strides * 8);
                }
                gait_engine_free(e);
                gait_model_free(m);
                free(r);
        }
}

/* The windows keep a stride's stance metrics in 16-bit fixed point (shares to 1/65535, positions to
 * 1/16384): the 60 s window agrees with the same strides summarised at full precision far below
 * anything published (shares in 0.1 %, positions in 0.001). */
static void test_windows_keep_precision(void **state) {
        GaitModelParams p = { .mode = GAIT_MODE_WALKING, .seed = 29, .noise = 0.03, .pronation = 0.3 };
        SimRun *r = simulate(p, 90, 70);
        const GaitWindowSummary *kept = &r->snapshot.window[GAIT_WINDOW_60S];
        GaitWindowSummary exact;
        uint64_t from = r->snapshot.t_us - 60 * USEC_PER_SEC;
        GaitStride *window = calloc(r->n_strides, sizeof(GaitStride));
        float *scratch = calloc(r->n_strides, sizeof(float));
        size_t n = 0;

        assert_non_null(window);
        assert_non_null(scratch);
        for (size_t i = 0; i < r->n_strides; i++)
                if (r->strides[i].t_contact_us + r->strides[i].stride_us >= from)
                        window[n++] = r->strides[i];
        gait_summarize_strides(window, n, scratch, &exact);
        for (FootSide s = 0; s < _FOOT_SIDE_MAX; s++) {
                const GaitFootSummary *a = &exact.foot[s], *b = &kept->foot[s];

                print_message("# %s: %u strides, cop %.5f -> %.5f (kept %.5f -> %.5f), ml %.5f (%.5f)\n",
                              foot_side_to_string(s), a->strides, a->cop_start_x, a->cop_end_x, b->cop_start_x,
                              b->cop_end_x, a->ml_index, b->ml_index);
                assert_true(a->stance_strides >= 40);
                assert_int_equal(a->strides, b->strides);
                assert_int_equal(a->stance_strides, b->stance_strides);
                assert_memory_equal(a->strikes, b->strikes, sizeof(a->strikes));
                assert_float_equal(a->stance_time_ms, b->stance_time_ms, 0);
                assert_float_equal(a->peak_heel, b->peak_heel, 0);
                assert_float_equal(a->heel_loading_rate, b->heel_loading_rate, 0);
                for (unsigned k = 0; k < _REGION_MAX; k++)
                        assert_float_equal(a->load_share_pct[k], b->load_share_pct[k], 0.01);
                assert_float_equal(a->cop_start_x, b->cop_start_x, 1e-4);
                assert_float_equal(a->cop_end_x, b->cop_end_x, 1e-4);
                assert_float_equal(a->cop_forward_fraction, b->cop_forward_fraction, 1e-4);
                assert_float_equal(a->ml_index, b->ml_index, 1e-4);
        }
        free(window);
        free(scratch);
        free(r);
}

static void shift_time(FootSide side, PressureSample *s, void *userdata) {
        s->t_us += *(const uint64_t *) userdata;
}

static bool same_float(float a, float b) {
        return memcmp(&a, &b, sizeof(float)) == 0;
}

static bool same_stance(const GaitStanceMetrics *a, const GaitStanceMetrics *b) {
        if (a->valid != b->valid)
                return false;
        if (!a->valid)
                return true;
        for (unsigned k = 0; k < _REGION_MAX; k++)
                if (!same_float(a->load_share[k], b->load_share[k]))
                        return false;
        return a->strike == b->strike && same_float(a->strike_cop_x, b->strike_cop_x) &&
               same_float(a->peak_total, b->peak_total) && same_float(a->peak_heel, b->peak_heel) &&
               same_float(a->heel_loading_rate, b->heel_loading_rate) && same_float(a->cop_start_x, b->cop_start_x) &&
               same_float(a->cop_end_x, b->cop_end_x) && same_float(a->cop_forward_fraction, b->cop_forward_fraction) &&
               same_float(a->ml_index, b->ml_index) && same_float(a->push_peak, b->push_peak) &&
               a->per_body_weight == b->per_body_weight;
}

/* Stance metrics from a 1 s ring, with the samples of a longer stance folded as they leave it, are
 * the ones a ring longer than any stance gives, to the bit: normal, slow, flat-footed and hard
 * landings, at 100 to 300 Hz. */
static void test_fold_matches_long_ring(void **state) {
        static const struct {
                GaitModelParams p;
                double rate_hz, seconds;
        } walks[] = {
                { { .mode = GAIT_MODE_WALKING, .seed = 5, .noise = 0.03 }, 100, 60 },
                { { .mode = GAIT_MODE_WALKING, .cadence_spm = 20, .seed = 3, .noise = 0.02 }, 100, 60 },
                { { .mode = GAIT_MODE_WALKING, .cadence_spm = 20, .seed = 3, .noise = 0.02 }, 300, 60 },
                { { .mode = GAIT_MODE_WALKING, .cadence_spm = 45, .seed = 8, .noise = 0.05, .flat_foot = true }, 200, 60 },
                { { .mode = GAIT_MODE_WALKING, .cadence_spm = 60, .seed = 9, .noise = 0.04, .hard_heel_strike = true,
                    .pronation = 0.5 }, 100, 60 },
        };

        for (size_t i = 0; i < ELEMENTSOF(walks); i++) {
                GaitParams long_ring = GAIT_PARAMS_DEFAULT;
                GaitModel *m1 = model_new(walks[i].p), *m2 = model_new(walks[i].p);
                GaitEngine *folding = engine_for(m1, 70), *whole = NULL;
                SimRun *a = run_new(), *b = run_new();
                size_t measured = 0;

                long_ring.body_weight_kg = 70;
                long_ring.ring_cover_ms = 8000; /* longer than every stance: nothing is folded */
                assert_int_equal(gait_engine_new(gait_model_layout(m2, FOOT_LEFT), gait_model_layout(m2, FOOT_RIGHT),
                                                 &long_ring, &whole), 0);
                sim_feed(folding, m1, 0, walks[i].seconds, walks[i].rate_hz, NULL, NULL, a);
                sim_feed(whole, m2, 0, walks[i].seconds, walks[i].rate_hz, NULL, NULL, b);
                assert_int_equal(a->n_strides, b->n_strides);
                for (size_t k = 0; k < a->n_strides; k++) {
                        assert_int_equal(a->strides[k].t_contact_us, b->strides[k].t_contact_us);
                        assert_true(same_stance(&a->strides[k].stance, &b->strides[k].stance));
                        measured += a->strides[k].stance.valid;
                }
                print_message("# %.0f spm at %.0f Hz: %zu strides, %zu with stance metrics, the same\n",
                              walks[i].p.cadence_spm > 0 ? walks[i].p.cadence_spm : 105, walks[i].rate_hz,
                              a->n_strides, measured);
                assert_true(measured * 10 >= a->n_strides * 9);
                gait_engine_free(folding);
                gait_engine_free(whole);
                gait_model_free(m1);
                gait_model_free(m2);
                free(a);
                free(b);
        }
}

/* The ring keeps times as 32-bit offsets from a base that moves every 36 minutes: a walk across a
 * move is measured exactly as the same walk without one, and a walk after two hours without
 * samples is measured as any other. */
static void test_ring_time_base(void **state) {
        GaitModelParams p = { .mode = GAIT_MODE_WALKING, .cadence_spm = 100, .seed = 23, .noise = 0.02 };
        uint64_t shift = 7 * 3600 * USEC_PER_SEC + 12345, gap = 2 * 3600 * USEC_PER_SEC;
        uint64_t slow_us = 35 * 60 * USEC_PER_SEC + 30 * USEC_PER_SEC, end_us = 37 * 60 * USEC_PER_SEC;
        GaitModel *m[2] = { model_new(p), model_new(p) };
        GaitEngine *e[2] = { engine_for(m[0], 70), engine_for(m[1], 70) };
        SimRun *r[2] = { run_new(), run_new() };
        size_t n_metrics = 0, n_fast = 0, after_gap = 0;

        /* Run 0 starts at 0 and keeps its first base; run 1's first base moves 35:47.5 after its first
         * sample, while it streams at 100 Hz (before, 10 Hz keeps the test fast). */
        for (unsigned i = 0; i < 2; i++) {
                sim_feed(e[i], m[i], 0, slow_us / 1e6, 10, i ? shift_time : NULL, &shift, r[i]);
                sim_feed(e[i], m[i], slow_us, (end_us - slow_us) / 1e6, 100, i ? shift_time : NULL, &shift, r[i]);
        }
        assert_int_equal(r[0]->n_strides, r[1]->n_strides);
        for (size_t i = 0; i < r[0]->n_strides; i++) {
                const GaitStride *a = &r[0]->strides[i], *b = &r[1]->strides[i];

                assert_int_equal(a->t_contact_us + shift, b->t_contact_us);
                assert_int_equal(a->stride_us, b->stride_us);
                assert_int_equal(a->stance_us, b->stance_us);
                assert_memory_equal(&a->stance, &b->stance, sizeof(a->stance));
                if (a->t_contact_us >= slow_us + 5 * USEC_PER_SEC) {
                        n_fast++;
                        n_metrics += a->stance.valid;
                }
        }
        print_message("# %zu strides at 100 Hz, %zu with stance metrics\n", n_fast, n_metrics);
        assert_true(n_fast >= 100);
        assert_true(n_metrics * 10 >= n_fast * 9);

        /* two hours later */
        r[1]->n_strides = 0;
        sim_feed(e[1], m[1], end_us + gap, 30, 100, shift_time, &shift, r[1]);
        for (size_t i = 0; i < r[1]->n_strides; i++) {
                const GaitStride *b = &r[1]->strides[i];

                if (b->t_contact_us < shift + end_us + gap)
                        continue;
                after_gap++;
                assert_true(b->stride_us < 2 * USEC_PER_SEC);
                assert_true(b->stance.valid);
        }
        print_message("# after the gap: %zu strides\n", after_gap);
        assert_true(after_gap >= 20);
        for (unsigned i = 0; i < 2; i++) {
                gait_engine_free(e[i]);
                gait_model_free(m[i]);
                free(r[i]);
        }
}

/* Running: the activity is "running", most strides have a flight phase and cadence is recovered
 * within 3 %. The 60 s window holds all of a minute's 165 steps: the windows' stride ring, made
 * for 128, grew. */
static void test_running(void **state) {
        GaitModelParams p = { .mode = GAIT_MODE_RUNNING, .cadence_spm = 165, .seed = 13, .noise = 0.03 };
        SimRun *r = simulate(p, 70, 70);
        const GaitWindowSummary *w = &r->snapshot.window[GAIT_WINDOW_10S];
        const GaitWindowSummary *minute = &r->snapshot.window[GAIT_WINDOW_60S];
        unsigned minute_strides = minute->foot[FOOT_LEFT].strides + minute->foot[FOOT_RIGHT].strides;

        print_message("# running: %s, cadence %.1f, flight %.0f %%\n", activity_state_to_string(r->snapshot.activity),
                      w->cadence_spm, w->flight_share_pct);
        assert_int_equal(r->snapshot.activity, ACTIVITY_RUNNING);
        assert_true(w->flight_share_pct > 50);
        assert_float_equal(w->cadence_spm, 165, 165 * 0.03);
        print_message("# running: %u strides in the last 60 s\n", minute_strides);
        assert_true(minute_strides >= 160);
        free(r);
}

/* A day of states in sequence: walking, standing, sitting, not worn; durations add up, balance is
 * measured while standing. */
static void test_activity_and_balance(void **state) {
        GaitModelParams p = { .mode = GAIT_MODE_WALKING, .seed = 17, .noise = 0.03 };
        GaitModel *m = model_new(p);
        GaitEngine *e = engine_for(m, 0); /* body weight unknown: the engine learns the load level */
        SimRun *r = run_new();
        uint64_t t = 0;

        gait_engine_start_day(e, 0);
        sim_feed(e, m, t, 30, RATE_HZ, NULL, NULL, r);
        t += 30 * USEC_PER_SEC;
        assert_int_equal(r->snapshot.activity, ACTIVITY_WALKING);

        p.mode = GAIT_MODE_STANDING;
        gait_model_set_params(m, &p);
        sim_feed(e, m, t, 20, RATE_HZ, NULL, NULL, r);
        t += 20 * USEC_PER_SEC;
        print_message("# standing: %s, sway %.2f %%/s range %.2f x %.2f %%, left share %.1f %%, grips %u\n",
                      activity_state_to_string(r->snapshot.activity), r->snapshot.balance.sway_path_pct_per_s,
                      r->snapshot.balance.sway_range_x_pct, r->snapshot.balance.sway_range_y_pct,
                      r->snapshot.balance.left_share_pct, r->snapshot.balance.toe_grips);
        assert_int_equal(r->snapshot.activity, ACTIVITY_STANDING);
        assert_true(r->snapshot.balance.standing);
        assert_true(r->snapshot.balance.standing_us > 10 * USEC_PER_SEC);
        assert_float_equal(r->snapshot.balance.left_share_pct, 50, 10);
        assert_true(r->snapshot.balance.sway_path_pct_per_s > 0);

        p.mode = GAIT_MODE_SITTING;
        gait_model_set_params(m, &p);
        sim_feed(e, m, t, 20, RATE_HZ, NULL, NULL, r);
        t += 20 * USEC_PER_SEC;
        assert_int_equal(r->snapshot.activity, ACTIVITY_SITTING);

        p.mode = GAIT_MODE_NOT_WORN;
        gait_model_set_params(m, &p);
        sim_feed(e, m, t, 45, RATE_HZ, NULL, NULL, r);
        t += 45 * USEC_PER_SEC;
        assert_int_equal(r->snapshot.activity, ACTIVITY_NOT_WORN);

        uint64_t sum = 0;
        for (ActivityState a = 0; a < _ACTIVITY_MAX; a++) {
                print_message("#   %s %.1f s\n", activity_state_to_string(a), r->snapshot.activity_day_us[a] / 1e6);
                sum += r->snapshot.activity_day_us[a];
        }
        assert_true(sum + 100 * USEC_PER_MSEC >= t - 100 * USEC_PER_MSEC && sum <= t);
        assert_true(r->snapshot.activity_day_us[ACTIVITY_WALKING] > 25 * USEC_PER_SEC);
        assert_true(r->snapshot.activity_day_us[ACTIVITY_STANDING] > 15 * USEC_PER_SEC);
        assert_true(r->snapshot.activity_day_us[ACTIVITY_SITTING] > 15 * USEC_PER_SEC);
        /* the daily window keeps the walk */
        assert_true(r->snapshot.window[GAIT_WINDOW_DAY].foot[FOOT_LEFT].strides > 20);
        assert_float_equal(r->snapshot.window[GAIT_WINDOW_DAY].cadence_spm, 105, 105 * 0.03);
        /* and the 10 s window is empty by now */
        assert_int_equal(r->snapshot.window[GAIT_WINDOW_10S].steps, 0);

        gait_engine_free(e);
        gait_model_free(m);
        free(r);
}

/* A raw FSR insole: each cell reads -1800 counts unloaded plus a slow drift of +300 counts over the
 * run, 1 count per 0.5 N; one cell is dead (stuck at -1500), one is noisy (+-150 counts), readings
 * are sometimes invalid (NAN). Cadence within 2 %, steps within 2 of the model's, at least 75 %
 * heel strikes and a heel-to-toe centre of pressure. */
typedef struct RawInsole {
        uint64_t rng;
} RawInsole;

static float rnd(uint64_t *s) {
        *s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
        return (float) ((*s >> 33) / (double) (1ULL << 31)) * 2.0f - 1.0f;
}

static void to_raw(FootSide side, PressureSample *s, void *userdata) {
        RawInsole *ri = userdata;
        float drift = 300.0f * (float) (s->t_us / 60e6);

        for (unsigned i = 0; i < s->n_cells; i++)
                s->cell[i] = -1800.0f + drift + 2.0f * s->cell[i];
        s->cell[2] = -1500.0f;                    /* dead */
        s->cell[5] += 150.0f * rnd(&ri->rng);     /* noisy */
        if ((s->t_us / 1000) % 487 == 0)
                s->cell[4] = NAN;                 /* an invalid reading now and then */
}

static void test_raw_drift_dead_noisy(void **state) {
        GaitModelParams p = { .mode = GAIT_MODE_WALKING, .cadence_spm = 110, .seed = 19, .noise = 0.03 };
        GaitModel *m = model_new(p);
        InsoleLayout l[_FOOT_SIDE_MAX];
        GaitEngine *e = NULL;
        SimRun *r = run_new();
        RawInsole ri = { .rng = 1 };

        for (FootSide s = 0; s < _FOOT_SIDE_MAX; s++) {
                l[s] = *gait_model_layout(m, s);
                l[s].unit = PRESSURE_UNIT_RAW;
        }
        assert_int_equal(gait_engine_new(&l[FOOT_LEFT], &l[FOOT_RIGHT], NULL, &e), 0);
        /* 300 Hz like gaitndd: the wearer's 20 ms ticks then fall between samples */
        sim_feed(e, m, 0, 60, 300, to_raw, &ri, r);
        assert_int_equal(r->snapshot.activity, ACTIVITY_WALKING);
        assert_true(r->snapshot.activity_day_us[ACTIVITY_WALKING] > 50 * USEC_PER_SEC);

        {
                unsigned mt, tt;
                double bias, e1 = event_error_ms(r, GAIT_EVENT_TOE_OFF, &mt, &tt, &bias);
                print_message("# raw: toe-off error %.1f ms, bias %+.1f ms (%u/%u)\n", e1, bias, mt, tt);
                e1 = event_error_ms(r, GAIT_EVENT_INITIAL_CONTACT, &mt, &tt, &bias);
                print_message("# raw: contact error %.1f ms, bias %+.1f ms (%u/%u)\n", e1, bias, mt, tt);
        }
        const GaitWindowSummary *w = &r->snapshot.window[GAIT_WINDOW_60S];
        print_message("# raw: cadence %.1f, steps %" PRIu64 " vs %" PRIu64 ", heel strikes %u/%u\n", w->cadence_spm,
                      r->snapshot.steps_total, r->model_steps, w->foot[0].strikes[STRIKE_HEEL], w->foot[0].stance_strides);
        assert_float_equal(w->cadence_spm, 110, 110 * 0.02);
        assert_true(llabs((long long) r->snapshot.steps_total - (long long) r->model_steps) <= 2);
        /* per-cell offsets and noise bands learnt in the air keep the roll-over readable */
        for (FootSide s = 0; s < _FOOT_SIDE_MAX; s++) {
                print_message("# raw %s: heel %u/%u, COP %.2f -> %.2f\n", foot_side_to_string(s), w->foot[s].strikes[STRIKE_HEEL],
                              w->foot[s].stance_strides, w->foot[s].cop_start_x, w->foot[s].cop_end_x);
                assert_true(w->foot[s].strikes[STRIKE_HEEL] * 4 >= w->foot[s].stance_strides * 3);
                assert_true(w->foot[s].cop_start_x < 0.35f && w->foot[s].cop_end_x > 0.6f);
        }
        assert_int_equal(r->snapshot.load_unit, PRESSURE_UNIT_RAW);
        gait_engine_free(e);
        gait_model_free(m);
        free(r);
}

static void right_dead(FootSide side, PressureSample *s, void *userdata) {
        if (side == FOOT_RIGHT)
                for (unsigned i = 0; i < s->n_cells; i++)
                        s->cell[i] = NAN;
}

static void right_flat(FootSide side, PressureSample *s, void *userdata) {
        uint64_t *rng = userdata;
        if (side == FOOT_RIGHT)
                for (unsigned i = 0; i < s->n_cells; i++)
                        s->cell[i] = 5.0f + 0.5f * rnd(rng);
}

/* Signal quality: a walk is "ok" on both feet; a dead right sensor (only invalid readings) is
 * "no_signal", one that reads a few newtons of noise while the left foot walks is "flat"; the left
 * foot stays "ok" and the snapshot JSON says so. (Clipping sensors: test-gait-datasets.c, where
 * three gaitndd feet really clip.) */
static void test_quality(void **state) {
        static const struct {
                SimTransform transform;
                GaitFootQuality right;
        } cases[] = {
                { NULL, GAIT_QUALITY_OK },
                { right_dead, GAIT_QUALITY_NO_SIGNAL },
                { right_flat, GAIT_QUALITY_FLAT },
        };

        for (size_t c = 0; c < ELEMENTSOF(cases); c++) {
                GaitModelParams p = { .mode = GAIT_MODE_WALKING, .cadence_spm = 105, .seed = 5, .noise = 0.02 };
                GaitModel *m = model_new(p);
                GaitEngine *e = engine_for(m, 70);
                SimRun *r = run_new();
                uint64_t rng = 3;
                char buf[8192];
                JsonWriter jw;
                const char *out;

                sim_feed(e, m, 0, 30, RATE_HZ, cases[c].transform, &rng, r);
                print_message("# quality case %zu: left %s, right %s\n", c, gait_foot_quality_to_string(r->snapshot.quality[FOOT_LEFT]),
                              gait_foot_quality_to_string(r->snapshot.quality[FOOT_RIGHT]));
                assert_int_equal(r->snapshot.quality[FOOT_LEFT], GAIT_QUALITY_OK);
                assert_int_equal(r->snapshot.quality[FOOT_RIGHT], cases[c].right);
                json_writer_init(&jw, buf, sizeof(buf));
                assert_int_equal(gait_snapshot_to_json(&r->snapshot, &jw), 0);
                assert_int_equal(json_writer_finish(&jw, &out, NULL), 0);
                assert_non_null(strstr(out, cases[c].right == GAIT_QUALITY_OK ? "\"quality\":{\"left\":\"ok\",\"right\":\"ok\"}" :
                                            cases[c].right == GAIT_QUALITY_FLAT ? "\"right\":\"flat\"" : "\"right\":\"no_signal\""));
                gait_engine_free(e);
                gait_model_free(m);
                free(r);
        }
}

/* Windows: after 30 s at 100 spm and 15 s at 125 spm, the 10 s window sees only the new cadence
 * (2 %), the 60 s window a mix in between and the day both. Stride-time variability: the model's
 * per-stride jitter is noise/2 (relative SD), so noise 0.2 gives a CV of stride time near 10 %
 * (5-15 %) and noise 0.02 below 2 %. */
static void test_windows_and_variability(void **state) {
        GaitModelParams p = { .mode = GAIT_MODE_WALKING, .cadence_spm = 100, .seed = 31, .noise = 0.02 };
        GaitModel *m = model_new(p);
        GaitEngine *e = engine_for(m, 70);
        SimRun *r = run_new();

        sim_feed(e, m, 0, 30, RATE_HZ, NULL, NULL, r);
        print_message("# steady: CV %.2f %%\n", r->snapshot.window[GAIT_WINDOW_60S].stride_time_cv_pct);
        assert_true(r->snapshot.window[GAIT_WINDOW_60S].stride_time_cv_pct < 2.0f);
        p.cadence_spm = 125;
        gait_model_set_params(m, &p);
        sim_feed(e, m, 30 * USEC_PER_SEC, 15, RATE_HZ, NULL, NULL, r);

        const GaitSnapshot *s = &r->snapshot;
        print_message("# windows: 10 s %.1f spm (%u steps), 60 s %.1f spm, day %.1f spm (%u steps)\n",
                      s->window[GAIT_WINDOW_10S].cadence_spm, s->window[GAIT_WINDOW_10S].steps,
                      s->window[GAIT_WINDOW_60S].cadence_spm, s->window[GAIT_WINDOW_DAY].cadence_spm,
                      s->window[GAIT_WINDOW_DAY].steps);
        assert_float_equal(s->window[GAIT_WINDOW_10S].cadence_spm, 125, 125 * 0.02);
        assert_true(s->window[GAIT_WINDOW_10S].steps >= 18 && s->window[GAIT_WINDOW_10S].steps <= 22);
        assert_true(s->window[GAIT_WINDOW_60S].cadence_spm > 98 && s->window[GAIT_WINDOW_60S].cadence_spm < 127);
        assert_true(s->window[GAIT_WINDOW_DAY].steps > s->window[GAIT_WINDOW_10S].steps + 40);
        assert_int_equal(s->window[GAIT_WINDOW_DAY].steps, s->window[GAIT_WINDOW_60S].steps);
        /* the same strides: the day's medians from 10 ms histogram bins agree with the window's exact ones */
        for (FootSide f = 0; f < _FOOT_SIDE_MAX; f++) {
                const GaitFootSummary *d = &s->window[GAIT_WINDOW_DAY].foot[f], *w = &s->window[GAIT_WINDOW_60S].foot[f];

                print_message("# %s: day / 60 s medians: stride %.1f / %.1f, stance %.1f / %.1f, swing %.1f / %.1f, step %.1f / %.1f ms\n",
                              foot_side_to_string(f), d->stride_time_ms, w->stride_time_ms, d->stance_time_ms, w->stance_time_ms,
                              d->swing_time_ms, w->swing_time_ms, d->step_time_ms, w->step_time_ms);
                assert_int_equal(d->strides, w->strides);
                assert_float_equal(d->stride_time_ms, w->stride_time_ms, 15);
                assert_float_equal(d->stance_time_ms, w->stance_time_ms, 15);
                assert_float_equal(d->swing_time_ms, w->swing_time_ms, 15);
                assert_float_equal(d->step_time_ms, w->step_time_ms, 15);
                /* and the day's variability from the bins that of the window's exact stride times */
                print_message("# %s: day / 60 s stride-time CV %.2f / %.2f %%\n", foot_side_to_string(f),
                              d->stride_time_cv_pct, w->stride_time_cv_pct);
                assert_float_equal(d->stride_time_cv_pct, w->stride_time_cv_pct, 0.1 * w->stride_time_cv_pct + 0.1);
        }
        assert_float_equal(s->window[GAIT_WINDOW_DAY].stride_time_cv_pct, s->window[GAIT_WINDOW_60S].stride_time_cv_pct,
                           0.1 * s->window[GAIT_WINDOW_60S].stride_time_cv_pct + 0.1);
        gait_engine_free(e);
        gait_model_free(m);
        free(r);

        p = (GaitModelParams) { .mode = GAIT_MODE_WALKING, .seed = 37, .noise = 0.2 };
        r = simulate(p, 60, 70);
        print_message("# noise 0.2: CV %.2f %% over %u strides\n", r->snapshot.window[GAIT_WINDOW_60S].stride_time_cv_pct,
                      r->snapshot.window[GAIT_WINDOW_60S].steps);
        assert_true(r->snapshot.window[GAIT_WINDOW_60S].stride_time_cv_pct > 5.0f);
        assert_true(r->snapshot.window[GAIT_WINDOW_60S].stride_time_cv_pct < 15.0f);
        free(r);
}

/* Plain CV of a foot's stride times, to show what the robust one is spared. */
static float plain_cv_pct(const GaitStride *st, size_t n, FootSide side) {
        double sum = 0, sq = 0;
        size_t k = 0;

        for (size_t i = 0; i < n; i++)
                if (st[i].foot == side) {
                        sum += st[i].stride_us / 1000.0;
                        k++;
                }
        for (size_t i = 0; i < n; i++)
                if (st[i].foot == side)
                        sq += (st[i].stride_us / 1000.0 - sum / k) * (st[i].stride_us / 1000.0 - sum / k);
        return (float) (sqrt(sq / (k - 1)) / (sum / k) * 100);
}

/* Stride-time variability is that of the walk's rhythm: a missed contact (one stride twice as long),
 * a split one (two short strides) or a stop does not count, where it would multiply the plain CV;
 * the strides of a walk stay in, however regular (many equal stride times: a MAD of 0) or variable. */
static void test_variability_is_the_rhythms(void **state) {
        GaitStride st[64] = {};
        float scratch[64];
        GaitWindowSummary w;
        size_t n = 0;

        (void) state;
        /* 50 left strides of 1000 ms +-2.5 % (a CV of 1.8 %), as a fixed pattern */
        static const int jitter_ms[] = { 0, 20, -15, 25, -25, 10, -5, 15, -20, 5 };
        for (; n < 50; n++)
                st[n] = (GaitStride) { .foot = FOOT_LEFT, .stride_us = (uint32_t) (1000 + jitter_ms[n % 10]) * 1000 };
        gait_summarize_strides(st, n, scratch, &w);
        float clean = w.foot[FOOT_LEFT].stride_time_cv_pct;
        print_message("# clean: CV %.2f %% (plain %.2f %%)\n", clean, plain_cv_pct(st, n, FOOT_LEFT));
        assert_float_equal(clean, plain_cv_pct(st, n, FOOT_LEFT), 0.01); /* nothing trimmed */
        assert_true(clean > 1.5f && clean < 2.0f);

        /* one missed contact, one split stride (650 + 350 ms) and a 6 s stop */
        st[n++] = (GaitStride) { .foot = FOOT_LEFT, .stride_us = 2010000 };
        st[n++] = (GaitStride) { .foot = FOOT_LEFT, .stride_us = 650000 };
        st[n++] = (GaitStride) { .foot = FOOT_LEFT, .stride_us = 350000 };
        st[n++] = (GaitStride) { .foot = FOOT_LEFT, .stride_us = 6000000 };
        gait_summarize_strides(st, n, scratch, &w);
        print_message("# with outliers: CV %.2f %% (plain %.2f %%)\n", w.foot[FOOT_LEFT].stride_time_cv_pct,
                      plain_cv_pct(st, n, FOOT_LEFT));
        assert_float_equal(w.foot[FOOT_LEFT].stride_time_cv_pct, clean, 0.05);
        assert_true(plain_cv_pct(st, n, FOOT_LEFT) > 10 * clean);
        assert_float_equal(w.stride_time_cv_pct, clean, 0.05); /* both feet: only the left walked */

        /* a walk whose stride times the sampling quantises: 30 of 40 equal, the rest one sample off */
        n = 0;
        for (; n < 40; n++)
                st[n] = (GaitStride) { .foot = FOOT_RIGHT, .stride_us = n % 4 == 0 ? (n % 8 ? 1010000 : 990000) : 1000000 };
        gait_summarize_strides(st, n, scratch, &w);
        print_message("# quantised: CV %.2f %%\n", w.foot[FOOT_RIGHT].stride_time_cv_pct);
        assert_float_equal(w.foot[FOOT_RIGHT].stride_time_cv_pct, plain_cv_pct(st, n, FOOT_RIGHT), 0.001);

        /* a very variable walk (Huntington's: CV above 20 %) keeps its variability */
        n = 0;
        for (; n < 40; n++)
                st[n] = (GaitStride) { .foot = FOOT_RIGHT, .stride_us = (uint32_t) (1000 + (int) (n % 5) * 150 - 300) * 1000 };
        gait_summarize_strides(st, n, scratch, &w);
        print_message("# variable: CV %.2f %%\n", w.foot[FOOT_RIGHT].stride_time_cv_pct);
        assert_float_equal(w.foot[FOOT_RIGHT].stride_time_cv_pct, plain_cv_pct(st, n, FOOT_RIGHT), 0.001);
        assert_true(w.foot[FOOT_RIGHT].stride_time_cv_pct > 20);
}

/* Timing certainty on hand-made landings: one force cell per foot at 300 Hz (as in gaitndd), 1.1 s
 * strides with 650 ms stances. The left foot lands sharply (a 25 ms rise): every contact stays
 * within a sample or two whatever the contact slope and level within their validated ranges. The
 * right foot rises slowly for 30 s (a 250 ms S-curve, whose onset moves ~30 ms between 1.5 and
 * 4 spans/s), then in two steps (to 37 % of its load, a plateau of 80 ms, then the rest: the
 * contact level 0.35 takes the first step, 0.40 the second). Both are uncertain, and the engine
 * still places the two-step contact on the first step. The day's share and the JSON say so. */
#define CERTAINTY_RATE_HZ 300.0
#define CERTAINTY_STRIDE_S 1.1
#define CERTAINTY_STANCE_S 0.65
#define CERTAINTY_PEAK_N 800.0

typedef enum Landing { LANDING_SHARP, LANDING_SLOW, LANDING_TWO_STEP } Landing;

static double smooth01(double x) {
        x = x < 0 ? 0 : x > 1 ? 1 : x;
        return x * x * (3 - 2 * x);
}

/* Load t seconds after the contact, for a stance of CERTAINTY_STANCE_S. */
static double landing_load(Landing l, double t) {
        double rise;

        if (t < 0 || t >= CERTAINTY_STANCE_S)
                return 0;
        if (l == LANDING_SLOW)
                rise = smooth01(t / 0.25);
        else if (l == LANDING_TWO_STEP)
                rise = t < 0.025 ? 0.37 * t / 0.025 : t < 0.105 ? 0.37 : 0.37 + 0.63 * MIN((t - 0.105) / 0.025, 1.0);
        else
                rise = MIN(t / 0.025, 1.0);
        return CERTAINTY_PEAK_N * rise * MIN((CERTAINTY_STANCE_S - t) / 0.05, 1.0);
}

/* Checks the strides the engine has completed since the last call; counts them per landing. */
static void check_landings(GaitEngine *e, unsigned checked[3]) {
        GaitStride got[32];
        size_t n;

        while ((n = gait_engine_take_strides(e, got, ELEMENTSOF(got))) > 0)
                for (size_t i = 0; i < n; i++) {
                        double t = got[i].t_contact_us / 1e6, spread_ms = got[i].contact_spread_us / 1e3;
                        if (t < 5 || (t > 29 && t < 32)) /* the levels are learnt; the right foot changes */
                                continue;
                        if (got[i].foot == FOOT_LEFT) {
                                assert_true(spread_ms < GAIT_CONTACT_UNCERTAIN_MS);
                                checked[LANDING_SHARP]++;
                                continue;
                        }
                        Landing l = t < 30 ? LANDING_SLOW : LANDING_TWO_STEP;
                        double onset = round((t - CERTAINTY_STRIDE_S / 2) / CERTAINTY_STRIDE_S) * CERTAINTY_STRIDE_S +
                                       CERTAINTY_STRIDE_S / 2;
                        assert_true(spread_ms >= GAIT_CONTACT_UNCERTAIN_MS);
                        if (l == LANDING_TWO_STEP)
                                assert_true(fabs(t - onset) < 0.015); /* on the first step */
                        checked[l]++;
                }
}

static void test_contact_certainty(void **state) {
        InsoleLayout layout[_FOOT_SIDE_MAX];
        GaitParams p = GAIT_PARAMS_DEFAULT;
        GaitEngine *e = NULL;
        GaitSnapshot snap;
        unsigned checked[3] = {};
        char buf[8192];
        JsonWriter jw;
        const char *out;

        (void) state;
        for (FootSide side = 0; side < _FOOT_SIDE_MAX; side++)
                layout[side] = (InsoleLayout) { .side = side, .n_cells = 1, .unit = PRESSURE_UNIT_NEWTON, .scale = 1 };
        assert_int_equal(gait_engine_new(&layout[FOOT_LEFT], &layout[FOOT_RIGHT], &p, &e), 0);
        for (unsigned i = 0; i < 60 * CERTAINTY_RATE_HZ; i++) {
                double t = i / CERTAINTY_RATE_HZ;
                for (FootSide side = 0; side < _FOOT_SIDE_MAX; side++) {
                        double since = fmod(t - (side == FOOT_RIGHT ? CERTAINTY_STRIDE_S / 2 : 0) + CERTAINTY_STRIDE_S, CERTAINTY_STRIDE_S);
                        Landing l = side == FOOT_LEFT ? LANDING_SHARP : t < 30 ? LANDING_SLOW : LANDING_TWO_STEP;
                        PressureSample sample = { .t_us = (uint64_t) llround(t * 1e6), .n_cells = 1 };
                        sample.cell[0] = (float) landing_load(l, since);
                        assert_int_equal(gait_engine_feed(e, side, &sample), 0);
                }
                if (i % 300 == 0)
                        check_landings(e, checked);
        }
        check_landings(e, checked);
        print_message("# strides checked: sharp %u, slow %u, two steps %u\n", checked[0], checked[1], checked[2]);
        assert_true(checked[LANDING_SHARP] >= 45 && checked[LANDING_SLOW] >= 20 && checked[LANDING_TWO_STEP] >= 20);

        assert_int_equal(gait_engine_snapshot(e, &snap), 0);
        print_message("# uncertain contacts today: left %.1f %%, right %.1f %%\n",
                      snap.window[GAIT_WINDOW_DAY].foot[FOOT_LEFT].uncertain_contacts_pct,
                      snap.window[GAIT_WINDOW_DAY].foot[FOOT_RIGHT].uncertain_contacts_pct);
        assert_true(snap.window[GAIT_WINDOW_DAY].foot[FOOT_LEFT].uncertain_contacts_pct < 5.0f);
        assert_true(snap.window[GAIT_WINDOW_DAY].foot[FOOT_RIGHT].uncertain_contacts_pct > 90.0f);
        assert_true(snap.window[GAIT_WINDOW_10S].foot[FOOT_RIGHT].uncertain_contacts_pct == 100.0f);
        json_writer_init(&jw, buf, sizeof(buf));
        assert_int_equal(gait_snapshot_to_json(&snap, &jw), 0);
        assert_int_equal(json_writer_finish(&jw, &out, NULL), 0);
        assert_non_null(strstr(out, "\"uncertain_contacts_pct\":100"));
        gait_engine_free(e);
}

/* Toe gripping while standing: the toes of the left foot press 60 N extra for 300 ms every 2 s.
 * Every grip that falls into the standing bout is counted (+-1), and none without them. */
static void toe_grips(FootSide side, PressureSample *s, void *userdata) {
        if (side == FOOT_LEFT && s->t_us >= 10 * USEC_PER_SEC && s->t_us % (2 * USEC_PER_SEC) < 300 * USEC_PER_MSEC)
                s->cell[7] += 60.0f;
}

static void test_toe_gripping(void **state) {
        for (unsigned with = 0; with < 2; with++) {
                GaitModelParams p = { .mode = GAIT_MODE_STANDING, .seed = 29, .noise = 0.03 };
                GaitModel *m = model_new(p);
                GaitEngine *e = engine_for(m, 70);
                SimRun *r = run_new();

                sim_feed(e, m, 0, 30, RATE_HZ, with ? toe_grips : NULL, NULL, r);
                print_message("# toe grips %s: %u in %.1f s standing (%.1f/min)\n", with ? "injected" : "none",
                              r->snapshot.balance.toe_grips, r->snapshot.balance.standing_us / 1e6,
                              r->snapshot.balance.toe_grips_per_min);
                assert_int_equal(r->snapshot.activity, ACTIVITY_STANDING);
                if (with)
                        assert_true(r->snapshot.balance.toe_grips >= 9 && r->snapshot.balance.toe_grips <= 11);
                else
                        assert_int_equal(r->snapshot.balance.toe_grips, 0);
                gait_engine_free(e);
                gait_model_free(m);
                free(r);
        }
}

/* A calibrated insole with a cell stuck at 300 N (about half the body weight) and a noisy cell (+-40 N): still every step,
 * cadence within 2 %, mostly heel strikes. */
static void stuck_and_noisy(FootSide side, PressureSample *s, void *userdata) {
        uint64_t *rng = userdata;
        s->cell[1] = 300.0f;
        s->cell[4] = MAX(s->cell[4] + 40.0f * rnd(rng), 0.0f);
}

static void test_calibrated_dead_noisy(void **state) {
        GaitModelParams p = { .mode = GAIT_MODE_WALKING, .cadence_spm = 100, .seed = 41, .noise = 0.03 };
        GaitModel *m = model_new(p);
        GaitEngine *e = engine_for(m, 70);
        SimRun *r = run_new();
        uint64_t rng = 7;

        sim_feed(e, m, 0, 60, RATE_HZ, stuck_and_noisy, &rng, r);
        const GaitWindowSummary *w = &r->snapshot.window[GAIT_WINDOW_60S];
        print_message("# stuck+noisy: cadence %.1f, steps %" PRIu64 " vs %" PRIu64 ", heel strikes %u/%u\n", w->cadence_spm,
                      r->snapshot.steps_total, r->model_steps, w->foot[0].strikes[STRIKE_HEEL], w->foot[0].stance_strides);
        assert_float_equal(w->cadence_spm, 100, 100 * 0.02);
        assert_true(llabs((long long) r->snapshot.steps_total - (long long) r->model_steps) <= 2);
        for (FootSide s = 0; s < _FOOT_SIDE_MAX; s++)
                assert_true(w->foot[s].strikes[STRIKE_HEEL] * 4 >= w->foot[s].stance_strides * 3);
        gait_engine_free(e);
        gait_model_free(m);
        free(r);
}

/* Without pressure: the device's step counter and RSC cadence drive steps, cadence and state. */
static void test_fallback(void **state) {
        InsoleLayout l = { .n_cells = 1, .unit = PRESSURE_UNIT_RAW, .scale = 1 };
        GaitEngine *e = NULL;
        GaitSnapshot s;

        assert_int_equal(gait_engine_new(&l, &l, NULL, &e), 0);
        for (unsigned i = 0; i <= 20; i++)
                assert_int_equal(gait_engine_feed_steps(e, i * USEC_PER_SEC, 1000 + i * 2), 0);
        assert_int_equal(gait_engine_snapshot(e, &s), 0);
        assert_int_equal(s.source, GAIT_SOURCE_STEPS);
        assert_int_equal(s.steps_total, 40);
        assert_int_equal(s.activity, ACTIVITY_WALKING);
        assert_float_equal(s.window[GAIT_WINDOW_10S].cadence_spm, 120, 0.5);

        assert_int_equal(gait_engine_feed_cadence(e, 21 * USEC_PER_SEC, 170, true), 0);
        assert_int_equal(gait_engine_snapshot(e, &s), 0);
        assert_int_equal(s.source, GAIT_SOURCE_CADENCE);
        assert_int_equal(s.activity, ACTIVITY_RUNNING);
        assert_float_equal(s.window[GAIT_WINDOW_10S].cadence_spm, 170, 0.01);
        assert_int_equal(gait_engine_feed_cadence(e, 22 * USEC_PER_SEC, NAN, false), -EINVAL);
        gait_engine_free(e);
}

/* A footpod has no step counter: its cadence over time is the count, in the totals and in the
 * windows; a gap longer than 5 s (a lost link) is not walked. */
static void test_cadence_steps(void **state) {
        InsoleLayout l = { .n_cells = 1, .unit = PRESSURE_UNIT_RAW, .scale = 1 };
        GaitEngine *e = NULL;
        GaitSnapshot s;

        assert_int_equal(gait_engine_new(&l, &l, NULL, &e), 0);
        for (unsigned i = 0; i <= 60; i++)
                assert_int_equal(gait_engine_feed_cadence(e, (10 + i) * USEC_PER_SEC, 120, false), 0);
        assert_int_equal(gait_engine_snapshot(e, &s), 0);
        assert_int_equal(s.source, GAIT_SOURCE_CADENCE);
        assert_int_equal(s.activity, ACTIVITY_WALKING);
        assert_int_equal(s.steps_total, 120);
        assert_int_equal(s.steps_day, 120);
        assert_int_equal(s.window[GAIT_WINDOW_10S].steps, 20);
        assert_int_equal(s.window[GAIT_WINDOW_60S].steps, 120);
        assert_int_equal(s.window[GAIT_WINDOW_DAY].steps, 120);

        /* 30 s without a measurement, then 90 spm: only the time after the gap counts */
        assert_int_equal(gait_engine_feed_cadence(e, 100 * USEC_PER_SEC, 90, false), 0);
        assert_int_equal(gait_engine_feed_cadence(e, 102 * USEC_PER_SEC, 90, false), 0);
        assert_int_equal(gait_engine_snapshot(e, &s), 0);
        assert_int_equal(s.steps_total, 123);
        assert_int_equal(s.window[GAIT_WINDOW_10S].steps, 3);

        /* standing still: nothing added, and the state says so */
        assert_int_equal(gait_engine_feed_cadence(e, 103 * USEC_PER_SEC, 0, false), 0);
        assert_int_equal(gait_engine_feed_cadence(e, 104 * USEC_PER_SEC, 0, false), 0);
        assert_int_equal(gait_engine_snapshot(e, &s), 0);
        assert_int_equal(s.steps_total, 124); /* the last second at 90 spm: 1.5 steps, rounded down with the rest */
        assert_int_equal(s.activity, ACTIVITY_STANDING);
        gait_engine_free(e);
}

/* The sample of the foot without an insole never arrives (a cell count the engine refuses). */
static void drop_right(FootSide side, PressureSample *s, void *userdata) {
        if (side == FOOT_RIGHT)
                s->n_cells = 0;
}

/* One insole: walking with cadence and steps of both feet, then standing and sitting from one
 * foot's load; symmetry, double support and balance stay unknown rather than wrong. */
static void test_single_foot(void **state) {
        GaitModelParams p = { .mode = GAIT_MODE_WALKING, .cadence_spm = 105, .seed = 31, .noise = 0.03 };
        GaitModel *m = model_new(p);
        GaitEngine *e = NULL;
        GaitParams gp = GAIT_PARAMS_DEFAULT;
        SimRun *r = run_new();
        uint64_t t = 0;

        gp.body_weight_kg = 70;
        gp.single_foot = true;
        assert_int_equal(gait_engine_new(gait_model_layout(m, FOOT_LEFT), gait_model_layout(m, FOOT_RIGHT), &gp, &e), 0);
        sim_feed(e, m, t, 40, RATE_HZ, drop_right, NULL, r);
        t += 40 * USEC_PER_SEC;
        const GaitWindowSummary *w = &r->snapshot.window[GAIT_WINDOW_10S];
        print_message("# one insole: %s, cadence %.1f spm, steps %" PRIu64 " vs model %" PRIu64 ", 10 s steps %u\n",
                      activity_state_to_string(r->snapshot.activity), w->cadence_spm, r->snapshot.steps_total,
                      r->model_steps, w->steps);
        assert_int_equal(r->snapshot.activity, ACTIVITY_WALKING);
        assert_float_equal(w->cadence_spm, 105, 105 * 0.03);
        assert_true(llabs((long long) r->snapshot.steps_total - (long long) r->model_steps) <= 3);
        assert_true(w->steps >= 16 && w->steps <= 20);
        assert_int_equal(w->foot[FOOT_RIGHT].strides, 0);
        assert_true(isnan(w->symmetry.step_time_pct) && isnan(w->symmetry.stance_time_pct));
        assert_true(isnan(w->double_support_ms) && isnan(w->double_support_pct));

        p.mode = GAIT_MODE_STANDING;
        gait_model_set_params(m, &p);
        sim_feed(e, m, t, 15, RATE_HZ, drop_right, NULL, r);
        t += 15 * USEC_PER_SEC;
        assert_int_equal(r->snapshot.activity, ACTIVITY_STANDING);

        p.mode = GAIT_MODE_SITTING;
        gait_model_set_params(m, &p);
        sim_feed(e, m, t, 15, RATE_HZ, drop_right, NULL, r);
        assert_int_equal(r->snapshot.activity, ACTIVITY_SITTING);
        assert_true(r->snapshot.activity_day_us[ACTIVITY_STANDING] > 10 * USEC_PER_SEC);

        /* the same insole without single_foot waits for the other foot forever */
        {
                GaitEngine *two = NULL;
                SimRun *r2 = run_new();
                p.mode = GAIT_MODE_WALKING;
                gait_model_set_params(m, &p);
                gp.single_foot = false;
                assert_int_equal(gait_engine_new(gait_model_layout(m, FOOT_LEFT), gait_model_layout(m, FOOT_RIGHT), &gp,
                                                 &two), 0);
                sim_feed(two, m, t, 20, RATE_HZ, drop_right, NULL, r2);
                assert_int_equal(r2->snapshot.activity, ACTIVITY_UNKNOWN);
                gait_engine_free(two);
                free(r2);
        }
        gait_engine_free(e);
        gait_model_free(m);
        free(r);
}

/* The MQTT payload: valid JSON, unit-suffixed fields, stride counts behind the figures. */
static void test_snapshot_json(void **state) {
        GaitModelParams p = { .mode = GAIT_MODE_WALKING, .seed = 23, .noise = 0.03 };
        SimRun *r = simulate(p, 30, 70);
        _cleanup_(json_document_freep) JsonDocument *doc = NULL;
        const JsonValue *root, *w, *v;
        JsonWriter jw;
        const char *out;
        size_t len;
        double d;
        uint64_t u;

        json_writer_init_dynamic(&jw);
        assert_int_equal(gait_snapshot_to_json(&r->snapshot, &jw), 0);
        assert_int_equal(json_writer_finish(&jw, &out, &len), 0);
        assert_int_equal(json_parse(out, len, NULL, &doc, NULL), 0);
        root = json_document_root(doc);
        v = json_value_member(json_value_member(root, "activity"), "state");
        assert_non_null(v);
        w = json_value_member(root, "last_60s");
        assert_non_null(w);
        assert_int_equal(json_value_get_double(json_value_member(w, "cadence_spm"), &d), 0);
        assert_float_equal(d, 105, 105 * 0.03);
        assert_int_equal(json_value_get_uint64(json_value_member(json_value_member(w, "symmetry"), "strides_left"), UINT64_MAX, &u), 0);
        assert_true(u > 10);
        assert_int_equal(json_value_get_double(json_value_member(json_value_member(w, "left"), "peak_heel_bw"), &d), 0);
        assert_true(d > 0.3 && d < 2.0);
        assert_non_null(json_value_member(json_value_member(w, "left"), "load_share_pct"));
        assert_non_null(json_value_member(root, "day"));
        assert_non_null(json_value_member(root, "balance"));
        /* the daemon serialises into a fixed 8 KiB buffer: stay well inside it */
        print_message("# snapshot JSON: %zu bytes\n", len);
        assert_true(len < 6144);
        json_writer_done(&jw);
        free(r);
}

/* Sitting is never "not worn": feet resting on the floor carry only 3-5 % of body weight each,
 * not far above the not-worn threshold, and a real sensor adds its own noise to every cell, loaded
 * or not. Many wearers (body weights, noise in the load and in the sensor, what they did before
 * sitting down, the engine told the body weight or not) sit for 90 s (the engine says not_worn
 * after 30 s of low load); from 5 s after sitting down the engine must say sitting at every tick,
 * and 45 s after taking the insoles off (once it has seen them in the air) not_worn. */
typedef struct SensorNoise {
        uint64_t rng;
        float newton; /* additive, uniform +-newton per cell and sample, clamped at 0 like a calibrated insole */
} SensorNoise;

static void add_sensor_noise(FootSide side, PressureSample *s, void *userdata) {
        SensorNoise *n = userdata;

        for (unsigned i = 0; i < s->n_cells; i++)
                s->cell[i] = MAX(s->cell[i] + n->newton * rnd(&n->rng), 0.0f);
}

static void test_sitting_is_worn(void **state) {
        static const GaitMode before[][2] = {
                { GAIT_MODE_WALKING, GAIT_MODE_STANDING },
                { GAIT_MODE_STANDING, GAIT_MODE_STANDING },
                { GAIT_MODE_WALKING, GAIT_MODE_CALF_RAISES },
                { GAIT_MODE_RUNNING, GAIT_MODE_WALKING },
        };
        static const double weights[] = { 40, 68, 100, 150 };
        static const double load_noise[] = { 0, 0.05 };
        static const float sensor_noise[] = { 0, 1.5f, 4.0f };
        unsigned wearers = 0, failed = 0;

        for (size_t b = 0; b < ELEMENTSOF(before); b++)
                for (size_t wi = 0; wi < ELEMENTSOF(weights); wi++)
                        for (size_t ni = 0; ni < ELEMENTSOF(load_noise); ni++)
                                for (size_t si = 0; si < ELEMENTSOF(sensor_noise); si++)
                                        for (int told = 0; told < 2; told++) {
                                                GaitModelParams p = { .mode = before[b][0], .body_weight_kg = weights[wi],
                                                                      .noise = load_noise[ni], .seed = 1000 + wearers };
                                                GaitModel *m = model_new(p);
                                                GaitEngine *e = engine_for(m, told ? (float) weights[wi] : 0);
                                                SensorNoise sn = { .rng = 77 + wearers, .newton = sensor_noise[si] };
                                                SimRun *r = run_new();
                                                uint64_t t = 0, period = (uint64_t) (1e6 / RATE_HZ);
                                                unsigned ticks = 0, seen[_ACTIVITY_MAX] = {};

                                                sim_feed(e, m, t, 30, RATE_HZ, add_sensor_noise, &sn, r);
                                                t += 30 * USEC_PER_SEC;
                                                p.mode = before[b][1];
                                                gait_model_set_params(m, &p);
                                                sim_feed(e, m, t, 20, RATE_HZ, add_sensor_noise, &sn, r);
                                                t += 20 * USEC_PER_SEC;
                                                p.mode = GAIT_MODE_SITTING;
                                                gait_model_set_params(m, &p);
                                                for (uint64_t sit = t, end = t + 90 * USEC_PER_SEC; t < end; t += period) {
                                                        for (FootSide side = 0; side < _FOOT_SIDE_MAX; side++) {
                                                                PressureSample s;
                                                                gait_model_sample(m, side, t, &s);
                                                                add_sensor_noise(side, &s, &sn);
                                                                (void) gait_engine_feed(e, side, &s);
                                                        }
                                                        if (t < sit + 5 * USEC_PER_SEC || (t - sit) % (100 * USEC_PER_MSEC) != 0)
                                                                continue;
                                                        seen[gait_engine_activity(e, NULL)]++;
                                                        ticks++;
                                                }
                                                if (seen[ACTIVITY_SITTING] != ticks) {
                                                        print_message("# %s, then %s, %.0f kg (%s), load noise %.2f, sensor noise %.1f N: "
                                                                      "sitting %u, not_worn %u, standing %u, other %u of %u\n",
                                                                      gait_mode_to_string(before[b][0]), gait_mode_to_string(before[b][1]),
                                                                      weights[wi], told ? "told" : "learnt", load_noise[ni],
                                                                      sensor_noise[si], seen[ACTIVITY_SITTING],
                                                                      seen[ACTIVITY_NOT_WORN], seen[ACTIVITY_STANDING],
                                                                      ticks - seen[ACTIVITY_SITTING] - seen[ACTIVITY_NOT_WORN] -
                                                                              seen[ACTIVITY_STANDING],
                                                                      ticks);
                                                        failed++;
                                                }
                                                /* And taken off, it is not worn (once swings showed the cells' level in the air). */
                                                p.mode = GAIT_MODE_NOT_WORN;
                                                gait_model_set_params(m, &p);
                                                sim_feed(e, m, t, 45, RATE_HZ, add_sensor_noise, &sn, r);
                                                t += 45 * USEC_PER_SEC;
                                                if (before[b][0] != GAIT_MODE_STANDING &&
                                                    gait_engine_activity(e, NULL) != ACTIVITY_NOT_WORN) {
                                                        print_message("# %.0f kg, sensor noise %.1f N: %s after taking the insoles off\n",
                                                                      weights[wi], sensor_noise[si],
                                                                      activity_state_to_string(gait_engine_activity(e, NULL)));
                                                        failed++;
                                                }
                                                wearers++;
                                                gait_engine_free(e);
                                                gait_model_free(m);
                                                free(r);
                                        }
        print_message("# %u sitting wearers, %u not sitting throughout\n", wearers, failed);
        assert_int_equal(failed, 0);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_foot_load),
                cmocka_unit_test(test_symmetry_index),
                cmocka_unit_test(test_invalid_input),
                cmocka_unit_test(test_walk_cadence),
                cmocka_unit_test(test_no_result_queues),
                cmocka_unit_test(test_asymmetry),
                cmocka_unit_test(test_pronation),
                cmocka_unit_test(test_strike_pattern),
                cmocka_unit_test(test_running),
                cmocka_unit_test(test_ring_follows_rate),
                cmocka_unit_test(test_fold_matches_long_ring),
                cmocka_unit_test(test_ring_time_base),
                cmocka_unit_test(test_windows_keep_precision),
                cmocka_unit_test(test_activity_and_balance),
                cmocka_unit_test(test_raw_drift_dead_noisy),
                cmocka_unit_test(test_windows_and_variability),
                cmocka_unit_test(test_toe_gripping),
                cmocka_unit_test(test_calibrated_dead_noisy),
                cmocka_unit_test(test_fallback),
                cmocka_unit_test(test_cadence_steps),
                cmocka_unit_test(test_single_foot),
                cmocka_unit_test(test_snapshot_json),
                cmocka_unit_test(test_sitting_is_worn),
                cmocka_unit_test(test_quality),
                cmocka_unit_test(test_variability_is_the_rhythms),
                cmocka_unit_test(test_contact_certainty),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
