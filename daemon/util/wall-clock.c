/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>

#include "time-util.h"
#include "wall-clock.h"

#define TEST_CLOCK_ENV "INSOLE2MQTT_TEST_CLOCK"
#define SPEED_MAX 100000.0

/* Process-wide like the log level: set once before the loop starts, read by every shell. */
static struct {
        bool on;
        uint64_t start_wall_usec, start_mono_usec;
        double speed;
} test_clock = { .speed = 1 };

int wall_clock_setup(void) {
        const char *s = secure_getenv(TEST_CLOCK_ENV);
        char *end;
        unsigned long long epoch;
        double speed;

        if (!s || !*s)
                return 0;
        errno = 0;
        epoch = strtoull(s, &end, 10);
        if (errno != 0 || end == s || *end != ':' || epoch > UINT64_MAX / USEC_PER_SEC / 2)
                return -EINVAL;
        s = end + 1;
        speed = strtod(s, &end);
        if (end == s || *end != '\0' || !isfinite(speed) || speed < 1 || speed > SPEED_MAX)
                return -EINVAL;
        test_clock.start_wall_usec = (uint64_t) epoch * USEC_PER_SEC;
        test_clock.start_mono_usec = clock_now_usec(CLOCK_MONOTONIC);
        test_clock.speed = speed;
        test_clock.on = true;
        return 1;
}

uint64_t wall_clock_usec(void) {
        if (!test_clock.on)
                return clock_now_usec(CLOCK_REALTIME);
        return test_clock.start_wall_usec +
               (uint64_t) ((double) (clock_now_usec(CLOCK_MONOTONIC) - test_clock.start_mono_usec) * test_clock.speed);
}

double wall_clock_speed(void) {
        return test_clock.speed;
}
