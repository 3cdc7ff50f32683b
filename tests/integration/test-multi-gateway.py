#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Several gateways, one broker: a clinic has a gateway in each room. Two simulated rooms, each
its own bluetoothd (a simulator on its own private bus) and gateway; the same wearer walks in room
A, leaves it, keeps walking, and arrives in room B. Both simulators play the same seeded person,
so the insoles' own step counters agree between the rooms.

Checks: one set of wearer topics; room B continues the day's count where room A left it; the steps
taken between the rooms are counted exactly once (the day's count grows by exactly what the
insoles' own counters grew by since room A last accounted for them); each gateway keeps its own
bridge topics. A second wearer with a footpod takes the same walk: room B continues the distance
today and total where room A left them, and the metres walked between the rooms are counted once
(the total grows by exactly what the footpod's own Total Distance grew by). Prints TAP."""

import sys
import time

from harness import BASE, Subscriber, Tap, World, payloads, wait_for

LEFT, RIGHT = "AA:00:00:00:01:01", "AA:00:00:00:01:02"
POD = "AA:00:00:00:01:05"
WALK = ("wearer anna left=%s right=%s mode=walking cadence=110 weight=70\n"
        "wearer ben mode=walking cadence=100 speed=1.4\nfootpod ben %s\n" % (LEFT, RIGHT, POD))
LEAVE_A_S = 15
ARRIVE_B_S = 20


def config(world, gateway, port):
    return world.gateway_config(gateway, "[gateway]\nid = %s\nstate-directory = %s\ntrust-wall-clock = yes\n"
                                         "[bluetooth]\nbackoff-initial = 1s\nbackoff-max = 2s\n"
                                         "[mqtt]\nhost = 127.0.0.1\nport = %d\n"
                                         "[metrics]\npublish-interval = 2s\n"
                                         "[wearer anna]\nleft = %s\nright = %s\nbody-weight-kg = 70\n"
                                         "[wearer ben]\nfootpod = %s\n"
                                         % (gateway, world.path(gateway + "-state"), port, LEFT, RIGHT, POD))


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
        world.sim(env_a, WALK + "".join("at %ds out-of-range %s\n" % (LEAVE_A_S, d) for d in (LEFT, RIGHT, POD)),
                  "sim-a.log")
        world.sim(env_b, WALK + "".join("at 0s out-of-range %s\nat %ds in-range %s\n" % (d, ARRIVE_B_S, d)
                                        for d in (LEFT, RIGHT, POD)), "sim-b.log")
        world.gateway(env_a, config(world, "room-a", port), "gateway-a.log")
        world.gateway(env_b, config(world, "room-b", port), "gateway-b.log")
        start = time.monotonic()

        def steps_by(gateway, wearer="anna"):
            return [p for p in payloads(sub.messages(), BASE + "/%s/steps" % wearer) if p and p.get("gateway") == gateway]

        wait_for(lambda: len(steps_by("room-b")) >= 5 and len(steps_by("room-b", "ben")) >= 5, ARRIVE_B_S + 30)
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

        # ---- the footpod wearer's distance, handed over like the steps
        ben = [p for p in payloads(msgs, BASE + "/ben/steps") if p]
        pa = [p for p in ben if p.get("gateway") == "room-a"]
        pb = [p for p in ben if p.get("gateway") == "room-b"]

        def pod_dm(p):
            return p.get("devices", {}).get("footpod", {}).get("total_distance_dm")

        def dm(p, key):
            return round(p.get(key, 0) * 10)
        tap(len(pa) >= 3 and dm(pa[-1], "distance_total_m") > 0 and len(pb) >= 3,
            "both rooms count the footpod wearer's distance in turn",
            "%s\n%s" % (pa[-2:], world.log_tail("gateway-b.log")))
        if pa and pb:
            first_pb = ben.index(pb[0])
            tap(all(p.get("gateway") == "room-a" for p in ben[:first_pb]) and
                all(p.get("gateway") == "room-b" for p in ben[first_pb:]),
                "one gateway at a time speaks for the footpod wearer", [p.get("gateway") for p in ben])
            totals = [dm(p, "distance_total_m") for p in ben]
            tap(totals == sorted(totals) and dm(pb[0], "distance_total_m") >= dm(pa[-1], "distance_total_m"),
                "room B continues the distance from room A's total", totals)
            da, db = pod_dm(pa[-1]), pod_dm(pb[-1])
            tap(da is not None and db is not None, "both rooms publish the footpod's Total Distance",
                "A %s\nB %s" % (pa[-1], pb[-1]))
            if da is not None and db is not None:
                grown_total = dm(pb[-1], "distance_total_m") - dm(pa[-1], "distance_total_m")
                grown_today = dm(pb[-1], "distance_today_m") - dm(pa[-1], "distance_today_m")
                tap(grown_total == db - da and grown_today == db - da,
                    "metres between the rooms counted exactly once (%.1f m since room A)" % ((db - da) / 10),
                    "total grew %d dm, today %d dm, the footpod's Total Distance %d dm"
                    % (grown_total, grown_today, db - da))
                transit = pod_dm(pb[0]) - da if pod_dm(pb[0]) is not None else 0
                tap(transit > 0, "the footpod wearer walked between the rooms (%.1f m in transit)" % (transit / 10))

        states_a = payloads(msgs, BASE + "/bridge/room-a/state")
        states_b = payloads(msgs, BASE + "/bridge/room-b/state")
        tap(any(p and p.get("state") == "online" for p in states_a) and
            any(p and p.get("state") == "online" for p in states_b), "each gateway has its own bridge state")
        wearer_topics = {t.split("/")[1] for t, _, _ in msgs if not t.startswith(BASE + "/bridge/")}
        tap(wearer_topics == {"anna", "ben"}, "one set of wearer topics", wearer_topics)
        avail = [p for p in payloads(msgs, BASE + "/anna/availability") if p]
        tap(bool(avail) and avail[-1] == {"state": "online", "gateway": "room-b"},
            "the wearer is available at room B now", avail[-4:])
    finally:
        world.close(bool(tap.results) and all(tap.results))
    return tap.finish()


if __name__ == "__main__":
    sys.exit(main())
