#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""The comparison for bench/bench-load.py: the Python bridge a user would write with bleak and
paho-mqtt (Debian's python3-bleak and python3-paho-mqtt): connect each insole, StartNotify on its
pressure characteristic, and publish every notification as it is (one QoS 0 publish each) to
<prefix>/<address>/pressure. bleak talks to whatever BlueZ is on $DBUS_SYSTEM_BUS_ADDRESS (the
simulator on a private bus).

    bridge-bleak-paho.py --port PORT ADDRESS...

Prints READY once every insole is streaming."""

import argparse
import asyncio
import sys

import paho.mqtt.client as mqtt
from bleak import BleakClient, BleakScanner

PRESSURE_FRAME_UUID = "6f1d0002-2c4b-4e8a-9d3f-1b7e5a0c9f21"


async def scan(addresses, timeout=60):
    """Scans until every address advertised; returns their BLEDevices."""
    wanted = {a.upper() for a in addresses}
    found = {}
    done = asyncio.Event()

    def seen(device, _):
        if device.address.upper() in wanted:
            found[device.address.upper()] = device
            if len(found) == len(wanted):
                done.set()
    async with BleakScanner(detection_callback=seen):
        await asyncio.wait_for(done.wait(), timeout)
    return [found[a.upper()] for a in addresses]


async def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--prefix", default="bridge")
    ap.add_argument("addresses", nargs="+")
    a = ap.parse_args()

    client = mqtt.Client()
    client.connect("127.0.0.1", a.port)
    client.loop_start()

    insoles = []
    for address, device in zip(a.addresses, await scan(a.addresses)):
        topic = "%s/%s/pressure" % (a.prefix, address.replace(":", "").lower())
        ble = BleakClient(device)
        await ble.connect()

        def on_notification(_, data, topic=topic):
            client.publish(topic, bytes(data), qos=0)

        await ble.start_notify(PRESSURE_FRAME_UUID, on_notification)
        insoles.append(ble)
    print("READY", flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        sys.exit(0)
