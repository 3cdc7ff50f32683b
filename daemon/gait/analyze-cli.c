/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "gait-recording.h"
#include "macro.h"

static void usage(FILE *out) {
        fputs("Usage: insole2mqtt analyze [--body-weight-kg=KG] FILE...\n"
              "Runs the gait engine over recordings (gaitpdb .txt; gaitndd .hea/.let/.rit or record\n"
              "base name) and prints one JSON line per stride, then one {\"summary\": ...} line per file.\n",
              out);
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
        PressureUnit unit;
        int r;

        r = gait_recording_load(path, &rec);
        if (r < 0) {
                fprintf(stderr, "analyze: %s: %s\n", path, strerror(-r));
                return r;
        }
        r = gait_recording_analyze(rec, params, &strides, &n);
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
        r = gait_summary_to_json(strides, n, unit, &w);
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
        for (; i < argc; i++) {
                files++;
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
