#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""End to end: the BlueZ simulator on a private dbus-daemon, a real mosquitto on a free loopback
port, the gateway, and a subscriber that checks what arrives. Prints TAP.

Checks: topics and payloads of a walking wearer (gait, steps, availability, bridge state, Home
Assistant discovery), that nothing a device sends reaches a topic (a hostile-named, unconfigured
insole advertises nearby), that a restarted gateway continues today's step count, and that a clean
stop leaves the bridge state "offline"."""

import json
import re
import subprocess
import sys

from harness import BASE, Subscriber, Tap, World, load_schema, payloads, schema_errors, schema_for_topic, stop, wait_for

TOPIC_RE = re.compile(r"^(insole2mqtt/(bridge/[a-z0-9_-]{1,32}|[a-z0-9_-]{1,32})(/[a-z0-9_-]{1,32}){0,3}"
                      r"|homeassistant/(sensor|binary_sensor)/[a-z0-9_-]{1,96}/[a-z0-9_-]{1,96}/config"
                      r"|homeassistant/(sensor|binary_sensor)/[a-z0-9_-]{1,96}/config)$")


def main():
    tap = Tap()
    world = World("insole2mqtt-e2e.")
    try:
        port = world.broker()
        env = world.bus("bus")
        world.sim(env, "wearer anna left=AA:00:00:00:01:01 right=AA:00:00:00:01:02 mode=walking cadence=110 weight=70\n"
                       "wearer mallory left=AA:00:00:00:0E:01 mode=standing\n"
                       "at 0s name AA:00:00:00:0E:01 @hostile\n", "sim.log")
        conf = world.gateway_config("e2e", "[gateway]\nid = e2e\nstate-directory = %s\ntrust-wall-clock = yes\n\n"
                                           "[bluetooth]\nauto-discovery = yes\nbackoff-initial = 1s\n\n"
                                           "[mqtt]\nhost = 127.0.0.1\nport = %d\n\n"
                                           "[metrics]\npublish-interval = 2s\n\n"
                                           "[wearer anna]\nleft = AA:00:00:00:01:01\nright = AA:00:00:00:01:02\n"
                                           "body-weight-kg = 70\n" % (world.path("e2e-state"), port))
        sub = Subscriber(world, port)
        gateway = world.gateway(env, conf, "gateway.log")

        gait_topic = BASE + "/anna/gait"
        wait_for(lambda: len(payloads(sub.messages(), gait_topic)) >= 4, 45)
        msgs = sub.messages()

        states = payloads(msgs, BASE + "/bridge/e2e/state")
        tap(any(p and p.get("state") == "online" for p in states), "bridge state online", states)

        avail = payloads(msgs, BASE + "/anna/availability")
        tap(any(p and p.get("state") == "online" for p in avail), "wearer availability online", avail)
        for side in ("left", "right"):
            a = payloads(msgs, BASE + "/anna/%s/availability" % side)
            tap(any(p and p.get("state") == "online" for p in a), "%s insole availability online" % side, a)

        gaits = [p for p in payloads(msgs, gait_topic) if p]
        tap(len(gaits) >= 4, "gait metrics published every interval", world.log_tail("gateway.log"))
        cadences = [g["last_60s"]["cadence_spm"] for g in gaits
                    if isinstance(g.get("last_60s"), dict) and isinstance(g["last_60s"].get("cadence_spm"), (int, float))]
        tap(bool(cadences) and abs(cadences[-1] - 110) <= 11, "cadence of a 110 spm walk within 10 %",
            "cadences seen: %s\nlast payload: %s" % (cadences, json.dumps(gaits[-1])[:600] if gaits else None))
        tap(all("timestamp" in g and "seq" in g for g in gaits), "gait payloads carry timestamp and seq")
        seqs = [g.get("seq") for g in gaits]
        tap(seqs == sorted(seqs) and len(set(seqs)) == len(seqs), "gait seq strictly increasing", seqs)

        steps = [p for p in payloads(msgs, BASE + "/anna/steps") if p]
        tap(bool(steps) and steps[-1].get("steps_today", 0) > 0, "steps counted and published", steps[-3:])

        bad = [t for t, _, _ in msgs if not TOPIC_RE.match(t)]
        tap(not bad, "every topic is built from configured names only", bad[:10])
        tap(not any("mallory" in t for t, _, _ in msgs), "an unconfigured device never becomes a topic")

        disc = [t for t, r, _ in msgs if t.startswith("homeassistant/") and t.endswith("/config")]
        tap(len(disc) >= 5, "Home Assistant discovery announced", disc[:5])

        # Every payload against the schema docs/mqtt.md documents for its topic.
        problems, checked, schemas = [], set(), {}
        for t, _, p in msgs:
            name = schema_for_topic(t)
            if name is None:
                problems.append("%s: no schema documents this topic" % t)
                continue
            try:
                value = json.loads(p)
            except ValueError:
                problems.append("%s: not JSON: %.80s" % (t, p))
                continue
            schema = schemas.setdefault(name, load_schema(name))
            problems += ["%s %s" % (t, e) for e in schema_errors(schema, value)]
            checked.add(name)
        tap(not problems and {"gait", "steps", "availability", "state", "homeassistant-discovery"} <= checked,
            "every payload matches its documented schema (%d schemas)" % len(checked),
            "\n".join(problems[:15]) + "\nchecked: %s" % sorted(checked))

        # Home Assistant restarted: discovery, availability and states are announced again.
        # (a config can have gone out twice already: again when the insole's Device Information came)
        n_disc = len(disc)
        subprocess.call(["mosquitto_pub", "-h", "127.0.0.1", "-p", str(port), "-t", "homeassistant/status", "-m", "online"])
        again = wait_for(lambda: len([t for t, _, _ in sub.messages() if t.startswith("homeassistant/")
                                      and t.endswith("/config")]) >= n_disc + len(set(disc)), 10)
        tap(again, "Home Assistant's birth message brings discovery again")

        # A restart keeps today's count.
        before = steps[-1].get("steps_today", 0) if steps else 0
        rc = stop(gateway, 10)
        tap(rc == 0, "SIGTERM stops the gateway cleanly", "exit status %s\n%s" % (rc, world.log_tail("gateway.log")))
        # the subscriber reads on its own: wait for the last messages to reach it
        wait_for(lambda: (payloads(sub.messages(), BASE + "/bridge/e2e/state") or [{}])[-1] == {"state": "offline"}, 5)
        msgs = sub.messages()
        states = payloads(msgs, BASE + "/bridge/e2e/state")
        tap(bool(states) and states[-1] and states[-1].get("state") == "offline", "bridge state offline after stop",
            states[-3:])

        n_before = len(payloads(msgs, BASE + "/anna/steps"))
        gateway = world.gateway(env, conf, "gateway2.log", level="info")

        def new_steps():
            s = [p for p in payloads(sub.messages(), BASE + "/anna/steps") if p]
            later = s[n_before:]
            return later if later and later[-1].get("steps_today", 0) > before else None
        later = wait_for(new_steps, 30)
        tap(bool(later) and min(p.get("steps_today", 0) for p in later) >= before,
            "a restarted gateway continues today's step count",
            "before restart %d, after: %s\n%s" % (before, later, world.log_tail("gateway2.log")))

        # The system bus dies: the gateway must not limp on without Bluetooth, but exit non-zero so
        # that systemd restarts it on the new bus.
        world.buses[0].terminate()
        try:
            rc = gateway.wait(10)
        except subprocess.TimeoutExpired:
            rc = None
        tap(rc not in (None, 0), "losing the system bus ends the gateway with a failure status (%s)" % rc,
            world.log_tail("gateway2.log"))
    finally:
        world.close(bool(tap.results) and all(tap.results))
    return tap.finish()


if __name__ == "__main__":
    sys.exit(main())
