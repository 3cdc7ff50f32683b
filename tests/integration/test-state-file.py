#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The state file never loses the day. A walking wearer's gateway is started and stopped twice so
that its state directory holds "state" and "state.prev"; then each damage case is applied to a copy
of it and the gateway started on that copy: state truncated, one bad value, random bytes, empty,
missing, both copies missing (the broker's retained messages bring the counts back), a file from
a newer version (refused with a clear error, left alone), a read-only directory (refused at start
with a clear error) and a full one (a
private tmpfs in a mount namespace; skipped without the privilege to make one). In every case
today's count continues from at least what was published before, and no topic's seq goes
backwards. Prints TAP."""

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time

from harness import BASE, GATEWAY, Subscriber, Tap, World, wait_for

LEFT, RIGHT = "AA:00:00:00:06:01", "AA:00:00:00:06:02"
STEPS = BASE + "/anna/steps"


class Seqs:
    """The payloads with a seq that one subscriber saw published (not retained) since a point."""

    def __init__(self, sub):
        self.sub = sub

    def since(self, start):
        out = []
        for t, retained, p in self.sub.messages()[start:]:
            if retained:
                continue
            try:
                v = json.loads(p)
            except ValueError:
                continue
            if isinstance(v, dict) and isinstance(v.get("seq"), int):
                out.append((t, v))
        return out


def max_seqs(msgs):
    m = {}
    for t, v in msgs:
        m[t] = max(m.get(t, 0), v["seq"])
    return m


def config(world, state_dir, port):
    return world.gateway_config("gw-" + os.path.basename(state_dir),
                                "[gateway]\nid = gw\nstate-directory = %s\ntrust-wall-clock = yes\n\n"
                                "[mqtt]\nhost = 127.0.0.1\nport = %d\n\n"
                                "[metrics]\npublish-interval = 1s\n\n"
                                "[wearer anna]\nleft = %s\nright = %s\ntimezone = UTC\n"
                                % (state_dir, port, LEFT, RIGHT))


def steps_today(msgs):
    s = [v.get("steps_today") for t, v in msgs if t == STEPS]
    return s


def run(world, sub, conf, log, wrap=None, pidfile=None):
    """Starts the gateway, waits for it to count and publish, stops it. Returns (messages, rc)."""
    start = len(sub.messages())
    if wrap:
        p = world.spawn(wrap, log, world.env)
        if not wait_for(lambda: os.path.exists(pidfile) and open(pidfile).read().strip(), 10):
            return [], p.wait(10)
        pid = int(open(pidfile).read())
    else:
        p = world.gateway(world.env, conf, log, level="info")
        pid = p.pid
    seqs = Seqs(sub)
    wait_for(lambda: len([1 for t, v in seqs.since(start) if t == STEPS]) >= 2 or p.poll() is not None, 40)
    time.sleep(1)
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        pass
    try:
        rc = p.wait(15)
    except subprocess.TimeoutExpired:
        rc = None
    return seqs.since(start), rc


def main():
    tap = Tap()
    world = World("insole2mqtt-state.")
    try:
        port = world.broker()
        world.env = world.bus("bus")
        world.sim(world.env, "wearer anna left=%s right=%s mode=walking cadence=110\n" % (LEFT, RIGHT), "sim.log")
        sub = Subscriber(world, port, topics=(BASE + "/#",))
        golden = world.path("golden")
        os.makedirs(golden)
        conf = config(world, golden, port)
        seen = {}
        last_steps = 0

        def account(name, msgs):
            nonlocal last_steps
            back = [(t, v["seq"], seen[t]) for t, v in msgs if t in seen and v["seq"] <= seen[t]]
            ok = tap(not back, "%s: no seq goes backwards (%d messages, %d topics)" % (name, len(msgs), len(max_seqs(msgs))),
                     back[:5])
            counts = steps_today(msgs)
            tap(counts and min(counts) >= last_steps, "%s: today's count continues from %d (first %s)"
                % (name, last_steps, counts[0] if counts else None), counts[:5])
            for t, s in max_seqs(msgs).items():
                seen[t] = max(seen.get(t, 0), s)
            if counts:
                last_steps = max(last_steps, max(counts))
            return ok

        for i in range(2):  # two clean runs: state and state.prev
            msgs, rc = run(world, sub, conf, "golden%d.log" % i)
            account("clean run %d" % (i + 1), msgs)
        tap({"state", "state.prev"} <= set(os.listdir(golden)), "a save keeps the previous file as state.prev",
            os.listdir(golden))

        with open(os.path.join(golden, "state"), "rb") as f:
            good = f.read()
        rnd = random.Random(13)
        damage = [
            ("truncated", lambda: good[:len(good) // 2]),
            ("one bad value", lambda: good.replace(b"steps_today=", b"steps_today=x", 1)),
            ("random bytes", lambda: bytes(rnd.randrange(256) for _ in range(2000))),
            ("empty", lambda: b""),
            ("missing", None),
            ("both copies missing", None),
        ]
        for name, make in damage:
            d = world.path("case-" + name.replace(" ", "-"))
            shutil.copytree(golden, d)
            os.remove(os.path.join(d, "state"))
            if make:
                with open(os.path.join(d, "state"), "wb") as f:
                    f.write(make())
            if name == "both copies missing":
                os.remove(os.path.join(d, "state.prev"))
            msgs, rc = run(world, sub, config(world, d, port), name + ".log")
            account(name, msgs)
            if make:
                tap(os.path.exists(os.path.join(d, "state.damaged")), "%s: the damaged file is kept aside" % name)
            # the case directory is the newest state now: continue from it
            golden = d

        # a file from a newer version: refused, untouched
        d = world.path("case-future")
        shutil.copytree(golden, d)
        future = b"insole2mqtt-state 99\nsomething=new\n"
        with open(os.path.join(d, "state"), "wb") as f:
            f.write(future)
        p = world.gateway(world.env, config(world, d, port), "future.log", level="info")
        try:
            rc = p.wait(15)
        except subprocess.TimeoutExpired:
            rc = None
        log = open(world.path("future.log"), errors="replace").read()
        tap(rc not in (None, 0) and "newer version" in log, "a newer version's file: refused to start, clearly (%s)" % rc,
            log[-800:])
        with open(os.path.join(d, "state"), "rb") as f:
            tap(f.read() == future, "and the file is left as it was")

        # read-only and full directories: a private tmpfs in a mount namespace
        can_mount = subprocess.call(["unshare", "-m", "sh", "-c", "mount -t tmpfs -o size=4k tmpfs /mnt"],
                                    stderr=subprocess.DEVNULL) == 0
        for name, prepare in (("read-only", "mount -o remount,ro \"$D\""),
                              ("full", "dd if=/dev/zero of=\"$D/filler\" bs=4096 count=100 2>/dev/null || true")):
            if not can_mount:
                print("ok %d - # SKIP %s directory: cannot mount a tmpfs here" % (len(tap.results) + 1, name))
                tap.results.append(True)
                continue
            d = world.path("case-" + name)
            out = world.path("out-" + name)
            os.makedirs(d)
            os.makedirs(out)
            pidfile = world.path(name + ".pid")
            conf = config(world, d, port)
            script = ("set -e; D=%s; mount -t tmpfs -o size=64k tmpfs \"$D\"; cp -a %s/. \"$D\"/; %s; "
                      "%s --config %s --log-level info & echo $! > %s; wait $! || true; cp -a \"$D\"/. %s/"
                      % (d, golden, prepare, GATEWAY, conf, pidfile, out))
            msgs, rc = run(world, sub, conf, name + ".log", wrap=["unshare", "-m", "sh", "-c", script], pidfile=pidfile)
            log = open(world.path(name + ".log"), errors="replace").read()
            if name == "read-only":
                # the gateway checks at start that it can write its state directory, and stops
                tap("state-directory" in log and "Read-only" in log and not msgs,
                    "read-only directory: refused at start with a clear error, nothing published", log[-600:])
            else:
                account(name + " directory", msgs)
                tap("Failed to save state" in log, "%s directory: the failed save is logged" % name, log[-600:])
            with open(os.path.join(golden, "state"), "rb") as a, open(os.path.join(out, "state"), "rb") as b:
                tap(a.read() == b.read(), "%s directory: the saved state is intact" % name)
            left = [f for f in os.listdir(out) if f.startswith(".state")]
            tap(not left, "%s directory: no temporary file left behind" % name, left)
    finally:
        world.close(bool(tap.results) and all(tap.results))
    return tap.finish()


if __name__ == "__main__":
    sys.exit(main())
