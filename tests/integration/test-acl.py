#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""config/mosquitto-acl.example does what docs/mqtt.md says: a real mosquitto with that ACL file and
one password per user; the gateway's user (insole2mqtt-hall) publishes steps and its bridge
state, the user carer sends a command; a reader (user homeassistant) can read everything but
neither forge a step count nor send a command; the gateway's user cannot send commands or write
another gateway's bridge topics. Prints TAP."""

import json
import os
import subprocess
import sys
import time

from harness import BASE, SOURCE, Tap, World, wait_for

USERS = {"insole2mqtt-hall": "gw-secret", "carer": "carer-secret", "homeassistant": "ha-secret"}


def main():
    tap = Tap()
    world = World("insole2mqtt-acl.")
    try:
        pw = world.path("passwd")
        with open(pw, "w") as f:
            for u, p in USERS.items():
                f.write("%s:%s\n" % (u, p))
        subprocess.check_call(["mosquitto_passwd", "-U", pw])
        acl = world.path("acl")
        with open(os.path.join(SOURCE, "config", "mosquitto-acl.example")) as f, open(acl, "w") as o:
            o.write(f.read())
        # mosquitto started as root reads these after it became the user mosquitto
        os.chmod(world.tmp, 0o755)
        os.chmod(pw, 0o644)
        os.chmod(acl, 0o644)
        port = world.broker("password_file %s\nacl_file %s\n" % (pw, acl), anonymous=False)

        def pub(user, topic, payload, retain=False):
            args = ["mosquitto_pub", "-h", "127.0.0.1", "-p", str(port), "-u", user, "-P", USERS[user], "-q", "1",
                    "-t", topic, "-m", payload] + (["-r"] if retain else [])
            return subprocess.call(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

        out = open(world.path("seen.txt"), "w")
        sub = subprocess.Popen(["mosquitto_sub", "-h", "127.0.0.1", "-p", str(port), "-u", "homeassistant", "-P",
                                USERS["homeassistant"], "-q", "1", "-v", "-t", BASE + "/#"], stdout=out)
        world.procs.append(sub)

        def seen():
            out.flush()
            return open(world.path("seen.txt"), errors="replace").read()

        steps = json.dumps({"timestamp": "2026-12-03T10:00:00.000Z", "seq": 1, "steps_today": 5, "steps_total": 5,
                            "day": "2026-12-03", "gateway": "hall"})
        # again until seen: the subscriber's subscription may not be in place for the first one
        tap(wait_for(lambda: pub("insole2mqtt-hall", BASE + "/anna/steps", steps) == 0 and
                     wait_for(lambda: BASE + "/anna/steps" in seen(), 1), 10),
            "the gateway publishes a wearer's steps", seen())
        pub("insole2mqtt-hall", BASE + "/bridge/hall/state", '{"state":"online"}')
        tap(wait_for(lambda: BASE + "/bridge/hall/state" in seen(), 5), "and its bridge state")
        pub("carer", BASE + "/anna/reminder/set", '{"command":"snooze","minutes":10}')
        tap(wait_for(lambda: "reminder/set" in seen(), 5), "the carer sends a command")
        n = len(seen())
        pub("homeassistant", BASE + "/anna/steps", steps.replace('"steps_today": 5', '"steps_today": 4600000000000000000'))
        pub("homeassistant", BASE + "/anna/reminder/set", '{"command":"snooze","minutes":600}')
        pub("insole2mqtt-hall", BASE + "/anna/reminder/set", '{"command":"snooze","minutes":601}')
        pub("carer", BASE + "/anna/steps", steps)
        pub("insole2mqtt-hall", BASE + "/bridge/other/state", '{"state":"offline"}')
        time.sleep(2)
        tap(len(seen()) == n, "a reader cannot forge steps or commands, the gateway cannot command, the carer cannot "
            "write steps, a gateway cannot write another gateway's bridge topics", seen()[n:])

        # A wrong password is final: the gateway exits, with the failure and its cause on one error line.
        with open(world.path("wrong-pw"), "w") as f:
            f.write("not-the-secret\n")
        conf = world.gateway_config("hall", "[gateway]\nid = hall\nstate-directory = %s\n\n[mqtt]\nhost = 127.0.0.1\n"
                                            "port = %d\nusername = insole2mqtt-hall\npassword-file = %s\n\n"
                                            "[wearer anna]\nleft = AA:BB:CC:00:00:01\n"
                                            % (world.path("hall-state"), port, world.path("wrong-pw")))
        gw = world.gateway(world.bus("bus"), conf, "hall.log", level="info")
        exited = wait_for(lambda: gw.poll() is not None, 30)
        errors = [l for l in world.log_tail("hall.log", 200).splitlines()
                  if l.split(":")[0] in ("emerg", "alert", "crit", "err")]
        tap(exited and gw.returncode != 0, "a refused password makes the gateway exit", world.log_tail("hall.log"))
        tap(len(errors) == 1 and "giving up" in errors[0] and any(w in errors[0].lower() for w in ("authori", "password")),
            "logged once at error level, with its cause (the broker's reason)",
            "\n".join(errors))
    finally:
        world.close(bool(tap.results) and all(tap.results))
    return tap.finish()


if __name__ == "__main__":
    sys.exit(main())
