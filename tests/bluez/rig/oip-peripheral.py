#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""An Open Insole Profile insole, or with --footpod a standard footpod, served by a real bluetoothd
(the test VM, tests/vm).

Registers a GATT application on one adapter through org.bluez.GattManager1 and an LE
advertisement carrying the main service's UUID.

The insole: the OIP service (pressure frame: notify; sensor layout: read; step counter: read +
notify; control point: write). Frames carry FRAME_SAMPLES samples of N_CELLS cells each at RATE_HZ
samples per second, with a +1 sequence number. The foot walks at CADENCE_SPM: a stride every
STRIDE_MS, loaded for STANCE_PCT of it (heel to toe), unloaded in the swing; the step counter
counts this foot's steps, one per stride. The wire layout is the one in
daemon/decoders/open-insole-profile.h.

The footpod: Running Speed and Cadence (0x1814; RSC Measurement 0x2A53 notified once a second
with stride length and Total Distance, walking at SPEED_M_S and CADENCE_SPM; RSC Feature 0x2A54)
and Device Information (0x180A: manufacturer, model, firmware and hardware revision), written from
the Bluetooth SIG specifications.

Prints "[oip] READY <address>" when both registrations succeeded.
"""
import argparse
import math
import signal
import struct
import sys
import time

import dbus
import dbus.exceptions
import dbus.mainloop.glib
import dbus.service
from gi.repository import GLib

BLUEZ = "org.bluez"
PROPS = "org.freedesktop.DBus.Properties"
OM = "org.freedesktop.DBus.ObjectManager"
GATT_SERVICE = "org.bluez.GattService1"
GATT_CHAR = "org.bluez.GattCharacteristic1"
LE_ADV = "org.bluez.LEAdvertisement1"

OIP_SERVICE = "6f1d0001-2c4b-4e8a-9d3f-1b7e5a0c9f21"
OIP_FRAME = "6f1d0002-2c4b-4e8a-9d3f-1b7e5a0c9f21"
OIP_LAYOUT = "6f1d0003-2c4b-4e8a-9d3f-1b7e5a0c9f21"
OIP_STEPS = "6f1d0004-2c4b-4e8a-9d3f-1b7e5a0c9f21"
OIP_CONTROL = "6f1d0005-2c4b-4e8a-9d3f-1b7e5a0c9f21"
ROOT = "/net/insole2mqtt/oip"

RSC_SERVICE = "00001814-0000-1000-8000-00805f9b34fb"
RSC_MEASUREMENT = "00002a53-0000-1000-8000-00805f9b34fb"
RSC_FEATURE = "00002a54-0000-1000-8000-00805f9b34fb"
DIS_SERVICE = "0000180a-0000-1000-8000-00805f9b34fb"
DIS_STRINGS = (("00002a29-0000-1000-8000-00805f9b34fb", b"VM Footpods"),  # manufacturer
               ("00002a24-0000-1000-8000-00805f9b34fb", b"RSC-VM"),  # model number
               ("00002a26-0000-1000-8000-00805f9b34fb", b"2.1.0"),  # firmware revision
               ("00002a27-0000-1000-8000-00805f9b34fb", b"rev C"))  # hardware revision

N_CELLS = 8
RATE_HZ = 100
FRAME_SAMPLES = 5
CADENCE_SPM = 100  # both feet
STRIDE_MS = 120000 // CADENCE_SPM
STANCE_PCT = 60
SPEED_M_S = 1.4
TOTAL_DISTANCE_START_DM = 12345  # the footpod walked before


def say(*a):
    print("[oip]", *a, flush=True)


class Failed(dbus.exceptions.DBusException):
    _dbus_error_name = "org.bluez.Error.Failed"


class App(dbus.service.Object):
    def __init__(self, bus):
        super().__init__(bus, ROOT)
        self.services = []

    @dbus.service.method(OM, out_signature="a{oa{sa{sv}}}")
    def GetManagedObjects(self):
        objects = {}
        for svc in self.services:
            objects[dbus.ObjectPath(svc.path)] = svc.props()
            for ch in svc.chars:
                objects[dbus.ObjectPath(ch.path)] = ch.props()
        return objects


class Service(dbus.service.Object):
    def __init__(self, bus, uuid, index=0):
        self.path = ROOT + "/svc%d" % index
        self.uuid = uuid
        self.chars = []
        super().__init__(bus, self.path)

    def props(self):
        return {GATT_SERVICE: {"UUID": self.uuid, "Primary": True,
                               "Characteristics": dbus.Array([dbus.ObjectPath(c.path) for c in self.chars],
                                                             signature="o")}}

    @dbus.service.method(PROPS, in_signature="s", out_signature="a{sv}")
    def GetAll(self, interface):
        return self.props()[GATT_SERVICE]


class Char(dbus.service.Object):
    def __init__(self, bus, service, index, uuid, flags, value=b""):
        self.path = f"{service.path}/char{index}"
        self.service = service
        self.uuid = uuid
        self.flags = flags
        self.value = bytes(value)
        self.notifying = False
        self.on_write = None
        super().__init__(bus, self.path)

    def props(self):
        p = {"Service": dbus.ObjectPath(self.service.path), "UUID": self.uuid,
             "Flags": dbus.Array(self.flags, signature="s")}
        if "notify" in self.flags:
            p["Notifying"] = dbus.Boolean(self.notifying)
        return {GATT_CHAR: p}

    def set(self, value):
        self.value = bytes(value)
        if self.notifying:
            self.PropertiesChanged(GATT_CHAR, {"Value": dbus.Array(self.value, signature="y")}, [])

    @dbus.service.method(PROPS, in_signature="s", out_signature="a{sv}")
    def GetAll(self, interface):
        return self.props()[GATT_CHAR]

    @dbus.service.signal(PROPS, signature="sa{sv}as")
    def PropertiesChanged(self, interface, changed, invalidated):
        pass

    @dbus.service.method(GATT_CHAR, in_signature="a{sv}", out_signature="ay")
    def ReadValue(self, options):
        return dbus.Array(self.value, signature="y")

    @dbus.service.method(GATT_CHAR, in_signature="aya{sv}")
    def WriteValue(self, value, options):
        if self.on_write is None:
            raise Failed("not writable")
        self.on_write(bytes(value))

    @dbus.service.method(GATT_CHAR)
    def StartNotify(self):
        say(f"{self.uuid[:8]} subscribed")
        self.notifying = True

    @dbus.service.method(GATT_CHAR)
    def StopNotify(self):
        say(f"{self.uuid[:8]} unsubscribed")
        self.notifying = False


class Advertisement(dbus.service.Object):
    def __init__(self, bus, uuid, name):
        self.path = ROOT + "/adv0"
        self.uuid = uuid
        self.name = name
        super().__init__(bus, self.path)

    @dbus.service.method(PROPS, in_signature="s", out_signature="a{sv}")
    def GetAll(self, interface):
        return {"Type": "peripheral", "ServiceUUIDs": dbus.Array([self.uuid], signature="s"),
                "LocalName": self.name, "Discoverable": dbus.Boolean(True)}

    @dbus.service.method(LE_ADV)
    def Release(self):
        say("advertisement released")


def layout_bytes():
    # version 1, side left, N_CELLS cells, raw counts, scale 1.0, offset 0.0
    out = struct.pack("<BBBBff", 1, 0, N_CELLS, 0, 1.0, 0.0)
    for i in range(N_CELLS):
        out += struct.pack("<BBH", int(255 * (i + 0.5) / N_CELLS), 128, 150)
    return out


class Insole:
    def __init__(self, frame, steps):
        self.frame = frame
        self.steps_char = steps
        self.seq = 0
        self.sample = 0
        self.steps = 0
        self.boot_id = 0x5EED0001
        self.t0 = time.monotonic()
        self.frames_sent = 0

    @staticmethod
    def load(sample, cell):
        """Raw counts of one cell: unloaded in the swing; in the stance the load rolls from the
        heel (cell 0) to the toe (the last cell), rising within a few samples at heel strike."""
        stance = (sample * 1000 // RATE_HZ) % STRIDE_MS / STRIDE_MS / (STANCE_PCT / 100)
        if stance >= 1:
            return 40
        centre = cell / (N_CELLS - 1)
        return int(40 + 3000 * math.sin(math.pi * stance) ** 0.3 * (0.4 + 0.6 * max(0, 1 - 2 * abs(stance - centre))))

    def tick_frame(self):
        period_us = 1000000 // RATE_HZ
        t0_us = (self.sample * period_us) & 0xFFFFFFFF
        out = struct.pack("<BBHIHBB", 1, 0, self.seq, t0_us, period_us, N_CELLS, FRAME_SAMPLES)
        for s in range(FRAME_SAMPLES):
            for c in range(N_CELLS):
                out += struct.pack("<H", self.load(self.sample + s, c))
        self.sample += FRAME_SAMPLES
        self.seq = (self.seq + 1) & 0xFFFF
        if self.frame.notifying:
            self.frames_sent += 1
        self.frame.set(out)
        return True

    def tick_step(self):
        self.steps += 1
        self.steps_char.set(struct.pack("<BBII", 1, 0, self.steps, self.boot_id))
        return True


class Footpod:
    def __init__(self, measurement):
        self.measurement = measurement
        self.total_dm = TOTAL_DISTANCE_START_DM
        self.walked_m = 0.0
        self.sent = 0

    def tick(self):
        # flags: stride length and Total Distance present, walking (bit 2 clear)
        self.walked_m += SPEED_M_S
        total = (TOTAL_DISTANCE_START_DM + round(self.walked_m * 10)) & 0xFFFFFFFF
        stride_cm = round(SPEED_M_S / (CADENCE_SPM / 120) * 100)
        if self.measurement.notifying:
            self.sent += 1
        self.measurement.set(struct.pack("<BHBHI", 0x03, round(SPEED_M_S * 256), CADENCE_SPM, stride_cm, total))
        return True


def insole_app(bus, app):
    svc = Service(bus, OIP_SERVICE)
    frame = Char(bus, svc, 0, OIP_FRAME, ["notify"])
    layout = Char(bus, svc, 1, OIP_LAYOUT, ["read"], layout_bytes())
    steps = Char(bus, svc, 2, OIP_STEPS, ["read", "notify"], struct.pack("<BBII", 1, 0, 0, 0x5EED0001))
    control = Char(bus, svc, 3, OIP_CONTROL, ["write"])
    control.on_write = lambda v: say("control point:", v.hex())
    svc.chars = [frame, layout, steps, control]
    app.services.append(svc)
    insole = Insole(frame, steps)
    GLib.timeout_add(1000 * FRAME_SAMPLES // RATE_HZ, insole.tick_frame)
    GLib.timeout_add(STRIDE_MS, insole.tick_step)
    return Advertisement(bus, OIP_SERVICE, "rig-insole"), \
        lambda: f"{insole.frames_sent} frames notified, seq {insole.seq}, {insole.steps} steps"


def footpod_app(bus, app):
    rsc = Service(bus, RSC_SERVICE, 0)
    measurement = Char(bus, rsc, 0, RSC_MEASUREMENT, ["notify"])
    # stride length, total distance, walking or running status
    feature = Char(bus, rsc, 1, RSC_FEATURE, ["read"], struct.pack("<H", 0x0007))
    rsc.chars = [measurement, feature]
    dis = Service(bus, DIS_SERVICE, 1)
    dis.chars = [Char(bus, dis, i, uuid, ["read"], text) for i, (uuid, text) in enumerate(DIS_STRINGS)]
    app.services += [rsc, dis]
    pod = Footpod(measurement)
    GLib.timeout_add(1000, pod.tick)
    return Advertisement(bus, RSC_SERVICE, "rig-footpod"), \
        lambda: f"{pod.sent} measurements notified, total {TOTAL_DISTANCE_START_DM + round(pod.walked_m * 10)} dm"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--adapter", default="hci0")
    ap.add_argument("--ready-file")
    ap.add_argument("--footpod", action="store_true", help="a footpod instead of an insole")
    args = ap.parse_args()

    dbus.mainloop.glib.DBusGMainLoop(set_as_default=True)
    bus = dbus.SystemBus()
    adapter = bus.get_object(BLUEZ, "/org/bluez/" + args.adapter)
    props = dbus.Interface(adapter, PROPS)
    props.Set("org.bluez.Adapter1", "Powered", dbus.Boolean(True))
    address = props.Get("org.bluez.Adapter1", "Address")

    app = App(bus)
    adv, summary = (footpod_app if args.footpod else insole_app)(bus, app)

    loop = GLib.MainLoop()
    done = {"app": False, "adv": False}

    def ok(what):
        def cb():
            done[what] = True
            if all(done.values()):
                say("READY", address)
                if args.ready_file:
                    open(args.ready_file, "w").write(address + "\n")
        return cb

    def err(what):
        def cb(e):
            say(what, "FAILED:", e)
            loop.quit()
        return cb

    dbus.Interface(adapter, "org.bluez.GattManager1").RegisterApplication(
        dbus.ObjectPath(ROOT), {}, reply_handler=ok("app"), error_handler=err("RegisterApplication"))
    dbus.Interface(adapter, "org.bluez.LEAdvertisingManager1").RegisterAdvertisement(
        dbus.ObjectPath(adv.path), {}, reply_handler=ok("adv"), error_handler=err("RegisterAdvertisement"))

    for sig in (signal.SIGTERM, signal.SIGINT):
        GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, sig, loop.quit)
    loop.run()
    say("exiting:", summary())
    return 0


if __name__ == "__main__":
    sys.exit(main())
