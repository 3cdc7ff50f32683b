/* SPDX-License-Identifier: MIT */
#pragma once

/* Domain types shared by decoders, the gait engine, the exercise/reminder rules, the BlueZ client,
 * the MQTT module, the simulator and the offline analyser. Nothing here does I/O. */

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>

#define INSOLE_MAX_CELLS 32

typedef struct BdAddr {
        uint8_t b[6]; /* b[0] is the first byte as written, "AA" in AA:BB:CC:DD:EE:FF */
} BdAddr;

#define BDADDR_STRING_MAX 18 /* "AA:BB:CC:DD:EE:FF" and its NUL */

/* Parses "AA:BB:CC:DD:EE:FF" (either case); -EINVAL otherwise. */
int bdaddr_from_string(const char *s, BdAddr *ret);
/* Writes "AA:BB:CC:DD:EE:FF" into buf (>= BDADDR_STRING_MAX bytes) and returns buf. */
char *bdaddr_to_string(const BdAddr *a, char *buf);
bool bdaddr_equal(const BdAddr *a, const BdAddr *b);

/* The devices a wearer can have; their names are topic levels and state-file keys. */
typedef enum DeviceRole {
        DEVICE_ROLE_LEFT,
        DEVICE_ROLE_RIGHT,
        DEVICE_ROLE_FOOTPOD,
        _DEVICE_ROLE_MAX,
        _DEVICE_ROLE_INVALID = -EINVAL,
} DeviceRole;

const char *device_role_to_string(DeviceRole r); /* "left", "right", "footpod" */
DeviceRole device_role_from_string(const char *s);

typedef enum FootSide {
        FOOT_LEFT,
        FOOT_RIGHT,
        _FOOT_SIDE_MAX,
        _FOOT_SIDE_INVALID = -1,
} FootSide;

const char *foot_side_to_string(FootSide s); /* "left" / "right" */

/* Regions along the foot, by the normalised heel->toe coordinate x of a cell's centre:
 *   heel      0.00 <= x < 0.30
 *   midfoot   0.30 <= x < 0.55
 *   forefoot  0.55 <= x < 0.85   (metatarsal heads)
 *   toes      0.85 <= x <= 1.00
 * docs/metrics.md documents these boundaries. */
typedef enum FootRegion {
        REGION_HEEL,
        REGION_MIDFOOT,
        REGION_FOREFOOT,
        REGION_TOES,
        _REGION_MAX,
} FootRegion;

#define REGION_MIDFOOT_START 0.30f
#define REGION_FOREFOOT_START 0.55f
#define REGION_TOES_START 0.85f

FootRegion foot_region_of(float x);
const char *foot_region_to_string(FootRegion r); /* "heel", "midfoot", "forefoot", "toes" */

typedef enum PressureUnit {
        PRESSURE_UNIT_RAW = 0,    /* uncalibrated counts, roughly proportional to force */
        PRESSURE_UNIT_NEWTON = 1, /* force on the cell */
        PRESSURE_UNIT_KPA = 2,    /* pressure on the cell; force = value * area */
        _PRESSURE_UNIT_MAX,
} PressureUnit;

const char *pressure_unit_to_string(PressureUnit u); /* "raw", "N", "kPa" */

/* Where the cells of one insole are. Coordinates are normalised to the insole outline:
 * x from heel (0) to toe (1), y from medial (0, the big-toe side) to lateral (1). */
typedef struct InsoleCell {
        float x;
        float y;
        float area_mm2; /* 0 when unknown */
} InsoleCell;

typedef struct InsoleLayout {
        FootSide side;
        uint8_t n_cells; /* 1..INSOLE_MAX_CELLS */
        PressureUnit unit;
        float scale;  /* value_in_unit = raw * scale + offset */
        float offset;
        InsoleCell cells[INSOLE_MAX_CELLS];
} InsoleLayout;

/* One pressure sample of one insole at one instant, in the layout's unit (already scaled). The
 * gait engine consumes these; decoders and dataset readers produce them. */
typedef struct PressureSample {
        uint64_t t_us; /* device time, microseconds, monotonic per device (unwrapped) */
        uint8_t n_cells;
        float cell[INSOLE_MAX_CELLS];
        bool has_imu;
        float accel_g[3];   /* x toe-ward, y lateral, z up */
        float gyro_dps[3];
} PressureSample;

/* Per-sample load summary of one foot, derived from a PressureSample and its layout. Loads are in
 * the layout's force unit (newtons, or raw counts for uncalibrated insoles); cop_x/cop_y use the
 * normalised coordinates above. */
typedef struct FootLoad {
        uint64_t t_us;
        float total;
        float region[_REGION_MAX];
        float cop_x;
        float cop_y;
        bool cop_valid; /* false when the foot carries (almost) no load */
} FootLoad;

typedef enum ActivityState {
        ACTIVITY_UNKNOWN,   /* not enough data yet, or not connected */
        ACTIVITY_NOT_WORN,
        ACTIVITY_SITTING,
        ACTIVITY_STANDING,
        ACTIVITY_WALKING,
        ACTIVITY_RUNNING,
        _ACTIVITY_MAX,
        _ACTIVITY_INVALID = -EINVAL,
} ActivityState;

const char *activity_state_to_string(ActivityState s); /* "unknown", "not_worn", "sitting", ... */
ActivityState activity_state_from_string(const char *s);
