/* SPDX-License-Identifier: MIT */
#pragma once

/* The [reminders] defaults, from the one place they are written: the configuration schema. */

#include "config.h"
#include "reminders.h"

static inline void reminder_settings_default(ReminderSettings *ret) {
        Config c;

        config_init(&c);
        reminder_settings_from_config(&c, ret);
        config_done(&c);
}
