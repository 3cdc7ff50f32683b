/* SPDX-License-Identifier: MIT */
#pragma once

/* The Manager owns the event loop and everything attached to it: the system bus connection, the
 * BlueZ client, the MQTT client, the per-wearer pipelines and every event source. */

#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

#include "config.h"

typedef struct Manager Manager;

/* Takes ownership of *config's contents. Logs every failure once: a problem with a configured value
 * as "FILE:LINE: [section] key: ..." (config_log_key()). */
int manager_new(Config *config, Manager **ret);
Manager *manager_free(Manager *m);
DEFINE_TRIVIAL_CLEANUP_FUNC(Manager *, manager_free);

/* Connects and arms everything; after this only asynchronous calls are made. */
/* The configuration it runs with. */
const Config *manager_config(const Manager *m);

int manager_start(Manager *m);
/* Runs the loop until SIGTERM/SIGINT; returns the exit status of the loop (0 or -errno). */
int manager_run(Manager *m);
