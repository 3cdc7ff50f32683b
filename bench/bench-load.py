#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Whole-gateway load benchmark: the BlueZ simulator in load mode (N insoles x F Hz, one sample per
notification, send time embedded) on a private dbus-daemon, a local mosquitto, the gateway with
the raw pressure stream on, and a subscriber. Prints the gateway's CPU time per notification, its
memory, and the latency from notification to MQTT delivery.

    bench/bench-load.py [--build DIR] [--insoles N] [--rate HZ] [--seconds S]

Figures, not a test: the machine is shared, so compare the gateway's CPU with the simulator's and
the broker's in the same run rather than across runs."""

import argparse
import json
import os
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tests", "integration"))
from harness import World  # noqa: E402  (the integration tests' process handling)

TICKS = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def rss_bytes(pid):
    with open("/proc/%d/statm" % pid) as f:
        return int(f.read().split()[1]) * PAGE


def main():
    top = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.path.join(top, "build"))
    ap.add_argument("--insoles", type=int, default=8)
    ap.add_argument("--rate", type=int, default=100)
    ap.add_argument("--seconds", type=float, default=20)
    a = ap.parse_args()
    gateway_bin = os.path.join(a.build, "daemon", "insole2mqtt")
    sim_bin = os.path.join(a.build, "tests", "sim", "insole-sim")
    for b in (gateway_bin, sim_bin):
        if not os.access(b, os.X_OK):
            sys.exit("bench-load: %s missing; build first (meson setup %s && ninja -C %s)" % (b, a.build, a.build))

    world = World("insole2mqtt-bench.")
    try:
        port = world.broker()
        broker = world.procs[-1]
        env = world.bus("bus")
        sim = world.spawn([sim_bin, "--load", "%d:%d" % (a.insoles, a.rate)], "sim.log", env)

        wearers = (a.insoles + 1) // 2
        tmp = world.tmp
        conf = os.path.join(tmp, "gw.conf")
        with open(conf, "w") as f:
            f.write("[gateway]\nid = bench\nstate-directory = %s\ntrust-wall-clock = yes\n"
                    "[mqtt]\nhost = 127.0.0.1\nport = %d\noutbox-max = 100000\n"
                    "[metrics]\nraw-stream = yes\nraw-rate = 100\npublish-interval = 10s\n" % (tmp, port))
            for i in range(wearers):
                f.write("[wearer load%d]\nleft = 02:00:00:00:%02X:01\n" % (i, i))
                if 2 * i + 1 < a.insoles:
                    f.write("right = 02:00:00:00:%02X:02\n" % i)
        gateway = world.spawn([gateway_bin, "--config", conf, "--log-level", "warning"], "gateway.log", env)

        latencies = []
        sub = subprocess.Popen(["mosquitto_sub", "-h", "127.0.0.1", "-p", str(port), "-t", "insole2mqtt/+/+/pressure",
                                "-F", "%p"], stdout=subprocess.PIPE, text=True)
        world.procs.append(sub)
        measuring = threading.Event()

        def reader():
            for line in sub.stdout:
                now_us = time.monotonic_ns() // 1000
                if not measuring.is_set():
                    continue
                try:
                    t = json.loads(line)["monotonic_us"]
                except (ValueError, KeyError):
                    continue
                latencies.append(now_us - t)
        threading.Thread(target=reader, daemon=True).start()

        time.sleep(5)  # connect, subscribe, settle
        c0 = {p.pid: cpu_seconds(p.pid) for p in (gateway, sim, broker)}
        t0 = time.monotonic()
        measuring.set()
        time.sleep(a.seconds)
        measuring.clear()
        elapsed = time.monotonic() - t0
        c1 = {p.pid: cpu_seconds(p.pid) for p in (gateway, sim, broker)}
        rss = rss_bytes(gateway.pid)

        notifications = a.insoles * a.rate * elapsed
        gw_cpu = c1[gateway.pid] - c0[gateway.pid]
        print("insoles %d x %d Hz for %.1f s: %.0f notifications" % (a.insoles, a.rate, elapsed, notifications))
        print("gateway CPU     %6.2f s = %5.1f %% of a core, %.1f us per notification (decode, gait, publish)"
              % (gw_cpu, 100 * gw_cpu / elapsed, 1e6 * gw_cpu / notifications))
        print("simulator CPU   %6.2f s = %5.1f %% of a core (for comparison in the same run)"
              % (c1[sim.pid] - c0[sim.pid], 100 * (c1[sim.pid] - c0[sim.pid]) / elapsed))
        print("mosquitto CPU   %6.2f s = %5.1f %% of a core" % (c1[broker.pid] - c0[broker.pid],
                                                              100 * (c1[broker.pid] - c0[broker.pid]) / elapsed))
        print("gateway RSS     %.1f MiB" % (rss / 1048576))
        if latencies:
            latencies.sort()
            q = lambda f: latencies[min(len(latencies) - 1, int(f * len(latencies)))] / 1000
            print("notification -> MQTT delivery (raw stream, %d samples): p50 %.2f ms, p95 %.2f ms, p99 %.2f ms, max %.2f ms"
                  % (len(latencies), q(0.5), q(0.95), q(0.99), latencies[-1] / 1000))
        else:
            print("no raw-stream messages arrived: is the gateway streaming? (see its stderr above)")
            return 1
        return 0
    finally:
        world.close(True)

if __name__ == "__main__":
    sys.exit(main())
