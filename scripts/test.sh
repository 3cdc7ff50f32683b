#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Builds insole2mqtt from scratch and runs every test: once with warnings as errors (with the
# real-BlueZ VM test, tests/vm), once more under AddressSanitizer + UndefinedBehaviorSanitizer, then
# cross-built for arm64 and armhf (UBSan, tests under qemu-user), then the Debian packages (amd64,
# arm64: lintian, installed into a clean root). Installs the Debian packages it needs when run as
# root. Usage: scripts/test.sh [--no-sanitizers] [--keep] [--long]
#   --long  also the long tests (INSOLE2MQTT_LONG_TESTS=1: alert-days and months, 10 min side by side)
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
        --long) export INSOLE2MQTT_LONG_TESTS=1 ;;
        -h|--help) sed -n '3,8p' "$0"; exit 0 ;;
        *) echo "scripts/test.sh: unknown option '$a'" >&2; exit 2 ;;
        esac
done

ensure_debian_packages "${BUILD_PACKAGES[@]}" "${TEST_PACKAGES[@]}" "${PACKAGE_PACKAGES[@]}" "${VM_PACKAGES[@]}"
# The Raspberry Pi stages: the cross toolchains here, each architecture's libraries in a sysroot
# of its own (scripts/sysroot.sh). The arm64 Debian package needs Debian's arm64 multiarch
# packages. A mirror serving an index that does not match its Release (seen for days) may keep
# either from being had: then what needs it fails with that reason, and everything else runs.
installed_for_some_stages() { # COMMAND...: a failure fails only the stages that need it
        "$@" && return 0
        [ "$(id -u)" -eq 0 ] || exit 1 # a normal user: the apt-get line is above; stop, as for the rest
        return 1
}
cross_tools=1
installed_for_some_stages ensure_debian_packages "${CROSS_PACKAGES[@]}" || cross_tools=0
deb_cross_packages=1
installed_for_some_stages ensure_foreign_architectures "${DEB_CROSS_ARCHITECTURES[@]}" &&
        installed_for_some_stages ensure_debian_packages "${DEB_CROSS_PACKAGES[@]}" || deb_cross_packages=0

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

count_tap() { # $1 = TAP output of a check that is not a meson test; adds it to the totals
        local ok fail skip
        skip=$(grep -c '^ok .*# SKIP' "$1" || true)
        ok=$(grep -c '^ok ' "$1" || true)
        fail=$(grep -c '^not ok ' "$1" || true)
        total_ok=$((total_ok + ok - skip))
        total_fail=$((total_fail + fail))
        total_skip=$((total_skip + skip))
}

failed_tests() { # $1 = build dir: the names of the tests that failed, space-separated; with
        # $2 = --report, for the summary: the names, then each failed test's last lines of output
        python3 - "$1" "${2:-}" <<'PY'
import json
import sys
failed = [t for t in map(json.loads, filter(str.strip, open(sys.argv[1] + "/meson-logs/testlog.json")))
          if t.get("result") not in ("OK", "EXPECTEDFAIL", "SKIP")]
# "insole2mqtt:vm / bluez-vm": the test's own name is after the suite
names = " ".join(t.get("name", "").split(" / ")[-1] for t in failed)
if sys.argv[2] != "--report":
    print(names)
    sys.exit()
if failed:
    print("%s: failed: %s" % (sys.argv[1], names))
for t in failed:
    print(f"--- {t.get('name')}: {t.get('result')} after {t.get('duration', 0):.1f} s; its last lines:")
    print("\n".join("    " + l for l in (t.get("stdout") or "").rstrip().splitlines()[-25:]))
PY
}

vm_reruns=()
stage_times=()
failures=() # what failed, kept for the end of the output: a CI page may show only its last lines
near_limit=() # tests that passed in more than 70 % of their time limit: the next to fail on a slower machine
note_near_limit() { # $1 = build dir, $2 = timeout multiplier
        local line
        while read -r line; do
                if [ -n "$line" ]; then near_limit+=("$1: $line"); fi
        done < <(meson introspect --tests "$1" 2>/dev/null | python3 -c '
import json
import sys
# the log names a test "project:suite+suite / name"; two tests may share a name in different suites
limits = {}
for t in json.load(sys.stdin):
    project = t["suite"][0].split(":")[0] if t["suite"] else ""
    suites = "+".join(x.split(":", 1)[-1] for x in t["suite"])
    limits["%s:%s / %s" % (project, suites, t["name"])] = t["timeout"]
for line in open(sys.argv[1]):
    if line.strip():
        t = json.loads(line)
        name = t.get("name", "").split(" / ")[-1]
        limit = limits.get(t.get("name", ""), 0) * float(sys.argv[2])
        if t.get("result") == "OK" and limit > 0 and t.get("duration", 0) > 0.7 * limit:
            print("%s took %.0f s of its %.0f s" % (name, t["duration"], limit))
' "$1/meson-logs/testlog.json" "$2")
}
note_failures() { # $1 = build dir: failed_tests' report, kept for the end of the output
        local report
        report=$(failed_tests "$1" --report)
        if [ -n "$report" ]; then failures+=("$report"); fi
}

timed() { # NAME COMMAND...: runs COMMAND and notes how long it took for the summary
        local name=$1 start=$SECONDS rc=0
        shift
        "$@" || rc=$?
        stage_times+=("$(printf '%-28s %4d s' "$name" $((SECONDS - start)))")
        return $rc
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
        local rc=0 only=()
        if [ -n "${EXCLUDE_TESTS:-}" ]; then # run every test but these (names, space-separated)
                mapfile -t only < <(meson test -C "$dir" --list 2>/dev/null | sed -n 's|^.* / ||p' |
                                    grep -vxF -f <(tr ' ' '\n' <<<"$EXCLUDE_TESTS") | sort -u)
                echo "   not run here: $EXCLUDE_TESTS"
        fi
        # Four at a time: most tests wait on simulated walking in real time (tests/integration/meson.build).
        # shellcheck disable=SC2086 # NO_SUITES: "--no-suite NAME ..."
        meson test -C "$dir" --print-errorlogs --num-processes "${TEST_PROCESSES:-4}" \
                --timeout-multiplier "${TIMEOUT_MULTIPLIER:-1}" ${NO_SUITES:-} "${only[@]}" || rc=$?
        count_results "$dir"
        note_near_limit "$dir" "${TIMEOUT_MULTIPLIER:-1}"
        if [ "$rc" != 0 ] && [ "$(failed_tests "$dir")" = bluez-vm ]; then
                # The VM runs bluetoothd and btvirt under software emulation on a shared machine; in
                # about one run of six, bluetoothd there stops answering D-Bus calls altogether
                # (NoReply to every client, the gateway's and the test's own) and the run ends at
                # its time limit. When that test is the only failure it runs once more, in the
                # open: the first run's log is kept and the summary says so. A gateway fault fails
                # both runs.
                cp "$dir/meson-logs/testlog.txt" "$dir/meson-logs/testlog-bluez-vm-first.txt"
                echo "== bluez-vm failed (log: $dir/meson-logs/testlog-bluez-vm-first.txt); running it once more"
                total_fail=$((total_fail - 1))
                rc=0
                meson test -C "$dir" --print-errorlogs bluez-vm || rc=$?
                count_results "$dir"
                vm_reruns+=("$dir: bluez-vm failed, then $( [ $rc = 0 ] && echo passed || echo failed again) on its second run")
        fi
        [ "$rc" = 0 ] || note_failures "$dir"
        if [ -n "${ALSO_TESTS:-}" ]; then # a second pass, e.g. one test of a suite left out above
                local also_rc=0
                # shellcheck disable=SC2086
                meson test -C "$dir" --print-errorlogs --num-processes "${TEST_PROCESSES:-4}" \
                        --timeout-multiplier "${TIMEOUT_MULTIPLIER:-1}" $ALSO_TESTS || also_rc=$?
                count_results "$dir"
                [ "$also_rc" = 0 ] || { note_failures "$dir"; rc=$also_rc; }
        fi
        return $rc
}

package_stage() { # Debian packages from a copy of the tree: build, lint, install and check
        local out=build-deb native arch log r=0
        native=$(dpkg --print-architecture)
        not_buildable() { [ "$1" != "$native" ] && [ "$deb_cross_packages" -eq 0 ]; } # no build dependencies
        rm -rf "$out" && mkdir -p "$out/src"
        tar -c --exclude='./build*' --exclude=./.git . | tar -x -C "$out/src"
        for arch in "$native" arm64; do
                log=$out/dpkg-buildpackage-$arch.log
                echo "== dpkg-buildpackage -a $arch (log: $log)"
                if not_buildable "$arch"; then
                        echo "not ok - dpkg-buildpackage -a $arch: not run, its build dependencies could not be installed (apt-get above)"
                        continue
                fi
                # The tests ran above (natively and under qemu-user): not again inside the build.
                if (cd "$out/src" && DEB_BUILD_OPTIONS=nocheck dpkg-buildpackage -us -uc -b -Pnocheck -a "$arch") \
                        >"$log" 2>&1; then
                        echo "ok - dpkg-buildpackage -a $arch"
                else
                        tail -n 30 "$log"
                        echo "not ok - dpkg-buildpackage -a $arch"
                fi
        done >"$out/build.tap"
        cat "$out/build.tap"
        count_tap "$out/build.tap"
        echo "== lintian"
        for changes in "$out"/*.changes; do
                if lintian --fail-on error,warning "$changes"; then
                        echo "ok - lintian $(basename "$changes")"
                else
                        echo "not ok - lintian $(basename "$changes")"
                fi
        done 2>&1 | grep -v 'running with root privileges' | tee "$out/lintian.tap"
        count_tap "$out/lintian.tap"
        for deb in "$out"/insole2mqtt_*_"$native".deb "$out"/insole2mqtt_*_arm64.deb; do
                if [ ! -e "$deb" ]; then # the pattern itself: that build failed or did not run above
                        arch=${deb##*_}
                        arch=${arch%.deb}
                        if not_buildable "$arch"; then # already one not ok, with its reason
                                echo "# no $arch package to test: not built (above)"
                                continue
                        fi
                        echo "not ok - no $arch package to test: its build failed (dpkg-buildpackage above)" |
                                tee "$out/package.tap"
                        count_tap "$out/package.tap"
                        r=1
                        continue
                fi
                echo "== tests/package/test-package.sh $deb"
                tests/package/test-package.sh "$deb" . >"$out/package.tap" 2>&1 || r=1
                cat "$out/package.tap"
                count_tap "$out/package.tap"
        done
        if grep -q '^not ok' "$out"/*.tap; then
                r=1
                failures+=("Debian packages: $(grep -h '^not ok' "$out"/*.tap)")
        fi
        return $r
}

rc=0
# -Dvm_tests=true: the gateway of this build against a real bluetoothd in a VM (tests/vm).
timed "native" run_suite build-test -Dvm_tests=true || rc=1
if [ $sanitizers -eq 1 ]; then
        # b_lundef=false: the sanitizer runtimes are linked into executables only.
        ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
        UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
                timed "native ASan+UBSan" run_suite build-asan -Db_sanitize=address,undefined -Db_lundef=false -Dbuildtype=debug || rc=1
fi
# The Raspberry Pi targets: warnings are errors here too (32-bit time_t, size_t and long on armhf),
# UBSan catches misaligned and other undefined behaviour, and the tests run under qemu-user (slower,
# hence the longer timeouts) against the native dbus-daemon and mosquitto. Not here: alerts-sim, a
# long pure computation that both native builds run (about 10 min under qemu-user with UBSan), and
# demo, which runs scripts/demo.sh on the build's programs without the qemu-user wrapper. Both run
# their unit tests and the end-to-end integration test; the other integration tests exercise no
# architecture-dependent code beyond what those cover, cost tens of minutes under emulation, and
# some measure memory or mount namespaces that qemu-user does not model. Emulated tests keep both
# cores busy: two at a time.
cross_suite() { # $1 = architecture
        local why=
        if [ $cross_tools -eq 0 ]; then
                why="the cross toolchains could not be installed (apt-get above)"
        elif ! scripts/sysroot.sh "$1" "build-sysroot-$1"; then
                why="its sysroot could not be made (scripts/sysroot.sh above)"
        fi
        if [ -n "$why" ]; then
                echo "not ok - $1: not built, $why"
                total_fail=$((total_fail + 1))
                return 1
        fi
        UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 TIMEOUT_MULTIPLIER=5 EXCLUDE_TESTS="alerts-sim demo" \
                TEST_PROCESSES=2 \
                timed "$1 (qemu-user, UBSan)" run_suite "build-$1" --cross-file "cross/$1.ini" \
                --cross-file "build-sysroot-$1/cross.ini" -Db_sanitize=undefined -Db_lundef=false -Dbenchmarks=false
}
NO_SUITES="--no-suite integration" ALSO_TESTS=e2e cross_suite arm64 || rc=1
NO_SUITES="--no-suite integration" ALSO_TESTS=e2e cross_suite armhf || rc=1
timed "Debian packages" package_stage || rc=1

if [ $keep -eq 0 ] && [ $rc -eq 0 ]; then
        rm -rf build-test build-asan build-arm64 build-armhf build-sysroot-arm64 build-sysroot-armhf build-deb
fi

echo
echo "time per stage:"
printf '  %s\n' "${stage_times[@]}"

if [ ${#vm_reruns[@]} -gt 0 ]; then
        echo
        printf '%s\n' "${vm_reruns[@]}"
fi

if [ ${#near_limit[@]} -gt 0 ]; then
        echo
        echo "passed, but in more than 70 % of their time limit:"
        printf '  %s\n' "${near_limit[@]}"
fi

if [ ${#failures[@]} -gt 0 ]; then
        echo
        printf '%s\n' "${failures[@]}"
fi

echo
echo "tests: $total_ok passed, $total_fail failed, $total_skip skipped"
exit $rc
