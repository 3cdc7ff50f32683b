#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Only bonded insoles (require-bonded = yes, the default): anna's left insole is bonded and streams;
a device using the address of her right insole has no bond (an impostor, or an insole nobody
paired). It is never connected or streamed, the log says so once without its address at info
level, and its link payload says refused. Once it bonds (Device1.Pair()), it streams. With
require-bonded = no the same unbonded device streams at once. Prints TAP."""

import subprocess
import sys
import time

from harness import BASE, Subscriber, Tap, World, payloads, wait_for

LEFT, RIGHT = "AA:00:00:00:01:01", "AA:00:00:00:01:02"


def config(world, name, port, extra=""):
    return world.gateway_config(name, "[gateway]\nid = %s\nstate-directory = %s\ntrust-wall-clock = yes\n\n"
                                      "[bluetooth]\nbackoff-initial = 1s\n%s\n"
                                      "[mqtt]\nhost = 127.0.0.1\nport = %d\n\n"
                                      "[metrics]\npublish-interval = 2s\n\n"
                                      "[wearer anna]\nleft = %s\nright = %s\n"
                                      % (name, world.path(name + "-state"), extra, port, LEFT, RIGHT))


def online(msgs, side):
    return any(p and p.get("state") == "online" for p in payloads(msgs, BASE + "/anna/%s/availability" % side))


def main():
    tap = Tap()
    world = World("insole2mqtt-bonded.")
    try:
        port = world.broker()
        env = world.bus("bus")
        sim = world.sim(env, "wearer anna left=%s right=%s mode=walking cadence=110\n"
                             "unbond %s\n" % (LEFT, RIGHT, RIGHT), "sim.log")
        sub = Subscriber(world, port)
        gateway = world.gateway(env, config(world, "gw", port), "gateway.log", level="info")

        # the bonded insole streams; the first health round (5 s) publishes both link payloads
        wait_for(lambda: online(sub.messages(), "left") and payloads(sub.messages(), BASE + "/anna/right/link"), 30)
        time.sleep(3)  # time for a refused device to be connected by mistake
        msgs = sub.messages()
        tap(online(msgs, "left"), "the bonded insole streams", world.log_tail("gateway.log"))
        tap(not online(msgs, "right"), "the unbonded device using a listed address is never streamed")
        links = [p for p in payloads(msgs, BASE + "/anna/right/link") if p]
        tap(bool(links) and links[-1].get("refused") is True and links[-1].get("connected") is False,
            "its link payload says refused", links[-1:])
        left_links = [p for p in payloads(msgs, BASE + "/anna/left/link") if p]
        tap(bool(left_links) and left_links[-1].get("refused") is False, "the bonded insole's link is not refused",
            left_links[-1:])
        with open(world.path("gateway.log"), errors="replace") as f:
            log = f.read()
        tap(log.count("right insole of anna: refused") == 1, "the refusal is logged once", log[-1500:])
        tap(RIGHT not in log and RIGHT.lower() not in log, "no address in the log at info level")

        # the wearer pairs the insole (bluetoothctl pair): it is used from then on
        pair(env, RIGHT)
        tap(wait_for(lambda: online(sub.messages(), "right"), 20), "once bonded, it streams",
            world.log_tail("gateway.log"))
        gateway.terminate()
        gateway.wait(10)
        sim.terminate()
        sim.wait(10)

        # require-bonded = no: the same unbonded device is believed at once (what the default prevents)
        env2 = world.bus("bus2")
        world.sim(env2, "wearer anna left=%s right=%s mode=walking cadence=110\nunbond %s\n" % (LEFT, RIGHT, RIGHT),
                  "sim2.log")
        n_before = len(sub.messages())
        gw2 = world.gateway(env2, config(world, "gw2", port, "require-bonded = no\n"), "gateway2.log", level="info")
        tap(wait_for(lambda: online(sub.messages()[n_before:], "right"), 30),
            "with require-bonded = no the unbonded device streams", world.log_tail("gateway2.log"))
        tap("require-bonded = no" in open(world.path("gateway2.log"), errors="replace").read(),
            "require-bonded = no is warned about at start")
        gw2.terminate()
        gw2.wait(10)
    finally:
        world.close(bool(tap.results) and all(tap.results))
    return tap.finish()


def pair(env, address):
    """What `bluetoothctl pair` does: Device1.Pair() on the device's object."""
    subprocess.check_call(["busctl", "--system", "call", "org.bluez", "/org/bluez/hci0/dev_" + address.replace(":", "_"),
                           "org.bluez.Device1", "Pair"], env=env)


if __name__ == "__main__":
    sys.exit(main())
