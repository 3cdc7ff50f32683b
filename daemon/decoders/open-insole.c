/* SPDX-License-Identifier: MIT */
/* The Open Insole Profile, version 1 (docs/open-insole-profile.md, daemon/decoders/open-insole-profile.h). */

#include <errno.h>
#include <math.h>

#include "bytes.h"
#include "decoders.h"
#include "macro.h"

#define OIP_MIN_RATE_HZ 10
#define OIP_MAX_RATE_HZ 400

_hot_aligned_ static int oip_pressure_frame_decode(DecoderState *state, const uint8_t *d, size_t len, DecodedRecord *ret) {
        OipPressureFrame *f = &ret->oip_frame;
        uint8_t flags, n_cells, n_samples;
        uint16_t period;
        size_t sample_size, p;
        bool imu;

        if (len < 1)
                return DECODE_ERR_TOO_SHORT;
        /* The version decides the layout, so it is checked before any length. */
        if (d[0] != OIP_VERSION)
                return DECODE_ERR_UNSUPPORTED;
        if (len < OIP_FRAME_HEADER_SIZE)
                return DECODE_ERR_TOO_SHORT;

        flags = d[1];
        period = read_le16(d + 8);
        n_cells = d[10];
        n_samples = d[11];
        if (n_cells < 1 || n_cells > OIP_MAX_CELLS || n_samples < 1 || n_samples > OIP_MAX_SAMPLES ||
            period < OIP_MIN_SAMPLE_PERIOD_US)
                /* No upper check: OIP_MAX_SAMPLE_PERIOD_US is the largest value the u16 field
                 * holds, so any period >= 1000 that fits is valid. */
                return DECODE_ERR_IMPLAUSIBLE;

        imu = flags & OIP_FLAG_IMU;
        sample_size = 2 * (size_t) n_cells + (imu ? OIP_IMU_SIZE : 0);
        if (len != OIP_FRAME_HEADER_SIZE + n_samples * sample_size)
                return DECODE_ERR_BAD_LENGTH;

        f->version = d[0];
        f->flags = flags;
        f->seq = read_le16(d + 2);
        f->t0_raw_us = read_le32(d + 4);
        f->sample_period_us = period;
        f->n_cells = n_cells;
        f->n_samples = n_samples;
        f->has_imu = imu;

        p = OIP_FRAME_HEADER_SIZE;
        for (unsigned s = 0; s < n_samples; s++) {
                for (unsigned c = 0; c < n_cells; c++, p += 2)
                        f->cells[s][c] = read_le16(d + p);
                if (imu) {
                        for (unsigned k = 0; k < 3; k++, p += 2)
                                f->imu[s].accel_mg[k] = read_le16s(d + p);
                        for (unsigned k = 0; k < 3; k++, p += 2)
                                f->imu[s].gyro_ddps[k] = read_le16s(d + p);
                }
        }

        /* State last: a rejected frame must not move the sequence. */
        f->t0_us = decoder_sequence_update(state ? &state->sequence : NULL, f->seq, f->t0_raw_us,
                                           UINT64_C(1) << 32, (uint64_t) n_samples * period,
                                           &f->lost_frames_before, &f->clock_restarted);
        return 0;
}

static int oip_sensor_layout_decode(DecoderState *state, const uint8_t *d, size_t len, DecodedRecord *ret) {
        OipSensorLayout *l = &ret->oip_layout;
        uint8_t side, n_cells, unit;
        float scale, offset;

        if (len < 1)
                return DECODE_ERR_TOO_SHORT;
        if (d[0] != OIP_VERSION)
                return DECODE_ERR_UNSUPPORTED;
        if (len < OIP_LAYOUT_HEADER_SIZE)
                return DECODE_ERR_TOO_SHORT;

        side = d[1];
        n_cells = d[2];
        unit = d[3];
        scale = read_lef32(d + 4);
        offset = read_lef32(d + 8);
        if (side > 1 || n_cells < 1 || n_cells > OIP_MAX_CELLS || unit >= _PRESSURE_UNIT_MAX ||
            !isfinite(scale) || scale == 0.0f || !isfinite(offset))
                return DECODE_ERR_IMPLAUSIBLE;
        if (len != OIP_LAYOUT_HEADER_SIZE + (size_t) n_cells * OIP_LAYOUT_CELL_SIZE)
                return DECODE_ERR_BAD_LENGTH;

        *l = (OipSensorLayout) {
                .version = d[0],
                .layout = {
                        .side = side == 0 ? FOOT_LEFT : FOOT_RIGHT,
                        .n_cells = n_cells,
                        .unit = (PressureUnit) unit,
                        .scale = scale,
                        .offset = offset,
                },
        };
        for (unsigned c = 0; c < n_cells; c++) {
                const uint8_t *q = d + OIP_LAYOUT_HEADER_SIZE + c * OIP_LAYOUT_CELL_SIZE;
                l->layout.cells[c] = (InsoleCell) {
                        .x = q[0] / 255.0f,
                        .y = q[1] / 255.0f,
                        .area_mm2 = read_le16(q + 2),
                };
        }
        return 0;
}

static int oip_step_counter_decode(DecoderState *state, const uint8_t *d, size_t len, DecodedRecord *ret) {
        if (len < 1)
                return DECODE_ERR_TOO_SHORT;
        if (d[0] != OIP_VERSION)
                return DECODE_ERR_UNSUPPORTED;
        if (len < OIP_STEP_COUNTER_SIZE)
                return DECODE_ERR_TOO_SHORT;
        if (len > OIP_STEP_COUNTER_SIZE)
                return DECODE_ERR_BAD_LENGTH;
        ret->oip_steps = (OipStepCounter) {
                .version = d[0],
                .flags = d[1],
                .steps = read_le32(d + 2),
                .boot_id = read_le32(d + 6),
        };
        return 0;
}

static int oip_control_point_decode(DecoderState *state, const uint8_t *d, size_t len, DecodedRecord *ret) {
        if (len < 1)
                return DECODE_ERR_TOO_SHORT;
        switch (d[0]) {
        case OIP_CP_START: {
                uint16_t rate;
                if (len < 3)
                        return DECODE_ERR_TOO_SHORT;
                if (len > 3)
                        return DECODE_ERR_BAD_LENGTH;
                rate = read_le16(d + 1);
                if (rate != OIP_RATE_PREFERRED && (rate < OIP_MIN_RATE_HZ || rate > OIP_MAX_RATE_HZ))
                        return DECODE_ERR_IMPLAUSIBLE;
                ret->oip_control = (OipControlCommand) { .opcode = OIP_CP_START, .rate_hz = rate };
                return 0;
        }
        case OIP_CP_STOP:
                if (len > 1)
                        return DECODE_ERR_BAD_LENGTH;
                ret->oip_control = (OipControlCommand) { .opcode = OIP_CP_STOP };
                return 0;
        default:
                return DECODE_ERR_UNSUPPORTED;
        }
}

int oip_control_command_encode(const OipControlCommand *c, uint8_t *buf, size_t size) {
        switch (c->opcode) {
        case OIP_CP_START:
                if (c->rate_hz != OIP_RATE_PREFERRED && (c->rate_hz < OIP_MIN_RATE_HZ || c->rate_hz > OIP_MAX_RATE_HZ))
                        return DECODE_ERR_IMPLAUSIBLE;
                if (size < 3)
                        return DECODE_ERR_TOO_SHORT;
                buf[0] = OIP_CP_START;
                write_le16(buf + 1, c->rate_hz);
                return 3;
        case OIP_CP_STOP:
                if (size < 1)
                        return DECODE_ERR_TOO_SHORT;
                buf[0] = OIP_CP_STOP;
                return 1;
        default:
                return DECODE_ERR_UNSUPPORTED;
        }
}

_hot_aligned_ int oip_frame_to_samples(const OipPressureFrame *f, const InsoleLayout *layout, PressureSample *samples,
                                       size_t n) {
        float scale = layout ? layout->scale : 1.0f, offset = layout ? layout->offset : 0.0f;
        size_t m;

        if (layout && layout->n_cells != f->n_cells)
                return DECODE_ERR_BAD_LENGTH;

        m = MIN(n, (size_t) f->n_samples);
        for (size_t s = 0; s < m; s++) {
                PressureSample *out = &samples[s];

                out->t_us = f->t0_us + (uint64_t) s * f->sample_period_us;
                out->n_cells = f->n_cells;
                for (unsigned c = 0; c < f->n_cells; c++)
                        out->cell[c] = f->cells[s][c] * scale + offset;
                out->has_imu = f->has_imu;
                for (unsigned k = 0; k < 3; k++) {
                        out->accel_g[k] = f->has_imu ? f->imu[s].accel_mg[k] / 1000.0f : 0.0f;
                        out->gyro_dps[k] = f->has_imu ? f->imu[s].gyro_ddps[k] / 10.0f : 0.0f;
                }
        }
        return (int) m;
}

_Static_assert(OIP_MAX_SAMPLES <= DECODER_MAX_SAMPLES, "the neutral sample holds a frame");
_Static_assert(OIP_MAX_CELLS <= INSOLE_MAX_CELLS, "the neutral sample holds a frame");

static void oip_frame_emit(const DecodedRecord *rec, DecoderState *state, const ReadingSink *sink, void *userdata) {
        PressureSample samples[DECODER_MAX_SAMPLES];
        int n;

        if (!sink->pressure)
                return;
        /* Raw values: the wearer applies the layout it holds (the insole's, read once). */
        n = oip_frame_to_samples(&rec->oip_frame, NULL, samples, ELEMENTSOF(samples));
        if (n <= 0)
                return;
        sink->pressure(userdata, &(PressureReading) {
                .samples = samples,
                .n_samples = (size_t) n,
                .lost_frames = rec->oip_frame.lost_frames_before,
                .clock_restarted = rec->oip_frame.clock_restarted,
        });
}

static void oip_layout_emit(const DecodedRecord *rec, DecoderState *state, const ReadingSink *sink, void *userdata) {
        if (sink->layout)
                sink->layout(userdata, &rec->oip_layout.layout, false);
}

static void oip_steps_emit(const DecodedRecord *rec, DecoderState *state, const ReadingSink *sink, void *userdata) {
        if (sink->step_counter)
                sink->step_counter(userdata, rec->oip_steps.steps, rec->oip_steps.boot_id);
}

/* START at the wearer's rate, or at the insole's own (rate 0). An insole that predates "its own
 * rate" refuses rate 0 (ATT error 0x81): the second attempt asks for the rate every insole knows. */
static int oip_start_command(uint16_t rate_hz, unsigned attempt, uint8_t *buf, size_t size) {
        OipControlCommand c = { .opcode = OIP_CP_START, .rate_hz = rate_hz };
        int n;

        if (attempt > 1 || (attempt == 1 && rate_hz != OIP_RATE_PREFERRED))
                return -ENODATA;
        if (attempt == 1)
                c.rate_hz = OIP_LEGACY_RATE_HZ;
        n = oip_control_command_encode(&c, buf, size);
        return n < 0 ? -EINVAL : n;
}

static const DecoderCharacteristic open_insole_characteristics[] = {
        {
                .uuid = OIP_PRESSURE_FRAME_UUID,
                .name = "pressure_frame",
                .role = DECODER_ROLE_STREAM,
                .required = true,
                .record = RECORD_OIP_PRESSURE_FRAME,
                .decode = oip_pressure_frame_decode,
                .emit = oip_frame_emit,
        },
        {
                .uuid = OIP_SENSOR_LAYOUT_UUID,
                .name = "sensor_layout",
                .role = DECODER_ROLE_STATIC,
                .required = true,
                .record = RECORD_OIP_SENSOR_LAYOUT,
                .decode = oip_sensor_layout_decode,
                .emit = oip_layout_emit,
        },
        {
                .uuid = OIP_STEP_COUNTER_UUID,
                .name = "step_counter",
                .role = DECODER_ROLE_COUNTER,
                .record = RECORD_OIP_STEP_COUNTER,
                .decode = oip_step_counter_decode,
                .emit = oip_steps_emit,
        },
        {
                .uuid = OIP_CONTROL_POINT_UUID,
                .name = "control_point",
                .role = DECODER_ROLE_CONTROL,
                .record = RECORD_OIP_CONTROL_COMMAND,
                .decode = oip_control_point_decode,
                .start_command = oip_start_command,
        },
};

const Decoder decoder_open_insole = {
        .name = "open_insole",
        .description = "Open Insole Profile v1 (docs/open-insole-profile.md)",
        .service_uuid = OIP_SERVICE_UUID,
        .characteristics = open_insole_characteristics,
        .n_characteristics = ELEMENTSOF(open_insole_characteristics),
        .pressure = true,
        .noun = "Open Insole Profile",
};
