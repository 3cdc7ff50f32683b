#!/bin/bash
# SPDX-License-Identifier: MIT
# Checks a built insole2mqtt .deb, printing TAP:
#   tests/package/test-package.sh DEB [SOURCE-DIR]
# A package for this machine's architecture is installed with apt into a clean Debian root
# (debootstrap --variant=minbase bookworm plus systemd, made once and cached with apt's lists and the downloaded
# dependencies under $INSOLE2MQTT_CHROOT_CACHE, default /var/tmp/insole2mqtt-chroot; each run
# unpacks a fresh copy), then checked: files, no conffile, unit installed but not enabled,
# systemd-analyze verify and security score of the installed unit, --version, the example
# configuration, purge. A package for another architecture (arm64) is unpacked with dpkg -x and its
# programs run under qemu-user. Needs root (debootstrap, chroot).
set -uo pipefail

deb=$(realpath "$1")
src=$(realpath "${2:-$(dirname "${BASH_SOURCE[0]}")/../..}")
cache=${INSOLE2MQTT_CHROOT_CACHE:-/var/tmp/insole2mqtt-chroot}
suite=bookworm
unit_check=$src/tests/config/unit-check.sh
n=0
failed=0
ok() { n=$((n + 1)); echo "ok $n - $*"; }
not_ok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $*"; }
check() { local what=$1; shift; if "$@"; then ok "$what"; else not_ok "$what"; fi; }
bail() { echo "Bail out! $*"; exit 1; }
# shellcheck source=scripts/deps.sh
. "$src/scripts/deps.sh" # retrying

arch=$(dpkg-deb -f "$deb" Architecture)
version=$(dpkg-deb -f "$deb" Version)
upstream=${version%%-*}
files=$(dpkg-deb -c "$deb" | awk '{ print $6 }' | sed 's|^\./|/|')
has() { printf '%s\n' "$files" | grep -qx "$1"; }

for f in /usr/bin/insole2mqtt /usr/bin/insole2mqtt-view /lib/systemd/system/insole2mqtt.service \
         /usr/share/doc/insole2mqtt/examples/insole2mqtt.conf /usr/share/doc/insole2mqtt/copyright \
         /usr/share/doc/insole2mqtt/README.md.gz /usr/share/doc/insole2mqtt/configuration.md.gz \
         /usr/share/doc/insole2mqtt/schema/gait.json \
         /usr/share/man/man1/insole2mqtt.1.gz /usr/share/man/man1/insole2mqtt-view.1.gz; do
        check "$arch package has $f" has "$f"
done
if [ -d "$src/contrib/grafana" ]; then
        check "$arch package has the Grafana dashboards" has /usr/share/insole2mqtt/grafana/
fi
check "$arch package installs nothing into /etc (the configuration is the administrator's)" \
        sh -c "! printf '%s\n' \"\$1\" | grep -q '^/etc/'" sh "$files"

if [ "$arch" != "$(dpkg --print-architecture)" ]; then
        case $arch in
        arm64) wrapper=(qemu-aarch64 -L /usr/aarch64-linux-gnu) ;;
        armhf) wrapper=(qemu-arm -L /usr/arm-linux-gnueabihf) ;;
        *) bail "no qemu-user for $arch" ;;
        esac
        x=$(mktemp -d)
        trap 'rm -rf "$x"' EXIT
        dpkg -x "$deb" "$x"
        check "$arch insole2mqtt --version (qemu-user): $upstream" \
                test "$("${wrapper[@]}" "$x/usr/bin/insole2mqtt" --version 2>&1)" = "insole2mqtt $upstream"
        check "$arch example configuration passes --check-config (qemu-user)" \
                "${wrapper[@]}" "$x/usr/bin/insole2mqtt" --check-config \
                --config "$x/usr/share/doc/insole2mqtt/examples/insole2mqtt.conf"
        echo "1..$n"
        [ $failed -eq 0 ]
        exit
fi

# --- the clean root, made once
[ "$(id -u)" = 0 ] || bail "needs root (debootstrap, chroot)"
mkdir -p "$cache/archives"
exec 9>"$cache/.lock"
flock 9
# systemd: the root of a real installation has it, and systemd-analyze verify needs its units.
# Not procps: the unit's ExecReload= needs kill, so the package must pull it in itself.
include=systemd
want="$suite minbase $include"
if [ "$(cat "$cache/base.stamp" 2>/dev/null)" != "$want" ] || [ ! -s "$cache/base.tar" ]; then
        mirror=${INSOLE2MQTT_VM_MIRROR:-$(apt-cache policy | awk -v s="$suite/main" '$3 == s { print $2; exit }')}
        [ -n "$mirror" ] || bail "no apt source for $suite/main on this host"
        echo "# debootstrap --variant=minbase $suite into $cache (once)"
        rm -rf "$cache/base.new"
        debootstrap --variant=minbase --include="$include" "$suite" "$cache/base.new" "$mirror" >"$cache/debootstrap.log" 2>&1 ||
                bail "debootstrap failed, see $cache/debootstrap.log"
        retrying chroot "$cache/base.new" apt-get update >>"$cache/debootstrap.log" 2>&1 ||
                bail "apt-get update in the root failed"
        tar -C "$cache/base.new" -cf "$cache/base.tar.new" . && mv "$cache/base.tar.new" "$cache/base.tar"
        rm -rf "$cache/base.new"
        echo "$want" >"$cache/base.stamp"
fi
root=$(mktemp -d /var/tmp/insole2mqtt-pkgtest.XXXXXX)
trap 'rm -rf "$root"' EXIT
tar -C "$root" -xf "$cache/base.tar"
cp "$cache"/archives/*.deb "$root/var/cache/apt/archives/" 2>/dev/null
cp "$deb" "$root/tmp/"
in_root() { chroot "$root" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 "$@"; }

if in_root apt-get install -y --no-install-recommends "/tmp/$(basename "$deb")" >"$root/install.log" 2>&1; then
        ok "apt-get install ./$(basename "$deb") into a clean $suite root"
else
        not_ok "apt-get install into a clean $suite root"
        sed 's/^/# /' "$root/install.log" | tail -n 20
        echo "1..$n"
        exit 1
fi
cp -n "$root"/var/cache/apt/archives/*.deb "$cache/archives/" 2>/dev/null

check "insole2mqtt --version: insole2mqtt $upstream" test "$(in_root insole2mqtt --version)" = "insole2mqtt $upstream"
check "insole2mqtt-view --help runs" in_root insole2mqtt-view --help
check "the installed example configuration passes --check-config" \
        in_root insole2mqtt --config /usr/share/doc/insole2mqtt/examples/insole2mqtt.conf --check-config
check "no conffiles" test -z "$(in_root dpkg-query -W -f='${Conffiles}' insole2mqtt)"
check "service installed but not enabled (needs a configuration first)" \
        test ! -e "$root/etc/systemd/system/multi-user.target.wants/insole2mqtt.service"
check "systemd-analyze verify of the installed unit" \
        env UNIT_CHECK_ROOT="$root" "$unit_check" verify /lib/systemd/system/insole2mqtt.service
check "systemd-analyze security of the installed unit: exposure <= 1.5" \
        "$unit_check" security "$root/lib/systemd/system/insole2mqtt.service" 1.5
check "ExecStart= names the installed binary" \
        grep -qx 'ExecStart=/usr/bin/insole2mqtt --config /etc/insole2mqtt/insole2mqtt.conf' \
        "$root/lib/systemd/system/insole2mqtt.service"
quiet() { "$@" >/dev/null 2>&1; }
check "apt-get purge removes it" quiet in_root apt-get purge -y insole2mqtt
check "nothing left after purge" test ! -e "$root/usr/bin/insole2mqtt" -a ! -e "$root/lib/systemd/system/insole2mqtt.service"
echo "1..$n"
[ $failed -eq 0 ]
