/* SPDX-License-Identifier: MIT */
/* The gait engine fed what a device could send: any cell values (NaN, infinity, negative, huge),
 * any time steps per foot (repeated, tiny, seconds apart) and any rate, so that a foot's sample ring
 * grows at any moment. Whatever comes in, a snapshot succeeds and a window's median stride time
 * stays within the engine's stride range.
 *
 * Input: [config u8] then records of [control u8][dt u16 LE][n_cells x value u16 LE].
 * config: bits 0-3 cells - 1, bit 4 raw counts (else newtons), bit 5 one insole, bit 6 body weight
 * known. control: bit 0 right foot, bit 1 snapshot after the sample, bit 5 start a day, bits 2-4
 * shift the foot's time step (dt << shift us). value: 0xffff NaN, 0xfffe infinity, 0xfffd -1000,
 * else the value (raw) or a tenth of it (newtons). */

#include <math.h>
#include <string.h>

#include "fuzz.h"
#include "gait.h"

#define FIRST_US 1000000ULL

static void layout_for(uint8_t config, FootSide side, InsoleLayout *ret) {
        unsigned n = 1 + (config & 0x0f);

        *ret = (InsoleLayout) { .side = side, .n_cells = (uint8_t) n, .scale = 1,
                                .unit = config & 0x10 ? PRESSURE_UNIT_RAW : PRESSURE_UNIT_NEWTON };
        /* heel to toes along x, alternating medial and lateral: a spatial insole from 2 cells on */
        for (unsigned i = 0; i < n; i++)
                ret->cells[i] = (InsoleCell) { .x = n > 1 ? (float) i / (float) (n - 1) : 0.5f,
                                               .y = i % 2 ? 0.25f : 0.75f };
}

static float value_of(uint16_t v, bool raw) {
        switch (v) {
        case 0xffff:
                return NAN;
        case 0xfffe:
                return INFINITY;
        case 0xfffd:
                return -1000;
        default:
                return raw ? (float) v : v / 10.0f;
        }
}

static void check_snapshot(GaitEngine *e) {
        GaitSnapshot s;

        if (gait_engine_snapshot(e, &s) < 0)
                __builtin_trap();
        for (GaitWindow w = GAIT_WINDOW_10S; w <= GAIT_WINDOW_60S; w++)
                for (FootSide f = 0; f < _FOOT_SIDE_MAX; f++) {
                        const GaitFootSummary *foot = &s.window[w].foot[f];

                        /* strides outside 250 ms .. 8 s are pauses or artefacts, never strides */
                        if (foot->strides > 0 && !(foot->stride_time_ms >= 249 && foot->stride_time_ms <= 8001))
                                __builtin_trap();
                }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        _cleanup_(gait_engine_freep) GaitEngine *e = NULL;
        InsoleLayout layout[_FOOT_SIDE_MAX];
        GaitParams params = GAIT_PARAMS_DEFAULT;
        uint64_t t[_FOOT_SIDE_MAX] = { FIRST_US, FIRST_US };
        uint8_t config;
        unsigned n_cells;
        size_t record, pos;

        if (size < 1)
                return 0;
        config = data[0];
        n_cells = 1 + (config & 0x0f);
        record = 3 + 2 * n_cells;
        params.single_foot = config & 0x20;
        params.body_weight_kg = config & 0x40 ? 70 : 0;
        params.no_result_queues = true;
        for (FootSide s = 0; s < _FOOT_SIDE_MAX; s++)
                layout_for(config, s, &layout[s]);
        if (gait_engine_new(&layout[FOOT_LEFT], &layout[FOOT_RIGHT], &params, &e) < 0)
                return 0;

        for (pos = 1; pos + record <= size; pos += record) {
                const uint8_t *r = data + pos;
                FootSide side = r[0] & 1 ? FOOT_RIGHT : FOOT_LEFT;
                PressureSample sample = { .n_cells = (uint8_t) n_cells };
                uint64_t dt = (uint64_t) (r[1] | r[2] << 8) << ((r[0] >> 2) & 7);

                t[side] += dt;
                sample.t_us = t[side];
                for (unsigned c = 0; c < n_cells; c++)
                        sample.cell[c] = value_of((uint16_t) (r[3 + 2 * c] | r[4 + 2 * c] << 8), config & 0x10);
                (void) gait_engine_feed(e, side, &sample);
                if (r[0] & 0x20)
                        gait_engine_start_day(e, MAX(t[FOOT_LEFT], t[FOOT_RIGHT]));
                if (r[0] & 0x02)
                        check_snapshot(e);
        }
        check_snapshot(e);
        return 0;
}
