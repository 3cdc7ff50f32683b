/* SPDX-License-Identifier: MIT */
/* libFuzzer harness for everything of the alerts module that reads bytes from outside: the
 * history file in the state directory and the alert/set commands. The first byte selects the
 * parser; what a parse accepted is used (saved again, evaluated), so that a file that parses but
 * holds odd values cannot crash the monitor later. */

#include <string.h>

#include "alerts.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        _cleanup_(alert_monitor_freep) AlertMonitor *m = NULL;
        const char *names[] = { "anna" };
        AlertSettings settings;
        JsonParseError error;
        AlertEvent event;
        JsonWriter w;
        GaitDay day;
        char out[8192];

        if (size < 1)
                return 0;
        alert_settings_default(&settings);
        settings.metrics = ~0u;
        if (alert_monitor_new(&settings, &m) < 0)
                return 0;

        if (data[0] & 1)
                (void) alert_monitor_command(m, data + 1, size - 1);
        else
                (void) alert_history_parse((const char *) data + 1, size - 1, &m, names, 1, &error);

        /* Whatever was accepted must be usable: evaluate a day, answer a command, write it all. */
        gait_day_init(&day, LOCAL_DATE(2026, 12, 31));
        day.strides = 5000;
        for (GaitMetric k = 0; k < _GAIT_METRIC_MAX; k++)
                day.value[k] = (float) gait_metric_info(k)->hi;
        alert_monitor_update_today(m, &day);
        alert_monitor_end_day(m, &day);
        (void) alert_monitor_command(m, "{\"action\":\"accept\"}", 19);
        while (alert_monitor_take_event(m, &event)) {
                json_writer_init(&w, out, sizeof(out));
                (void) alert_event_to_json(&event, &w);
        }
        json_writer_init(&w, out, sizeof(out));
        (void) alert_monitor_state_to_json(m, &w);
        json_writer_init(&w, out, sizeof(out));
        (void) alert_monitor_baseline_to_json(m, &w);
        json_writer_init_dynamic(&w);
        (void) alert_history_format(&m, names, 1, &w);
        json_writer_done(&w);
        return 0;
}
