/* SPDX-License-Identifier: MIT */
#pragma once

/* The commands on <base>/<wearer>/reminder/set, parsed from untrusted bytes into values
 * (daemon/reminders/reminder-command.c). Pure: no clock, no state; coach_command() checks what
 * depends on the time and applies them. */

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "json-parse.h"

#define REMINDER_COMMAND_MAX_SIZE 1024U
#define REMINDER_SNOOZE_MAX_MIN (12 * 60)
#define REMINDER_PAUSE_MAX_MIN (7 * 24 * 60)

typedef enum ReminderAction {
        REMINDER_ACTION_SNOOZE,
        REMINDER_ACTION_PAUSE,
        REMINDER_ACTION_RESUME,
        _REMINDER_ACTION_MAX,
        _REMINDER_ACTION_INVALID = -EINVAL,
} ReminderAction;

typedef struct ReminderCommand {
        ReminderAction action;
        uint32_t minutes;         /* snooze; pause for this long; 0 = not given */
        bool has_until;
        uint64_t until_wall_usec; /* pause until this UTC time (CLOCK_REALTIME) */
} ReminderCommand;

typedef struct ReminderCommandError {
        int64_t offset;           /* byte offset of the problem in the payload, -1 when none applies */
        char message[JSON_PARSE_ERROR_MAX];
} ReminderCommandError;

/* {"action":"snooze","minutes":15}, {"action":"pause","minutes":60},
 * {"action":"pause","until":"2026-05-01T18:00:00Z"}, {"action":"pause"} (until resumed),
 * {"action":"resume"}. Returns 0, or -errno with a one-line message in *ret_error. */
int reminder_command_parse(const void *payload, size_t len, ReminderCommand *ret, ReminderCommandError *ret_error);

/* "2026-05-01T18:00:00Z" -> usec since the epoch. UTC only: the payload says what it means. */
int reminder_parse_utc_timestamp(const char *s, uint64_t *ret);
