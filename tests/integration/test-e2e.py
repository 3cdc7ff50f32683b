#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""End to end: the BlueZ simulator on a private dbus-daemon, a real mosquitto on a free loopback
port, the gateway, and a subscriber that checks what arrives. Prints TAP.

Checks: topics and payloads of a walking wearer (gait, steps, availability, bridge state, Home
Assistant discovery), that nothing a device sends reaches a topic (a hostile-named, unconfigured
insole advertises nearby), that a restarted gateway continues today's step count, and that a clean
stop leaves the bridge state "offline"."""

import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time

SOURCE = os.environ["INSOLE2MQTT_SOURCE_ROOT"]
BUILD = os.environ["INSOLE2MQTT_BUILD_ROOT"]
SHARED = os.environ.get("INSOLE2MQTT_SHARED", os.path.join(SOURCE, "..", "shared"))
GATEWAY = os.path.join(BUILD, "daemon", "insole2mqtt")
SIM = os.path.join(BUILD, "tests", "sim", "insole-sim")
BASE = "insole2mqtt"
TOPIC_RE = re.compile(r"^(insole2mqtt/(bridge/[a-z0-9_-]{1,32}|[a-z0-9_-]{1,32})(/[a-z0-9_-]{1,32}){0,3}"
                      r"|homeassistant/(sensor|binary_sensor)/[a-z0-9_-]{1,96}/[a-z0-9_-]{1,96}/config"
                      r"|homeassistant/(sensor|binary_sensor)/[a-z0-9_-]{1,96}/config)$")

results = []


def tap(ok, name, detail=""):
    results.append(ok)
    print(("ok" if ok else "not ok") + " %d - %s" % (len(results), name))
    if detail and not ok:
        for line in str(detail).splitlines()[:20]:
            print("# " + line)
    sys.stdout.flush()


def wait_port(port, timeout=10):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            socket.create_connection(("127.0.0.1", port), 0.5).close()
            return True
        except OSError:
            time.sleep(0.05)
    return False


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Subscriber:
    """mosquitto_sub writing topic, retained flag and payload, one message per line."""

    def __init__(self, port, path):
        self.path = path
        self.out = open(path, "w")
        self.proc = subprocess.Popen(
            ["mosquitto_sub", "-h", "127.0.0.1", "-p", str(port), "-q", "1", "-v",
             "-t", BASE + "/#", "-t", "homeassistant/#", "-F", "%t\t%r\t%p"],
            stdout=self.out, stderr=subprocess.STDOUT)

    def messages(self):
        self.out.flush()
        msgs = []
        with open(self.path, errors="replace") as f:
            for line in f:
                parts = line.rstrip("\n").split("\t", 2)
                if len(parts) == 3:
                    msgs.append((parts[0], parts[1] == "1", parts[2]))
        return msgs

    def stop(self):
        self.proc.terminate()
        self.proc.wait(5)
        self.out.close()


def payloads(msgs, topic):
    out = []
    for t, _, p in msgs:
        if t == topic:
            try:
                out.append(json.loads(p))
            except ValueError:
                out.append(None)
    return out


def wait_for(pred, timeout, step=0.2):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        v = pred()
        if v:
            return v
        time.sleep(step)
    return pred()


def main():
    tmp = tempfile.mkdtemp(prefix="insole2mqtt-e2e.")
    procs = []

    def spawn(args, log, env=None):
        f = open(os.path.join(tmp, log), "ab")
        p = subprocess.Popen(args, stdout=f, stderr=subprocess.STDOUT, env=env)
        procs.append(p)
        return p

    def log_tail(name, n=15):
        try:
            with open(os.path.join(tmp, name), errors="replace") as f:
                return "".join(f.readlines()[-n:])
        except OSError:
            return ""

    try:
        port = free_port()
        with open(os.path.join(tmp, "mosquitto.conf"), "w") as f:
            f.write("listener %d 127.0.0.1\nallow_anonymous true\npersistence false\n" % port)
        spawn(["mosquitto", "-c", os.path.join(tmp, "mosquitto.conf")], "mosquitto.log")
        if not wait_port(port):
            tap(False, "mosquitto listens", log_tail("mosquitto.log"))
            return 1

        bus_dir = os.path.join(tmp, "bus")
        os.mkdir(bus_dir, 0o700)
        addr_r, addr_w = os.pipe()
        bus = subprocess.Popen(["dbus-daemon", "--config-file=" + os.path.join(SOURCE, "tests/sim/dbus-system.conf"),
                                "--address=unix:path=" + os.path.join(bus_dir, "system_bus_socket"),
                                "--nofork", "--print-address=%d" % addr_w], pass_fds=(addr_w,))
        procs.append(bus)
        os.close(addr_w)
        address = os.read(addr_r, 4096).decode().strip().splitlines()[0]
        os.close(addr_r)
        env = dict(os.environ, DBUS_SYSTEM_BUS_ADDRESS=address)

        scenario = os.path.join(tmp, "e2e.scenario")
        with open(scenario, "w") as f:
            f.write("wearer anna left=AA:00:00:00:01:01 right=AA:00:00:00:01:02 mode=walking cadence=110 weight=70\n"
                    "wearer mallory left=AA:00:00:00:0E:01 mode=standing\n"
                    "at 0s name AA:00:00:00:0E:01 @hostile\n")
        spawn([SIM, "--datasets", os.path.join(SHARED, "datasets"), "--scenario", scenario, "--seed", "7"],
              "sim.log", env)

        state = os.path.join(tmp, "state")
        conf = os.path.join(tmp, "insole2mqtt.conf")
        with open(conf, "w") as f:
            f.write("[gateway]\nid = e2e\nstate-directory = %s\ntrust-wall-clock = yes\n\n"
                    "[bluetooth]\nauto-discovery = yes\nbackoff-initial = 1s\n\n"
                    "[mqtt]\nhost = 127.0.0.1\nport = %d\n\n"
                    "[metrics]\npublish-interval = 2s\n\n"
                    "[wearer anna]\nleft = AA:00:00:00:01:01\nright = AA:00:00:00:01:02\nbody-weight-kg = 70\n"
                    % (state, port))

        sub = Subscriber(port, os.path.join(tmp, "messages.txt"))
        time.sleep(0.3)
        gateway = spawn([GATEWAY, "--config", conf, "--log-level", "debug"], "gateway.log", env)

        gait_topic = BASE + "/anna/gait"
        msgs = wait_for(lambda: (lambda m: m if len(payloads(m, gait_topic)) >= 4 else None)(sub.messages()), 45)
        msgs = sub.messages()

        states = payloads(msgs, BASE + "/bridge/e2e/state")
        tap(any(p and p.get("state") == "online" for p in states), "bridge state online", states)

        avail = payloads(msgs, BASE + "/anna/availability")
        tap(any(p and p.get("state") == "online" for p in avail), "wearer availability online", avail)
        for side in ("left", "right"):
            a = payloads(msgs, BASE + "/anna/%s/availability" % side)
            tap(any(p and p.get("state") == "online" for p in a), "%s insole availability online" % side, a)

        gaits = [p for p in payloads(msgs, gait_topic) if p]
        tap(len(gaits) >= 4, "gait metrics published every interval", log_tail("gateway.log"))
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

        # A restart keeps today's count.
        before = steps[-1].get("steps_today", 0) if steps else 0
        gateway.send_signal(signal.SIGTERM)
        try:
            rc = gateway.wait(10)
        except subprocess.TimeoutExpired:
            rc = None
        tap(rc == 0, "SIGTERM stops the gateway cleanly", "exit status %s\n%s" % (rc, log_tail("gateway.log")))
        msgs = sub.messages()
        states = payloads(msgs, BASE + "/bridge/e2e/state")
        tap(bool(states) and states[-1] and states[-1].get("state") == "offline", "bridge state offline after stop",
            states[-3:])

        n_before = len(payloads(msgs, BASE + "/anna/steps"))
        gateway = spawn([GATEWAY, "--config", conf], "gateway2.log", env)

        def new_steps():
            s = [p for p in payloads(sub.messages(), BASE + "/anna/steps") if p]
            later = s[n_before:]
            return later if later and later[-1].get("steps_today", 0) > before else None
        later = wait_for(new_steps, 30)
        tap(bool(later) and min(p.get("steps_today", 0) for p in later) >= before,
            "a restarted gateway continues today's step count",
            "before restart %d, after: %s\n%s" % (before, later, log_tail("gateway2.log")))

        gateway.send_signal(signal.SIGTERM)
        gateway.wait(10)
        sub.stop()
    finally:
        for p in procs:
            if p.poll() is None:
                p.terminate()
        for p in procs:
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                p.kill()
        if all(results) and results:
            subprocess.call(["rm", "-rf", tmp])
        else:
            print("# logs kept in " + tmp)

    print("1..%d" % len(results))
    return 0 if results and all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
