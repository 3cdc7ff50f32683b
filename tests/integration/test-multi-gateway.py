#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Several gateways, one broker: a clinic has a gateway in each room. Two simulated rooms, each
its own bluetoothd (a simulator on its own private bus) and gateway; the same wearer walks in room
A, leaves it, keeps walking, and arrives in room B. Both simulators play the same seeded person,
so the insoles' own step counters agree between the rooms.

Checks: one set of wearer topics; room B continues the day's count where room A left it; the steps
taken between the rooms are counted exactly once (the day's count grows by exactly what the
insoles' own counters grew by since room A last accounted for them); each gateway keeps its own
bridge topics. Prints TAP."""

import sys
import time

from harness import BASE, Subscriber, Tap, World, payloads, wait_for

LEFT, RIGHT = "AA:00:00:00:01:01", "AA:00:00:00:01:02"
WALK = "wearer anna left=%s right=%s mode=walking cadence=110 weight=70\n" % (LEFT, RIGHT)
LEAVE_A_S = 15
ARRIVE_B_S = 20


def config(world, gateway, port):
    return world.gateway_config(gateway, "[gateway]\nid = %s\nstate-directory = %s\ntrust-wall-clock = yes\n"
                                         "[bluetooth]\nbackoff-initial = 1s\nbackoff-max = 2s\n"
                                         "[mqtt]\nhost = 127.0.0.1\nport = %d\n"
                                         "[metrics]\npublish-interval = 2s\n"
                                         "[wearer anna]\nleft = %s\nright = %s\nbody-weight-kg = 70\n"
                                         % (gateway, world.path(gateway + "-state"), port, LEFT, RIGHT))


def device_sum(p):
    d = p.get("devices", {})
    if "left" not in d or "right" not in d:
        return None
    return d["left"]["steps"] + d["right"]["steps"]


def main():
    tap = Tap()
    world = World("insole2mqtt-rooms.")
    try:
        port = world.broker()
        env_a = world.bus("bus-a")
        env_b = world.bus("bus-b")
        sub = Subscriber(world, port, topics=(BASE + "/#",))
        # Both rooms' simulators start together and play the same person.
        world.sim(env_a, WALK + "at %ds out-of-range %s\nat %ds out-of-range %s\n"
                  % (LEAVE_A_S, LEFT, LEAVE_A_S, RIGHT), "sim-a.log")
        world.sim(env_b, WALK + "at 0s out-of-range %s\nat 0s out-of-range %s\nat %ds in-range %s\nat %ds in-range %s\n"
                  % (LEFT, RIGHT, ARRIVE_B_S, LEFT, ARRIVE_B_S, RIGHT), "sim-b.log")
        world.gateway(env_a, config(world, "room-a", port), "gateway-a.log")
        world.gateway(env_b, config(world, "room-b", port), "gateway-b.log")
        start = time.monotonic()

        def steps_by(gateway):
            return [p for p in payloads(sub.messages(), BASE + "/anna/steps") if p and p.get("gateway") == gateway]

        wait_for(lambda: len(steps_by("room-b")) >= 5, ARRIVE_B_S + 30)
        time.sleep(max(0, ARRIVE_B_S + 12 - (time.monotonic() - start)))
        msgs = sub.messages()
        steps = [p for p in payloads(msgs, BASE + "/anna/steps") if p]
        a = [p for p in steps if p.get("gateway") == "room-a"]
        b = [p for p in steps if p.get("gateway") == "room-b"]

        tap(len(a) >= 3 and a[-1]["steps_today"] > 0, "room A counts the wearer first",
            "%s\n%s" % (a[-3:], world.log_tail("gateway-a.log")))
        tap(len(b) >= 3, "room B picks the wearer up", world.log_tail("gateway-b.log"))
        if not (a and b):
            return tap.finish()

        first_b = steps.index(b[0])
        tap(all(p.get("gateway") == "room-a" for p in steps[:first_b]) and
            all(p.get("gateway") == "room-b" for p in steps[first_b:]),
            "one gateway at a time speaks for the wearer", [p.get("gateway") for p in steps])

        todays = [p["steps_today"] for p in steps]
        tap(todays == sorted(todays), "the day's count never goes back across the move", todays)
        tap(b[0]["steps_today"] >= a[-1]["steps_today"], "room B continues from room A's count",
            "A last %d, B first %d" % (a[-1]["steps_today"], b[0]["steps_today"]))

        # Exactly once: room B added what the insoles counted since room A last accounted for them.
        da, db = device_sum(a[-1]), device_sum(b[-1])
        same_boot = all(a[-1].get("devices", {}).get(s, {}).get("boot_id") ==
                        b[-1].get("devices", {}).get(s, {}).get("boot_id") for s in ("left", "right"))
        tap(da is not None and db is not None and same_boot, "both rooms see the same insole boots",
            "A %s\nB %s" % (a[-1].get("devices"), b[-1].get("devices")))
        if da is not None and db is not None:
            grown_today = b[-1]["steps_today"] - a[-1]["steps_today"]
            grown_insoles = db - da
            tap(grown_today == grown_insoles, "steps between the rooms counted exactly once",
                "day count grew %d, insole counters grew %d" % (grown_today, grown_insoles))
            in_transit = device_sum(b[0]) - da if device_sum(b[0]) is not None else 0
            tap(in_transit > 0, "the wearer walked between the rooms (%d steps in transit)" % in_transit)

        states_a = payloads(msgs, BASE + "/bridge/room-a/state")
        states_b = payloads(msgs, BASE + "/bridge/room-b/state")
        tap(any(p and p.get("state") == "online" for p in states_a) and
            any(p and p.get("state") == "online" for p in states_b), "each gateway has its own bridge state")
        wearer_topics = {t.split("/")[1] for t, _, _ in msgs if not t.startswith(BASE + "/bridge/")}
        tap(wearer_topics == {"anna"}, "one set of wearer topics", wearer_topics)
        avail = [p for p in payloads(msgs, BASE + "/anna/availability") if p]
        tap(bool(avail) and avail[-1] == {"state": "online", "gateway": "room-b"},
            "the wearer is available at room B now", avail[-4:])
    finally:
        world.close(bool(tap.results) and all(tap.results))
    return tap.finish()


if __name__ == "__main__":
    sys.exit(main())
