#!/bin/sh
# SPDX-License-Identifier: MIT
# Runs inside the real-BlueZ rig VM (../shared/rig): an Open Insole Profile peripheral on hci0, the
# BlueZ client (bluez-probe) on hci1, against the real bluetoothd 5.66.
# From the repository root on the host, after building build-bluez:
#     ../shared/rig/run.sh -t 120 . tests/bluez/rig/run-in-rig.sh [SECONDS] [BUILD-DIR]
seconds=${1:-20}
build=${2:-build-bluez}
ready=/tmp/oip.ready
rm -f "$ready"

python3 -u tests/bluez/rig/oip-peripheral.py --adapter hci0 --ready-file "$ready" &
periph=$!
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

"$build/tests/bluez/bluez-probe" --seconds "$seconds" --adapter "$(echo "$client" | tr a-f A-F)" anna "$insole"
rc=$?
kill $periph 2>/dev/null
wait $periph
echo "[rig] probe exit status $rc"
exit $rc
