/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>

struct mosquitto;

/* mosquitto_new() without libmosquitto's internal wake-up socketpair (see the .c file): for a
 * client driven from an event loop with mosquitto_loop_read()/_write(), never from
 * mosquitto_loop*() with its own select(). Falls back to a plain mosquitto_new(). */
struct mosquitto *mqtt_mosquitto_new_without_wakeup_pair(const char *id, bool clean_session, void *userdata);
