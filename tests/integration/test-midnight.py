#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Local midnight, live: anna walks through the end of her day. Her time zone is one made for
the test (zic, $TZDIR, an offset to the second) so that her midnight falls 25 s after the gateway
starts. At midnight the day's summary (`daily`) is published for the day that ended, with the
steps walked before it; `steps` starts the new day from zero while the total keeps growing; the
day goes into the gait history (`gait-history.json`, `baseline`'s history_days) and a restart after
midnight keeps the new day's count. Prints TAP."""

import datetime
import json
import os
import subprocess
import sys
import time

from harness import BASE, Subscriber, Tap, World, payloads, wait_for

LEFT, RIGHT = "AA:00:00:00:08:01", "AA:00:00:00:08:02"
BEFORE_MIDNIGHT_S = 40  # the gateway must connect and count 10 steps before it, under ASan and load too


def make_zone(world, seconds_to_midnight):
    """A zone whose local midnight is seconds_to_midnight from now; returns (TZDIR, the date that ends)."""
    now = int(time.time())
    offset = (86400 - seconds_to_midnight - now % 86400) % 86400
    if offset > 12 * 3600:
        offset -= 86400
    sign, a = ("-" if offset < 0 else ""), abs(offset)
    src = world.path("zone.src")
    with open(src, "w") as f:
        f.write("Zone Test/Midnight %s%d:%02d:%02d - TST\n" % (sign, a // 3600, a % 3600 // 60, a % 60))
    tzdir = world.path("zoneinfo")
    subprocess.check_call(["zic", "-d", tzdir, src])
    ending = datetime.datetime.fromtimestamp(now + offset, datetime.timezone.utc).date()
    return tzdir, ending


def config(world, port):
    return world.gateway_config("gw", "[gateway]\nid = gw\nstate-directory = %s\ntrust-wall-clock = yes\n\n"
                                      "[mqtt]\nhost = 127.0.0.1\nport = %d\nhomeassistant = no\n\n"
                                      "[metrics]\npublish-interval = 2s\n\n"
                                      "[wearer anna]\nleft = %s\nright = %s\ntimezone = Test/Midnight\n"
                                      % (world.path("gw-state"), port, LEFT, RIGHT))


def main():
    tap = Tap()
    world = World("insole2mqtt-midnight.")
    try:
        port = world.broker()
        env = world.bus("bus")
        tzdir, ending = make_zone(world, BEFORE_MIDNIGHT_S)
        day_ending, day_new = ending.isoformat(), (ending + datetime.timedelta(days=1)).isoformat()
        world.sim(env, "wearer anna left=%s right=%s mode=walking cadence=110\n" % (LEFT, RIGHT), "sim.log")
        sub = Subscriber(world, port)
        conf = config(world, port)
        gw_env = dict(env, TZDIR=tzdir)
        gateway = world.gateway(gw_env, conf, "gateway.log", level="info")

        def steps(day):
            return [p for p in payloads(sub.messages(), BASE + "/anna/steps") if p and p.get("day") == day]

        def daily():
            return [p for p in payloads(sub.messages(), BASE + "/anna/daily") if p and p.get("date") == day_ending]

        before = wait_for(lambda: [p for p in steps(day_ending) if p.get("steps_today", 0) >= 10], BEFORE_MIDNIGHT_S)
        last_before = before[-1] if before else {}
        tap(bool(before), "before her midnight: steps counted for %s" % day_ending, world.log_tail("gateway.log"))

        summary = wait_for(daily, BEFORE_MIDNIGHT_S + 20)
        s = summary[-1] if summary else {}
        tap(bool(s) and s.get("steps", 0) >= last_before.get("steps_today", 1) and s.get("hours") == 24,
            "at midnight: the daily summary of %s, with the steps walked before it" % day_ending, s)
        gait = (s.get("gait") or {})
        tap(gait.get("strides", 0) > 0 and "line" in (gait.get("alerts") or {}),
            "the summary carries the day's gait values and the alerts' line", gait)

        new = wait_for(lambda: [p for p in steps(day_new) if p.get("steps_today", 0) > 0], 20)
        n = new[-1] if new else {}
        # a fresh state directory: everything before midnight is the ended day's
        tap(bool(n) and abs(n.get("steps_total", 0) - n["steps_today"] - s.get("steps", -99)) <= 3 and
            n.get("steps_total", 0) >= last_before.get("steps_total", 0) + n["steps_today"],
            "the new day %s counts from zero, the total keeps growing" % day_new, (last_before, s.get("steps"), n))

        base = wait_for(lambda: [p for p in payloads(sub.messages(), BASE + "/anna/baseline")
                                 if p and p.get("history_days", 0) >= 1], 10)
        tap(bool(base), "the baseline message counts the ended day in the history",
            payloads(sub.messages(), BASE + "/anna/baseline")[-1:])

        gateway.terminate()
        gateway.wait(10)
        with open(os.path.join(world.path("gw-state"), "gait-history.json")) as f:
            history = json.load(f)
        days = [d[0] for d in history["wearers"]["anna"]["days"]]
        tap(day_ending in days, "gait-history.json keeps %s" % day_ending, days)

        # a restart after midnight: the new day's count is kept
        mark = len(sub.messages())
        gateway = world.gateway(gw_env, conf, "gateway2.log", level="info")
        again = wait_for(lambda: [p for p in payloads(sub.messages()[mark:], BASE + "/anna/steps")
                                  if p and p.get("day") == day_new], 20)
        a = again[-1] if again else {}
        tap(bool(a) and a.get("steps_today", 0) >= n.get("steps_today", 1),
            "after a restart the new day continues from its count", (n, a))
        gateway.terminate()
        gateway.wait(10)
    finally:
        world.close(bool(tap.results) and all(tap.results))
    return tap.finish()


if __name__ == "__main__":
    sys.exit(main())
