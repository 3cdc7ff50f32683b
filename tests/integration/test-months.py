#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Months on a compressed clock: what a gateway that runs for months keeps must stay bounded. The
gateway's wall clock starts on 2026-12-01 and runs 20000 times faster than real time
(INSOLE2MQTT_TEST_CLOCK, include/wall-clock.h), so a day lasts 4.3 s while the simulated wearer
walks at real speed. Over 130 days, with a restart on day 65:

- every day ends once, at its midnight, with a daily summary, in date order, and `seq` only grows
  (also across the restart);
- the gait history keeps every day (a day with little walking too) up to ALERT_HISTORY_DAYS (120),
  then drops the oldest: the history file and the whole state directory stop growing;
- the resident size of each gateway process stays flat from its tenth day on (no per-day leak);
- the gateway never stops.

Opt-in, since it needs about 10 minutes: INSOLE2MQTT_LONG_TESTS=1 (scripts/test.sh --long).
Otherwise it reports a skip. Prints TAP."""

import datetime
import os
import sys
import time

from harness import BASE, WRAPPER, Subscriber, Tap, World, payloads, proc_status_bytes, stop, wait_for

LEFT, RIGHT = "AA:00:00:00:0A:01", "AA:00:00:00:0A:02"
START = datetime.datetime(2026, 12, 1, tzinfo=datetime.timezone.utc)
SPEED = 20000
DAY_S = 86400 / SPEED
DAYS = 130
RESTART_DAY = 65
HISTORY_DAYS = 120            # ALERT_HISTORY_DAYS, include/alerts.h
RSS_GROWTH_MAX = 256 * 1024   # over 50 days: less than 5 KiB a day, where a leaked day would be more


def day(k):
    return (START.date() + datetime.timedelta(days=k)).isoformat()


def dir_bytes(path):
    total = 0
    for root, _, files in os.walk(path):
        for f in files:
            try:
                total += os.path.getsize(os.path.join(root, f))
            except OSError:
                pass
    return total


def main():
    if os.environ.get("INSOLE2MQTT_LONG_TESTS") != "1":
        print("1..0 # SKIP 130 days on a compressed clock, about 10 minutes; INSOLE2MQTT_LONG_TESTS=1 runs it")
        return 0
    tap = Tap()
    world = World("insole2mqtt-months.")
    try:
        port = world.broker()
        env = world.bus("bus")
        state = world.path("gw-state")
        conf = world.gateway_config("gw", "[gateway]\nid = gw\nstate-directory = %s\ntrust-wall-clock = yes\n"
                                          "[mqtt]\nhost = 127.0.0.1\nport = %d\n"
                                          "[wearer anna]\nleft = %s\nright = %s\nbody-weight-kg = 70\ntimezone = UTC\n"
                                    % (state, port, LEFT, RIGHT))
        sub = Subscriber(world, port, topics=(BASE + "/anna/daily", BASE + "/anna/baseline"))
        world.sim(env, "wearer anna left=%s right=%s mode=walking cadence=110 weight=70\n" % (LEFT, RIGHT), "sim.log")
        # Only where /proc/PID is the gateway itself (not qemu-user) and memory is not a sanitizer's.
        measure_rss = not WRAPPER and "ASAN_OPTIONS" not in os.environ

        def start_gateway(wall):
            return world.gateway(dict(env, INSOLE2MQTT_TEST_CLOCK="%d:%d" % (wall, SPEED)), conf, "gateway.log",
                                 level="notice")

        def dailies():
            return payloads(sub.messages(), BASE + "/anna/daily")

        wall0 = START.timestamp() + 60          # a minute into the first day
        started = time.monotonic()
        gw = start_gateway(wall0)
        rss = {}                                 # day -> VmRSS when that day ended
        history_file = os.path.join(state, "gait-history.json")
        sizes = {}
        for k in range(DAYS):
            if k == RESTART_DAY:
                code = stop(gw)
                tap(code == 0, "day %d: the gateway stops cleanly (exit status %s)" % (k, code),
                    world.log_tail("gateway.log"))
                # The wall clock goes on where it was: the restarted process starts its test clock there.
                gw = start_gateway(wall0 + (time.monotonic() - started) * SPEED)
            got = wait_for(lambda: any(p and p.get("date") == day(k) for p in dailies()), DAY_S * 3 + 20, step=0.5)
            if not got or gw.poll() is not None:
                tap(False, "day %s ended with a daily summary (gateway %s)" %
                    (day(k), "running" if gw.poll() is None else "exited with %s" % gw.returncode),
                    world.log_tail("gateway.log"))
                break
            if measure_rss:
                rss[k] = proc_status_bytes(gw.pid, "VmRSS")
            sizes[k] = (os.path.getsize(history_file) if os.path.exists(history_file) else 0, dir_bytes(state))

        d = [p for p in dailies() if p]
        dates = [p.get("date") for p in d]
        expected = [day(k) for k in range(DAYS)]
        tap(dates == expected, "one daily summary per day, in order: %d of %d days (%s .. %s)" %
            (len(dates), DAYS, dates[0] if dates else "-", dates[-1] if dates else "-"),
            "missing %s, repeated %s" % (sorted(set(expected) - set(dates))[:5],
                                         sorted({x for x in dates if dates.count(x) > 1})[:5]))
        seqs = [p.get("seq") for p in d]
        tap(all(isinstance(s, int) for s in seqs) and all(b > a for a, b in zip(seqs, seqs[1:])),
            "the daily summaries' seq only grows, across the restart on day %d" % RESTART_DAY, seqs[:3] + seqs[-3:])

        hist = [(x or {}).get("history_days", 0) for x in payloads(sub.messages(), BASE + "/anna/baseline")]
        tap(bool(hist) and max(hist) == HISTORY_DAYS and hist[-1] == HISTORY_DAYS,
            "the gait history keeps %d days, then drops the oldest (at most %s, at the end %s)" %
            (HISTORY_DAYS, max(hist) if hist else None, hist[-1] if hist else None))
        tap(all(b >= a for a, b in zip(hist, hist[1:])),
            "no day of the history is lost, across the restart too (history_days never falls)",
            [(a, b) for a, b in zip(hist, hist[1:]) if b < a][:5])

        capped = [k for k in sizes if k >= HISTORY_DAYS + 2]
        if capped:
            h0, s0 = sizes[capped[0]]
            h1, s1 = sizes[max(capped)]
            tap(h1 <= h0 * 1.05 + 512 and s1 <= s0 * 1.05 + 4096,
                "once the history is full the state directory stops growing: history %d -> %d bytes, "
                "directory %d -> %d bytes (day %d -> %d)" % (h0, h1, s0, s1, capped[0], max(capped)))
        else:
            tap(False, "the history filled up within the run")

        if measure_rss:
            print("# resident size by day, KiB: " + " ".join("%d:%d" % (k, rss[k] // 1024)
                                                           for k in sorted(rss) if k % 5 == 0 and rss[k]))
            for p, (a, z) in ((1, (10, RESTART_DAY - 1)), (2, (RESTART_DAY + 10, DAYS - 1))):
                if rss.get(a) and rss.get(z):
                    grow = rss[z] - rss[a]
                    tap(grow <= RSS_GROWTH_MAX,
                        "gateway process %d: resident size %.2f MiB on day %d, %.2f MiB on day %d (%+d KiB)" %
                        (p, rss[a] / 1048576, a, rss[z] / 1048576, z, grow // 1024))
                else:
                    tap(False, "gateway process %d: resident size measured on days %d and %d" % (p, a, z))
        else:
            print("# qemu-user or sanitizer run: resident size not compared")
        tap(gw.poll() is None, "the gateway still runs after %d days (%.0f s)" % (DAYS, time.monotonic() - started))
        # A clean stop at the end too: under ASan, LeakSanitizer's report at exit fails it.
        code = stop(gw)
        tap(code == 0, "after %d days the gateway stops cleanly (exit status %s)" % (DAYS, code),
            world.log_tail("gateway.log"))
    finally:
        world.close(bool(tap.results) and all(tap.results))
    return tap.finish()


if __name__ == "__main__":
    sys.exit(main())
