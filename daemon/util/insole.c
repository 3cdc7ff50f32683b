/* SPDX-License-Identifier: MIT */
#include "insole.h"
#include "macro.h"

const char *foot_side_to_string(FootSide s) {
        static const char *const names[_FOOT_SIDE_MAX] = { [FOOT_LEFT] = "left", [FOOT_RIGHT] = "right" };
        if (s < 0 || s >= _FOOT_SIDE_MAX)
                return NULL;
        return names[s];
}

FootRegion foot_region_of(float x) {
        if (x < REGION_MIDFOOT_START)
                return REGION_HEEL;
        if (x < REGION_FOREFOOT_START)
                return REGION_MIDFOOT;
        if (x < REGION_TOES_START)
                return REGION_FOREFOOT;
        return REGION_TOES;
}

const char *foot_region_to_string(FootRegion r) {
        static const char *const names[_REGION_MAX] = {
                [REGION_HEEL] = "heel", [REGION_MIDFOOT] = "midfoot",
                [REGION_FOREFOOT] = "forefoot", [REGION_TOES] = "toes",
        };
        if (r < 0 || r >= _REGION_MAX)
                return NULL;
        return names[r];
}

const char *activity_state_to_string(ActivityState s) {
        static const char *const names[_ACTIVITY_MAX] = {
                [ACTIVITY_UNKNOWN] = "unknown", [ACTIVITY_NOT_WORN] = "not_worn",
                [ACTIVITY_SITTING] = "sitting", [ACTIVITY_STANDING] = "standing",
                [ACTIVITY_WALKING] = "walking", [ACTIVITY_RUNNING] = "running",
        };
        if (s < 0 || s >= _ACTIVITY_MAX)
                return NULL;
        return names[s];
}
