/* SPDX-License-Identifier: MIT */
#pragma once

/* The Open Insole Profile (OIP), version 1: constants shared by the decoder and the simulator.
 * docs/open-insole-profile.md is the specification; this header must match it.
 *
 * All multi-byte fields are little-endian.
 *
 * Pressure Frame (notify), PRESSURE_FRAME_UUID:
 *   0  u8   version            = 1
 *   1  u8   flags              bit0 IMU present; bits 1-7 reserved, sent as 0, ignored on receipt
 *   2  u16  sequence           +1 per notification, wraps 65535 -> 0
 *   4  u32  t0_us              device clock at the first sample, microseconds, wraps at 2^32
 *   8  u16  sample_period_us   spacing of the samples (e.g. 10000 at 100 Hz); 1000..65535
 *  10  u8   n_cells            1..32
 *  11  u8   n_samples          1..OIP_MAX_SAMPLES
 *  12  samples: n_samples x { n_cells x u16 raw pressure, [IMU: i16 ax, ay, az in mg,
 *                             i16 gx, gy, gz in 0.1 deg/s] }
 *  The length must equal 12 + n_samples * (2 * n_cells + (IMU ? 12 : 0)).
 *
 * Sensor Layout (read), SENSOR_LAYOUT_UUID:
 *   0  u8   version            = 1
 *   1  u8   side               0 left, 1 right
 *   2  u8   n_cells            1..32
 *   3  u8   unit               0 raw counts, 1 newton, 2 kPa  (PressureUnit)
 *   4  f32  scale              value_in_unit = raw * scale + offset (IEEE 754 binary32)
 *   8  f32  offset
 *  12  cells: n_cells x { u8 x (0 heel .. 255 toe), u8 y (0 medial .. 255 lateral), u16 area mm^2 }
 *  The length must equal 12 + 4 * n_cells.
 *
 * Step Counter (read, notify), STEP_COUNTER_UUID:
 *   0  u8   version            = 1
 *   1  u8   flags              reserved, 0
 *   2  u32  steps              cumulative steps of this foot since the device's boot
 *   6  u32  boot_id            random per boot; a new value means the counter restarted at 0
 *   Length 10.
 *
 * Control Point (write with response), CONTROL_POINT_UUID:
 *   0x01 u16 rate_hz   start streaming at rate_hz (10..400)
 *   0x02               stop streaming
 */

#define OIP_SERVICE_UUID        "6f1d0001-2c4b-4e8a-9d3f-1b7e5a0c9f21"
#define OIP_PRESSURE_FRAME_UUID "6f1d0002-2c4b-4e8a-9d3f-1b7e5a0c9f21"
#define OIP_SENSOR_LAYOUT_UUID  "6f1d0003-2c4b-4e8a-9d3f-1b7e5a0c9f21"
#define OIP_STEP_COUNTER_UUID   "6f1d0004-2c4b-4e8a-9d3f-1b7e5a0c9f21"
#define OIP_CONTROL_POINT_UUID  "6f1d0005-2c4b-4e8a-9d3f-1b7e5a0c9f21"

#define OIP_VERSION 1
#define OIP_FLAG_IMU 0x01
#define OIP_FRAME_HEADER_SIZE 12
#define OIP_LAYOUT_HEADER_SIZE 12
#define OIP_LAYOUT_CELL_SIZE 4
#define OIP_STEP_COUNTER_SIZE 10
#define OIP_IMU_SIZE 12
#define OIP_MAX_CELLS 32
#define OIP_MAX_SAMPLES 40
#define OIP_MIN_SAMPLE_PERIOD_US 1000
#define OIP_MAX_SAMPLE_PERIOD_US 65535 /* the u16 field: 15.3 Hz is the slowest rate */

#define OIP_CP_START 0x01
#define OIP_CP_STOP 0x02
/* START's rate 0: stream at the insole's own preferred rate. Insoles that predate it answer ATT
 * error 0x81 (rate out of range); the gateway then asks for OIP_LEGACY_RATE_HZ. */
#define OIP_RATE_PREFERRED 0
#define OIP_LEGACY_RATE_HZ 100
