#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Days of walking on a compressed clock, end to end through MQTT. The gateway's wall clock starts
on 2026-12-01 and runs 540 times faster than real time (INSOLE2MQTT_TEST_CLOCK, include/wall-clock.h),
so a day lasts 160 s while walking, timers and the monotonic clock run at real speed. The simulated
wearer walks three ordinary days (about 370 strides each, enough to count; each day's walking
varies as the simulator's day-to-day model says); each local midnight
publishes the day's summary and moves the day into the history and the baseline, which is ready
after the third. On the fourth day she walks with a limp: an alert for the left-right step time
difference within that day, the Home Assistant sensor on, an acknowledgement turns it off.

Opt-in, since it needs 10 minutes of simulated walking: INSOLE2MQTT_LONG_TESTS=1 (scripts/test.sh
--long). Otherwise it reports a skip. Prints TAP."""

import datetime
import os
import subprocess
import sys
import time

from harness import BASE, Subscriber, Tap, World, load_schema, payloads, schema_errors, wait_for

LEFT, RIGHT = "AA:00:00:00:09:01", "AA:00:00:00:09:02"
START = datetime.datetime(2026, 12, 1, tzinfo=datetime.timezone.utc)
SPEED = 540
DAY_S = 86400 / SPEED
BASELINE_DAYS = 3


def day(k):
    """The k-th day of the run, 0 = the first one, as the gateway writes it."""
    return (START.date() + datetime.timedelta(days=k)).isoformat()


def main():
    if os.environ.get("INSOLE2MQTT_LONG_TESTS") != "1":
        print("1..0 # SKIP 10 minutes of walking; INSOLE2MQTT_LONG_TESTS=1 runs it")
        return 0
    tap = Tap()
    world = World("insole2mqtt-alert-days.")
    try:
        port = world.broker()
        env = world.bus("bus")
        conf = world.gateway_config("gw", "[gateway]\nid = gw\nstate-directory = %s\ntrust-wall-clock = yes\n"
                                          "[mqtt]\nhost = 127.0.0.1\nport = %d\n"
                                          "[metrics]\npublish-interval = 2s\n"
                                          "[reminders]\nenabled = no\n"
                                          "[alerts]\nmetrics = step_time_asym\nbaseline-days = %d\n"
                                          "[wearer anna]\nleft = %s\nright = %s\nbody-weight-kg = 70\ntimezone = UTC\n"
                                   % (world.path("gw-state"), port, BASELINE_DAYS, LEFT, RIGHT))
        sub = Subscriber(world, port)
        world.sim(env, "wearer anna left=%s right=%s mode=walking cadence=140 weight=70\n" % (LEFT, RIGHT), "sim.log")
        gw_env = dict(env, INSOLE2MQTT_TEST_CLOCK="%d:%d" % (START.timestamp(), SPEED))
        start = time.monotonic()
        world.gateway(gw_env, conf, "gateway.log", level="info")

        def sim_action(line):
            subprocess.call(["busctl", "--system", "call", "net.insole2mqtt.Sim", "/net/insole2mqtt/Sim",
                             "net.insole2mqtt.Sim1", "Action", "s", line], env=env, stdout=subprocess.DEVNULL)

        def latest(topic):
            p = [x for x in payloads(sub.messages(), BASE + "/anna/" + topic) if x]
            return p[-1] if p else None

        def daily(d):
            return [p for p in payloads(sub.messages(), BASE + "/anna/daily") if p and p.get("date") == d]

        def events(kind):
            return [p for p in payloads(sub.messages(), BASE + "/anna/alert") if p and p.get("event") == kind]

        st = wait_for(lambda: latest("alert/state"), 20)
        tap(bool(st) and st.get("state") == "learning" and st.get("needed_days") == BASELINE_DAYS,
            "at the start: learning, %d days needed" % BASELINE_DAYS, st)

        for k in range(BASELINE_DAYS):
            s = wait_for(lambda: daily(day(k)), DAY_S + 60, step=1)
            s = s[-1] if s else {}
            g = s.get("gait") or {}
            tap(g.get("counted") is True and g.get("strides", 0) >= 300,
                "%s ended at its midnight (%.0f s in): %s strides, counted" %
                (day(k), time.monotonic() - start, g.get("strides")),
                "%s\n%s" % (s, world.log_tail("gateway.log")))
            # the next day's walking, with the day-to-day variability of docs/simulator.md
            sim_action("day anna %d" % (k + 1))
            base = wait_for(lambda: (latest("baseline") or {}).get("history_days", 0) >= k + 1 and latest("baseline"), 10)
            tap(bool(base) and base.get("days") == k + 1 and base.get("ready") is (k + 1 >= BASELINE_DAYS),
                "the baseline has %d day(s) behind it%s" % (k + 1, ", and is ready" if k + 1 >= BASELINE_DAYS else ""),
                base)
        if base:
            errs = schema_errors(load_schema("baseline"), base)
            tap(not errs, "the baseline payload matches docs/schema/baseline.json", errs)
        st = wait_for(lambda: (latest("alert/state") or {}).get("state") == "watching" and latest("alert/state"), 10)
        tap(bool(st), "alert/state: watching from %s on" % day(BASELINE_DAYS), latest("alert/state"))

        # The onset: from the fourth day on she walks with a limp.
        sim_action("mode anna walking asymmetry=0.12")
        onset = time.monotonic()
        changed = wait_for(lambda: events("changed"), DAY_S - 5, step=1)
        c = changed[0] if changed else {}
        # asymmetry = right step / left step - 1: the right steps lengthen, left minus right falls.
        tap(c.get("metric") == "step_time_asym" and c.get("direction") == "down" and c.get("since") == day(BASELINE_DAYS)
            and c.get("date") == day(BASELINE_DAYS) and 300 <= c.get("strides", 0) <= 1000,
            "within %s, the day the limp began: the left-right step time difference fell (after %.0f s, %s strides)" %
            (day(BASELINE_DAYS), time.monotonic() - onset, c.get("strides")),
            "%s\n%s" % (c, world.log_tail("gateway.log")))
        st = wait_for(lambda: (latest("alert/state") or {}).get("changed") and latest("alert/state"), 10)
        tap(bool(st) and st.get("state") == "changed", "alert/state: changed (the Home Assistant sensor is on)", st)

        subprocess.call(["mosquitto_pub", "-h", "127.0.0.1", "-p", str(port), "-q", "1",
                         "-t", BASE + "/anna/alert/set", "-m", '{"action":"acknowledge"}'])
        st = wait_for(lambda: (latest("alert/state") or {}).get("state") == "acknowledged" and latest("alert/state"), 10)
        tap(bool(st) and st.get("changed") is False, "acknowledged: the sensor is off again", latest("alert/state"))
    finally:
        world.close(bool(tap.results) and all(tap.results))
    return tap.finish()


if __name__ == "__main__":
    sys.exit(main())
