/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gait-internal.h"
#include "gait-recording.h"
#include "macro.h"
#include "round-util.h"

#define GAITPDB_COLUMNS 19
#define GAITNDD_MAX_SAMPLES (10u * 1000u * 1000u) /* 9 h at 300 Hz; bounds the allocation */

GaitRecording *gait_recording_free(GaitRecording *r) {
        if (!r)
                return NULL;
        for (FootSide s = 0; s < _FOOT_SIDE_MAX; s++) {
                free(r->t_us[s]);
                free(r->cells[s]);
        }
        free(r);
        return NULL;
}

void gait_gaitpdb_layout(FootSide side, InsoleLayout *ret) {
        /* format.txt's sensor positions (arbitrary units, origin between the feet, +Y forward):
         * Y -800 (heel) .. +800 (toes) maps linearly onto x 0.06 .. 0.94; |X| 300 (the inner,
         * medial side) .. 700 (outer, lateral) maps onto y 0.15 .. 0.85. */
        static const float pos[8][2] = {
                { 500, -800 }, { 700, -400 }, { 300, -400 }, { 700, 0 },
                { 300, 0 },    { 700, 400 },  { 300, 400 },  { 500, 800 },
        };
        *ret = (InsoleLayout) { .side = side, .n_cells = 8, .unit = PRESSURE_UNIT_NEWTON, .scale = 1 };
        for (unsigned i = 0; i < 8; i++)
                ret->cells[i] = (InsoleCell) {
                        .x = 0.06f + 0.88f * (pos[i][1] + 800) / 1600,
                        .y = 0.15f + 0.70f * (pos[i][0] - 300) / 400,
                };
}

int gait_parse_row(const char *line, double *v, unsigned n) {
        const char *p = line;
        char *end;
        unsigned k;

        for (k = 0; k < n; k++) {
                v[k] = strtod(p, &end);
                if (end == p || !isfinite(v[k]))
                        break;
                p = end;
        }
        if (k == 0 && strspn(line, " \t\r\n") == strlen(line))
                return 0;
        return k == n ? 1 : -EBADMSG;
}

static int alloc_foot(GaitRecording *r, FootSide s, size_t n) {
        r->t_us[s] = calloc(MAX(n, (size_t) 1), sizeof(uint64_t));
        r->cells[s] = calloc(MAX(n, (size_t) 1) * r->layout[s].n_cells, sizeof(float));
        if (!r->t_us[s] || !r->cells[s])
                return -ENOMEM;
        return 0;
}

static int load_gaitpdb(const char *path, GaitRecording *r) {
        _cleanup_fclose_ FILE *f = NULL;
        char line[1024];
        size_t n = 0, cap = 0;
        double t0 = NAN;

        f = fopen(path, "re");
        if (!f)
                return -errno;
        r->format = GAIT_RECORDING_GAITPDB;
        for (FootSide s = 0; s < _FOOT_SIDE_MAX; s++)
                gait_gaitpdb_layout(s, &r->layout[s]);

        while (fgets(line, sizeof(line), f)) {
                double v[GAITPDB_COLUMNS];
                int k = gait_parse_row(line, v, GAITPDB_COLUMNS);

                if (k < 0)
                        return k;
                if (k == 0)
                        continue;
                if (n == cap) {
                        size_t ncap = MAX(cap * 2, (size_t) 4096);
                        for (FootSide s = 0; s < _FOOT_SIDE_MAX; s++) {
                                uint64_t *t = realloc(r->t_us[s], ncap * sizeof(uint64_t));
                                if (!t)
                                        return -ENOMEM;
                                r->t_us[s] = t;
                                float *c = realloc(r->cells[s], ncap * 8 * sizeof(float));
                                if (!c)
                                        return -ENOMEM;
                                r->cells[s] = c;
                        }
                        cap = ncap;
                }
                if (!isfinite(t0))
                        t0 = v[0];
                uint64_t t = (uint64_t) round_half_away((v[0] - t0) * 1e6);
                if (n > 0 && t <= r->t_us[FOOT_LEFT][n - 1])
                        return -EBADMSG;
                for (FootSide s = 0; s < _FOOT_SIDE_MAX; s++) {
                        r->t_us[s][n] = t;
                        for (unsigned c = 0; c < 8; c++)
                                r->cells[s][n * 8 + c] = (float) v[1 + 8 * s + c];
                }
                n++;
        }
        if (ferror(f))
                return -EIO;
        if (n == 0)
                return -ENODATA;
        r->n[FOOT_LEFT] = r->n[FOOT_RIGHT] = n;
        return 0;
}

static int read_file_all(const char *path, uint8_t **ret, size_t *ret_len) {
        _cleanup_fclose_ FILE *f = NULL;
        _cleanup_free_ uint8_t *buf = NULL;
        size_t len = 0, cap = 0;

        f = fopen(path, "re");
        if (!f)
                return -errno;
        for (;;) {
                if (len == cap) {
                        cap = MAX(cap * 2, (size_t) 65536);
                        uint8_t *n = realloc(buf, cap);
                        if (!n)
                                return -ENOMEM;
                        buf = n;
                }
                size_t k = fread(buf + len, 1, cap - len, f);
                len += k;
                if (k == 0)
                        break;
        }
        if (ferror(f))
                return -EIO;
        *ret = TAKE_PTR(buf);
        *ret_len = len;
        return 0;
}

static int load_gaitndd(const char *base, GaitRecording *r) {
        _cleanup_fclose_ FILE *h = NULL;
        _cleanup_free_ char *hea = NULL;
        char name[256], line[512];
        double fs;
        unsigned nsig, nsamp;
        unsigned long long nsamp_ll;
        static const char *const ext[_FOOT_SIDE_MAX] = { "let", "rit" };

        if (asprintf(&hea, "%s.hea", base) < 0)
                return -ENOMEM;
        h = fopen(hea, "re");
        if (!h)
                return -errno;
        if (!fgets(line, sizeof(line), h) ||
            sscanf(line, "%255s %u %lf %llu", name, &nsig, &fs, &nsamp_ll) != 4 ||
            nsig != 2 || !(fs > 0 && fs <= 100000) || nsamp_ll == 0 || nsamp_ll > GAITNDD_MAX_SAMPLES)
                return -EBADMSG;
        nsamp = (unsigned) nsamp_ll;
        /* Both signal lines must be format 212, one signal per file. */
        for (unsigned i = 0; i < 2; i++) {
                char file[256];
                int fmt;
                if (!fgets(line, sizeof(line), h) || sscanf(line, "%255s %d", file, &fmt) != 2 || fmt != 212)
                        return -EBADMSG;
        }

        r->format = GAIT_RECORDING_GAITNDD;
        for (FootSide s = 0; s < _FOOT_SIDE_MAX; s++) {
                _cleanup_free_ char *p = NULL;
                _cleanup_free_ uint8_t *buf = NULL;
                size_t len = 0, n = 0;
                int k;

                /* one cell under the whole foot: no spatial information */
                r->layout[s] = (InsoleLayout) { .side = s, .n_cells = 1, .unit = PRESSURE_UNIT_RAW, .scale = 1 };
                r->layout[s].cells[0] = (InsoleCell) { .x = 0.5f, .y = 0.5f };

                if (asprintf(&p, "%s.%s", base, ext[s]) < 0)
                        return -ENOMEM;
                k = read_file_all(p, &buf, &len);
                if (k < 0)
                        return k;
                if (len < (size_t) nsamp / 2 * 3)
                        return -EBADMSG;
                k = alloc_foot(r, s, nsamp);
                if (k < 0)
                        return k;
                for (size_t i = 0; i + 2 < len && n < nsamp; i += 3) {
                        int v[2] = { buf[i] | ((buf[i + 1] & 0x0F) << 8), buf[i + 2] | ((buf[i + 1] & 0xF0) << 4) };
                        for (unsigned j = 0; j < 2 && n < nsamp; j++) {
                                int x = v[j] > 2047 ? v[j] - 4096 : v[j];
                                r->cells[s][n] = x == -2048 ? NAN : (float) x;
                                r->t_us[s][n] = (uint64_t) round_half_away(n * 1e6 / fs);
                                n++;
                        }
                }
                r->n[s] = n;
        }
        return 0;
}

static bool has_suffix(const char *s, const char *suffix) {
        size_t a = strlen(s), b = strlen(suffix);
        return a >= b && streq(s + a - b, suffix);
}

int gait_recording_load(const char *path, GaitRecording **ret) {
        _cleanup_(gait_recording_freep) GaitRecording *r = NULL;
        _cleanup_free_ char *base = NULL, *hea = NULL;
        int k;

        if (!path || !ret)
                return -EINVAL;
        r = calloc(1, sizeof(GaitRecording));
        if (!r)
                return -ENOMEM;

        base = strdup(path);
        if (!base)
                return -ENOMEM;
        if (has_suffix(base, ".let") || has_suffix(base, ".rit") || has_suffix(base, ".hea"))
                base[strlen(base) - 4] = 0;
        if (asprintf(&hea, "%s.hea", base) < 0)
                return -ENOMEM;
        if (access(hea, R_OK) == 0)
                k = load_gaitndd(base, r);
        else
                k = load_gaitpdb(path, r);
        if (k < 0)
                return k;
        *ret = TAKE_PTR(r);
        return 0;
}

int gait_recording_analyze(const GaitRecording *rec, const GaitParams *params, GaitStride **ret_strides, size_t *ret_n) {
        return gait_recording_run(rec, params, ret_strides, ret_n, NULL);
}

int gait_recording_run(const GaitRecording *rec, const GaitParams *params, GaitStride **ret_strides, size_t *ret_n,
                       GaitSnapshot *ret_snapshot) {
        _cleanup_(gait_engine_freep) GaitEngine *e = NULL;
        _cleanup_free_ GaitStride *out = NULL;
        size_t n = 0, cap = 0, i[_FOOT_SIDE_MAX] = {};
        GaitStride batch[64];
        int k;

        if (!rec || !ret_strides || !ret_n)
                return -EINVAL;
        k = gait_engine_new(&rec->layout[FOOT_LEFT], &rec->layout[FOOT_RIGHT], params, &e);
        if (k < 0)
                return k;

        for (;;) {
                FootSide s;
                PressureSample smp;

                if (i[FOOT_LEFT] >= rec->n[FOOT_LEFT] && i[FOOT_RIGHT] >= rec->n[FOOT_RIGHT])
                        break;
                if (i[FOOT_LEFT] >= rec->n[FOOT_LEFT])
                        s = FOOT_RIGHT;
                else if (i[FOOT_RIGHT] >= rec->n[FOOT_RIGHT])
                        s = FOOT_LEFT;
                else
                        s = rec->t_us[FOOT_RIGHT][i[FOOT_RIGHT]] < rec->t_us[FOOT_LEFT][i[FOOT_LEFT]] ? FOOT_RIGHT : FOOT_LEFT;

                unsigned nc = rec->layout[s].n_cells;
                smp = (PressureSample) { .t_us = rec->t_us[s][i[s]], .n_cells = nc };
                memcpy(smp.cell, rec->cells[s] + i[s] * nc, nc * sizeof(float));
                i[s]++;
                k = gait_engine_feed(e, s, &smp);
                if (k < 0)
                        return k;

                size_t got;
                while ((got = gait_engine_take_strides(e, batch, ELEMENTSOF(batch))) > 0) {
                        if (n + got > cap) {
                                size_t ncap = MAX(cap * 2, n + got + 256);
                                GaitStride *m = realloc(out, ncap * sizeof(GaitStride));
                                if (!m)
                                        return -ENOMEM;
                                out = m;
                                cap = ncap;
                        }
                        memcpy(out + n, batch, got * sizeof(GaitStride));
                        n += got;
                }
        }
        if (ret_snapshot) {
                k = gait_engine_snapshot(e, ret_snapshot);
                if (k < 0)
                        return k;
        }
        *ret_strides = TAKE_PTR(out);
        *ret_n = n;
        return 0;
}


void gait_stride_to_json(const GaitStride *s, PressureUnit unit, JsonWriter *w) {
        json_object_begin(w);
        json_kv_string(w, "foot", foot_side_to_string(s->foot));
        json_kv_double(w, "t_s", s->t_contact_us / 1e6, 4);
        json_kv_double(w, "stride_time_ms", s->stride_us / 1e3, 1);
        json_kv_double(w, "stance_time_ms", s->stance_us / 1e3, 1);
        json_kv_double(w, "swing_time_ms", s->swing_us / 1e3, 1);
        json_kv_double(w, "stance_pct", 100.0 * s->stance_us / s->stride_us, 2);
        json_kv_double(w, "swing_pct", 100.0 * s->swing_us / s->stride_us, 2);
        if (s->step_us >= 0)
                json_kv_double(w, "step_time_ms", s->step_us / 1e3, 1);
        if (s->double_support_us >= 0) {
                json_kv_double(w, "double_support_ms", s->double_support_us / 1e3, 1);
                json_kv_double(w, "double_support_pct", 100.0 * s->double_support_us / s->stride_us, 2);
        }
        json_kv_bool(w, "flight", s->flight);
        json_kv_double(w, "contact_spread_ms", s->contact_spread_us / 1e3, 1);
        if (s->stance.valid) {
                const GaitStanceMetrics *m = &s->stance;
                const char *u = unit == PRESSURE_UNIT_RAW ? "raw" : m->per_body_weight ? "bw" : "n";
                char key[64];

                json_kv_string(w, "strike", strike_pattern_to_string(m->strike));
                int dec = m->per_body_weight ? 3 : 1;

                snprintf(key, sizeof(key), "peak_load_%s", u);
                json_kv_double_finite(w, key, m->peak_total, dec);
                snprintf(key, sizeof(key), "peak_heel_%s", u);
                json_kv_double_finite(w, key, m->peak_heel, dec);
                snprintf(key, sizeof(key), "heel_loading_rate_%s_per_s", u);
                json_kv_double_finite(w, key, m->heel_loading_rate, m->per_body_weight ? 2 : 0);
                snprintf(key, sizeof(key), "push_peak_%s", u);
                json_kv_double_finite(w, key, m->push_peak, dec);
                json_key(w, "load_share_pct");
                json_object_begin(w);
                for (FootRegion r = 0; r < _REGION_MAX; r++)
                        json_kv_double(w, foot_region_to_string(r), 100.0 * m->load_share[r], 1);
                json_object_end(w);
                json_kv_double_finite(w, "cop_start_x_pct", 100.0 * m->cop_start_x, 1);
                json_kv_double_finite(w, "cop_end_x_pct", 100.0 * m->cop_end_x, 1);
                json_kv_double_finite(w, "cop_forward_pct", 100.0 * m->cop_forward_fraction, 1);
                json_kv_double_finite(w, "ml_index", m->ml_index, 3);
        }
        json_object_end(w);
}

int gait_summary_to_json(const GaitStride *strides, size_t n, PressureUnit unit, const GaitFootQuality *quality, JsonWriter *w) {
        _cleanup_free_ float *scratch = NULL;
        GaitWindowSummary s;

        scratch = calloc(MAX(n, (size_t) 1), sizeof(float));
        if (!scratch)
                return -ENOMEM;
        gait_summarize_strides(strides, n, scratch, &s);
        bool per_body_weight = false;
        for (size_t i = 0; i < n && !per_body_weight; i++)
                per_body_weight = strides[i].stance.valid && strides[i].stance.per_body_weight;
        const char *u = gait_load_unit_suffix(unit, per_body_weight);

        json_object_begin(w);
        json_key(w, "summary");
        json_object_begin(w);
        for (FootSide side = 0; side < _FOOT_SIDE_MAX; side++) {
                json_key(w, foot_side_to_string(side));
                gait_foot_summary_to_json(&s.foot[side], u, w);
        }
        if (quality)
                gait_quality_to_json(quality, w);
        json_kv_uint(w, "steps", s.steps);
        json_kv_double_finite(w, "cadence_spm", s.cadence_spm, 1);
        json_kv_double_finite(w, "stride_time_cv_pct", s.stride_time_cv_pct, 2);
        json_kv_double_finite(w, "double_support_ms", s.double_support_ms, 1);
        json_kv_double_finite(w, "double_support_pct", s.double_support_pct, 2);
        json_key(w, "symmetry");
        json_object_begin(w);
        json_kv_double_finite(w, "step_time_si_pct", s.symmetry.step_time_pct, 2);
        json_kv_double_finite(w, "stance_time_si_pct", s.symmetry.stance_time_pct, 2);
        json_kv_double_finite(w, "swing_time_si_pct", s.symmetry.swing_time_pct, 2);
        json_kv_double_finite(w, "peak_load_si_pct", s.symmetry.peak_load_pct, 2);
        json_kv_uint(w, "strides_left", s.symmetry.strides_left);
        json_kv_uint(w, "strides_right", s.symmetry.strides_right);
        json_object_end(w);
        json_object_end(w);
        json_object_end(w);
        return 0;
}
