#!/bin/bash
# SPDX-License-Identifier: MIT
# Builds the VM that tests/vm/run-vm.sh boots for the real-BlueZ test: Debian's own kernel (which has
# bluetooth.ko and hci_vhci.ko, for btvirt's virtual controllers) and a minimal Debian root with a
# real dbus-daemon, bluetoothd, btvirt, mosquitto and the Python D-Bus bindings the test peripheral
# uses. Everything comes from Debian packages (the host's apt sources); the VM has no network.
#
#   tests/vm/build-image.sh [--quiet] [--force]
#
# Output in $INSOLE2MQTT_VM_CACHE (default /var/tmp/insole2mqtt-vm, ~500 MB):
#   kernel/vmlinux  the kernel, uncompressed so that qemu boots it through its PVH entry (the xz
#                   decompression alone takes seconds under software emulation); vmlinuz otherwise
#   boot.cpio       stage 1: static busybox and the modules to mount the root image and the shares
#   root.ext4       stage 2: debootstrap --variant=minbase + PACKAGES + modules + guest/init
# Each part is rebuilt only when its inputs change (kernel package, package list, this script,
# guest/*): an up-to-date run takes well under a second. Needs root (debootstrap, chroot).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cache=${INSOLE2MQTT_VM_CACHE:-/var/tmp/insole2mqtt-vm}
suite=bookworm
packages=dbus,bluez,bluez-test-tools,python3,python3-dbus,python3-gi,kmod,procps,mosquitto,mosquitto-clients,libinih1,libmosquitto1
# Bluetooth, btvirt's vhci, the 9p shares, and all of crypto: the kernel loads the ECDH and random
# number modules that LE Secure Connections needs on demand ("Unable to create ECDH crypto context").
modules="bluetooth hci_vhci virtio_pci 9p 9pnet_virtio ecdh_generic cmac ecb algif_hash algif_skcipher"
module_dirs="kernel/crypto kernel/arch/x86/crypto kernel/lib/crypto"
# loaded by stage 1, in this order with their dependencies
stage1_modules="virtio_pci virtio_blk crc32c_generic ext4 9pnet_virtio 9p bluetooth hci_vhci"

quiet=0 force=0
for a in "$@"; do
        case $a in
        --quiet) quiet=1 ;;
        --force) force=1 ;;
        *) echo "usage: $0 [--quiet] [--force]" >&2; exit 2 ;;
        esac
done
say() { [ $quiet = 1 ] || echo "[vm-image] $*" >&2; }
die() { echo "[vm-image] ERROR: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "needs root (debootstrap, chroot)"
for tool in qemu-system-x86_64 debootstrap cpio mke2fs xz; do
        command -v $tool >/dev/null || die "$tool missing (scripts/deps.sh lists the packages)"
done

mkdir -p "$cache"
exec 9>"$cache/.lock"
flock 9          # one builder at a time; runs wait for it

# kernel: the package that linux-image-amd64 points at today
kpkg=$(apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/ { print $2; exit }')
[ -n "$kpkg" ] || die "apt-cache cannot resolve linux-image-amd64 (apt-get update?)"
kdir=$cache/kernel
if [ $force = 1 ] || [ "$(cat "$kdir/package" 2>/dev/null)" != "$kpkg" ]; then
        say "downloading $kpkg"
        rm -rf "$kdir.new" && mkdir -p "$kdir.new/x"
        (cd "$kdir.new" && apt-get download "$kpkg" >/dev/null 2>&1) || die "apt-get download $kpkg failed"
        mv "$kdir.new"/*.deb "$kdir.new/linux-image.deb"
        dpkg-deb --fsys-tarfile "$kdir.new/linux-image.deb" | tar -x -C "$kdir.new/x" ./boot
        kver=$(ls "$kdir.new/x/boot" | sed -n 's/^vmlinuz-//p')
        mv "$kdir.new/x/boot/vmlinuz-$kver" "$kdir.new/vmlinuz"
        # The bzImage carries an xz stream; its payload is an ELF with a PVH note.
        off=$(grep -abo $'\xfd7zXZ\x00' "$kdir.new/vmlinuz" | head -n1 | cut -d: -f1)
        if [ -n "$off" ]; then
                tail -c +$((off + 1)) "$kdir.new/vmlinuz" | xz -dc --single-stream >"$kdir.new/vmlinux" 2>/dev/null || true
                head -c 4 "$kdir.new/vmlinux" | grep -q ELF || rm -f "$kdir.new/vmlinux"
        fi
        echo "$kver" >"$kdir.new/version"
        echo "$kpkg" >"$kdir.new/package"
        rm -rf "$kdir.new/x" "$kdir" && mv "$kdir.new" "$kdir"
fi
kver=$(cat "$kdir/version")

busybox=$cache/busybox
if [ $force = 1 ] || [ ! -x "$busybox/bin/busybox" ]; then
        say "downloading busybox-static"
        rm -rf "$busybox.new" && mkdir -p "$busybox.new"
        (cd "$busybox.new" && apt-get download busybox-static >/dev/null 2>&1) || die "apt-get download busybox-static failed"
        dpkg-deb -x "$busybox.new"/busybox-static_*.deb "$busybox.new"
        rm -rf "$busybox" && mv "$busybox.new" "$busybox"
fi

root=$cache/root
want_root="$suite $packages"
if [ $force = 1 ] || [ "$(cat "$cache/root.stamp" 2>/dev/null)" != "$want_root" ]; then
        mirror=${INSOLE2MQTT_VM_MIRROR:-$(apt-cache policy | awk -v s="$suite/main" '$3 == s { print $2; exit }')}
        [ -n "$mirror" ] || die "no apt source for $suite/main on this host; set INSOLE2MQTT_VM_MIRROR"
        say "debootstrap $suite from $mirror (a few minutes, once)"
        rm -rf "$root.new"
        debootstrap --variant=minbase --include="$packages" "$suite" "$root.new" "$mirror" \
                >"$cache/debootstrap.log" 2>&1 || die "debootstrap failed, see $cache/debootstrap.log"
        rm -rf "$root.new"/usr/share/{doc,man,info,locale} "$root.new"/var/cache/apt/archives/*.deb \
               "$root.new"/var/lib/apt/lists/*
        rm -rf "$root" && mv "$root.new" "$root"
        echo "$want_root" >"$cache/root.stamp"
fi

want_image="$kver|$want_root|$(cat "$0" "$here/guest/init" "$here/guest/stage1-init" | sha256sum | cut -c1-64)"
if [ $force = 0 ] && [ "$(cat "$cache/image.stamp" 2>/dev/null)" = "$want_image" ] &&
   [ -s "$cache/root.ext4" ] && [ -s "$cache/boot.cpio" ]; then
        say "up to date: $cache"
        exit 0
fi

say "modules of $kver, init, images"
# Resolve module dependencies with the guest's kmod against the whole module tree, unpacked there
# for the moment, and keep only what is needed.
full=/tmp/kernel-modules
rm -rf "$root$full" "$root/lib/modules" && mkdir -p "$root$full"
dpkg-deb --fsys-tarfile "$kdir/linux-image.deb" | tar -x -C "$root$full" ./lib/modules
chroot "$root" depmod -b $full "$kver"
wanted=$modules
for d in $module_dirs; do
        wanted="$wanted $(find "$root$full/lib/modules/$kver/$d" -name '*.ko' -printf '%f\n' | sed 's/\.ko$//')"
done
depends() { chroot "$root" modprobe -d $full -S "$kver" --show-depends "$@" | awk '$1 == "insmod" { print $2 }'; }
# shellcheck disable=SC2086
depends -a $wanted $stage1_modules | sort -u | while read -r ko; do
        mkdir -p "$root/$(dirname "${ko#$full/}")"
        cp "$root$ko" "$root/${ko#$full/}"
done
cp "$root$full/lib/modules/$kver"/modules.{order,builtin,builtin.modinfo} "$root/lib/modules/$kver/"

stage1=$cache/stage1
rm -rf "$stage1" && mkdir -p "$stage1"/{bin,dev,proc,sys,newroot,modules}
install -m 0755 "$busybox/bin/busybox" "$stage1/bin/busybox"
install -m 0755 "$here/guest/stage1-init" "$stage1/init"
mknod -m 600 "$stage1/dev/console" c 5 1
for m in $stage1_modules; do depends "$m"; done | awk '!seen[$0]++' | while read -r ko; do
        cp "$root$ko" "$stage1/modules/"
        basename "$ko" >>"$stage1/modules/order"
done
rm -rf "${root:?}$full"
chroot "$root" depmod "$kver"
(cd "$stage1" && find . -print0 | cpio --null -o -H newc --quiet) >"$cache/boot.cpio.new"
mv "$cache/boot.cpio.new" "$cache/boot.cpio"

install -m 0755 "$here/guest/init" "$root/init"
install -m 0755 "$busybox/bin/busybox" "$root/usr/local/bin/busybox"   # poweroff -f without systemd
mkdir -p "$root/mnt/ctl" "$root/mnt/src" "$root/mnt/build"
echo insole2mqtt-vm >"$root/etc/hostname"
[ -s "$root/etc/machine-id" ] || chroot "$root" dbus-uuidgen --ensure=/etc/machine-id
size_mb=$(( $(du -sm "$root" | cut -f1) * 13 / 10 + 64 ))
rm -f "$cache/root.ext4.new"
mke2fs -q -F -t ext4 -O ^has_journal -L vmroot -m 0 -d "$root" "$cache/root.ext4.new" "${size_mb}M" >/dev/null
mv "$cache/root.ext4.new" "$cache/root.ext4"
echo "$want_image" >"$cache/image.stamp"
say "done: $cache (root image ${size_mb} MiB, sparse)"
