#!/bin/sh
# SPDX-License-Identifier: MIT
# Runs inside the real-BlueZ test VM (tests/vm): an Open Insole Profile peripheral on hci0, the
# BlueZ client (bluez-probe) on hci1, against the real bluetoothd 5.66.
# From the repository root on the host, after building build-bluez:
#     tests/vm/run-vm.sh -t 120 . build-bluez 'sh tests/bluez/rig/run-in-rig.sh [SECONDS] /mnt/build'
# With RESTART_AT=N, bluetoothd is killed N seconds in and started again (the peripheral, whose
# registrations die with it, too): the client must resume on its own.
seconds=${1:-20}
build=${2:-build-bluez}
ready=/tmp/oip.ready

start_periph() {
        rm -f "$ready"
        python3 -u tests/bluez/rig/oip-peripheral.py --adapter hci0 --ready-file "$ready" &
        periph=$!
}

start_periph
i=0
while [ ! -s "$ready" ]; do
        i=$((i + 1))
        if [ $i -gt 300 ] || ! kill -0 $periph 2>/dev/null; then
                echo "[rig] the peripheral did not come up"
                exit 1
        fi
        sleep 0.1
done
insole=$(cat "$ready")
client=$(cat /sys/class/bluetooth/hci1/address 2>/dev/null || echo 00:AA:01:01:00:01)
echo "[rig] insole $insole on hci0, client adapter $client (hci1)"

if [ -n "${RESTART_AT:-}" ]; then
        (
                sleep "$RESTART_AT"
                echo "[rig] killing bluetoothd"
                kill $periph $(pidof bluetoothd) 2>/dev/null
                sleep 1
                /usr/libexec/bluetooth/bluetoothd -n >> /tmp/bluetoothd.log 2>&1 &
                sleep 1
                echo "[rig] bluetoothd started again"
                python3 -u tests/bluez/rig/oip-peripheral.py --adapter hci0 &
                sleep 3600
        ) &
        restarter=$!
fi

"$build/tests/bluez/bluez-probe" --seconds "$seconds" --adapter "$(echo "$client" | tr a-f A-F)" anna "$insole"
rc=$?
[ -n "${restarter:-}" ] && kill $restarter 2>/dev/null
kill $(pgrep -f tests/bluez/rig/oip-peripheral.py) 2>/dev/null
kill $periph 2>/dev/null
wait $periph
echo "[rig] probe exit status $rc"
exit $rc
