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

/* A Ukaton Mission insole: silent until the gateway's start command configures its sensor data,
 * then 16 12-bit readings per notification, decoded and turned into readings by the gateway's
 * family file. */
static void test_ukaton(void **state) {
        Harness h;
        const char *args[] = { "-c", "wearer w mode=walking cadence=110", "-c", "ukaton w right 11:22:33:44:55:88", NULL };
        const char *dev = "/org/bluez/hci0/dev_11_22_33_44_55_88";
        const char *steps = "/org/bluez/hci0/dev_11_22_33_44_55_88/service000a/char000b";
        const char *config = "/org/bluez/hci0/dev_11_22_33_44_55_88/service000a/char000e";
        const char *data = "/org/bluez/hci0/dev_11_22_33_44_55_88/service000a/char0010";
        const DecoderCharacteristic *cfg = find("5691eddf-6001-4420-b7a5-bb8751ab5181");
        const DecoderCharacteristic *sensor = find("5691eddf-6002-4420-b7a5-bb8751ab5181");
        uint8_t buf[600], start[20];
        size_t len = sizeof(buf);
        DecodedRecord rec;
        char err[256];
        int n, fd;

        harness_start(&h, args);
        ok(&h, "/org/bluez/hci0", ADAPTER, "StartDiscovery");
        assert_true(wait_exists(&h, dev, DEV, true, 2000));
        ok(&h, dev, DEV, "Connect");
        read_value(&h, steps, buf, &len);
        assert_int_equal(decoder_decode(find("5691eddf-c002-4420-b7a5-bb8751ab5181"), NULL, buf, len, &rec), 0);

        fd = acquire(&h, data, NULL);
        assert_int_equal(recv_one(fd, buf, sizeof(buf), 300), 0); /* not configured: nothing */
        n = cfg->start_command(0, 0, start, sizeof(start));
        assert_int_equal(n, 5);
        assert_true(call(&h, config, CHR, "WriteValue", err, NULL, "aya{sv}", 5, start[0], start[1], start[2], start[3],
                         start[4], 0) >= 0);
        len = sizeof(buf);
        read_value(&h, config, buf, &len);
        assert_int_equal(decoder_decode(cfg, NULL, buf, len, &rec), 0); /* it kept what we wrote */

        DecoderState st;
        double max_reading = 0;
        uint64_t last_t = 0;
        decoder_state_reset(&st, FOOT_RIGHT);
        for (int i = 0; i < 100; i++) { /* 2 s at 50 Hz: a stride or two */
                len = recv_one(fd, buf, sizeof(buf), 1000);
                assert_int_equal(decoder_decode(sensor, &st, buf, len, &rec), 0);
                /* the family's record is its own: read it in its JSON form */
                char json[1024];
                const char *out;
                JsonWriter w;
                json_writer_init(&w, json, sizeof(json));
                decoded_record_to_json(&rec, &w);
                assert_int_equal(json_writer_finish(&w, &out, NULL), 0);
                assert_non_null(strstr(out, "\"pressure_bits\":12"));
                /* 20 ms apart on the device's clock */
                uint64_t t = strtoull(strstr(out, "\"t_us\":") + 7, NULL, 10);
                if (i > 0)
                        assert_int_equal(t - last_t, 20000);
                last_t = t;
                const char *p = strstr(out, "\"pressure\":[") + 12;
                for (int k = 0; k < 16; k++) {
                        max_reading = MAX(max_reading, strtod(p, (char **) &p));
                        p++;
                }
        }
        assert_true(max_reading > 200); /* walking: hundreds of newtons on some sensor, x4 counts */
        close(fd);
        harness_stop(&h);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_open_insole),
                cmocka_unit_test(test_footpod_and_orphe),
                cmocka_unit_test(test_ukaton),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
