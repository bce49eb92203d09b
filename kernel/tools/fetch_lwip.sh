#!/bin/sh
# Fetches lwIP 2.1.3 from Debian's source package `lwip` into DEST (kernel/third_party/lwip by
# default) with a private apt configuration that has a deb-src entry: /etc/apt is never touched.
# apt verifies the source package against Debian's signed Sources index. Idempotent: a second
# run with DEST in place does nothing.
set -eu
DEST=${1:-$(dirname "$0")/../third_party/lwip}
mkdir -p "$(dirname "$DEST")"
DEST=$(cd "$(dirname "$DEST")" && pwd)/$(basename "$DEST")
VERSION=2.1.3
if [ -f "$DEST/.lwjvm-fetched" ]; then
    exit 0
fi
CACHE=${LWJVM_APT_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/lwjvm/apt-src}
mkdir -p "$CACHE/lists/partial" "$CACHE/archives/partial" "$CACHE/sources.list.d" \
    "$CACHE/preferences.d" "$CACHE/download"
SUITE=$(. /etc/os-release && echo "${VERSION_CODENAME:-bookworm}")
echo "deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian $SUITE main" \
    > "$CACHE/sources.list"
APT="apt-get -q -o Dir::Etc::sourcelist=$CACHE/sources.list -o Dir::Etc::sourceparts=$CACHE/sources.list.d
    -o Dir::State::Lists=$CACHE/lists -o Dir::Cache::archives=$CACHE/archives
    -o Dir::Etc::preferencesparts=$CACHE/preferences.d -o APT::Sandbox::User=root"
echo "fetch_lwip: apt-get source lwip ($SUITE, private apt configuration in $CACHE)"
if ! ls "$CACHE"/lists/*Sources* >/dev/null 2>&1; then
    $APT update >/dev/null
fi
cd "$CACHE/download"
$APT source --download-only lwip >/dev/null 2>&1 || {
    $APT update >/dev/null
    $APT source --download-only lwip >/dev/null
}
ORIG=$(ls lwip_"$VERSION"*.orig.tar.* | head -n 1)
TMP=$(mktemp -d)
tar -xf "$ORIG" -C "$TMP"
test -f "$TMP/lwip-$VERSION/src/core/tcp.c" || { echo "fetch_lwip: unexpected layout in $ORIG" >&2; exit 1; }
rm -rf "$DEST"
mkdir -p "$(dirname "$DEST")"
mv "$TMP/lwip-$VERSION" "$DEST"
rmdir "$TMP"
echo "$ORIG" > "$DEST/.lwjvm-fetched"
echo "fetch_lwip: lwIP $VERSION in $DEST"
