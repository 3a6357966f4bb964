#!/bin/sh
# Mount the pseudo filesystems an editors root's chroot needs (idempotent).  Usage: mounts.sh ROOT
set -eu
R=${1:?usage: mounts.sh ROOT}
[ -d "$R/proc" ] || exit 1
for d in proc sys dev dev/pts; do
    mountpoint -q "$R/$d" && continue
    case $d in
        proc)    mount -t proc proc "$R/proc" ;;
        sys)     mount -t sysfs sysfs "$R/sys" ;;
        dev)     mount --bind /dev "$R/dev" ;;
        dev/pts) mount --bind /dev/pts "$R/dev/pts" ;;
    esac
done
