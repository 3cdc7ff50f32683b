/* SPDX-License-Identifier: MIT */
#pragma once

/* The pure decisions of the BlueZ client: the data-path watchdog and the adapter escalation ladder
 * (its reconnect backoff is util's backoff.h). No I/O, no clock, no logging: time and randomness
 * come in as arguments, so the unit tests drive them directly. */

#include <stdbool.h>
#include <stdint.h>

#include "bluez.h"

/* A link that stayed up at least stable_usec resets the backoff; shorter ones keep escalating. */
bool bluez_link_is_stable(uint64_t link_up_usec, uint64_t link_down_usec, uint64_t stable_usec);

/* Notifications per second of the current link: frames counted since it started streaming. 0
 * while the link is down (since_usec 0) or before any time passed. */
double bluez_link_rate(uint64_t frames, uint64_t since_usec, uint64_t now_usec);

typedef enum BluezWatchdogAction {
        BLUEZ_WATCHDOG_OK,
        BLUEZ_WATCHDOG_SILENT,   /* connected and subscribed, but no data for too long: disconnect */
        BLUEZ_WATCHDOG_STUCK,    /* connection set-up did not finish in time: disconnect */
        _BLUEZ_WATCHDOG_ACTION_MAX,
} BluezWatchdogAction;

/* state: the device's link state; since_usec: when it entered that state; last_rx_usec: the last
 * received notification (0 = none on this link). */
BluezWatchdogAction bluez_watchdog_check(BluezLinkState state, uint64_t now_usec, uint64_t since_usec,
                                         uint64_t last_rx_usec, uint64_t silence_timeout_usec,
                                         uint64_t setup_timeout_usec);

typedef enum BluezEscalation {
        BLUEZ_ESCALATE_NONE,
        BLUEZ_ESCALATE_POWER_CYCLE, /* power the adapter off and on */
        BLUEZ_ESCALATE_EXIT,        /* give up: the Manager exits non-zero and systemd restarts us */
        _BLUEZ_ESCALATION_MAX,
} BluezEscalation;

typedef struct BluezAdapterHealth {
        unsigned reset_after;        /* consecutive failures before a power cycle; 0 = never */
        unsigned exit_after;         /* power cycles without a success before exiting; 0 = never */
        unsigned failures;           /* consecutive failures since the last success or power cycle */
        unsigned resets;             /* power cycles since the last success */
} BluezAdapterHealth;

void bluez_adapter_health_init(BluezAdapterHealth *h, unsigned reset_after, unsigned exit_after);
/* New thresholds (a reload): failures and power cycles counted so far count against them. */
void bluez_adapter_health_set_limits(BluezAdapterHealth *h, unsigned reset_after, unsigned exit_after);
/* A device on the adapter reached streaming: everything is forgiven. */
void bluez_adapter_health_success(BluezAdapterHealth *h);
/* A failure that points at the adapter (a connection attempt to a device that was advertising, a
 * silent link, services that never appeared). Returns what to do now. */
BluezEscalation bluez_adapter_health_failure(BluezAdapterHealth *h);
