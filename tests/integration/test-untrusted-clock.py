#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""A gateway started on a machine whose wall clock nobody vouches for (a Raspberry Pi before NTP,
trust-wall-clock = no): there is no local day yet, so the steps message, whose steps_today counts
from local midnight of `day`, waits instead of publishing a day it does not know. The steps are
counted meanwhile; once the clock is trusted (here: the configuration vouches for it, SIGHUP) the
message goes out with a real day and every step walked before. Where the host's clock is already
synchronised there is nothing to wait for, and the first part is skipped. Prints TAP."""

import signal
import sys
import time

from harness import (BASE, Subscriber, Tap, World, host_clock_synchronised, load_schema, payloads, schema_errors,
                     wait_for)

LEFT, RIGHT = "AA:00:00:00:07:01", "AA:00:00:00:07:02"


def config(world, port, trust):
    return world.gateway_config("gw", "[gateway]\nid = gw\nstate-directory = %s\ntrust-wall-clock = %s\n\n"
                                      "[mqtt]\nhost = 127.0.0.1\nport = %d\nhomeassistant = no\n\n"
                                      "[metrics]\npublish-interval = 2s\n\n"
                                      "[wearer anna]\nleft = %s\nright = %s\n"
                                      % (world.path("gw-state"), trust, port, LEFT, RIGHT))


def main():
    tap = Tap()
    world = World("insole2mqtt-clock.")
    schema = load_schema("steps")
    try:
        port = world.broker()
        env = world.bus("bus")
        world.sim(env, "wearer anna left=%s right=%s mode=walking cadence=110\n" % (LEFT, RIGHT), "sim.log")
        sub = Subscriber(world, port)
        gateway = world.gateway(env, config(world, port, "no"), "gateway.log", level="info")

        def steps():
            return [p for p in payloads(sub.messages(), BASE + "/anna/steps") if p]

        def today_steps():
            days = [p for p in payloads(sub.messages(), BASE + "/anna/today") if p]
            return days[-1].get("steps", 0) if days else 0

        if host_clock_synchronised():
            tap(True, "# SKIP the host's clock is synchronised: the day is known from the start")
        else:
            # walking: the gait and today messages flow, steps are counted, none is a steps message
            wait_for(lambda: today_steps() >= 10, 30)
            time.sleep(3)
            tap(today_steps() >= 10, "walking is counted while the clock is not trusted",
                world.log_tail("gateway.log"))
            tap(not steps(), "no steps message without a day", steps()[-1:])

        config(world, port, "yes")
        mark = len(sub.messages())
        gateway.send_signal(signal.SIGHUP)
        # the first steps message may come before 10 steps when the clock was trusted from the start
        got = wait_for(lambda: [p for p in payloads(sub.messages()[mark:], BASE + "/anna/steps")
                                if p and p.get("steps_today", 0) >= 10], 30)
        last = got[-1] if got else {}
        tap(bool(got) and last.get("steps_today", 0) >= 10,
            "once the clock is trusted the steps go out, with the steps walked before", last)
        errors = [e for p in steps() for e in schema_errors(schema, p)]
        tap(bool(steps()) and not errors, "every steps message has a day and matches the schema", errors[:3])
        gateway.terminate()
        gateway.wait(10)
    finally:
        world.close(bool(tap.results) and all(tap.results))
    return tap.finish()


if __name__ == "__main__":
    sys.exit(main())
