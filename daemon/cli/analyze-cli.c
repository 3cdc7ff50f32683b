/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "gait-recording.h"
#include "gait-validate.h"
#include "macro.h"

static void usage(FILE *out) {
        fputs("Usage: insole2mqtt analyze [--body-weight-kg=KG] FILE...\n"
              "       insole2mqtt analyze --validate=DATADIR\n"
              "Runs the gait engine over recordings (gaitpdb .txt; gaitndd .hea/.let/.rit or record\n"
              "base name) and prints one JSON line per stride, then one {\"summary\": ...} line per\n"
              "recording (a gaitndd record's files name one recording). --validate prints the\n"
              "cross-validated comparison with the reference as markdown (docs/validation.md).\n",
              out);
}

/* The record a path names: a gaitndd file without its extension, anything else as it is. */
static size_t recording_base_len(const char *path) {
        size_t l = strlen(path);
        static const char *const ext[] = { ".hea", ".let", ".rit" };

        for (size_t i = 0; i < ELEMENTSOF(ext); i++)
                if (l > 4 && streq(path + l - 4, ext[i]))
                        return l - 4;
        return l;
}

static bool same_recording(const char *a, const char *b) {
        size_t la = recording_base_len(a), lb = recording_base_len(b);
        return la == lb && strncmp(a, b, la) == 0;
}

static int print_json(JsonWriter *w) {
        const char *s;
        int r = json_writer_finish(w, &s, NULL);
        if (r < 0)
                return r;
        puts(s);
        return 0;
}

static int analyze_one(const char *path, const GaitParams *params) {
        _cleanup_(gait_recording_freep) GaitRecording *rec = NULL;
        _cleanup_free_ GaitStride *strides = NULL;
        size_t n;
        GaitSnapshot snap;
        PressureUnit unit;
        int r;

        r = gait_recording_load(path, &rec);
        if (r < 0) {
                fprintf(stderr, "analyze: %s: %s\n", path, strerror(-r));
                return r;
        }
        r = gait_recording_run(rec, params, &strides, &n, &snap);
        if (r < 0) {
                fprintf(stderr, "analyze: %s: %s\n", path, strerror(-r));
                return r;
        }
        unit = rec->format == GAIT_RECORDING_GAITNDD ? PRESSURE_UNIT_RAW : PRESSURE_UNIT_NEWTON;

        for (size_t i = 0; i < n; i++) {
                char buf[1024];
                JsonWriter w;

                json_writer_init(&w, buf, sizeof(buf));
                gait_stride_to_json(&strides[i], unit, &w);
                r = print_json(&w);
                if (r < 0)
                        return r;
        }

        JsonWriter w;
        json_writer_init_dynamic(&w);
        r = gait_summary_to_json(strides, n, unit, snap.quality, &w);
        if (r >= 0)
                r = print_json(&w);
        json_writer_done(&w);
        return r;
}

int analyze_cli(int argc, char **argv) {
        GaitParams params = GAIT_PARAMS_DEFAULT;
        int i, failed = 0, files = 0;

        for (i = 1; i < argc; i++) {
                const char *a = argv[i];
                if (streq(a, "--help") || streq(a, "-h")) {
                        usage(stdout);
                        return 0;
                }
                if (strncmp(a, "--body-weight-kg=", 17) == 0) {
                        char *end;
                        params.body_weight_kg = strtof(a + 17, &end);
                        if (*end || !(params.body_weight_kg > 0 && params.body_weight_kg < 500)) {
                                fprintf(stderr, "analyze: invalid body weight '%s'\n", a + 17);
                                return 2;
                        }
                        continue;
                }
                if (strncmp(a, "--contact-slope=", 16) == 0 || strncmp(a, "--toe-off-slope=", 16) == 0) {
                        char *end;
                        float v = strtof(a + 16, &end);
                        if (*end || !(v > 0 && v < 1000)) {
                                fprintf(stderr, "analyze: invalid value in '%s'\n", a);
                                return 2;
                        }
                        if (a[2] == 'c')
                                params.contact_slope = v;
                        else
                                params.toe_off_slope = v;
                        continue;
                }
                if (strncmp(a, "--validate=", 11) == 0)
                        return gait_validate_cli(a + 11);
                if (streq(a, "--"))  {
                        i++;
                        break;
                }
                if (a[0] == '-' && a[1]) {
                        fprintf(stderr, "analyze: unknown option '%s'\n", a);
                        usage(stderr);
                        return 2;
                }
                break;
        }
        for (int first = i; i < argc; i++) {
                bool seen = false;

                /* a gaitndd record's .hea, .let, .rit and base name are one recording: analyse it once */
                for (int k = first; k < i && !seen; k++)
                        seen = same_recording(argv[k], argv[i]);
                files++;
                if (seen)
                        continue;
                if (analyze_one(argv[i], &params) < 0)
                        failed++;
        }
        if (files == 0) {
                usage(stderr);
                return 2;
        }
        fflush(stdout);
        return failed ? 1 : 0;
}
