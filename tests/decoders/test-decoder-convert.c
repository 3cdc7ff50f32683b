/* SPDX-License-Identifier: MIT */
/* Conversions for the gait engine and the RSC accumulator. */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "decoder-records.h"
#include "decoders-test-util.h"
#include "macro.h"

static void decode(const char *uuid, const char *hex, DecodedRecord *rec) {
        uint8_t buf[512];
        int n = test_hex(hex, buf, sizeof(buf));
        assert_true(n >= 0);
        assert_int_equal(decoder_decode(decoder_find_characteristic(uuid, NULL), NULL, buf, (size_t) n, rec), 0);
}

static void test_oip_to_samples(void **state) {
        DecodedRecord frame, layout;
        PressureSample s[4];

        /* 2 cells x 2 samples at 10 ms from t0 = 1 s */
        decode(OIP_PRESSURE_FRAME_UUID, "01 00 07 00 40 42 0f 00 10 27 02 02 64 00 c8 00 2c 01 ff 03", &frame);
        /* right, newton, scale 0.5, offset -1 */
        decode(OIP_SENSOR_LAYOUT_UUID, "01 01 02 01 00 00 00 3f 00 00 80 bf 00 00 64 00 ff 80 fa 00", &layout);

        assert_int_equal(oip_frame_to_samples(&frame.oip_frame, &layout.oip_layout.layout, s, ELEMENTSOF(s)), 2);
        assert_int_equal(s[0].t_us, 1000000);
        assert_int_equal(s[1].t_us, 1010000);
        assert_int_equal(s[0].n_cells, 2);
        assert_float_equal(s[0].cell[0], 100 * 0.5 - 1, 1e-6);
        assert_float_equal(s[0].cell[1], 200 * 0.5 - 1, 1e-6);
        assert_float_equal(s[1].cell[0], 300 * 0.5 - 1, 1e-6);
        assert_float_equal(s[1].cell[1], 1023 * 0.5 - 1, 1e-6);
        assert_false(s[0].has_imu);

        /* no layout: raw values; output space limits the count */
        assert_int_equal(oip_frame_to_samples(&frame.oip_frame, NULL, s, 1), 1);
        assert_float_equal(s[0].cell[1], 200, 0);

        /* layout for another cell count */
        layout.oip_layout.layout.n_cells = 3;
        assert_int_equal(oip_frame_to_samples(&frame.oip_frame, &layout.oip_layout.layout, s, 4), DECODE_ERR_BAD_LENGTH);

        /* IMU: 1000 mg -> 1 g, 15 x 0.1 -> 1.5 deg/s */
        decode(OIP_PRESSURE_FRAME_UUID, "01 01 08 00 00 00 00 00 e8 03 01 01 f4 01 00 00 00 00 e8 03 0f 00 ec ff 00 00", &frame);
        assert_int_equal(oip_frame_to_samples(&frame.oip_frame, NULL, s, 4), 1);
        assert_true(s[0].has_imu);
        assert_float_equal(s[0].accel_g[2], 1.0, 1e-6);
        assert_float_equal(s[0].gyro_dps[0], 1.5, 1e-6);
        assert_float_equal(s[0].gyro_dps[1], -2.0, 1e-6);
}

static void test_orphe_to_samples(void **state) {
        uint8_t b[ORPHE_FRAME_SIZE] = { ORPHE_HEADER_FULL, 0, 1, 0, 0, 1, 0, 0 };
        DecodedRecord rec;
        PressureSample s[4];
        const InsoleLayout *l = orphe_default_layout(FOOT_LEFT);

        /* sample 0: accel z = 2048 (1/16 of full scale = 1 g at 16 g), gyro x = 100 (7 deg/s at
         * 70 mdps/LSB), P0 = 1234 */
        b[8 + 8] = 0x00, b[8 + 9] = 0x64;
        b[8 + 18] = 0x08, b[8 + 19] = 0x00;
        b[8 + 20] = 0x04, b[8 + 21] = 0xd2;
        assert_int_equal(decoder_decode(decoder_find_characteristic(ORPHE_SENSOR_VALUES_UUID, NULL), NULL, b, sizeof(b), &rec), 0);
        assert_int_equal(rec.orphe.t_us, 1000000);
        assert_int_equal(orphe_frame_to_samples(&rec.orphe, l, 0, 0, s, ELEMENTSOF(s)), 2);
        assert_int_equal(s[0].t_us, 1000000);
        assert_int_equal(s[1].t_us, 1010000);
        assert_int_equal(s[0].n_cells, 6);
        assert_float_equal(s[0].cell[0], 1234, 0);
        assert_true(s[0].has_imu);
        assert_float_equal(s[0].accel_g[2], 1.0, 1e-6);
        assert_float_equal(s[0].gyro_dps[0], 7.0, 1e-4);
        /* 4 g range: 2048 -> 0.25 g; 500 dps range: 100 x 17.5 mdps = 1.75 */
        assert_int_equal(orphe_frame_to_samples(&rec.orphe, NULL, 4, 500, s, 1), 1);
        assert_float_equal(s[0].accel_g[2], 0.25, 1e-6);
        assert_float_equal(s[0].gyro_dps[0], 1.75, 1e-4);

        /* header 50: motion only */
        b[0] = ORPHE_HEADER_QUAT_GYRO_ACC;
        assert_int_equal(decoder_decode(decoder_find_characteristic(ORPHE_SENSOR_VALUES_UUID, NULL), NULL, b, sizeof(b), &rec), 0);
        assert_int_equal(orphe_frame_to_samples(&rec.orphe, l, 0, 0, s, ELEMENTSOF(s)), 0);
}

static void test_orphe_layout(void **state) {
        for (FootSide side = 0; side < _FOOT_SIDE_MAX; side++) {
                const InsoleLayout *l = orphe_default_layout(side);
                assert_non_null(l);
                assert_int_equal(l->side, side);
                assert_int_equal(l->n_cells, ORPHE_PRESSURE_CHANNELS);
                for (unsigned c = 0; c < l->n_cells; c++) {
                        assert_true(l->cells[c].x >= 0 && l->cells[c].x <= 1);
                        assert_true(l->cells[c].y >= 0 && l->cells[c].y <= 1);
                }
        }
        /* heel cells at the heel, a toe cell at the toes */
        assert_int_equal(foot_region_of(orphe_default_layout(FOOT_RIGHT)->cells[0].x), REGION_TOES);
        assert_int_equal(foot_region_of(orphe_default_layout(FOOT_RIGHT)->cells[4].x), REGION_HEEL);
        assert_null(orphe_default_layout(_FOOT_SIDE_INVALID));
}

static void test_control_encode(void **state) {
        uint8_t b[3];
        DecodedRecord rec;

        assert_int_equal(oip_control_command_encode(&(OipControlCommand) { OIP_CP_START, 200 }, b, sizeof(b)), 3);
        assert_memory_equal(b, ((uint8_t[]) { 0x01, 0xc8, 0x00 }), 3);
        assert_int_equal(decoder_decode(decoder_find_characteristic(OIP_CONTROL_POINT_UUID, NULL), NULL, b, 3, &rec), 0);
        assert_int_equal(rec.oip_control.rate_hz, 200);
        assert_int_equal(oip_control_command_encode(&(OipControlCommand) { OIP_CP_STOP }, b, sizeof(b)), 1);
        assert_int_equal(b[0], 0x02);
        assert_int_equal(oip_control_command_encode(&(OipControlCommand) { OIP_CP_START, 5 }, b, sizeof(b)), DECODE_ERR_IMPLAUSIBLE);
        assert_int_equal(oip_control_command_encode(&(OipControlCommand) { OIP_CP_START, 100 }, b, 2), DECODE_ERR_TOO_SHORT);
        assert_int_equal(oip_control_command_encode(&(OipControlCommand) { 7 }, b, sizeof(b)), DECODE_ERR_UNSUPPORTED);
}

static RscMeasurement rsc(float speed, uint8_t cadence, bool has_total, uint32_t total_dm) {
        return (RscMeasurement) {
                .speed_m_s = speed,
                .cadence_per_min = cadence,
                .has_total_distance = has_total,
                .total_distance_dm = total_dm,
                .total_distance_m = total_dm / 10.0,
        };
}

static void test_rsc_steps_from_cadence(void **state) {
        MotionAccumulator a;
        uint64_t t = 5 * USEC_PER_SEC;

        motion_accumulator_init(&a);
        /* 120 steps/min reported every second for a minute: 120 steps */
        for (int i = 0; i <= 60; i++, t += USEC_PER_SEC) {
                RscMeasurement m = rsc(1.5f, 120, false, 0);
                motion_accumulator_feed(&a, &m, t);
        }
        assert_int_equal(motion_accumulator_steps(&a), 120);
        /* 1.5 m/s for 60 s, no Total Distance: integrated */
        assert_float_equal(motion_accumulator_distance_m(&a), 90.0, 1e-6);

        /* a gap longer than MOTION_MAX_INTEGRATION_GAP_USEC is not integrated */
        t += 60 * USEC_PER_SEC;
        {
                RscMeasurement m = rsc(1.5f, 120, false, 0);
                motion_accumulator_feed(&a, &m, t);
        }
        assert_int_equal(motion_accumulator_steps(&a), 120);

        /* a cadence change holds from its report on: 60/min for 30 s = 30 */
        {
                RscMeasurement m = rsc(1.0f, 60, false, 0);
                motion_accumulator_feed(&a, &m, t + USEC_PER_SEC); /* 1 s at the old 120/min: 2 */
                for (uint64_t k = 2; k <= 31; k++)
                        motion_accumulator_feed(&a, &m, t + k * USEC_PER_SEC);
        }
        assert_int_equal(motion_accumulator_steps(&a), 120 + 2 + 30);

        /* link lost: the next measurement starts a new interval */
        motion_accumulator_link_lost(&a);
        {
                RscMeasurement m = rsc(1.0f, 60, false, 0);
                motion_accumulator_feed(&a, &m, t + 33 * USEC_PER_SEC);
        }
        assert_int_equal(motion_accumulator_steps(&a), 152);

        /* time going backwards is not integrated */
        {
                RscMeasurement m = rsc(1.0f, 60, false, 0);
                motion_accumulator_feed(&a, &m, t);
        }
        assert_int_equal(motion_accumulator_steps(&a), 152);
}

static void test_rsc_total_distance_reconciled(void **state) {
        MotionAccumulator a;
        RscMeasurement m;

        motion_accumulator_init(&a);
        m = rsc(3.0f, 170, true, 1000); /* 100.0 m: the baseline */
        motion_accumulator_feed(&a, &m, 1 * USEC_PER_SEC);
        assert_float_equal(motion_accumulator_distance_m(&a), 0, 0);
        m = rsc(3.0f, 170, true, 1500); /* +50 m; speed is not integrated on top */
        motion_accumulator_feed(&a, &m, 2 * USEC_PER_SEC);
        assert_float_equal(motion_accumulator_distance_m(&a), 50, 1e-9);

        /* out of range for ten minutes; the footpod kept counting to 300.0 m */
        motion_accumulator_link_lost(&a);
        m = rsc(3.0f, 170, true, 3000);
        motion_accumulator_feed(&a, &m, 602 * USEC_PER_SEC);
        assert_float_equal(motion_accumulator_distance_m(&a), 200, 1e-9);

        /* the footpod restarted its total: 20.0 m since */
        motion_accumulator_link_lost(&a);
        m = rsc(3.0f, 170, true, 200);
        motion_accumulator_feed(&a, &m, 700 * USEC_PER_SEC);
        assert_float_equal(motion_accumulator_distance_m(&a), 220, 1e-9);
        m = rsc(3.0f, 170, true, 205);
        motion_accumulator_feed(&a, &m, 701 * USEC_PER_SEC);
        assert_float_equal(motion_accumulator_distance_m(&a), 220.5, 1e-9);
}

/* Total Distance is a u32 of 1/10 m: across its wrap the distance goes on; a restored baseline
 * (our restart) counts what was walked meanwhile, once. */
static void test_rsc_total_distance_wrap_and_restore(void **state) {
        MotionAccumulator a, b;
        RscMeasurement m;
        uint32_t total;

        motion_accumulator_init(&a);
        m = rsc(3.0f, 170, true, UINT32_MAX - 29); /* 3.0 m before the wrap */
        motion_accumulator_feed(&a, &m, 1 * USEC_PER_SEC);
        m = rsc(3.0f, 170, true, 20);              /* 3.0 m before, 2.0 m after it */
        motion_accumulator_feed(&a, &m, 2 * USEC_PER_SEC);
        assert_float_equal(motion_accumulator_distance_m(&a), 5.0, 1e-9);
        assert_true(motion_accumulator_get_total(&a, &total));
        assert_int_equal(total, 20);

        /* far below the last total and no plausible wrap: a reset, its whole new total counts */
        m = rsc(3.0f, 170, true, UINT32_MAX / 2);
        motion_accumulator_feed(&a, &m, 3 * USEC_PER_SEC);
        m = rsc(3.0f, 170, true, 100);
        motion_accumulator_feed(&a, &m, 4 * USEC_PER_SEC);
        assert_float_equal(motion_accumulator_distance_m(&a), 5.0 + (UINT32_MAX / 2 - 20) / 10.0 + 10.0, 1e-6);

        /* a gateway restart: the saved total is the baseline */
        motion_accumulator_init(&b);
        assert_false(motion_accumulator_get_total(&b, &total));
        motion_accumulator_set_total(&b, 100);
        m = rsc(3.0f, 170, true, 350);
        motion_accumulator_feed(&b, &m, 50 * USEC_PER_SEC);
        assert_float_equal(motion_accumulator_distance_m(&b), 25.0, 1e-9);
}

/* ---- the neutral readings (decoder_read) -------------------------------------------------- */

typedef struct Readings {
        unsigned layouts, default_layouts, pressures, steps, batteries;
        InsoleLayout layout;
        PressureSample last[4];
        size_t n_last;
        bool clock_restarted;
        uint32_t lost, step_value, boot_id;
        uint8_t battery;
} Readings;

static void on_layout(void *userdata, const InsoleLayout *l, bool is_default) {
        Readings *r = userdata;
        r->layouts++;
        r->default_layouts += is_default;
        r->layout = *l;
}

static void on_pressure(void *userdata, const PressureReading *p) {
        Readings *r = userdata;
        r->pressures++;
        r->n_last = MIN(p->n_samples, ELEMENTSOF(r->last));
        memcpy(r->last, p->samples, r->n_last * sizeof(PressureSample));
        r->clock_restarted = p->clock_restarted;
        r->lost += p->lost_frames;
}

static void on_steps(void *userdata, uint32_t steps, uint32_t boot_id) {
        Readings *r = userdata;
        r->steps++;
        r->step_value = steps;
        r->boot_id = boot_id;
}

static void on_battery(void *userdata, uint8_t percent) {
        Readings *r = userdata;
        r->batteries++;
        r->battery = percent;
}

static const ReadingSink sink = {
        .layout = on_layout, .pressure = on_pressure, .step_counter = on_steps, .battery = on_battery,
};

static int read_hex(const char *uuid, const char *hex, DecoderState *st, DecoderStats *stats, Readings *r) {
        uint8_t buf[512];
        int n = test_hex(hex, buf, sizeof(buf));

        assert_true(n >= 0);
        return decoder_read(decoder_find_characteristic(uuid, NULL), st, stats, buf, (size_t) n, &sink, r);
}

#define UK_DATA "5691eddf-6002-4420-b7a5-bb8751ab5181"
#define UK_16(x) x x x x x x x x x x x x x x x x

static void test_ukaton_readings(void **state) {
        DecoderState st;
        DecoderStats stats = {};
        Readings r = {};

        decoder_state_reset(&st, FOOT_RIGHT);
        /* 12-bit readings at t = 65500 ms: the family's map of the right foot first, once */
        assert_int_equal(read_hex(UK_DATA, "dc ff 00 00 01 21 01" UK_16(" 00 01"), &st, &stats, &r), 0);
        assert_int_equal(r.default_layouts, 1);
        assert_int_equal(r.layout.side, FOOT_RIGHT);
        assert_int_equal(r.layout.n_cells, 16);
        assert_int_equal(r.layout.unit, PRESSURE_UNIT_RAW);
        /* hallux (sensor 0) towards the toe and medial; the heel sensors (14, 15) at the heel */
        assert_true(r.layout.cells[0].x > 0.8f && r.layout.cells[0].y < 0.5f);
        assert_true(r.layout.cells[14].x < 0.1f && r.layout.cells[15].x < 0.1f);
        assert_true(r.layout.cells[15].y > r.layout.cells[14].y); /* 18.55 mm from the lateral edge */
        for (unsigned i = 0; i < 16; i++)
                assert_true(r.layout.cells[i].x >= 0 && r.layout.cells[i].x <= 1 && r.layout.cells[i].y >= 0 &&
                            r.layout.cells[i].y <= 1);
        assert_int_equal(r.pressures, 1);
        assert_int_equal(r.n_last, 1);
        assert_int_equal(r.last[0].n_cells, 16);
        assert_true(r.last[0].cell[0] == 256.0f && r.last[0].cell[15] == 256.0f);
        assert_int_equal(r.last[0].t_us, 65500 * 1000ULL);

        /* the 16-bit millisecond clock wraps: 20 ms later is 65520 -> 4 */
        assert_int_equal(read_hex(UK_DATA, "04 00 00 00 01 11 00" UK_16(" 20"), &st, &stats, &r), 0);
        assert_int_equal(r.layouts, 1);
        assert_int_equal(r.last[0].t_us, (65536 + 4) * 1000ULL);
        assert_true(r.last[0].cell[3] == 0x20 << 4); /* 8-bit readings on the 12-bit scale */
        assert_false(r.clock_restarted);
        /* a small step back is a reboot: time stays monotonic */
        assert_int_equal(read_hex(UK_DATA, "02 00 00 00 01 11 00" UK_16(" 20"), &st, &stats, &r), 0);
        assert_true(r.clock_restarted);
        assert_true(r.last[0].t_us >= (65536 + 4) * 1000ULL);

        /* no pressure in it: nothing for the gait engine; malformed: counted, nothing emitted */
        assert_int_equal(read_hex(UK_DATA, "10 00 00 00 01 00", &st, &stats, &r), 0);
        assert_int_equal(r.pressures, 3);
        assert_int_equal(read_hex(UK_DATA, "10 00 05", &st, &stats, &r), DECODE_ERR_TOO_SHORT);
        assert_int_equal(r.pressures, 3);
        assert_int_equal(stats.decoded, 4);
        assert_int_equal(decoder_stats_rejected(&stats), 1);

        /* a new link: the assumed map again (the wearer ignores it while it holds one) */
        decoder_state_link_reset(&st);
        assert_int_equal(read_hex(UK_DATA, "20 00 00 00 01 21 01" UK_16(" 00 01"), &st, &stats, &r), 0);
        assert_int_equal(r.default_layouts, 2);

        /* the step counter (no boot id) and battery through the same sink */
        assert_int_equal(read_hex(UKATON_STEP_COUNT_UUID, "10 27 00 00", &st, &stats, &r), 0);
        assert_int_equal(r.step_value, 10000);
        assert_int_equal(r.boot_id, 0);
        assert_int_equal(read_hex(BATTERY_LEVEL_UUID, "57", &st, &stats, &r), 0);
        assert_int_equal(r.battery, 87);
}

/* OIP: raw cells (the wearer applies the layout), the layout as reported, loss from the sequence. */
static void test_oip_readings(void **state) {
        DecoderState st;
        Readings r = {};

        decoder_state_reset(&st, FOOT_LEFT);
        assert_int_equal(read_hex(OIP_SENSOR_LAYOUT_UUID, "01 00 01 01 00 00 00 40 00 00 80 3f 80 80 10 00", &st, NULL, &r), 0);
        assert_int_equal(r.layouts, 1);
        assert_int_equal(r.default_layouts, 0);
        assert_true(r.layout.scale == 2.0f);
        /* seq 5 then 7: one frame lost; 2 samples of 1 cell, 10 ms apart */
        assert_int_equal(read_hex(OIP_PRESSURE_FRAME_UUID, "01 00 05 00 e8 03 00 00 10 27 01 02 64 00 65 00", &st, NULL, &r), 0);
        assert_int_equal(read_hex(OIP_PRESSURE_FRAME_UUID, "01 00 07 00 08 52 00 00 10 27 01 02 66 00 67 00", &st, NULL, &r), 0);
        assert_int_equal(r.lost, 1);
        assert_int_equal(r.n_last, 2);
        assert_true(r.last[0].cell[0] == 102.0f); /* raw: scale 2 is the wearer's to apply */
        assert_int_equal(r.last[1].t_us - r.last[0].t_us, 10000);
        assert_int_equal(read_hex(OIP_STEP_COUNTER_UUID, "01 00 2a 00 00 00 07 00 00 00", &st, NULL, &r), 0);
        assert_int_equal(r.step_value, 42);
        assert_int_equal(r.boot_id, 7);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_oip_to_samples),
                cmocka_unit_test(test_ukaton_readings),
                cmocka_unit_test(test_oip_readings),
                cmocka_unit_test(test_orphe_to_samples),
                cmocka_unit_test(test_orphe_layout),
                cmocka_unit_test(test_control_encode),
                cmocka_unit_test(test_rsc_steps_from_cadence),
                cmocka_unit_test(test_rsc_total_distance_reconciled),
                cmocka_unit_test(test_rsc_total_distance_wrap_and_restore),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
