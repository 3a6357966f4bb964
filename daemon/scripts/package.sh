#!/usr/bin/env bash
# The packages painters install: a Debian package (the binary, its manual page, shell
# completions) and a release archive for this machine's platform, both in OUT (default dist/).
#   daemon/scripts/package.sh [OUT]
# The plug-ins are inside the binary: after installing either, `apprentice install krita|gimp`.
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT=$(mkdir -p "${1:-dist}" && cd "${1:-dist}" && pwd)
cargo build --release --locked -p apprentice --bin apprentice
TARGET_DIR=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
BIN="$TARGET_DIR/release/apprentice"
VERSION=$("$BIN" --version | cut -d' ' -f2)
STAGE=$(mktemp -d)
trap 'rm -rf "$STAGE"' EXIT

# The release archive: the binary, the README, the licence.
TRIPLE=$(rustc -vV | sed -n 's/^host: //p')
ARCHIVE="apprentice-$VERSION-$TRIPLE"
mkdir -p "$STAGE/$ARCHIVE"
cp "$BIN" README.md "$STAGE/$ARCHIVE/"
command -v strip >/dev/null && strip --strip-debug "$STAGE/$ARCHIVE/apprentice"
[ -e LICENSE ] && cp LICENSE "$STAGE/$ARCHIVE/"
tar -C "$STAGE" -czf "$OUT/$ARCHIVE.tar.gz" "$ARCHIVE"

# The Debian package, laid out by hand (dpkg-deb is all it takes).
if command -v dpkg-deb >/dev/null; then
    ARCH=$(dpkg --print-architecture)
    ROOT="$STAGE/deb"
    install -Dm755 "$BIN" "$ROOT/usr/bin/apprentice"
    # The release profile keeps debug info for profiling; a package does without.
    command -v strip >/dev/null && strip --strip-debug "$ROOT/usr/bin/apprentice"
    install -d "$ROOT/usr/share/man/man1" "$ROOT/usr/share/doc/apprentice"
    "$BIN" man | gzip -9n > "$ROOT/usr/share/man/man1/apprentice.1.gz"
    install -d "$ROOT/usr/share/bash-completion/completions" "$ROOT/usr/share/zsh/vendor-completions" \
        "$ROOT/usr/share/fish/vendor_completions.d"
    "$BIN" completions bash > "$ROOT/usr/share/bash-completion/completions/apprentice"
    "$BIN" completions zsh > "$ROOT/usr/share/zsh/vendor-completions/_apprentice"
    "$BIN" completions fish > "$ROOT/usr/share/fish/vendor_completions.d/apprentice.fish"
    gzip -9n < README.md > "$ROOT/usr/share/doc/apprentice/README.md.gz"
    install -d "$ROOT/DEBIAN"
    SIZE=$(du -sk "$ROOT/usr" | cut -f1)
    cat > "$ROOT/DEBIAN/control" <<CONTROL
Package: apprentice
Version: $VERSION
Architecture: $ARCH
Maintainer: Apprentice developers <apprentice@localhost>
Installed-Size: $SIZE
Depends: libc6, libgcc-s1
Section: graphics
Priority: optional
Description: painting apprentice for Krita and GIMP
 A local daemon that continues paintings stroke by stroke, copies pictures as
 paintings and repaints regions with a diffusion magic brush, for the Krita and
 GIMP plug-ins it carries inside (apprentice install krita|gimp).
CONTROL
    dpkg-deb --root-owner-group --build "$ROOT" "$OUT/apprentice_${VERSION}_$ARCH.deb" >/dev/null
    echo "$OUT/apprentice_${VERSION}_$ARCH.deb"
else
    echo "package.sh: no dpkg-deb here: made the archive only" >&2
fi
echo "$OUT/$ARCHIVE.tar.gz"
