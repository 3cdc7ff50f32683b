/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <math.h>

#include "gait-internal.h"

/* Below this share of the foot's summed cell magnitude the centre of pressure is noise. */
#define COP_MIN_LOAD 1e-6f

static float cell_force(const InsoleLayout *layout, unsigned i, float v) {
        /* kPa x mm^2 = 1e3 Pa x 1e-6 m^2 = 1e-3 N */
        if (layout->unit == PRESSURE_UNIT_KPA && layout->cells[i].area_mm2 > 0)
                return v * layout->cells[i].area_mm2 * 1e-3f;
        return v;
}

static int load_compute(const InsoleLayout *layout, const PressureSample *sample, bool forces, FootLoad *ret) {
        float sx = 0, sy = 0, sw = 0;

        if (!layout || !sample || !ret)
                return -EINVAL;
        if (layout->n_cells == 0 || layout->n_cells > INSOLE_MAX_CELLS || sample->n_cells != layout->n_cells)
                return -EINVAL;

        *ret = (FootLoad) { .t_us = sample->t_us };
        for (unsigned i = 0; i < layout->n_cells; i++) {
                float f = forces ? sample->cell[i] : cell_force(layout, i, sample->cell[i]);

                if (!isfinite(f))
                        continue;
                ret->total += f;
                ret->region[foot_region_of(layout->cells[i].x)] += f;
                if (f > 0) {
                        sx += f * layout->cells[i].x;
                        sy += f * layout->cells[i].y;
                        sw += f;
                }
        }

        if (sw > COP_MIN_LOAD) {
                ret->cop_x = sx / sw;
                ret->cop_y = sy / sw;
                ret->cop_valid = true;
        } else
                ret->cop_x = ret->cop_y = NAN;
        return 0;
}

int foot_load_compute(const InsoleLayout *layout, const PressureSample *sample, FootLoad *ret) {
        return load_compute(layout, sample, false, ret);
}

int foot_load_from_forces(const InsoleLayout *layout, const PressureSample *sample, FootLoad *ret) {
        return load_compute(layout, sample, true, ret);
}
