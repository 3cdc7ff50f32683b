/* SPDX-License-Identifier: MIT */
/* Decoded frames per second per decoder on one core. Each characteristic gets a representative
 * value (the largest common form where a format has several) and is decoded in a loop for about
 * 0.5 s with a persistent DecoderState, as the daemon would. With BENCH_FRAMES=N each row decodes
 * exactly N frames instead, for counting instructions (bench/count-instructions.sh), where time
 * means nothing. */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "decoder-records.h"
#include "macro.h"

#if HAVE_CALLGRIND_H
#  include <valgrind/callgrind.h> /* client requests: no-ops outside valgrind */
#else
#  define CALLGRIND_ZERO_STATS
#  define CALLGRIND_DUMP_STATS_AT(label)
#endif

#define BENCH_SECONDS 0.5

typedef struct BenchCase {
        const char *uuid;
        const char *label;
        uint8_t data[3072];
        size_t len;
        bool convert; /* also convert to PressureSamples */
} BenchCase;

static double now_s(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return ts.tv_sec + ts.tv_nsec / 1e9;
}

static size_t put_le16(uint8_t *b, size_t p, uint16_t v) {
        b[p] = (uint8_t) v;
        b[p + 1] = (uint8_t) (v >> 8);
        return p + 2;
}

/* An OIP frame: n_cells x n_samples, optional IMU */
static size_t make_oip(uint8_t *b, uint8_t n_cells, uint8_t n_samples, bool imu) {
        size_t p = 0;
        b[p++] = OIP_VERSION;
        b[p++] = imu ? OIP_FLAG_IMU : 0;
        p = put_le16(b, p, 0);
        p = put_le16(b, p, 0);
        p = put_le16(b, p, 0);
        p = put_le16(b, p, 10000);
        b[p++] = n_cells;
        b[p++] = n_samples;
        for (unsigned s = 0; s < n_samples; s++) {
                for (unsigned c = 0; c < n_cells; c++)
                        p = put_le16(b, p, (uint16_t) (c * 37 + s));
                if (imu)
                        for (unsigned k = 0; k < 6; k++)
                                p = put_le16(b, p, (uint16_t) (k * 100));
        }
        return p;
}

/* Keeps the sequence numbers advancing so that the loss bookkeeping runs as in real use. */
static void advance(BenchCase *c, unsigned i) {
        if (streq(c->uuid, OIP_PRESSURE_FRAME_UUID)) {
                uint32_t t = i * 40000u;
                c->data[2] = (uint8_t) i, c->data[3] = (uint8_t) (i >> 8);
                memcpy(c->data + 4, &t, 4); /* little-endian host assumed in the benchmark only */
        } else if (streq(c->uuid, ORPHE_SENSOR_VALUES_UUID)) {
                c->data[1] = (uint8_t) (i >> 8), c->data[2] = (uint8_t) i;
        }
}

static unsigned long fixed_frames; /* BENCH_FRAMES, 0: run for BENCH_SECONDS */

static void run(BenchCase *c) {
        const Decoder *d = NULL;
        const DecoderCharacteristic *ch = decoder_find_characteristic(c->uuid, &d);
        static DecodedRecord rec;
        static PressureSample samples[OIP_MAX_SAMPLES];
        DecoderState state = {};
        DecoderStats stats = {};
        unsigned long n = 0, batch = fixed_frames > 0 && fixed_frames < 1024 ? fixed_frames : 1024;
        double t0, t, samples_out = 0;

        if (!ch) {
                printf("%-12s %-28s missing\n", "?", c->label);
                return;
        }
        /* Under callgrind (bench/count-instructions.sh) each row's loop is counted on its own. */
        CALLGRIND_ZERO_STATS;
        t0 = now_s();
        do {
                for (unsigned long k = 0; k < batch; k++, n++) {
                        int r;
                        advance(c, (unsigned) n);
                        r = decoder_decode(ch, &state, c->data, c->len, &rec);
                        decoder_stats_account(&stats, r, &rec);
                        if (c->convert && r >= 0) {
                                if (rec.kind == RECORD_OIP_PRESSURE_FRAME)
                                        samples_out += oip_frame_to_samples(&rec.oip_frame, NULL, samples, ELEMENTSOF(samples));
                                else if (rec.kind == RECORD_ORPHE_FRAME)
                                        samples_out += orphe_frame_to_samples(&rec.orphe, orphe_default_layout(FOOT_LEFT), 0, 0,
                                                                              samples, ELEMENTSOF(samples));
                        }
                }
                t = now_s() - t0;
        } while (fixed_frames > 0 ? n < fixed_frames : t < BENCH_SECONDS);
        CALLGRIND_DUMP_STATS_AT(c->label);

        printf("%-12s %-34s %5zu %13.0f %9.1f %10.0f%s\n", d->name, c->label, c->len, n / t, n * c->len / t / 1e6,
               c->convert ? samples_out / t : 0.0, stats.decoded == n ? "" : "  (rejected!)");
}

int main(void) {
        static BenchCase cases[] = {
                { RSC_MEASUREMENT_UUID, "rsc_measurement (10 B, all fields)",
                  { 0x07, 0xc0, 0x03, 0xa8, 0x85, 0x00, 0xe8, 0x03, 0x00, 0x00 }, 10 },
                { RSC_MEASUREMENT_UUID, "rsc_measurement (Stryd 13 B)",
                  { 0x80, 0x9a, 0x02, 0xac }, 13 },
                { RSC_FEATURE_UUID, "rsc_feature", { 0x1f, 0x00 }, 2 },
                { BATTERY_LEVEL_UUID, "battery_level", { 87 }, 1 },
                { DIS_MODEL_NUMBER_UUID, "model_number (24 B)", "Open Insole ESP32-FSR v2", 24 },
                { OIP_PRESSURE_FRAME_UUID, "pressure_frame 16 cells x 4", {}, 0, true },
                { OIP_PRESSURE_FRAME_UUID, "pressure_frame 8 cells x 10 +IMU", {}, 0, true },
                { OIP_PRESSURE_FRAME_UUID, "pressure_frame 32 cells x 40 +IMU", {}, 0, true },
                { OIP_SENSOR_LAYOUT_UUID, "sensor_layout 16 cells", {}, 0 },
                { OIP_STEP_COUNTER_UUID, "step_counter", { 1, 0, 0x10, 0x27, 0, 0, 0xef, 0xbe, 0xad, 0xde }, 10 },
                { ORPHE_SENSOR_VALUES_UUID, "sensor_values header 56", { 56 }, ORPHE_FRAME_SIZE, true },
                { ORPHE_SENSOR_VALUES_UUID, "sensor_values header 55", { 55 }, ORPHE_FRAME_SIZE, true },
                { UKATON_STEP_COUNT_UUID, "step_count", { 0x10, 0x27, 0, 0 }, 4 },
                { "5691eddf-6002-4420-b7a5-bb8751ab5181", "sensor_data 16 x 12-bit",
                  { 0x34, 0x12, 0, 0, 1, 33, 1, 0x00, 0x01, 0x10, 0x02, 0xff, 0x0f }, 39 },
        };

        if (getenv("BENCH_FRAMES"))
                fixed_frames = strtoul(getenv("BENCH_FRAMES"), NULL, 10);
        cases[5].len = make_oip(cases[5].data, 16, 4, false);
        cases[6].len = make_oip(cases[6].data, 8, 10, true);
        cases[7].len = make_oip(cases[7].data, 32, 40, true);
        {
                uint8_t *b = cases[8].data;
                float scale = 0.01f, offset = 0.0f;
                b[0] = OIP_VERSION, b[1] = 0, b[2] = 16, b[3] = PRESSURE_UNIT_NEWTON;
                memcpy(b + 4, &scale, 4);
                memcpy(b + 8, &offset, 4);
                for (unsigned c = 0; c < 16; c++) {
                        b[12 + 4 * c] = (uint8_t) (c * 16);
                        b[13 + 4 * c] = (uint8_t) (c % 2 ? 200 : 50);
                        b[14 + 4 * c] = 100;
                }
                cases[8].len = 12 + 16 * 4;
        }

        printf("One core, %.1f s per row. samples/s: PressureSamples produced for the gait engine.\n", BENCH_SECONDS);
        printf("%-12s %-34s %5s %13s %9s %10s\n", "decoder", "characteristic", "bytes", "frames/s", "MB/s", "samples/s");
        for (size_t i = 0; i < ELEMENTSOF(cases); i++)
                run(&cases[i]);
        return 0;
}
