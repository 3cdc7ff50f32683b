#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Data from the broker is checked for plausibility. Gateway "hall" knows wearer anna, whose insoles
are in another room (gateway "home", in trusted-gateways). hall follows home's retained step count,
but refuses a forged 4.6e18 (more than anyone walks in the time since the last known count), a
count from a gateway that is not in trusted-gateways, and keeps them out of what it publishes and
of its state file; an ordinary update is still taken over. The same for a footpod wearer's
distance: a forged 1e11 m is refused, an ordinary update taken over. Prints TAP."""

import json
import os
import signal
import subprocess
import sys
import time

from harness import BASE, Subscriber, Tap, World, payloads, wait_for

FORGED = 4600000000000000000


def main():
    tap = Tap()
    world = World("insole2mqtt-forged.")
    try:
        port = world.broker()
        env = world.bus("bus")
        # hall's radio hears only somebody else's insoles
        world.sim(env, "wearer zed left=AA:00:00:00:04:01 right=AA:00:00:00:04:02 mode=standing\n", "sim.log")
        conf = world.gateway_config("hall", "[gateway]\nid = hall\nstate-directory = %s\ntrust-wall-clock = yes\n"
                                            "trusted-gateways = home\n\n"
                                            "[mqtt]\nhost = 127.0.0.1\nport = %d\n\n"
                                            "[metrics]\npublish-interval = 1s\n\n"
                                            "[wearer anna]\nleft = AA:00:00:00:05:01\nright = AA:00:00:00:05:02\n"
                                            "timezone = UTC\n\n[wearer pia]\nfootpod = AA:00:00:00:05:05\n"
                                            "timezone = UTC\n" % (world.path("hall-state"), port))
        day = time.strftime("%Y-%m-%d", time.gmtime())
        seq = [0]

        def steps(gateway, today, total, retain=True, wearer="anna", **extra):
            seq[0] += 1
            p = {"timestamp": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime()), "seq": seq[0],
                 "steps_today": today, "steps_total": total, "day": day, "gateway": gateway, **extra}
            args = ["mosquitto_pub", "-h", "127.0.0.1", "-p", str(port), "-q", "1", "-t", BASE + "/%s/steps" % wearer,
                    "-m", json.dumps(p)]
            subprocess.check_call(args + (["-r"] if retain else []))

        sub = Subscriber(world, port, topics=(BASE + "/anna/#", BASE + "/pia/#"))
        gw = world.gateway(env, conf, "hall.log", level="info")

        def today_steps():
            t = [p for p in payloads(sub.messages(), BASE + "/anna/today") if p]
            return t[-1].get("steps") if t else None

        wait_for(lambda: today_steps() is not None, 20)  # hall knows what day it is
        steps("home", 1000, 5000)

        tap(wait_for(lambda: today_steps() == 1000, 20), "home's retained count is taken over", today_steps())
        n_before = len(sub.messages())
        steps("home", FORGED, FORGED)
        steps("mallory", 1100, 5100)
        time.sleep(3)
        later = [p.get("steps") for p in payloads(sub.messages()[n_before:], BASE + "/anna/today") if p]
        tap(later and all(s == 1000 for s in later), "a forged 4.6e18 and an untrusted gateway's count are refused",
            later)
        tap(not any(str(FORGED) in p for t, _, p in sub.messages()[n_before:] if not t.endswith("/steps")),
            "the forged count is never published")
        with open(world.path("hall.log"), errors="replace") as f:
            log = f.read()
        refusals = log.count("Refusing a step count")
        tap(refusals == 1, "refusals are logged at most once a minute (%d lines)" % refusals, log[-1500:])

        steps("home", 1040, 5040)
        tap(wait_for(lambda: today_steps() == 1040, 10), "an ordinary update from home is still taken over",
            today_steps())

        # a footpod wearer's distance, checked the same way
        def pia_distance():
            t = [p for p in payloads(sub.messages(), BASE + "/pia/today") if p]
            return t[-1].get("distance_m") if t else None

        steps("home", 100, 100, wearer="pia", distance_today_m=1000.0, distance_total_m=5000.0)
        tap(wait_for(lambda: pia_distance() == 1000, 10), "home's distance today is taken over", pia_distance())
        n_before = len(sub.messages())
        steps("home", 100, 100, wearer="pia", distance_today_m=1e11, distance_total_m=1e11)
        time.sleep(3)
        later = [p.get("distance_m") for p in payloads(sub.messages()[n_before:], BASE + "/pia/today") if p]
        tap(later and all(d == 1000 for d in later), "a forged distance of 1e11 m is refused", later)
        steps("home", 100, 100, wearer="pia", distance_today_m=1040.5, distance_total_m=5040.5)
        tap(wait_for(lambda: pia_distance() == 1040.5, 10), "an ordinary distance update is still taken over",
            pia_distance())

        gw.send_signal(signal.SIGTERM)
        gw.wait(10)
        with open(os.path.join(world.path("hall-state"), "state"), errors="replace") as f:
            state = f.read()
        tap(str(FORGED) not in state and "wearer.anna.steps_total=5040" in state,
            "the state file keeps the believed counts", state[:600])
        tap("wearer.pia.distance_total_dm=50405" in state, "the state file keeps the believed distance",
            [l for l in state.splitlines() if "pia" in l])
    finally:
        world.close(bool(tap.results) and all(tap.results))
    return tap.finish()


if __name__ == "__main__":
    sys.exit(main())
