/* SPDX-License-Identifier: MIT */
#pragma once

/* The decoder families' own vocabulary: UUIDs, typed records and conversions. Private to
 * daemon/decoders/ and to the tools and tests that show or check the records themselves
 * (decode-cli, record-json, tests/decoders, tests/fuzz, tests/sim); the gateway sees only the
 * neutral readings of decoder.h. */

#include <stddef.h>

#include "decoder.h"
#include "json.h"
#include "open-insole-profile.h"

/* Bluetooth SIG UUIDs, expanded with the base UUID. */
#define SIG_UUID(x) "0000" x "-0000-1000-8000-00805f9b34fb"
#define RSC_SERVICE_UUID              SIG_UUID("1814")
#define RSC_MEASUREMENT_UUID          SIG_UUID("2a53")
#define RSC_FEATURE_UUID              SIG_UUID("2a54")
#define RSC_SENSOR_LOCATION_UUID      SIG_UUID("2a5d")
#define RSC_CONTROL_POINT_UUID        SIG_UUID("2a55")
#define BATTERY_SERVICE_UUID          SIG_UUID("180f")
#define BATTERY_LEVEL_UUID            SIG_UUID("2a19")
#define DEVICE_INFO_SERVICE_UUID      SIG_UUID("180a")
#define DIS_MANUFACTURER_NAME_UUID    SIG_UUID("2a29")
#define DIS_MODEL_NUMBER_UUID         SIG_UUID("2a24")
#define DIS_SERIAL_NUMBER_UUID        SIG_UUID("2a25")
#define DIS_HARDWARE_REVISION_UUID    SIG_UUID("2a27")
#define DIS_FIRMWARE_REVISION_UUID    SIG_UUID("2a26")
#define DIS_SOFTWARE_REVISION_UUID    SIG_UUID("2a28")

/* ORPHE INSOLE (Orphe-OSS/ORPHE-INSOLE.js docs/SENSOR_SPEC.md) */
#define ORPHE_OTHER_SERVICE_UUID      "db1b7aca-cda5-4453-a49b-33a53d3f0833"
#define ORPHE_SENSOR_VALUES_UUID      "f3f9c7ce-46ee-4205-89ac-abe64e626c0f"

/* Ukaton Mission (zakaton/ukaton-mission-firmware): 5691eddf-XXXX-4420-b7a5-bb8751ab5181 */
#define UKATON_SERVICE_UUID           "5691eddf-0000-4420-b7a5-bb8751ab5181"
#define UKATON_STEP_COUNT_UUID        "5691eddf-c002-4420-b7a5-bb8751ab5181"

/* ---- Records ------------------------------------------------------------------------------- */

typedef enum RecordKind {
        RECORD_RSC_MEASUREMENT,
        RECORD_RSC_FEATURE,
        RECORD_SENSOR_LOCATION,
        RECORD_BATTERY_LEVEL,
        RECORD_DEVICE_INFO_STRING,
        RECORD_OIP_PRESSURE_FRAME,
        RECORD_OIP_SENSOR_LAYOUT,
        RECORD_OIP_STEP_COUNTER,
        RECORD_OIP_CONTROL_COMMAND,
        RECORD_ORPHE_FRAME,
        RECORD_UKATON_STEPS,
        RECORD_OWN,           /* a family's own record type, in rec->own (see DECODED_RECORD_OWN) */
        _RECORD_KIND_MAX,
        _RECORD_KIND_INVALID = -1,
} RecordKind;

/* "rsc_measurement", "rsc_feature", "sensor_location", "battery_level", "device_info",
 * "oip_pressure_frame", "oip_sensor_layout", "oip_step_counter", "oip_control_command",
 * "orphe_frame", "ukaton_steps" */
const char *record_kind_to_string(RecordKind k);

/* RSC Measurement 0x2A53 is a MotionReading (decoder.h), converted to SI units by the SIG
 * resolutions. */
typedef MotionReading RscMeasurement;

/* RSC Feature 0x2A54 */
#define RSC_FEATURE_STRIDE_LENGTH   0x0001
#define RSC_FEATURE_TOTAL_DISTANCE  0x0002
#define RSC_FEATURE_WALKING_RUNNING 0x0004
#define RSC_FEATURE_CALIBRATION     0x0008
#define RSC_FEATURE_MULTIPLE_LOCATIONS 0x0010
typedef struct RscFeature {
        uint16_t bits;
} RscFeature;

/* Sensor Location 0x2A5D: 0 other, 1 top of shoe, 2 in shoe, 3 hip, ... 16; others rejected. */
typedef struct SensorLocation {
        uint8_t location;
} SensorLocation;
const char *sensor_location_to_string(uint8_t location); /* "in_shoe", ...; NULL if undefined */

typedef struct BatteryLevel {
        uint8_t percent; /* 0..100 */
} BatteryLevel;

/* Open Insole Profile pressure frame, decoded. Times are unwrapped through DecoderState. */
typedef struct OipImuSample {
        int16_t accel_mg[3];   /* milli-g */
        int16_t gyro_ddps[3];  /* 0.1 deg/s */
} OipImuSample;

typedef struct OipPressureFrame {
        uint8_t version;
        uint8_t flags;
        uint16_t seq;
        uint32_t t0_raw_us;        /* as sent (wraps at 2^32) */
        uint64_t t0_us;            /* unwrapped device time of sample 0 */
        uint16_t sample_period_us;
        uint8_t n_cells;           /* 1..OIP_MAX_CELLS */
        uint8_t n_samples;         /* 1..OIP_MAX_SAMPLES */
        uint32_t lost_frames_before; /* notifications missing between the previous frame and this one */
        bool clock_restarted;      /* the device clock went backwards (reboot): t0_us was re-based */
        bool has_imu;
        /* Raw values, [sample][cell]. Only [0, n_samples) x [0, n_cells) is written; the rest of the
         * arrays is left as it was (the decoder does not clear 3 KiB per frame). */
        uint16_t cells[OIP_MAX_SAMPLES][OIP_MAX_CELLS];
        OipImuSample imu[OIP_MAX_SAMPLES];               /* valid when has_imu */
} OipPressureFrame;

typedef struct OipSensorLayout {
        uint8_t version;
        InsoleLayout layout; /* x/y normalised 0..255 -> 0..1, area in mm^2 */
} OipSensorLayout;

typedef struct OipStepCounter {
        uint8_t version;
        uint8_t flags;
        uint32_t steps;   /* cumulative since the device's boot */
        uint32_t boot_id; /* a new value means the counter restarted at 0 */
} OipStepCounter;

typedef struct OipControlCommand {
        uint8_t opcode;   /* OIP_CP_START / OIP_CP_STOP */
        uint16_t rate_hz; /* START only, 10..400, or OIP_RATE_PREFERRED */
} OipControlCommand;

/* Encodes a control-point write; returns the number of bytes (1 or 3) written to buf, or
 * DECODE_ERR_IMPLAUSIBLE / DECODE_ERR_UNSUPPORTED / DECODE_ERR_TOO_SHORT (buf too small). */
int oip_control_command_encode(const OipControlCommand *c, uint8_t *buf, size_t size);

/* ORPHE INSOLE "Sensor Values" notification: 104 bytes, big-endian. */
#define ORPHE_FRAME_SIZE 104
#define ORPHE_MAX_SAMPLES 4
#define ORPHE_PRESSURE_CHANNELS 6
typedef enum OrpheHeader {
        ORPHE_HEADER_QUAT_GYRO_ACC = 50,       /* 4 samples x 21 B: quat, gyro, acc, dt_ms */
        ORPHE_HEADER_GYRO_ACC_PRESSURE = 55,   /* 4 samples x 24 B at 200 Hz */
        ORPHE_HEADER_FULL = 56,                /* 2 samples x 32 B at 100 Hz: quat, gyro, acc, pressure */
} OrpheHeader;

typedef struct OrpheSample {
        int16_t quat[4];      /* w, x, y, z in Q14 (/16384); valid if has_quat */
        int16_t gyro[3];      /* normalised: raw / 32768 x gyro range */
        int16_t accel[3];     /* normalised: raw / 32768 x accel range (default 16 g) */
        uint16_t pressure[ORPHE_PRESSURE_CHANNELS]; /* raw ADC, P0..P5; valid if has_pressure */
        uint8_t dt_ms;        /* header 50 only: time to the next sample */
} OrpheSample;

typedef struct OrpheFrame {
        uint8_t header;       /* OrpheHeader */
        uint16_t serial;      /* +1 per notification, wraps 65535 -> 0 */
        uint8_t hour, minute, second;
        uint16_t millisecond;
        uint32_t time_of_day_ms;     /* device clock, ms since its midnight */
        uint64_t t_us;               /* unwrapped across midnight through DecoderState */
        uint32_t lost_frames_before; /* from serial gaps */
        uint8_t n_samples;
        bool has_quat;
        bool has_pressure;
        OrpheSample samples[ORPHE_MAX_SAMPLES];
} OrpheFrame;

typedef struct UkatonSteps {
        uint32_t steps; /* little-endian u32 */
} UkatonSteps;

/* Room for the record of a family that keeps its type in its own file: it declares
 * `.record = RECORD_OWN` and `.own_to_json`, and reads and writes its struct through
 * DECODED_RECORD_OWN(rec, Type) (checked at compile time to fit). */
#define DECODED_RECORD_OWN_MAX 512

typedef struct DecodedRecord {
        RecordKind kind;
        const DecoderCharacteristic *characteristic; /* what decoded it (decoder_decode() sets it) */
        union {
                RscMeasurement rsc_measurement;
                RscFeature rsc_feature;
                SensorLocation sensor_location;
                BatteryLevel battery;
                DeviceInfoString device_info;
                OipPressureFrame oip_frame;
                OipSensorLayout oip_layout;
                OipStepCounter oip_steps;
                OipControlCommand oip_control;
                OrpheFrame orphe;
                UkatonSteps ukaton_steps;
                _Alignas(max_align_t) uint8_t own[DECODED_RECORD_OWN_MAX];
        };
} DecodedRecord;

#define DECODED_RECORD_OWN(rec, type)                                                           \
        ({                                                                                       \
                _Static_assert(sizeof(type) <= DECODED_RECORD_OWN_MAX, #type " fits a record"); \
                (type *) (void *) (rec)->own;                                                    \
        })
#define DECODED_RECORD_OWN_CONST(rec, type)                                                     \
        ({                                                                                       \
                _Static_assert(sizeof(type) <= DECODED_RECORD_OWN_MAX, #type " fits a record"); \
                (const type *) (const void *) (rec)->own;                                        \
        })

/* Frames lost before this record (pressure-frame kinds), else 0. */
uint32_t decoded_record_lost_frames(const DecodedRecord *rec);

/* Count one decoder_decode() result; rec (may be NULL) adds its lost frames. */
void decoder_stats_account(DecoderStats *s, int result, const DecodedRecord *rec);

/* Decodes one value. state may be NULL (no loss detection, no clock unwrapping). Returns 0 or a
 * DecodeResult error; ret->kind is set on success. */
int decoder_decode(const DecoderCharacteristic *c, DecoderState *state, const uint8_t *data, size_t len,
                   DecodedRecord *ret);

/* Writes rec as one JSON object (the fields docs/decoders.md lists) into w. */
void decoded_record_to_json(const DecodedRecord *rec, JsonWriter *w);

/* ---- Conversions for the gait engine ----------------------------------------------------- */

/* Fills up to n samples from a frame, applying layout->scale/offset per cell (layout may be NULL:
 * raw values, scale 1). Sample i gets t_us = t0_us + i * sample_period_us; IMU values become g and
 * deg/s. Returns the number of samples written, or DECODE_ERR_BAD_LENGTH if the layout's n_cells
 * disagrees with the frame's. */
int oip_frame_to_samples(const OipPressureFrame *f, const InsoleLayout *layout, PressureSample *samples, size_t n);

/* ORPHE: assumed positions of P0..P5 in our normalised coordinates (docs/decoders.md). Since y runs
 * medial->lateral for either foot, both sides share the positions; only .side differs. Values are
 * raw ADC counts (unit RAW, scale 1, offset 0). */
const InsoleLayout *orphe_default_layout(FootSide side);
/* accel_range_g: 2/4/8/16 (0 means the default 16); gyro_range_dps: 250..2000 (0 means 2000).
 * Samples of one notification share its timestamp on the device; we spread them at period_us
 * (10000 for header 56, 5000 for 55; header 50 uses dt_ms). Returns samples written. */
int orphe_frame_to_samples(const OrpheFrame *f, const InsoleLayout *layout, unsigned accel_range_g,
                           unsigned gyro_range_dps, PressureSample *samples, size_t n);

