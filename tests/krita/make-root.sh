#!/bin/sh
# A Debian root holding real Krita (trixie: 5.2.9; forky: 5.3), PyQt5 and Xvfb, for the plug-in's
# end-to-end tests. Idempotent: a root that already has Krita is reused (CI machines keep it between runs).
# Needs root (debootstrap + chroot). After ../shared/editors/setup.sh, trimmed to what Krita needs.
#   tests/krita/make-root.sh [ROOT] [SUITE]
set -eu
ROOT=${1:-${APPRENTICE_KRITA_ROOT:-$HOME/.cache/apprentice/krita-root}}
SUITE=${2:-trixie}
HERE=$(cd "$(dirname "$0")" && pwd)

if [ "$(id -u)" != 0 ]; then
    echo "make-root.sh: needs root (debootstrap, chroot); or set APPRENTICE_KRITA_ROOT to a root made before" >&2
    [ -x "$ROOT/usr/bin/krita" ] && exit 0 || exit 1
fi
"$HERE/mounts.sh" "$ROOT" 2>/dev/null || true
if [ -x "$ROOT/usr/bin/krita" ] && [ -x "$ROOT/usr/bin/Xvfb" ]; then
    exit 0
fi
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
inroot apt-get install -y -q --no-install-recommends krita python3-pyqt5 xvfb xauth
inroot apt-get clean
