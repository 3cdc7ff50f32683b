# SPDX-License-Identifier: MIT
"""Shared pieces of the whole-system tests: TAP output, a mosquitto broker on a free loopback port,
private dbus-daemons with the BlueZ simulator, gateways and a recording subscriber."""

import ctypes
import json
import os
import shlex
import signal
import socket
import subprocess
import tempfile
import time

# meson sets these for tests; bench/bench-load.py imports this module with its own --build.
SOURCE = os.environ.get("INSOLE2MQTT_SOURCE_ROOT",
                        os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
BUILD = os.environ.get("INSOLE2MQTT_BUILD_ROOT", os.path.join(SOURCE, "build"))
DATA = os.environ.get("INSOLE2MQTT_DATA", os.path.join(SOURCE, "data", "physionet"))
# A cross build's programs run under qemu-user (meson passes the wrapper from cross/*.ini).
WRAPPER = shlex.split(os.environ.get("INSOLE2MQTT_EXE_WRAPPER", ""))
GATEWAY = os.path.join(BUILD, "daemon", "insole2mqtt")
SIM = os.path.join(BUILD, "tests", "sim", "insole-sim")
BASE = "insole2mqtt"


class Tap:
    def __init__(self):
        self.results = []

    def __call__(self, ok, name, detail=""):
        self.results.append(bool(ok))
        print(("ok" if ok else "not ok") + " %d - %s" % (len(self.results), name))
        if detail and not ok:
            for line in str(detail).splitlines()[:20]:
                print("# " + line)
        return ok

    def finish(self):
        print("1..%d" % len(self.results))
        return 0 if self.results and all(self.results) else 1


def wait_port(port, timeout=10):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            socket.create_connection(("127.0.0.1", port), 0.5).close()
            return True
        except OSError:
            time.sleep(0.05)
    return False


def proc_status_bytes(pid, field):
    """A size from /proc/PID/status (VmRSS, VmHWM, ...) in bytes, None when the process is gone."""
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def host_clock_synchronised():
    """What the gateway asks the kernel (adjtimex: STA_UNSYNC) or systemd-timesyncd."""
    class Timex(ctypes.Structure):
        _fields_ = [("modes", ctypes.c_uint), ("offset", ctypes.c_long), ("freq", ctypes.c_long),
                    ("maxerror", ctypes.c_long), ("esterror", ctypes.c_long), ("status", ctypes.c_int),
                    ("rest", ctypes.c_byte * 256)]
    t = Timex()
    if ctypes.CDLL(None).adjtimex(ctypes.byref(t)) >= 0 and not t.status & 0x40:
        return True
    return os.path.exists("/run/systemd/timesync/synchronized")


def clear_of_midnight(seconds=300):
    """For a test whose expectations hold within one UTC day of the wall clock (active hours that end at
    24:00, a history that ends yesterday): when less than `seconds` of the day are left, waits for the
    next day, so that a run started just before midnight does not cross it."""
    now = time.time()
    left = 86400 - now % 86400
    if left < seconds:
        print("# %.0f s to midnight UTC: waiting for the next day" % left, flush=True)
        time.sleep(left + 2)


def stop(proc, timeout=20):
    """SIGTERM, then its exit status; None when it did not end within timeout seconds."""
    proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(timeout)
    except subprocess.TimeoutExpired:
        return None


def wait_for(pred, timeout, step=0.2):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        v = pred()
        if v:
            return v
        time.sleep(step)
    return pred()


class World:
    """Owns the temporary folder and every process of one test; stops them newest first."""

    def __init__(self, prefix):
        self.tmp = tempfile.mkdtemp(prefix=prefix)
        self.procs = []
        self.buses = []
        self.reserved = []
        self.keep = False

    def path(self, name):
        return os.path.join(self.tmp, name)

    def spawn(self, args, log, env=None):
        f = open(self.path(log), "ab")
        p = subprocess.Popen(args, stdout=f, stderr=subprocess.STDOUT, env=env)
        self.procs.append(p)
        return p

    def log_tail(self, name, n=15):
        try:
            with open(self.path(name), errors="replace") as f:
                return "".join(f.readlines()[-n:])
        except OSError:
            return ""

    def reserve_port(self):
        """A loopback port nobody else gets until the test ends, for a listener that starts later
        or stops and comes back (the broker of an outage, the gateway's metrics endpoint).

        A socket bound to it with SO_REUSEADDR and not listening holds it: the kernel hands it to no
        other bind(0) or outgoing connection (the suite runs four at a time), connections to it are
        refused as to a free port, and a listener that also sets SO_REUSEADDR (mosquitto, the
        gateway, Prometheus) may still bind it."""
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", 0))
        self.reserved.append(s)
        return s.getsockname()[1]

    def broker(self, extra_conf="", anonymous=True, port=None, name="mosquitto"):
        """A local mosquitto; extra_conf: more lines for its listener (bench-load's --broker-nodelay,
        test-acl's password and ACL files); anonymous: whether clients without a user may connect;
        port: one the test reserved before (a broker that comes after an outage), else a new
        reserved one; name: of its configuration (name.conf) and log (name.log), for a second
        broker. A broker that fails anyway on a port of its own is tried again on another."""
        for _ in range(3 if port is None else 1):
            listen = port or self.reserve_port()
            with open(self.path(name + ".conf"), "w") as f:
                f.write("listener %d 127.0.0.1\nallow_anonymous %s\npersistence false\n%s"
                        % (listen, "true" if anonymous else "false", extra_conf))
            proc = self.spawn(["mosquitto", "-c", self.path(name + ".conf")], name + ".log")
            # Alive once the port answers: a broker that lost the port has exited, and what
            # answers is someone else's.
            if wait_port(listen) and proc.poll() is None:
                return listen
            proc.kill()
            proc.wait()
        raise RuntimeError("mosquitto did not start:\n" + self.log_tail(name + ".log"))

    def bus(self, name):
        """A private dbus-daemon; returns the environment for its clients."""
        d = self.path(name)
        os.mkdir(d, 0o700)
        r, w = os.pipe()
        bus = subprocess.Popen(["dbus-daemon", "--config-file=" + os.path.join(SOURCE, "tests/sim/dbus-system.conf"),
                                "--address=unix:path=" + os.path.join(d, "system_bus_socket"),
                                "--nofork", "--print-address=%d" % w], pass_fds=(w,), stderr=subprocess.DEVNULL)
        self.procs.append(bus)
        self.buses.append(bus)
        os.close(w)
        address = os.read(r, 4096).decode().strip().splitlines()[0]
        os.close(r)
        return dict(os.environ, DBUS_SYSTEM_BUS_ADDRESS=address)

    def sim(self, env, scenario_text, log, seed=7):
        scenario = self.path(log + ".scenario")
        with open(scenario, "w") as f:
            f.write(scenario_text)
        return self.spawn(WRAPPER + [SIM, "--datasets", DATA, "--scenario", scenario,
                           "--seed", str(seed)], log, env)

    def gateway_config(self, name, text):
        conf = self.path(name + ".conf")
        # Replaced whole, never rewritten in place: a gateway reloading meanwhile reads the old or
        # the new file, not a truncated one.
        with open(conf + ".tmp", "w") as f:
            f.write(text)
        os.replace(conf + ".tmp", conf)
        os.makedirs(self.path(name + "-state"), exist_ok=True)
        return conf

    def gateway(self, env, conf, log, level="debug"):
        return self.spawn(WRAPPER + [GATEWAY, "--config", conf, "--log-level", level], log, env)

    def close(self, ok):
        for p in reversed(self.procs):
            if p.poll() is None:
                p.terminate()
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                p.kill()
        for s in self.reserved:
            s.close()
        if ok and not self.keep:
            subprocess.call(["rm", "-rf", self.tmp])
        else:
            print("# logs kept in " + self.tmp)


class Subscriber:
    """mosquitto_sub writing topic, retained flag and payload, one message per line."""

    def __init__(self, world, port, log="messages.txt", topics=(BASE + "/#", "homeassistant/#")):
        self.path = world.path(log)
        self.out = open(self.path, "w")
        args = ["mosquitto_sub", "-h", "127.0.0.1", "-p", str(port), "-q", "1", "-v", "-F", "%t\t%r\t%p"]
        for t in topics:
            args += ["-t", t]
        self.proc = subprocess.Popen(args, stdout=self.out, stderr=subprocess.STDOUT)
        world.procs.append(self.proc)

    def messages(self):
        self.out.flush()
        msgs = []
        with open(self.path, errors="replace") as f:
            for line in f:
                parts = line.rstrip("\n").split("\t", 2)
                if len(parts) == 3:
                    msgs.append((parts[0], parts[1] == "1", parts[2]))
        return msgs


def payloads(msgs, topic):
    out = []
    for t, _, p in msgs:
        if t == topic:
            try:
                out.append(json.loads(p))
            except ValueError:
                out.append(None)
    return out


# ---- JSON Schema, the subset docs/schema/ uses -------------------------------------------------

import re as _re

_TYPES = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
}


def schema_errors(schema, value, where="$"):
    """Errors of value against schema (type, properties, required, additionalProperties, items,
    enum, const, pattern, minimum, maximum, minItems, maxItems, maxLength)."""
    errs = []
    t = schema.get("type")
    if t is not None:
        types = t if isinstance(t, list) else [t]
        if not any(_TYPES[x](value) for x in types):
            return ["%s: expected %s, found %r" % (where, t, value)]
    if "enum" in schema and value not in schema["enum"]:
        errs.append("%s: %r not in %s" % (where, value, schema["enum"]))
    if "const" in schema and value != schema["const"]:
        errs.append("%s: %r is not %r" % (where, value, schema["const"]))
    if isinstance(value, str):
        if "pattern" in schema and not _re.search(schema["pattern"], value):
            errs.append("%s: %r does not match %s" % (where, value, schema["pattern"]))
        if "maxLength" in schema and len(value) > schema["maxLength"]:
            errs.append("%s: longer than %d" % (where, schema["maxLength"]))
    if _TYPES["number"](value):
        if "minimum" in schema and value < schema["minimum"]:
            errs.append("%s: %r < %r" % (where, value, schema["minimum"]))
        if "maximum" in schema and value > schema["maximum"]:
            errs.append("%s: %r > %r" % (where, value, schema["maximum"]))
    if isinstance(value, list):
        if "minItems" in schema and len(value) < schema["minItems"]:
            errs.append("%s: fewer than %d items" % (where, schema["minItems"]))
        if "maxItems" in schema and len(value) > schema["maxItems"]:
            errs.append("%s: more than %d items" % (where, schema["maxItems"]))
        if isinstance(schema.get("items"), dict):
            for i, v in enumerate(value):
                errs += schema_errors(schema["items"], v, "%s[%d]" % (where, i))
    if isinstance(value, dict):
        props = schema.get("properties", {})
        for k in schema.get("required", []):
            if k not in value:
                errs.append("%s: missing %s" % (where, k))
        for k, v in value.items():
            if k in props:
                errs += schema_errors(props[k], v, "%s.%s" % (where, k))
            elif schema.get("additionalProperties") is False:
                errs.append("%s: unexpected %s" % (where, k))
            elif isinstance(schema.get("additionalProperties"), dict):
                errs += schema_errors(schema["additionalProperties"], v, "%s.%s" % (where, k))
    return errs


def schema_for_topic(topic):
    """The schema in docs/schema/ that documents a topic's payload, or None."""
    p = topic.split("/")
    if p[0] == "homeassistant" and p[-1] == "config":
        return "homeassistant-discovery"
    if p[0] != BASE:
        return None
    if p[1] == "bridge" and len(p) == 4:
        return {"state": "state", "info": "bridge-info", "health": "bridge-health"}.get(p[3])
    rest = "/".join(p[2:])
    if rest in ("availability", "left/availability", "right/availability", "footpod/availability"):
        return "availability"
    last = p[-1]
    if len(p) == 4 and p[2] in ("left", "right", "footpod"):
        return {"battery": "battery", "link": "link", "pressure": "pressure"}.get(last)
    if rest in ("baseline", "alert", "alert/state"):
        return {"baseline": "baseline", "alert": "alert", "alert/state": "alert-state"}[rest]
    return {"gait": "gait", "steps": "steps", "activity": "activity", "reminder": "reminder",
            "state": "reminder", "daily": "reminder", "exercise": "reminder", "today": "reminder"}.get(rest.replace("reminder/", ""))


def load_schema(name):
    with open(os.path.join(SOURCE, "docs", "schema", name + ".json")) as f:
        return json.load(f)
