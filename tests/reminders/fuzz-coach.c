/* SPDX-License-Identifier: MIT */
/* libFuzzer harness for everything of the reminders module that reads bytes from outside: MQTT
 * commands, persisted state, TZif files and POSIX TZ rules. The first byte selects the parser. */

#include <string.h>

#include "reminder-defaults.h"
#include "reminders.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static Zone *zone = NULL;
        ReminderSettings settings;
        _cleanup_(coach_freep) Coach *coach = NULL;
        JsonParseError error;
        ReminderEvent event;
        DaySummary summary;
        JsonWriter w;
        char out[2048];

        if (size < 1)
                return 0;
        if (!zone && zone_from_posix("CET-1CEST,M3.5.0,M10.5.0/3", &zone) < 0)
                return 0;
        reminder_settings_default(&settings);
        if (coach_new(&settings, zone, &coach) < 0)
                return 0;

        /* Monday 2026-11-23 in the morning; the low bit decides whether the clock is trusted. */
        CoachClock now = { .mono_usec = USEC_PER_SEC, .wall_usec = 1795420800ULL * USEC_PER_SEC, .wall_trusted = data[0] & 1 };
        coach_set_connected(coach, &now, true);
        coach_feed_activity(coach, &now, ACTIVITY_SITTING);

        switch (data[0] >> 5) {
        case 0 ... 2:
                (void) coach_command(coach, &now, data + 1, size - 1);
                break;
        case 3 ... 4:
                (void) coach_restore(coach, &now, (const char *) data + 1, size - 1, &error);
                break;
        case 5: {
                _cleanup_(zone_freep) Zone *z = NULL;
                LocalTime lt;
                if (zone_from_tzif(data + 1, size - 1, &z) == 0) {
                        zone_local_time(z, now.wall_usec, &lt);
                        (void) zone_day_start(z, 2026, 3, 29);
                }
                break;
        }
        default: {
                _cleanup_(zone_freep) Zone *z = NULL;
                char rule[128];
                size_t n = MIN(size - 1, sizeof(rule) - 1);
                LocalTime lt;

                memcpy(rule, data + 1, n);
                rule[n] = 0;
                if (zone_from_posix(rule, &z) == 0) {
                        for (int y = 1970; y < 2100; y += 7)
                                zone_local_time(z, (uint64_t) days_from_civil(y, 6, 1) * USEC_PER_DAY, &lt);
                        (void) zone_day_start(z, 2026, 3, 29);
                }
        }
        }

        while (coach_take_event(coach, &event)) {
                json_writer_init(&w, out, sizeof(out));
                (void) reminder_event_to_json(&event, &w);
        }
        /* Let a day pass: the restored or current day is summarised and serialised. */
        now.mono_usec += USEC_PER_HOUR;
        now.wall_usec += USEC_PER_DAY;
        coach_tick(coach, &now);
        while (coach_take_summary(coach, &summary)) {
                json_writer_init_dynamic(&w);
                (void) day_summary_event_to_json(&summary, &w);
                json_writer_done(&w);
        }
        json_writer_init_dynamic(&w);
        (void) coach_save(coach, &now, &w);
        json_writer_done(&w);
        return 0;
}
