"""Real songs with labels for training and evaluation: the 4Q and Emotify data sets.

    .venv/bin/python -m training.realsongs split     --4q DIR --emotify DIR [--force]
    .venv/bin/python -m training.realsongs featurise --4q DIR --emotify DIR [--cache-dir D]
    .venv/bin/python -m training.realsongs all       --4q DIR --emotify DIR [--cache-dir D]

Inputs are the extracted folders (see /work/shared/DATA.md, "Real songs with labels"):

* ``--4q``: the ``MER_audio_taffc_dataset`` folder (or a folder above it) of the 4Q audio
  emotion data set (Panda, Malheiro, Paiva 2018): ``Q1``..``Q4/<Song>.mp3``, 900 clips of
  ~30 s, and ``panda_dataset_taffc_metadata.csv`` (Song, Artist, Title, Quadrant, Moods,
  GenresStr, ...). A clip's file name is its ``Song`` id and its folder its quadrant.
* ``--emotify``: the Emotify folder (Aljanaki et al. 2016), one holding ``data.csv`` and
  ``emotifymusic/{classical,electronic,pop,rock}/{1..100}.mp3`` (400 clips of 60 s) somewhere
  below it. ``data.csv`` numbers tracks 1..400 in the order classical, rock, electronic, pop
  (checked against its genre column), so ``rock/7.mp3`` is track 107 and ``pop/7.mp3``
  track 307. Emotify has no artist column; the artist comes from each MP3's ID3 tag
  (``TPE1``; for "Magnatune Compilation" the artist named before ": " / " - " in the title).

Labels per clip: ``dataset`` ("4q" | "emotify"), ``id`` (4Q: the Song id; Emotify: the track
id), ``artist``, ``title``, ``genre`` (4Q: the first AllMusic genre of GenresStr other than
"International", "" when there is none; Emotify: its folder) and ``quadrant`` (4Q: Q1..Q4,
Emotify: "").

``split`` draws a fixed, seeded held-out part of each data set for evaluation only, grouped
so that no artist, and no song title (covers, the same recording under two artist
spellings), is on both sides: artist names are compared folded (accents, case, "&" = "and",
a leading "the", a trailing "and his orchestra" / "& the Wailers"), titles without their
"(feat. ...)" parts, and every artist and title sharing clips is one group. Groups are drawn
in a seeded order and held out while that brings the held-out counts of every label
(4Q: quadrant and genre; Emotify: genre) and of the whole closer to ``HELD_OUT_FRACTION``.
The split goes to the committed file ``training/configs/realsongs_split.json`` (metadata
only); it is rebuilt from the metadata and the seed, and an existing different split is
only replaced with ``--force``.

``featurise`` computes, for every clip of the split file, the features of its middle
``clip_seconds`` window (4Q: all of the ~30 s; Emotify: the centred 30 s of 60 s) with
:func:`training.featurise.featurise_clips` and the MusiCNN teacher of
:func:`training.featurise.make_teacher`; one partial file per clip under
``<cache>/realsongs-v{N}-partial/`` (resumable), assembled into ``<cache>/realsongs-v{N}.npz``
(load with :func:`training.data.load_realsongs`)::

    dataset, id, artist, title, split ('train' | 'test'), genre, quadrant, path (relative to
    the data set's root: 4Q "Q1/MT0000040632.mp3", Emotify "rock/7.mp3")   (N,) str
    genres (N,) str (4Q: GenresStr)   moods (N,) str (4Q: MoodsStrSplit)
    gems (N, 9) float32 (Emotify: share of listeners choosing each GEMS emotion; NaN for 4Q)
    gems_names (9,) str   duration (N,) float64 (s)
    X (N, 39, 130) float32   stats (N, 78)   tempo, brightness, energy, start (N,)
    weak (N,) bool   musicnn (N, 10, 200) float32   tags (N, 10, 50)   n_patches (N,) int64
    features_version () int   seed () int   split_version () int

The cache is ``~/.cache/musicorg/corpus`` unless ``--cache-dir`` or ``MUSICORG_CORPUS_DIR``
says otherwise. The audio is never copied: licences in training/MODEL.md.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import math
import os
import re
import sys
import time
import tomllib
import unicodedata
import zlib
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
SPLIT_FILE = ROOT / "training" / "configs" / "realsongs_split.json"
PREPARE_CONFIG = ROOT / "training" / "configs" / "prepare.toml"

SEED = 20261201
SPLIT_VERSION = 1
HELD_OUT_FRACTION = 0.30
QUADRANTS = ("Q1", "Q2", "Q3", "Q4")
EMOTIFY_GENRES = ("classical", "electronic", "pop", "rock")
# data.csv numbers its tracks in this order, 100 per genre (track id = offset + file number)
EMOTIFY_OFFSETS = {"classical": 0, "rock": 100, "electronic": 200, "pop": 300}
GEMS = (
    "amazement",
    "solemnity",
    "tenderness",
    "nostalgia",
    "calmness",
    "power",
    "joyful_activation",
    "tension",
    "sadness",
)
META_4Q = "panda_dataset_taffc_metadata.csv"
# the split file's record fields, in this order
RECORD_FIELDS = ("dataset", "id", "split", "artist", "title", "genre", "quadrant", "path")


def log(msg: str) -> None:
    print(f"[realsongs {time.strftime('%H:%M:%S')}] {msg}", flush=True)


@dataclass(frozen=True)
class Clip:
    dataset: str  # "4q" | "emotify"
    id: str
    path: str  # relative to the data set's root
    artist: str = ""
    title: str = ""
    genre: str = ""
    quadrant: str = ""
    split: str = ""
    # extra labels, kept out of the split file
    genres: str = ""
    moods: str = ""
    gems: tuple[float, ...] = field(default=(), compare=False)

    @property
    def key(self) -> tuple[str, str]:
        return (self.dataset, self.id)

    @property
    def order(self) -> tuple[str, int, str]:
        """Sort key: by data set, then numeric ids by number ("2" before "10")."""
        return (self.dataset, int(self.id) if self.id.isdigit() else -1, self.id)

    def record(self) -> dict[str, str]:
        d = asdict(self)
        return {k: str(d[k]) for k in RECORD_FIELDS}


# --------------------------------------------------------------------------- normalising


def norm_artist(name: object) -> str:
    """The plain normal form of an artist name: NFKC, case folded, spaces collapsed."""
    return " ".join(unicodedata.normalize("NFKC", str(name)).casefold().split())


def _fold(text: object) -> str:
    """Accents folded, case folded, runs of anything but letters and digits as one space."""
    t = unicodedata.normalize("NFKD", str(text)).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", " ", t.casefold()).strip()


def artist_key(name: object) -> str:
    """The artist grouping key: "Xavier Cugat & His Orchestra" = "Xavier Cugat"."""
    t = re.sub(r"\s*&\s*", " and ", unicodedata.normalize("NFKC", str(name)))
    t = _fold(t)
    t = re.sub(r"^the ", "", t)
    t = re.sub(r" and (?:his|her|their|the) .*$", "", t)
    return t.strip()


def title_key(title: object) -> str:
    """A title without "(feat. X)" / "(with X)" parts and a trailing "- X remix"."""
    t = re.sub(r"\((?:feat|ft|with)\b[^)]*\)", " ", str(title), flags=re.IGNORECASE)
    t = re.sub(r"\s-\s.*\b(?:remix|mix|edit|version)\b.*$", " ", t, flags=re.IGNORECASE)
    return _fold(t)


# ------------------------------------------------------------------------------ metadata


def first_genre(genres: object) -> str:
    """The first genre of "A; International; B" other than "International" ("" if none)."""
    if not isinstance(genres, str):
        return ""
    for g in genres.split(";"):
        g = g.strip()
        if g and g.casefold() != "international":
            return g
    return ""


def find_4q_root(folder: Path) -> Path:
    """The folder holding ``panda_dataset_taffc_metadata.csv`` and ``Q1``..``Q4``."""
    for cand in (folder, *sorted(folder.glob("*/")), *sorted(folder.glob("*/*/"))):
        if (cand / META_4Q).is_file() and all((cand / q).is_dir() for q in QUADRANTS):
            return cand
    raise SystemExit(f"no {META_4Q} beside Q1..Q4 folders in or below {folder}")


def find_emotify_root(folder: Path) -> tuple[Path, Path]:
    """(the folder of the genre folders, data.csv)."""
    for cand in (folder, *sorted(folder.glob("*/")), *sorted(folder.glob("*/*/"))):
        music = cand / "emotifymusic"
        if (cand / "data.csv").is_file() and all((music / g).is_dir() for g in EMOTIFY_GENRES):
            return music, cand / "data.csv"
    raise SystemExit(f"no data.csv beside emotifymusic/{{{','.join(EMOTIFY_GENRES)}}} in {folder}")


def _read_text(path: Path) -> str:
    raw = path.read_bytes()
    try:  # the 4Q metadata is said to be Latin-1 but our copy is UTF-8 ("Céline Dion")
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def _csv_rows(path: Path) -> list[dict[str, str]]:
    rows = list(csv.DictReader(io.StringIO(_read_text(path), newline=""), skipinitialspace=True))
    return [{(k or "").strip(): (v or "").strip() for k, v in r.items()} for r in rows]


def read_4q(folder: Path) -> tuple[Path, list[Clip]]:
    root = find_4q_root(folder)
    files = {
        p.stem: p.relative_to(root).as_posix() for q in QUADRANTS for p in (root / q).glob("*.mp3")
    }
    clips: list[Clip] = []
    for r in _csv_rows(root / META_4Q):
        song, quadrant = r["Song"], r["Quadrant"]
        path = files.pop(song, None)
        if path is None:
            log(f"4q: {song}: no audio file, left out")
            continue
        if not path.startswith(quadrant + "/"):
            raise SystemExit(f"4q: {song}: metadata says {quadrant} but the file is {path}")
        clips.append(
            Clip(
                dataset="4q",
                id=song,
                path=path,
                artist=r["Artist"],
                title=r["Title"],
                genre=first_genre(r["GenresStr"]),
                quadrant=quadrant,
                genres=r["GenresStr"],
                moods=r.get("MoodsStrSplit", ""),
            )
        )
    for song in sorted(files):
        log(f"4q: {files[song]}: not in the metadata, left out")
    return root, sorted(clips, key=lambda c: c.order)


def _id3(path: Path) -> tuple[str, str]:
    """(artist, title) of an MP3 from its ID3 tags; a compilation's artist from the title."""
    try:
        import mutagen

        f = mutagen.File(path, easy=True)
        tags = f.tags if f is not None else None
    except Exception:
        tags = None
    artist = str(tags.get("artist", [""])[0]).strip() if tags else ""
    title = str(tags.get("title", [""])[0]).strip() if tags else ""
    if artist.casefold() == "magnatune compilation":
        m = re.match(r"^(.+?)(?::\s| - )", title)
        artist = m.group(1).strip() if m else ""
    return artist, title


def read_emotify(folder: Path) -> tuple[Path, list[Clip]]:
    music, data_csv = find_emotify_root(folder)
    ratings: dict[int, list[list[float]]] = defaultdict(list)
    genre_of: dict[int, set[str]] = defaultdict(set)
    for r in _csv_rows(data_csv):
        tid = int(r["track id"])
        genre_of[tid].add(r["genre"].strip().lower())
        ratings[tid].append([float(r[g]) for g in GEMS])
    clips: list[Clip] = []
    for genre in EMOTIFY_GENRES:
        numbers = sorted(int(p.stem) for p in (music / genre).glob("*.mp3") if p.stem.isdigit())
        for n in numbers:
            tid = EMOTIFY_OFFSETS[genre] + n
            if genre_of.get(tid) != {genre}:
                raise SystemExit(
                    f"emotify: {genre}/{n}.mp3 should be track {tid}, but data.csv gives "
                    f"that track the genre {sorted(genre_of.get(tid, set()))}"
                )
            artist, title = _id3(music / genre / f"{n}.mp3")
            gems = tuple(float(x) for x in np.mean(ratings[tid], axis=0))
            clips.append(
                Clip(
                    dataset="emotify",
                    id=str(tid),
                    path=f"{genre}/{n}.mp3",
                    artist=artist,
                    title=title,
                    genre=genre,
                    gems=gems,
                )
            )
    missing = sorted(set(genre_of) - {int(c.id) for c in clips})
    if missing:
        log(f"emotify: {len(missing)} rated tracks have no audio file: {missing[:10]}")
    return music, sorted(clips, key=lambda c: c.order)


# --------------------------------------------------------------------------------- split


def _groups(clips: Sequence[Clip]) -> list[list[int]]:
    """Indices of ``clips`` grouped: clips sharing an artist key or a title key are one group."""
    parent = list(range(len(clips)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    first: dict[tuple[str, str], int] = {}
    for i, c in enumerate(clips):
        for key in (("a", artist_key(c.artist)), ("t", title_key(c.title))):
            if not key[1]:
                continue
            j = first.setdefault(key, i)
            ri, rj = find(i), find(j)
            if ri != rj:
                parent[max(ri, rj)] = min(ri, rj)
    out: dict[int, list[int]] = defaultdict(list)
    for i in range(len(clips)):
        out[find(i)].append(i)
    return sorted(out.values(), key=min)  # by first clip, in the order of ``clips``


def _labels(c: Clip) -> list[str]:
    out = ["*"]  # the whole
    if c.quadrant:
        out.append("q:" + c.quadrant)
    out.append("g:" + c.genre)
    return out


N_ORDERS = 400  # seeded group orders tried per data set; the best-balanced one is kept


def _greedy(
    add: np.ndarray, target: np.ndarray, weight: np.ndarray, order: np.ndarray
) -> np.ndarray:
    """Held-out mask over groups: each group in ``order`` is taken when that lowers the cost."""
    held = np.zeros_like(target)
    take = np.zeros(len(add), dtype=bool)
    cost = float(np.sum(weight * np.abs(held - target)))
    for g in order:
        new = held + add[g]
        c = float(np.sum(weight * np.abs(new - target)))
        if c < cost - 1e-9:
            held, cost, take[g] = new, c, True
    return take


def split_dataset(
    clips: Sequence[Clip], seed: int, fraction: float, n_orders: int = N_ORDERS
) -> list[Clip]:
    """``clips`` (one data set) with ``split`` set: a seeded, grouped, label-balanced draw.

    Groups (see :func:`_groups`) are taken in a seeded order, each held out when that lowers
    the cost: the summed distance of the held-out count of every label and of the whole from
    ``fraction`` of its total, each distance divided by sqrt(1 + target) so that rare labels
    count. Of ``n_orders`` seeded orders the one of least cost wins, a label of two or more
    clips missing from either side costing 10 more. Only the metadata and ``seed`` decide.
    """
    if not clips:
        return []
    clips = sorted(clips, key=lambda c: c.order)
    datasets = {c.dataset for c in clips}
    if len(datasets) != 1:
        raise ValueError(f"split_dataset: one data set at a time, not {sorted(datasets)}")
    groups = _groups(clips)
    names = sorted({lab for c in clips for lab in _labels(c)})
    col = {lab: j for j, lab in enumerate(names)}
    add = np.zeros((len(groups), len(names)))
    for g, members in enumerate(groups):
        for i in members:
            for lab in _labels(clips[i]):
                add[g, col[lab]] += 1
    total = add.sum(axis=0)
    target = fraction * total
    weight = 1.0 / np.sqrt(1.0 + target)
    rng = np.random.default_rng([seed, zlib.crc32(next(iter(datasets)).encode())])
    best: tuple[float, np.ndarray] | None = None
    for _ in range(max(1, n_orders)):
        take = _greedy(add, target, weight, rng.permutation(len(groups)))
        held = add[take].sum(axis=0)
        cost = float(np.sum(weight * np.abs(held - target)))
        cost += 10.0 * float(np.sum((total >= 2) & ((held == 0) | (held == total))))
        if best is None or cost < best[0] - 1e-12:
            best = (cost, take)
    assert best is not None
    test = {i for g, members in enumerate(groups) if best[1][g] for i in members}
    return [replace(c, split="test" if i in test else "train") for i, c in enumerate(clips)]


def split_clips(
    clips: Iterable[Clip], seed: int = SEED, fraction: float = HELD_OUT_FRACTION
) -> list[Clip]:
    """Every data set split on its own (see :func:`split_dataset`), sorted by (dataset, id)."""
    by_ds: dict[str, list[Clip]] = defaultdict(list)
    for c in clips:
        by_ds[c.dataset].append(c)
    out: list[Clip] = []
    for ds in sorted(by_ds):
        out.extend(split_dataset(by_ds[ds], seed, fraction))
    return out


def counts(clips: Sequence[Clip]) -> dict[str, Any]:
    """Per data set and split: clips, artists, quadrants, genres."""
    out: dict[str, Any] = {}
    for ds in sorted({c.dataset for c in clips}):
        entry: dict[str, Any] = {}
        for sp in ("train", "test"):
            sub = [c for c in clips if c.dataset == ds and c.split == sp]
            e: dict[str, Any] = {
                "clips": len(sub),
                "artists": len({artist_key(c.artist) for c in sub if artist_key(c.artist)}),
            }
            if any(c.quadrant for c in sub):
                e["quadrant"] = dict(sorted(Counter(c.quadrant for c in sub).items()))
            e["genre"] = dict(sorted(Counter(c.genre for c in sub).items()))
            entry[sp] = e
        n = entry["train"]["clips"] + entry["test"]["clips"]
        entry["held_out_share"] = round(entry["test"]["clips"] / max(1, n), 4)
        out[ds] = entry
    return out


def split_document(clips: Sequence[Clip], seed: int, fraction: float) -> dict[str, Any]:
    return {
        "about": (
            "Fixed train / held-out split of the 4Q (Panda, Malheiro, Paiva 2018) and Emotify "
            "(Aljanaki et al. 2016) clips, written by `python -m training.realsongs split`. "
            "Metadata only: the audio is never committed. The 'test' clips are for evaluation "
            "only. See training/MODEL.md, 'Real songs: 4Q and Emotify'."
        ),
        "seed": seed,
        "held_out_fraction": fraction,
        "split_version": SPLIT_VERSION,
        "grouping": (
            "per data set; clips sharing a folded artist name or a folded song title are one "
            "group (Emotify's artist: the MP3's ID3 artist tag); groups in a seeded order are "
            "held out while that brings the held-out counts of each label (4q: quadrant, "
            "genre; emotify: genre) and of the whole closer to the fraction; the best of "
            f"{N_ORDERS} seeded orders is kept (training/realsongs.py, split_dataset)"
        ),
        "counts": counts(clips),
        "fields": list(RECORD_FIELDS),
        "clips": [[c.record()[k] for k in RECORD_FIELDS] for c in clips],
    }


def dump_split(doc: dict[str, Any]) -> str:
    """JSON with one clip per line (small diffs)."""
    head = {k: v for k, v in doc.items() if k != "clips"}
    text = json.dumps(head, indent=1, ensure_ascii=False)[:-2]
    rows = ",\n".join("  " + json.dumps(r, ensure_ascii=False) for r in doc["clips"])
    return f'{text},\n "clips": [\n{rows}\n ]\n}}\n'


def load_split(path: Path = SPLIT_FILE) -> tuple[dict[str, Any], list[Clip]]:
    """The split file and its clips (metadata only)."""
    doc: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    fields = doc["fields"]
    clips = [Clip(**dict(zip(fields, row, strict=True))) for row in doc["clips"]]
    return doc, clips


def write_split(clips: Sequence[Clip], path: Path, seed: int, fraction: float, force: bool) -> bool:
    """Write the split of ``clips``; refuse (False) to replace a different one unless forced."""
    split = split_clips(clips, seed, fraction)
    text = dump_split(split_document(split, seed, fraction))
    if path.exists():
        if path.read_text(encoding="utf-8") == text:
            log(f"split: {path} is unchanged")
            return True
        try:
            _, old_clips = load_split(path)
        except (ValueError, KeyError, TypeError) as exc:
            old_clips = []
            log(f"split: cannot read {path}: {exc}")
        before = {c.key: c.record() for c in old_clips}
        after = {c.key: c.record() for c in split}
        differ = {k for k in before.keys() | after.keys() if before.get(k) != after.get(k)}
        if not differ:
            log(f"split: {path}: same clips and sides, rewriting its description")
        elif not force:
            log(
                f"split: {path} holds a different split ({len(differ)} clips differ); "
                "not replaced (use --force, and bump SPLIT_VERSION)"
            )
            return False
        else:
            log(f"split: replacing {path} ({len(differ)} clips differ)")
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
    log(f"split: wrote {path}")
    return True


def _show_counts(clips: Sequence[Clip]) -> None:
    for ds, e in counts(clips).items():
        for sp in ("train", "test"):
            log(f"split: {ds} {sp}: {json.dumps(e[sp], ensure_ascii=False)}")
        log(f"split: {ds}: held-out share {e['held_out_share']:.3f}")


# ----------------------------------------------------------------------------- featurise


def default_cache_dir() -> Path:
    env = os.environ.get("MUSICORG_CORPUS_DIR")
    return Path(env) if env else Path.home() / ".cache" / "musicorg" / "corpus"


def features_version() -> int:
    from musicorg.analyse.features import FEATURES_VERSION

    return int(FEATURES_VERSION)


def centred_start(duration: float, clip_seconds: float) -> float:
    """Start of the centred ``clip_seconds`` window (0 for a clip no longer than that)."""
    return max(0.0, (duration - clip_seconds) / 2.0)


REQUIRED = (
    *("X", "stats", "tempo", "brightness", "energy", "weak", "start"),
    *("musicnn", "tags", "n_patches"),
)


def _load_partial(path: Path, start: float, version: int) -> dict[str, np.ndarray] | None:
    from training.featurise import read_partial

    data = read_partial(path)
    if data is None:
        return None
    if (
        int(data.get("features_version", -1)) != version
        or any(k not in data or len(data[k]) != 1 for k in REQUIRED)
        or abs(float(data["start"][0]) - start) > 1e-3
    ):
        return None
    return data


def _partial_name(c: Clip) -> str:
    return f"{c.dataset}-{re.sub(r'[^A-Za-z0-9_.-]', '_', c.id)}.npz"


def featurise(
    clips: Sequence[Clip],
    roots: dict[str, Path],
    cache: Path,
    *,
    sr: int,
    clip_seconds: float,
    device: str = "auto",
    seed: int = SEED,
) -> Path:
    """Features of the centred window of every clip (resumable); returns the assembled npz."""
    from musicorg.analyse.audio import probe_duration
    from training.featurise import featurise_clips, make_teacher, save_npz

    version = features_version()
    partial = cache / f"realsongs-v{version}-partial"
    partial.mkdir(parents=True, exist_ok=True)
    teacher: Any = None
    results: dict[tuple[str, str], dict[str, np.ndarray]] = {}
    failures: list[str] = []
    computed = 0
    t0 = time.perf_counter()
    for i, c in enumerate(clips):
        path = roots[c.dataset] / c.path
        try:
            duration = float(probe_duration(path))
            if not math.isfinite(duration) or duration <= 0:
                raise ValueError(f"duration {duration}")
            start = centred_start(duration, clip_seconds)
            p = partial / _partial_name(c)
            data = _load_partial(p, start, version)
            if data is None:
                if teacher is None:
                    log(f"features: loading the teacher on {device}")
                    teacher = make_teacher(device)
                got = featurise_clips(path, [start], clip_seconds, sr, teacher)
                data = {k: np.asarray(v) for k, v in got.items()}
                missing = [k for k in REQUIRED if k not in data or len(data[k]) != 1]
                if missing:
                    raise ValueError(f"featurise_clips gave no {missing}")
                data["features_version"] = np.asarray(version)
                data["duration"] = np.asarray([duration], dtype=np.float64)
                save_npz(p, data)
                computed += 1
            results[c.key] = data
        except Exception as exc:  # logged, not fatal: one bad file must not stop the rest
            failures.append(f"{c.dataset}/{c.path}: {type(exc).__name__}: {exc}")
            log(f"features: FAILED {c.dataset}/{c.path}: {type(exc).__name__}: {exc}")
        if (i + 1) % 25 == 0 or i + 1 == len(clips):
            el = time.perf_counter() - t0
            rate = computed / el if el > 0 else 0.0
            eta = (len(clips) - i - 1) / rate if rate > 0 else 0.0
            log(
                f"features: {i + 1}/{len(clips)} clips ({computed} computed, "
                f"{len(failures)} failed), {rate:.2f} clips/s, elapsed {el:.0f}s, ETA {eta:.0f}s"
            )
    (cache / f"realsongs-v{version}-failures.txt").write_text("".join(f + "\n" for f in failures))
    out = assemble(clips, results, cache, version=version, seed=seed)
    log(
        f"features: wrote {out} ({len(results)} clips, {len(failures)} failures, "
        f"{computed} computed in {time.perf_counter() - t0:.0f}s)"
    )
    return out


def assemble(
    clips: Sequence[Clip],
    results: dict[tuple[str, str], dict[str, np.ndarray]],
    cache: Path,
    *,
    version: int,
    seed: int = SEED,
) -> Path:
    """Stack the per-clip results (in ``clips`` order) with their labels into one npz."""
    from training.featurise import save_npz

    done = [c for c in clips if c.key in results]
    if not done:
        raise SystemExit("features: no clip was featurised")
    arrays: dict[str, np.ndarray] = {}
    keys = [k for k in results[done[0].key] if k != "features_version"]
    for k in keys:
        arrays[k] = np.concatenate([np.asarray(results[c.key][k]) for c in done])
    for name in ("dataset", "id", "artist", "title", "split", "genre", "quadrant", "path"):
        arrays[name] = np.asarray([getattr(c, name) for c in done], dtype=str)
    arrays["genres"] = np.asarray([c.genres for c in done], dtype=str)
    arrays["moods"] = np.asarray([c.moods for c in done], dtype=str)
    gems = np.full((len(done), len(GEMS)), np.nan, dtype=np.float32)
    for i, c in enumerate(done):
        if c.gems:
            gems[i] = c.gems
    arrays["gems"] = gems
    arrays["gems_names"] = np.asarray(GEMS, dtype=str)
    arrays["X"] = arrays["X"].astype(np.float32)
    arrays["musicnn"] = arrays["musicnn"].astype(np.float32)
    arrays["features_version"] = np.asarray(version)
    arrays["seed"] = np.asarray(seed)
    arrays["split_version"] = np.asarray(SPLIT_VERSION)
    assert np.isfinite(arrays["X"]).all() and np.isfinite(arrays["stats"]).all()
    out = cache / f"realsongs-v{version}.npz"
    save_npz(out, arrays)
    return out


def _with_extra_labels(split: Sequence[Clip], fresh: Sequence[Clip]) -> list[Clip]:
    """The split file's clips, with the labels kept out of it (genres, moods, GEMS)."""
    by_key = {c.key: c for c in fresh}
    out = []
    for c in split:
        f = by_key.get(c.key)
        if f is None:
            raise SystemExit(f"{c.dataset} clip {c.id} of the split file is not in the data")
        out.append(replace(c, genres=f.genres, moods=f.moods, gems=f.gems))
    return out


# ---------------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m training.realsongs",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ap.add_argument("step", choices=["split", "featurise", "all"])
    ap.add_argument("--4q", dest="fourq", type=Path, required=True, help="the extracted 4Q folder")
    ap.add_argument("--emotify", type=Path, required=True, help="the extracted Emotify folder")
    ap.add_argument("--split-file", type=Path, default=SPLIT_FILE)
    ap.add_argument("--force", action="store_true", help="replace a different existing split")
    ap.add_argument("--cache-dir", type=Path, default=None)
    ap.add_argument("--device", default="auto", help="for the MusiCNN teacher")
    ap.add_argument("--limit", type=int, default=0, help="only the first N clips of each set")
    args = ap.parse_args(argv)

    root_4q, clips_4q = read_4q(args.fourq)
    root_em, clips_em = read_emotify(args.emotify)
    fresh = [*clips_4q, *clips_em]
    log(
        f"read {len(clips_4q)} 4Q clips from {root_4q}, "
        f"{len(clips_em)} Emotify clips from {root_em}"
    )
    if args.step in ("split", "all"):
        if not write_split(fresh, args.split_file, SEED, HELD_OUT_FRACTION, args.force):
            return 1
        _show_counts(load_split(args.split_file)[1])
        if args.step == "split":
            return 0
    if not args.split_file.exists():
        raise SystemExit(f"{args.split_file} missing: run the split step first")
    doc, split = load_split(args.split_file)
    clips = _with_extra_labels(split, fresh)
    if args.limit > 0:  # a smoke test: the first N clips of each data set
        first = {
            ds: [c for c in clips if c.dataset == ds][: args.limit] for ds in ("4q", "emotify")
        }
        clips = [*first["4q"], *first["emotify"]]
    cfg = tomllib.loads(PREPARE_CONFIG.read_text())
    cache = args.cache_dir or default_cache_dir()
    cache.mkdir(parents=True, exist_ok=True)
    featurise(
        clips,
        {"4q": root_4q, "emotify": root_em},
        cache,
        sr=int(cfg["sample_rate"]),
        clip_seconds=float(cfg["clip_seconds"]),
        device=args.device,
        seed=int(doc["seed"]),
    )
    return 0


if __name__ == "__main__":
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    raise SystemExit(main())
