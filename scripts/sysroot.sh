#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Usage: scripts/sysroot.sh ARCH DIR   (ARCH: arm64 or armhf)
# A sysroot for a Raspberry Pi cross build: Debian's ARCH libraries that the gateway and its tests
# link with, fetched by apt into DIR with package lists and a cache of its own, unpacked into
# DIR/root, and DIR/cross.ini, a meson cross file to give after cross/ARCH.ini:
#   scripts/sysroot.sh arm64 build-sysroot-arm64
#   meson setup build-arm64 --cross-file cross/arm64.ini --cross-file build-sysroot-arm64/cross.ini
# It touches nothing outside DIR and needs no root. The host needs crossbuild-essential-ARCH and
# qemu-user (scripts/deps.sh: CROSS_PACKAGES).
#
# Why not Debian multiarch on the host: a Multi-Arch: same library must have the same version on
# every architecture installed, so with the host's libssl3 from bookworm-security, libssl3:armhf
# must come from bookworm-security's armhf index too. A mirror serving a stale copy of that one
# index (seen for days) then blocks the whole cross build. A sysroot takes the newest version its
# own lists hold, whatever the host has.
set -euo pipefail

if [ $# -ne 2 ]; then
        echo "usage: scripts/sysroot.sh ARCH DIR" >&2
        exit 2
fi
arch=$1
case "$arch" in
arm64) triplet=aarch64-linux-gnu qemu=qemu-aarch64 ;;
armhf) triplet=arm-linux-gnueabihf qemu=qemu-arm ;;
*) echo "scripts/sysroot.sh: no sysroot for architecture '$arch' (arm64, armhf)" >&2; exit 2 ;;
esac

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=scripts/deps.sh
. "$top/scripts/deps.sh"

mkdir -p "$2"
dir=$(cd "$2" && pwd)
root=$dir/root
wanted="$arch ${SYSROOT_PACKAGES[*]}"
if [ -f "$dir/cross.ini" ] && [ "$(cat "$dir/packages" 2>/dev/null)" = "$wanted" ]; then
        exit 0 # made earlier from the same list
fi
rm -rf "$root" "$dir/cross.ini" "$dir/packages" "$dir/apt"
mkdir -p "$dir/apt/lists/partial" "$dir/apt/archives/partial" "$dir/apt/log" "$root"
: >"$dir/apt/status" # nothing installed: apt fetches every dependency

apt_options=(-o "APT::Architecture=$arch" -o "APT::Architectures=$arch"
             -o "Dir::State::Lists=$dir/apt/lists" -o "Dir::State::status=$dir/apt/status"
             -o "Dir::State::extended_states=$dir/apt/extended_states"
             -o "Dir::Cache=$dir/apt" -o "Dir::Cache::archives=$dir/apt/archives"
             -o "Dir::Cache::pkgcache=" -o "Dir::Cache::srcpkgcache=" -o "Dir::Log=$dir/apt/log"
             -o "Debug::NoLocking=true")

# The host's sources, signed as the host's are. An index that fails to download is left out (apt
# says which); the download below then says whether the others hold what is wanted.
fetch() {
        apt-get "${apt_options[@]}" update -qq ||
                echo "scripts/sysroot.sh: apt-get update for $arch failed; using the lists it could fetch" >&2
        apt-get "${apt_options[@]}" install -y -qq --download-only --no-install-recommends \
                "${SYSROOT_PACKAGES[@]}"
}
retrying fetch

for deb in "$dir"/apt/archives/*.deb; do
        dpkg-deb -x "$deb" "$root"
done
# An absolute symbolic link means a path in the sysroot, not on the host.
while IFS= read -r link; do
        ln -sfn "$root$(readlink "$link")" "$link"
done < <(find "$root" -type l -lname '/*')
rm -rf "$dir/apt/archives" # unpacked; the lists stay for the record of what was fetched

cat >"$dir/cross.ini" <<EOF
# Written by scripts/sysroot.sh $arch: give it after cross/$arch.ini.
[constants]
sysroot = '$root'

[binaries]
exe_wrapper = ['$qemu', '-L', sysroot]

[properties]
sys_root = sysroot
test_exe_wrapper = ['$qemu', '-L', sysroot]
pkg_config_libdir = [sysroot / 'usr/lib/$triplet/pkgconfig', sysroot / 'usr/share/pkgconfig']

[built-in options]
c_args = ['--sysroot=' + sysroot]
c_link_args = ['--sysroot=' + sysroot]
EOF
echo "$wanted" >"$dir/packages"
echo "sysroot for $arch: $root ($(find "$root" -type f | wc -l) files from $(wc -l < <(ls "$dir"/apt/lists/*_Packages* 2>/dev/null)) package lists)"
