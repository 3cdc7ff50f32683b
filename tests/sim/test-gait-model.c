/* SPDX-License-Identifier: MIT */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "gait-model.h"
#include "macro.h"

#define RATE_US 10000 /* 100 Hz */
#define BW_N(kg) ((kg) * 9.81)

static GaitModel *model(GaitMode mode, uint64_t seed, double noise) {
        GaitModelParams p = { .mode = mode, .body_weight_kg = 70, .seed = seed, .noise = noise };
        GaitModel *m = NULL;
        assert_int_equal(gait_model_new(&p, &m), 0);
        return m;
}

static double total(const PressureSample *s) {
        double t = 0;
        for (int i = 0; i < s->n_cells; i++)
                t += s->cell[i];
        return t;
}

static double heel(const PressureSample *s) {
        return s->cell[0] + s->cell[1];
}

static double front(const PressureSample *s) {
        return s->cell[4] + s->cell[5] + s->cell[6] + s->cell[7];
}

static void test_layout(void **state) {
        GaitModel *m = model(GAIT_MODE_STANDING, 1, 0);
        for (FootSide side = 0; side < _FOOT_SIDE_MAX; side++) {
                const InsoleLayout *l = gait_model_layout(m, side);
                assert_non_null(l);
                assert_int_equal(l->side, side);
                assert_int_equal(l->n_cells, 8);
                assert_int_equal(l->unit, PRESSURE_UNIT_NEWTON);
                assert_int_equal(foot_region_of(l->cells[0].x), REGION_HEEL);
                assert_int_equal(foot_region_of(l->cells[1].x), REGION_HEEL);
                assert_int_equal(foot_region_of(l->cells[2].x), REGION_MIDFOOT);
                assert_int_equal(foot_region_of(l->cells[3].x), REGION_MIDFOOT);
                for (int i = 4; i < 7; i++)
                        assert_int_equal(foot_region_of(l->cells[i].x), REGION_FOREFOOT);
                assert_int_equal(foot_region_of(l->cells[7].x), REGION_TOES);
                assert_true(l->cells[4].y < l->cells[6].y); /* 1st MTH medial of 5th */
        }
        assert_null(gait_model_layout(m, _FOOT_SIDE_INVALID));
        gait_model_free(m);
}

static void test_invalid_params(void **state) {
        GaitModel *m = NULL;
        GaitModelParams p = { .mode = _GAIT_MODE_MAX };
        assert_int_equal(gait_model_new(&p, &m), -EINVAL);
        p = (GaitModelParams) { .mode = GAIT_MODE_WALKING, .pronation = 2 };
        assert_int_equal(gait_model_new(&p, &m), -EINVAL);
        p = (GaitModelParams) { .mode = GAIT_MODE_WALKING, .asymmetry = NAN };
        assert_int_equal(gait_model_new(&p, &m), -EINVAL);
        assert_null(m);
        assert_int_equal(gait_mode_from_string("walk"), GAIT_MODE_WALKING);
        assert_int_equal(gait_mode_from_string("single_leg_right"), GAIT_MODE_SINGLE_LEG_RIGHT);
        assert_int_equal(gait_mode_from_string("dance"), _GAIT_MODE_INVALID);
        assert_string_equal(gait_mode_to_string(GAIT_MODE_CALF_RAISES), "calf_raises");
}

/* Walks both feet in lock step from t0 to t1 at 100 Hz, collecting figures. */
typedef struct Walk {
        double peak[2], min_total[2], max_both_unloaded_s, flight_s, double_support_s, single_support_s;
        double max_heel[2];
        uint64_t ic[2], to[2];
        uint64_t first_ic[2][64];
        size_t n_first_ic[2];
        double stance_s[2];
} Walk;

static void walk(GaitModel *m, uint64_t t0, uint64_t t1, Walk *w) {
        double bw = BW_N(70);
        *w = (Walk) { .min_total = { 1e9, 1e9 } };
        for (uint64_t t = t0; t < t1; t += RATE_US) {
                PressureSample s[2];
                bool loaded[2];
                for (FootSide f = 0; f < 2; f++) {
                        gait_model_sample(m, f, t, &s[f]);
                        double tot = total(&s[f]);
                        w->peak[f] = MAX(w->peak[f], tot / bw);
                        w->min_total[f] = MIN(w->min_total[f], tot / bw);
                        w->max_heel[f] = MAX(w->max_heel[f], heel(&s[f]) / bw);
                        loaded[f] = tot > 0.02 * bw;
                        if (loaded[f])
                                w->stance_s[f] += RATE_US / 1e6;
                }
                if (!loaded[0] && !loaded[1])
                        w->flight_s += RATE_US / 1e6;
                else if (loaded[0] && loaded[1])
                        w->double_support_s += RATE_US / 1e6;
                else
                        w->single_support_s += RATE_US / 1e6;
        }
        GaitTruthEvent ev[256];
        size_t n;
        while ((n = gait_model_take_events(m, ev, ELEMENTSOF(ev))) > 0)
                for (size_t i = 0; i < n; i++) {
                        FootSide f = ev[i].side;
                        if (ev[i].initial_contact) {
                                w->ic[f]++;
                                if (w->n_first_ic[f] < 64)
                                        w->first_ic[f][w->n_first_ic[f]++] = ev[i].t_us;
                        } else
                                w->to[f]++;
                }
}

static void test_walking(void **state) {
        GaitModelParams p = { .mode = GAIT_MODE_WALKING, .cadence_spm = 110, .speed_m_s = 1.3, .body_weight_kg = 70, .seed = 7 };
        GaitModel *m = NULL;
        Walk w;
        assert_int_equal(gait_model_new(&p, &m), 0);
        walk(m, 0, 60 * USEC_PER_SEC, &w);
        for (FootSide f = 0; f < 2; f++) {
                /* 110 steps/min in total: 55 per foot, minus the start-up stride. */
                assert_in_range(gait_model_steps(m, f), 52, 56);
                assert_int_equal(gait_model_steps(m, f), w.ic[f]);
                assert_in_range(w.to[f], w.ic[f] - 1, w.ic[f] + 1);
                /* Double hump peak ~1.1-1.2 body weights; swing unloads the foot completely. */
                assert_true(w.peak[f] > 1.08 && w.peak[f] < 1.3);
                assert_true(w.min_total[f] < 0.001);
                /* Stance ~60 % of the time. */
                assert_true(w.stance_s[f] / 60 > 0.55 && w.stance_s[f] / 60 < 0.66);
        }
        /* Walking never has a flight phase; double support ~2 x 10 %. */
        assert_true(w.flight_s < 0.05);
        assert_true(w.double_support_s / 60 > 0.12 && w.double_support_s / 60 < 0.30);
        gait_model_free(m);
}

static void test_walking_rollover(void **state) {
        /* The centre of pressure moves heel -> forefoot -> toes within a stance. */
        GaitModel *m = model(GAIT_MODE_WALKING, 3, 0);
        GaitTruthEvent ev[64];
        PressureSample s;
        uint64_t t = 0, ic = 0, to = 0;
        for (; t < 10 * USEC_PER_SEC; t += 1000) {
                gait_model_sample(m, FOOT_LEFT, t, &s);
                gait_model_sample(m, FOOT_RIGHT, t, &s);
        }
        size_t n = gait_model_take_events(m, ev, ELEMENTSOF(ev));
        for (size_t i = 0; i + 1 < n; i++)
                if (ev[i].side == FOOT_LEFT && ev[i].initial_contact && ev[i].t_us > 3 * USEC_PER_SEC) {
                        ic = ev[i].t_us;
                        for (size_t j = i + 1; j < n; j++)
                                if (ev[j].side == FOOT_LEFT && !ev[j].initial_contact) {
                                        to = ev[j].t_us;
                                        break;
                                }
                        break;
                }
        assert_true(ic > 0 && to > ic);
        GaitModel *m2 = model(GAIT_MODE_WALKING, 3, 0);
        double stance = (double) (to - ic);
        PressureSample early = {}, mid = {}, late = {};
        bool got_early = false, got_mid = false, got_late = false;
        for (t = 0; t <= to; t += 1000) {
                PressureSample x;
                gait_model_sample(m2, FOOT_LEFT, t, &x);
                if (!got_early && t >= ic + (uint64_t) (0.10 * stance)) {
                        early = x;
                        got_early = true;
                }
                if (!got_mid && t >= ic + (uint64_t) (0.45 * stance)) {
                        mid = x;
                        got_mid = true;
                }
                if (!got_late && t >= ic + (uint64_t) (0.90 * stance)) {
                        late = x;
                        got_late = true;
                }
        }
        assert_true(got_early && got_mid && got_late);
        assert_true(heel(&early) > 0.8 * total(&early));
        assert_true(mid.cell[2] + mid.cell[3] > 0.02 * total(&mid)); /* midfoot takes a share */
        assert_true(front(&late) > 0.95 * total(&late));
        assert_true(late.cell[7] > 0.2 * total(&late)); /* toes at push-off */
        gait_model_free(m);
        gait_model_free(m2);
}

static void test_running(void **state) {
        GaitModel *m = model(GAIT_MODE_RUNNING, 5, 0);
        Walk w;
        walk(m, 0, 30 * USEC_PER_SEC, &w);
        for (FootSide f = 0; f < 2; f++) {
                assert_true(w.peak[f] > 2.2 && w.peak[f] < 2.9);
                assert_true(w.stance_s[f] / 30 < 0.42);
                assert_in_range(gait_model_steps(m, f), 38, 42); /* 165 spm */
        }
        assert_true(w.flight_s / 30 > 0.08); /* flight phase */
        assert_true(w.double_support_s < 0.3);
        gait_model_free(m);
}

static void test_standing_sway(void **state) {
        GaitModel *m = model(GAIT_MODE_STANDING, 11, 0);
        double bw = BW_N(70), min_share = 1, max_share = 0, min_heel = 1, max_heel = 0;
        for (uint64_t t = 0; t < 30 * USEC_PER_SEC; t += RATE_US) {
                PressureSample l, r;
                gait_model_sample(m, FOOT_LEFT, t, &l);
                gait_model_sample(m, FOOT_RIGHT, t, &r);
                double tl = total(&l), tr = total(&r);
                assert_true(fabs(tl + tr - bw) < 0.02 * bw);
                min_share = MIN(min_share, tl / (tl + tr));
                max_share = MAX(max_share, tl / (tl + tr));
                min_heel = MIN(min_heel, heel(&l) / tl);
                max_heel = MAX(max_heel, heel(&l) / tl);
        }
        assert_true(min_share > 0.38 && max_share < 0.62);
        assert_true(max_share - min_share > 0.04); /* it sways */
        assert_true(max_heel - min_heel > 0.04);
        assert_int_equal(gait_model_steps(m, FOOT_LEFT), 0);
        GaitTruthEvent ev[4];
        assert_int_equal(gait_model_take_events(m, ev, ELEMENTSOF(ev)), 0);
        gait_model_free(m);
}

static void test_sitting_and_not_worn(void **state) {
        double bw = BW_N(70);
        GaitModel *m = model(GAIT_MODE_SITTING, 2, 0.05);
        for (uint64_t t = 0; t < 10 * USEC_PER_SEC; t += RATE_US) {
                PressureSample s;
                gait_model_sample(m, FOOT_RIGHT, t, &s);
                assert_true(total(&s) > 0.01 * bw && total(&s) < 0.08 * bw);
        }
        gait_model_free(m);
        m = model(GAIT_MODE_NOT_WORN, 2, 0.05);
        PressureSample s;
        gait_model_sample(m, FOOT_LEFT, 5 * USEC_PER_SEC, &s);
        assert_true(total(&s) == 0);
        gait_model_free(m);
}

static void test_calf_raises(void **state) {
        double bw = BW_N(70);
        GaitModel *m = model(GAIT_MODE_CALF_RAISES, 4, 0);
        bool heels_up = false, heels_down = false;
        for (uint64_t t = 0; t < 10 * USEC_PER_SEC; t += RATE_US) {
                PressureSample l, r;
                gait_model_sample(m, FOOT_LEFT, t, &l);
                gait_model_sample(m, FOOT_RIGHT, t, &r);
                if (heel(&l) < 0.01 * bw && heel(&r) < 0.01 * bw && front(&l) > 0.35 * bw && front(&r) > 0.35 * bw)
                        heels_up = true;
                if (heel(&l) > 0.2 * bw)
                        heels_down = true;
        }
        assert_true(heels_up);
        assert_true(heels_down);
        assert_int_equal(gait_model_steps(m, FOOT_LEFT), 0);
        gait_model_free(m);
}

static void test_toe_walking(void **state) {
        GaitModel *m = model(GAIT_MODE_TOE_WALKING, 4, 0.05);
        Walk w;
        walk(m, 0, 20 * USEC_PER_SEC, &w);
        assert_true(w.max_heel[0] < 0.02 && w.max_heel[1] < 0.02);
        assert_true(w.peak[0] > 0.9);
        assert_true(gait_model_steps(m, FOOT_LEFT) > 10);
        gait_model_free(m);
}

static void test_single_leg(void **state) {
        double bw = BW_N(70);
        GaitModel *m = model(GAIT_MODE_SINGLE_LEG_RIGHT, 4, 0);
        for (uint64_t t = 0; t < 5 * USEC_PER_SEC; t += RATE_US) {
                PressureSample l, r;
                gait_model_sample(m, FOOT_LEFT, t, &l);
                gait_model_sample(m, FOOT_RIGHT, t, &r);
                assert_true(total(&l) < 1e-3);
                assert_true(total(&r) > 0.9 * bw && total(&r) < 1.1 * bw);
        }
        gait_model_free(m);
}

static void test_determinism(void **state) {
        GaitModel *a = model(GAIT_MODE_WALKING, 42, 0.05), *b = model(GAIT_MODE_WALKING, 42, 0.05),
                  *c = model(GAIT_MODE_WALKING, 43, 0.05);
        bool differs = false;
        for (uint64_t t = 0; t < 5 * USEC_PER_SEC; t += RATE_US)
                for (FootSide f = 0; f < 2; f++) {
                        PressureSample x, y, z;
                        gait_model_sample(a, f, t, &x);
                        gait_model_sample(b, f, t, &y);
                        gait_model_sample(c, f, t, &z);
                        assert_memory_equal(x.cell, y.cell, sizeof(x.cell));
                        if (memcmp(x.cell, z.cell, sizeof(x.cell)) != 0)
                                differs = true;
                }
        assert_true(differs);
        gait_model_free(a);
        gait_model_free(b);
        gait_model_free(c);
}

static void test_mode_change(void **state) {
        GaitModelParams p = { .mode = GAIT_MODE_WALKING, .seed = 1 };
        GaitModel *m = NULL;
        Walk w;
        assert_int_equal(gait_model_new(&p, &m), 0);
        walk(m, 0, 10 * USEC_PER_SEC, &w);
        uint64_t steps = gait_model_steps(m, FOOT_LEFT) + gait_model_steps(m, FOOT_RIGHT);
        assert_true(steps > 10);
        p.mode = GAIT_MODE_STANDING;
        gait_model_set_params(m, &p);
        walk(m, 10 * USEC_PER_SEC, 20 * USEC_PER_SEC, &w);
        uint64_t after = gait_model_steps(m, FOOT_LEFT) + gait_model_steps(m, FOOT_RIGHT);
        assert_in_range(after - steps, 0, 3); /* the stride in flight plus the stopping step */
        assert_int_equal(gait_model_current_mode(m, FOOT_LEFT), GAIT_MODE_STANDING);
        /* and back to walking, through a gait initiation */
        p.mode = GAIT_MODE_WALKING;
        gait_model_set_params(m, &p);
        walk(m, 20 * USEC_PER_SEC, 30 * USEC_PER_SEC, &w);
        assert_true(gait_model_steps(m, FOOT_LEFT) + gait_model_steps(m, FOOT_RIGHT) > after + 12);
        assert_true(w.flight_s < 0.05);
        gait_model_free(m);
}

static void test_asymmetry(void **state) {
        GaitModelParams p = { .mode = GAIT_MODE_WALKING, .cadence_spm = 100, .asymmetry = 0.2, .seed = 1 };
        GaitModel *m = NULL;
        Walk w;
        assert_int_equal(gait_model_new(&p, &m), 0);
        walk(m, 0, 20 * USEC_PER_SEC, &w);
        /* right step = left IC -> right IC; left step = right IC -> next left IC */
        double right_step = 0, left_step = 0;
        size_t n = MIN(w.n_first_ic[0], w.n_first_ic[1]) - 1;
        for (size_t i = 1; i < n; i++) {
                right_step += (double) (w.first_ic[1][i] - w.first_ic[0][i]);
                left_step += (double) (w.first_ic[0][i + 1] - w.first_ic[1][i]);
        }
        assert_true(fabs(right_step / left_step - 1.2) < 0.02);
        gait_model_free(m);
}

static double medial_share(GaitModel *m) {
        double med = 0, lat = 0;
        for (uint64_t t = 0; t < 10 * USEC_PER_SEC; t += RATE_US) {
                PressureSample s;
                gait_model_sample(m, FOOT_LEFT, t, &s);
                med += s.cell[0] + s.cell[3] + s.cell[4];
                lat += s.cell[1] + s.cell[2] + s.cell[6];
        }
        return med / (med + lat);
}

static void test_pronation(void **state) {
        GaitModelParams p = { .mode = GAIT_MODE_WALKING, .pronation = 1, .seed = 1 };
        GaitModel *pro = NULL, *sup = NULL, *neutral = NULL;
        assert_int_equal(gait_model_new(&p, &pro), 0);
        p.pronation = -1;
        assert_int_equal(gait_model_new(&p, &sup), 0);
        p.pronation = 0;
        assert_int_equal(gait_model_new(&p, &neutral), 0);
        double a = medial_share(pro), b = medial_share(neutral), c = medial_share(sup);
        assert_true(a > b + 0.1);
        assert_true(b > c + 0.1);
        gait_model_free(pro);
        gait_model_free(sup);
        gait_model_free(neutral);
}

typedef struct Landing {
        double heel_peak, heel_peak_t, front_at_5;
} Landing;

static Landing landing(const GaitModelParams *p) {
        GaitModel *m = NULL;
        GaitTruthEvent ev[64];
        Landing l = {};
        assert_int_equal(gait_model_new(p, &m), 0);
        PressureSample s;
        uint64_t ic = 0;
        for (uint64_t t = 0; t < 5 * USEC_PER_SEC; t += 1000) {
                gait_model_sample(m, FOOT_LEFT, t, &s);
                size_t n = gait_model_take_events(m, ev, ELEMENTSOF(ev));
                for (size_t i = 0; i < n; i++)
                        if (ev[i].initial_contact && ev[i].t_us > 2 * USEC_PER_SEC && ic == 0)
                                ic = ev[i].t_us;
                if (ic > 0 && t >= ic && t < ic + 200 * USEC_PER_MSEC) {
                        if (heel(&s) > l.heel_peak) {
                                l.heel_peak = heel(&s);
                                l.heel_peak_t = (double) (t - ic) / 1e6;
                        }
                        if (t >= ic + 30 * USEC_PER_MSEC && l.front_at_5 == 0)
                                l.front_at_5 = front(&s) / total(&s);
                }
        }
        gait_model_free(m);
        return l;
}

static void test_heel_strike_options(void **state) {
        GaitModelParams p = { .mode = GAIT_MODE_WALKING, .seed = 1 };
        Landing normal = landing(&p);
        p.hard_heel_strike = true;
        Landing hard = landing(&p);
        p.hard_heel_strike = false;
        p.flat_foot = true;
        Landing flat = landing(&p);
        assert_true(hard.heel_peak > normal.heel_peak * 1.15);
        assert_true(hard.heel_peak_t < normal.heel_peak_t);
        assert_true(normal.front_at_5 < 0.05);
        assert_true(flat.front_at_5 > 0.3); /* heel and forefoot land together */
}

/* Day-to-day variability: a pure function of (seed, day), with the configured spread. */
static void test_day_variability(void **state) {
        GaitModelParams usual = { .mode = GAIT_MODE_WALKING, .cadence_spm = 105, .asymmetry = 0.02, .noise = 0.05, .seed = 9 };
        GaitDayVariability v = GAIT_DAY_VARIABILITY_HEALTHY;
        double sum = 0, sq = 0, asym_sq = 0;
        GaitModelParams a, b;
        const unsigned n = 4000;

        gait_model_params_for_day(&usual, &v, 9, 17, &a);
        gait_model_params_for_day(&usual, &v, 9, 17, &b);
        assert_memory_equal(&a, &b, sizeof(a));
        gait_model_params_for_day(&usual, &v, 9, 18, &b);
        assert_true(a.cadence_spm != b.cadence_spm);
        assert_int_equal(a.mode, GAIT_MODE_WALKING);

        for (unsigned d = 0; d < n; d++) {
                gait_model_params_for_day(&usual, &v, 9, d, &a);
                sum += a.cadence_spm;
                sq += (a.cadence_spm - 105) * (a.cadence_spm - 105);
                asym_sq += (a.asymmetry - 0.02) * (a.asymmetry - 0.02);
                assert_true(a.noise > 0);
        }
        /* SD with 3 % odd days at twice the spread: sqrt(0.97 + 0.03 x 4) = 1.04 x the spread */
        assert_float_equal(sum / n, 105, 0.2);
        assert_float_equal(sqrt(sq / n), 1.04 * v.cadence_sd_spm, 0.15);
        assert_float_equal(sqrt(asym_sq / n), 1.04 * v.asymmetry_sd, 0.0006);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_layout),
                cmocka_unit_test(test_invalid_params),
                cmocka_unit_test(test_walking),
                cmocka_unit_test(test_walking_rollover),
                cmocka_unit_test(test_running),
                cmocka_unit_test(test_standing_sway),
                cmocka_unit_test(test_sitting_and_not_worn),
                cmocka_unit_test(test_calf_raises),
                cmocka_unit_test(test_toe_walking),
                cmocka_unit_test(test_single_leg),
                cmocka_unit_test(test_determinism),
                cmocka_unit_test(test_mode_change),
                cmocka_unit_test(test_asymmetry),
                cmocka_unit_test(test_pronation),
                cmocka_unit_test(test_heel_strike_options),
                cmocka_unit_test(test_day_variability),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
