/* SPDX-License-Identifier: MIT */
/* Bluetooth SIG Running Speed and Cadence (service 0x1814), by the SIG GATT definitions:
 * speed 1/256 m/s, cadence 1/min, stride length 1/100 m, total distance 1/10 m. */

#include "bytes.h"
#include "decoders.h"
#include "macro.h"

#define RSC_FLAG_STRIDE_LENGTH  0x01
#define RSC_FLAG_TOTAL_DISTANCE 0x02
#define RSC_FLAG_RUNNING        0x04
#define RSC_MEASUREMENT_MIN_SIZE 4
#define RSC_SENSOR_LOCATION_MAX 16

static int rsc_measurement_decode(DecoderState *state, const uint8_t *d, size_t len, DecodedRecord *ret) {
        RscMeasurement *m = &ret->rsc_measurement;
        size_t need = RSC_MEASUREMENT_MIN_SIZE, p = RSC_MEASUREMENT_MIN_SIZE;
        uint8_t flags;

        if (len < RSC_MEASUREMENT_MIN_SIZE)
                return DECODE_ERR_TOO_SHORT;

        /* Bits 3-7 are reserved and set by real footpods (Stryd: 0x80), and some append bytes:
         * ignore both, but insist on every field the defined bits announce. */
        flags = d[0];
        if (flags & RSC_FLAG_STRIDE_LENGTH)
                need += 2;
        if (flags & RSC_FLAG_TOTAL_DISTANCE)
                need += 4;
        if (len < need)
                return DECODE_ERR_TOO_SHORT;

        *m = (RscMeasurement) {
                .running = flags & RSC_FLAG_RUNNING,
                .speed_m_s = read_le16(d + 1) / 256.0f,
                .cadence_per_min = d[3],
        };
        if (flags & RSC_FLAG_STRIDE_LENGTH) {
                m->has_stride_length = true;
                m->stride_length_m = read_le16(d + p) / 100.0f;
                p += 2;
        }
        if (flags & RSC_FLAG_TOTAL_DISTANCE) {
                m->has_total_distance = true;
                m->total_distance_dm = read_le32(d + p);
                m->total_distance_m = m->total_distance_dm / 10.0;
        }
        return 0;
}

static int rsc_feature_decode(DecoderState *state, const uint8_t *d, size_t len, DecodedRecord *ret) {
        /* A 16-bit field; later revisions may append bytes, which we ignore. */
        if (len < 2)
                return DECODE_ERR_TOO_SHORT;
        ret->rsc_feature = (RscFeature) { .bits = read_le16(d) };
        return 0;
}

static int sensor_location_decode(DecoderState *state, const uint8_t *d, size_t len, DecodedRecord *ret) {
        if (len < 1)
                return DECODE_ERR_TOO_SHORT;
        if (len > 1)
                return DECODE_ERR_BAD_LENGTH;
        if (d[0] > RSC_SENSOR_LOCATION_MAX)
                return DECODE_ERR_IMPLAUSIBLE;
        ret->sensor_location = (SensorLocation) { .location = d[0] };
        return 0;
}

static const char *const sensor_location_table[RSC_SENSOR_LOCATION_MAX + 1] = {
        "other", "top_of_shoe", "in_shoe", "hip", "front_wheel", "left_crank", "right_crank",
        "left_pedal", "right_pedal", "front_hub", "rear_dropout", "chainstay", "rear_wheel",
        "rear_hub", "chest", "spider", "chain_ring",
};

const char *sensor_location_to_string(uint8_t location) {
        if (location > RSC_SENSOR_LOCATION_MAX)
                return NULL;
        return sensor_location_table[location];
}

static void rsc_measurement_emit(const DecodedRecord *rec, DecoderState *state, const ReadingSink *sink, void *userdata) {
        if (sink->motion)
                sink->motion(userdata, &rec->rsc_measurement);
}

static const DecoderCharacteristic rsc_characteristics[] = {
        {
                .uuid = RSC_MEASUREMENT_UUID,
                .name = "rsc_measurement",
                .role = DECODER_ROLE_STREAM,
                .required = true,
                .record = RECORD_RSC_MEASUREMENT,
                .decode = rsc_measurement_decode,
                .emit = rsc_measurement_emit,
        },
        {
                .uuid = RSC_FEATURE_UUID,
                .name = "rsc_feature",
                .role = DECODER_ROLE_STATIC,
                .record = RECORD_RSC_FEATURE,
                .decode = rsc_feature_decode,
        },
        {
                .uuid = RSC_SENSOR_LOCATION_UUID,
                .name = "sensor_location",
                .role = DECODER_ROLE_STATIC,
                .record = RECORD_SENSOR_LOCATION,
                .decode = sensor_location_decode,
        },
};

const Decoder decoder_rsc = {
        .name = "rsc",
        .description = "Bluetooth SIG Running Speed and Cadence (footpods)",
        .service_uuid = RSC_SERVICE_UUID,
        .noun = "footpod (RSC)",
        .characteristics = rsc_characteristics,
        .n_characteristics = ELEMENTSOF(rsc_characteristics),
};

/* ---- accumulation ---- */

void motion_accumulator_init(MotionAccumulator *a) {
        *a = (MotionAccumulator) {};
}

void motion_accumulator_feed(MotionAccumulator *a, const RscMeasurement *m, uint64_t time_us) {
        bool integrate = a->have_last && time_us > a->last_time_us &&
                         time_us - a->last_time_us <= MOTION_MAX_INTEGRATION_GAP_USEC;

        if (integrate) {
                /* The sensor's instantaneous values hold until the next report. */
                double dt_s = (double) (time_us - a->last_time_us) / USEC_PER_SEC;
                a->steps += a->last_cadence_per_min * dt_s / 60.0;
                if (!m->has_total_distance && !a->have_total)
                        a->distance_m += a->last_speed_m_s * dt_s;
        }

        if (m->has_total_distance) {
                if (a->have_total) {
                        uint32_t forward = m->total_distance_dm - a->last_total_dm; /* modulo 2^32 */

                        if (m->total_distance_dm >= a->last_total_dm)
                                /* Includes what was walked while out of range. */
                                a->distance_m += forward / 10.0;
                        else if (forward <= MOTION_TOTAL_WRAP_MAX_DM)
                                /* The u32 wrapped. */
                                a->distance_m += forward / 10.0;
                        else
                                /* The footpod restarted its total (reboot, reset by app). */
                                a->distance_m += m->total_distance_dm / 10.0;
                }
                a->have_total = true;
                a->last_total_dm = m->total_distance_dm;
        }

        a->have_last = true;
        a->last_time_us = time_us;
        a->last_cadence_per_min = m->cadence_per_min;
        a->last_speed_m_s = m->speed_m_s;
}

void motion_accumulator_link_lost(MotionAccumulator *a) {
        a->have_last = false;
}

uint64_t motion_accumulator_steps(const MotionAccumulator *a) {
        return (uint64_t) (a->steps + 1e-6);
}

double motion_accumulator_distance_m(const MotionAccumulator *a) {
        return a->distance_m;
}

bool motion_accumulator_get_total(const MotionAccumulator *a, uint32_t *ret_total_dm) {
        if (!a->have_total)
                return false;
        *ret_total_dm = a->last_total_dm;
        return true;
}

void motion_accumulator_set_total(MotionAccumulator *a, uint32_t total_dm) {
        a->have_total = true;
        a->last_total_dm = total_dm;
}
