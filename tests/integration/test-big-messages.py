#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""No message from the broker can exhaust the gateway's memory. 100 MB retained messages wait on
every topic the gateway subscribes to before it starts (its own steps and availability topics, the
reminder commands, Home Assistant's status), and more arrive while it runs. With MQTT 5 (the
default) it announces a Maximum Packet Size, the broker holds them back, and the gateway keeps
running and publishing with its peak resident size (VmHWM) under the unit's MemoryMax=64M. With
MQTT 3.1.1 the broker's message_size_limit (docs/mqtt.md) does the same. The cost without either
protection is printed as a figure. Prints TAP."""

import os
import subprocess
import sys

from harness import BASE, Subscriber, Tap, World, payloads, proc_status_bytes, wait_for

MEMORY_MAX = 64 * 1024 * 1024
BIG = 100 * 1024 * 1024
LEFT, RIGHT = "AA:00:00:00:02:01", "AA:00:00:00:02:02"
TOPICS = [BASE + "/anna/steps", BASE + "/anna/availability", BASE + "/anna/left/availability",
          BASE + "/anna/right/availability", BASE + "/anna/reminder/set", "homeassistant/status"]


def flood(world, port, retain):
    """100 MB on every subscribed topic; returns how many the broker took."""
    took = 0
    for t in TOPICS:
        args = ["mosquitto_pub", "-h", "127.0.0.1", "-p", str(port), "-q", "1", "-t", t, "-f", world.path("big")]
        if retain:
            args.append("-r")
        took += subprocess.call(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=120) == 0
    return took


def retained_sizes(port):
    """The sizes of the retained messages the broker holds on our topics."""
    args = ["mosquitto_sub", "-h", "127.0.0.1", "-p", str(port), "--retained-only", "-W", "2", "-F", "%l"]
    for t in TOPICS:
        args += ["-t", t]
    out = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, timeout=30).stdout.decode()
    return [int(x) for x in out.split()]


def run(world, tap, name, port, protocol, env, live_flood=True):
    conf = world.gateway_config(name, "[gateway]\nid = %s\nstate-directory = %s\ntrust-wall-clock = yes\n\n"
                                      "[mqtt]\nhost = 127.0.0.1\nport = %d\nprotocol = %s\n\n"
                                      "[metrics]\npublish-interval = 1s\n\n"
                                      "[wearer anna]\nleft = %s\nright = %s\n"
                                      % (name, world.path(name + "-state"), port, protocol, LEFT, RIGHT))
    sub = Subscriber(world, port, name + "-messages.txt", topics=(BASE + "/anna/gait",))
    gw = world.gateway(env, conf, name + ".log", level="info")
    gait = BASE + "/anna/gait"
    wait_for(lambda: len(payloads(sub.messages(), gait)) >= 2 or gw.poll() is not None, 40)
    if live_flood:
        flood(world, port, retain=False)  # and more while it runs
    n = len(payloads(sub.messages(), gait))
    publishing = wait_for(lambda: len(payloads(sub.messages(), gait)) >= n + 3 or gw.poll() is not None, 30) \
        and gw.poll() is None
    alive = gw.poll() is None
    hwm = proc_status_bytes(gw.pid, "VmHWM") if alive else None
    gw.terminate()
    gw.wait(10)
    return alive, publishing, hwm


def main():
    tap = Tap()
    world = World("insole2mqtt-big.")
    try:
        with open(world.path("big"), "wb") as f:
            f.truncate(BIG)
        env = world.bus("bus")
        world.sim(env, "wearer anna left=%s right=%s mode=walking cadence=110\n" % (LEFT, RIGHT), "sim.log")

        port = world.broker(name="broker")
        took = flood(world, port, retain=True)
        tap(took == len(TOPICS), "the broker holds a 100 MB retained message on each of %d subscribed topics" % took)
        alive, publishing, hwm = run(world, tap, "v5", port, "5", env)
        tap(alive, "MQTT 5: the gateway survives 100 MB messages on every subscribed topic", world.log_tail("v5.log"))
        tap(publishing, "MQTT 5: it keeps publishing after the flood")
        tap(hwm is not None and hwm < MEMORY_MAX, "MQTT 5: peak resident size %.1f MiB, under MemoryMax=64M"
            % ((hwm or 0) / 2**20))
        print("# MQTT 5, 100 MB x %d retained + %d live: VmHWM %.1f MiB" % (len(TOPICS), len(TOPICS), (hwm or 0) / 2**20))

        # MQTT 3.1.1 cannot announce a limit: the broker's message_size_limit keeps them out
        port2 = world.broker("message_size_limit 16384\n", name="limited")
        flood(world, port2, retain=True)
        held = retained_sizes(port2)
        tap(not held, "a broker with message_size_limit 16384 keeps none of the 100 MB messages", held)
        alive, publishing, hwm = run(world, tap, "v311", port2, "3.1.1", env, live_flood=False)
        tap(alive and publishing and hwm is not None and hwm < MEMORY_MAX,
            "MQTT 3.1.1 behind message_size_limit: running, publishing, peak %.1f MiB" % ((hwm or 0) / 2**20),
            world.log_tail("v311.log"))

        # the figure without either protection (libmosquitto reads each message whole)
        if os.environ.get("INSOLE2MQTT_BIG_UNPROTECTED"):
            alive, publishing, hwm = run(world, tap, "unprotected", port, "3.1.1", env)
            print("# MQTT 3.1.1, no broker limit: alive %s, VmHWM %.1f MiB" % (alive, (hwm or 0) / 2**20))
    finally:
        world.close(bool(tap.results) and all(tap.results))
    return tap.finish()


if __name__ == "__main__":
    sys.exit(main())
