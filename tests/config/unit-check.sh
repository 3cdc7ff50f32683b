#!/bin/sh
# SPDX-License-Identifier: MIT
# Checks of the service unit with systemd's own tools.
#   unit-check.sh verify UNIT           systemd-analyze verify (ExecStart= must name a built binary;
#                                       $UNIT_CHECK_ROOT: an alternative root the unit is installed in)
#   unit-check.sh security UNIT MAX     systemd-analyze security --offline=yes, exposure <= MAX (e.g. 1.5)
# Exits 77 (skipped) only when systemd-analyze is not installed at all.
set -u

mode=$1
unit=$2

if ! command -v systemd-analyze >/dev/null 2>&1; then
        echo "systemd-analyze not found: skipped"
        exit 77
fi

case "$mode" in
verify)
        # verify wants the unit's own name; --man=no: no man pages are installed for insole2mqtt.
        # UNIT_CHECK_ROOT: the unit and its ExecStart= binary live in that root (an installed package).
        out=$(systemd-analyze verify --man=no ${UNIT_CHECK_ROOT:+--root="$UNIT_CHECK_ROOT"} "$unit" 2>&1)
        rc=$?
        printf '%s\n' "$out"
        [ "$rc" -eq 0 ] || { echo "systemd-analyze verify failed with $rc"; exit 1; }
        # Warnings about our own unit count as failures too (others' units may be noisy in a container).
        name=$(basename "$unit")
        if printf '%s\n' "$out" | grep -F "$name" | grep -v -i "Failed to .*cgroup" >/dev/null; then
                echo "systemd-analyze verify printed warnings about $name"
                exit 1
        fi
        ;;
security)
        max=$3
        # v252: --threshold=N fails when the exposure times ten is above N.
        threshold=$(printf '%s\n' "$max" | awk '{ printf "%d", $1 * 10 + 0.5 }')
        out=$(systemd-analyze security --offline=yes --threshold="$threshold" "$unit" 2>&1)
        rc=$?
        printf '%s\n' "$out" | grep -E '^✗|Overall exposure'
        score=$(printf '%s\n' "$out" | sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p')
        [ -n "$score" ] || { echo "no exposure level in the output:"; printf '%s\n' "$out"; exit 1; }
        echo "exposure $score, allowed $max"
        [ "$rc" -eq 0 ] || { echo "systemd-analyze security: exposure $score is above $max"; exit 1; }
        # Belt and braces: compare the printed score ourselves as well.
        awk -v s="$score" -v m="$max" 'BEGIN { exit !(s <= m) }' || { echo "exposure $score is above $max"; exit 1; }
        ;;
*)
        echo "unknown mode $mode"
        exit 2
        ;;
esac
