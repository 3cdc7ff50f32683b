#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Every configured set of devices is a complete wearer, checked through MQTT: one insole, a pair,
a footpod, and a footpod with a pair of insoles, all served by one gateway from the BlueZ simulator.

The footpod walks, runs and stops; its Total Distance starts just below the u32 wrap and is reset
by a reboot half-way; it has a Device Information service. Checked: activity (walking, running,
standing, sitting) and steps for each wearer, the two-foot figures present only for pairs, the
footpod's speed, pace, cadence, stride length, motion and distance (today and total, reconciled
across the wrap, the reset and a gateway restart), the Home Assistant entities and the device's
own manufacturer and model, `link` on change with the device's information, the adapter in
bridge/<id>/info, and reminders for a one-insole and a footpod wearer. Prints TAP."""

import json
import signal
import subprocess
import sys
import time

from harness import BASE, Subscriber, Tap, World, load_schema, payloads, schema_errors, schema_for_topic, wait_for

SOLO_L = "AA:00:00:00:03:01"
PAIR_L, PAIR_R = "AA:00:00:00:04:01", "AA:00:00:00:04:02"
POD = "AA:00:00:00:05:01"
MIXED_L, MIXED_R, MIXED_POD = "AA:00:00:00:06:01", "AA:00:00:00:06:02", "AA:00:00:00:06:05"
WRAP_M = 429496729.6  # u32 of 1/10 m

SCENARIO = (
    "wearer solo left=%s mode=walking cadence=100 weight=70\n"
    "wearer pair left=%s right=%s mode=walking cadence=110 weight=70\n"
    "wearer pod mode=walking cadence=100 speed=1.4\n"
    "footpod pod %s\n"
    "wearer mixed left=%s right=%s mode=walking cadence=104 speed=1.3 weight=70\n"
    "footpod mixed %s\n"
    # just below the wrap: it wraps after 10 s of walking (the pod counts from the start)
    "at 0s distance %s %.1f\n"
    "at 20s mode solo mode=standing\n"
    "at 30s mode solo mode=sitting\n"
    "at 15s mode pod mode=running cadence=170 speed=3.5\n"
    "at 25s reboot %s\n"
    "at 32s mode pod mode=standing\n"
) % (SOLO_L, PAIR_L, PAIR_R, POD, MIXED_L, MIXED_R, MIXED_POD, POD, WRAP_M - 14, POD)


def config(world, port):
    return world.gateway_config("gw", (
        "[gateway]\nid = gw\nstate-directory = %s\ntrust-wall-clock = yes\n\n"
        "[bluetooth]\nbackoff-initial = 1s\n\n"
        "[mqtt]\nhost = 127.0.0.1\nport = %d\n\n"
        "[metrics]\npublish-interval = 2s\n\n"
        "[reminders]\nsitting-limit = 1min\nstanding-limit = 1min\nrepeat-interval = 10min\n"
        "active-hours = 00:00-24:00\nquiet-days = none\n\n"
        "[wearer solo]\nleft = %s\nbody-weight-kg = 70\n\n"
        "[wearer pair]\nleft = %s\nright = %s\nbody-weight-kg = 70\n\n"
        "[wearer pod]\nfootpod = %s\n\n"
        "[wearer mixed]\nleft = %s\nright = %s\nfootpod = %s\nbody-weight-kg = 70\n"
    ) % (world.path("gw-state"), port, SOLO_L, PAIR_L, PAIR_R, POD, MIXED_L, MIXED_R, MIXED_POD))


def main():
    tap = Tap()
    world = World("insole2mqtt-wearers.")
    try:
        port = world.broker()
        env = world.bus("bus")
        world.sim(env, SCENARIO, "sim.log")
        conf = config(world, port)
        sub = Subscriber(world, port)
        start = time.monotonic()
        gateway = world.gateway(env, conf, "gateway.log")

        def msgs(topic):
            return [p for p in payloads(sub.messages(), topic) if p]

        def gait(w):
            return msgs(BASE + "/%s/gait" % w)

        def activities(w):
            return [p.get("activity") for p in msgs(BASE + "/%s/activity" % w)]

        # ---- link on change, not only with the 60 s health report
        first_link = wait_for(lambda: [p for p in msgs(BASE + "/pod/footpod/link") if p.get("connected")], 20)
        t_link = time.monotonic() - start
        tap(bool(first_link) and t_link < 30, "the footpod's link says connected %.0f s after start, before any "
            "health report" % t_link, world.log_tail("gateway.log"))
        with_info = wait_for(lambda: [p for p in msgs(BASE + "/pod/footpod/link")
                                      if p.get("device_info", {}).get("model") == "RSC-1"], 10)
        tap(bool(with_info) and with_info[-1]["device_info"] == {"manufacturer": "Simulated Footpods Ltd",
                                                                 "model": "RSC-1", "firmware": "1.0.0",
                                                                 "hardware": "rev B"},
            "link carries the footpod's Device Information (NUL padding dropped)", msgs(BASE + "/pod/footpod/link")[-2:])

        # ---- walking for everyone
        for w in ("solo", "pair", "pod", "mixed"):
            tap(wait_for(lambda: "walking" in activities(w), 25), "%s is seen walking" % w, activities(w))

        # ---- the footpod while walking
        def walking_pod():
            return [g for g in gait("pod") if g.get("footpod", {}).get("motion") == "walking"
                    and g["footpod"].get("speed_m_s", 0) > 1]
        wp = wait_for(walking_pod, 10)
        fp = wp[-1]["footpod"] if wp else {}
        tap(abs(fp.get("speed_m_s", 0) - 1.4) < 0.02, "footpod speed 1.4 m/s", fp)
        tap(abs(fp.get("pace_s_per_km", 0) - 1000 / 1.4) < 10, "pace in s/km from the speed", fp)
        tap(fp.get("cadence_spm") == 100, "footpod cadence", fp)
        tap(abs(fp.get("stride_length_m", 0) - 1.4 / (100 / 120)) < 0.02, "footpod stride length", fp)

        # ---- running from the status bit, then standing still
        tap(wait_for(lambda: "running" in activities("pod"), 30), "the footpod wearer is seen running",
            activities("pod"))
        tap(wait_for(lambda: [g for g in gait("pod") if g.get("footpod", {}).get("motion") == "running"], 5),
            "gait.footpod.motion says running")
        tap(wait_for(lambda: "standing" in activities("pod")[1:], 30), "the footpod wearer stops: standing",
            activities("pod"))

        # ---- one insole: standing and sitting from its load
        tap(wait_for(lambda: "standing" in activities("solo"), 20), "a one-insole wearer is seen standing",
            activities("solo"))
        tap(wait_for(lambda: "sitting" in activities("solo"), 20), "a one-insole wearer is seen sitting",
            activities("solo"))

        # ---- steps and two-foot figures per combination
        for w in ("solo", "pair", "pod", "mixed"):
            g = gait(w)
            last = g[-1] if g else {}
            tap(last.get("steps_total", 0) > 20 and last.get("steps_day", 0) > 20,
                "%s: gait steps_total %s, steps_day %s" % (w, last.get("steps_total"), last.get("steps_day")),
                json.dumps(last)[:400])
            st = msgs(BASE + "/%s/steps" % w)
            tap(bool(st) and st[-1].get("steps_today", 0) > 20, "%s: steps published (%s)"
                % (w, st[-1].get("steps_today") if st else None))
        pod_windows = [g["last_60s"].get("steps", 0) for g in gait("pod")]
        tap(max(pod_windows or [0]) > 20, "a footpod wearer's last_60s.steps come from its cadence", pod_windows[-5:])

        def window_during_walk(w):
            # the fullest 10 s window of the walk (the last ones also hold the stop)
            walking = [g["last_10s"] for g in gait(w) if g.get("activity", {}).get("state") == "walking"
                       and g.get("source") == "pressure" and g["last_10s"].get("strides", 0) >= 4]
            return max(walking, key=lambda x: x.get("steps", 0)) if walking else {}
        for w in ("solo",):
            x = window_during_walk(w)
            tap(x and "step_time_si_pct" not in x.get("symmetry", {}) and "double_support_ms" not in x,
                "%s: symmetry and double support absent with one insole" % w, json.dumps(x)[:400])
            tap(x and 90 <= x.get("cadence_spm", 0) <= 110, "%s: cadence of a 100 spm walk from one insole (%s)"
                % (w, x.get("cadence_spm")))
            tap(x and 14 <= x.get("steps", 0) <= 20, "%s: one insole's strides count two steps each (%s in 10 s)"
                % (w, x.get("steps")))
        for w in ("pair", "mixed"):
            x = window_during_walk(w)
            tap(x and "step_time_si_pct" in x.get("symmetry", {}) and "double_support_ms" in x,
                "%s: symmetry and double support with two insoles" % w, json.dumps(x)[:400])
        mixed = msgs(BASE + "/mixed/steps")
        pair = msgs(BASE + "/pair/steps")
        # mixed walks at 104 spm, pair at 110: a footpod must not add its cadence steps on top
        tap(mixed and pair and mixed[-1]["steps_today"] <= pair[-1]["steps_today"] * 1.1,
            "footpod + insoles: steps counted once (%s vs a pair's %s)"
            % (mixed[-1]["steps_today"] if mixed else None, pair[-1]["steps_today"] if pair else None))
        tap(any("footpod" in g and "speed_m_s" in g["footpod"] for g in gait("mixed")),
            "footpod + insoles: footpod metrics in gait")

        # ---- distance across the wrap and the reset
        pods = [g["footpod"] for g in gait("pod") if "footpod" in g]
        totals = [p["distance_total_m"] for p in pods]
        # what the footpod reported moving, from the published speeds (2 s apart)
        tap(bool(totals) and totals == sorted(totals) and 0 < totals[-1] < 500,
            "distance only grows and stays sane across the u32 wrap and the reset (%s m)"
            % (totals[-1] if totals else None), totals)
        # walked 15 s at 1.4 and ran 10 s at 3.5 before the reset, then ran ~7 s: about 80 m
        tap(bool(totals) and 50 <= totals[-1] <= 130, "distance matches walking and running (%.1f m)"
            % (totals[-1] if totals else 0), pods[-1] if pods else None)
        tap(bool(pods) and abs(pods[-1]["distance_today_m"] - pods[-1]["distance_total_m"]) < 0.2,
            "distance today equals the total on the first day", pods[-1] if pods else None)
        today = msgs(BASE + "/pod/today")
        tap(bool(today) and today[-1].get("distance_m", 0) > 50, "today carries distance_m",
            today[-1] if today else None)
        tap(all("distance_m" not in t for t in msgs(BASE + "/solo/today")), "no distance without a footpod")

        # ---- reminders for a one-insole and a footpod wearer
        for w, reason in (("solo", None), ("pod", "standing")):
            ev = wait_for(lambda: [p for p in msgs(BASE + "/%s/reminder" % w) if p.get("event") == "reminder"],
                          max(5, 130 - (time.monotonic() - start)))
            tap(bool(ev) and (reason is None or ev[0].get("reason") == reason),
                "%s gets a move reminder (%s)" % (w, ev[0].get("reason") if ev else None),
                msgs(BASE + "/%s/reminder/state" % w)[-2:])

        # ---- Home Assistant and bridge info
        disc = {t: p for t, _, p in sub.messages() if t.startswith("homeassistant/") and t.endswith("/config")}
        speed = json.loads(disc.get("homeassistant/sensor/pod/insole2mqtt_speed/config", "{}"))
        tap(speed.get("device_class") == "speed" and speed.get("unit_of_measurement") == "m/s",
            "Home Assistant speed sensor", speed)
        dist = json.loads(disc.get("homeassistant/sensor/pod/insole2mqtt_distance_today/config", "{}"))
        tap(dist.get("device_class") == "distance" and dist.get("state_class") == "total_increasing"
            and dist.get("unit_of_measurement") == "m", "Home Assistant distance sensor", dist)
        tap("homeassistant/sensor/solo/insole2mqtt_speed/config" not in disc, "no speed sensor without a footpod")
        batt = json.loads(disc.get("homeassistant/sensor/pod/insole2mqtt_footpod_battery/config", "{}"))
        dev = batt.get("device", {})
        tap(dev.get("manufacturer") == "Simulated Footpods Ltd" and dev.get("model") == "RSC-1"
            and dev.get("sw_version") == "1.0.0" and dev.get("hw_version") == "rev B",
            "the Home Assistant device shows the footpod's own manufacturer and model", dev)
        info = msgs(BASE + "/bridge/gw/info")
        last = info[-1] if info else {}
        tap(last.get("adapters") == [{"name": "hci0", "powered": True}], "bridge info lists the adapter in use",
            last.get("adapters"))
        pod_info = [w for w in last.get("wearers", []) if w.get("name") == "pod"]
        tap(bool(pod_info) and pod_info[0].get("device_info", {}).get("footpod", {}).get("model") == "RSC-1",
            "bridge info carries the footpod's Device Information", pod_info)

        # ---- every payload against its schema
        problems, checked = [], set()
        for t, _, p in sub.messages():
            name = schema_for_topic(t)
            if name is None:
                problems.append("%s: no schema" % t)
                continue
            try:
                problems += ["%s %s" % (t, e) for e in schema_errors(load_schema(name), json.loads(p))]
            except ValueError:
                problems.append("%s: not JSON" % t)
            checked.add(name)
        tap(not problems, "every payload matches its schema (%d schemas)" % len(checked), "\n".join(problems[:10]))

        # ---- a restart keeps today's distance
        before = pods[-1]["distance_today_m"] if pods else 0
        gateway.send_signal(signal.SIGTERM)
        try:
            gateway.wait(10)
        except subprocess.TimeoutExpired:
            pass
        n_before = len(gait("pod"))
        world.gateway(env, conf, "gateway2.log", level="info")
        later = wait_for(lambda: [g["footpod"] for g in gait("pod")[n_before:] if "footpod" in g], 30)
        tap(bool(later) and later[0]["distance_today_m"] >= before and later[0]["distance_total_m"] >= before
            and later[-1]["distance_total_m"] < before + 50,
            "a restarted gateway continues today's and the total distance (%.1f m before, %s after)"
            % (before, later[0] if later else None), world.log_tail("gateway2.log"))
    finally:
        world.close(bool(tap.results) and all(tap.results))
    return tap.finish()


if __name__ == "__main__":
    sys.exit(main())
