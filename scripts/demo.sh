#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Runs the gateway on an embedded default: simulated insoles behind BlueZ's D-Bus API on a private
# bus, a local mosquitto on a free loopback port, the gateway itself, and a live view of what it
# publishes. Installs the Debian packages it needs when run as root.
#
# Usage: scripts/demo.sh [--for SECONDS] [--quiet] [--prometheus | --no-prometheus]
#   --for SECONDS   stop by itself after SECONDS (default: run until Ctrl-C)
#   --quiet         no live view (for scripted runs); the broker address is still printed
#   --prometheus    also run a Prometheus that scrapes the gateway, for Grafana (installs it as
#                   root; without the option it runs when the prometheus package is installed)
# It never fails silently: when the simulator, the broker, the private bus, the gateway or the view
# exits, or a wearer's gait metrics do not arrive within METRICS_WITHIN seconds, it says which,
# shows the end of that component's log and exits 1. INSOLE2MQTT_DEMO_BUILD=DIR uses an existing
# build tree (with tests enabled) instead of build-demo/.
set -euo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$top"
# shellcheck source=scripts/deps.sh
. scripts/deps.sh

duration=0
view=1
prometheus=auto
while [ $# -gt 0 ]; do
        case "$1" in
        --for) duration=${2:?--for needs SECONDS}; shift 2 ;;
        --for=*) duration=${1#--for=}; shift ;;
        --quiet) view=0; shift ;;
        --prometheus) prometheus=1; shift ;;
        --no-prometheus) prometheus=0; shift ;;
        -h|--help) sed -n '3,15p' "$0"; exit 0 ;;
        *) echo "scripts/demo.sh: unknown option '$1' (see --help)" >&2; exit 2 ;;
        esac
done
case "$duration" in ''|*[!0-9]*) echo "scripts/demo.sh: --for expects whole seconds" >&2; exit 2 ;; esac

ensure_debian_packages "${BUILD_PACKAGES[@]}" "${RUN_PACKAGES[@]}"
[ "$prometheus" = 1 ] && ensure_debian_packages prometheus

build=${INSOLE2MQTT_DEMO_BUILD:-$top/build-demo}
if [ ! -f "$build/build.ninja" ]; then
        meson setup "$build" -Dtests=true -Dbenchmarks=false >/dev/null
fi
ninja -C "$build" daemon/insole2mqtt daemon/insole2mqtt-view tests/sim/insole-sim >/dev/null

data=${INSOLE2MQTT_DATA:-$top/data/physionet}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/insole2mqtt-demo.XXXXXX")
pids=()
cleanup() {
        local p
        trap - EXIT INT TERM
        for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
        for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
        [ -n "${INSOLE_SIM_BUS_PID:-}" ] && kill "$INSOLE_SIM_BUS_PID" 2>/dev/null || true
        [ "${keep_logs:-0}" -eq 1 ] || rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# A free loopback port for the broker.
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cat >"$tmp/mosquitto.conf" <<CONF
listener $port 127.0.0.1
allow_anonymous true
persistence false
set_tcp_nodelay true
CONF
mosquitto -c "$tmp/mosquitto.conf" >"$tmp/mosquitto.log" 2>&1 &
broker=$!
pids+=($broker)
for _ in $(seq 100); do
        (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
        sleep 0.1
done

# The private "system bus" that the simulated bluetoothd owns org.bluez on.
eval "$(TMPDIR=$tmp tests/sim/run-private-bus.sh start)"

"$build/tests/sim/insole-sim" --datasets "$data" --scenario scripts/demo/day.scenario \
        >"$tmp/insole-sim.log" 2>&1 &
sim=$!
pids+=($sim)

mkdir -p "$tmp/state"
metrics_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cat >"$tmp/insole2mqtt.conf" <<CONF
# Written by scripts/demo.sh
[gateway]
id = demo
state-directory = $tmp/state
trust-wall-clock = yes

[bluetooth]
auto-discovery = yes

[mqtt]
host = 127.0.0.1
port = $port

[metrics]
publish-interval = 5s
prometheus-listen = 127.0.0.1:$metrics_port

[reminders]
sitting-limit = 1min
standing-limit = 1min
repeat-interval = 1min
active-hours = 00:00-24:00

[wearer anna]
left = AA:00:00:00:01:01
right = AA:00:00:00:01:02
body-weight-kg = 68

[wearer ben]
left = AA:00:00:00:02:01
right = AA:00:00:00:02:02
CONF

"$build/daemon/insole2mqtt" --config "$tmp/insole2mqtt.conf" >"$tmp/insole2mqtt.log" 2>&1 &
gateway=$!
pids+=($gateway)

# What the demo promises: each wearer's gait metrics within this many seconds.
METRICS_WITHIN=60
wearers=(anna ben)
mosquitto_sub -h 127.0.0.1 -p "$port" -t 'insole2mqtt/+/gait' -F '%t' >"$tmp/metrics.log" 2>/dev/null &
pids+=($!)

# Prometheus for Grafana (issue #16): scrapes the gateway's metrics endpoint every 5 s.
prom_pid=
if [ "$prometheus" = 1 ] || { [ "$prometheus" = auto ] && command -v prometheus >/dev/null; }; then
        prom_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
        printf 'global:\n  scrape_interval: 5s\nscrape_configs:\n  - job_name: insole2mqtt\n    static_configs:\n      - targets: ["127.0.0.1:%s"]\n' \
                "$metrics_port" >"$tmp/prometheus.yml"
        prometheus --config.file="$tmp/prometheus.yml" --storage.tsdb.path="$tmp/prometheus" \
                --web.listen-address="127.0.0.1:$prom_port" >"$tmp/prometheus.log" 2>&1 &
        prom_pid=$!
        pids+=($prom_pid)
        echo "insole2mqtt demo: Prometheus http://127.0.0.1:$prom_port scrapes the gateway's http://127.0.0.1:$metrics_port/metrics"
        echo "  in Grafana: add a Prometheus data source with URL http://127.0.0.1:$prom_port, then import"
        echo "  contrib/grafana/dashboards/*.json (see docs/prometheus.md)"
else
        echo "insole2mqtt demo: metrics for Prometheus at http://127.0.0.1:$metrics_port/metrics (--prometheus runs one)"
fi

echo "insole2mqtt demo: broker mqtt://127.0.0.1:$port (no TLS, loopback only)"
echo "  watch it yourself:  mosquitto_sub -h 127.0.0.1 -p $port -t 'insole2mqtt/#' -v"
echo "  gateway log:        $tmp/insole2mqtt.log"
echo "  processes:          broker $broker, simulator $sim, gateway $gateway"
[ "$duration" -gt 0 ] && echo "  stopping by itself after $duration s" || echo "  Ctrl-C stops everything"
echo

view_pid=
if [ $view -eq 1 ]; then
        "$build/daemon/insole2mqtt-view" --host 127.0.0.1 --port "$port" &
        view_pid=$!
        pids+=($view_pid)
fi

# failed WHAT LOG: says which component failed, shows the end of its log, exits 1.
failed() {
        echo >&2
        echo "demo: $1" >&2
        if [ -n "${2:-}" ]; then
                echo "demo: the last lines of $2:" >&2
                tail -n 15 "$2" 2>/dev/null | sed 's/^/    /' >&2
        fi
        keep_logs=1
        echo "demo: every log is kept in $tmp" >&2
        exit 1
}

# exited NAME PID LOG: when PID is gone, fail naming NAME, its exit status and its log.
exited() {
        local status=0
        kill -0 "$2" 2>/dev/null && return 0
        wait "$2" 2>/dev/null || status=$?
        failed "the $1 (pid $2) exited with status $status; the demo cannot go on without it" "$3"
}

start=$SECONDS
metrics_ok=0
while :; do
        exited "simulator (insole-sim)" "$sim" "$tmp/insole-sim.log"
        exited "MQTT broker (mosquitto)" "$broker" "$tmp/mosquitto.log"
        exited "gateway (insole2mqtt)" "$gateway" "$tmp/insole2mqtt.log"
        if [ -n "${INSOLE_SIM_BUS_PID:-}" ] && ! kill -0 "$INSOLE_SIM_BUS_PID" 2>/dev/null; then
                failed "the private D-Bus daemon (pid $INSOLE_SIM_BUS_PID) exited" "$tmp/insole2mqtt.log"
        fi
        [ -n "$view_pid" ] && exited "live view (insole2mqtt-view)" "$view_pid" ""
        [ -n "$prom_pid" ] && exited "Prometheus (prometheus)" "$prom_pid" "$tmp/prometheus.log"
        if [ $metrics_ok -eq 0 ]; then
                missing=()
                for w in "${wearers[@]}"; do
                        grep -qx "insole2mqtt/$w/gait" "$tmp/metrics.log" 2>/dev/null || missing+=("$w")
                done
                if [ ${#missing[@]} -eq 0 ]; then
                        metrics_ok=1
                elif [ $((SECONDS - start)) -ge $METRICS_WITHIN ]; then
                        failed "no gait metrics from ${missing[*]} within $METRICS_WITHIN s (the simulator streams, the gateway should publish every 5 s)" "$tmp/insole2mqtt.log"
                fi
        fi
        if [ "$duration" -gt 0 ] && [ $((SECONDS - start)) -ge "$duration" ]; then
                [ $metrics_ok -eq 1 ] ||
                        failed "stopped after $duration s before gait metrics arrived from ${missing[*]} (they are due within $METRICS_WITHIN s)" "$tmp/insole2mqtt.log"
                break
        fi
        sleep 1
done
