/* SPDX-License-Identifier: MIT */
/* Cross-check: what insole-sim sends, through BlueZ's D-Bus API, decoded by the gateway's decoders
 * (written independently from the simulator's encoders, both from the published layouts). */

#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "decoder-records.h"
#include "macro.h"
#include "sim-harness.h"

static const DecoderCharacteristic *find(const char *uuid) {
        const DecoderCharacteristic *c = decoder_find_characteristic(uuid, NULL);
        assert_non_null(c);
        return c;
}

static size_t recv_one(int fd, uint8_t *buf, size_t size, unsigned timeout_ms) {
        struct pollfd p = { .fd = fd, .events = POLLIN };
        if (poll(&p, 1, (int) timeout_ms) != 1)
                return 0;
        ssize_t n = recv(fd, buf, size, MSG_DONTWAIT);
        return n > 0 ? (size_t) n : 0;
}

static void test_open_insole(void **state) {
        Harness h;
        const char *args[] = { "-w", "anna:AA:BB:CC:DD:EE:01,AA:BB:CC:DD:EE:02:walking", NULL };
        harness_start(&h, args);
        connect_l1(&h);

        uint8_t buf[600];
        size_t len = sizeof(buf);
        DecodedRecord rec;
        read_value(&h, LAYOUT_PATH, buf, &len);
        assert_int_equal(decoder_decode(find(OIP_SENSOR_LAYOUT_UUID), NULL, buf, len, &rec), 0);
        assert_int_equal(rec.kind, RECORD_OIP_SENSOR_LAYOUT);
        InsoleLayout layout = rec.oip_layout.layout;
        assert_int_equal(layout.n_cells, 8);
        assert_int_equal(layout.unit, PRESSURE_UNIT_NEWTON);
        assert_float_equal(layout.scale, 0.1, 1e-6);
        assert_float_equal(layout.cells[0].x, 0.10, 0.01);
        assert_float_equal(layout.cells[7].x, 0.92, 0.01);

        len = sizeof(buf);
        read_value(&h, STEPS_PATH, buf, &len);
        assert_int_equal(decoder_decode(find(OIP_STEP_COUNTER_UUID), NULL, buf, len, &rec), 0);
        assert_int_equal(rec.kind, RECORD_OIP_STEP_COUNTER);
        assert_true(rec.oip_steps.boot_id != 0);

        len = sizeof(buf);
        read_value(&h, L1_PATH "/service0020/char0021", buf, &len);
        assert_int_equal(decoder_decode(find(BATTERY_LEVEL_UUID), NULL, buf, len, &rec), 0);
        assert_int_equal(rec.battery.percent, stat_u64(&h, L1, "battery"));

        /* a stream of frames, with a gap of 2 that the decoder must count */
        int fd = acquire(&h, FRAME_PATH, NULL);
        const DecoderCharacteristic *frame = find(OIP_PRESSURE_FRAME_UUID);
        DecoderState st = {};
        double max_total = 0;
        uint64_t last_t = 0, lost = 0;
        unsigned decoded = 0, rejected = 0;
        for (int i = 0; i < 60; i++) {
                if (i == 20)
                        action(&h, "lose " L1 " 2");
                if (i == 40)
                        action(&h, "malformed " L1 " 1 length");
                len = recv_one(fd, buf, sizeof(buf), 1000);
                assert_true(len > 0);
                int r = decoder_decode(frame, &st, buf, len, &rec);
                if (r != 0) {
                        assert_true(decode_result_is_error(r));
                        rejected++;
                        continue;
                }
                decoded++;
                lost += rec.oip_frame.lost_frames_before;
                PressureSample s[OIP_MAX_SAMPLES];
                int n = oip_frame_to_samples(&rec.oip_frame, &layout, s, ELEMENTSOF(s));
                assert_int_equal(n, 4);
                for (int k = 0; k < n; k++) {
                        double total = 0;
                        for (int c = 0; c < s[k].n_cells; c++)
                                total += s[k].cell[c];
                        max_total = MAX(max_total, total);
                        if (last_t > 0)
                                assert_true(s[k].t_us > last_t);
                        last_t = s[k].t_us;
                }
        }
        assert_int_equal(rejected, 1);
        /* the two lost frames, and the malformed one once the decoder sees the next sequence */
        assert_int_equal(lost, 3);
        assert_true(decoded >= 58);
        assert_true(max_total > 70 * 9.81 && max_total < 1.4 * 70 * 9.81);
        close(fd);
        harness_stop(&h);
}

static void test_footpod_and_orphe(void **state) {
        Harness h;
        const char *args[] = { "-c", "wearer w mode=running cadence=170 speed=3.5", "-c", "footpod w 11:22:33:44:55:66", "-c",
                               "orphe w left 11:22:33:44:55:77", NULL };
        harness_start(&h, args);
        ok(&h, "/org/bluez/hci0", ADAPTER, "StartDiscovery");
        assert_true(wait_exists(&h, "/org/bluez/hci0/dev_11_22_33_44_55_66", DEV, true, 2000));
        assert_true(wait_exists(&h, "/org/bluez/hci0/dev_11_22_33_44_55_77", DEV, true, 2000));
        ok(&h, "/org/bluez/hci0/dev_11_22_33_44_55_66", DEV, "Connect");
        ok(&h, "/org/bluez/hci0/dev_11_22_33_44_55_77", DEV, "Connect");

        uint8_t buf[600];
        size_t len = sizeof(buf);
        DecodedRecord rec;
        read_value(&h, "/org/bluez/hci0/dev_11_22_33_44_55_66/service000a/char000e", buf, &len);
        assert_int_equal(decoder_decode(find(RSC_FEATURE_UUID), NULL, buf, len, &rec), 0);
        assert_int_equal(rec.rsc_feature.bits, 0x0007);
        len = sizeof(buf);
        read_value(&h, "/org/bluez/hci0/dev_11_22_33_44_55_66/service000a/char0010", buf, &len);
        assert_int_equal(decoder_decode(find(RSC_SENSOR_LOCATION_UUID), NULL, buf, len, &rec), 0);
        assert_int_equal(rec.sensor_location.location, 2);

        int fd = acquire(&h, "/org/bluez/hci0/dev_11_22_33_44_55_66/service000a/char000b", NULL);
        len = recv_one(fd, buf, sizeof(buf), 2500);
        assert_int_equal(decoder_decode(find(RSC_MEASUREMENT_UUID), NULL, buf, len, &rec), 0);
        assert_true(rec.rsc_measurement.running);
        assert_float_equal(rec.rsc_measurement.speed_m_s, 3.5, 0.01);
        assert_int_equal(rec.rsc_measurement.cadence_per_min, 170);
        assert_true(rec.rsc_measurement.has_stride_length && rec.rsc_measurement.has_total_distance);
        assert_float_equal(rec.rsc_measurement.stride_length_m, 3.5 / (170 / 120.0), 0.01);
        close(fd);

        fd = acquire(&h, "/org/bluez/hci0/dev_11_22_33_44_55_77/service000d/char000e", NULL);
        const DecoderCharacteristic *values = find(ORPHE_SENSOR_VALUES_UUID);
        DecoderState st = {};
        double max_pressure = 0;
        for (int i = 0; i < 30; i++) {
                len = recv_one(fd, buf, sizeof(buf), 1000);
                assert_int_equal(decoder_decode(values, &st, buf, len, &rec), 0);
                assert_int_equal(rec.orphe.header, ORPHE_HEADER_FULL);
                assert_int_equal(rec.orphe.n_samples, 2);
                if (i > 0)
                        assert_int_equal(rec.orphe.lost_frames_before, 0);
                PressureSample s[ORPHE_MAX_SAMPLES];
                int n = orphe_frame_to_samples(&rec.orphe, orphe_default_layout(FOOT_LEFT), 16, 2000, s, ELEMENTSOF(s));
                assert_int_equal(n, 2);
                assert_float_equal(s[0].accel_g[2], 1.0, 0.01);
                for (int k = 0; k < n; k++)
                        for (int c = 0; c < s[k].n_cells; c++)
                                max_pressure = MAX(max_pressure, (double) s[k].cell[c]);
        }
        assert_true(max_pressure > 100); /* running: hundreds of newtons on a cell, x5 counts */
        close(fd);
        harness_stop(&h);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_open_insole),
                cmocka_unit_test(test_footpod_and_orphe),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
