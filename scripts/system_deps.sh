#!/usr/bin/env bash
# The one system need of musicorg: the libraries Qt loads (PySide6 wheels bundle Qt itself).
# As root on Debian/Ubuntu this installs them with apt; otherwise it prints the command and stops.
set -euo pipefail
PKGS="libglib2.0-0 libgl1 libegl1 libfontconfig1 libxkbcommon0 libdbus-1-3"
if ! command -v dpkg-query >/dev/null 2>&1; then
    echo "system_deps: not a Debian-like system; make sure Qt 6's runtime libraries (GL, EGL, fontconfig, xkbcommon, dbus, glib) are installed." >&2
    exit 0
fi
missing=""
for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" = "0" ]; then
    echo "system_deps: installing$missing"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq $missing >/dev/null
else
    echo "musicorg needs these system libraries for Qt. Please run:" >&2
    echo "    sudo apt-get install -y$missing" >&2
    exit 1
fi
