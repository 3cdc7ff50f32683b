/* SPDX-License-Identifier: MIT */
#include <stdio.h>
#include <string.h>

#include "hex.h"
#include "insole.h"
#include "macro.h"
#include "string-table.h"

int bdaddr_from_string(const char *s, BdAddr *ret) {
        BdAddr a;

        if (!s || strlen(s) != BDADDR_STRING_MAX - 1)
                return -EINVAL;
        for (size_t i = 0; i < 6; i++) {
                int hi = unhexchar(s[i * 3]), lo = unhexchar(s[i * 3 + 1]);
                if (hi < 0 || lo < 0 || (i < 5 && s[i * 3 + 2] != ':'))
                        return -EINVAL;
                a.b[i] = (uint8_t) (hi << 4 | lo);
        }
        *ret = a;
        return 0;
}

char *bdaddr_to_string(const BdAddr *a, char *buf) {
        (void) snprintf(buf, BDADDR_STRING_MAX, "%02X:%02X:%02X:%02X:%02X:%02X", a->b[0], a->b[1], a->b[2],
                        a->b[3], a->b[4], a->b[5]);
        return buf;
}

bool bdaddr_equal(const BdAddr *a, const BdAddr *b) {
        return memcmp(a->b, b->b, sizeof(a->b)) == 0;
}

static const char *const device_role_table[_DEVICE_ROLE_MAX] = {
        [DEVICE_ROLE_LEFT] = "left",
        [DEVICE_ROLE_RIGHT] = "right",
        [DEVICE_ROLE_FOOTPOD] = "footpod",
};

DEFINE_STRING_TABLE_LOOKUP(device_role, DeviceRole);

static const char *const foot_side_table[_FOOT_SIDE_MAX] = {
        [FOOT_LEFT] = "left",
        [FOOT_RIGHT] = "right",
};

DEFINE_STRING_TABLE_LOOKUP_TO_STRING(foot_side, FootSide);

FootRegion foot_region_of(float x) {
        if (x < REGION_MIDFOOT_START)
                return REGION_HEEL;
        if (x < REGION_FOREFOOT_START)
                return REGION_MIDFOOT;
        if (x < REGION_TOES_START)
                return REGION_FOREFOOT;
        return REGION_TOES;
}

static const char *const pressure_unit_table[_PRESSURE_UNIT_MAX] = {
        [PRESSURE_UNIT_RAW] = "raw",
        [PRESSURE_UNIT_NEWTON] = "N",
        [PRESSURE_UNIT_KPA] = "kPa",
};

DEFINE_STRING_TABLE_LOOKUP_TO_STRING(pressure_unit, PressureUnit);

static const char *const foot_region_table[_REGION_MAX] = {
        [REGION_HEEL] = "heel", [REGION_MIDFOOT] = "midfoot",
        [REGION_FOREFOOT] = "forefoot", [REGION_TOES] = "toes",
};

DEFINE_STRING_TABLE_LOOKUP_TO_STRING(foot_region, FootRegion);

static const char *const activity_state_table[_ACTIVITY_MAX] = {
        [ACTIVITY_UNKNOWN] = "unknown", [ACTIVITY_NOT_WORN] = "not_worn",
        [ACTIVITY_SITTING] = "sitting", [ACTIVITY_STANDING] = "standing",
        [ACTIVITY_WALKING] = "walking", [ACTIVITY_RUNNING] = "running",
};

DEFINE_STRING_TABLE_LOOKUP(activity_state, ActivityState);
