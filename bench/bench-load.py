#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Whole-gateway load benchmark, side by side on the same simulator load (N insoles x F Hz, one
sample per notification, send time embedded; a private dbus-daemon, a local mosquitto):

  floor          bench-notify-floor: AcquireNotify + epoll_wait + recv(), no work at all
  publish-floor  bench-notify-floor --publish: the floor plus one hand-made MQTT PUBLISH (QoS 0,
                 140 B) per notification, one send() each: the least publishing everything costs
  publish-cork   the same, corked over a wake-up as the gateway does (--cork)
  publish-batch  the same, one send() per wake-up for all its messages (--batch)
  publish-mosq   bench-publish-floor-mosquitto --publish --cork: the same PUBLISH per notification
                 through libmosquitto, corked over a wake-up as the gateway: the least any
                 libmosquitto program pays to publish everything (no decoding, no JSON)
  raw-off        the gateway as configured by default (gait metrics, a few messages per second)
  raw-on         the gateway with the raw stream at raw-rate = the stream rate: every notification
                 becomes an MQTT message
  bridge         bench/bridge-bleak-paho.py: bleak (StartNotify) + paho, one publish per notification
  coalesce       raw-on with [bluetooth] notify-coalesce (--coalesce, off unless asked for)

For each it prints the CPU time per notification (all threads of the process, from
/proc/PID/task/*/schedstat), the ratio to the floor, resident memory, gaps (notifications that did
not arrive: the floor's and the bridge's sequence numbers, the raw stream's sample times, and the
simulator's drops on full sockets) and notification -> MQTT delivery latency at a subscriber.
The floors also measure notification -> recv() latency themselves (from the send time in the
frame): what reading alone sees of the machine's scheduling. mosquitto runs with its defaults
unless --broker-nodelay: then set_tcp_nodelay true, without which Nagle's algorithm on the broker's
connection to the subscriber, waiting for the subscriber's delayed ACK, holds every topic's
messages up to ~40 ms now and then (the delivery tail, not the contender's).

    bench/bench-load.py [--build DIR] [--load 8:100 --load 28:100] [--seconds S] [--runs N]
                        [--only floor,publish-floor,raw-off,raw-on,bridge] [--coalesce 2ms]
                        [--broker-nodelay] [--settle S] [--history-days N]

Resident memory is the steady state's: read at the end of the window, 45 s + 20 s after the start
(the gait engine's windows of 60 s have filled by then), with 120 days of gait history per wearer
(--history-days), as a gateway that has run for months holds.

Figures, not a test: the machine is shared, so compare the figures of one run with each other and
run it several times (--runs) to see their spread."""

import argparse
import datetime
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(TOP, "tests", "integration"))
from harness import World  # noqa: E402  (the integration tests' process handling)

DEBIAN_PYTHON = "/usr/bin/python3"  # python3-bleak and python3-paho-mqtt live there
CONTENDERS = ["floor", "publish-floor", "publish-cork", "publish-batch", "publish-mosq", "raw-off", "raw-on",
              "bridge", "coalesce"]
# the floors: their program in build/bench and its arguments (the broker's port goes after --publish)
FLOOR_ARGS = {"floor": ("bench-notify-floor", []),
              "publish-floor": ("bench-notify-floor", ["--publish"]),
              "publish-cork": ("bench-notify-floor", ["--publish", "--cork"]),
              "publish-batch": ("bench-notify-floor", ["--publish", "--batch"]),
              "publish-mosq": ("bench-publish-floor-mosquitto", ["--publish", "--cork"])}


def cpu_ns(pid):
    """CPU time of every thread of a process, in ns (schedstat is exact, unlike clock ticks)."""
    total = 0
    for tid in os.listdir("/proc/%d/task" % pid):
        try:
            with open("/proc/%d/task/%s/schedstat" % (pid, tid)) as f:
                total += int(f.read().split()[0])
        except OSError:
            pass
    return total


def memory_bytes(pid):
    """RSS, PSS and private (USS) memory from /proc/PID/smaps_rollup. RSS counts every page of a
    shared library the process has touched, PSS divides each shared page among the processes that
    map it, and private memory is what only this process holds: what its exit would give back."""
    fields = {}
    with open("/proc/%d/smaps_rollup" % pid) as f:
        for line in f:
            parts = line.split()
            if len(parts) == 3 and parts[2] == "kB":
                fields[parts[0].rstrip(":")] = int(parts[1]) * 1024
    return {"rss": fields["Rss"], "pss": fields["Pss"],
            "private": fields["Private_Clean"] + fields["Private_Dirty"]}


def addresses(insoles):
    """The simulator's load mode: wearer W has 02:00:00:00:WW:01 (left) and ...:02 (right)."""
    return ["02:00:00:00:%02X:%02d" % (i // 2, 1 + i % 2) for i in range(insoles)]


def sim_stats(env, address):
    out = subprocess.run(["busctl", "--system", "--json=short", "call", "net.insole2mqtt.Sim", "/net/insole2mqtt/Sim",
                          "net.insole2mqtt.Sim1", "Stats", "s", address], env=env, capture_output=True, text=True)
    if out.returncode != 0:
        return {}
    data = json.loads(out.stdout)["data"][0]
    return {k: v["data"] for k, v in data.items()}


def sim_totals(env, addrs):
    sent = dropped = 0
    for a in addrs:
        s = sim_stats(env, a)
        sent += s.get("frames_sent", 0)
        dropped += s.get("socket_dropped", 0)
    return sent, dropped


class Subscriber:
    """mosquitto_sub on the contender's raw topics: latency from the embedded send time, and gaps
    per topic: missing sequence numbers (the insole's in the bridge's raw frames, the gateway's
    per-topic MQTT seq in its JSON)."""

    def __init__(self, world, port, topic, binary):
        fmt = "%t %x" if binary else "%t %p"
        self.proc = subprocess.Popen(["mosquitto_sub", "-h", "127.0.0.1", "-p", str(port), "-t", topic, "-F", fmt],
                                     stdout=subprocess.PIPE, text=True)
        world.procs.append(self.proc)
        self.binary = binary
        self.measuring = threading.Event()
        self.latencies = []
        self.messages = 0
        self.gaps = 0
        self.last = {}
        threading.Thread(target=self.read, daemon=True).start()

    def read(self):
        mono_re = re.compile(r'"monotonic_us":(\d+)')
        seq_re = re.compile(r'"seq":(\d+)')
        for line in self.proc.stdout:
            now_us = time.monotonic_ns() // 1000
            topic, _, payload = line.rstrip("\n").partition(" ")
            if self.binary:
                try:
                    frame = bytes.fromhex(payload)
                except ValueError:
                    continue
                if len(frame) < 8:
                    continue
                seq = frame[2] | frame[3] << 8
                latency = ((now_us & 0xFFFFFFFF) - int.from_bytes(frame[4:8], "little")) & 0xFFFFFFFF
                missing = (seq - self.last[topic] - 1) & 0xFFFF if topic in self.last else 0
                self.last[topic] = seq
            else:
                m = mono_re.search(payload)
                s = seq_re.search(payload)
                if not m or not s:
                    continue
                latency = now_us - int(m.group(1))
                seq = int(s.group(1))
                missing = seq - self.last[topic] - 1 if topic in self.last else 0
                self.last[topic] = seq
            if self.measuring.is_set():
                self.messages += 1
                self.gaps += missing
                self.latencies.append(latency)


# A day of the gait history (docs/alerts.md), in GaitMetric order (include/gait-metrics.h).
HISTORY_DAY = [108.0, 1110.0, 690.0, 420.0, 2.1, 3.0, 2.5, 4.0, 70.0, 20.0, 5.0, 5.0, 24.0, 0.05, 55.0, 50.0,
               1.0, 0.8]


def write_history(world, insoles, days):
    """The gait history of a gateway that has run for `days` days: its memory is part of the
    steady state (ALERT_HISTORY_DAYS = 120 days are kept)."""
    today = datetime.date.today()
    rows = [[(today - datetime.timedelta(days=k)).isoformat(), 9000, 9000, 5400, HISTORY_DAY]
            for k in range(days, 0, -1)]
    wearers = {"load%d" % i: {"version": 1, "baseline_from": None, "acknowledged": False, "days": rows, "watch": {}}
               for i in range((insoles + 1) // 2)}
    with open(world.path("gait-history.json"), "w") as f:
        json.dump({"version": 1, "wearers": wearers}, f)


def gateway_config(world, port, insoles, rate, raw, coalesce):
    conf = world.path("gw.conf")
    with open(conf, "w") as f:
        f.write("[gateway]\nid = bench\nstate-directory = %s\ntrust-wall-clock = yes\n" % world.tmp)
        if coalesce:
            f.write("[bluetooth]\nnotify-coalesce = %s\n" % coalesce)
        f.write("[mqtt]\nhost = 127.0.0.1\nport = %d\noutbox-max = 100000\nhomeassistant = no\n" % port)
        f.write("[metrics]\nraw-stream = %s\nraw-rate = %d\npublish-interval = 10s\n" % ("yes" if raw else "no", rate))
        for i in range((insoles + 1) // 2):
            f.write("[wearer load%d]\nleft = 02:00:00:00:%02X:01\n" % (i, i))
            if 2 * i + 1 < insoles:
                f.write("right = 02:00:00:00:%02X:02\n" % i)
    return conf


def wait_line(proc, word, timeout):
    """Reads proc's stdout until a line starts with word (in a thread: readline() blocks)."""
    found = threading.Event()

    def reader():
        for line in proc.stdout:
            if line.startswith(word):
                found.set()
                return
    threading.Thread(target=reader, daemon=True).start()
    return found.wait(timeout)


def run_one(a, name, insoles, rate):
    build = a.build
    world = World("insole2mqtt-bench.")
    ok = False
    try:
        port = world.broker("set_tcp_nodelay true\n" if a.broker_nodelay else "")
        broker = world.procs[-1]
        env = world.bus("bus")
        sim = world.spawn([os.path.join(build, "tests", "sim", "insole-sim"), "--load", "%d:%d" % (insoles, rate)],
                          "sim.log", env)
        bus_daemon = world.buses[-1]
        addrs = addresses(insoles)
        time.sleep(0.5)
        sub = None
        floor = None

        if name in FLOOR_ARGS:
            program, args = FLOOR_ARGS[name]
            if args:
                args = [args[0], str(port)] + args[1:]
            floor = subprocess.Popen([os.path.join(build, "bench", program)] + args + addrs, env=env,
                                     stdout=subprocess.PIPE, text=True)
            world.procs.append(floor)
            proc = floor
            counts = []

            def reader():
                for line in floor.stdout:
                    m = re.match(r"notifications (\d+) gaps (\d+) latency_us (\d+) (\d+) (\d+)", line)
                    if m:
                        counts.append(tuple(int(x) for x in m.groups()))
            ready = wait_line(floor, "READY", 60)
            threading.Thread(target=reader, daemon=True).start()
            if args:
                sub = Subscriber(world, port, "bench/floor/+", True)
        elif name == "bridge":
            proc = subprocess.Popen([DEBIAN_PYTHON, os.path.join(TOP, "bench", "bridge-bleak-paho.py"), "--port",
                                     str(port)] + addrs, env=env, stdout=subprocess.PIPE,
                                    stderr=open(world.path("bridge.log"), "w"), text=True)
            world.procs.append(proc)
            ready = wait_line(proc, "READY", 120)
            sub = Subscriber(world, port, "bridge/+/pressure", True)
        else:
            raw = name in ("raw-on", "coalesce")
            conf = gateway_config(world, port, insoles, rate, raw, a.coalesce if name == "coalesce" else None)
            write_history(world, insoles, a.history_days)
            proc = world.spawn([os.path.join(build, "daemon", "insole2mqtt"), "--config", conf, "--log-level", "warning"],
                               "gateway.log", env)
            ready = True
            if raw:
                sub = Subscriber(world, port, "insole2mqtt/+/+/pressure", False)
        if not ready:
            print("# %s did not start; logs in %s" % (name, world.tmp))
            world.keep = True
            return None

        time.sleep(a.settle)
        if floor:
            floor.send_signal(signal.SIGUSR1)
        s0 = time.monotonic()
        sent0, dropped0 = sim_totals(env, addrs)
        s0 = (s0 + time.monotonic()) / 2
        pids = {"x": proc.pid, "sim": sim.pid, "broker": broker.pid, "dbus": bus_daemon.pid}
        c0 = {k: cpu_ns(p) for k, p in pids.items()}
        t0 = time.monotonic()
        if sub:
            sub.measuring.set()
        time.sleep(a.seconds)
        if sub:
            sub.measuring.clear()
        c1 = {k: cpu_ns(p) for k, p in pids.items()}
        elapsed = time.monotonic() - t0
        if floor:
            floor.send_signal(signal.SIGUSR1)
        s1 = time.monotonic()
        sent1, dropped1 = sim_totals(env, addrs)
        s1 = (s1 + time.monotonic()) / 2
        mem = memory_bytes(proc.pid)
        if proc.poll() is not None:
            print("# %s exited during the run; logs in %s" % (name, world.tmp))
            world.keep = True
            return None

        # The simulator's counters are read one insole at a time: scale its window to the CPU's.
        notifications = max((sent1 - sent0) * elapsed / (s1 - s0), 1)
        res = {
            "name": name,
            "notifications": notifications,
            "per_s": notifications / elapsed,
            "cpu_us": (c1["x"] - c0["x"]) / 1e3 / notifications,
            "cpu_share": (c1["x"] - c0["x"]) / 1e9 / elapsed,
            "side": {k: (c1[k] - c0[k]) / 1e9 / elapsed for k in ("sim", "broker", "dbus")},
            "rss": mem["rss"],
            "pss": mem["pss"],
            "private": mem["private"],
            "gaps": dropped1 - dropped0,
            "latencies": [],
            "delivered": None,
            "recv_latency": None,
        }
        if floor:
            time.sleep(0.2)
            if len(counts) >= 2:
                # The subscriber sees the publishing floors' gaps, and what the broker lost.
                if not sub:
                    res["gaps"] += counts[1][1] - counts[0][1]
                res["recv_latency"] = counts[1][2:]
        if sub:
            time.sleep(0.5)
            res["gaps"] += sub.gaps
            res["latencies"] = sorted(sub.latencies)
            res["delivered"] = sub.messages
        ok = True
        return res
    finally:
        world.close(ok)


def pct(lat, f):
    return lat[min(len(lat) - 1, int(f * len(lat)))] / 1000


def show(load, results):
    floor = next((r for r in results if r["name"] == "floor"), None)
    print("\n%s: %.0f notifications/s" % (load, results[0]["per_s"]))
    print("%-13s %9s %8s %8s %8s %8s %6s %10s %s" % ("", "CPU us/n", "x floor", "RSS MiB", "PSS MiB", "priv MiB",
                                                     "gaps", "delivered", "delivery p50/p95/p99/max ms"))
    for r in results:
        lat = r["latencies"]
        lat_s = "%.2f / %.2f / %.2f / %.2f" % (pct(lat, .5), pct(lat, .95), pct(lat, .99), lat[-1] / 1000) if lat else "-"
        print("%-13s %9.2f %8s %8.2f %8.2f %8.2f %6d %10s %s" % (
            r["name"], r["cpu_us"], "%.2f" % (r["cpu_us"] / floor["cpu_us"]) if floor else "-", r["rss"] / 1048576,
            r["pss"] / 1048576, r["private"] / 1048576, r["gaps"], "-" if r["delivered"] is None else "%.1f %%" % (100 * r["delivered"] / r["notifications"]), lat_s))
    for r in results:
        print("  %-13s %5.1f %% of a core; same run: simulator %.1f %%, mosquitto %.1f %%, dbus-daemon %.1f %%" % (
            r["name"], 100 * r["cpu_share"], 100 * r["side"]["sim"], 100 * r["side"]["broker"], 100 * r["side"]["dbus"]))
    for r in results:
        if r["recv_latency"]:
            print("  %-13s notification -> recv() p50/p99/max %.2f / %.2f / %.2f ms (its own clock, 10 us bins)"
                  % ((r["name"],) + tuple(x / 1000 for x in r["recv_latency"])))
    on = next((r for r in results if r["name"] == "raw-on"), None)
    off = next((r for r in results if r["name"] == "raw-off"), None)
    br = next((r for r in results if r["name"] == "bridge"), None)
    if on and br:
        print("  bridge / raw-on: CPU %.1fx, RSS %.2fx, PSS %.2fx, private %.2fx" % (
            br["cpu_us"] / on["cpu_us"], br["rss"] / on["rss"], br["pss"] / on["pss"], br["private"] / on["private"]))
    if off and br:
        print("  bridge / raw-off: RSS %.2fx, PSS %.2fx, private %.2fx" % (
            br["rss"] / off["rss"], br["pss"] / off["pss"], br["private"] / off["private"]))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.path.join(TOP, "build"))
    ap.add_argument("--load", action="append", help="INSOLES:HZ (repeatable; default 8:100 and 28:100)")
    ap.add_argument("--seconds", type=float, default=20)
    # Memory is read at the end of the window: by then the gait engine's 60 s windows are full.
    ap.add_argument("--settle", type=float, default=45)
    ap.add_argument("--history-days", type=int, default=120,
                    help="days of gait history the gateway starts with (a gateway that has run for months)")
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--only", default="floor,raw-off,raw-on,bridge")
    ap.add_argument("--coalesce", default=None, help="also run raw-on with this notify-coalesce, e.g. 2ms")
    ap.add_argument("--broker-nodelay", action="store_true",
                    help="mosquitto with set_tcp_nodelay true (its default, Nagle on the subscriber's connection, "
                    "holds messages up to a delayed ACK, ~40 ms)")
    a = ap.parse_args()
    names = [n for n in a.only.split(",") if n]
    if a.coalesce and "coalesce" not in names:
        names.append("coalesce")
    for n in names:
        if n not in CONTENDERS:
            sys.exit("bench-load: unknown contender %s (%s)" % (n, ", ".join(CONTENDERS)))
    for b in ["daemon/insole2mqtt", "tests/sim/insole-sim"] + sorted({"bench/" + FLOOR_ARGS[n][0] for n in names
                                                                    if n in FLOOR_ARGS}):
        if not os.access(os.path.join(a.build, b), os.X_OK):
            sys.exit("bench-load: %s/%s missing; build first (meson setup %s && ninja -C %s)" % (a.build, b, a.build, a.build))
    if "bridge" in names and subprocess.call([DEBIAN_PYTHON, "-c", "import bleak, paho.mqtt.client"],
                                             stderr=subprocess.DEVNULL) != 0:
        sys.exit("bench-load: the bridge needs Debian's python3-bleak and python3-paho-mqtt (scripts/deps.sh)")

    loads = a.load or ["8:100", "28:100"]
    for run in range(a.runs):
        if a.runs > 1:
            print("\n=== run %d of %d" % (run + 1, a.runs))
        for load in loads:
            insoles, rate = (int(x) for x in load.split(":"))
            results = []
            for n in names:
                r = run_one(a, n, insoles, rate)
                if r:
                    results.append(r)
            if results:
                show("%d insoles x %d Hz, %.0f s" % (insoles, rate, a.seconds), results)
            sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
