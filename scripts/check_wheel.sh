#!/usr/bin/env bash
# Release check, run by .ci/run after `make test`:
#   1. the desktop entry and the AppStream metainfo in packaging/ validate;
#   2. `python -m build` makes the sdist, and the wheel from that sdist (so a file missing
#      from the sdist fails here);
#   3. the wheel installs into a brand-new venv with `pip install -c constraints.txt`, and the
#      installed `musicorg` runs headless on the bundled demo library (scan, analyse on the
#      CPU, playlists) with every user folder in a throwaway directory.
# The install reuses pip's cache and the find-links wheels of this machine; it fails if the
# resolver picked a CUDA build of torch (multi-GB) instead of the local CPU wheel.
#
# Environment: PYTHON (base interpreter for the clean venv, default python3), VENV (the
# project venv that has `build` and hatchling, default .venv), KEEP=1 keeps the work folder.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
PYTHON=${PYTHON:-python3}
VENV=${VENV:-.venv}
started=$SECONDS

step() { printf '\n== check_wheel: %s (%ds)\n' "$1" $((SECONDS - started)); }
fail() { printf 'check_wheel: FAILED: %s\n' "$1" >&2; exit 1; }

work=$(mktemp -d "${TMPDIR:-/tmp}/musicorg-wheel.XXXXXX")
if [ "${KEEP:-0}" = 1 ]; then
    echo "check_wheel: keeping $work"
else
    trap 'rm -rf "$work"' EXIT
fi

# --- 1. packaging metadata ---------------------------------------------------------------------
step "desktop entry and AppStream metainfo"
missing=""
command -v desktop-file-validate >/dev/null 2>&1 || missing="$missing desktop-file-utils"
command -v appstreamcli >/dev/null 2>&1 || missing="$missing appstream"
if [ -n "$missing" ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "check_wheel: installing$missing"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        # shellcheck disable=SC2086
        apt-get install -y -qq --no-install-recommends $missing >/dev/null
    else
        echo "check_wheel needs the validators of desktop files and AppStream metadata. Please run:" >&2
        echo "    sudo apt-get install -y$missing" >&2
        exit 1
    fi
fi
desktop-file-validate packaging/io.github.musicorg.Musicorg.desktop
appstreamcli validate --no-net packaging/io.github.musicorg.Musicorg.metainfo.xml

# --- 2. sdist and wheel ------------------------------------------------------------------------
step "python -m build (sdist, then the wheel from it)"
# --no-isolation: hatchling is in the project venv (constraints.txt), nothing is downloaded.
"$VENV/bin/python" -m build --no-isolation --outdir "$work/dist" . >"$work/build.log" 2>&1 ||
    { tail -30 "$work/build.log" >&2; fail "python -m build"; }
sdist=$(ls "$work"/dist/musicorg-*.tar.gz)
wheel=$(ls "$work"/dist/musicorg-*.whl)
version=$("$VENV/bin/python" -c 'import re,sys; print(re.search(r"__version__\s*=\s*\"([^\"]+)\"", open("musicorg/__init__.py").read())[1])')
echo "sdist: $(basename "$sdist") ($(du -h "$sdist" | cut -f1)), wheel: $(basename "$wheel") ($(du -h "$wheel" | cut -f1))"
case "$(basename "$wheel")" in musicorg-"$version"-*) ;; *) fail "wheel name does not carry version $version" ;; esac
listing=$(tar -tzf "$sdist")
for want in constraints.txt packaging/io.github.musicorg.Musicorg.desktop \
    packaging/io.github.musicorg.Musicorg.metainfo.xml resources/demo/CREDITS \
    resources/models/ musicorg/cli/; do
    grep -q "^musicorg-$version/$want" <<<"$listing" || fail "the sdist lacks $want"
done

# --- 3. clean venv, installed app --------------------------------------------------------------
step "install the wheel into a clean venv"
"$PYTHON" -m venv "$work/venv"
pip_log="$work/pip.log"
"$work/venv/bin/python" -m pip install --disable-pip-version-check -c constraints.txt "$wheel" \
    >"$pip_log" 2>&1 || { tail -30 "$pip_log" >&2; fail "pip install of the wheel"; }
if grep -iE 'Downloading .*(torch-|nvidia_)' "$pip_log"; then
    fail "pip downloaded torch or CUDA libraries instead of using the local CPU wheel"
fi
if "$work/venv/bin/python" -m pip list --disable-pip-version-check 2>/dev/null | grep -i '^nvidia-'; then
    fail "CUDA libraries were installed into the clean venv"
fi
"$work/venv/bin/python" - <<'EOF' || fail "torch in the clean venv is not the CPU build"
import torch
print(f"torch {torch.__version__}, CUDA build: {torch.version.cuda}")
raise SystemExit(0 if torch.version.cuda is None else 1)
EOF

step "run the installed musicorg headless on the demo library"
home="$work/home"
export MUSICORG_DATA_DIR="$home/data" MUSICORG_CONFIG_DIR="$home/config"
export MUSICORG_CACHE_DIR="$home/cache" MUSICORG_LOG_DIR="$home/log"
export QT_QPA_PLATFORM=offscreen NUMBA_CACHE_DIR="$home/numba" HOME="$home"
mkdir -p "$home"
app="$work/venv/bin/musicorg"
(
    # Out of the checkout, so that nothing can import musicorg from the source tree.
    cd "$work"
    "$work/venv/bin/python" - "$work/venv" <<'EOF'
import sys
import musicorg, musicorg.paths as p
prefix = sys.argv[1]
assert musicorg.__file__.startswith(prefix), musicorg.__file__
assert str(p.resources_dir()).startswith(prefix), p.resources_dir()
print(f"musicorg from {musicorg.__file__}, resources in {p.resources_dir()}")
EOF
    out=$("$app" --version)
    echo "$out"
    [ "$out" = "musicorg $version" ] || fail "--version printed '$out', expected 'musicorg $version'"
    "$app" --demo scan
    tracks=$("$app" --demo stats --json | "$work/venv/bin/python" -c 'import json,sys; print(json.load(sys.stdin)["tracks"])')
    [ "$tracks" -ge 60 ] || fail "the demo scan catalogued only $tracks tracks"
    "$app" --demo analyze --device cpu
    "$app" --demo playlists | tee "$work/playlists.txt"
    grep -qE '^[1-9][0-9]* playlists, [1-9][0-9]* tracks\.$' "$work/playlists.txt" ||
        fail "no automatic playlists were made"
)

step "done: wheel and sdist OK"
echo "check_wheel: $((SECONDS - started)) s in all"
