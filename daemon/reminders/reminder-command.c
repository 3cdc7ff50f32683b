/* SPDX-License-Identifier: MIT */
#include <stdio.h>
#include <string.h>

#include "macro.h"
#include "reminder-command.h"
#include "zone.h"

static int fail_json(ReminderCommandError *e, int r, const JsonParseError *pe) {
        e->offset = (int64_t) pe->offset;
        (void) snprintf(e->message, sizeof(e->message), "%s", pe->message);
        return r < 0 ? r : -EINVAL;
}

static int fail(ReminderCommandError *e, int r, const char *message) {
        e->offset = -1;
        (void) snprintf(e->message, sizeof(e->message), "%s", message);
        return r;
}

int reminder_parse_utc_timestamp(const char *s, uint64_t *ret) {
        unsigned y, mo, d, h, mi, se;
        int n = 0;

        if (strlen(s) != 20 || sscanf(s, "%4u-%2u-%2uT%2u:%2u:%2uZ%n", &y, &mo, &d, &h, &mi, &se, &n) != 6 || n != 20)
                return -EINVAL;
        if (y < 1970 || y > 9999 || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || se > 59)
                return -EINVAL;
        int64_t days = days_from_civil((int) y, (int) mo, (int) d);
        int y2, m2, d2;
        civil_from_days(days, &y2, &m2, &d2);
        if ((unsigned) d2 != d)
                return -EINVAL; /* 31 April and friends */
        *ret = ((uint64_t) days * 86400 + h * 3600 + mi * 60 + se) * USEC_PER_SEC;
        return 0;
}

int reminder_command_parse(const void *payload, size_t len, ReminderCommand *ret, ReminderCommandError *ret_error) {
        static const char *const keys[] = { "action", "minutes", "until", NULL };
        const JsonParseLimits limits = { .max_size = REMINDER_COMMAND_MAX_SIZE, .max_depth = 2, .max_values = 16 };
        _cleanup_(json_document_freep) JsonDocument *doc = NULL;
        JsonParseError pe = {};
        const JsonValue *root, *minutes_v, *until_v;
        ReminderCommand cmd = {};
        const char *action;
        int64_t minutes = 0;
        int r;

        r = json_parse(payload, len, &limits, &doc, &pe);
        if (r < 0)
                return fail_json(ret_error, r, &pe);
        root = json_document_root(doc);
        r = json_expect_object_keys(root, "command", keys, &pe);
        if (r < 0)
                return fail_json(ret_error, r, &pe);
        r = json_expect_string(json_value_member(root, "action"), "action", 16, &action, &pe);
        if (r < 0)
                return fail_json(ret_error, r, &pe);
        minutes_v = json_value_member(root, "minutes");
        until_v = json_value_member(root, "until");

        if (streq(action, "snooze")) {
                cmd.action = REMINDER_ACTION_SNOOZE;
                if (until_v)
                        return fail(ret_error, -EINVAL, "'until': not allowed with snooze");
                r = json_expect_int64(minutes_v, "minutes", 1, REMINDER_SNOOZE_MAX_MIN, &minutes, &pe);
                if (r < 0)
                        return fail_json(ret_error, r, &pe);
                cmd.minutes = (uint32_t) minutes;
        } else if (streq(action, "pause")) {
                cmd.action = REMINDER_ACTION_PAUSE;
                if (minutes_v && until_v)
                        return fail(ret_error, -EINVAL, "'minutes' and 'until' exclude each other");
                if (minutes_v) {
                        r = json_expect_int64(minutes_v, "minutes", 1, REMINDER_PAUSE_MAX_MIN, &minutes, &pe);
                        if (r < 0)
                                return fail_json(ret_error, r, &pe);
                        cmd.minutes = (uint32_t) minutes;
                } else if (until_v) {
                        const char *s;

                        r = json_expect_string(until_v, "until", 32, &s, &pe);
                        if (r < 0)
                                return fail_json(ret_error, r, &pe);
                        if (reminder_parse_utc_timestamp(s, &cmd.until_wall_usec) < 0)
                                return fail(ret_error, -EINVAL,
                                            "'until': expected a UTC time such as 2026-05-01T18:00:00Z");
                        cmd.has_until = true;
                }
        } else if (streq(action, "resume")) {
                cmd.action = REMINDER_ACTION_RESUME;
                if (minutes_v || until_v)
                        return fail(ret_error, -EINVAL, "resume takes no other keys");
        } else
                return fail(ret_error, -EINVAL, "'action': expected \"snooze\", \"pause\" or \"resume\"");

        *ret = cmd;
        return 0;
}
