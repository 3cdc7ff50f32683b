#!/bin/sh
# SPDX-License-Identifier: MIT
# Runs inside the real-BlueZ test VM (tests/vm): an Open Insole Profile peripheral on hci0 and
# the whole gateway (insole2mqtt) on hci1 against the real bluetoothd 5.66, with a mosquitto on
# loopback inside the VM and a subscriber counting what the gateway publishes.
# From the repository root on the host, after building build/ (the VM image has the broker):
#     tests/vm/run-vm.sh -t 150 . build 'sh tests/bluez/rig/run-daemon-in-rig.sh [SECONDS] /mnt/build'
# tests/vm/bluez-vm-test.sh, part of the test suite, checks more than this one.
seconds=${1:-30}
build=${2:-build}
ready=/tmp/oip.ready
state=/tmp/insole2mqtt-state
mkdir -p "$state"

mosquitto -p 1883 >/tmp/mosquitto.log 2>&1 &
broker=$!

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
adapter=$(cat /sys/class/bluetooth/hci1/address 2>/dev/null || echo 00:AA:01:01:00:01)
adapter=$(echo "$adapter" | tr a-f A-F)
echo "[rig] insole on hci0, gateway on hci1"

cat >/tmp/insole2mqtt.conf <<CONF
[gateway]
id = rig
state-directory = $state
trust-wall-clock = yes
[bluetooth]
adapter = $adapter
# the peripheral is not paired with hci1 here; with the default require-bonded = yes it would be
# refused (docs/bluetooth.md, "Bonded insoles only")
require-bonded = no
[mqtt]
host = 127.0.0.1
port = 1883
[metrics]
publish-interval = 5s
[wearer anna]
left = $insole
CONF

mosquitto_sub -h 127.0.0.1 -p 1883 -v -t 'insole2mqtt/#' >/tmp/messages.txt 2>&1 &
sub=$!
"$build/daemon/insole2mqtt" --config /tmp/insole2mqtt.conf --log-level info &
gateway=$!
sleep "$seconds"
kill -TERM $gateway
wait $gateway
rc=$?
kill $sub $periph $broker 2>/dev/null

echo "[rig] gateway exit status $rc"
echo "[rig] messages by topic:"
cut -d' ' -f1 /tmp/messages.txt | sort | uniq -c
echo "[rig] last gait message:"
grep '^insole2mqtt/anna/gait ' /tmp/messages.txt | tail -n 1 | cut -c1-400
avail=$(grep -c '^insole2mqtt/anna/left/availability {"state":"online"' /tmp/messages.txt)
gait=$(grep -c '^insole2mqtt/anna/gait ' /tmp/messages.txt)
if [ "$rc" -eq 0 ] && [ "$avail" -ge 1 ] && [ "$gait" -ge 1 ]; then
        echo "RESULT PASS"
        exit 0
fi
echo "RESULT FAIL"
exit 1
