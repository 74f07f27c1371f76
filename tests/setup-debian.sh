#!/bin/sh
# Installs what Nook needs on Debian 12: "run" for building and running
# nook-vmm, "test" for that plus everything the test suites use, the L1
# runner (tests/l1) and the nested suite (tests/nested) included ("nested" is
# the same as "test").
set -eu

what=${1:-run}
run_pkgs="meson ninja-build pkg-config gcc libc6-dev libglib2.0-dev libjson-glib-dev libpng-dev libspice-server-dev libsdl2-dev seabios acpica-tools python3
          libgtk-4-dev libadwaita-1-dev libosinfo-1.0-dev osinfo-db gettext
          libspice-client-glib-2.0-dev libepoxy-dev binutils libpulse-dev"
# The nested suite's kernel is fetched with apt-get download, never
# installed: the host's /boot stays as it is. zstd is for kernels whose
# modules are .ko.zst; syslinux, syslinux-common, mtools and dosfstools
# make the disk image SeaBIOS boots L2 from (no root, no loop device).
test_pkgs="$run_pkgs python3 qemu-system-x86 clang-14 libclang-rt-14-dev binutils tesseract-ocr
           busybox-static zstd syslinux syslinux-common mtools dosfstools
           spice-client-gtk libspice-client-glib-2.0-dev imagemagick openssl
           xvfb xauth xdotool x11-utils virt-viewer
           desktop-file-utils appstream libglib2.0-bin xorriso
           dbus-daemon at-spi2-core python3-pyatspi
           pulseaudio pulseaudio-utils sox alsa-utils qemu-system-gui"
nested_pkgs=$test_pkgs

case "$what" in
    run) pkgs=$run_pkgs ;;
    test) pkgs=$test_pkgs ;;
    nested) pkgs=$nested_pkgs ;;
    *) echo "usage: $0 run|test|nested" >&2; exit 2 ;;
esac

missing=""
for p in $pkgs; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done

as_root=""
[ "$(id -u)" -eq 0 ] || as_root=sudo
updated=no
if [ -n "$missing" ]; then
    echo "Installing:$missing"
    $as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q
    updated=yes
    # shellcheck disable=SC2086
    $as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $missing
fi

# The L1 runner (tests/l1) and the nested suite fetch the kernel package that
# linux-image-amd64 depends on with apt-get download (never installed), so
# the package list must know it.
if [ "$what" != run ] && [ "$updated" = no ] &&
   ! apt-cache depends linux-image-amd64 2>/dev/null | grep -q "Depends: linux-image-[0-9]"; then
    echo "Updating the package list for the kernel package L1 boots"
    $as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q
fi
