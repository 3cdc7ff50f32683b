#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The broker goes away mid-stream and comes back: simulator -> BlueZ client -> gait engine ->
gateway -> mosquitto (persistence on) -> a persistent QoS 1 subscriber, which comes back only
several seconds after the broker. Every gait message published while the broker was down (held in
the gateway's outbox) and while the subscriber was away (held in its session on the broker) must
arrive, none twice: their per-topic sequence numbers must run without a gap or a repeat. Prints
TAP."""

import os
import pwd
import signal
import subprocess
import sys
import time

from harness import BASE, Tap, World, payloads, wait_for, wait_port

OUTAGE_S = 4


def start_broker(world, port):
    return world.spawn(["mosquitto", "-c", world.path("mosquitto.conf")], "mosquitto.log")


def main():
    tap = Tap()
    world = World("insole2mqtt-broker-restart.")
    try:
        port = world.reserve_port()  # kept through the restart
        # mosquitto started as root drops to its own user: its persistence folder must be that
        # user's, or sessions do not survive the restart and the test would only measure a race.
        store = world.path("broker")
        os.mkdir(store, 0o700)
        if os.geteuid() == 0:
            try:
                pw = pwd.getpwnam("mosquitto")
                os.chmod(world.tmp, 0o755)
                os.chown(store, pw.pw_uid, pw.pw_gid)
            except KeyError:
                pass
        with open(world.path("mosquitto.conf"), "w") as f:
            f.write("listener %d 127.0.0.1\nallow_anonymous true\npersistence true\npersistence_location %s/\n"
                    "autosave_interval 1\n" % (port, store))
        broker = start_broker(world, port)
        if not wait_port(port):
            tap(False, "mosquitto listens", world.log_tail("mosquitto.log"))
            return tap.finish()

        env = world.bus("bus")
        world.sim(env, "wearer anna left=AA:00:00:00:01:01 right=AA:00:00:00:01:02 mode=walking cadence=110\n", "sim.log")
        conf = world.gateway_config("gw", "[gateway]\nid = gw\nstate-directory = %s\ntrust-wall-clock = yes\n"
                                          "[mqtt]\nhost = 127.0.0.1\nport = %d\n[metrics]\npublish-interval = 1s\n"
                                          "[wearer anna]\nleft = AA:00:00:00:01:01\nright = AA:00:00:00:01:02\n"
                                          % (world.path("gw-state"), port))

        # A persistent session (clean session off, fixed client id), QoS 1.
        out = open(world.path("messages.txt"), "w")

        def subscribe():
            p = subprocess.Popen(["mosquitto_sub", "-h", "127.0.0.1", "-p", str(port), "-q", "1", "-c", "-i",
                                  "restart-test-subscriber", "-v", "-F", "%t\t%r\t%p", "-t", BASE + "/anna/gait"],
                                 stdout=out, stderr=subprocess.STDOUT)
            world.procs.append(p)
            return p
        sub = subscribe()
        time.sleep(0.5)
        world.gateway(env, conf, "gateway.log", level="info")

        def gait():
            out.flush()
            msgs = []
            with open(world.path("messages.txt"), errors="replace") as f:
                for line in f:
                    parts = line.rstrip("\n").split("\t", 2)
                    if len(parts) == 3:
                        msgs.append((parts[0], parts[1] == "1", parts[2]))
            return [p for p in payloads(msgs, BASE + "/anna/gait") if p]

        tap(wait_for(lambda: len(gait()) >= 5, 30), "gait metrics flow before the outage", world.log_tail("gateway.log"))
        before = len(gait())

        # The subscriber stays away until well after the gateway has handed over what it held:
        # those messages must wait in the subscriber's session on the broker.
        sub.terminate()
        sub.wait(5)
        broker.send_signal(signal.SIGTERM)
        broker.wait(10)
        saved = os.path.exists(os.path.join(store, "mosquitto.db")) and "Error saving" not in world.log_tail("mosquitto.log", 200)
        tap(saved, "the broker saved its sessions (persistent subscriber survives the restart)",
            world.log_tail("mosquitto.log"))
        time.sleep(OUTAGE_S)
        start_broker(world, port)
        tap(wait_port(port), "the broker comes back on its port")
        time.sleep(6)
        subscribe()

        # The gateway reconnects (backoff 1 s doubling), the subscriber too; what was published during
        # the outage (OUTAGE_S at one message per second) arrives, then the stream goes on.
        got = wait_for(lambda: (lambda g: g if len(g) >= before + OUTAGE_S + 6 else None)(gait()), 40)
        g = gait()
        seqs = [p["seq"] for p in g]
        # QoS 1 is at least once: a message the broker took but could not acknowledge before it
        # stopped comes again after the reconnect. That is the only repeat allowed: one, right after
        # the message itself.
        repeats = [a for a, b in zip(seqs, seqs[1:]) if b == a]
        unique = [a for i, a in enumerate(seqs) if i == 0 or a != seqs[i - 1]]
        gaps = [(a, b) for a, b in zip(unique, unique[1:]) if b != a + 1]
        tap(bool(got), "the stream resumes after the broker returns (%d messages)" % len(g), world.log_tail("gateway.log"))
        tap(not gaps, "no gait message lost or out of order across the outage (seq %s..%s)"
            % (seqs[0] if seqs else "-", seqs[-1] if seqs else "-"), "gaps: %s" % gaps[:10])
        tap(len(repeats) <= 1 and len(set(seqs)) == len(unique),
            "every seq arrives once, but for at most one QoS 1 redelivery at the stop (%d)" % len(repeats), repeats)
    finally:
        world.close(bool(tap.results) and all(tap.results))
    return tap.finish()


if __name__ == "__main__":
    sys.exit(main())
