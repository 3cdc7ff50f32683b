/* SPDX-License-Identifier: MIT */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "alerts-sim.h"

#define STEP_TIME_CV_PCT 3.0   /* stride-to-stride spread of one step time (healthy adults: 2-4 %) */
#define BOUT_CADENCE_SD 6.0    /* between walking bouts of one day, steps/min */
#define BOUT_ML_SD 0.02

static double gauss(const SimWearer *w, uint64_t a, uint64_t b) {
        return gait_model_gauss(w->seed * 7919 + 17, a, b);
}

static uint64_t splitmix64(uint64_t x) {
        x += 0x9e3779b97f4a7c15ULL;
        x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
        x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
        return x ^ (x >> 31);
}

/* Uniform in [0, 1), a pure function of (seed, a, b). */
static double unit(const SimWearer *w, uint64_t a, uint64_t b) {
        uint64_t x = splitmix64(w->seed ^ splitmix64(a * 0x100000001b3ULL + b + 0x5bd1e995));
        return (double) (x >> 11) * (1.0 / 9007199254740992.0);
}

void sim_wearer_init(SimWearer *w, uint64_t seed, const GaitDayVariability *v) {
        *w = (SimWearer) { .seed = seed, .variability = *v, .onset_day = UINT32_MAX, .cadence_drop_spm = 15 };
        w->usual = (GaitModelParams) {
                .mode = GAIT_MODE_WALKING,
                .cadence_spm = 105 + 7 * gauss(w, 0, 1),
                .asymmetry = 0.02 + 0.005 * gauss(w, 0, 2),
                .pronation = 0.3 * gauss(w, 0, 3),
                .noise = 0.05,
                .seed = seed,
        };
        w->stance_si_offset = 1.0 + 0.4 * gauss(w, 0, 4);
        w->ml_index0 = 0.05 + 0.05 * gauss(w, 0, 5);
        w->cv0_pct = 2.0 + 0.3 * gauss(w, 0, 6);
}

uint32_t sim_day_strides(const SimWearer *w, unsigned day) {
        if (unit(w, day, 20) < 0.12)
                return (uint32_t) (unit(w, day, 21) * 290); /* stayed in, forgot the insoles */
        return (uint32_t) CLAMP(2500 * exp(0.6 * gauss(w, day, 22)), 800.0, 12000.0);
}

LocalDate sim_date(unsigned day) {
        int y, mo, d;
        civil_from_days(days_from_civil(2026, 1, 1) + day, &y, &mo, &d);
        return LOCAL_DATE(y, mo, d);
}

typedef struct DayTruth {
        GaitModelParams p;
        double step_si_pct;     /* signed true step-time difference, % */
        double stance_si_pct;
        double cv_pct;
        double ml;
        double cadence_shift;
} DayTruth;

static void day_truth(const SimWearer *w, unsigned day, DayTruth *ret) {
        bool on = w->onset != SIM_ONSET_NONE && day >= w->onset_day;
        GaitModelParams usual = w->usual;

        if (on && w->onset == SIM_ONSET_STEP_ASYMMETRY)
                usual.asymmetry += 0.085;
        gait_model_params_for_day(&usual, &w->variability, w->seed, day, &ret->p);
        ret->step_si_pct = 100 * ret->p.asymmetry / (1 + ret->p.asymmetry / 2);
        /* A limp shows in stance times too, less than in step times. */
        ret->stance_si_pct = w->stance_si_offset + 0.4 * (ret->step_si_pct - 100 * w->usual.asymmetry) +
                             (on && w->onset == SIM_ONSET_STANCE_ASYMMETRY ? 8 : 0);
        ret->cv_pct = w->cv0_pct * ret->p.noise / w->usual.noise * (on && w->onset == SIM_ONSET_VARIABILITY ? 2.5 : 1);
        ret->ml = w->ml_index0 + 0.12 * (ret->p.pronation - w->usual.pronation) +
                  (on && w->onset == SIM_ONSET_ML_INDEX ? 0.15 : 0);
        ret->cadence_shift = on && w->onset == SIM_ONSET_CADENCE ? -w->cadence_drop_spm : 0;
}

typedef struct Running {
        uint32_t n;
        double cad_sum;      /* sum over strides of the bout cadence */
        double st_sum, st_sq; /* bout stride times, for the between-bout part of the CV */
        double ml_sum;
} Running;

static void running_values(const SimWearer *w, const DayTruth *t, const Running *r, unsigned day, GaitDay *ret) {
        double n = r->n, cad, st, st_mean, var_b, cv_w, se;

        gait_day_init(ret, sim_date(day));
        ret->strides = r->n;
        ret->steps = r->n * 2ULL;
        ret->active_s = (uint32_t) (n * 120 / MAX(t->p.cadence_spm, 30.0));
        if (r->n == 0)
                return;
        /* Medians over n strides: 1.25 x SD / sqrt(n). Draws depend on (day, n): repeatable. */
        cad = r->cad_sum / n + 1.25 * t->p.cadence_spm * w->cv0_pct / 100 * gauss(w, day * 100000ULL + r->n, 1) / sqrt(n);
        st = 120000 / cad;
        ret->value[GAIT_METRIC_CADENCE] = (float) cad;
        ret->value[GAIT_METRIC_STRIDE_TIME] = (float) st;
        ret->value[GAIT_METRIC_STANCE_TIME] = (float) (0.61 * st);
        ret->value[GAIT_METRIC_SWING_TIME] = (float) (0.39 * st);
        /* The median of 60-second windows (about 55 strides each): a window's CV is off by about
         * 1 / sqrt(2 x 55) relative, and a window that spans two walks adds their difference. */
        st_mean = r->st_sum / n;
        var_b = MAX(r->st_sq / n - st_mean * st_mean, 0.0);
        cv_w = t->cv_pct / 100;
        ret->value[GAIT_METRIC_STRIDE_TIME_CV] =
                (float) (100 * sqrt(cv_w * cv_w + 0.01 * var_b / (st_mean * st_mean)) *
                         (1 + 1.25 * 0.095 * gauss(w, day * 100000ULL + r->n, 2) / sqrt(MAX(n / 55, 1.0))));
        se = M_SQRT2 * 1.25 * STEP_TIME_CV_PCT / sqrt(n / 2);
        /* The signed asymmetries (left minus right) and the indices are the same figures, the indices
         * folded at zero. The model's asymmetry lengthens the right step: negative. */
        ret->value[GAIT_METRIC_STEP_TIME_ASYM] = (float) -(t->step_si_pct + se * gauss(w, day * 100000ULL + r->n, 3));
        ret->value[GAIT_METRIC_STANCE_TIME_ASYM] =
                (float) -(t->stance_si_pct + 1.2 * se * gauss(w, day * 100000ULL + r->n, 4));
        ret->value[GAIT_METRIC_STEP_TIME_SI] = fabsf(ret->value[GAIT_METRIC_STEP_TIME_ASYM]);
        ret->value[GAIT_METRIC_STANCE_TIME_SI] = fabsf(ret->value[GAIT_METRIC_STANCE_TIME_ASYM]);
        ret->value[GAIT_METRIC_SWING_TIME_SI] =
                (float) fabs(1.5 * t->stance_si_pct + 1.8 * se * gauss(w, day * 100000ULL + r->n, 5));
        ret->value[GAIT_METRIC_ML_INDEX] = (float) (r->ml_sum / n + 0.06 * gauss(w, day * 100000ULL + r->n, 6) / sqrt(n));
}

unsigned sim_run_day(const SimWearer *w, unsigned day, uint32_t strides, AlertMonitor *m, int metric,
                     uint32_t *ret_at_strides) {
        DayTruth t;
        Running r = {};
        GaitDay today;
        AlertEvent e;
        unsigned found = 0, bout = 0;
        uint32_t bout_left = 0;
        double bout_cad = 0, bout_ml = 0;

        day_truth(w, day, &t);
        if (ret_at_strides)
                *ret_at_strides = 0;

        while (r.n < strides) {
                uint32_t chunk = MIN(25u, strides - r.n);

                for (uint32_t i = 0; i < chunk; i++) {
                        if (bout_left == 0) {
                                bout++;
                                bout_left = 10 + (uint32_t) (unit(w, day * 1000ULL + bout, 30) * 190);
                                bout_cad = t.p.cadence_spm + t.cadence_shift + BOUT_CADENCE_SD * gauss(w, day * 1000ULL + bout, 31);
                                bout_ml = t.ml + BOUT_ML_SD * gauss(w, day * 1000ULL + bout, 32);
                        }
                        bout_left--;
                        r.n++;
                        r.cad_sum += bout_cad;
                        r.st_sum += 120000 / bout_cad;
                        r.st_sq += (120000 / bout_cad) * (120000 / bout_cad);
                        r.ml_sum += bout_ml;
                }
                running_values(w, &t, &r, day, &today);
                alert_monitor_update_today(m, &today);
                while (alert_monitor_take_event(m, &e))
                        if (e.type == ALERT_EVENT_CHANGED && (metric < 0 || (int) e.metric == metric)) {
                                if (getenv("ALERT_DEBUG"))
                                        fprintf(stderr, "seed %llu day %u %s %+d value %.3f median %.3f spread %.3f days %u strides %u intraday %d\n",
                                                (unsigned long long) w->seed, day, gait_metric_to_string(e.metric), e.direction, e.value,
                                                e.baseline.median, e.baseline.spread, e.baseline.days, r.n, e.intraday);
                                if (found++ == 0 && ret_at_strides)
                                        *ret_at_strides = r.n;
                        }
        }
        running_values(w, &t, &r, day, &today);
        alert_monitor_end_day(m, &today);
        while (alert_monitor_take_event(m, &e))
                if (e.type == ALERT_EVENT_CHANGED && (metric < 0 || (int) e.metric == metric)) {
                        if (found++ == 0 && ret_at_strides)
                                *ret_at_strides = r.n;
                }
        return found;
}
