#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""A pair of Ukaton Mission insoles (the simulator impersonates them: sensor data 6002, its
configuration 6001, step count c002) reach the gait engine like any insole: the gateway writes the
configuration that starts their pressure stream, their 16 sensors feed <base>/<wearer>/gait
(cadence, steps, two-foot figures) and their own step counters <base>/<wearer>/steps. Real
mosquitto, a private dbus-daemon, the gateway binary. Prints TAP."""

import json
import sys

from harness import BASE, Subscriber, Tap, World, payloads, wait_for

LEFT, RIGHT = "AA:00:00:00:0C:01", "AA:00:00:00:0C:02"


def main():
    tap = Tap()
    world = World("insole2mqtt-ukaton.")
    try:
        port = world.broker()
        env = world.bus("bus")
        world.sim(env, "wearer uk mode=walking cadence=110 weight=70\n"
                       "ukaton uk left %s\nukaton uk right %s\n" % (LEFT, RIGHT), "sim.log")
        sub = Subscriber(world, port)
        conf = world.gateway_config("gw", (
            "[gateway]\nid = gw\nstate-directory = %s\ntrust-wall-clock = yes\n\n"
            "[bluetooth]\nbackoff-initial = 1s\n\n"
            "[mqtt]\nhost = 127.0.0.1\nport = %d\n\n"
            "[metrics]\npublish-interval = 2s\n\n"
            "[wearer uk]\nleft = %s\nright = %s\nbody-weight-kg = 70\n") % (world.path("gw-state"), port, LEFT, RIGHT))
        world.gateway(env, conf, "gateway.log")

        def msgs(topic):
            return [p for p in payloads(sub.messages(), topic) if p]

        def online(side):
            return any(p.get("state") == "online" for p in msgs(BASE + "/uk/%s/availability" % side))

        tap(wait_for(lambda: online("left") and online("right"), 30),
            "both Ukaton insoles stream (the start command configured their sensor data)", world.log_tail("gateway.log"))

        def walking_windows():
            return [g["last_10s"] for g in msgs(BASE + "/uk/gait")
                    if g.get("source") == "pressure" and g.get("activity", {}).get("state") == "walking"
                    and g.get("last_10s", {}).get("strides", 0) >= 4]
        tap(wait_for(lambda: walking_windows(), 40), "gait from their pressure: walking, with strides",
            json.dumps(msgs(BASE + "/uk/gait")[-1:])[:600])
        w = max(walking_windows() or [{}], key=lambda x: x.get("steps", 0))
        tap(95 <= w.get("cadence_spm", 0) <= 125, "cadence of a 110 spm walk (%s)" % w.get("cadence_spm"),
            json.dumps(w)[:400])
        tap("step_time_si_pct" in w.get("symmetry", {}) and "double_support_ms" in w,
            "two-foot figures from the pair", json.dumps(w)[:400])
        # steps come from the insoles' own counters (the first reading is the baseline)
        tap(wait_for(lambda: [g for g in msgs(BASE + "/uk/gait") if g.get("steps_total", 0) > 20], 30),
            "gait steps_total grows", msgs(BASE + "/uk/gait")[-1:])
        tap(wait_for(lambda: [s for s in msgs(BASE + "/uk/steps") if s.get("steps_today", 0) > 20], 20),
            "steps published from the insoles' own counters", msgs(BASE + "/uk/steps")[-1:])
        links = msgs(BASE + "/uk/left/link")
        tap(bool(links) and links[-1].get("decode_errors") == 0 and links[-1].get("lost_frames") == 0,
            "the left insole's link: no decode errors, nothing lost", links[-1:])
        with open(world.path("gateway.log"), errors="replace") as f:
            log = f.read()
        tap("dropped a" not in log, "no sensor-data value refused", log[-800:])
    finally:
        world.close(bool(tap.results) and all(tap.results))
    return tap.finish()


if __name__ == "__main__":
    sys.exit(main())
