/* SPDX-License-Identifier: MIT */
/* Ukaton Mission sensor data (zakaton/ukaton-mission-firmware, src/ble/sensor/, src/sensor/; the
 * scalars of its Python SDK's parsers): the insole's 16 pressure sensors, optionally its centre of
 * mass, mass, heel-to-toe and IMU. docs/decoders.md describes the format.
 *
 * Sensor data (notify), 5691eddf-6002-...:
 *   0  u16  time_ms             the device's millis() at the reading, truncated (wraps every 65.5 s)
 *   2  blocks until the end: u8 sensor_type (0 motion, 1 pressure), u8 size, size bytes of
 *      entries: u8 data_type, then its fixed-size value (little-endian):
 *        pressure 0 single byte   16 x u8   (the 12-bit reading >> 4)
 *                 1 double byte   16 x u16  (12-bit ADC reading, 0..4095)
 *                 2 centre of mass 2 x f32  (0..1 across, 0..1 heel to toe)
 *                 3 mass          u32       (sum of the 16 readings)
 *                 4 heel to toe   f64
 *        motion   0 acceleration, 1 gravity, 2 linear acceleration: 3 x i16, m/s^2 x 2^-8
 *                 3 rotation rate 3 x i16, x 2^-9 (the BNO080's rad/s)
 *                 4 magnetometer  3 x i16, x 2^-4
 *                 5 quaternion    4 x i16, x 2^-14
 *
 * Sensor data configuration (read, write), 5691eddf-6001-...: blocks of u8 sensor_type, u8 size,
 * then size / 3 entries of u8 data_type, u16 delay_ms (a multiple of 10; 0 = off). The insole sends
 * nothing until it is configured: the start command asks for the 12-bit pressure readings. */

#include <errno.h>
#include <math.h>

#include "bytes.h"
#include "decoders.h"
#include "macro.h"

#define UKATON_SENSOR_CONFIG_UUID "5691eddf-6001-4420-b7a5-bb8751ab5181"
#define UKATON_SENSOR_DATA_UUID   "5691eddf-6002-4420-b7a5-bb8751ab5181"

#define UKATON_PRESSURE_SENSORS 16
#define UKATON_SENSOR_MOTION 0
#define UKATON_SENSOR_PRESSURE 1
#define UKATON_PRESSURE_SINGLE_BYTE 0
#define UKATON_PRESSURE_DOUBLE_BYTE 1
#define UKATON_PRESSURE_CENTER_OF_MASS 2
#define UKATON_PRESSURE_MASS 3
#define UKATON_PRESSURE_HEEL_TO_TOE 4
#define UKATON_PRESSURE_TYPES 5
#define UKATON_MOTION_ROTATION_RATE 3
#define UKATON_MOTION_QUATERNION 5
#define UKATON_MOTION_TYPES 6
#define UKATON_ADC_MAX 4095
#define UKATON_MIN_DELAY_MS 10
#define UKATON_DEFAULT_DELAY_MS 20 /* 50 Hz when the wearer asks for the device's own rate */

typedef struct UkatonSensorFrame {
        uint16_t time_ms;        /* as sent */
        uint64_t t_us;           /* unwrapped device time */
        bool clock_restarted;
        bool has_pressure;
        uint8_t pressure_bits;   /* 12 (double byte) or 8 (single byte) */
        uint16_t pressure[UKATON_PRESSURE_SENSORS];
        bool has_center_of_mass;
        float center_of_mass[2];
        bool has_mass;
        uint32_t mass;
        bool has_heel_to_toe;
        double heel_to_toe;
        uint8_t motion_types;    /* bit per motion data type present */
        int16_t motion[UKATON_MOTION_TYPES][4];
} UkatonSensorFrame;

typedef struct UkatonSensorConfig {
        uint8_t n;
        struct {
                uint8_t sensor_type;
                uint8_t data_type;
                uint16_t delay_ms;
        } entries[16];
} UkatonSensorConfig;

static const uint8_t pressure_value_size[UKATON_PRESSURE_TYPES] = { 16, 32, 8, 4, 8 };
static const uint8_t motion_value_size[UKATON_MOTION_TYPES] = { 6, 6, 6, 6, 6, 8 };
static const double motion_scalar[UKATON_MOTION_TYPES] = { 0x1p-8, 0x1p-8, 0x1p-8, 0x1p-9, 0x1p-4, 0x1p-14 };
static const char *const motion_names[UKATON_MOTION_TYPES] = {
        "acceleration", "gravity", "linear_acceleration", "rotation_rate", "magnetometer", "quaternion",
};

static int parse_pressure(UkatonSensorFrame *f, uint8_t type, const uint8_t *v) {
        switch (type) {
        case UKATON_PRESSURE_SINGLE_BYTE:
        case UKATON_PRESSURE_DOUBLE_BYTE:
                if (f->has_pressure)
                        return DECODE_ERR_IMPLAUSIBLE; /* the firmware sends one of the two */
                f->has_pressure = true;
                f->pressure_bits = type == UKATON_PRESSURE_DOUBLE_BYTE ? 12 : 8;
                for (unsigned i = 0; i < UKATON_PRESSURE_SENSORS; i++) {
                        f->pressure[i] = type == UKATON_PRESSURE_DOUBLE_BYTE ? read_le16(v + 2 * i) : v[i];
                        if (f->pressure[i] > UKATON_ADC_MAX)
                                return DECODE_ERR_IMPLAUSIBLE;
                }
                return 0;
        case UKATON_PRESSURE_CENTER_OF_MASS:
                f->center_of_mass[0] = read_lef32(v);
                f->center_of_mass[1] = read_lef32(v + 4);
                if (!isfinite(f->center_of_mass[0]) || !isfinite(f->center_of_mass[1]))
                        return DECODE_ERR_IMPLAUSIBLE;
                f->has_center_of_mass = true;
                return 0;
        case UKATON_PRESSURE_MASS:
                f->mass = read_le32(v);
                if (f->mass > UKATON_PRESSURE_SENSORS * UKATON_ADC_MAX)
                        return DECODE_ERR_IMPLAUSIBLE;
                f->has_mass = true;
                return 0;
        default: {
                uint64_t u = (uint64_t) read_le32(v) | (uint64_t) read_le32(v + 4) << 32;
                memcpy(&f->heel_to_toe, &u, sizeof(u));
                if (!isfinite(f->heel_to_toe))
                        return DECODE_ERR_IMPLAUSIBLE;
                f->has_heel_to_toe = true;
                return 0;
        }
        }
}

/* The next [sensor type, size] block header at *p, checked against the value's end. */
static int next_block(const uint8_t *d, size_t len, size_t *p, uint8_t *ret_sensor, uint8_t *ret_size) {
        if (len - *p < 2)
                return DECODE_ERR_TOO_SHORT;
        *ret_sensor = d[*p];
        *ret_size = d[*p + 1];
        *p += 2;
        if (*ret_sensor != UKATON_SENSOR_MOTION && *ret_sensor != UKATON_SENSOR_PRESSURE)
                return DECODE_ERR_UNSUPPORTED;
        if (*ret_size > len - *p)
                return DECODE_ERR_BAD_LENGTH;
        return 0;
}

static int ukaton_sensor_data_decode(DecoderState *state, const uint8_t *d, size_t len, DecodedRecord *ret) {
        UkatonSensorFrame *f = DECODED_RECORD_OWN(ret, UkatonSensorFrame);
        unsigned seen_blocks = 0, seen_pressure = 0;
        uint32_t lost;
        size_t p = 2;
        uint64_t t_ms;

        if (len < 2)
                return DECODE_ERR_TOO_SHORT;
        *f = (UkatonSensorFrame) { .time_ms = read_le16(d) };

        while (p < len) {
                uint8_t sensor, size;
                size_t end;
                int r = next_block(d, len, &p, &sensor, &size);

                if (r < 0)
                        return r;
                if (seen_blocks & (1u << sensor))
                        return DECODE_ERR_BAD_LENGTH; /* each block once */
                seen_blocks |= 1u << sensor;
                end = p + size;
                while (p < end) {
                        uint8_t type = d[p++];
                        size_t n;

                        if (sensor == UKATON_SENSOR_PRESSURE) {
                                if (type >= UKATON_PRESSURE_TYPES)
                                        return DECODE_ERR_UNSUPPORTED;
                                if (seen_pressure & (1u << type))
                                        return DECODE_ERR_IMPLAUSIBLE;
                                seen_pressure |= 1u << type;
                                n = pressure_value_size[type];
                        } else {
                                if (type >= UKATON_MOTION_TYPES)
                                        return DECODE_ERR_UNSUPPORTED;
                                if (f->motion_types & (1u << type))
                                        return DECODE_ERR_IMPLAUSIBLE;
                                n = motion_value_size[type];
                        }
                        if (n > end - p)
                                return DECODE_ERR_BAD_LENGTH;
                        if (sensor == UKATON_SENSOR_PRESSURE) {
                                r = parse_pressure(f, type, d + p);
                                if (r < 0)
                                        return r;
                        } else {
                                f->motion_types |= (uint8_t) (1u << type);
                                for (unsigned k = 0; k < n / 2; k++)
                                        f->motion[type][k] = read_le16s(d + p + 2 * k);
                        }
                        p += n;
                }
        }

        /* State last: a rejected frame must not move the clock. The frames carry no sequence
         * number, so no loss is counted; a small step back of the clock is a reboot. */
        t_ms = decoder_sequence_update(state ? &state->sequence : NULL,
                                       state ? (uint16_t) (state->sequence.last_seq + 1) : 0, f->time_ms,
                                       UINT64_C(1) << 16, 1, &lost, &f->clock_restarted);
        f->t_us = t_ms * USEC_PER_MSEC;
        return 0;
}

/* The firmware's sensor positions in mm (x across the left insole, 93.257 mm wide, from its
 * lateral edge; y along it, 265.069 mm long, from the toes), in our coordinates: x from heel (0)
 * to toe (1), y from medial (0) to lateral (1). The right insole mirrors x across, which our
 * medial/lateral y already is. Which edge is medial is our reading of the positions (the hallux
 * sensors sit at the high-x edge). */
#define UK_CELL(x_mm, y_mm) { .x = 1.0f - (y_mm) / 265.069f, .y = 1.0f - (x_mm) / 93.257f }
#define UKATON_LAYOUT(s)                                                                     \
        {                                                                                    \
                .side = (s),                                                                 \
                .n_cells = UKATON_PRESSURE_SENSORS,                                          \
                .unit = PRESSURE_UNIT_RAW,                                                   \
                .scale = 1.0f,                                                               \
                .cells = {                                                                   \
                        UK_CELL(59.55f, 32.3f), UK_CELL(33.1f, 42.15f),                      \
                        UK_CELL(69.5f, 55.5f), UK_CELL(44.11f, 64.8f), UK_CELL(20.3f, 71.9f), \
                        UK_CELL(63.8f, 81.1f), UK_CELL(41.44f, 90.8f), UK_CELL(19.2f, 102.8f), \
                        UK_CELL(48.3f, 119.7f), UK_CELL(17.8f, 130.5f),                      \
                        UK_CELL(43.3f, 177.7f), UK_CELL(18.0f, 177.0f),                      \
                        UK_CELL(43.3f, 200.6f), UK_CELL(18.0f, 200.0f),                      \
                        UK_CELL(43.5f, 242.0f), UK_CELL(18.55f, 242.1f),                     \
                },                                                                           \
        }

static const InsoleLayout ukaton_layouts[_FOOT_SIDE_MAX] = {
        [FOOT_LEFT] = UKATON_LAYOUT(FOOT_LEFT),
        [FOOT_RIGHT] = UKATON_LAYOUT(FOOT_RIGHT),
};

static void ukaton_sensor_data_emit(const DecodedRecord *rec, DecoderState *state, const ReadingSink *sink,
                                    void *userdata) {
        const UkatonSensorFrame *f = DECODED_RECORD_OWN_CONST(rec, UkatonSensorFrame);
        PressureSample sample = { .t_us = f->t_us, .n_cells = UKATON_PRESSURE_SENSORS };

        if (!f->has_pressure || state->side < 0 || state->side >= _FOOT_SIDE_MAX)
                return;
        /* The insole reports no sensor map: the firmware's positions, once per link. */
        if (!state->default_layout_sent && sink->layout) {
                sink->layout(userdata, &ukaton_layouts[state->side], true);
                state->default_layout_sent = true;
        }
        if (!sink->pressure)
                return;
        /* 8-bit readings are the 12-bit ones >> 4: keep one scale. */
        for (unsigned i = 0; i < UKATON_PRESSURE_SENSORS; i++)
                sample.cell[i] = (float) (f->pressure_bits == 8 ? f->pressure[i] << 4 : f->pressure[i]);
        sink->pressure(userdata, &(PressureReading) {
                .samples = &sample,
                .n_samples = 1,
                .clock_restarted = f->clock_restarted,
        });
}

static void ukaton_sensor_data_json(const DecodedRecord *rec, JsonWriter *w) {
        const UkatonSensorFrame *f = DECODED_RECORD_OWN_CONST(rec, UkatonSensorFrame);

        json_kv_uint(w, "time_ms", f->time_ms);
        json_kv_uint(w, "t_us", f->t_us);
        json_kv_bool(w, "clock_restarted", f->clock_restarted);
        if (f->has_pressure) {
                json_kv_uint(w, "pressure_bits", f->pressure_bits);
                json_key(w, "pressure");
                json_array_begin(w);
                for (unsigned i = 0; i < UKATON_PRESSURE_SENSORS; i++)
                        json_uint(w, f->pressure[i]);
                json_array_end(w);
        }
        if (f->has_center_of_mass) {
                json_key(w, "center_of_mass");
                json_array_begin(w);
                json_double(w, f->center_of_mass[0], 4);
                json_double(w, f->center_of_mass[1], 4);
                json_array_end(w);
        }
        if (f->has_mass)
                json_kv_uint(w, "mass", f->mass);
        if (f->has_heel_to_toe)
                json_kv_double(w, "heel_to_toe", f->heel_to_toe, 4);
        for (unsigned t = 0; t < UKATON_MOTION_TYPES; t++) {
                if (!(f->motion_types & (1u << t)))
                        continue;
                json_key(w, motion_names[t]);
                json_array_begin(w);
                for (unsigned k = 0; k < motion_value_size[t] / 2; k++)
                        json_double(w, f->motion[t][k] * motion_scalar[t], t == UKATON_MOTION_QUATERNION ? 4 : 3);
                json_array_end(w);
        }
}

static int ukaton_sensor_config_decode(DecoderState *state, const uint8_t *d, size_t len, DecodedRecord *ret) {
        UkatonSensorConfig *c = DECODED_RECORD_OWN(ret, UkatonSensorConfig);
        size_t p = 0;

        *c = (UkatonSensorConfig) {};
        if (len < 2)
                return DECODE_ERR_TOO_SHORT;
        while (p < len) {
                uint8_t sensor, size;
                int r = next_block(d, len, &p, &sensor, &size);

                if (r < 0)
                        return r;
                if (size % 3 != 0)
                        return DECODE_ERR_BAD_LENGTH;
                for (size_t e = p; e < p + size; e += 3) {
                        if (d[e] >= (sensor == UKATON_SENSOR_PRESSURE ? UKATON_PRESSURE_TYPES : UKATON_MOTION_TYPES))
                                return DECODE_ERR_UNSUPPORTED;
                        if (c->n == ELEMENTSOF(c->entries))
                                return DECODE_ERR_BAD_LENGTH;
                        c->entries[c->n].sensor_type = sensor;
                        c->entries[c->n].data_type = d[e];
                        c->entries[c->n].delay_ms = read_le16(d + e + 1);
                        c->n++;
                }
                p += size;
        }
        return 0;
}

static void ukaton_sensor_config_json(const DecodedRecord *rec, JsonWriter *w) {
        const UkatonSensorConfig *c = DECODED_RECORD_OWN_CONST(rec, UkatonSensorConfig);

        json_key(w, "entries");
        json_array_begin(w);
        for (unsigned i = 0; i < c->n; i++) {
                json_object_begin(w);
                json_kv_string(w, "sensor", c->entries[i].sensor_type == UKATON_SENSOR_PRESSURE ? "pressure" : "motion");
                json_kv_uint(w, "data_type", c->entries[i].data_type);
                json_kv_uint(w, "delay_ms", c->entries[i].delay_ms);
                json_object_end(w);
        }
        json_array_end(w);
}

/* Pressure readings (12-bit) every delay_ms: the firmware rounds delays down to 10 ms steps and
 * reads at most every 10 ms (100 Hz). */
static int ukaton_start_command(uint16_t rate_hz, unsigned attempt, uint8_t *buf, size_t size) {
        unsigned delay_ms = rate_hz == 0 ? UKATON_DEFAULT_DELAY_MS : 1000u / rate_hz;

        if (attempt > 0)
                return -ENODATA;
        if (size < 5)
                return -EINVAL;
        delay_ms = MAX(delay_ms - delay_ms % UKATON_MIN_DELAY_MS, (unsigned) UKATON_MIN_DELAY_MS);
        buf[0] = UKATON_SENSOR_PRESSURE;
        buf[1] = 3;
        buf[2] = UKATON_PRESSURE_DOUBLE_BYTE;
        write_le16(buf + 3, (uint16_t) delay_ms);
        return 5;
}

static const DecoderCharacteristic ukaton_pressure_characteristics[] = {
        {
                .uuid = UKATON_SENSOR_DATA_UUID,
                .name = "sensor_data",
                .role = DECODER_ROLE_STREAM,
                .required = true,
                .record = RECORD_OWN,
                .decode = ukaton_sensor_data_decode,
                .emit = ukaton_sensor_data_emit,
                .own_to_json = ukaton_sensor_data_json,
        },
        {
                .uuid = UKATON_SENSOR_CONFIG_UUID,
                .name = "sensor_data_configuration",
                .role = DECODER_ROLE_CONTROL,
                .record = RECORD_OWN,
                .decode = ukaton_sensor_config_decode,
                .start_command = ukaton_start_command,
                .own_to_json = ukaton_sensor_config_json,
        },
};

/* Same service as the step counter (ukaton.c): characteristics are matched by their own UUIDs. */
const Decoder decoder_ukaton_pressure = {
        .name = "ukaton_pressure",
        .description = "Ukaton Mission pressure stream (16 sensors, optional centre of mass and IMU)",
        .service_uuid = "5691eddf-0000-4420-b7a5-bb8751ab5181",
        .characteristics = ukaton_pressure_characteristics,
        .n_characteristics = ELEMENTSOF(ukaton_pressure_characteristics),
        .pressure = true,
        .noun = "insole",
};
