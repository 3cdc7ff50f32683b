#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""A person sits too long and gets reminded through MQTT, then walks and the reminder clears. The
simulated wearer stands, sits past the (shortened) sitting limit, then walks; the gateway runs the
whole pipeline. Also: a bad command on reminder/set becomes an error event and changes nothing, a
snooze is acknowledged. Prints TAP."""

import json
import subprocess
import sys
import time

from harness import BASE, Subscriber, Tap, World, payloads, wait_for

SIT_AT_S, WALK_AT_S = 8, 80


def main():
    tap = Tap()
    world = World("insole2mqtt-reminders.")
    try:
        port = world.broker()
        env = world.bus("bus")
        world.sim(env, "wearer anna left=AA:00:00:00:01:01 right=AA:00:00:00:01:02 mode=standing weight=70\n"
                       "at %ds mode anna mode=sitting\n"
                       "at %ds mode anna mode=walking cadence=112\n" % (SIT_AT_S, WALK_AT_S), "sim.log")
        conf = world.gateway_config("gw", "[gateway]\nid = gw\nstate-directory = %s\ntrust-wall-clock = yes\n"
                                          "[mqtt]\nhost = 127.0.0.1\nport = %d\n"
                                          "[metrics]\npublish-interval = 2s\n"
                                          "[reminders]\nsitting-limit = 1min\nrepeat-interval = 10min\n"
                                          "active-hours = 00:00-24:00\nquiet-days = none\nclear-steps = 20\n"
                                          "[wearer anna]\nleft = AA:00:00:00:01:01\nright = AA:00:00:00:01:02\n"
                                          "body-weight-kg = 70\n" % (world.path("gw-state"), port))
        sub = Subscriber(world, port)
        world.gateway(env, conf, "gateway.log", level="info")
        start = time.monotonic()

        def events(kind=None):
            ev = [p for p in payloads(sub.messages(), BASE + "/anna/reminder") if p]
            return [e for e in ev if kind is None or e.get("event") == kind]

        def state_messages():
            return [p for p in payloads(sub.messages(), BASE + "/anna/reminder/state") if p]

        def activity(state):
            return [p for p in payloads(sub.messages(), BASE + "/anna/activity") if p and p.get("activity") == state]

        tap(wait_for(lambda: activity("sitting"), SIT_AT_S + 20), "sitting is recognised",
            world.log_tail("gateway.log"))

        # Commands while sitting: a bad one is refused, the state is unchanged and not published again.
        states_before = len(state_messages())
        subprocess.call(["mosquitto_pub", "-h", "127.0.0.1", "-p", str(port), "-q", "1",
                         "-t", BASE + "/anna/reminder/set", "-m", '{"action":"snooze","minutes":"soon"}'])
        err = wait_for(lambda: events("error"), 10)
        tap(bool(err) and "minutes" in err[-1].get("error", ""), "a bad command becomes an error event", err)
        time.sleep(1.5)  # the gateway would have re-published by now (it answers at once)
        before, after = state_messages()[:states_before], state_messages()[states_before:]
        same = [m for m in after if before and (m.get("state"), m.get("due")) == (before[-1].get("state"), before[-1].get("due"))]
        tap(bool(before) and not same, "reminder/state is not published again after a bad command", after)

        reminder = wait_for(lambda: events("reminder"), 120 - (time.monotonic() - start))
        t_rem = time.monotonic() - start
        tap(bool(reminder) and reminder[0].get("reason") == "sitting", "a reminder after sitting past the limit",
            "%s\n%s" % (events(), world.log_tail("gateway.log")))
        if reminder:
            tap(55 <= reminder[0].get("still_s", 0) <= 75, "it comes at the limit (%.0f s still, at %.0f s)"
                % (reminder[0].get("still_s", 0), t_rem), reminder[0])
        states = [p for p in payloads(sub.messages(), BASE + "/anna/reminder/state") if p]
        tap(any(s.get("due") for s in states), "reminder/state says due (the Home Assistant binary sensor)",
            states[-3:])

        cleared = wait_for(lambda: events("cleared"), WALK_AT_S + 60 - (time.monotonic() - start))
        tap(bool(cleared) and cleared[0].get("cleared_by") == "steps" and cleared[0].get("steps", 0) >= 20,
            "walking clears it, saying what the wearer did", events())
        states = [p for p in payloads(sub.messages(), BASE + "/anna/reminder/state") if p]
        tap(bool(states) and states[-1].get("due") is False, "reminder/state is no longer due", states[-2:])

        subprocess.call(["mosquitto_pub", "-h", "127.0.0.1", "-p", str(port), "-q", "1",
                         "-t", BASE + "/anna/reminder/set", "-m", '{"action":"snooze","minutes":15}'])
        sn = wait_for(lambda: events("snoozed"), 10)
        tap(bool(sn) and sn[-1].get("minutes") == 15, "a snooze command is acknowledged", events()[-3:])
        for cmd, kind in (('{"action":"pause","minutes":5}', "paused"), ('{"action":"resume"}', "resumed")):
            subprocess.call(["mosquitto_pub", "-h", "127.0.0.1", "-p", str(port), "-q", "1",
                             "-t", BASE + "/anna/reminder/set", "-m", cmd])
            tap(wait_for(lambda: events(kind), 10), "a %s command is acknowledged" % kind.rstrip("d"), events()[-3:])
        time.sleep(1)

        # Every event carries the state after it: the retained reminder/state that the gateway
        # publishes with it (the last one before the next event) says the same state and due.
        current, pending, mismatches, kinds = None, None, [], set()
        for topic, _, raw in sub.messages():
            if topic not in (BASE + "/anna/reminder", BASE + "/anna/reminder/state"):
                continue
            try:
                msg = json.loads(raw)
            except ValueError:
                continue
            if topic.endswith("/state"):
                current = msg
                continue
            if pending and current and (pending["state"], pending["due"]) != (current["state"], current["due"]):
                mismatches.append((pending, current))
            pending = msg
            kinds.add(msg.get("event"))
        if pending and current and (pending["state"], pending["due"]) != (current["state"], current["due"]):
            mismatches.append((pending, current))
        tap(not mismatches and {"error", "reminder", "cleared", "snoozed", "paused", "resumed"} <= kinds,
            "each event's state and due match the retained state published with it (%s)" % ", ".join(sorted(kinds)),
            mismatches[:3])
    finally:
        world.close(bool(tap.results) and all(tap.results))
    return tap.finish()


if __name__ == "__main__":
    sys.exit(main())
