/* SPDX-License-Identifier: MIT */
/* libFuzzer harness for one decoder family (FUZZ_DECODER, e.g. "rsc"). The input is a sequence of
 * frames, each [selector u8][length u16 LE][bytes] (selector bits 0-6 pick the characteristic, bit 7
 * simulates a reconnect after the frame), decoded with one DecoderState so
 * that sequence and clock tracking are exercised too. Every decoded record goes through the JSON
 * writer and the gait-engine conversions, and a few invariants are checked (abort on violation). */

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "decoder-records.h"
#include "fuzz.h"

#ifndef FUZZ_DECODER
#error "define FUZZ_DECODER"
#endif

static void check(bool b) {
        if (!b)
                abort();
}

static void exercise(const DecodedRecord *rec, const InsoleLayout *layout, MotionAccumulator *acc, uint64_t t) {
        static char json_buf[32768];
        static PressureSample samples[OIP_MAX_SAMPLES];
        const char *json;
        JsonWriter w;
        int r;

        json_writer_init(&w, json_buf, sizeof(json_buf));
        decoded_record_to_json(rec, &w);
        check(json_writer_finish(&w, &json, NULL) == 0);

        switch (rec->kind) {
        case RECORD_OIP_PRESSURE_FRAME:
                check(rec->oip_frame.n_cells >= 1 && rec->oip_frame.n_cells <= OIP_MAX_CELLS);
                check(rec->oip_frame.n_samples >= 1 && rec->oip_frame.n_samples <= OIP_MAX_SAMPLES);
                r = oip_frame_to_samples(&rec->oip_frame, NULL, samples, ELEMENTSOF(samples));
                check(r == rec->oip_frame.n_samples);
                if (layout) {
                        r = oip_frame_to_samples(&rec->oip_frame, layout, samples, ELEMENTSOF(samples));
                        check(r == rec->oip_frame.n_samples || r == DECODE_ERR_BAD_LENGTH);
                }
                break;
        case RECORD_OIP_SENSOR_LAYOUT:
                check(rec->oip_layout.layout.n_cells >= 1 && rec->oip_layout.layout.n_cells <= OIP_MAX_CELLS);
                break;
        case RECORD_ORPHE_FRAME:
                check(rec->orphe.n_samples <= ORPHE_MAX_SAMPLES);
                r = orphe_frame_to_samples(&rec->orphe, orphe_default_layout(FOOT_LEFT), 0, 0, samples, ELEMENTSOF(samples));
                check(r >= 0 && r <= ORPHE_MAX_SAMPLES);
                break;
        case RECORD_DEVICE_INFO_STRING:
                check(rec->device_info.len <= DEVICE_INFO_STRING_MAX);
                check(strlen(rec->device_info.value) == rec->device_info.len);
                break;
        case RECORD_BATTERY_LEVEL:
                check(rec->battery.percent <= 100);
                break;
        case RECORD_RSC_MEASUREMENT:
                motion_accumulator_feed(acc, &rec->rsc_measurement, t);
                check(motion_accumulator_distance_m(acc) >= 0);
                break;
        default:
                break;
        }
}

/* The neutral readings every family hands the gateway (decoder_read()): bounded, finite. */
static void sink_layout(void *userdata, const InsoleLayout *l, bool is_default) {
        check(l->n_cells >= 1 && l->n_cells <= INSOLE_MAX_CELLS);
        check(l->side == FOOT_LEFT || l->side == FOOT_RIGHT);
}

static void sink_pressure(void *userdata, const PressureReading *p) {
        check(p->n_samples >= 1 && p->n_samples <= DECODER_MAX_SAMPLES);
        for (size_t i = 0; i < p->n_samples; i++) {
                check(p->samples[i].n_cells >= 1 && p->samples[i].n_cells <= INSOLE_MAX_CELLS);
                for (unsigned c = 0; c < p->samples[i].n_cells; c++)
                        check(isfinite(p->samples[i].cell[c]));
                if (i > 0)
                        check(p->samples[i].t_us >= p->samples[i - 1].t_us);
        }
}

static void sink_battery(void *userdata, uint8_t percent) {
        check(percent <= 100);
}

static void sink_motion(void *userdata, const MotionReading *m) {
        check(isfinite(m->speed_m_s) && m->speed_m_s >= 0);
}

static void sink_device_info(void *userdata, const DeviceInfoString *s) {
        check(s->len <= DEVICE_INFO_STRING_MAX && strlen(s->value) == s->len);
}

static const ReadingSink checking_sink = {
        .layout = sink_layout,
        .pressure = sink_pressure,
        .battery = sink_battery,
        .motion = sink_motion,
        .device_info = sink_device_info,
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static DecodedRecord rec;
        static InsoleLayout layout;
        bool have_layout = false;
        const Decoder *d = decoder_find_by_name(FUZZ_DECODER);
        DecoderState state = {}, read_state;
        DecoderStats stats = {};
        MotionAccumulator acc;
        uint64_t t = 0;

        check(d && d->n_characteristics > 0);
        motion_accumulator_init(&acc);
        decoder_state_reset(&read_state, FOOT_RIGHT);

        while (size >= 3) {
                uint8_t selector = data[0];
                const DecoderCharacteristic *c = &d->characteristics[(selector & 0x7f) % d->n_characteristics];
                size_t len = (size_t) data[1] | (size_t) data[2] << 8;
                int r;

                data += 3, size -= 3;
                if (len > size)
                        len = size;

                r = decoder_decode(c, &state, data, len, &rec);
                check(r == 0 || decode_result_is_error(r));
                decoder_stats_account(&stats, r, r >= 0 ? &rec : NULL);
                if (r >= 0) {
                        check(rec.kind == c->record);
                        exercise(&rec, have_layout ? &layout : NULL, &acc, t);
                        if (rec.kind == RECORD_OIP_SENSOR_LAYOUT) {
                                layout = rec.oip_layout.layout;
                                have_layout = true;
                        }
                }
                /* The gateway's path: the same bytes through the neutral readings. */
                check(decoder_read(c, &read_state, NULL, data, len, &checking_sink, NULL) == r);
                if (c->start_command) {
                        uint8_t cmd[20];
                        for (unsigned attempt = 0; attempt < 3; attempt++) {
                                int n = c->start_command((uint16_t) (len * 7), attempt, cmd, sizeof(cmd));
                                check(n == -ENODATA || n == -EINVAL || (n > 0 && (size_t) n <= sizeof(cmd)));
                        }
                }
                if (selector & 0x80) { /* a reconnect after this frame */
                        decoder_state_link_reset(&state);
                        decoder_state_link_reset(&read_state);
                }
                t += 1000 * (uint64_t) (len + 1);
                data += len, size -= len;
        }
        check(stats.decoded + decoder_stats_rejected(&stats) <= 0x10000);
        return 0;
}
