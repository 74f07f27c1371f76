#!/bin/sh
# Makes the demo machine of the README's first command: a machine folder
# "demo" in the library ($XDG_DATA_HOME/nook/machines) whose 1 MiB disk
# holds a boot sector (data/demo/boot.S, assembled with binutils' as and ld)
# that greets and echoes the keyboard. SeaBIOS boots it, also where guest
# kernel-mode code is emulated slowly. Without binutils the machine has no
# disk and shows SeaBIOS's own screen. An existing demo machine is left as
# it is.
set -eu

library=${XDG_DATA_HOME:-$HOME/.local/share}/nook/machines
dir=$library/demo
[ -e "$dir/machine.ini" ] && exit 0
mkdir -p "$library"
# Built beside the library under a name it skips, then renamed into place.
tmp=$(mktemp -d "$library/.new-XXXXXX")
trap 'rm -rf "$tmp"' EXIT

src=$(dirname "$0")/demo/boot.S
disk=""
if command -v as >/dev/null && command -v ld >/dev/null; then
    as --32 -o "$tmp/boot.o" "$src"
    ld -m elf_i386 -Ttext 0x7c00 --oformat binary -o "$tmp/disk0.img" "$tmp/boot.o"
    rm "$tmp/boot.o"
    truncate -s 1M "$tmp/disk0.img"
    chmod 644 "$tmp/disk0.img"
    disk="
[disk0]
path=disk0.img
format=raw
readonly=false
"
else
    echo "make-demo: no as and ld (package binutils): the demo machine shows SeaBIOS only" >&2
fi

cat > "$tmp/machine.ini" <<INI
[machine]
name=Demo
os-name=A boot sector that echoes the keyboard
memory=128
cpus=1
firmware=bios
display=spice
$disk
INI
mv "$tmp" "$dir"
trap - EXIT
echo "make-demo: the demo machine is in $dir"
