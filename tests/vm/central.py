#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The test's own BlueZ client on the gateway's adapter, inside the test VM (tests/vm).

  central.py address ADAPTER              print the adapter's address
  central.py pair ADAPTER DEVICE          bond with DEVICE: LE Secure Connections, Just Works (an
                                          auto-accepting NoInputNoOutput agent), then disconnect;
                                          fails unless BlueZ reports the device Paired and Bonded
  central.py unpair ADAPTER DEVICE        RemoveDevice: forget the device and its keys
  central.py hold-notify ADAPTER DEVICE CHAR-UUID
                                          connect, StartNotify on CHAR-UUID and hold it until
                                          SIGTERM, so that another client's AcquireNotify is refused
                                          (bluetoothd allows one AcquireNotify session and none
                                          while StartNotify sessions exist); prints "HOLDING"
One bluetoothd serves both sides of the VM, so the agent registered here answers the peripheral
side of the pairing as well.
"""
import signal
import sys
import time

import dbus
import dbus.mainloop.glib
import dbus.service
from gi.repository import GLib

BLUEZ = "org.bluez"
PROPS = "org.freedesktop.DBus.Properties"
AGENT_PATH = "/net/insole2mqtt/vmtest/agent"


def say(*a):
    print("[central]", *a, flush=True)


class Agent(dbus.service.Object):
    """NoInputNoOutput: every request is accepted (Just Works)."""

    @dbus.service.method("org.bluez.Agent1", in_signature="", out_signature="")
    def Release(self):
        pass

    @dbus.service.method("org.bluez.Agent1", in_signature="os", out_signature="")
    def AuthorizeService(self, device, uuid):
        pass

    @dbus.service.method("org.bluez.Agent1", in_signature="ou", out_signature="")
    def RequestConfirmation(self, device, passkey):
        pass

    @dbus.service.method("org.bluez.Agent1", in_signature="o", out_signature="")
    def RequestAuthorization(self, device):
        pass

    @dbus.service.method("org.bluez.Agent1", in_signature="", out_signature="")
    def Cancel(self):
        pass


def objects(bus):
    return dbus.Interface(bus.get_object(BLUEZ, "/"), "org.freedesktop.DBus.ObjectManager").GetManagedObjects()


def device_path(adapter, address):
    return "/org/bluez/%s/dev_%s" % (adapter, address.upper().replace(":", "_"))


def prop(bus, path, iface, name):
    return dbus.Interface(bus.get_object(BLUEZ, path), PROPS).Get(iface, name)


def wait(pred, seconds, what):
    ctx = GLib.MainContext.default()
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        while ctx.pending():
            ctx.iteration(False)
        try:
            if pred():
                return
        except dbus.exceptions.DBusException:
            pass
        time.sleep(0.05)
    raise SystemExit("[central] timed out after %d s waiting for %s" % (seconds, what))


def find_device(bus, adapter, address):
    """The device's object on ADAPTER, discovering it if BlueZ does not know it yet."""
    path = device_path(adapter, address)
    if path in objects(bus):
        return path
    ad = dbus.Interface(bus.get_object(BLUEZ, "/org/bluez/" + adapter), "org.bluez.Adapter1")
    ad.SetDiscoveryFilter({"Transport": "le"})
    ad.StartDiscovery()
    try:
        wait(lambda: path in objects(bus), 30, "an advertisement of the device")
    finally:
        ad.StopDiscovery()
    return path


def connect(bus, path):
    dev = dbus.Interface(bus.get_object(BLUEZ, path), "org.bluez.Device1")
    if not prop(bus, path, "org.bluez.Device1", "Connected"):
        dev.Connect(timeout=30)
    wait(lambda: prop(bus, path, "org.bluez.Device1", "ServicesResolved"), 30, "ServicesResolved")
    return dev


def main(argv):
    dbus.mainloop.glib.DBusGMainLoop(set_as_default=True)
    bus = dbus.SystemBus()
    cmd, adapter = argv[1], argv[2]
    if cmd == "address":
        print(prop(bus, "/org/bluez/" + adapter, "org.bluez.Adapter1", "Address"))
        return 0
    address = argv[3]
    if cmd == "unpair":
        ad = dbus.Interface(bus.get_object(BLUEZ, "/org/bluez/" + adapter), "org.bluez.Adapter1")
        path = device_path(adapter, address)
        if path in objects(bus):
            ad.RemoveDevice(dbus.ObjectPath(path))
        return 0
    path = find_device(bus, adapter, address)
    if cmd == "pair":
        Agent(bus, AGENT_PATH)
        manager = dbus.Interface(bus.get_object(BLUEZ, "/org/bluez"), "org.bluez.AgentManager1")
        manager.RegisterAgent(AGENT_PATH, "NoInputNoOutput")
        manager.RequestDefaultAgent(AGENT_PATH)
        dev = dbus.Interface(bus.get_object(BLUEZ, path), "org.bluez.Device1")
        started = time.monotonic()
        # Asynchronous, so that the main loop answers the agent requests bluetoothd makes meanwhile.
        loop = GLib.MainLoop()
        result = {}
        dev.Pair(timeout=60, reply_handler=loop.quit,
                 error_handler=lambda e: (result.update(error=e), loop.quit()))
        loop.run()
        # AlreadyExists: an earlier attempt bonded after all; the properties below say so
        if "error" in result and result["error"].get_dbus_name() != "org.bluez.Error.AlreadyExists":
            say("Pair failed:", result["error"])
            return 1
        paired = bool(prop(bus, path, "org.bluez.Device1", "Paired"))
        try:
            bonded = bool(prop(bus, path, "org.bluez.Device1", "Bonded"))
        except dbus.exceptions.DBusException:
            bonded = None  # property unknown to this BlueZ
        say("Pair done in %.2f s: Paired=%s Bonded=%s" % (time.monotonic() - started, paired, bonded))
        dbus.Interface(bus.get_object(BLUEZ, path), PROPS).Set("org.bluez.Device1", "Trusted", True)
        if prop(bus, path, "org.bluez.Device1", "Connected"):
            dev.Disconnect()
        wait(lambda: not prop(bus, path, "org.bluez.Device1", "Connected"), 15, "the link to drop")
        return 0 if paired and bonded is not False else 1
    if cmd == "hold-notify":
        uuid = argv[4].lower()
        connect(bus, path)
        chars = [p for p, ifaces in objects(bus).items()
                 if p.startswith(path + "/") and str(ifaces.get("org.bluez.GattCharacteristic1", {}).get("UUID", "")).lower() == uuid]
        if not chars:
            say("no characteristic", uuid)
            return 1
        dbus.Interface(bus.get_object(BLUEZ, chars[0]), "org.bluez.GattCharacteristic1").StartNotify()
        say("HOLDING StartNotify on", uuid)
        loop = GLib.MainLoop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, sig, loop.quit)
        loop.run()
        return 0
    raise SystemExit("unknown command " + cmd)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
