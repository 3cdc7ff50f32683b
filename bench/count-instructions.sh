#!/bin/bash
# SPDX-License-Identifier: MIT
# Instructions per decoded frame, per decoder, counted by callgrind: a measure that does not depend
# on how loaded the machine is, and that compares architectures.
#
#   bench/count-instructions.sh BUILD-DIR                 native (x86-64 here; on a Pi, the Pi)
#   bench/count-instructions.sh BUILD-DIR QEMU SYSROOT VALGRIND-ROOT
#                                                         a cross build under qemu-user, with the
#                                                         target's valgrind unpacked in VALGRIND-ROOT
#                                                         (apt-get download valgrind:arm64; dpkg -x)
# bench-decoders decodes BENCH_FRAMES frames per row (default 2000) and, built with valgrind's
# callgrind.h, zeroes callgrind's counters before each row's loop and dumps them after it: each
# dump is one row's loop, the benchmark's own bookkeeping (a few instructions per frame) included.
set -euo pipefail
build=$1
frames=${BENCH_FRAMES:-2000}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
if [ $# -ge 4 ]; then
        vg=$4/usr/libexec/valgrind
        tool=$(ls "$vg"/callgrind-*-linux)
        run=(env VALGRIND_LIB="$vg" VALGRIND_LAUNCHER="$4/usr/bin/valgrind" "$2" -L "$3" "$tool")
else
        run=(valgrind --tool=callgrind)
fi
BENCH_FRAMES=$frames "${run[@]}" --dump-instr=no --callgrind-out-file="$out/cg.out" \
        "$build/bench/bench-decoders" >"$out/rows.txt" 2>"$out/valgrind.log" ||
        { cat "$out/valgrind.log" >&2; exit 1; }
for dump in $(ls "$out"/cg.out.* | sort -V); do
        awk -v frames="$frames" '
                /^desc: Trigger: Client Request: / { sub(/^desc: Trigger: Client Request: /, ""); label = $0 }
                /^(summary|totals):/ { ir = $2 }
                END { if (label != "") printf "%-36s %8.0f\n", label, ir / frames }' "$dump"
done
