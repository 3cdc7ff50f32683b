/* SPDX-License-Identifier: MIT */
/* ORPHE INSOLE "Sensor Values" notifications, after the vendor's published sensor spec
 * (Orphe-OSS/ORPHE-INSOLE.js docs/SENSOR_SPEC.md): 104 bytes, big-endian, a header byte that selects
 * one of three sample layouts, a 16-bit serial that wraps at 65535, and the device's time of day. */

#include <string.h>

#include "bytes.h"
#include "decoders.h"
#include "macro.h"

#define ORPHE_PREAMBLE_SIZE 8
#define ORPHE_MS_PER_DAY (24u * 3600u * 1000u)
/* A notification covers 20 ms in the pressure modes (2 x 10 ms or 4 x 5 ms). */
#define ORPHE_FRAME_SPAN_MS 20

static int orphe_sensor_values_decode(DecoderState *state, const uint8_t *d, size_t len, DecodedRecord *ret) {
        OrpheFrame *f = &ret->orphe;
        size_t stride;
        uint8_t n;
        bool quat, pressure, dt;
        uint64_t t_ms;
        bool restarted;

        if (len < ORPHE_PREAMBLE_SIZE)
                return DECODE_ERR_TOO_SHORT;

        switch (d[0]) {
        case ORPHE_HEADER_QUAT_GYRO_ACC:
                n = 4, stride = 21, quat = true, pressure = false, dt = true;
                break;
        case ORPHE_HEADER_GYRO_ACC_PRESSURE:
                n = 4, stride = 24, quat = false, pressure = true, dt = false;
                break;
        case ORPHE_HEADER_FULL:
                n = 2, stride = 32, quat = true, pressure = true, dt = false;
                break;
        default:
                return DECODE_ERR_UNSUPPORTED;
        }
        /* Always 104 bytes, even when the samples use fewer; anything else is not this format. */
        if (len != ORPHE_FRAME_SIZE)
                return DECODE_ERR_BAD_LENGTH;
        if (d[3] > 23 || d[4] > 59 || d[5] > 59 || read_be16(d + 6) > 999)
                return DECODE_ERR_IMPLAUSIBLE;

        memset(f, 0, sizeof(*f));
        f->header = d[0];
        f->serial = read_be16(d + 1);
        f->hour = d[3];
        f->minute = d[4];
        f->second = d[5];
        f->millisecond = read_be16(d + 6);
        f->time_of_day_ms = ((f->hour * 60u + f->minute) * 60u + f->second) * 1000u + f->millisecond;
        f->n_samples = n;
        f->has_quat = quat;
        f->has_pressure = pressure;

        for (unsigned s = 0; s < n; s++) {
                const uint8_t *p = d + ORPHE_PREAMBLE_SIZE + s * stride;
                OrpheSample *o = &f->samples[s];

                if (quat) {
                        for (unsigned k = 0; k < 4; k++, p += 2)
                                o->quat[k] = read_be16s(p);
                }
                for (unsigned k = 0; k < 3; k++, p += 2)
                        o->gyro[k] = read_be16s(p);
                for (unsigned k = 0; k < 3; k++, p += 2)
                        o->accel[k] = read_be16s(p);
                if (pressure) {
                        for (unsigned k = 0; k < ORPHE_PRESSURE_CHANNELS; k++, p += 2)
                                o->pressure[k] = read_be16(p);
                }
                if (dt)
                        o->dt_ms = *p;
        }

        /* The clock is a time of day: it wraps at midnight, which we unwrap. */
        t_ms = decoder_sequence_update(state ? &state->sequence : NULL, f->serial, f->time_of_day_ms, ORPHE_MS_PER_DAY,
                                       ORPHE_FRAME_SPAN_MS, &f->lost_frames_before, &restarted);
        f->t_us = t_ms * USEC_PER_MSEC;
        return 0;
}

/* Assumed positions of P0..P5 (the vendor says the channel order may differ between models; we
 * found no public coordinates we could use). x heel->toe, y medial->lateral; docs/decoders.md. */
#define ORPHE_LAYOUT(s)                                                                  \
        {                                                                                \
                .side = s,                                                               \
                .n_cells = ORPHE_PRESSURE_CHANNELS,                                      \
                .unit = PRESSURE_UNIT_RAW,                                               \
                .scale = 1.0f,                                                           \
                .offset = 0.0f,                                                          \
                .cells = {                                                               \
                        { .x = 0.92f, .y = 0.25f }, /* P0 hallux */                      \
                        { .x = 0.72f, .y = 0.22f }, /* P1 first metatarsal head */       \
                        { .x = 0.68f, .y = 0.78f }, /* P2 fifth metatarsal head */       \
                        { .x = 0.45f, .y = 0.80f }, /* P3 lateral midfoot */             \
                        { .x = 0.12f, .y = 0.35f }, /* P4 medial heel */                 \
                        { .x = 0.12f, .y = 0.65f }, /* P5 lateral heel */                \
                },                                                                       \
        }

static const InsoleLayout orphe_layouts[_FOOT_SIDE_MAX] = {
        [FOOT_LEFT] = ORPHE_LAYOUT(FOOT_LEFT),
        [FOOT_RIGHT] = ORPHE_LAYOUT(FOOT_RIGHT),
};

const InsoleLayout *orphe_default_layout(FootSide side) {
        if (side < 0 || side >= _FOOT_SIDE_MAX)
                return NULL;
        return &orphe_layouts[side];
}

/* LSM6DSOX typical sensitivities in mdps/LSB for the 250/500/1000/2000 dps ranges. */
static float orphe_gyro_dps_per_lsb(unsigned range_dps) {
        switch (range_dps) {
        case 250:
                return 0.00875f;
        case 500:
                return 0.0175f;
        case 1000:
                return 0.035f;
        default:
                return 0.07f;
        }
}

int orphe_frame_to_samples(const OrpheFrame *f, const InsoleLayout *layout, unsigned accel_range_g,
                           unsigned gyro_range_dps, PressureSample *samples, size_t n) {
        float scale = layout ? layout->scale : 1.0f, offset = layout ? layout->offset : 0.0f;
        float g_per_lsb = (accel_range_g ?: 16) / 32768.0f, dps_per_lsb = orphe_gyro_dps_per_lsb(gyro_range_dps);
        uint64_t t = f->t_us;
        size_t m;

        if (layout && layout->n_cells != ORPHE_PRESSURE_CHANNELS)
                return DECODE_ERR_BAD_LENGTH;
        if (!f->has_pressure)
                return 0; /* header 50 carries motion only: nothing for the pressure pipeline */

        m = MIN(n, (size_t) f->n_samples);
        for (size_t s = 0; s < m; s++) {
                const OrpheSample *o = &f->samples[s];
                PressureSample *out = &samples[s];

                /* All samples of a notification carry one time stamp; we assume it is the first
                 * sample's and space the rest by the mode's rate. */
                out->t_us = t + s * (f->header == ORPHE_HEADER_FULL ? 10000 : 5000);
                out->n_cells = ORPHE_PRESSURE_CHANNELS;
                for (unsigned c = 0; c < ORPHE_PRESSURE_CHANNELS; c++)
                        out->cell[c] = o->pressure[c] * scale + offset;
                out->has_imu = true;
                for (unsigned k = 0; k < 3; k++) {
                        out->accel_g[k] = o->accel[k] * g_per_lsb;
                        out->gyro_dps[k] = o->gyro[k] * dps_per_lsb;
                }
        }
        return (int) m;
}

_Static_assert(ORPHE_MAX_SAMPLES <= DECODER_MAX_SAMPLES, "the neutral sample holds a frame");

static void orphe_frame_emit(const DecodedRecord *rec, DecoderState *state, const ReadingSink *sink, void *userdata) {
        PressureSample samples[ORPHE_MAX_SAMPLES];
        int n;

        if (!rec->orphe.has_pressure)
                return; /* header 50 carries motion only: nothing for the pressure pipeline */
        /* The insole reports no sensor map: ours for its foot, once per link. */
        if (!state->default_layout_sent && sink->layout && orphe_default_layout(state->side)) {
                sink->layout(userdata, orphe_default_layout(state->side), true);
                state->default_layout_sent = true;
        }
        if (!sink->pressure)
                return;
        n = orphe_frame_to_samples(&rec->orphe, NULL, 0, 0, samples, ELEMENTSOF(samples));
        if (n <= 0)
                return;
        sink->pressure(userdata, &(PressureReading) {
                .samples = samples,
                .n_samples = (size_t) n,
                .lost_frames = rec->orphe.lost_frames_before,
        });
}

static const DecoderCharacteristic orphe_characteristics[] = {
        {
                .uuid = ORPHE_SENSOR_VALUES_UUID,
                .name = "sensor_values",
                .role = DECODER_ROLE_STREAM,
                .required = true,
                .record = RECORD_ORPHE_FRAME,
                .decode = orphe_sensor_values_decode,
                .emit = orphe_frame_emit,
        },
};

const Decoder decoder_orphe = {
        .name = "orphe",
        .description = "ORPHE INSOLE sensor values (vendor-published format)",
        .service_uuid = ORPHE_OTHER_SERVICE_UUID,
        .characteristics = orphe_characteristics,
        .n_characteristics = ELEMENTSOF(orphe_characteristics),
        .pressure = true,
        .noun = "insole",
};
