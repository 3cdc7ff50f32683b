/* SPDX-License-Identifier: MIT */
/* Replays PhysioNet foot-force recordings as insole samples:
 *   gaitpdb/<record>   text, 100 Hz, 8 force sensors per foot in newtons (Infotronic insoles)
 *   gaitndd/<record>   WFDB format 212, 300 Hz, one force-sensitive resistor signal per foot
 * The recording loops at its end. Contact (for the step counter) is decided per foot with
 * hysteresis between 20 % and 35 % of the foot's robust range. */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "macro.h"
#include "sim.h"

struct Replay {
        size_t n;
        unsigned n_cells;
        uint64_t period_us;
        float *values; /* [n][2][n_cells] */
        bool *contact; /* [n][2] */
        InsoleLayout layout[_FOOT_SIDE_MAX];
};

Replay *replay_free(Replay *r) {
        if (!r)
                return NULL;
        free(r->values);
        free(r->contact);
        free(r);
        return NULL;
}

static int cmp_float(const void *a, const void *b) {
        float x = *(const float *) a, y = *(const float *) b;
        return (x > y) - (x < y);
}

static int compute_contact(Replay *r) {
        _cleanup_free_ float *tot = malloc(r->n * sizeof(float));
        r->contact = calloc(r->n * 2, sizeof(bool));
        if (!tot || !r->contact)
                return -ENOMEM;
        for (FootSide side = 0; side < _FOOT_SIDE_MAX; side++) {
                for (size_t i = 0; i < r->n; i++) {
                        float t = 0;
                        for (unsigned c = 0; c < r->n_cells; c++)
                                t += r->values[(i * 2 + side) * r->n_cells + c];
                        tot[i] = t;
                }
                _cleanup_free_ float *sorted = malloc(r->n * sizeof(float));
                if (!sorted)
                        return -ENOMEM;
                memcpy(sorted, tot, r->n * sizeof(float));
                qsort(sorted, r->n, sizeof(float), cmp_float);
                float lo = sorted[r->n / 20], hi = sorted[r->n - 1 - r->n / 20];
                float on = lo + 0.35f * (hi - lo), off = lo + 0.20f * (hi - lo);
                bool state = tot[0] > on;
                for (size_t i = 0; i < r->n; i++) {
                        if (state && tot[i] < off)
                                state = false;
                        else if (!state && tot[i] > on)
                                state = true;
                        r->contact[i * 2 + side] = state;
                }
        }
        return 0;
}

static int load_gaitpdb(Replay *r, const char *path) {
        _cleanup_fclose_ FILE *f = fopen(path, "re");
        if (!f)
                return log_error_errno(errno, "Failed to open %s: %m", path);
        size_t allocated = 0;
        char line[1024];
        r->n_cells = 8;
        r->period_us = 10000;
        while (fgets(line, sizeof(line), f)) {
                float v[19];
                int k = sscanf(line, "%f %f %f %f %f %f %f %f %f %f %f %f %f %f %f %f %f %f %f", &v[0], &v[1], &v[2], &v[3],
                               &v[4], &v[5], &v[6], &v[7], &v[8], &v[9], &v[10], &v[11], &v[12], &v[13], &v[14], &v[15],
                               &v[16], &v[17], &v[18]);
                if (k != 19)
                        continue;
                if (r->n >= allocated) {
                        allocated = MAX(allocated * 2, (size_t) 4096);
                        float *nv = realloc(r->values, allocated * 16 * sizeof(float));
                        if (!nv)
                                return -ENOMEM;
                        r->values = nv;
                }
                memcpy(r->values + r->n * 16, v + 1, 16 * sizeof(float));
                r->n++;
        }
        if (r->n < 100)
                return log_error_errno(EINVAL, "%s: too few samples.", path);
        /* PhysioNet's sensor coordinates: X -700 (lateral) .. -300 (medial) for the left foot,
         * Y -800 (heel) .. 800 (toe). Normalised to our outline. */
        static const int X[8] = { 500, 700, 300, 700, 300, 700, 300, 500 }, Y[8] = { -800, -400, -400, 0, 0, 400, 400, 800 };
        for (FootSide side = 0; side < _FOOT_SIDE_MAX; side++) {
                InsoleLayout *l = &r->layout[side];
                *l = (InsoleLayout) { .side = side, .n_cells = 8, .unit = PRESSURE_UNIT_NEWTON, .scale = 1, .offset = 0 };
                for (int i = 0; i < 8; i++) {
                        l->cells[i].x = 0.08f + (float) (Y[i] + 800) / 1600.0f * 0.84f;
                        l->cells[i].y = 0.2f + (float) (X[i] - 300) / 400.0f * 0.6f;
                }
        }
        for (size_t i = 0; i < r->n * 16; i++)
                r->values[i] = MAX(r->values[i], 0.0f);
        return 0;
}

static int read_file(const char *path, uint8_t **ret, size_t *ret_len) {
        _cleanup_fclose_ FILE *f = fopen(path, "re");
        if (!f)
                return log_error_errno(errno, "Failed to open %s: %m", path);
        size_t allocated = 0, len = 0;
        _cleanup_free_ uint8_t *buf = NULL;
        for (;;) {
                if (len + 65536 > allocated) {
                        allocated = len + 65536 * 4;
                        uint8_t *nb = realloc(buf, allocated);
                        if (!nb)
                                return -ENOMEM;
                        buf = nb;
                }
                size_t k = fread(buf + len, 1, allocated - len, f);
                len += k;
                if (k == 0)
                        break;
        }
        *ret = TAKE_PTR(buf);
        *ret_len = len;
        return 0;
}

static int load_gaitndd(Replay *r, const char *base) {
        char path[4096];
        _cleanup_free_ uint8_t *left = NULL;
        _cleanup_free_ uint8_t *right = NULL;
        uint8_t **sig[2] = { &left, &right };
        size_t len[2];
        unsigned freq = 300;

        if (snprintf(path, sizeof(path), "%s.hea", base) >= (int) sizeof(path))
                return -ENAMETOOLONG;
        _cleanup_fclose_ FILE *h = fopen(path, "re");
        if (h) {
                char name[256];
                unsigned nsig;
                if (fscanf(h, "%255s %u %u", name, &nsig, &freq) != 3 || freq == 0 || freq > 10000)
                        freq = 300;
        }
        static const char *const ext[2] = { "let", "rit" };
        for (int s = 0; s < 2; s++) {
                if (snprintf(path, sizeof(path), "%s.%s", base, ext[s]) >= (int) sizeof(path))
                        return -ENAMETOOLONG;
                int k = read_file(path, sig[s], &len[s]);
                if (k < 0)
                        return k;
        }
        r->n = MIN(len[0], len[1]) / 3 * 2;
        if (r->n < 100)
                return log_error_errno(EINVAL, "%s: too few samples.", base);
        r->n_cells = 1;
        r->period_us = USEC_PER_SEC / freq;
        r->values = calloc(r->n * 2, sizeof(float));
        if (!r->values)
                return -ENOMEM;
        for (int s = 0; s < 2; s++)
                for (size_t i = 0; i + 1 < r->n; i += 2) {
                        const uint8_t *b = *sig[s] + i / 2 * 3;
                        int v0 = b[0] | ((b[1] & 0x0f) << 8), v1 = b[2] | ((b[1] & 0xf0) << 4);
                        if (v0 > 2047)
                                v0 -= 4096;
                        if (v1 > 2047)
                                v1 -= 4096;
                        /* shifted so that "no load" is near 0: raw counts + 2048; the invalid
                         * marker -2048 becomes 0 */
                        r->values[i * 2 + s] = (float) (v0 + 2048);
                        r->values[(i + 1) * 2 + s] = (float) (v1 + 2048);
                }
        for (FootSide side = 0; side < _FOOT_SIDE_MAX; side++) {
                InsoleLayout *l = &r->layout[side];
                *l = (InsoleLayout) { .side = side, .n_cells = 1, .unit = PRESSURE_UNIT_RAW, .scale = 1, .offset = 0 };
                l->cells[0] = (InsoleCell) { .x = 0.5f, .y = 0.5f };
        }
        return 0;
}

int replay_open(const char *datasets, const char *spec, Replay **ret) {
        if (!datasets)
                datasets = getenv("INSOLE2MQTT_DATA");
        if (!datasets)
                datasets = INSOLE2MQTT_DATA_DIR; /* the checkout's data/physionet */
        if (strstr(spec, "..") || spec[0] == '/')
                return log_error_errno(EINVAL, "Bad recording name: %s", spec);

        _cleanup_(replay_freep) Replay *r = calloc(1, sizeof(Replay));
        if (!r)
                return -ENOMEM;
        char path[4096];
        int k;
        if (strncmp(spec, "gaitpdb/", 8) == 0) {
                if (snprintf(path, sizeof(path), "%s/%s.txt", datasets, spec) >= (int) sizeof(path))
                        return -ENAMETOOLONG;
                k = load_gaitpdb(r, path); /* columns 2-17 are already [left 8][right 8] */
        } else if (strncmp(spec, "gaitndd/", 8) == 0) {
                if (snprintf(path, sizeof(path), "%s/%s", datasets, spec) >= (int) sizeof(path))
                        return -ENAMETOOLONG;
                k = load_gaitndd(r, path);
        } else
                return log_error_errno(EINVAL, "Unknown dataset in '%s' (gaitpdb/RECORD or gaitndd/RECORD).", spec);
        if (k < 0)
                return k;
        k = compute_contact(r);
        if (k < 0)
                return k;
        *ret = TAKE_PTR(r);
        return 0;
}

const InsoleLayout *replay_layout(const Replay *r, FootSide side) {
        return &r->layout[side];
}

uint64_t replay_period_us(const Replay *r) {
        return r->period_us;
}

size_t replay_length(const Replay *r) {
        return r->n;
}

void replay_get(const Replay *r, FootSide side, size_t index, PressureSample *ret) {
        size_t i = index % r->n;
        *ret = (PressureSample) { .n_cells = (uint8_t) r->n_cells };
        memcpy(ret->cell, r->values + (i * 2 + side) * r->n_cells, r->n_cells * sizeof(float));
}

bool replay_loaded(const Replay *r, FootSide side, size_t index) {
        return r->contact[(index % r->n) * 2 + side];
}
