/* SPDX-License-Identifier: MIT */
/* The cost of writing one gait payload as it is published: the stamp ("timestamp", "seq") and the
 * gait engine's snapshot appended to it in one pass, in a fixed 8 KiB buffer. Prints figures; the
 * snapshot holds plausible values in every field so that nothing is left out. */

#include <stdio.h>
#include <time.h>

#include "gait.h"
#include "macro.h"
#include "mqtt-publish.h"

static double now_s(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void plausible_snapshot(GaitSnapshot *s) {
        *s = (GaitSnapshot) { .t_us = 123456789, .source = GAIT_SOURCE_PRESSURE, .load_unit = PRESSURE_UNIT_NEWTON,
                              .body_weight_kg = 72.5f, .activity = ACTIVITY_WALKING, .activity_since_us = 1000000,
                              .steps_total = 4321, .steps_day = 1234 };
        for (unsigned a = 0; a < _ACTIVITY_MAX; a++)
                s->activity_day_us[a] = 37000000ull * (a + 1);
        for (unsigned x = 0; x < _GAIT_WINDOW_MAX; x++) {
                GaitWindowSummary *win = &s->window[x];

                win->duration_us = 60000000;
                win->steps = 105;
                win->cadence_spm = win->stride_time_cv_pct = win->double_support_pct = 21.9f + x;
                win->stride_time_ms = win->double_support_ms = 1143.2f;
                win->symmetry.step_time_pct = win->symmetry.stance_time_pct = 1.2f;
                win->symmetry.swing_time_pct = win->symmetry.peak_load_pct = 3.3f;
                win->symmetry.strides_left = win->symmetry.strides_right = 26;
                for (unsigned f = 0; f < _FOOT_SIDE_MAX; f++) {
                        GaitFootSummary *g = &win->foot[f];

                        g->strides = g->stance_strides = 26;
                        g->stride_time_ms = g->stance_time_ms = g->swing_time_ms = g->step_time_ms = 571.6f + f;
                        g->stance_pct = g->swing_pct = g->stride_time_cv_pct = 38.73f;
                        g->strikes[STRIKE_HEEL] = 20;
                        g->peak_total = g->peak_heel = g->heel_loading_rate = g->push_peak = 812.4f;
                        for (unsigned r = 0; r < _REGION_MAX; r++)
                                g->load_share_pct[r] = 25.0f;
                        g->cop_start_x = 0.12f;
                        g->cop_end_x = g->cop_forward_fraction = 0.85f;
                        g->ml_index = 0.123f;
                }
        }
        s->balance.standing_us = 5000000;
        s->balance.sway_path_pct_per_s = s->balance.sway_range_x_pct = s->balance.sway_range_y_pct = 2.5f;
        s->balance.left_share_pct = 50.5f;
}

int main(void) {
        MqttStamp stamp = { .realtime_usec = 1795000000000000ull, .seq = 1 };
        GaitSnapshot snap;
        unsigned n = 0;
        size_t bytes = 0;
        double t0, elapsed;

        plausible_snapshot(&snap);
        t0 = now_s();
        do {
                for (unsigned k = 0; k < 1000; k++) {
                        char buf[8192];
                        JsonWriter w;

                        json_writer_init(&w, buf, sizeof(buf));
                        mqtt_payload_begin_stamped(&w, &stamp);
                        (void) gait_snapshot_to_json(&snap, &w);
                        if (json_writer_finish(&w, NULL, &bytes) < 0) {
                                fprintf(stderr, "the gait payload does not fit 8 KiB\n");
                                return 1;
                        }
                        stamp.seq++;
                        n++;
                }
                elapsed = now_s() - t0;
        } while (elapsed < 1.0);
        printf("gait payload, stamp and snapshot in one pass: %.2f us each, %zu bytes, %.0f payloads/s\n",
               elapsed * 1e6 / n, bytes, n / elapsed);
        return 0;
}
