#!/bin/sh
# SPDX-License-Identifier: MIT
# A private D-Bus "system bus" for tests and demos.
#
#   tests/sim/run-private-bus.sh -- COMMAND [ARGS...]
#       starts dbus-daemon, runs COMMAND with DBUS_SYSTEM_BUS_ADDRESS pointing at it, stops it.
#   eval "$(tests/sim/run-private-bus.sh start)"
#       starts it and prints export lines (DBUS_SYSTEM_BUS_ADDRESS, INSOLE_SIM_BUS_PID, INSOLE_SIM_BUS_DIR)
#   tests/sim/run-private-bus.sh stop
#       stops the bus started by "start" (reads INSOLE_SIM_BUS_PID / INSOLE_SIM_BUS_DIR)
set -eu

here=$(cd "$(dirname "$0")" && pwd)
config="$here/dbus-system.conf"

start_bus() {
        dir=$(mktemp -d "${TMPDIR:-/tmp}/insole-sim-bus.XXXXXX")
        chmod 700 "$dir"
        dbus-daemon --config-file="$config" --address="unix:path=$dir/system_bus_socket" \
                --fork --print-address=3 --print-pid=4 3>"$dir/address" 4>"$dir/pid"
        address=$(head -n1 "$dir/address")
        pid=$(head -n1 "$dir/pid")
        [ -n "$address" ] && [ -n "$pid" ] || { echo "dbus-daemon did not start" >&2; exit 1; }
}

case "${1:-}" in
start)
        start_bus
        printf "export DBUS_SYSTEM_BUS_ADDRESS='%s'\nexport INSOLE_SIM_BUS_PID=%s\nexport INSOLE_SIM_BUS_DIR='%s'\n" \
                "$address" "$pid" "$dir"
        ;;
stop)
        [ -n "${INSOLE_SIM_BUS_PID:-}" ] && kill "$INSOLE_SIM_BUS_PID" 2>/dev/null || true
        [ -n "${INSOLE_SIM_BUS_DIR:-}" ] && rm -rf "$INSOLE_SIM_BUS_DIR"
        ;;
--)
        shift
        [ $# -gt 0 ] || { echo "usage: $0 -- COMMAND [ARGS...]" >&2; exit 2; }
        start_bus
        trap 'kill "$pid" 2>/dev/null || true; rm -rf "$dir"' EXIT INT TERM
        # a cross build's program runs under qemu-user (tests/meson.build); split into words on purpose
        # shellcheck disable=SC2086
        DBUS_SYSTEM_BUS_ADDRESS="$address" ${INSOLE2MQTT_EXE_WRAPPER:-} "$@"
        ;;
*)
        echo "usage: $0 start | stop | -- COMMAND [ARGS...]" >&2
        exit 2
        ;;
esac
