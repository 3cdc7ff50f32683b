#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The outbox is bounded in bytes: a broker outage with the raw pressure stream on. The issue's
10 minutes at the default raw-rate of 10 Hz are compressed into 60 s at 100 Hz: the same number of
messages (2 insoles x 6000, one sample per notification) arrive at the outbox. With outbox-max-bytes = 256 KiB the gateway's
resident size grows by little more than that while the outbox-max of 1000000 messages would allow
~7 MB; the drops are logged with their reason; when the broker comes, the retained states arrive.
Prints TAP and the figures."""

import os
import re
import subprocess
import sys
import time

from harness import BASE, GATEWAY, Subscriber, Tap, World, payloads, proc_status_bytes, wait_for

LEFT, RIGHT = "AA:00:00:00:03:01", "AA:00:00:00:03:02"
MAX_BYTES = 256 * 1024
OUTAGE_S = float(os.environ.get("INSOLE2MQTT_OUTAGE_S", "60"))


def sanitized():
    """True when the gateway is built with AddressSanitizer (its runtime is linked in)."""
    try:
        out = subprocess.run(["ldd", GATEWAY], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return False
    return "libasan" in out


def main():
    tap = Tap()
    world = World("insole2mqtt-outbox.")
    try:
        env = world.bus("bus")
        world.sim(env, "samples-per-frame 1\nwearer anna left=%s right=%s mode=walking cadence=110\n" % (LEFT, RIGHT), "sim.log")
        port = world.reserve_port()  # nothing listens yet: the outage
        conf = world.gateway_config("gw", "[gateway]\nid = gw\nstate-directory = %s\ntrust-wall-clock = yes\n\n"
                                          "[mqtt]\nhost = 127.0.0.1\nport = %d\noutbox-max = 1000000\n"
                                          "outbox-max-bytes = %d\n\n"
                                          "[metrics]\nraw-stream = yes\nraw-rate = 100\n\n"
                                          "[wearer anna]\nleft = %s\nright = %s\n"
                                          % (world.path("gw-state"), port, MAX_BYTES, LEFT, RIGHT))
        gw = world.gateway(env, conf, "gateway.log", level="info")
        # with the broker away the gateway waits up to 10 s for it before it starts counting; take the
        # baseline once both insoles stream and the gait engine has data
        wait_for(lambda: open(world.path("gateway.log"), errors="replace").read().count(": streaming (") >= 2, 40)
        time.sleep(3)
        base = proc_status_bytes(gw.pid, "VmRSS") or 0
        peak = base
        end = time.monotonic() + OUTAGE_S
        while time.monotonic() < end and gw.poll() is None:
            peak = max(peak, proc_status_bytes(gw.pid, "VmRSS") or 0)
            time.sleep(0.5)
        growth = peak - base
        print("# outage %.0f s, raw stream 2 x 100 Hz: RSS %.1f MiB -> peak %.1f MiB (growth %.0f KiB, bound %d KiB)"
              % (OUTAGE_S, base / 2**20, peak / 2**20, growth / 1024, MAX_BYTES // 1024))
        tap(gw.poll() is None, "the gateway runs through the outage", world.log_tail("gateway.log"))
        # Under AddressSanitizer the resident size is the sanitizer's: freed blocks wait in its
        # quarantine (up to 256 MiB). The outbox's own account, in each drop line, is checked in
        # every build; the resident size where it measures our allocations.
        if sanitized():
            print("# sanitizer build: resident size not compared (ASan's quarantine keeps freed memory)")
        else:
            tap(growth < MAX_BYTES + 512 * 1024, "resident size grew by %.0f KiB, within the byte bound (+512 KiB slack)"
                % (growth / 1024))
        with open(world.path("gateway.log"), errors="replace") as f:
            log = f.read()
        drops = [l for l in log.splitlines() if "MQTT: dropped" in l]
        held = [int(b) for l in drops for b in re.findall(r"held (\d+) bytes", l)]
        tap(held and max(held) <= MAX_BYTES, "the outbox never held more than %d bytes (at most %s)"
            % (MAX_BYTES, max(held) if held else None), drops[:2])
        tap(drops and "(outbox-max-bytes)" in drops[0] and " 0 because it held" not in drops[0],
            "drops are logged with their reason", drops[:2])
        tap(len(drops) <= 1 + OUTAGE_S / 60, "and at most once a minute (%d lines)" % len(drops))

        # the broker comes: what must not be lost arrives
        world.broker(port=port)
        sub = Subscriber(world, port, topics=(BASE + "/anna/steps", BASE + "/bridge/gw/state"))
        tap(wait_for(lambda: payloads(sub.messages(), BASE + "/anna/steps"), 90),
            "after the outage the retained step count arrives", world.log_tail("gateway.log"))
    finally:
        world.close(bool(tap.results) and all(tap.results))
    return tap.finish()


if __name__ == "__main__":
    sys.exit(main())
