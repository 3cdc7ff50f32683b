/* SPDX-License-Identifier: MIT */
/* `insole2mqtt analyze --validate=DATADIR`: the validation of docs/validation.md, regenerated from the
 * recordings. The detector's three constants are fitted by leave-one-subject-out cross-validation over the
 * gaitndd records (each record is one subject): for every held-out record the grid point with the
 * least loss on the other records is chosen and the held-out record is scored with it. The all-data
 * fit (every record) is what the engine's defaults must be. */
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "gait-recording.h"
#include "gait-validate.h"
#include "macro.h"
#include "round-util.h"

/* The contact grid's ends are the ranges over which the engine measures how clear a contact is
 * (GaitStride.contact_spread_us). */
static const float contact_grid[] = { GAIT_CONTACT_SLOPE_MIN, 2.0f, 2.5f, 3.0f, GAIT_CONTACT_SLOPE_MAX };
static const float toe_off_grid[] = { 1.5f, 2.0f, 3.0f, 4.0f, 6.0f };
static const float level_grid[] = { 0.30f, 0.35f, GAIT_CONTACT_LEVEL_MAX };
#define N_CONTACT ELEMENTSOF(contact_grid)
#define N_TOE_OFF ELEMENTSOF(toe_off_grid)
#define N_LEVEL ELEMENTSOF(level_grid)
#define N_GRID (N_CONTACT * N_TOE_OFF * N_LEVEL)

/* The detector constants of grid point g. */
static GaitParams grid_params(unsigned g) {
        GaitParams p = GAIT_PARAMS_DEFAULT;

        p.contact_slope = contact_grid[g / (N_TOE_OFF * N_LEVEL)];
        p.toe_off_slope = toe_off_grid[g / N_LEVEL % N_TOE_OFF];
        p.contact_level = level_grid[g % N_LEVEL];
        return p;
}

typedef struct RecordResult {
        char name[64];
        GaitFootScore score[N_GRID][_FOOT_SIDE_MAX];
        double loss[N_GRID];
        GaitArbiter arbiter[N_GRID];   /* who the walker's rhythm sides with where we disagree */
        unsigned cv_grid;       /* grid point fitted without this record */
} RecordResult;

static void closedirp(DIR **d) {
        if (*d)
                (void) closedir(*d);
}

static int cmp_str(const void *a, const void *b) {
        return strcmp(*(char *const *) a, *(char *const *) b);
}

/* Sorted names of the files in dir ending in suffix, without the suffix. */
static int list_names(const char *dir, const char *suffix, char ***ret, size_t *ret_n) {
        _cleanup_(closedirp) DIR *d = NULL;
        char **names = NULL;
        size_t n = 0, cap = 0, sl = strlen(suffix);
        struct dirent *de;

        d = opendir(dir);
        if (!d)
                return -errno;
        while ((de = readdir(d))) {
                size_t l = strlen(de->d_name);
                if (l <= sl || l - sl >= 64 || !streq(de->d_name + l - sl, suffix))
                        continue;
                if (n == cap) {
                        cap = MAX(cap * 2, (size_t) 64);
                        char **m = realloc(names, cap * sizeof(char *));
                        if (!m)
                                goto oom;
                        names = m;
                }
                names[n] = strndup(de->d_name, l - sl);
                if (!names[n])
                        goto oom;
                n++;
        }
        if (n > 0) /* names is NULL then, which qsort() must not be given */
                qsort(names, n, sizeof(char *), cmp_str);
        *ret = names;
        *ret_n = n;
        return 0;
oom:
        for (size_t i = 0; i < n; i++)
                free(names[i]);
        free(names);
        return -ENOMEM;
}

static void free_names(char **names, size_t n) {
        for (size_t i = 0; i < n; i++)
                free(names[i]);
        free(names);
}

/* Misses not explained by the data, plus the match shortfall as a tie-breaker. */
static double foot_loss(const char *record, FootSide side, const GaitFootScore *s) {
        unsigned excused;
        double loss;

        (void) gait_known_data_issue(record, side, &excused);
        loss = __builtin_popcount(gait_foot_score_misses(s) & ~excused);
        if (!(excused & GAIT_MISS_MATCH) && isfinite(s->match_pct))
                loss += (100.0 - s->match_pct) / 100.0;
        return loss;
}

static int score_record(const char *dir, const char *name, RecordResult *ret) {
        _cleanup_(gait_recording_freep) GaitRecording *rec = NULL;
        _cleanup_(gait_reference_freep) GaitReference *ref = NULL;
        char path[4200];
        int r;

        snprintf(ret->name, sizeof(ret->name), "%s", name);
        snprintf(path, sizeof(path), "%s/%s.ts", dir, name);
        r = gait_reference_load(path, &ref);
        if (r < 0)
                return r;
        snprintf(path, sizeof(path), "%s/%s", dir, name);
        r = gait_recording_load(path, &rec);
        if (r < 0)
                return r;
        (void) gait_reference_mark_not_strides(ref, name, rec);
        for (unsigned g = 0; g < N_GRID; g++) {
                _cleanup_free_ GaitStride *strides = NULL;
                GaitParams p = grid_params(g);
                size_t n;

                r = gait_recording_analyze(rec, &p, &strides, &n);
                if (r < 0)
                        return r;
                gait_score_record(ref, strides, n, ret->score[g]);
                r = gait_rhythm_arbiter(ref, strides, n, &ret->arbiter[g]);
                if (r < 0)
                        return r;
                ret->loss[g] = 0;
                for (FootSide side = 0; side < _FOOT_SIDE_MAX; side++)
                        ret->loss[g] += foot_loss(name, side, &ret->score[g][side]);
        }
        return 0;
}

/* The grid point with the least loss over all records but `skip` (SIZE_MAX: none). Ties go to the
 * earlier grid point. */
static unsigned fit(const RecordResult *res, size_t n, size_t skip) {
        unsigned best = 0;
        double best_loss = INFINITY;

        for (unsigned g = 0; g < N_GRID; g++) {
                double sum = 0;
                for (size_t i = 0; i < n; i++)
                        if (i != skip)
                                sum += res[i].loss[g];
                if (sum < best_loss - 1e-9) {
                        best_loss = sum;
                        best = g;
                }
        }
        return best;
}

/* The best match rate of one foot at any grid point: the constants fitted on this record itself, which
 * the protocol forbids. It is no result, but it bounds what fitting can do for the foot: below the
 * target here, the shortfall is not a matter of the constants. */
static double best_match_on_itself(const RecordResult *rec, FootSide side) {
        double best = NAN;

        for (unsigned g = 0; g < N_GRID; g++) {
                double m = rec->score[g][side].match_pct;
                if (isfinite(m) && !(m <= best))
                        best = m;
        }
        return best;
}

/* The targets one foot misses at every grid point, each target on its own: not even the constants
 * fitted on this record itself meet them. Such a miss is not a matter of tuning the constants. */
static unsigned missed_at_every_point(const RecordResult *rec, FootSide side) {
        unsigned miss = ~0u;

        for (unsigned g = 0; g < N_GRID; g++)
                miss &= gait_foot_score_misses(&rec->score[g][side]);
        return miss;
}

/* The gaitndd groups, named by the records' prefixes. The reports add a last group of every record. */
static const char *const record_groups[] = { "control", "park", "hunt", "als" };
#define N_REPORT_GROUPS (ELEMENTSOF(record_groups) + 1)

static const char *group_of(const char *record) {
        for (size_t i = 0; i < ELEMENTSOF(record_groups); i++)
                if (strncmp(record, record_groups[i], strlen(record_groups[i])) == 0)
                        return record_groups[i];
        return "other";
}

static const char *report_group_name(size_t gi) {
        return gi < ELEMENTSOF(record_groups) ? record_groups[gi] : "all";
}

static bool in_report_group(const char *record, size_t gi) {
        return gi == ELEMENTSOF(record_groups) || streq(record_groups[gi], group_of(record));
}

static const char *miss_list(unsigned miss, char *buf, size_t size) {
        static const char *const what[] = { "stride", "stance", "swing", "count", "per-stride" };
        size_t o = 0;

        buf[0] = 0;
        for (unsigned b = 0; b < ELEMENTSOF(what); b++)
                if (miss & (1u << b))
                        o += snprintf(buf + o, o < size ? size - o : 0, "%s%s", o ? ", " : "", what[b]);
        return buf;
}

static void print_table(FILE *out, const RecordResult *res, size_t n, bool cv, unsigned all_grid) {
        fprintf(out, "| record | foot | constants | ref strides (stops) | ours | count err %% | stride err %% | stance err %% | "
                     "swing err %% | stride CV %%: ref / ours | matched %% | uncertain contacts %% | all-data matched %% | best on itself %% | "
                     "targets missed | missed at every grid point |\n"
                     "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n");
        for (size_t i = 0; i < n; i++)
                for (FootSide side = 0; side < _FOOT_SIDE_MAX; side++) {
                        unsigned g = cv ? res[i].cv_grid : all_grid, excused, miss, always;
                        const GaitFootScore *s = &res[i].score[g][side];
                        const char *why = gait_known_data_issue(res[i].name, side, &excused);
                        char buf[128], always_buf[128];

                        miss = gait_foot_score_misses(s);
                        always = miss & missed_at_every_point(&res[i], side);
                        char stops[32] = "", left_out[32] = "";
                        if (s->ref_stops > 0)
                                snprintf(stops, sizeof(stops), " (+%zu)", s->ref_stops);
                        if (s->ref_left_out > 0)
                                snprintf(left_out, sizeof(left_out), " (−%zu)", s->ref_left_out);
                        GaitParams p = grid_params(g);
                        fprintf(out, "| %s | %s | %.1f/%.1f/%.2f | %zu%s%s | %zu | %+.2f | %+.2f | %+.2f | %+.2f | %.2f / %.2f | %.1f | %.1f | %.1f | %.1f | %s%s%s | %s |\n",
                                res[i].name, foot_side_to_string(side), p.contact_slope, p.toe_off_slope, p.contact_level,
                                s->ref_strides, stops, left_out, s->strides, s->count_err_pct, s->err_pct[GAIT_METRIC_STRIDE],
                                s->err_pct[GAIT_METRIC_STANCE], s->err_pct[GAIT_METRIC_SWING], s->ref_cv_pct, s->cv_pct, s->match_pct,
                                s->uncertain_pct, res[i].score[all_grid][side].match_pct, best_match_on_itself(&res[i], side),
                                miss ? "**" : "none", miss ? miss_list(miss, buf, sizeof(buf)) : "", miss ? "**" : "",
                                !miss ? "" : always ? miss_list(always, always_buf, sizeof(always_buf)) : "none");
                        if (miss && why && (miss & ~excused) == 0)
                                fprintf(out, "|  | | | | | | | | | | | | | | data: %s | |\n", why);
                }
}

static int cmp_abs(const void *a, const void *b) {
        double x = fabs(*(const double *) a), y = fabs(*(const double *) b);
        return (x > y) - (x < y);
}

/* median, 90th percentile and worst of |v| (for the match rate: median, 10th percentile, worst) */
static void distribution(double *v, size_t n, bool match, double ret[3]) {
        if (n == 0) {
                ret[0] = ret[1] = ret[2] = NAN;
                return;
        }
        if (match)
                for (size_t i = 0; i < n; i++)
                        v[i] = 100.0 - v[i];
        qsort(v, n, sizeof(double), cmp_abs);
        ret[0] = fabs(n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2);
        ret[1] = fabs(v[(size_t) round_half_away(0.9 * (double) (n - 1))]);
        ret[2] = fabs(v[n - 1]);
        if (match)
                for (unsigned k = 0; k < 3; k++)
                        ret[k] = 100.0 - ret[k];
}

static void print_distributions(FILE *out, const RecordResult *res, size_t n, unsigned all_grid) {
        static const char *const metric[] = { "count err %", "stride err %", "stance err %", "swing err %", "matched %",
                                              "stride-time CV err % (of the reference's)",
                                              "plain SD / mean CV err % (of the reference's)" };
        _cleanup_free_ double *v = calloc(2 * n + 1, sizeof(double));

        if (!v)
                return;
        fprintf(out, "| group | metric (absolute error; matched %%) | cross-validated: median | p90 | worst | all data: median | p90 | worst |\n"
                     "|---|---|---|---|---|---|---|---|\n");
        for (size_t gi = 0; gi < N_REPORT_GROUPS; gi++)
                for (unsigned m = 0; m < ELEMENTSOF(metric); m++) {
                        double d[2][3];
                        for (unsigned cv = 0; cv < 2; cv++) {
                                size_t k = 0;
                                for (size_t i = 0; i < n; i++) {
                                        if (!in_report_group(res[i].name, gi))
                                                continue;
                                        for (FootSide side = 0; side < _FOOT_SIDE_MAX; side++) {
                                                const GaitFootScore *s = &res[i].score[cv == 0 ? res[i].cv_grid : all_grid][side];
                                                unsigned excused;
                                                (void) gait_known_data_issue(res[i].name, side, &excused);
                                                if (excused & GAIT_MISS_MATCH)
                                                        continue; /* a broken reference column says nothing about us */
                                                v[k++] = m == 0   ? s->count_err_pct
                                                         : m == 4 ? s->match_pct
                                                         : m == 5 ? 100.0 * (s->cv_pct - s->ref_cv_pct) / s->ref_cv_pct
                                                         : m == 6 ? 100.0 * (s->plain_cv_pct - s->ref_plain_cv_pct) / s->ref_plain_cv_pct
                                                                  : s->err_pct[m - 1];
                                        }
                                }
                                distribution(v, k, m == 4, d[cv]);
                        }
                        fprintf(out, "| %s | %s | %.2f | %.2f | %.2f | %.2f | %.2f | %.2f |\n", report_group_name(gi), metric[m],
                                d[0][0], d[0][1], d[0][2], d[1][0], d[1][1], d[1][2]);
                }
}

/* Per group, how many feet meet each target, cross-validated (all-data fit in parentheses). A target
 * that the data excuses for a foot (gait_known_data_issue()) is not counted for it; "every target"
 * counts excused targets as met, as the summary line above the tables does. */
static void print_feet_per_target(FILE *out, const RecordResult *res, size_t n, unsigned all_grid) {
        static const unsigned target[] = { 1u << GAIT_METRIC_STRIDE, 1u << GAIT_METRIC_STANCE, 1u << GAIT_METRIC_SWING,
                                           GAIT_MISS_COUNT, GAIT_MISS_MATCH, 0 /* every target */ };

        fprintf(out, "| group | stride 2 %% | stance 5 %% | swing 5 %% | count 1 %% | per-stride 95 %% | every target |\n"
                     "|---|---|---|---|---|---|---|\n");
        for (size_t gi = 0; gi < N_REPORT_GROUPS; gi++) {
                fprintf(out, "| %s |", report_group_name(gi));
                for (size_t t = 0; t < ELEMENTSOF(target); t++) {
                        size_t met[2] = { 0, 0 }, feet = 0;
                        for (size_t i = 0; i < n; i++) {
                                if (!in_report_group(res[i].name, gi))
                                        continue;
                                for (FootSide side = 0; side < _FOOT_SIDE_MAX; side++) {
                                        unsigned excused, mask = target[t] ? target[t] : ~0u;
                                        (void) gait_known_data_issue(res[i].name, side, &excused);
                                        if (target[t] && (excused & target[t]))
                                                continue;
                                        feet++;
                                        for (unsigned cv = 0; cv < 2; cv++) {
                                                unsigned g = cv == 0 ? res[i].cv_grid : all_grid;
                                                met[cv] += (gait_foot_score_misses(&res[i].score[g][side]) & ~excused & mask) == 0;
                                        }
                                }
                        }
                        fprintf(out, " %zu of %zu (%zu) |", met[0], feet, met[1]);
                }
                fprintf(out, "\n");
        }
}

/* Where the engine and the reference disagree on contacts: which placement the walker's rhythm sides
 * with (gait_rhythm_arbiter()), cross-validated constants. */
typedef struct ArbiterTotal {
        size_t by_other[3], by_own[_FOOT_SIDE_MAX][3]; /* disagreements, ours, the reference's */
} ArbiterTotal;

static void add_arbiter(ArbiterTotal *t, const GaitArbiter *a) {
        t->by_other[0] += a->disagreements;
        t->by_other[1] += a->ours;
        t->by_other[2] += a->reference;
        for (FootSide side = 0; side < _FOOT_SIDE_MAX; side++) {
                t->by_own[side][0] += a->own_disagreements[side];
                t->by_own[side][1] += a->own_ours[side];
                t->by_own[side][2] += a->own_reference[side];
        }
}

/* "| n | ours | the reference's | neither |" of one count triple; dashes when it does not apply. */
static void print_verdicts(FILE *out, const size_t v[3], bool applies) {
        if (applies)
                fprintf(out, " %zu | %zu | %zu | %zu |", v[0], v[1], v[2], v[0] - v[1] - v[2]);
        else
                fprintf(out, " – | – | – | – |");
}

static void print_arbiter(FILE *out, const RecordResult *res, size_t n) {
        ArbiterTotal total[N_REPORT_GROUPS] = {};

        fprintf(out, "| record | foot | offset ms | disagree: by the other foot | ours | the reference's | neither | "
                     "by the foot's own neighbours | ours | the reference's | neither | matched %% |\n"
                     "|---|---|---|---|---|---|---|---|---|---|---|---|\n");
        for (size_t i = 0; i < n; i++) {
                const GaitArbiter *a = &res[i].arbiter[res[i].cv_grid];
                ArbiterTotal one = {};

                add_arbiter(&one, a);
                for (size_t gi = 0; gi < N_REPORT_GROUPS; gi++)
                        if (in_report_group(res[i].name, gi))
                                add_arbiter(&total[gi], a);
                for (FootSide side = 0; side < _FOOT_SIDE_MAX; side++) {
                        bool left = side == FOOT_LEFT;
                        if ((left ? one.by_other[0] : 0) < 10 && one.by_own[side][0] < 10)
                                continue;
                        fprintf(out, "| %s | %s |", res[i].name, foot_side_to_string(side));
                        if (left)
                                fprintf(out, " %+.1f |", a->offset_ms);
                        else
                                fprintf(out, " – |");
                        print_verdicts(out, one.by_other, left);
                        print_verdicts(out, one.by_own[side], true);
                        fprintf(out, " %.1f |\n", res[i].score[res[i].cv_grid][side].match_pct);
                }
        }
        for (size_t gi = 0; gi < N_REPORT_GROUPS; gi++)
                for (FootSide side = 0; side < _FOOT_SIDE_MAX; side++) {
                        if (gi < ELEMENTSOF(record_groups))
                                fprintf(out, "| all %s records | %s | |", record_groups[gi], foot_side_to_string(side));
                        else
                                fprintf(out, "| all records | %s | |", foot_side_to_string(side));
                        print_verdicts(out, total[gi].by_other, side == FOOT_LEFT);
                        print_verdicts(out, total[gi].by_own[side], true);
                        fprintf(out, " |\n");
                }
}

static int cmp_double_asc(const void *a, const void *b) {
        double x = *(const double *) a, y = *(const double *) b;
        return (x > y) - (x < y);
}

/* What the engine says of its own landings, against where it misses the reference: per foot (the
 * share of uncertain contacts, by whether the foot meets the per-stride target) and per stride. */
static void print_certainty(FILE *out, const RecordResult *res, size_t n) {
        _cleanup_free_ double *below = calloc(2 * n + 1, sizeof(double)), *above = calloc(2 * n + 1, sizeof(double));
        size_t nb = 0, na = 0, matched[2] = {}, missed[2] = {};
        double pairs = 0;

        if (!below || !above)
                return;
        for (size_t i = 0; i < n; i++)
                for (FootSide side = 0; side < _FOOT_SIDE_MAX; side++) {
                        const GaitFootScore *s = &res[i].score[res[i].cv_grid][side];
                        unsigned excused;

                        (void) gait_known_data_issue(res[i].name, side, &excused);
                        if ((excused & GAIT_MISS_MATCH) || !isfinite(s->match_pct) || !isfinite(s->uncertain_pct))
                                continue;
                        if (s->match_pct >= GAIT_TARGET_MATCH_PCT)
                                above[na++] = s->uncertain_pct;
                        else
                                below[nb++] = s->uncertain_pct;
                        for (unsigned u = 0; u < 2; u++) {
                                matched[u] += s->matched_by_certainty[u];
                                missed[u] += s->missed_by_certainty[u];
                        }
                }
        qsort(below, nb, sizeof(double), cmp_double_asc);
        qsort(above, na, sizeof(double), cmp_double_asc);
        /* the area under the ROC curve: how often a foot below the target has the higher share */
        for (size_t i = 0; i < nb; i++)
                for (size_t j = 0; j < na; j++)
                        pairs += below[i] > above[j] ? 1.0 : below[i] == above[j] ? 0.5 : 0.0;

        fprintf(out, "| feet | how many | uncertain contacts %%: lowest | median | highest |\n|---|---|---|---|---|\n");
        for (unsigned b = 0; b < 2; b++) {
                const double *v = b ? below : above;
                size_t k = b ? nb : na;
                if (k == 0)
                        continue;
                fprintf(out, "| per-stride match %s%.0f %%%s | %zu | %.1f | %.1f | %.1f |\n", b ? "below " : "", GAIT_TARGET_MATCH_PCT,
                        b ? "" : " or more", k, v[0], k % 2 ? v[k / 2] : (v[k / 2 - 1] + v[k / 2]) / 2, v[k - 1]);
        }
        if (nb > 0 && na > 0)
                fprintf(out, "\nOf the %zu pairs of one foot below the target and one that meets it, the foot below has the "
                             "higher share in %.1f %% (the area under the ROC curve).\n",
                        nb * na, 100.0 * pairs / (double) (nb * na));
        fprintf(out, "\n| reference strides paired with one of ours | matched | missed | missed %% |\n|---|---|---|---|\n");
        for (int u = 1; u >= 0; u--) {
                size_t paired = matched[u] + missed[u];
                fprintf(out, "| %s | %zu | %zu | %.1f |\n", u ? "an uncertain contact at either end" : "both contacts clear",
                        matched[u], missed[u], paired > 0 ? 100.0 * (double) missed[u] / (double) paired : NAN);
        }
}

static int validate_gaitndd(const char *datadir, FILE *out) {
        char dir[4096], **names = NULL;
        _cleanup_free_ RecordResult *res = NULL;
        size_t n = 0, pass_cv = 0, pass_all = 0, feet_cv = 0, match_feet = 0, match_cv = 0, match_on_itself = 0;
        size_t missed_cv = 0, missed_everywhere = 0; /* targets missed by feet, cross-validated */
        unsigned all_grid;
        int r;

        snprintf(dir, sizeof(dir), "%s/gaitndd", datadir);
        r = list_names(dir, ".ts", &names, &n);
        if (r < 0) {
                fprintf(stderr, "analyze: %s: %s\n", dir, strerror(-r));
                return r;
        }
        if (n == 0) { /* a fit over no record would still print its constants */
                fprintf(stderr, "analyze: %s: no gaitndd record (.ts file)\n", dir);
                return -ENOENT;
        }
        res = calloc(n, sizeof(RecordResult));
        if (!res) {
                free_names(names, n);
                return -ENOMEM;
        }
        for (size_t i = 0; i < n; i++) {
                r = score_record(dir, names[i], &res[i]);
                if (r < 0) {
                        fprintf(stderr, "analyze: %s/%s: %s\n", dir, names[i], strerror(-r));
                        free_names(names, n);
                        return r;
                }
        }
        free_names(names, n);

        all_grid = fit(res, n, SIZE_MAX);
        for (size_t i = 0; i < n; i++) {
                res[i].cv_grid = fit(res, n, i);
                for (FootSide side = 0; side < _FOOT_SIDE_MAX; side++) {
                        unsigned excused;
                        (void) gait_known_data_issue(res[i].name, side, &excused);
                        unsigned miss = gait_foot_score_misses(&res[i].score[res[i].cv_grid][side]) & ~excused;
                        feet_cv++;
                        pass_cv += miss == 0;
                        pass_all += (gait_foot_score_misses(&res[i].score[all_grid][side]) & ~excused) == 0;
                        missed_cv += (size_t) __builtin_popcount(miss);
                        missed_everywhere += (size_t) __builtin_popcount(miss & missed_at_every_point(&res[i], side));
                        if (excused & GAIT_MISS_MATCH)
                                continue;
                        match_feet++;
                        match_cv += !(miss & GAIT_MISS_MATCH);
                        match_on_itself += best_match_on_itself(&res[i], side) >= GAIT_TARGET_MATCH_PCT;
                }
        }

        GaitParams fit_all = grid_params(all_grid);
        fprintf(out, "Grid: contact slope %.1f…%.1f, toe-off slope %.1f…%.1f spans/s, contact level %.2f…%.2f spans (%zu points). "
                     "All-data fit: contact %.1f, toe-off %.1f, level %.2f (engine defaults: %.1f, %.1f, %.2f%s).\n\n",
                contact_grid[0], contact_grid[N_CONTACT - 1], toe_off_grid[0], toe_off_grid[N_TOE_OFF - 1],
                level_grid[0], level_grid[N_LEVEL - 1], N_GRID,
                fit_all.contact_slope, fit_all.toe_off_slope, fit_all.contact_level,
                GAIT_CONTACT_SLOPE_DEFAULT, GAIT_TOE_OFF_SLOPE_DEFAULT, GAIT_CONTACT_LEVEL_DEFAULT,
                fit_all.contact_slope == GAIT_CONTACT_SLOPE_DEFAULT && fit_all.toe_off_slope == GAIT_TOE_OFF_SLOPE_DEFAULT &&
                fit_all.contact_level == GAIT_CONTACT_LEVEL_DEFAULT ? ": the same" : ": **they differ**");
        fprintf(out, "Feet within every target (or excused by the data): cross-validated %zu of %zu, all-data %zu of %zu.\n\n",
                pass_cv, feet_cv, pass_all, feet_cv);
        fprintf(out, "Per-stride match of %.0f %% or more: cross-validated %zu of %zu feet; with the constants fitted on each "
                     "record itself, which the protocol forbids, %zu of %zu (column \"best on itself\": what fitting could "
                     "do at best).\n\n",
                GAIT_TARGET_MATCH_PCT, match_cv, match_feet, match_on_itself, match_feet);
        fprintf(out, "Targets missed, cross-validated (a foot missing two targets counts twice): %zu; of them %zu are missed "
                     "at every grid point, so no choice of the constants, not even one fitted on the record itself, meets "
                     "them (column \"missed at every grid point\").\n\n",
                missed_cv, missed_everywhere);
        fprintf(out, "### Feet within each target, per group\n\n"
                     "Cross-validated, the all-data fit in parentheses; a target the data excuses for a foot is not "
                     "counted for it.\n\n");
        print_feet_per_target(out, res, n, all_grid);
        fprintf(out, "\n### Error distribution per group\n\n");
        print_distributions(out, res, n, all_grid);
        fprintf(out, "\n### Per record, cross-validated (constants fitted without the record)\n\n");
        print_table(out, res, n, true, all_grid);
        fprintf(out, "\n### What the engine says of its own landings\n\n"
                     "Each contact carries its spread: how far it moves with the contact slope anywhere from %.1f to %.1f "
                     "spans/s and the contact level anywhere from %.2f to %.2f spans (the grid's ranges), from its earliest "
                     "placement to its latest (`contact_spread_ms` in `analyze`'s stride lines). A contact that moves %u ms "
                     "or more is uncertain; the gait payload publishes each foot's share of them "
                     "(`uncertain_contacts_pct`). The engine computes it from the foot's own signal, without the "
                     "reference. Cross-validated constants; column \"uncertain contacts %%\" above.\n\n",
                GAIT_CONTACT_SLOPE_MIN, GAIT_CONTACT_SLOPE_MAX, level_grid[0], GAIT_CONTACT_LEVEL_MAX, GAIT_CONTACT_UNCERTAIN_MS);
        print_certainty(out, res, n);
        fprintf(out, "\n### Where the engine and the reference disagree: the walker's rhythm\n\n"
                     "Cross-validated constants; feet with at least 10 contacts judged either way, and every foot in the "
                     "totals. A contact disagrees when the two placements lie %.0f ms or more apart, after the usual "
                     "offset (ours − the reference's, left feet) is taken off. By the other foot (left feet only: the "
                     "reference gives right contacts as durations): each placement's phase within the right stride "
                     "around it, against the median phase of up to six neighbouring contacts on which both agree. By "
                     "the foot's own neighbours (both feet, free of the other foot's contacts): where our stride and "
                     "the reference's differ by d and the next ones by about −d, the contact between them against the "
                     "midpoint of the two around it, on which they agree. The closer placement wins by %.0f ms or "
                     "more; else neither.\n\n",
                GAIT_ARBITER_DISAGREE_MS, GAIT_ARBITER_MARGIN_MS);
        print_arbiter(out, res, n);
        return 0;
}

static int validate_gaitpdb(const char *datadir, FILE *out) {
        char dir[4096], **names = NULL;
        size_t n = 0;
        int r;

        snprintf(dir, sizeof(dir), "%s/gaitpdb", datadir);
        r = list_names(dir, "_01.txt", &names, &n);
        if (r < 0) {
                fprintf(stderr, "analyze: %s: %s\n", dir, strerror(-r));
                return r;
        }
        fprintf(out, "| walk | group | strides L/R | median stride L ms | R ms | L−R %% | cadence spm | heel-first L | R | "
                     "uncertain contacts %% L / R | targets missed |\n"
                     "|---|---|---|---|---|---|---|---|---|---|---|\n");
        for (size_t i = 0; i < n && r >= 0; i++) {
                _cleanup_(gait_recording_freep) GaitRecording *rec = NULL;
                _cleanup_free_ GaitStride *strides = NULL;
                _cleanup_free_ float *scratch = NULL;
                GaitWindowSummary s;
                char path[4200], miss[128] = "";
                bool control = strstr(names[i], "Co") != NULL;
                size_t k;

                snprintf(path, sizeof(path), "%s/%s_01.txt", dir, names[i]);
                r = gait_recording_load(path, &rec);
                if (r >= 0)
                        r = gait_recording_analyze(rec, NULL, &strides, &k);
                if (r < 0) {
                        fprintf(stderr, "analyze: %s: %s\n", path, strerror(-r));
                        break;
                }
                scratch = calloc(k + 1, sizeof(float));
                if (!scratch) {
                        r = -ENOMEM;
                        break;
                }
                gait_summarize_strides(strides, k, scratch, &s);
                const GaitFootSummary *L = &s.foot[FOOT_LEFT], *R = &s.foot[FOOT_RIGHT];
                double lr = 100.0 * (L->stride_time_ms - R->stride_time_ms) / ((L->stride_time_ms + R->stride_time_ms) / 2);
                if (!(fabs(lr) <= 2.0))
                        strcat(miss, "L/R ");
                if (!(s.cadence_spm >= 70 && s.cadence_spm <= 150))
                        strcat(miss, "cadence ");
                if (control && !(2 * L->strikes[STRIKE_HEEL] > L->stance_strides && 2 * R->strikes[STRIKE_HEEL] > R->stance_strides))
                        strcat(miss, "heel-first ");
                fprintf(out, "| %s_01 | %s | %u/%u | %.1f | %.1f | %+.2f | %.1f | %u/%u | %u/%u | %.1f / %.1f | %s |\n", names[i],
                        control ? "control" : "Parkinson's", L->strides, R->strides, L->stride_time_ms, R->stride_time_ms, lr,
                        s.cadence_spm, L->strikes[STRIKE_HEEL], L->stance_strides, R->strikes[STRIKE_HEEL], R->stance_strides,
                        L->uncertain_contacts_pct, R->uncertain_contacts_pct, miss[0] ? miss : "none");
        }
        free_names(names, n);
        return r < 0 ? r : 0;
}

int gait_validate_cli(const char *datadir) {
        int r;

        printf("<!-- generated by scripts/validate.py (insole2mqtt analyze --validate); do not edit by hand -->\n\n"
               "## gaitndd: cross-validated against the dataset authors' reference\n\n");
        r = validate_gaitndd(datadir, stdout);
        if (r < 0)
                return 1;
        printf("\n## gaitpdb: plausibility (no reference events; engine defaults)\n\n");
        r = validate_gaitpdb(datadir, stdout);
        if (r < 0)
                return 1;
        printf("\n<!-- end of generated part -->\n");
        fflush(stdout);
        return 0;
}
