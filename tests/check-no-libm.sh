#!/bin/sh
# SPDX-License-Identifier: MIT
# The daemon maps no libm (issue #15: 0.36 MiB of resident memory at 8 insoles, the margin by which
# it stays under 1/5 of a Python bridge's). A new call into libm (lround, hypotf, sqrt without
# -fno-math-errno, ...) would quietly bring it back; this says which symbols did. armhf is exempt:
# there floor() and trunc() are calls into libm. Usage: check-no-libm.sh BINARY
set -u
bin=$1
command -v readelf >/dev/null 2>&1 || { echo "readelf not installed"; exit 77; }
header=$(readelf -h "$bin") || exit 1
if printf '%s\n' "$header" | grep -q 'Class:.*ELF32' && printf '%s\n' "$header" | grep -q 'Machine:.*ARM$'; then
        echo "armhf: libm is expected (floor, trunc)"
        exit 77
fi
if readelf -d "$bin" | grep -q 'NEEDED.*\[libm\.so'; then
        echo "$bin needs libm again; the symbols it takes from there:" >&2
        readelf --dyn-syms -W "$bin" | awk '$7 == "UND" { print $8 }' | sed 's/@.*//' | sort -u >"${TMPDIR:-/tmp}/needs.$$"
        for lib in $(ldd "$bin" 2>/dev/null | awk '/libm\.so/ { print $3 }'); do
                readelf --dyn-syms -W "$lib" | awk '$7 != "UND" { print $8 }' | sed 's/@.*//' | sort -u |
                        comm -12 "${TMPDIR:-/tmp}/needs.$$" - >&2
        done
        rm -f "${TMPDIR:-/tmp}/needs.$$"
        exit 1
fi
echo "ok: $bin does not need libm"
