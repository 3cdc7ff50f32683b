#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Builds insole2mqtt from scratch and runs every test: once with warnings as errors, once more
# under AddressSanitizer + UndefinedBehaviorSanitizer. Installs the Debian packages it needs when
# run as root. Usage: scripts/test.sh [--no-sanitizers] [--keep]
set -euo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$top"
# shellcheck source=scripts/deps.sh
. scripts/deps.sh

sanitizers=1
keep=0
for a in "$@"; do
        case "$a" in
        --no-sanitizers) sanitizers=0 ;;
        --keep) keep=1 ;;
        -h|--help) sed -n '3,5p' "$0"; exit 0 ;;
        *) echo "scripts/test.sh: unknown option '$a'" >&2; exit 2 ;;
        esac
done

ensure_debian_packages "${BUILD_PACKAGES[@]}" "${TEST_PACKAGES[@]}"

total_ok=0
total_fail=0
total_skip=0

count_results() { # $1 = build dir; adds its meson test results to the totals
        local counts
        counts=$(python3 - "$1/meson-logs/testlog.json" <<'PY'
import json, sys
ok = fail = skip = 0
for line in open(sys.argv[1]):
    line = line.strip()
    if not line:
        continue
    r = json.loads(line).get("result", "")
    if r in ("OK", "EXPECTEDFAIL"):
        ok += 1
    elif r == "SKIP":
        skip += 1
    else:
        fail += 1
print(ok, fail, skip)
PY
)
        read -r ok fail skip <<<"$counts"
        total_ok=$((total_ok + ok))
        total_fail=$((total_fail + fail))
        total_skip=$((total_skip + skip))
}

run_suite() { # $1 = build dir, rest = meson setup options
        local dir=$1; shift
        rm -rf "$dir"
        echo "== meson setup $dir $*"
        meson setup "$dir" -Dwerror=true "$@" >"$dir.setup.log" 2>&1 || { cat "$dir.setup.log"; return 1; }
        rm -f "$dir.setup.log"
        echo "== build $dir"
        ninja -C "$dir"
        echo "== test $dir"
        local rc=0
        meson test -C "$dir" --print-errorlogs --num-processes 2 || rc=$?
        count_results "$dir"
        return $rc
}

rc=0
run_suite build-test || rc=1
if [ $sanitizers -eq 1 ]; then
        # b_lundef=false: the sanitizer runtimes are linked into executables only.
        ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
        UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
                run_suite build-asan -Db_sanitize=address,undefined -Db_lundef=false -Dbuildtype=debug || rc=1
fi

if [ $keep -eq 0 ] && [ $rc -eq 0 ]; then
        rm -rf build-test build-asan
fi

echo
echo "tests: $total_ok passed, $total_fail failed, $total_skip skipped"
exit $rc
