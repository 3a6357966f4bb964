#!/bin/sh
# A Debian root holding the real editors for the plug-ins' end-to-end tests: Krita, PyQt5 and Xvfb;
# GIMP 3 with its Python bindings; xdotool (Ctrl+Z for GIMP's undo, which plug-ins cannot reach). trixie: Krita 5.2.9, GIMP 3.0; forky: Krita 5.3, GIMP 3.2.
# Idempotent: a root that already has both is reused (CI machines keep it between runs), and a
# root made before GIMP joined gets GIMP added.
# Needs root (debootstrap + chroot). After ../shared/editors/setup.sh, trimmed to what the editors need.
#   tests/editors/make-root.sh ROOT [SUITE]
set -eu
ROOT=${1:?usage: make-root.sh ROOT [SUITE]}
SUITE=${2:-trixie}
HERE=$(cd "$(dirname "$0")" && pwd)
ready() { [ -x "$ROOT/usr/bin/krita" ] && [ -x "$ROOT/usr/bin/Xvfb" ] && [ -e "$ROOT/usr/bin/gimp-console" ] && [ -x "$ROOT/usr/bin/xdotool" ]; }

if [ "$(id -u)" != 0 ]; then
    echo "make-root.sh: needs root (debootstrap, chroot); or point APPRENTICE_EDITORS_ROOT at a root made before" >&2
    ready && exit 0 || exit 1
fi
# Roots made before GIMP joined lived under another name: take them over rather than start again.
OLD=$(dirname "$ROOT")/$( [ "$SUITE" = forky ] && echo krita-root-forky || echo krita-root )
if [ ! -e "$ROOT" ] && [ -d "$OLD/usr" ]; then
    for m in dev/pts dev sys proc; do umount "$OLD/$m" 2>/dev/null || true; done
    mv "$OLD" "$ROOT"
fi
"$HERE/mounts.sh" "$ROOT" 2>/dev/null || true
ready && exit 0
command -v debootstrap >/dev/null || { apt-get update -q && apt-get install -y -q debootstrap; }
# debootstrap on bookworm has no script for newer suites; sid's works for them.
SCRIPT=
[ -e "/usr/share/debootstrap/scripts/$SUITE" ] || SCRIPT=/usr/share/debootstrap/scripts/sid
mkdir -p "$ROOT"
if [ ! -x "$ROOT/usr/bin/apt-get" ]; then
    debootstrap --variant=minbase "$SUITE" "$ROOT" http://deb.debian.org/debian $SCRIPT
fi
"$HERE/mounts.sh" "$ROOT"
cp /etc/resolv.conf "$ROOT/etc/resolv.conf"
printf '#!/bin/sh\nexit 101\n' > "$ROOT/usr/sbin/policy-rc.d"; chmod +x "$ROOT/usr/sbin/policy-rc.d"
echo 'Acquire::Check-Valid-Until "false";' > "$ROOT/etc/apt/apt.conf.d/99no-valid-until"
inroot() { chroot "$ROOT" env DEBIAN_FRONTEND=noninteractive LC_ALL=C.UTF-8 "$@"; }
inroot apt-get update -q
inroot apt-get install -y -q --no-install-recommends krita python3-pyqt5 xvfb xauth gimp python3-gi gir1.2-gimp-3.0 xdotool
inroot apt-get clean
