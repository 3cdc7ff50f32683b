/* SPDX-License-Identifier: MIT */
#pragma once

/* Synthetic foot loads for the exercise and reminder tests. */

#include "insole.h"

/* Total load split into heel and forefoot+toes by the heel's share. */
static inline FootLoad synthetic_foot_load(uint64_t t, float total, float heel_share) {
        FootLoad f = { .t_us = t, .total = total, .cop_valid = total > 1 };
        f.region[REGION_HEEL] = total * heel_share;
        f.region[REGION_MIDFOOT] = total * (1 - heel_share) * 0.1f;
        f.region[REGION_FOREFOOT] = total * (1 - heel_share) * 0.7f;
        f.region[REGION_TOES] = total * (1 - heel_share) * 0.2f;
        return f;
}
