#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""A wearer's walking changes and the gateway says so through MQTT. Days are compressed into the
gateway's history file: ten ordinary days (step-time asymmetry about 2 %) are written to the state
directory as the previous gateway run left them; then the simulated wearer walks with a limp
(asymmetry 12 %, a symmetry index of about 11 %) and the gateway, comparing the running day with
the baseline, publishes an alert after a few hundred strides; the Home Assistant "walking changed"
sensor's state turns on, a bad command is refused, an acknowledgement clears the sensor. After a
restart the history, the baseline and the acknowledged change are still there, "accept" makes
the change the new normal, and a reload can switch the alerts off. Prints TAP."""

import datetime
import json
import os
import signal
import subprocess
import sys
import time

from harness import BASE, Subscriber, Tap, World, clear_of_midnight, load_schema, payloads, schema_errors, wait_for

METRICS = ["cadence", "stride_time", "stance_time", "swing_time", "stride_time_cv", "step_time_si",
           "stance_time_si", "swing_time_si", "heel_strike_share", "midfoot_strike_share",
           "forefoot_strike_share", "flat_strike_share", "roll_forward", "ml_index", "sway_path", "left_share",
           "step_time_asym", "stance_time_asym"]


def history(days, spread=0.4):
    """The history file as an earlier run of the gateway wrote it (docs/alerts.md): right steps
    2 % +- `spread` longer than left ones (five values, each twice in ten days)."""
    today = datetime.datetime.now(datetime.timezone.utc).date()
    rows = []
    for k in range(days, 0, -1):
        values = [None] * len(METRICS)
        values[METRICS.index("step_time_si")] = round(2.0 + spread * ((k * 7) % 5 - 2) / 2, 2)
        values[METRICS.index("step_time_asym")] = -values[METRICS.index("step_time_si")]
        rows.append([(today - datetime.timedelta(days=k)).isoformat(), 3000, 6000, 3600, values])
    return {"version": 1, "wearers": {"anna": {"version": 1, "baseline_from": None, "acknowledged": False,
                                               "days": rows, "watch": {}}}}


def main():
    clear_of_midnight()
    tap = Tap()
    world = World("insole2mqtt-alerts.")
    try:
        port = world.broker()
        env = world.bus("bus")
        state = world.path("gw-state")
        conf = world.gateway_config("gw", "[gateway]\nid = gw\nstate-directory = %s\ntrust-wall-clock = yes\n"
                                          "[mqtt]\nhost = 127.0.0.1\nport = %d\n"
                                          "[metrics]\npublish-interval = 2s\n"
                                          "[reminders]\nenabled = no\n"
                                          "[alerts]\nbaseline-days = 7\n"
                                          "[wearer anna]\nleft = AA:00:00:00:01:01\nright = AA:00:00:00:01:02\n"
                                          "body-weight-kg = 70\ntimezone = UTC\n" % (state, port))
        with open(os.path.join(state, "gait-history.json"), "w") as f:
            json.dump(history(10), f)
        sub = Subscriber(world, port)
        # The onset: from today on the wearer walks with a limp.
        world.sim(env, "wearer anna left=AA:00:00:00:01:01 right=AA:00:00:00:01:02 mode=walking cadence=140 "
                       "asymmetry=0.12 weight=70\n", "sim.log")
        gw = world.gateway(env, conf, "gateway.log", level="info")
        start = time.monotonic()

        def latest(topic):
            p = [x for x in payloads(sub.messages(), BASE + "/anna/" + topic) if x]
            return p[-1] if p else None

        def events(kind=None):
            ev = [p for p in payloads(sub.messages(), BASE + "/anna/alert") if p]
            return [e for e in ev if kind is None or e.get("event") == kind]

        def schema_ok(name, value):
            errs = schema_errors(load_schema(name), value)
            tap(not errs, "the %s payload matches docs/schema/%s.json" % (name, name), errs)

        base = wait_for(lambda: latest("baseline"), 20)
        tap(bool(base) and base.get("days") == 10 and base.get("ready") is True and
            "step_time_asym" in base.get("metrics", {}), "the baseline of the saved days is published", base)
        if base:
            schema_ok("baseline", base)
            si = base.get("metrics", {}).get("step_time_asym", {})
            tap(-3.0 <= si.get("median", 0) <= -1.0 and si.get("low", 99) < si.get("median", 0) < si.get("high", -99)
                and si.get("watched") is True and base["metrics"].get("step_time_si", {}).get("watched") is False,
                "it gives the usual left-right step time difference and its range, watched by default", si)
        st = wait_for(lambda: latest("alert/state"), 10)
        tap(bool(st) and st.get("state") == "watching" and st.get("changed") is False, "alert/state: watching", st)
        disc = [p for t, _, p in sub.messages() if t.startswith("homeassistant/binary_sensor/") and "walking_changed" in t]
        tap(bool(disc) and "alert/state" in json.loads(disc[-1]).get("state_topic", ""),
            "a Home Assistant binary sensor 'walking changed' reads alert/state", disc[-1:])

        changed = wait_for(lambda: events("changed"), 240, step=1)
        # The limp lengthens the right steps: the left-right difference falls, further below zero.
        tap(bool(changed) and changed[0].get("metric") == "step_time_asym" and changed[0].get("direction") == "down",
            "an alert: the left-right step time difference fell (after %.0f s)" % (time.monotonic() - start),
            "%s\n%s" % (events(), world.log_tail("gateway.log")))
        if changed:
            c = changed[0]
            schema_ok("alert", c)
            tap(c.get("value", 0) < c.get("usual_low", -99) and 300 <= c.get("strides", 0) <= 1000 and
                c.get("intraday") is True and c.get("since") and "not a diagnosis" in c.get("text", ""),
                "it says from what usual range to what value, since when and on how many strides", c)
        st = wait_for(lambda: (latest("alert/state") or {}).get("changed") and latest("alert/state"), 10)
        tap(bool(st) and st.get("state") == "changed" and st["changes"][0]["metric"] == "step_time_asym",
            "alert/state: changed (the Home Assistant sensor is on)", st)
        if st:
            schema_ok("alert-state", st)

        subprocess.call(["mosquitto_pub", "-h", "127.0.0.1", "-p", str(port), "-q", "1",
                         "-t", BASE + "/anna/alert/set", "-m", '{"action":"snooze"}'])
        err = wait_for(lambda: events("error"), 10)
        tap(bool(err) and "acknowledge or accept" in err[-1].get("error", ""), "a bad command becomes an error event",
            err)
        subprocess.call(["mosquitto_pub", "-h", "127.0.0.1", "-p", str(port), "-q", "1",
                         "-t", BASE + "/anna/alert/set", "-m", '{"action":"acknowledge"}'])
        ack = wait_for(lambda: events("acknowledged"), 10)
        st = wait_for(lambda: (latest("alert/state") or {}).get("state") == "acknowledged" and latest("alert/state"), 10)
        tap(bool(ack) and bool(st) and st.get("changed") is False, "acknowledged: the sensor is off again", st)

        # Restart: the history, the baseline and the acknowledged change survive.
        gw.terminate()
        gw.wait(10)
        with open(os.path.join(state, "gait-history.json")) as f:
            saved = json.load(f)["wearers"]["anna"]
        tap(len(saved["days"]) == 10 and saved["watch"].get("step_time_asym", {}).get("flagged") is True and
            saved["acknowledged"] is True, "the history file holds the days and the change", saved.get("watch"))
        mark = len(sub.messages())
        gw2 = world.gateway(env, conf, "gateway2.log", level="info")

        def after_restart(topic):
            p = [x for x in payloads(sub.messages()[mark:], BASE + "/anna/" + topic) if x]
            return p[-1] if p else None

        # alert/state is published before baseline: wait for both
        wait_for(lambda: after_restart("alert/state") and after_restart("baseline"), 20)
        st = after_restart("alert/state")
        base = after_restart("baseline")
        tap(bool(st) and st.get("state") == "acknowledged" and bool(base) and base.get("days") == 10,
            "after a restart: still acknowledged, baseline of 10 days", "%s %s" % (st, base))
        subprocess.call(["mosquitto_pub", "-h", "127.0.0.1", "-p", str(port), "-q", "1",
                         "-t", BASE + "/anna/alert/set", "-m", '{"action":"accept"}'])
        acc = wait_for(lambda: [e for e in events("accepted")], 10)
        st = wait_for(lambda: (after_restart("alert/state") or {}).get("state") == "learning" and
                      after_restart("alert/state"), 10)
        tap(bool(acc) and bool(st), "'accept' makes it the new normal: the baseline starts again", st)

        # The configuration reloads: switched off, the state says so.
        with open(conf) as f:
            text = f.read()
        with open(conf, "w") as f:
            f.write(text.replace("[alerts]\n", "[alerts]\nenabled = no\n"))
        gw2.send_signal(signal.SIGHUP)
        st = wait_for(lambda: (after_restart("alert/state") or {}).get("state") == "disabled" and
                      after_restart("alert/state"), 10)
        tap(bool(st), "a reload with enabled = no: alert/state says disabled", after_restart("alert/state"))
    finally:
        world.close(bool(tap.results) and all(tap.results))
    return tap.finish()


if __name__ == "__main__":
    sys.exit(main())
