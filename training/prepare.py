"""Prepare the training corpus: Debian game soundtracks -> manifest, split, cached features;
with ``--4q`` and ``--emotify`` also the real songs (training/realsongs.py).

    .venv/bin/python -m training.prepare [--config training/configs/prepare.toml] \
        [--4q EXTRACTED_4Q_FOLDER --emotify EXTRACTED_EMOTIFY_FOLDER]

Steps (each one skips what an earlier run already did, so the script can be re-run after an
interruption and picks up where it stopped):

1. fetch   ``apt-get download`` every package of the config into ``<cache>/debs`` (kept .debs
           are reused);
2. unpack  ``dpkg-deb -x`` into ``<cache>/unpacked/<pkg>`` and unzip the ``.pk3`` music archives
           (ufoai-music, nexuiz-music) into ``<name>_unz/`` beside them;
3. find    music tracks: audio files under a music folder, of at least ``min_duration_s``;
           Fret's on Fire songs once each (``song.ogg``); drascula-music left out;
4. split   hold out ``held_out_fraction`` of the TRACKS of every package (seeded);
           write ``<cache>/manifest.csv``;
5. features  non-overlapping 30-s clips of every track, featurised once with
           :mod:`musicorg.analyse.features`; one partial file per track under
           ``<cache>/features-v{N}-partial/`` (resumable), then assembled into
           ``<cache>/features-v{N}.npz``;
6. lyrics  seeded train/held-out split of the lyrics corpora, as ids and row indices, into
           ``<cache>/lyrics_split.json`` (the lyrics themselves never leave /work/shared).

The cache is ``~/.cache/musicorg/corpus`` unless ``--cache-dir`` or ``MUSICORG_CORPUS_DIR``
says otherwise.

Clip layout: a track of duration D gives n = max(1, floor(D / 30)) clips laid end to end and
centred as a block in the track. The ``middle`` clip of a track (the one for evaluation) is
the clip nearest to the track's centre (for odd n it is exactly the centred window that the
app analyses; for even n it starts at the centre). A track shorter than 30 s gives one clip
with all of it; features pool such short clips by nearest-frame stretching (see
musicorg.analyse.features), never by padding with silence.

Feature archive ``features-v{N}.npz`` (load with ``np.load(path, allow_pickle=False)``):

    X (N, 39, 130) float32     stats (N, 78) float32     track (N,) int64 (manifest track_id)
    clip (N,) int64            package (N,) str          split (N,) str 'train' | 'test'
    middle (N,) bool           tempo, brightness, energy (N,) float32
    start (N,) float32 (clip start, s)   weak (N,) bool   path (N,) str (path in package)
    features_version () int    seed () int               split_version () int
"""

from __future__ import annotations

import argparse
import csv
import fnmatch
import hashlib
import json
import math
import os
import re
import subprocess
import sys
import time
import tomllib
import unicodedata
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from musicorg.analyse.audio import DecodeError, probe_duration  # noqa: E402
from musicorg.analyse.features import (  # noqa: E402
    FEATURES_VERSION,
    N_BINS,
    N_ROWS,
    N_STATS,
    ROW_NAMES,
)
from training.featurise import (  # noqa: E402
    default_patches,
    featurise_clips,
    make_teacher,
    read_partial,
    save_npz,
)

DEFAULT_CONFIG = ROOT / "training" / "configs" / "prepare.toml"
GUIDE_MANIFEST = Path("/work/shared/data/debian_music_manifest.csv")
LYRICS_DIR = Path("/work/shared/data/lyrics")
MANIFEST_FIELDS = [
    "track_id",
    "package",
    "path",
    "duration",
    "n_clips",
    "split",
    "sample_rate",
    "channels",
    "licence",
    "title",
    "artist",
    "album",
    "genre",
]


def log(msg: str) -> None:
    print(f"[prepare {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def default_cache_dir() -> Path:
    env = os.environ.get("MUSICORG_CORPUS_DIR")
    return Path(env) if env else Path.home() / ".cache" / "musicorg" / "corpus"


# ----------------------------------------------------------------------------------- fetch


def deb_for(debs: Path, pkg: str) -> Path | None:
    found = sorted(debs.glob(f"{pkg}_*.deb"))
    return found[-1] if found else None


def fetch(packages: list[str], debs: Path) -> dict[str, Path]:
    debs.mkdir(parents=True, exist_ok=True)
    out: dict[str, Path] = {}
    for pkg in packages:
        deb = deb_for(debs, pkg)
        if deb is None:
            log(f"fetch: apt-get download {pkg}")
            res = subprocess.run(["apt-get", "download", pkg], cwd=debs, check=False)
            if res.returncode != 0:
                log("fetch: failed; trying once more after apt-get update")
                subprocess.run(["apt-get", "update", "-qq"], check=False)
                subprocess.run(["apt-get", "download", pkg], cwd=debs, check=True)
            deb = deb_for(debs, pkg)
            if deb is None:
                raise SystemExit(f"apt-get download {pkg} left no .deb in {debs}")
        out[pkg] = deb
    log(f"fetch: {len(out)} packages in {debs}")
    return out


# ---------------------------------------------------------------------------------- unpack


def _deb_listing(deb: Path) -> list[tuple[str, int]]:
    """(path, size) of the regular files of a .deb, from ``dpkg-deb -c``."""
    text = subprocess.run(
        ["dpkg-deb", "-c", str(deb)], check=True, capture_output=True, text=True
    ).stdout
    files = []
    for line in text.splitlines():
        parts = line.split(None, 5)
        if len(parts) < 6 or not parts[0].startswith("-"):
            continue
        name = parts[5]
        if name.startswith("./"):
            name = name[2:]
        files.append((name, int(parts[2])))
    return files


def _complete(target: Path, listing: list[tuple[str, int]]) -> bool:
    for name, size in listing:
        p = target / name
        try:
            if p.stat().st_size != size:
                return False
        except OSError:
            return False
    return True


def unpack(pkg: str, deb: Path, unpacked: Path) -> Path:
    target = unpacked / pkg
    marker = target / ".musicorg-unpacked"
    if marker.exists():
        return target
    listing = _deb_listing(deb)
    if target.exists() and _complete(target, listing):
        log(f"unpack: {pkg} already unpacked (reusing {target})")
    else:
        log(f"unpack: dpkg-deb -x {deb.name}")
        target.mkdir(parents=True, exist_ok=True)
        subprocess.run(["dpkg-deb", "-x", str(deb), str(target)], check=True)
    for name, _ in listing:
        if name.lower().endswith(".pk3") and "music" in name.lower():
            _unzip_music(target / name)
    marker.write_text(deb.name + "\n")
    return target


def _unzip_music(pk3: Path) -> None:
    dest = pk3.with_name(pk3.stem + "_unz")
    with zipfile.ZipFile(pk3) as zf:
        members = [m for m in zf.infolist() if not m.is_dir()]
        todo = [m for m in members if not _same_size(dest / m.filename, m.file_size)]
        if not todo:
            return
        log(f"unpack: unzip {pk3.name} ({len(todo)} files) -> {dest.name}/")
        for m in todo:
            if m.filename.startswith("/") or ".." in Path(m.filename).parts:
                continue  # never write outside dest
            zf.extract(m, dest)


def _same_size(p: Path, size: int) -> bool:
    try:
        return p.stat().st_size == size
    except OSError:
        return False


# ------------------------------------------------------------------------------------ find


@dataclass
class Track:
    package: str
    path: str  # inside the package tree
    abspath: Path
    duration: float
    sample_rate: int = 0
    channels: int = 0
    licence: str = ""
    title: str = ""
    artist: str = ""
    album: str = ""
    genre: str = ""
    track_id: int = -1
    split: str = ""

    @property
    def n_clips(self) -> int:
        return n_clips(self.duration, CLIP_SECONDS)

    @property
    def key(self) -> str:
        return hashlib.sha1(f"{self.package}/{self.path}".encode()).hexdigest()[:20]


CLIP_SECONDS = 30.0


def n_clips(duration: float, clip_seconds: float) -> int:
    return max(1, math.floor(duration / clip_seconds + 1e-6))


def is_music(pkg: str, rel: str, cfg: dict[str, Any], music_re: re.Pattern[str]) -> bool:
    base = rel.rsplit("/", 1)[-1]
    if os.path.splitext(base)[1].lower() not in cfg["audio_extensions"]:
        return False
    only = cfg.get("only_basenames", {}).get(pkg)
    if only is not None:
        return base in only
    if any(fnmatch.fnmatchcase(rel, g) for g in cfg.get("extra_tracks", {}).get(pkg, [])):
        return True
    return any(music_re.search(part) for part in rel.split("/")[:-1])


def _tags(path: Path) -> dict[str, str]:
    try:
        import mutagen

        f = mutagen.File(path, easy=True)
    except Exception:
        return {}
    if f is None or f.tags is None:
        return {}
    out = {}
    for k in ("title", "artist", "album", "genre"):
        v = f.tags.get(k)
        if v:
            out[k] = str(v[0]).replace("\n", " ").strip()
    return out


def _info(path: Path) -> tuple[int, int]:
    import soundfile as sf

    try:
        info = sf.info(str(path))
        return int(info.samplerate), int(info.channels)
    except Exception:
        return 0, 0


def find_tracks(pkg: str, root: Path, cfg: dict[str, Any]) -> list[Track]:
    music_re = re.compile(cfg["music_dir_regex"], re.IGNORECASE)
    licences = read_copyright(root, pkg)
    tracks = []
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            full = Path(dirpath) / name
            rel = full.relative_to(root).as_posix()
            if not is_music(pkg, rel, cfg, music_re):
                continue
            try:
                duration = probe_duration(full)
            except DecodeError as exc:
                log(f"find: skipping {pkg}/{rel}: {exc.kind}")
                continue
            if not math.isfinite(duration) or duration < cfg["min_duration_s"]:
                continue
            sr, ch = _info(full)
            tags = _tags(full)
            tracks.append(
                Track(
                    package=pkg,
                    path=rel,
                    abspath=full,
                    duration=round(duration, 3),
                    sample_rate=sr,
                    channels=ch,
                    licence=licence_for(rel, licences),
                    title=tags.get("title", ""),
                    artist=tags.get("artist", ""),
                    album=tags.get("album", ""),
                    genre=tags.get("genre", ""),
                )
            )
    tracks.sort(key=lambda t: t.path)
    return tracks


def read_copyright(root: Path, pkg: str) -> list[tuple[list[str], str]]:
    """(Files patterns, License short name) stanzas of a DEP-5 copyright file, in order."""
    path = root / "usr" / "share" / "doc" / pkg / "copyright"
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return []
    stanzas = []
    for block in re.split(r"\n\s*\n", text):
        files: list[str] = []
        lic = ""
        current = ""
        for line in block.splitlines():
            if line[:1].isspace() and current == "files":
                files.extend(line.split())
                continue
            key, _, value = line.partition(":")
            current = key.strip().lower()
            if current == "files":
                files = value.split()
            elif current == "license" and not lic:
                lic = value.strip()
        if files and lic:
            stanzas.append((files, lic))
    return stanzas


def licence_for(rel: str, stanzas: list[tuple[list[str], str]]) -> str:
    """Best effort: the last stanza whose pattern matches a tail of the installed path.

    Debian patterns name paths in the source tree, which differ from installed paths; we
    match each pattern against every suffix of the installed path and fall back to the
    ``Files: *`` stanza.
    """
    parts = rel.split("/")
    tails = ["/".join(parts[i:]) for i in range(len(parts))]
    found = ""
    for patterns, lic in stanzas:
        for pat in patterns:
            if pat == "*":
                if not found:
                    found = lic
                continue
            if any(fnmatch.fnmatchcase(t, pat) for t in tails):
                found = lic
    return found


# ----------------------------------------------------------------------------------- split


def split_tracks(tracks: list[Track], seed: int, fraction: float) -> None:
    """Hold out ceil(fraction * n) tracks of each package with n >= 2 tracks (seeded)."""
    by_pkg: dict[str, list[Track]] = {}
    for t in tracks:
        by_pkg.setdefault(t.package, []).append(t)
    for pkg, group in sorted(by_pkg.items()):
        group.sort(key=lambda t: t.path)
        n_test = math.ceil(fraction * len(group)) if len(group) >= 2 else 0
        rng = np.random.default_rng([seed, zlib.crc32(pkg.encode())])
        order = rng.permutation(len(group))
        test = {int(i) for i in order[:n_test]}
        for i, t in enumerate(group):
            t.split = "test" if i in test else "train"
    share = sum(t.split == "test" for t in tracks) / max(1, len(tracks))
    assert share >= fraction, f"held-out share {share:.3f} below {fraction}"


def write_manifest(tracks: list[Track], path: Path) -> None:
    tmp = path.with_suffix(".csv.tmp")
    with open(tmp, "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=MANIFEST_FIELDS)
        w.writeheader()
        for t in tracks:
            w.writerow(
                {
                    "track_id": t.track_id,
                    "package": t.package,
                    "path": t.path,
                    "duration": f"{t.duration:.3f}",
                    "n_clips": t.n_clips,
                    "split": t.split,
                    "sample_rate": t.sample_rate,
                    "channels": t.channels,
                    "licence": t.licence,
                    "title": t.title,
                    "artist": t.artist,
                    "album": t.album,
                    "genre": t.genre,
                }
            )
    os.replace(tmp, path)


def compare_with_guide(tracks: list[Track]) -> None:
    if not GUIDE_MANIFEST.exists():
        return
    with open(GUIDE_MANIFEST, newline="", encoding="utf-8") as f:
        guide = {(r["package"], r["path_in_package"]) for r in csv.DictReader(f)}
    ours = {(t.package, t.path) for t in tracks}
    missing = sorted(
        k for k in guide - ours if k[0] != "drascula-music" and not k[1].endswith("guitar.ogg")
    )
    extra = sorted(ours - guide)
    log(f"find: vs the guide manifest: {len(missing)} of its tracks not found, {len(extra)} new")
    for k in missing[:20]:
        log(f"  not found: {k[0]}: {k[1]}")
    for k in extra[:20]:
        log(f"  new:       {k[0]}: {k[1]}")


# -------------------------------------------------------------------------------- features


def clip_starts(duration: float, clip_seconds: float) -> list[float]:
    n = n_clips(duration, clip_seconds)
    if duration <= clip_seconds:
        return [0.0]
    start0 = max(0.0, (duration - n * clip_seconds) / 2.0)
    return [start0 + k * clip_seconds for k in range(n)]


def middle_index(duration: float, starts: list[float], clip_seconds: float) -> int:
    centre = duration / 2.0
    dists = [abs(s + clip_seconds / 2.0 - centre) for s in starts]
    return int(np.argmin(dists))  # ties -> the earlier clip


def featurise_track(
    t: Track, sr: int, clip_seconds: float, teacher: Any, patches: int | None
) -> dict[str, np.ndarray]:
    """Features of every clip of a track (see :func:`featurise_clips`)."""
    starts = clip_starts(t.duration, clip_seconds)
    data = featurise_clips(t.abspath, starts, clip_seconds, sr, teacher, patches)
    data["duration"] = np.asarray(t.duration, dtype=np.float64)
    return data


def _load_partial(path: Path, t: Track) -> dict[str, np.ndarray] | None:
    data = read_partial(path)
    if data is None:
        return None
    if (
        int(data.get("features_version", -1)) != FEATURES_VERSION
        or "musicnn" not in data
        or abs(float(data["duration"]) - t.duration) > 1e-3
        or data["X"].shape[0] != t.n_clips
    ):
        return None
    return data


def _featurise_all(
    tracks: list[Track],
    partial: Path,
    sr: int,
    clip_seconds: float,
    teacher: Any,
    patches: int | None,
) -> tuple[dict[int, dict[str, np.ndarray]], list[str], int]:
    """Every track's clips (from its partial file when it has one); the failures; and how
    many clips were computed now."""
    total_clips = sum(t.n_clips for t in tracks)
    done_clips = computed_clips = 0
    t0 = time.perf_counter()
    results: dict[int, dict[str, np.ndarray]] = {}
    failures: list[str] = []
    for i, t in enumerate(tracks):
        p = partial / f"{t.key}.npz"
        data = _load_partial(p, t)
        if data is None:
            try:
                data = featurise_track(t, sr, clip_seconds, teacher, patches)
            except DecodeError as exc:
                failures.append(f"{t.package}/{t.path}: {exc.kind}: {exc}")
                log(f"features: FAILED {t.package}/{t.path}: {exc}")
                continue
            save_npz(p, data)
            computed_clips += len(data["X"])
        results[t.track_id] = data
        done_clips += len(data["X"])
        if (i + 1) % 10 == 0 or i + 1 == len(tracks):
            el = time.perf_counter() - t0
            rate = computed_clips / el if el > 0 else 0.0
            eta = (total_clips - done_clips) / rate if rate > 0 else 0.0
            log(
                f"features: {i + 1}/{len(tracks)} tracks, {done_clips}/{total_clips} clips, "
                f"{rate:.1f} clips/s, elapsed {el:.0f}s, ETA {eta:.0f}s"
            )
    return results, failures, computed_clips


#: Per-clip arrays copied as they are from each track's features.
_PER_CLIP: tuple[str, ...] = ("X", "stats", "tempo", "brightness", "energy", "start", "weak")
_PER_CLIP += ("musicnn", "tags", "n_patches")


def _assemble(
    tracks: list[Track], results: dict[int, dict[str, np.ndarray]], clip_seconds: float
) -> dict[str, np.ndarray]:
    """One array per column over the clips of every featurised track, in track order."""
    names = [*_PER_CLIP, "track", "clip", "package", "split", "middle", "path"]
    cols: dict[str, list[Any]] = {k: [] for k in names}
    for t in tracks:
        data = results.get(t.track_id)
        if data is None:
            continue
        n = len(data["X"])
        mid = middle_index(t.duration, [float(s) for s in data["start"]], clip_seconds)
        for name in _PER_CLIP:
            cols[name].append(data[name])
        cols["track"].append(np.full(n, t.track_id, dtype=np.int64))
        cols["clip"].append(np.arange(n, dtype=np.int64))
        cols["package"].append(np.full(n, t.package))
        cols["path"].append(np.full(n, t.path))
        cols["split"].append(np.full(n, t.split))
        cols["middle"].append(np.arange(n) == mid)
    arrays: dict[str, np.ndarray] = {k: np.concatenate(v) for k, v in cols.items()}
    for name in ("package", "path", "split"):
        arrays[name] = arrays[name].astype(str)
    return arrays


def compute_features(
    tracks: list[Track],
    cache: Path,
    sr: int,
    clip_seconds: float,
    seed: int,
    split_version: int,
    device: str = "auto",
    patches: int | None = None,
) -> Path:
    partial = cache / f"features-v{FEATURES_VERSION}-partial"
    partial.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    teacher = make_teacher(device)
    results, failures, computed_clips = _featurise_all(
        tracks, partial, sr, clip_seconds, teacher, patches
    )
    (cache / "features-failures.txt").write_text("".join(f + "\n" for f in failures))
    arrays = _assemble(tracks, results, clip_seconds)
    arrays["features_version"] = np.asarray(FEATURES_VERSION)
    arrays["seed"] = np.asarray(seed)
    arrays["split_version"] = np.asarray(split_version)
    arrays["row_names"] = np.asarray(ROW_NAMES)
    assert arrays["X"].shape[1:] == (N_ROWS, N_BINS)
    assert arrays["stats"].shape[1] == N_STATS
    assert np.isfinite(arrays["X"]).all() and np.isfinite(arrays["stats"]).all()
    out = cache / f"features-v{FEATURES_VERSION}.npz"
    save_npz(out, arrays)
    log(
        f"features: wrote {out} ({len(arrays['X'])} clips, {len(results)} tracks, "
        f"{len(failures)} failures, computed {computed_clips} clips "
        f"in {time.perf_counter() - t0:.0f}s)"
    )
    return out


# ---------------------------------------------------------------------------------- lyrics


def _norm(text: object) -> str:
    """Lower case, runs of anything but [a-z0-9] as one space (the draw's song key)."""
    return re.sub(r"[^a-z0-9]+", " ", str(text).lower()).strip()


def _fold(text: object) -> str:
    """Like :func:`_norm`, accents folded first ("Beyoncé" and "Beyonce" agree)."""
    return _norm(unicodedata.normalize("NFKD", str(text)).encode("ascii", "ignore").decode())


def _title_key(title: object) -> str:
    """A title without its "(feat. X)" / "(with X)" / "- X Remix" decorations."""
    t = re.sub(r"\((?:feat|ft|with)\b[^)]*\)", " ", str(title), flags=re.IGNORECASE)
    t = re.sub(r"\s-\s.*\b(?:remix|mix|edit|version)\b.*$", " ", t, flags=re.IGNORECASE)
    return _fold(t)


def split_lyrics(cache: Path, seed: int, fraction: float) -> Path:
    """Seeded held-out split of the lyrics corpora, grouped by (artist, title), then by title.

    Songs are drawn by normalised (artist, title). The same lyrics also come under two
    artist names (poplyrics lists a duet under each artist; covers such as "The Loco-Motion"
    sit in both corpora), so every group of entries sharing a normalised title is then put on
    one side: the side most of it drew (ties: held out). Songs that merely share a title with
    another go along, which costs nothing.
    """
    import pandas as pd

    mm_train = pd.read_csv(LYRICS_DIR / "musicmood" / "train_lyrics_1000.csv")
    mm_valid = pd.read_csv(LYRICS_DIR / "musicmood" / "valid_lyrics_200.csv")
    pop = pd.read_parquet(LYRICS_DIR / "poplyrics-1k" / "poplyric-1k.parquet")
    sources = [
        ("musicmood/train_lyrics_1000.csv", mm_train, "file", "artist", "title"),
        ("musicmood/valid_lyrics_200.csv", mm_valid, "file", "artist", "title"),
        ("poplyrics-1k/poplyric-1k.parquet", pop, None, "artist", "track_name"),
    ]
    keys = sorted(
        {
            f"{_norm(a)}|{_norm(t)}"
            for _, df, _id, ac, tc in sources
            for a, t in zip(df[ac], df[tc], strict=True)
        }
    )
    rng = np.random.default_rng([seed, zlib.crc32(b"lyrics")])
    order = rng.permutation(len(keys))
    held = {keys[int(i)] for i in order[: math.ceil(fraction * len(keys))]}
    by_title: dict[str, list[str]] = {}
    for _, df, _id, ac, tc in sources:
        for a, t in zip(df[ac], df[tc], strict=True):
            by_title.setdefault(_title_key(t), []).append(f"{_norm(a)}|{_norm(t)}")
    moved = 0
    for group in by_title.values():
        n_held = sum(k in held for k in group)
        if 0 < n_held < len(group):
            keep_held = 2 * n_held >= len(group)
            for k in set(group):
                if (k in held) != keep_held:
                    moved += 1
                    (held.add if keep_held else held.discard)(k)
    log(f"lyrics: {moved} songs moved so that every title is on one side")
    out: dict[str, Any] = {
        "seed": seed,
        "held_out_fraction": fraction,
        "grouping": "normalised artist + title, then every normalised title on one side",
        "source_dir": str(LYRICS_DIR),
        "corpora": {},
    }
    for name, df, id_col, ac, tc in sources:
        train_rows: list[int] = []
        test_rows: list[int] = []
        for row, (a, t) in enumerate(zip(df[ac], df[tc], strict=True)):
            (test_rows if f"{_norm(a)}|{_norm(t)}" in held else train_rows).append(row)
        entry: dict[str, Any] = {"n": len(df), "train_rows": train_rows, "test_rows": test_rows}
        if id_col is not None:
            entry["id_column"] = id_col
            entry["train_ids"] = [str(df[id_col].iloc[r]) for r in train_rows]
            entry["test_ids"] = [str(df[id_col].iloc[r]) for r in test_rows]
        out["corpora"][name] = entry
        log(f"lyrics: {name}: {len(train_rows)} train, {len(test_rows)} held out")
    path = cache / "lyrics_split.json"
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(out, indent=1))
    os.replace(tmp, path)
    return path


# ------------------------------------------------------------------------------------ main


def _find_all(cfg: dict[str, Any], cache: Path) -> list[Track]:
    """The music tracks of every package of the config (fetched and unpacked), numbered."""
    packages = [p for p in cfg["packages"] if p not in set(cfg.get("excluded_packages", []))]
    debs = fetch(packages, cache / "debs")
    tracks: list[Track] = []
    for pkg in packages:
        root = unpack(pkg, debs[pkg], cache / "unpacked")
        found = find_tracks(pkg, root, cfg)
        log(f"find: {pkg}: {len(found)} tracks, {sum(t.duration for t in found) / 60:.1f} min")
        tracks.extend(found)
    tracks.sort(key=lambda t: (t.package, t.path))
    for i, t in enumerate(tracks):
        t.track_id = i
    return tracks


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--config", type=Path, default=DEFAULT_CONFIG)
    ap.add_argument("--cache-dir", type=Path, default=None)
    ap.add_argument("--no-features", action="store_true", help="stop after the manifest")
    ap.add_argument("--device", default="auto", help="MusiCNN's device: auto, cpu or cuda")
    ap.add_argument(
        "--teacher-patches",
        default="default",
        help="MusiCNN patches per clip: 'default' (the app's, a third of the cost) or 'all'",
    )
    ap.add_argument(
        "--4q",
        dest="fourq",
        type=Path,
        default=None,
        help="the extracted 4Q folder: also featurise the real songs (training/realsongs.py)",
    )
    ap.add_argument("--emotify", type=Path, default=None, help="the extracted Emotify folder")
    return ap


def main(argv: list[str] | None = None) -> int:
    global CLIP_SECONDS
    ap = _parser()
    args = ap.parse_args(argv)
    if (args.fourq is None) != (args.emotify is None):
        ap.error("--4q and --emotify go together")

    cfg = tomllib.loads(args.config.read_text())
    cache = args.cache_dir or default_cache_dir()
    cache.mkdir(parents=True, exist_ok=True)
    seed = int(cfg["seed"])
    CLIP_SECONDS = float(cfg["clip_seconds"])
    t_start = time.perf_counter()

    tracks = _find_all(cfg, cache)
    compare_with_guide(tracks)
    split_tracks(tracks, seed, float(cfg["held_out_fraction"]))
    write_manifest(tracks, cache / "manifest.csv")
    n_test = sum(t.split == "test" for t in tracks)
    log(
        f"manifest: {len(tracks)} tracks ({len(tracks) - n_test} train, {n_test} test), "
        f"{sum(t.n_clips for t in tracks)} clips, {sum(t.duration for t in tracks) / 3600:.1f} h"
        f" -> {cache / 'manifest.csv'}"
    )
    split_lyrics(cache, seed, float(cfg["lyrics"]["held_out_fraction"]))
    if not args.no_features:
        compute_features(
            tracks,
            cache,
            int(cfg["sample_rate"]),
            CLIP_SECONDS,
            seed,
            int(cfg["split_version"]),
            args.device,
            None if args.teacher_patches == "all" else default_patches(),
        )
    if args.fourq is not None and not args.no_features:
        # The real songs' committed split, then all ten MusiCNN patches of each clip (the
        # patch-count study needs them): python -m training.realsongs featurise.
        from training import realsongs

        real_args = ["featurise", "--4q", str(args.fourq), "--emotify", str(args.emotify)]
        real_args += ["--cache-dir", str(cache), "--device", args.device]
        if realsongs.main(real_args) != 0:
            return 1
    log(f"done in {time.perf_counter() - t_start:.0f}s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
