# SPDX-License-Identifier: MIT
# Sourced by scripts/test.sh and scripts/demo.sh: makes sure the Debian packages they need are
# installed. As root it installs what is missing with apt-get; otherwise it prints the exact
# apt-get line and fails.

# Runs a command up to three times, 20 s and then 40 s apart: a Debian mirror that is being synced
# answers "File has unexpected size" for a while, and one such answer should not fail a whole run.
retrying() {
        local attempt rc=0
        for attempt in 1 2 3; do
                "$@" && return 0
                rc=$?
                [ $attempt -lt 3 ] || break
                echo "$1 $2 failed (exit $rc); trying again in $((attempt * 20)) s" >&2
                sleep $((attempt * 20))
        done
        return $rc
}

# An update that still fails leaves the index files it could fetch; whether they hold what is
# wanted is for the install to say, with its own error.
apt_update_or_warn() {
        retrying apt-get update -qq >&2 ||
                echo "apt-get update failed; installing from the package lists it could fetch" >&2
}

ensure_debian_packages() {
        local missing=() p
        for p in "$@"; do
                if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
                        missing+=("$p")
                fi
        done
        [ ${#missing[@]} -eq 0 ] && return 0

        if [ "$(id -u)" -ne 0 ]; then
                echo "Missing Debian packages. Install them with:" >&2
                echo "  sudo apt-get install -y ${missing[*]}" >&2
                return 1
        fi
        echo "Installing Debian packages: ${missing[*]}" >&2
        export DEBIAN_FRONTEND=noninteractive
        apt_update_or_warn
        # The tests and the demo start their own mosquitto and Prometheus on loopback ports; the
        # packages' system services (Prometheus listens on every interface) are not started by
        # this install. policy-rc.d is Debian's switch for that; an existing one is left alone.
        local policy=/usr/sbin/policy-rc.d ours=0 rc=0
        if [ ! -e "$policy" ]; then
                printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod 0755 "$policy" && ours=1
        fi
        retrying apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2 || rc=$?
        [ $ours -eq 0 ] || rm -f "$policy"
        return $rc
}

# Debian multiarch, for the arm64 Debian package: dpkg --add-architecture (as root), then apt-get update.
ensure_foreign_architectures() {
        local a added=0
        for a in "$@"; do
                dpkg --print-foreign-architectures | grep -qx "$a" && continue
                if [ "$(id -u)" -ne 0 ]; then
                        echo "Missing Debian architecture $a. Add it with:" >&2
                        echo "  sudo dpkg --add-architecture $a && sudo apt-get update" >&2
                        return 1
                fi
                dpkg --add-architecture "$a"
                added=1
        done
        [ $added -eq 0 ] || apt_update_or_warn
}

BUILD_PACKAGES=(meson ninja-build pkg-config gcc libc6-dev libsystemd-dev libmosquitto-dev libinih-dev)
TEST_PACKAGES=(libcmocka-dev dbus-daemon mosquitto mosquitto-clients openssl systemd python3 prometheus)
RUN_PACKAGES=(dbus-daemon mosquitto mosquitto-clients)
# bench/bench-load.py's comparison bridge (bench/bridge-bleak-paho.py); not needed by the tests.
BENCH_PACKAGES=(python3-bleak python3-paho-mqtt)
# The Raspberry Pi builds (cross/*.ini), tested under qemu-user: the host's cross toolchains, and
# what scripts/sysroot.sh fetches for each architecture into a sysroot of its own (libubsan1: the
# UBSan runtime the tests load under qemu-user).
CROSS_PACKAGES=(crossbuild-essential-arm64 crossbuild-essential-armhf qemu-user)
SYSROOT_PACKAGES=(libc6-dev libsystemd-dev libmosquitto-dev libinih-dev libssl-dev libcmocka-dev libubsan1)
# The arm64 Debian package: dpkg-buildpackage -a arm64 takes its build dependencies from the host's
# multiarch packages.
DEB_CROSS_ARCHITECTURES=(arm64)
DEB_CROSS_PACKAGES=(crossbuild-essential-arm64 pkgconf:arm64
        libsystemd-dev:arm64 libmosquitto-dev:arm64 libinih-dev:arm64 libssl-dev:arm64)
# The Debian package (debian/) and its install test; the real-BlueZ VM (tests/vm).
PACKAGE_PACKAGES=(dpkg-dev debhelper fakeroot lintian debootstrap)
VM_PACKAGES=(qemu-system-x86 debootstrap cpio e2fsprogs xz-utils)
