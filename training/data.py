"""Loading the prepared corpus (features cache) and the lyrics corpora for training/evaluation."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

LYRICS_ROOT = Path(os.environ.get("MUSICORG_LYRICS_DIR", "/work/shared/data/lyrics"))


def corpus_dir() -> Path:
    from musicorg import paths

    return paths.cache_dir() / "corpus"


def runs_dir() -> Path:
    from musicorg import paths

    return paths.cache_dir() / "runs"


@dataclass
class AudioCorpus:
    X: np.ndarray  # (N, 39, 130) float32
    stats: np.ndarray  # (N, 78) float32
    track: np.ndarray  # (N,)
    clip: np.ndarray  # (N,)
    package: np.ndarray  # (N,) str
    split: np.ndarray  # (N,) 'train' | 'test'
    middle: np.ndarray  # (N,) bool
    # (N, 200) float32: MusiCNN's vector at the app's default patch count (teacher_vectors)
    teacher: np.ndarray | None = None

    def subset(self, mask: np.ndarray) -> AudioCorpus:
        return AudioCorpus(
            X=self.X[mask],
            stats=self.stats[mask],
            track=self.track[mask],
            clip=self.clip[mask],
            package=self.package[mask],
            split=self.split[mask],
            middle=self.middle[mask],
            teacher=None if self.teacher is None else self.teacher[mask],
        )

    def __len__(self) -> int:
        return int(self.X.shape[0])


def patch_subset(n_total: int, n_patches: int | None) -> list[int]:
    """Which of a clip's ``n_total`` patches the app uses for ``n_patches`` (None: all)."""
    from musicorg.model.musicnn import patch_indices

    return patch_indices(n_total, n_patches)


def teacher_vectors(
    per_patch: np.ndarray, n_patches: np.ndarray, k: int | None = None
) -> np.ndarray:
    """(N, P, D) per-patch vectors (NaN rows past each clip's count) → (N, D): the mean over
    the ``k`` patches the app would use (None: the app's default; 0: every patch)."""
    if k is None:
        from musicorg.model.musicnn import DEFAULT_PATCHES

        k = DEFAULT_PATCHES
    out = np.empty((per_patch.shape[0], per_patch.shape[2]), dtype=np.float32)
    for i, total in enumerate(np.asarray(n_patches, dtype=np.int64)):
        idx = patch_subset(int(total), None if k == 0 else k)
        # NaN: a patch not computed (the Debian corpus keeps the default patches only).
        out[i] = np.nanmean(per_patch[i, idx], axis=0)
    return out


def load_audio(path: Path | None = None, *, realsongs: bool = False) -> AudioCorpus:
    """The Debian corpus; with ``realsongs`` the TRAINING clips of the real-song sets are
    added as training rows (package "4q" / "emotify", one clip per song; their held-out
    clips never enter: see :func:`load_realsongs`)."""
    from musicorg.analyse.features import FEATURES_VERSION

    path = path or corpus_dir() / f"features-v{FEATURES_VERSION}.npz"
    with np.load(path, allow_pickle=False) as z:
        corpus = AudioCorpus(
            X=np.asarray(z["X"], dtype=np.float32),
            stats=np.asarray(z["stats"], dtype=np.float32),
            track=np.asarray(z["track"]),
            clip=np.asarray(z["clip"]),
            package=np.asarray(z["package"]).astype(str),
            split=np.asarray(z["split"]).astype(str),
            middle=np.asarray(z["middle"]).astype(bool),
            teacher=(
                teacher_vectors(np.asarray(z["musicnn"]), np.asarray(z["n_patches"]))
                if "musicnn" in z.files
                else None
            ),
        )
    if not realsongs:
        return corpus
    real = load_realsongs()
    train = np.asarray(real["split"]).astype(str) == "train"
    n = int(train.sum())
    first = int(corpus.track.max()) + 1
    extra = AudioCorpus(
        X=np.asarray(real["X"][train], dtype=np.float32),
        stats=np.asarray(real["stats"][train], dtype=np.float32),
        track=np.arange(first, first + n, dtype=corpus.track.dtype),
        clip=np.zeros(n, dtype=corpus.clip.dtype),
        package=np.asarray(real["dataset"][train]).astype(str),
        split=np.full(n, "train"),
        middle=np.ones(n, dtype=bool),
        teacher=teacher_vectors(np.asarray(real["musicnn"][train]), real["n_patches"][train]),
    )
    return concat(corpus, extra)


def concat(a: AudioCorpus, b: AudioCorpus) -> AudioCorpus:
    teacher = None
    if a.teacher is not None and b.teacher is not None:
        teacher = np.concatenate([a.teacher, b.teacher])
    return AudioCorpus(
        X=np.concatenate([a.X, b.X]),
        stats=np.concatenate([a.stats, b.stats]),
        track=np.concatenate([a.track, b.track]),
        clip=np.concatenate([a.clip, b.clip]),
        package=np.concatenate([a.package, b.package]),
        split=np.concatenate([a.split, b.split]),
        middle=np.concatenate([a.middle, b.middle]),
        teacher=teacher,
    )


@dataclass
class LyricsItem:
    key: str
    text: str
    genre: str | None  # a coarse genre label where the corpus has one


MUSICMOOD = ("musicmood/train_lyrics_1000.csv", "musicmood/valid_lyrics_200.csv")
POPLYRICS = "poplyrics-1k/poplyric-1k.parquet"


def _rows(root: Path, name: str) -> list[LyricsItem]:
    """Items keyed ``<corpus file>:<row number>``, the row numbering of the split file."""
    import pandas as pd

    path = root / name
    df = pd.read_parquet(path) if name.endswith(".parquet") else pd.read_csv(path)
    items: list[LyricsItem] = []
    for row in range(len(df)):
        rec = df.iloc[row]
        text = rec.get("lyrics")
        if not isinstance(text, str) or not text.strip():
            continue
        genre = rec.get("genre") if name in MUSICMOOD else None
        items.append(
            LyricsItem(
                key=f"{name}:{row}", text=text, genre=genre if isinstance(genre, str) else None
            )
        )
    return items


def all_lyrics(root: Path = LYRICS_ROOT) -> list[LyricsItem]:
    return [it for name in (*MUSICMOOD, POPLYRICS) for it in _rows(root, name)]


def load_lyrics_split(
    split_path: Path | None = None, root: Path = LYRICS_ROOT
) -> tuple[list[LyricsItem], list[LyricsItem]]:
    """(train, held_out) lyrics items, following the prepared split file.

    The split file is written by training/prepare.py; several plausible layouts are accepted
    (lists of keys, or of {source, index/file} records). Without the file, fall back to a
    deterministic 70/30 split by hashed key (and say so).
    """
    items = all_lyrics(root)
    split_path = split_path or corpus_dir() / "lyrics_split.json"
    if not split_path.exists():
        print(f"[data] {split_path} missing: using a hashed 70/30 fallback split")
        import hashlib

        def frac(k: str) -> float:
            return int(hashlib.sha256(k.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF

        train = [it for it in items if frac(it.key) < 0.7]
        return train, [it for it in items if frac(it.key) >= 0.7]
    spec: Any = json.loads(split_path.read_text(encoding="utf-8"))
    return _apply_split(spec, items)


def _apply_split(spec: Any, items: list[LyricsItem]) -> tuple[list[LyricsItem], list[LyricsItem]]:
    """Map training/prepare.py's split (per corpus file: train_rows / test_rows) onto items."""
    by_key = {it.key: it for it in items}
    train: list[LyricsItem] = []
    test: list[LyricsItem] = []
    for name, entry in spec["corpora"].items():
        for r in entry["train_rows"]:
            if f"{name}:{r}" in by_key:
                train.append(by_key[f"{name}:{r}"])
        for r in entry["test_rows"]:
            if f"{name}:{r}" in by_key:
                test.append(by_key[f"{name}:{r}"])
    if not train or not test:
        raise ValueError("could not map the lyrics split file onto the corpora")
    return train, test


def load_realsongs(path: Path | None = None) -> dict[str, np.ndarray]:
    """The real-song clips (4Q and Emotify) featurised by ``python -m training.realsongs``.

    Keys: dataset, id, artist, title, split ('train' | 'test'; 'test' is for evaluation
    only), genre, quadrant, path, genres, moods (str); gems (N, 9); X (N, 39, 130), stats,
    tempo, brightness, energy, start, weak, musicnn (N, 10, 200), tags (N, 10, 50), n_patches;
    features_version, seed, split_version. See training/realsongs.py.
    """
    from musicorg.analyse.features import FEATURES_VERSION

    if path is None:
        env = os.environ.get("MUSICORG_CORPUS_DIR")
        path = (Path(env) if env else corpus_dir()) / f"realsongs-v{FEATURES_VERSION}.npz"
    with np.load(path, allow_pickle=False) as z:
        return {k: np.asarray(z[k]) for k in z.files}
