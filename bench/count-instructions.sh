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
# bench-decoders decodes BENCH_FRAMES frames per row; callgrind dumps its counters each time a row
# starts (--dump-before=run), so each dump holds one row. Includes the benchmark loop's own
# bookkeeping (a handful of instructions per frame) and one printf per row (spread over the frames).
set -euo pipefail
build=$1
frames=${BENCH_FRAMES:-5000}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
if [ $# -ge 4 ]; then
        vg=$4/usr/libexec/valgrind
        tool=$(ls "$vg"/callgrind-*-linux)
        run=(env VALGRIND_LIB="$vg" VALGRIND_LAUNCHER="$4/usr/bin/valgrind" "$2" -L "$3" "$tool")
else
        run=(valgrind --tool=callgrind)
fi
BENCH_FRAMES=$frames "${run[@]}" --dump-before=run --dump-instr=no \
        --callgrind-out-file="$out/cg.out" "$build/bench/bench-decoders" >"$out/rows.txt" 2>"$out/valgrind.log" ||
        { cat "$out/valgrind.log" >&2; exit 1; }
# dumps: cg.out.1 = start-up, cg.out.2 .. = rows 1 ..; the last row is in the final dump (cg.out)
ls "$out"/cg.out.* | sort -V | tail -n +2 >"$out/dumps"
echo "$out/cg.out" >>"$out/dumps"
tail -n +3 "$out/rows.txt" | while IFS= read -r row && read -r dump <&3; do
        ir=$(awk '/^(summary|totals):/ { print $2; exit }' "$dump")
        printf '%-12s %-36s %8.0f\n' "$(echo "$row" | cut -c1-12)" "$(echo "$row" | cut -c14-47)" \
                "$(echo "$ir / $frames" | bc -l)"
done 3<"$out/dumps"
