/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alerts.h"
#include "checksum.h"
#include "hex.h"
#include "round-util.h"
#include "string-table.h"

#define ALERT_EVENT_QUEUE 16
#define ALERT_STATE_VERSION 1 /* of one wearer's object */
/* Of the file: from 2 on it ends with "checksum", the FNV-1a 64 of every byte before its ',' (all or
 * nothing, like the state file's end line); 1 (no checksum) is still read. 3 has the signed
 * asymmetries in its day rows: an older gateway reads a higher version as "newer, leave alone",
 * where rows of an unexpected length would make it put the file aside as damaged. 4 measures the
 * stride-time CV without the strides far off the median (docs/metrics.md): the CV days of an older
 * file are forgotten on reading, so that its baseline starts again instead of the new definition
 * looking like a change of the wearer's walking. */
#define ALERT_HISTORY_VERSION 4
#define HISTORY_VERSION_ROBUST_CV 4
#define CHECKSUM_KEY ",\"checksum\":\""
/* Values of a day row in versions 1 and 2, before the signed asymmetries were appended. */
#define HISTORY_METRICS_V2 (GAIT_METRIC_LEFT_SHARE + 1)
/* The wearer's own spread is pooled with the metric's typical day-to-day spread as if that came
 * from ALERT_PRIOR_DAYS days, so that a baseline of a few lucky days does not look too tight. What
 * is left of the uncertainty of a baseline from few days: the spread is widened by
 * 1 + ALERT_SCALE_INFLATION / sqrt(days), and the median's own error (pi/2 s^2 / days) is added. */
#define ALERT_PRIOR_DAYS 4.0
#define ALERT_SCALE_INFLATION 0.3
/* A run the CUSUM is weighing is held out of the baseline once its sum reaches ALERT_HOLD_SHARE of
 * h, for at most ALERT_HOLD_DAYS days (compute_baseline()). Holding out smaller runs too would move
 * stable wearers' baselines away from their own ordinary extremes: more false alerts. */
#define ALERT_HOLD_DAYS 14
#define ALERT_HOLD_SHARE 0.5

static const char *const metric_label[_GAIT_METRIC_MAX] = {
        [GAIT_METRIC_CADENCE] = "Cadence",
        [GAIT_METRIC_STRIDE_TIME] = "Stride time",
        [GAIT_METRIC_STANCE_TIME] = "Stance time",
        [GAIT_METRIC_SWING_TIME] = "Swing time",
        [GAIT_METRIC_STRIDE_TIME_CV] = "Stride time variability",
        [GAIT_METRIC_STEP_TIME_SI] = "Step time asymmetry",
        [GAIT_METRIC_STANCE_TIME_SI] = "Stance time asymmetry",
        [GAIT_METRIC_SWING_TIME_SI] = "Swing time asymmetry",
        [GAIT_METRIC_HEEL_STRIKE] = "Heel landings",
        [GAIT_METRIC_MIDFOOT_STRIKE] = "Midfoot landings",
        [GAIT_METRIC_FOREFOOT_STRIKE] = "Forefoot landings",
        [GAIT_METRIC_FLAT_STRIKE] = "Flat landings",
        [GAIT_METRIC_ROLL] = "Heel-to-toe roll",
        [GAIT_METRIC_ML_INDEX] = "Medial-lateral loading",
        [GAIT_METRIC_SWAY_PATH] = "Standing sway",
        [GAIT_METRIC_LEFT_SHARE] = "Standing weight on the left",
        [GAIT_METRIC_STEP_TIME_ASYM] = "Left-right step time difference",
        [GAIT_METRIC_STANCE_TIME_ASYM] = "Left-right stance time difference",
};

/* What the sign of a signed metric means, said after its change. */
static const char left_minus_right[] = "; above zero the left foot's takes longer, below zero the right foot's";
static const char *const metric_sign_note[_GAIT_METRIC_MAX] = {
        [GAIT_METRIC_STEP_TIME_ASYM] = left_minus_right,
        [GAIT_METRIC_STANCE_TIME_ASYM] = left_minus_right,
};

static const char *const alert_event_type_table[_ALERT_EVENT_TYPE_MAX] = {
        [ALERT_EVENT_CHANGED] = "changed",
        [ALERT_EVENT_RETURNED] = "returned",
        [ALERT_EVENT_ACKNOWLEDGED] = "acknowledged",
        [ALERT_EVENT_ACCEPTED] = "accepted",
        [ALERT_EVENT_ERROR] = "error",
};

DEFINE_STRING_TABLE_LOOKUP_TO_STRING(alert_event_type, AlertEventType);

/* Per metric: a two-sided CUSUM and, once it fired, the change it found. */
typedef struct MetricWatch {
        double up, down;              /* CUSUM sums, in standard errors */
        LocalDate up_since, down_since; /* first day of the current run of each sum */
        uint64_t up_strides, down_strides;
        bool flagged;
        int flag_direction;
        LocalDate flag_since;
        double flag_value;
        unsigned normal_days;         /* qualifying days back in range since it fired */
} MetricWatch;

struct AlertMonitor {
        AlertSettings settings;
        GaitDay days[ALERT_HISTORY_DAYS]; /* oldest first, strictly increasing dates */
        size_t n_days;
        MetricWatch watch[_GAIT_METRIC_MAX];
        LocalDate baseline_from;      /* accepted new normal: only days from here on (0 = all) */
        bool acknowledged;
        LocalDate today;
        uint32_t today_next_eval;
        /* Allocated only while events wait to be taken, which they are as soon as they are made:
         * 3.6 KB less a wearer (issue #15). */
        AlertEvent *events; /* ALERT_EVENT_QUEUE of them, NULL while empty */
        size_t n_events;
        AlertEvent lost;    /* where an event goes that found no memory */
        uint32_t events_dropped;

        /* Baselines for one day, reused by the checks of its running values. Any change to the
         * history, the changes found or the settings bumps `generation`. */
        uint64_t generation;
        uint64_t cache_generation;
        LocalDate cache_before;
        MetricBaseline cache[_GAIT_METRIC_MAX];
};

/* ---- day values ---- */

void gait_day_init(GaitDay *d, LocalDate date) {
        *d = (GaitDay) { .date = date };
        for (size_t i = 0; i < _GAIT_METRIC_MAX; i++)
                d->value[i] = NAN;
}

/* Mean of the feet that have a finite value. */
static float feet_mean(float l, float r) {
        if (isfinite(l) && isfinite(r))
                return (l + r) / 2;
        return isfinite(l) ? l : r;
}

void gait_day_from_snapshot(const GaitSnapshot *s, LocalDate date, GaitDay *ret) {
        const GaitWindowSummary *w = &s->window[GAIT_WINDOW_DAY];
        const GaitFootSummary *l = &w->foot[FOOT_LEFT], *r = &w->foot[FOOT_RIGHT];
        uint32_t stances = l->stance_strides + r->stance_strides;
        static const struct {
                GaitMetric metric;
                StrikePattern pattern;
        } strikes[] = {
                { GAIT_METRIC_HEEL_STRIKE, STRIKE_HEEL },
                { GAIT_METRIC_MIDFOOT_STRIKE, STRIKE_MIDFOOT },
                { GAIT_METRIC_FOREFOOT_STRIKE, STRIKE_FOREFOOT },
                { GAIT_METRIC_FLAT_STRIKE, STRIKE_FLAT },
        };

        gait_day_init(ret, date);
        ret->strides = l->strides + r->strides;
        ret->steps = (uint32_t) MIN(s->steps_day, (uint64_t) UINT32_MAX);
        ret->active_s = (uint32_t) ((s->activity_day_us[ACTIVITY_WALKING] + s->activity_day_us[ACTIVITY_RUNNING]) /
                                    USEC_PER_SEC);
        ret->value[GAIT_METRIC_CADENCE] = w->cadence_spm;
        ret->value[GAIT_METRIC_STRIDE_TIME] = w->stride_time_ms;
        ret->value[GAIT_METRIC_STANCE_TIME] = feet_mean(l->stance_time_ms, r->stance_time_ms);
        ret->value[GAIT_METRIC_SWING_TIME] = feet_mean(l->swing_time_ms, r->swing_time_ms);
        ret->value[GAIT_METRIC_STEP_TIME_SI] = w->symmetry.step_time_pct;
        ret->value[GAIT_METRIC_STANCE_TIME_SI] = w->symmetry.stance_time_pct;
        ret->value[GAIT_METRIC_SWING_TIME_SI] = w->symmetry.swing_time_pct;
        /* Signed, from the same per-foot medians: a change of side is a change, and the day values
         * of a wearer near symmetry are not folded at zero (docs/alerts.md). */
        ret->value[GAIT_METRIC_STEP_TIME_ASYM] = gait_asymmetry_signed(l->step_time_ms, r->step_time_ms);
        ret->value[GAIT_METRIC_STANCE_TIME_ASYM] = gait_asymmetry_signed(l->stance_time_ms, r->stance_time_ms);
        if (stances > 0) {
                uint32_t patterned = 0;
                for (StrikePattern p = 0; p < _STRIKE_PATTERN_MAX; p++)
                        patterned += l->strikes[p] + r->strikes[p];
                for (size_t i = 0; patterned > 0 && i < ELEMENTSOF(strikes); i++)
                        ret->value[strikes[i].metric] =
                                100.0f * (float) (l->strikes[strikes[i].pattern] + r->strikes[strikes[i].pattern]) /
                                (float) patterned;
                ret->value[GAIT_METRIC_ROLL] = 100.0f * feet_mean(l->cop_forward_fraction, r->cop_forward_fraction);
                ret->value[GAIT_METRIC_ML_INDEX] = feet_mean(l->ml_index, r->ml_index);
        }
        if (s->balance.standing_us > 0) {
                ret->value[GAIT_METRIC_SWAY_PATH] = s->balance.sway_path_pct_per_s;
                ret->value[GAIT_METRIC_LEFT_SHARE] = s->balance.left_share_pct;
        }
        /* Out-of-range figures (a broken insole) are not kept: the history refuses them on reading. */
        for (GaitMetric m = 0; m < _GAIT_METRIC_MAX; m++) {
                const GaitMetricInfo *info = gait_metric_info(m);
                if (!isfinite(ret->value[m]) || ret->value[m] < info->lo || ret->value[m] > info->hi)
                        ret->value[m] = NAN;
        }
}

void cv_tracker_reset(CvTracker *t) {
        *t = (CvTracker) {};
}

void cv_tracker_add(CvTracker *t, float cv_pct) {
        if (!isfinite(cv_pct) || cv_pct < 0)
                return;
        uint16_t *bin = &t->hist[(size_t) MIN(round_half_away(cv_pct * 20), (int64_t) CV_TRACKER_BINS - 1)];

        if (*bin == UINT16_MAX)
                return; /* a full bin stays full, and the median stays the median of what was counted */
        (*bin)++;
        t->n++;
}

float cv_tracker_median(const CvTracker *t) {
        uint64_t acc = 0;

        if (t->n == 0)
                return NAN;
        for (size_t i = 0; i < CV_TRACKER_BINS; i++) {
                acc += t->hist[i];
                if (acc * 2 >= t->n)
                        return (float) i / 20;
        }
        return (float) (CV_TRACKER_BINS - 1) / 20;
}

/* ---- settings ---- */

void alert_settings_default(AlertSettings *ret) {
        *ret = (AlertSettings) {
                .enabled = true,
                .metrics = gait_metrics_default_watched(),
                .baseline_days = 7,
                .sensitivity = ALERT_SENSITIVITY_NORMAL,
        };
}

/* A day counts towards a change only when it is more than k standard errors off; h sets the
 * false-alarm rate; one day on its own needs h + k (docs/alerts.md has the measured figures). */
void alert_sensitivity_limits(AlertSensitivity s, double *ret_k, double *ret_h) {
        switch (s) {
        case ALERT_SENSITIVITY_LOW:
                *ret_k = 1.0;
                *ret_h = 6.0;
                break;
        case ALERT_SENSITIVITY_HIGH:
                *ret_k = 0.75;
                *ret_h = 3.5;
                break;
        default:
                /* h + k = 4.4 standard errors for one day on its own: a large change is found within
                 * its first day; k = 1.5 keeps a wearer whose days vary a lot (the clinical spread)
                 * within one false alert per 90 days (docs/alerts.md). h is 0.1 above what that
                 * needed before runs were held out of the baseline, which pays for their false
                 * alerts. */
                *ret_k = 1.5;
                *ret_h = 2.9;
                break;
        }
}

static bool watched(const AlertMonitor *m, GaitMetric metric) {
        return gait_metric_info(metric)->alertable && (m->settings.metrics & (1u << metric));
}

int alert_monitor_new(const AlertSettings *s, AlertMonitor **ret) {
        AlertMonitor *m = calloc(1, sizeof(*m));

        if (!m)
                return -ENOMEM;
        alert_monitor_set_settings(m, s);
        *ret = m;
        return 0;
}

AlertMonitor *alert_monitor_free(AlertMonitor *m) {
        if (m)
                free(m->events);
        free(m);
        return NULL;
}

void alert_monitor_set_settings(AlertMonitor *m, const AlertSettings *s) {
        m->settings = *s;
        m->generation++;
        m->settings.baseline_days = CLAMP(s->baseline_days, (unsigned) ALERT_BASELINE_DAYS_MIN,
                                          (unsigned) ALERT_BASELINE_DAYS_MAX);
        /* A metric no longer watched forgets its sums; a change it found stays until answered. */
        for (GaitMetric i = 0; i < _GAIT_METRIC_MAX; i++)
                if (!watched(m, i)) {
                        m->watch[i].up = m->watch[i].down = 0;
                        m->watch[i].up_since = m->watch[i].down_since = 0;
                        m->watch[i].up_strides = m->watch[i].down_strides = 0;
                }
}

/* ---- events ---- */

static AlertEvent *push_event(AlertMonitor *m, AlertEventType type) {
        AlertEvent *e;

        if (!m->events && !(m->events = malloc(ALERT_EVENT_QUEUE * sizeof(AlertEvent)))) {
                m->events_dropped++;
                e = &m->lost;
        } else {
                if (m->n_events == ALERT_EVENT_QUEUE) {
                        memmove(m->events, m->events + 1, sizeof(m->events[0]) * (ALERT_EVENT_QUEUE - 1));
                        m->n_events--;
                        m->events_dropped++;
                }
                e = &m->events[m->n_events++];
        }
        *e = (AlertEvent) { .type = type, .metric = _GAIT_METRIC_INVALID, .error_offset = -1 };
        return e;
}

bool alert_monitor_take_event(AlertMonitor *m, AlertEvent *ret) {
        if (m->n_events == 0)
                return false;
        *ret = m->events[0];
        memmove(m->events, m->events + 1, sizeof(m->events[0]) * (m->n_events - 1));
        m->n_events--;
        if (m->n_events == 0) {
                free(m->events);
                m->events = NULL;
        }
        return true;
}

uint32_t alert_monitor_events_dropped(const AlertMonitor *m) {
        return m->events_dropped;
}

/* ---- baseline ---- */

static int cmp_double(const void *a, const void *b) {
        double x = *(const double *) a, y = *(const double *) b;
        return (x > y) - (x < y);
}

static double median_sorted(const double *v, size_t n) {
        return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static bool day_qualifies(const GaitDay *d) {
        return d->strides >= ALERT_MIN_STRIDES;
}

/* Rousseeuw and Croux's Qn (J Am Stat Assoc 1993;88:1273-1283): the k-th smallest of the pairwise
 * distances, k = h(h-1)/2 with h = n/2 + 1, times 2.2219 and the small-sample factor of Croux and
 * Rousseeuw (1992). As robust to odd days as the MAD (half of them may be anything), but with 82 %
 * efficiency at normal data instead of 37 %: from a week of days the MAD is too often far too small,
 * and a spread that is too small is a false alert. */
static double scale_qn(const double *v, size_t n) {
        static const double small_n[10] = { 0, 0, 0.399, 0.994, 0.512, 0.844, 0.611, 0.857, 0.669, 0.872 };
        double d[ALERT_BASELINE_WINDOW * (ALERT_BASELINE_WINDOW - 1) / 2], c;
        size_t m = 0, h = n / 2 + 1, k = h * (h - 1) / 2;

        if (n < 2)
                return 0;
        for (size_t i = 0; i < n; i++)
                for (size_t j = i + 1; j < n; j++)
                        d[m++] = fabs(v[i] - v[j]);
        qsort(d, m, sizeof(d[0]), cmp_double);
        c = n < ELEMENTSOF(small_n) ? small_n[n] : n % 2 ? n / (n + 1.4) : n / (n + 3.8);
        return 2.2219 * c * d[k - 1];
}

/* The first day of a run the CUSUM is still weighing and that has gathered at least
 * ALERT_HOLD_SHARE of h (0: none): the earlier of the two sums'. */
static LocalDate open_run_since(const AlertMonitor *m, const MetricWatch *w) {
        LocalDate since = 0;
        double k, h, hold;

        alert_sensitivity_limits(m->settings.sensitivity, &k, &h);
        hold = ALERT_HOLD_SHARE * h;
        if (w->up >= hold && w->up > 0 && w->up_since)
                since = w->up_since;
        if (w->down >= hold && w->down > 0 && w->down_since && (!since || w->down_since < since))
                since = w->down_since;
        return since;
}

/* The latest qualifying days before `before` (0 = all), newest first, skipping days of a change that
 * was found and not accepted, and days from `hold_from` on (0 = none). Returns how many. */
static size_t collect_days(const AlertMonitor *m, GaitMetric metric, LocalDate before, LocalDate hold_from,
                           double v[static ALERT_BASELINE_WINDOW], size_t *ret_held) {
        const MetricWatch *w = &m->watch[metric];
        size_t n = 0, held = 0;

        for (size_t i = m->n_days; i > 0 && n < ALERT_BASELINE_WINDOW; i--) {
                const GaitDay *d = &m->days[i - 1];
                if ((before && d->date >= before) || d->date < m->baseline_from || !day_qualifies(d) ||
                    !isfinite(d->value[metric]) || (w->flagged && d->date >= w->flag_since))
                        continue;
                if (hold_from && d->date >= hold_from) {
                        held++;
                        continue;
                }
                v[n++] = d->value[metric];
        }
        *ret_held = held;
        return n;
}

/* From the latest qualifying days before `before`. Neither a change that was found and not accepted
 * nor one the CUSUM is still weighing may quietly become its own baseline: the days of an open run
 * are held out (a sustained shift would otherwise widen the spread and move the median day by day,
 * and be absorbed before the sum reaches h), unless that leaves fewer than baseline_days or the run
 * is longer than ALERT_HOLD_DAYS: then it is not a change on its way to h but the wearer's walking. */
static void compute_baseline(const AlertMonitor *m, GaitMetric metric, LocalDate before, MetricBaseline *ret) {
        const GaitMetricInfo *info = gait_metric_info(metric);
        double v[ALERT_BASELINE_WINDOW];
        size_t n, held;

        *ret = (MetricBaseline) {};
        n = collect_days(m, metric, before, open_run_since(m, &m->watch[metric]), v, &held);
        if (held > 0 && (held > ALERT_HOLD_DAYS || n < m->settings.baseline_days))
                n = collect_days(m, metric, before, 0, v, &held);
        if (n == 0)
                return;
        qsort(v, n, sizeof(v[0]), cmp_double);
        ret->median = median_sorted(v, n);
        double own = scale_qn(v, n), prior = MAX(info->day_sd, own);
        /* Pooling only ever widens: a wearer who varies more than most keeps their own spread. */
        ret->spread = sqrt((ALERT_PRIOR_DAYS * prior * prior + n * own * own) / (ALERT_PRIOR_DAYS + n));
        ret->spread = MAX(ret->spread, info->day_sd / 2);
        ret->days = (unsigned) n;
        ret->valid = n >= m->settings.baseline_days;
        ret->low = MAX(ret->median - 2 * ret->spread, info->lo);
        ret->high = MIN(ret->median + 2 * ret->spread, info->hi);
}

void alert_monitor_baseline(const AlertMonitor *m, GaitMetric metric, MetricBaseline *ret) {
        compute_baseline(m, metric, 0, ret);
}

/* How many standard errors x (from `strides` strides) is off the baseline. */
static double standardise(GaitMetric metric, const MetricBaseline *b, double x, uint32_t strides) {
        const GaitMetricInfo *info = gait_metric_info(metric);
        double s = b->spread * (1 + ALERT_SCALE_INFLATION / sqrt(b->days));
        double var = s * s + M_PI / 2 * b->spread * b->spread / b->days +
                     info->stride_sd * info->stride_sd / MAX(strides, 1u);
        return (x - b->median) / sqrt(var);
}

static unsigned qualifying_days(const AlertMonitor *m) {
        unsigned n = 0;
        for (size_t i = 0; i < m->n_days; i++)
                if (m->days[i].date >= m->baseline_from && day_qualifies(&m->days[i]))
                        n++;
        return n;
}

/* ---- detection ---- */

static void raise_change(AlertMonitor *m, GaitMetric metric, int direction, const GaitDay *day, const MetricBaseline *b,
                         LocalDate since, uint64_t strides, bool intraday) {
        MetricWatch *w = &m->watch[metric];
        AlertEvent *e;

        *w = (MetricWatch) {
                .flagged = true,
                .flag_direction = direction,
                .flag_since = since,
                .flag_value = day->value[metric],
        };
        m->acknowledged = false;
        m->generation++;
        e = push_event(m, ALERT_EVENT_CHANGED);
        e->metric = metric;
        e->direction = direction;
        e->value = day->value[metric];
        e->baseline = *b;
        e->since = since;
        e->date = day->date;
        e->strides = strides;
        e->intraday = intraday;
}

static const MetricBaseline *cached_baseline(AlertMonitor *m, GaitMetric metric, LocalDate before) {
        if (m->cache_generation != m->generation || m->cache_before != before) {
                for (GaitMetric i = 0; i < _GAIT_METRIC_MAX; i++)
                        compute_baseline(m, i, before, &m->cache[i]);
                m->cache_generation = m->generation;
                m->cache_before = before;
        }
        return &m->cache[metric];
}

static void evaluate(AlertMonitor *m, const GaitDay *day, bool running) {
        double k, h;

        alert_sensitivity_limits(m->settings.sensitivity, &k, &h);
        for (GaitMetric i = 0; i < _GAIT_METRIC_MAX; i++) {
                MetricWatch *w = &m->watch[i];
                MetricBaseline b;
                double z, up, down;

                if (!watched(m, i) || !isfinite(day->value[i]))
                        continue;
                b = *cached_baseline(m, i, day->date);
                if (!b.valid)
                        continue;
                z = standardise(i, &b, day->value[i], day->strides);

                if (w->flagged) {
                        /* A change ends by itself after a few days back within one standard error. */
                        if (running)
                                continue;
                        w->normal_days = fabs(z) < 1 ? w->normal_days + 1 : 0;
                        if (w->normal_days >= ALERT_RETURN_DAYS) {
                                AlertEvent *e = push_event(m, ALERT_EVENT_RETURNED);
                                e->metric = i;
                                e->direction = w->flag_direction;
                                e->value = day->value[i];
                                e->baseline = b;
                                e->since = w->flag_since;
                                e->date = day->date;
                                *w = (MetricWatch) {};
                                m->generation++;
                        }
                        continue;
                }

                up = MAX(0.0, w->up + z - k);
                down = MAX(0.0, w->down - z - k);
                if (running) {
                        /* What today would add if the day ended now. */
                        if (up > h)
                                raise_change(m, i, +1, day, &b, w->up > 0 ? w->up_since : day->date,
                                             (w->up > 0 ? w->up_strides : 0) + day->strides, true);
                        else if (down > h)
                                raise_change(m, i, -1, day, &b, w->down > 0 ? w->down_since : day->date,
                                             (w->down > 0 ? w->down_strides : 0) + day->strides, true);
                        continue;
                }
                if (up > 0) {
                        if (w->up == 0) {
                                w->up_since = day->date;
                                w->up_strides = 0;
                        }
                        w->up_strides += day->strides;
                } else
                        w->up_since = 0, w->up_strides = 0;
                if (down > 0) {
                        if (w->down == 0) {
                                w->down_since = day->date;
                                w->down_strides = 0;
                        }
                        w->down_strides += day->strides;
                } else
                        w->down_since = 0, w->down_strides = 0;
                w->up = up;
                w->down = down;
                if (up > h)
                        raise_change(m, i, +1, day, &b, w->up_since, w->up_strides, false);
                else if (down > h)
                        raise_change(m, i, -1, day, &b, w->down_since, w->down_strides, false);
        }
}

void alert_monitor_update_today(AlertMonitor *m, const GaitDay *today) {
        if (today->date == 0)
                return;
        if (today->date != m->today) {
                m->today = today->date;
                m->today_next_eval = ALERT_MIN_STRIDES;
        }
        if (!m->settings.enabled || today->strides < m->today_next_eval)
                return;
        /* Checks at fixed stride counts, however often we are called: the false-alarm rate must not
         * depend on the publish interval. */
        m->today_next_eval = today->strides - today->strides % ALERT_EVAL_STRIDES + ALERT_EVAL_STRIDES;
        evaluate(m, today, true);
}

void alert_monitor_end_day(AlertMonitor *m, const GaitDay *day) {
        if (day->date == 0)
                return;
        if (m->n_days > 0 && day->date <= m->days[m->n_days - 1].date) {
                /* The same day again (finished after a restart): keep the fuller record. */
                if (day->date == m->days[m->n_days - 1].date && day->strides >= m->days[m->n_days - 1].strides) {
                        m->days[m->n_days - 1] = *day;
                        m->generation++;
                }
                return;
        }
        if (m->settings.enabled && day_qualifies(day))
                evaluate(m, day, false);
        if (m->n_days == ALERT_HISTORY_DAYS) {
                memmove(m->days, m->days + 1, sizeof(m->days[0]) * (ALERT_HISTORY_DAYS - 1));
                m->n_days--;
        }
        m->days[m->n_days++] = *day;
        m->generation++;
        if (m->today == day->date)
                m->today_next_eval = UINT32_MAX; /* that day is over */
}

size_t alert_monitor_history(const AlertMonitor *m, const GaitDay **ret) {
        *ret = m->days;
        return m->n_days;
}

static bool any_flagged(const AlertMonitor *m) {
        for (GaitMetric i = 0; i < _GAIT_METRIC_MAX; i++)
                if (m->watch[i].flagged)
                        return true;
        return false;
}

bool alert_monitor_changed(const AlertMonitor *m) {
        return m->settings.enabled && any_flagged(m) && !m->acknowledged;
}

const char *alert_monitor_state(const AlertMonitor *m) {
        if (!m->settings.enabled)
                return "disabled";
        if (any_flagged(m))
                return m->acknowledged ? "acknowledged" : "changed";
        if (qualifying_days(m) < m->settings.baseline_days)
                return "learning";
        return "watching";
}

/* ---- commands ---- */

static int command_error(AlertMonitor *m, int r, const JsonParseError *pe, const char *msg) {
        AlertEvent *e = push_event(m, ALERT_EVENT_ERROR);

        if (pe) {
                (void) snprintf(e->error, sizeof(e->error), "%s", pe->message);
                e->error_offset = (int64_t) pe->offset;
        } else
                (void) snprintf(e->error, sizeof(e->error), "%s", msg);
        return r < 0 ? r : -EINVAL;
}

int alert_monitor_command(AlertMonitor *m, const void *payload, size_t len) {
        static const char *const keys[] = { "action", NULL };
        const JsonParseLimits limits = { .max_size = ALERT_COMMAND_MAX, .max_depth = 2, .max_values = 8 };
        _cleanup_(json_document_freep) JsonDocument *doc = NULL;
        JsonParseError pe = {};
        const JsonValue *root;
        const char *action;
        int r;

        r = json_parse(payload, len, &limits, &doc, &pe);
        if (r < 0)
                return command_error(m, r, &pe, NULL);
        root = json_document_root(doc);
        r = json_expect_object_keys(root, "command", keys, &pe);
        if (r < 0)
                return command_error(m, r, &pe, NULL);
        r = json_expect_string(json_value_member(root, "action"), "action", 16, &action, &pe);
        if (r < 0)
                return command_error(m, r, &pe, NULL);

        if (streq(action, "acknowledge")) {
                if (!any_flagged(m))
                        return command_error(m, -ENOENT, NULL, "'action': there is no change to acknowledge");
                m->acknowledged = true;
                (void) push_event(m, ALERT_EVENT_ACKNOWLEDGED);
                return 0;
        }
        if (streq(action, "accept")) {
                LocalDate since = 0;

                if (!any_flagged(m))
                        return command_error(m, -ENOENT, NULL, "'action': there is no change to accept");
                for (GaitMetric i = 0; i < _GAIT_METRIC_MAX; i++)
                        if (m->watch[i].flagged && (since == 0 || m->watch[i].flag_since < since))
                                since = m->watch[i].flag_since;
                /* The new normal starts where the change did; the days before stay in the history. */
                m->baseline_from = since;
                memset(m->watch, 0, sizeof(m->watch));
                m->generation++;
                m->acknowledged = false;
                AlertEvent *e = push_event(m, ALERT_EVENT_ACCEPTED);
                e->since = since;
                return 0;
        }
        return command_error(m, -EINVAL, NULL, "'action': expected acknowledge or accept");
}

/* ---- JSON out ---- */

static void kv_date(JsonWriter *w, const char *key, LocalDate d) {
        char buf[16];

        if (d == 0)
                json_kv_null(w, key);
        else
                json_kv_string(w, key, local_date_to_string(d, buf, sizeof(buf)));
}

static void kv_metric_value(JsonWriter *w, const char *key, GaitMetric metric, double v) {
        json_kv_double_finite(w, key, v, gait_metric_info(metric)->decimals);
}

static void format_value(char *buf, size_t size, GaitMetric metric, double v, bool unit) {
        const GaitMetricInfo *info = gait_metric_info(metric);
        (void) snprintf(buf, size, "%.*f%s%s", MIN(info->decimals, 1) + (info->decimals > 2), v,
                        unit && info->unit[0] ? " " : "", unit ? info->unit : "");
}

/* One sentence for people: what changed, from what to what, since when. */
static void change_text(char *buf, size_t size, GaitMetric metric, int direction, double value, const MetricBaseline *b,
                        LocalDate since, uint64_t strides) {
        char lo[32], hi[32], v[32], d[16];

        format_value(lo, sizeof(lo), metric, b->low, false);
        format_value(hi, sizeof(hi), metric, b->high, true);
        format_value(v, sizeof(v), metric, value, true);
        (void) snprintf(buf, size,
                        "%s %s from its usual range %s%s%s to %s since %s (%llu strides)%s. "
                        "A prompt to see a professional, not a diagnosis.",
                        metric_label[metric], direction > 0 ? "rose" : "fell", lo,
                        gait_metric_info(metric)->lo < 0 ? " … " : "–", hi, v,
                        local_date_to_string(since, d, sizeof(d)), (unsigned long long) strides,
                        strempty(metric_sign_note[metric]));
}

int alert_event_to_json(const AlertEvent *e, JsonWriter *w) {
        char text[320];

        json_object_begin(w);
        json_kv_string(w, "event", alert_event_type_to_string(e->type));
        switch (e->type) {
        case ALERT_EVENT_CHANGED:
        case ALERT_EVENT_RETURNED:
                json_kv_string(w, "metric", gait_metric_to_string(e->metric));
                json_kv_string(w, "label", metric_label[e->metric]);
                json_kv_string(w, "unit", gait_metric_info(e->metric)->unit);
                json_kv_string(w, "direction", e->direction > 0 ? "up" : "down");
                kv_metric_value(w, "value", e->metric, e->value);
                kv_metric_value(w, "usual", e->metric, e->baseline.median);
                kv_metric_value(w, "usual_low", e->metric, e->baseline.low);
                kv_metric_value(w, "usual_high", e->metric, e->baseline.high);
                json_kv_uint(w, "baseline_days", e->baseline.days);
                kv_date(w, "since", e->since);
                kv_date(w, "date", e->date);
                if (e->type == ALERT_EVENT_CHANGED) {
                        json_kv_uint(w, "strides", e->strides);
                        json_kv_bool(w, "intraday", e->intraday);
                        change_text(text, sizeof(text), e->metric, e->direction, e->value, &e->baseline, e->since,
                                    e->strides);
                } else
                        (void) snprintf(text, sizeof(text), "%s is back in its usual range.", metric_label[e->metric]);
                json_kv_string(w, "text", text);
                break;
        case ALERT_EVENT_ACCEPTED:
                kv_date(w, "baseline_from", e->since);
                break;
        case ALERT_EVENT_ERROR:
                json_kv_string(w, "error", e->error);
                if (e->error_offset >= 0)
                        json_kv_int(w, "offset", e->error_offset);
                break;
        default:
                break;
        }
        json_object_end(w);
        return w->error;
}

int alert_monitor_baseline_to_json(const AlertMonitor *m, JsonWriter *w) {
        unsigned days = qualifying_days(m);

        json_object_begin(w);
        json_kv_bool(w, "ready", days >= m->settings.baseline_days);
        json_kv_uint(w, "days", MIN(days, (unsigned) ALERT_BASELINE_WINDOW));
        json_kv_uint(w, "needed_days", m->settings.baseline_days);
        json_kv_uint(w, "history_days", m->n_days);
        kv_date(w, "from", m->baseline_from);
        json_key(w, "metrics");
        json_object_begin(w);
        for (GaitMetric i = 0; i < _GAIT_METRIC_MAX; i++) {
                MetricBaseline b;

                compute_baseline(m, i, 0, &b);
                if (b.days == 0)
                        continue;
                json_key(w, gait_metric_to_string(i));
                json_object_begin(w);
                json_kv_string(w, "unit", gait_metric_info(i)->unit);
                json_kv_bool(w, "watched", m->settings.enabled && watched(m, i));
                json_kv_uint(w, "days", b.days);
                kv_metric_value(w, "median", i, b.median);
                kv_metric_value(w, "low", i, b.low);
                kv_metric_value(w, "high", i, b.high);
                json_kv_double(w, "spread", b.spread, gait_metric_info(i)->decimals + 1);
                json_object_end(w);
        }
        json_object_end(w);
        json_object_end(w);
        return w->error;
}

static void changes_to_json(const AlertMonitor *m, JsonWriter *w) {
        json_key(w, "changes");
        json_array_begin(w);
        for (GaitMetric i = 0; i < _GAIT_METRIC_MAX; i++) {
                const MetricWatch *mw = &m->watch[i];
                MetricBaseline b;

                if (!mw->flagged)
                        continue;
                compute_baseline(m, i, 0, &b);
                json_object_begin(w);
                json_kv_string(w, "metric", gait_metric_to_string(i));
                json_kv_string(w, "direction", mw->flag_direction > 0 ? "up" : "down");
                kv_metric_value(w, "value", i, mw->flag_value);
                kv_metric_value(w, "usual_low", i, b.low);
                kv_metric_value(w, "usual_high", i, b.high);
                kv_date(w, "since", mw->flag_since);
                json_object_end(w);
        }
        json_array_end(w);
}

int alert_monitor_state_to_json(const AlertMonitor *m, JsonWriter *w) {
        json_object_begin(w);
        json_kv_string(w, "state", alert_monitor_state(m));
        json_kv_bool(w, "changed", alert_monitor_changed(m));
        json_kv_bool(w, "acknowledged", any_flagged(m) && m->acknowledged);
        json_kv_uint(w, "baseline_days", MIN(qualifying_days(m), (unsigned) ALERT_BASELINE_WINDOW));
        json_kv_uint(w, "needed_days", m->settings.baseline_days);
        json_kv_string(w, "sensitivity", alert_sensitivity_to_string(m->settings.sensitivity));
        changes_to_json(m, w);
        json_object_end(w);
        return w->error;
}

static void day_line(const AlertMonitor *m, char *buf, size_t size) {
        size_t o;

        if (!m->settings.enabled) {
                (void) snprintf(buf, size, "Change alerts are off.");
                return;
        }
        if (!any_flagged(m)) {
                unsigned days = qualifying_days(m);
                if (days < m->settings.baseline_days)
                        (void) snprintf(buf, size, "Learning the usual walking: %u of %u days.", days,
                                        m->settings.baseline_days);
                else
                        (void) snprintf(buf, size, "Walking as usual.");
                return;
        }
        o = (size_t) snprintf(buf, size, "Walking changed:");
        for (GaitMetric i = 0; i < _GAIT_METRIC_MAX && o < size; i++) {
                const MetricWatch *mw = &m->watch[i];
                char d[16];

                if (mw->flagged)
                        o += (size_t) snprintf(buf + o, size - o, " %s %s since %s;", metric_label[i],
                                               mw->flag_direction > 0 ? "up" : "down",
                                               local_date_to_string(mw->flag_since, d, sizeof(d)));
        }
        if (o < size)
                (void) snprintf(buf + o, size - o, " a prompt to see a professional, not a diagnosis.");
}

int alert_monitor_day_to_json(const AlertMonitor *m, const GaitDay *day, JsonWriter *w) {
        char line[512];

        json_object_begin(w);
        json_kv_uint(w, "strides", day->strides);
        json_kv_bool(w, "counted", day_qualifies(day));
        for (GaitMetric i = 0; i < _GAIT_METRIC_MAX; i++)
                kv_metric_value(w, gait_metric_to_string(i), i, day->value[i]);
        json_key(w, "alerts");
        json_object_begin(w);
        json_kv_string(w, "state", alert_monitor_state(m));
        day_line(m, line, sizeof(line));
        json_kv_string(w, "line", line);
        json_object_end(w);
        json_object_end(w);
        return w->error;
}

/* ---- persistence ---- */

int alert_monitor_save(const AlertMonitor *m, JsonWriter *w) {
        json_object_begin(w);
        json_kv_int(w, "version", ALERT_STATE_VERSION);
        kv_date(w, "baseline_from", m->baseline_from);
        json_kv_bool(w, "acknowledged", m->acknowledged);
        /* Compact rows: [date, strides, steps, active_s, [value per metric in GaitMetric order]] */
        json_key(w, "days");
        json_array_begin(w);
        for (size_t i = 0; i < m->n_days; i++) {
                const GaitDay *d = &m->days[i];
                char date[16];

                json_array_begin(w);
                json_string(w, local_date_to_string(d->date, date, sizeof(date)));
                json_uint(w, d->strides);
                json_uint(w, d->steps);
                json_uint(w, d->active_s);
                json_array_begin(w);
                for (GaitMetric k = 0; k < _GAIT_METRIC_MAX; k++)
                        json_double(w, d->value[k], gait_metric_info(k)->decimals + 1); /* NAN -> null */
                json_array_end(w);
                json_array_end(w);
        }
        json_array_end(w);
        json_key(w, "watch");
        json_object_begin(w);
        for (GaitMetric k = 0; k < _GAIT_METRIC_MAX; k++) {
                const MetricWatch *mw = &m->watch[k];

                if (mw->up == 0 && mw->down == 0 && !mw->flagged)
                        continue;
                json_key(w, gait_metric_to_string(k));
                json_object_begin(w);
                json_kv_double(w, "up", mw->up, 4);
                json_kv_double(w, "down", mw->down, 4);
                kv_date(w, "up_since", mw->up_since);
                kv_date(w, "down_since", mw->down_since);
                json_kv_uint(w, "up_strides", mw->up_strides);
                json_kv_uint(w, "down_strides", mw->down_strides);
                json_kv_bool(w, "flagged", mw->flagged);
                json_kv_int(w, "direction", mw->flag_direction);
                kv_date(w, "flag_since", mw->flag_since);
                json_kv_double(w, "flag_value", isfinite(mw->flag_value) ? mw->flag_value : 0, 4);
                json_kv_uint(w, "normal_days", mw->normal_days);
                json_object_end(w);
        }
        json_object_end(w);
        json_object_end(w);
        return w->error;
}

static int restore_error(JsonParseError *e, const JsonValue *v, const char *what, const char *msg) {
        if (e) {
                e->offset = v ? json_value_offset(v) : 0;
                (void) snprintf(e->message, sizeof(e->message), "'%s': %s", what, msg);
        }
        return -EINVAL;
}

/* A date string, or null when allow_null. */
static int get_date(const JsonValue *v, const char *what, bool allow_null, LocalDate *ret, JsonParseError *e) {
        const char *s;
        int r;

        if (allow_null && json_value_is_null(v)) {
                *ret = 0;
                return 0;
        }
        r = json_expect_string(v, what, 10, &s, e);
        if (r < 0)
                return r;
        if (local_date_from_string(s, ret) < 0)
                return restore_error(e, v, what, "expected a date such as 2026-03-29");
        return 0;
}

static int get_uint(const JsonValue *v, const char *what, uint64_t max, uint64_t *ret, JsonParseError *e) {
        int64_t x;
        int r = json_expect_int64(v, what, 0, (int64_t) max, &x, e);
        if (r < 0)
                return r;
        *ret = (uint64_t) x;
        return 0;
}

static int restore_day(const JsonValue *row, GaitDay *ret, JsonParseError *e) {
        const JsonValue *vals;
        size_t n_values;
        uint64_t x;
        GaitDay d;
        int r;

        if (json_value_type(row) != JSON_TYPE_ARRAY || json_value_count(row) != 5)
                return restore_error(e, row, "days", "expected [date, strides, steps, active_s, [values]] rows");
        gait_day_init(&d, 0);
        r = get_date(json_value_element(row, 0), "date", false, &d.date, e);
        if (r < 0)
                return r;
        r = get_uint(json_value_element(row, 1), "strides", 10000000, &x, e);
        if (r < 0)
                return r;
        d.strides = (uint32_t) x;
        r = get_uint(json_value_element(row, 2), "steps", 10000000, &x, e);
        if (r < 0)
                return r;
        d.steps = (uint32_t) x;
        r = get_uint(json_value_element(row, 3), "active_s", 25 * 3600, &x, e);
        if (r < 0)
                return r;
        d.active_s = (uint32_t) x;
        vals = json_value_element(row, 4);
        n_values = json_value_type(vals) == JSON_TYPE_ARRAY ? json_value_count(vals) : 0;
        /* Rows written before the last metrics were appended are shorter: those stay unknown. */
        if (n_values < HISTORY_METRICS_V2 || n_values > _GAIT_METRIC_MAX)
                return restore_error(e, vals, "values", "expected one value or null per metric");
        for (GaitMetric k = 0; (size_t) k < n_values; k++) {
                const JsonValue *v = json_value_element(vals, k);
                const GaitMetricInfo *info = gait_metric_info(k);
                double y;

                if (json_value_is_null(v))
                        continue;
                r = json_expect_double(v, info->name, info->lo, info->hi, &y, e);
                if (r < 0)
                        return r;
                d.value[k] = (float) y;
        }
        *ret = d;
        return 0;
}

static int restore_watch(const JsonValue *o, const char *what, MetricWatch *ret, JsonParseError *e) {
        static const char *const keys[] = { "up", "down", "up_since", "down_since", "up_strides", "down_strides",
                                            "flagged", "direction", "flag_since", "flag_value", "normal_days", NULL };
        MetricWatch w = {};
        int64_t dir;
        uint64_t x;
        int r;

        r = json_expect_object_keys(o, what, keys, e);
        if (r < 0)
                return r;
        r = json_expect_double(json_value_member(o, "up"), "up", 0, 1e6, &w.up, e);
        if (r >= 0)
                r = json_expect_double(json_value_member(o, "down"), "down", 0, 1e6, &w.down, e);
        if (r >= 0)
                r = get_date(json_value_member(o, "up_since"), "up_since", true, &w.up_since, e);
        if (r >= 0)
                r = get_date(json_value_member(o, "down_since"), "down_since", true, &w.down_since, e);
        if (r >= 0)
                r = get_uint(json_value_member(o, "up_strides"), "up_strides", UINT32_MAX * 1000ULL, &w.up_strides, e);
        if (r >= 0)
                r = get_uint(json_value_member(o, "down_strides"), "down_strides", UINT32_MAX * 1000ULL,
                             &w.down_strides, e);
        if (r >= 0)
                r = json_expect_bool(json_value_member(o, "flagged"), "flagged", &w.flagged, e);
        if (r >= 0)
                r = json_expect_int64(json_value_member(o, "direction"), "direction", -1, 1, &dir, e);
        if (r >= 0)
                r = get_date(json_value_member(o, "flag_since"), "flag_since", true, &w.flag_since, e);
        if (r >= 0)
                r = json_expect_double(json_value_member(o, "flag_value"), "flag_value", -1e9, 1e9, &w.flag_value, e);
        if (r >= 0)
                r = get_uint(json_value_member(o, "normal_days"), "normal_days", 1000, &x, e);
        if (r < 0)
                return r;
        w.flag_direction = (int) dir;
        w.normal_days = (unsigned) x;
        if (w.flagged && (w.flag_since == 0 || w.flag_direction == 0))
                return restore_error(e, o, what, "a change needs flag_since and a direction");
        *ret = w;
        return 0;
}

/* A metric whose definition changed: its days are unknown and its detector starts again. */
static void forget_metric(AlertMonitor *m, GaitMetric k) {
        for (size_t i = 0; i < m->n_days; i++)
                m->days[i].value[k] = NAN;
        m->watch[k] = (MetricWatch) {};
}

/* What alert_monitor_save() writes; settings, events and the running day stay. */
static void adopt_saved_state(AlertMonitor *m, const AlertMonitor *from) {
        memcpy(m->days, from->days, sizeof(m->days));
        m->n_days = from->n_days;
        memcpy(m->watch, from->watch, sizeof(m->watch));
        m->baseline_from = from->baseline_from;
        m->acknowledged = from->acknowledged;
        m->generation++;
}

int alert_monitor_restore(AlertMonitor *m, const JsonValue *o, JsonParseError *e) {
        static const char *const keys[] = { "version", "baseline_from", "acknowledged", "days", "watch", NULL };
        _cleanup_free_ AlertMonitor *next = NULL;
        const JsonValue *days, *watch;
        int64_t version;
        int r;

        r = json_expect_object_keys(o, "wearer", keys, e);
        if (r < 0)
                return r;
        r = json_expect_int64(json_value_member(o, "version"), "version", ALERT_STATE_VERSION, ALERT_STATE_VERSION,
                              &version, e);
        if (r < 0)
                return r;
        next = calloc(1, sizeof(*next));
        if (!next)
                return -ENOMEM;
        next->settings = m->settings;
        r = get_date(json_value_member(o, "baseline_from"), "baseline_from", true, &next->baseline_from, e);
        if (r < 0)
                return r;
        r = json_expect_bool(json_value_member(o, "acknowledged"), "acknowledged", &next->acknowledged, e);
        if (r < 0)
                return r;

        days = json_value_member(o, "days");
        if (json_value_type(days) != JSON_TYPE_ARRAY)
                return restore_error(e, days, "days", "expected an array");
        if (json_value_count(days) > ALERT_HISTORY_DAYS)
                return restore_error(e, days, "days", "expected at most 120 days");
        for (size_t i = 0; i < json_value_count(days); i++) {
                GaitDay d;
                r = restore_day(json_value_element(days, i), &d, e);
                if (r < 0)
                        return r;
                if (next->n_days > 0 && d.date <= next->days[next->n_days - 1].date)
                        return restore_error(e, json_value_element(days, i), "date", "expected dates in increasing order");
                next->days[next->n_days++] = d;
        }

        watch = json_value_member(o, "watch");
        if (json_value_type(watch) != JSON_TYPE_OBJECT)
                return restore_error(e, watch, "watch", "expected an object");
        for (size_t i = 0; i < json_value_count(watch); i++) {
                const char *name;
                const JsonValue *v = json_value_member_at(watch, i, &name);
                GaitMetric k = gait_metric_from_string(name);

                if (k < 0 || !gait_metric_info(k)->alertable)
                        return restore_error(e, v, "watch", "expected the name of a metric that can change");
                r = restore_watch(v, gait_metric_to_string(k), &next->watch[k], e);
                if (r < 0)
                        return r;
        }

        adopt_saved_state(m, next);
        return 0;
}

int alert_history_format(AlertMonitor *const *monitors, const char *const *names, size_t n, JsonWriter *w) {
        char sum[17];

        json_object_begin(w);
        json_kv_int(w, "version", ALERT_HISTORY_VERSION);
        json_key(w, "wearers");
        json_object_begin(w);
        for (size_t i = 0; i < n; i++) {
                if (!monitors[i])
                        continue;
                json_key(w, names[i]);
                (void) alert_monitor_save(monitors[i], w);
        }
        json_object_end(w);
        if (w->error)
                return w->error;
        (void) snprintf(sum, sizeof(sum), "%016" PRIx64, fnv1a64(w->buf, w->len));
        json_kv_string(w, "checksum", sum);
        json_object_end(w);
        return w->error;
}

/* A file of version 2 or later ends with ,"checksum":"<16 hex digits>"} (and maybe a newline). */
static int verify_checksum(const char *data, size_t len, const JsonValue *root, JsonParseError *e) {
        size_t key_len = strlen(CHECKSUM_KEY), tail = key_len + 16 + 2, end = len;
        const char *hex;
        uint64_t sum = 0;

        while (end > 0 && strchr(" \t\r\n", data[end - 1]))
                end--;
        if (end < tail || memcmp(data + end - tail, CHECKSUM_KEY, key_len) != 0 || memcmp(data + end - 2, "\"}", 2) != 0)
                return restore_error(e, root, "checksum", "expected the checksum as the file's last member");
        hex = data + end - tail + key_len;
        for (size_t i = 0; i < 16; i++) {
                /* lower case, as written */
                int d = hex[i] >= 'A' && hex[i] <= 'F' ? -EINVAL : unhexchar(hex[i]);
                if (d < 0)
                        return restore_error(e, root, "checksum", "expected 16 lower-case hexadecimal digits");
                sum = sum << 4 | (uint64_t) d;
        }
        if (sum != fnv1a64(data, end - tail))
                return restore_error(e, root, "checksum", "does not match the file (torn or edited)");
        return 0;
}

int alert_history_parse(const char *data, size_t len, AlertMonitor *const *monitors, const char *const *names,
                        size_t n, JsonParseError *e) {
        static const char *const keys_v1[] = { "version", "wearers", NULL };
        static const char *const keys[] = { "version", "wearers", "checksum", NULL };
        /* 120 rows of 5 + 18 values per wearer, CONFIG_MAX_WEARERS wearers and some room. */
        const JsonParseLimits limits = { .max_size = ALERT_HISTORY_MAX_SIZE, .max_depth = 6, .max_values = 65536 };
        _cleanup_(json_document_freep) JsonDocument *doc = NULL;
        _cleanup_free_ AlertMonitor **staged = NULL;
        const JsonValue *root, *wearers;
        int64_t version;
        int r;

        r = json_parse(data, len, &limits, &doc, e);
        if (r < 0)
                return r;
        root = json_document_root(doc);
        /* The version first: a newer format may have other keys, and must not look damaged. */
        r = json_expect_int64(json_value_member(root, "version"), "version", 1, INT32_MAX, &version, e);
        if (r < 0)
                return r;
        if (version > ALERT_HISTORY_VERSION) {
                (void) restore_error(e, json_value_member(root, "version"), "version",
                                     "written by a newer version of insole2mqtt");
                return -EPROTONOSUPPORT;
        }
        r = json_expect_object_keys(root, "history", version >= 2 ? keys : keys_v1, e);
        if (r < 0)
                return r;
        if (version >= 2) {
                r = verify_checksum(data, len, root, e);
                if (r < 0)
                        return r;
        }
        wearers = json_value_member(root, "wearers");
        if (json_value_type(wearers) != JSON_TYPE_OBJECT)
                return restore_error(e, wearers, "wearers", "expected an object");

        /* All or nothing: every wearer is read into a copy first. */
        staged = calloc(MAX(n, (size_t) 1), sizeof(*staged));
        if (!staged)
                return -ENOMEM;
        for (size_t i = 0; i < n && r >= 0; i++) {
                const JsonValue *v = json_value_member(wearers, names[i]);
                if (!v || !monitors[i])
                        continue;
                r = alert_monitor_new(&monitors[i]->settings, &staged[i]);
                if (r >= 0)
                        r = alert_monitor_restore(staged[i], v, e);
                if (r >= 0 && version < HISTORY_VERSION_ROBUST_CV)
                        forget_metric(staged[i], GAIT_METRIC_STRIDE_TIME_CV);
        }
        for (size_t i = 0; i < n; i++) {
                if (r >= 0 && staged[i])
                        adopt_saved_state(monitors[i], staged[i]);
                alert_monitor_free(staged[i]);
        }
        return r < 0 ? r : version < HISTORY_VERSION_ROBUST_CV;
}
