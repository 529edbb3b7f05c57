#!/usr/bin/env bash
# The system libraries musicorg needs (the PySide6 wheels bundle Qt itself, miniaudio its own
# audio code). As root on Debian/Ubuntu this installs the missing ones with apt; otherwise it
# prints the command and stops.
#
#   scripts/system_deps.sh            what the tests need: Qt offscreen, and PostgreSQL for
#                                     the catalogue's tests on a server (CI, `make test`)
#   scripts/system_deps.sh --desktop  also Qt's X11 platform and the audio client libraries
#                                     (`make run`: the real window, with sound)
set -euo pipefail
PKGS="libglib2.0-0 libgl1 libegl1 libfontconfig1 libxkbcommon0 libdbus-1-3"
# What Qt 6's xcb platform plugin loads (musicorg/gui/startup.py names the same set).
XCB="libxcb1 libx11-xcb1 libxcb-cursor0 libxcb-icccm4 libxcb-image0 libxcb-keysyms1 libxcb-randr0
libxcb-render0 libxcb-render-util0 libxcb-shape0 libxcb-shm0 libxcb-sync1 libxcb-util1
libxcb-xfixes0 libxcb-xkb1 libxkbcommon-x11-0"
# The audio client libraries miniaudio opens at run time (ALSA; PulseAudio where it runs).
# Debian 13 renamed libasound2 to libasound2t64: either name will do.
AUDIO="libasound2t64|libasound2 libpulse0"
# The server the catalogue's PostgreSQL tests start (tests/pg.py, as an unprivileged user in
# a temporary folder). Not root: only a note, since those tests skip without it locally.
PG="postgresql"
if [ "${1:-}" = "--desktop" ]; then
    PKGS="$PKGS $XCB $AUDIO"
elif [ "$(id -u)" = "0" ]; then
    PKGS="$PKGS $PG"
elif command -v dpkg-query >/dev/null 2>&1 \
    && ! dpkg-query -W -f='${Status}' $PG 2>/dev/null | grep -q "install ok installed"; then
    echo "system_deps: the PostgreSQL tests will be skipped; to run them: sudo apt-get install -y $PG" >&2
fi
if ! command -v dpkg-query >/dev/null 2>&1; then
    echo "system_deps: not a Debian-like system; make sure Qt 6's runtime libraries (GL, EGL, fontconfig, xkbcommon, dbus, glib; for the window the xcb libraries) and ALSA or PulseAudio are installed." >&2
    exit 0
fi
installed() {
    dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"
}
missing=""
for spec in $PKGS; do
    found=""
    for p in ${spec//|/ }; do
        if installed "$p"; then found=1; break; fi
    done
    [ -n "$found" ] && continue
    pick="${spec%%|*}"
    if [ "$spec" != "$pick" ] && command -v apt-cache >/dev/null 2>&1; then
        # Of alternative names, the first this system's apt knows.
        for p in ${spec//|/ }; do
            if apt-cache policy "$p" 2>/dev/null | grep -q "Candidate: [0-9]"; then pick="$p"; break; fi
        done
    fi
    missing="$missing $pick"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" = "0" ]; then
    echo "system_deps: installing$missing"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq $missing >/dev/null
else
    echo "musicorg needs these system libraries. Please run:" >&2
    echo "    sudo apt-get install -y$missing" >&2
    exit 1
fi
