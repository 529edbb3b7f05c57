#!/usr/bin/env bash
# The demo library's CLI outputs, written to OUT (for checking that a refactor changes nothing):
#   scripts/demo_outputs.sh OUT [PYTHON]
# Runs scan, analyze, playlists --json, similar, path and export in a throwaway home; volatile
# parts (timings, temp paths) are masked so that two runs of the same code compare equal.
set -euo pipefail
out=$(realpath -m "$1"); py=${2:-.venv/bin/python}; mo_bin=$(dirname "$py")/musicorg
mkdir -p "$out"
home=$(mktemp -d) && trap 'rm -rf "$home"' EXIT
export MUSICORG_DATA_DIR=$home/data MUSICORG_CONFIG_DIR=$home/config \
       MUSICORG_CACHE_DIR=$home/cache MUSICORG_LOG_DIR=$home/log
mo() { "$mo_bin" --demo -q "$@"; }
mask() { sed -E -e "s#$home#HOME#g" -e 's/ in [0-9]+(\.[0-9]+)? ?(s|ms|min)\b/ in T/g'; }
mo scan 2>&1 | mask >"$out/scan.txt"
mo analyze --device cpu 2>&1 | mask >"$out/analyze.txt"
mo playlists --json 2>&1 | mask >"$out/playlists.json"
demo=$("$py" -c 'from musicorg import paths; print(paths.demo_dir())')
mapfile -t files < <(find "$demo" -type f \( -name '*.ogg' -o -name '*.mp3' -o -name '*.flac' -o -name '*.opus' \) | sort)
mo similar "${files[0]}" -n 10 --json 2>&1 | mask >"$out/similar.json"
mo path "${files[0]}" "${files[-1]}" -n 8 --json 2>&1 | mask >"$out/path.json"
mo export "$home/export" 2>&1 | mask >"$out/export.txt"
(cd "$home/export" && for f in *.m3u8; do echo "== $f"; cat "$f"; done) >"$out/export.m3u8.txt"
echo "demo outputs in $out"
