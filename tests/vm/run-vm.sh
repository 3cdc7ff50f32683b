#!/bin/bash
# SPDX-License-Identifier: MIT
# Boots the test VM (tests/vm/build-image.sh builds it on first use), runs a command in it and
# powers off. Inside, before the command starts: btvirt with N virtual LE controllers (hci0..),
# the system dbus-daemon and a real bluetoothd with every adapter registered.
#
#   tests/vm/run-vm.sh [-t SECONDS] [-n CONTROLLERS] SOURCE-DIR BUILD-DIR CMD...
#
# SOURCE-DIR is mounted read-only at /mnt/src (the command's working directory), BUILD-DIR read-only
# at /mnt/build; the command runs as root with /bin/sh. Its output is printed live (serial console)
# and its exit status is ours; 124 if the run took longer than SECONDS (default 300, boot
# included), 125 if the VM failed. The root image is opened with snapshot=on: every run starts from
# the same clean image. Guest logs (bluetoothd, btvirt, dmesg, and whatever the command leaves in
# /tmp/*.log) are copied to $INSOLE2MQTT_VM_LOGDIR when set.
# Hardware virtualisation when the host has it (kvm_intel/kvm_amd), otherwise qemu's software
# emulation (TCG): a boot to "ready" then takes about 5-10 s.
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cache=${INSOLE2MQTT_VM_CACHE:-/var/tmp/insole2mqtt-vm}
timeout=300
controllers=2
while getopts "t:n:" opt; do
        case $opt in
        t) timeout=$OPTARG ;;
        n) controllers=$OPTARG ;;
        *) sed -n '6,7p' "$0" >&2; exit 2 ;;
        esac
done
shift $((OPTIND - 1))
[ $# -ge 3 ] || { sed -n '6,7p' "$0" >&2; exit 2; }
src=$(cd "$1" && pwd) && build=$(cd "$2" && pwd) || exit 2
shift 2

"$here/build-image.sh" --quiet || exit 125

ctl=$(mktemp -d "${TMPDIR:-/tmp}/insole2mqtt-vm.XXXXXX")
trap 'rm -rf "$ctl"' EXIT
printf '%s\n' "$*" >"$ctl/cmd"
# The command's own limit leaves the VM's boot (up to ~50 s when a controller must be started again)
# and the copying of the logs inside the whole run's: a command that times out still leaves its logs.
printf 'controllers=%d\ncmd_timeout=%d\n' "$controllers" $((timeout >= 300 ? timeout - 70 : timeout > 40 ? timeout - 20 : 20)) >"$ctl/env"

if [ -w /dev/kvm ] && { [ -d /sys/module/kvm_intel ] || [ -d /sys/module/kvm_amd ]; }; then
        accel=(-accel kvm -cpu host)
else
        # Also when /dev/kvm is another kind of KVM (nested sandboxes' kvm_pvm) that cannot run a
        # stock Debian kernel.
        accel=(-accel tcg,thread=multi -cpu max)
fi
kernel=$cache/kernel/vmlinux
[ -s "$kernel" ] || kernel=$cache/kernel/vmlinuz

share() { echo "local,path=$1,mount_tag=$2,security_model=none,id=$2${3:+,$3}"; }
start=$SECONDS
# cryptomgr.notests: the crypto self-tests take seconds under emulation.
timeout -k 5 "$timeout" qemu-system-x86_64 "${accel[@]}" -machine pc -m 1024 -smp 2 \
        -nodefaults -no-user-config -display none -nic none -no-reboot -serial stdio \
        -kernel "$kernel" -initrd "$cache/boot.cpio" \
        -drive "file=$cache/root.ext4,if=virtio,format=raw,snapshot=on" \
        -append "console=ttyS0 quiet loglevel=3 panic=-1 i8042.noaux cryptomgr.notests" \
        -virtfs "$(share "$ctl" ctl)" -virtfs "$(share "$src" src readonly=on)" \
        -virtfs "$(share "$build" build readonly=on)" \
        </dev/null 2>"$ctl/qemu.err" | sed -u -e 's/\r$//' -e '/reboot: Power down/d'
qrc=${PIPESTATUS[0]}
if [ -n "${INSOLE2MQTT_VM_LOGDIR:-}" ] && [ -d "$ctl/logs" ]; then
        mkdir -p "$INSOLE2MQTT_VM_LOGDIR" && cp -r "$ctl/logs/." "$INSOLE2MQTT_VM_LOGDIR/"
fi
if [ "$qrc" = 124 ] || [ "$qrc" = 137 ]; then
        echo "[run-vm] timeout after ${timeout}s" >&2
        exit 124
fi
if [ "$qrc" != 0 ] || [ ! -f "$ctl/rc" ]; then
        echo "[run-vm] the VM failed (qemu exit status $qrc):" >&2
        cat "$ctl/qemu.err" >&2
        exit 125
fi
echo "[run-vm] $((SECONDS - start)) s in the VM; exit status $(cat "$ctl/rc")" >&2
exit "$(cat "$ctl/rc")"
