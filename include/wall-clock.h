/* SPDX-License-Identifier: MIT */
#pragma once

/* The wall clock the gateway's shells run on: CLOCK_REALTIME, unless a test compresses it.
 *
 * INSOLE2MQTT_TEST_CLOCK=EPOCH:SPEED (seconds since 1970, a speed-up from 1 to 100000) starts the
 * wall clock at EPOCH when the gateway starts and runs it SPEED times faster than real time, so
 * that days pass in minutes (tests/integration/test-alert-days.py). Only the calendar is
 * compressed: the monotonic clock, and with it walking, timers and timeouts, runs at real speed.
 * Not for production: the gateway warns at start when it is set. */

#include <stdint.h>

/* Reads INSOLE2MQTT_TEST_CLOCK once. Returns 0 (unset), 1 (a test clock runs) or -EINVAL. */
int wall_clock_setup(void);

/* Microseconds since 1970 on the gateway's wall clock. */
uint64_t wall_clock_usec(void);

/* 1 for the real clock. */
double wall_clock_speed(void);
