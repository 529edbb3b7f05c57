"""Ask in words and mix by example, on real songs: does a word find what it says?

    .venv/bin/python -m training.eval_ask [--split test|train] [--npz PATH] [--json OUT]

On each real-song set (``training/realsongs.py``: 4Q with its quadrants and genres, Emotify
with its four genres), the clips of one split (``test``, the held-out one, by default) are a
library: their 3-patch MusiCNN tags, tempo, brightness and energy as the analysis stores
them, their artists, and μ of the bundled model; no genre tag (the labels are genres) and no
year. Each word of :data:`WORDS` is asked as ``musicorg ask WORD -n 20`` would ask it
(:func:`musicorg.organise.ask.answer`), and its **precision at 20** (the share of the 20 tracks
with the word's label) is set against the label's **share** of the library. The issue's
target: P@20 ≥ 2 × share and ≥ share + 0.2.

The vocabulary's composite senses ("classical", "sad", "calm") were chosen with
``--split train``; the figures to report are those of the held-out split.

**Alchemy** on the same libraries: for each clip A, B is the first track of ``similar A -n 20``
whose label differs from A's and holds at least 30 % of that list (a neighbour of A in
another style, the case "more like A, less like B" is for); then ``similar A --minus B``
(weight 0.5). Reported: the share of B's label in the 20 without and with B subtracted, and
the mean distance of the 20 to A (the growth, in %).
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Final

import numpy as np

from musicorg.organise import ask, similar
from musicorg.organise.vocabulary import TrackFacts
from training.data import load_realsongs, teacher_vectors

K: Final = 20
#: word, data set, label column, label value.
WORDS: Final = (
    ("jazz", "4q", "genre", "Jazz"),
    ("rock", "emotify", "genre", "rock"),
    ("electronic", "emotify", "genre", "electronic"),
    ("classical", "emotify", "genre", "classical"),
    ("happy", "4q", "quadrant", "Q1"),
    ("sad", "4q", "quadrant", "Q3"),
    ("calm", "4q", "quadrant", "Q4"),
)
#: Alchemy: the libraries and their labels.
MIX_SETS: Final = (
    ("Emotify genre", "emotify", "genre"),
    ("4Q genre", "4q", "genre"),
    ("4Q quadrant", "4q", "quadrant"),
)
MIX_SHARE: Final = 0.3


@dataclass
class WordRow:
    word: str
    dataset: str
    label: str
    tracks: int
    share: float
    p_at_20: float

    @property
    def target(self) -> float:
        return max(2 * self.share, self.share + 0.2)

    @property
    def met(self) -> bool:
        return self.p_at_20 >= self.target - 1e-9


@dataclass
class MixRow:
    name: str
    pairs: int
    share_before: float
    share_after: float
    distance_growth: float  # mean distance to A, after / before - 1
    pairs_down_10: float  # fraction of pairs whose B-label share fell by 10 points or more

    @property
    def drop(self) -> float:
        return self.share_before - self.share_after


@dataclass
class Library:
    """One split of one real-song set, as a library."""

    rows: np.ndarray  # into the npz arrays
    index: ask.AskIndex
    space: similar.Space


def embed(real: dict[str, np.ndarray]) -> np.ndarray:
    """μ of every clip with the bundled model (CPU)."""
    # lazy: torch loads only for the alchemy and the smooth order, not on import
    from musicorg.model.bundle import load_model

    teacher = teacher_vectors(np.asarray(real["musicnn"]), np.asarray(real["n_patches"]))
    model = load_model(None, device="cpu", num_threads=2)
    return model.embed(
        np.asarray(real["X"], np.float32),
        np.asarray(real["stats"], np.float32),
        None,
        teacher=teacher,
    )


def library(real: dict[str, np.ndarray], mu: np.ndarray, dataset: str, split: str) -> Library:
    ds = np.asarray(real["dataset"]).astype(str)
    rows = np.flatnonzero((ds == dataset) & (np.asarray(real["split"]).astype(str) == split))
    tags = teacher_vectors(np.asarray(real["tags"]), np.asarray(real["n_patches"]))[rows]
    artists = [str(a) or None for a in np.asarray(real["artist"]).astype(str)[rows]]
    titles = [str(t) or None for t in np.asarray(real["title"]).astype(str)[rows]]
    ids = np.arange(len(rows), dtype=np.int64)
    keys = [f"{dataset}:{i}" for i in np.asarray(real["id"]).astype(str)[rows]]
    displays = [str(p) for p in np.asarray(real["path"]).astype(str)[rows]]
    facts = TrackFacts(
        genres=[None] * len(rows),
        artists=artists,
        years=[None] * len(rows),
        tempo=np.asarray(real["tempo"], np.float64)[rows],
        brightness=np.asarray(real["brightness"], np.float64)[rows],
        energy=np.asarray(real["energy"], np.float64)[rows],
        tag_probs=tags,
    )
    index = ask.build_index("eval", ids, displays, titles, keys, mu[rows], facts)
    space = similar.Space(
        version="eval",
        ids=ids,
        paths=[d.encode() for d in displays],
        displays=displays,
        keys=keys,
        artists=artists,
        titles=titles,
        durations=[None] * len(rows),
        missing=np.zeros(len(rows), dtype=bool),
        mu=np.asarray(mu[rows], np.float32),
    )
    return Library(rows, index, space)


def words_table(real: dict[str, np.ndarray], libraries: dict[str, Library]) -> list[WordRow]:
    out: list[WordRow] = []
    for word, dataset, column, value in WORDS:
        lib = libraries[dataset]
        labels = np.asarray(real[column]).astype(str)[lib.rows] == value
        result = ask.answer(lib.index, word, K)
        got = [t.track_id for t in result.tracks]
        out.append(
            WordRow(
                word=word,
                dataset=dataset,
                label=f"{'4Q' if dataset == '4q' else 'Emotify'} {column} {value}",
                tracks=len(lib.rows),
                share=float(labels.mean()),
                p_at_20=float(labels[got].sum()) / K,
            )
        )
    return out


def mix_table(real: dict[str, np.ndarray], libraries: dict[str, Library]) -> list[MixRow]:
    out: list[MixRow] = []
    for name, dataset, column in MIX_SETS:
        lib = libraries[dataset]
        labels = np.asarray(real[column]).astype(str)[lib.rows]
        keep = labels != ""
        out.append(_mix(name, lib.space, labels, keep))
    return out


def _mix(name: str, space: similar.Space, labels: np.ndarray, keep: np.ndarray) -> MixRow:
    mu = space.mu.astype(np.float64)
    before: list[float] = []
    after: list[float] = []
    d_before: list[float] = []
    d_after: list[float] = []
    for a in np.flatnonzero(keep):
        base = [t.track_id for t in similar.nearest(space, [int(a)], K).tracks]
        base_labels = labels[base]
        b = next(
            (
                t
                for t in base
                if labels[t] not in ("", labels[a])
                and float(np.mean(base_labels == labels[t])) >= MIX_SHARE
            ),
            None,
        )
        if b is None:
            continue
        mixed = [t.track_id for t in similar.nearest(space, [int(a)], K, minus=[b]).tracks]
        before.append(float(np.mean(labels[base] == labels[b])))
        after.append(float(np.mean(labels[mixed] == labels[b])))
        d_before.append(float(np.linalg.norm(mu[base] - mu[a], axis=1).mean()))
        d_after.append(float(np.linalg.norm(mu[mixed] - mu[a], axis=1).mean()))
    if not before:
        return MixRow(name, 0, 0.0, 0.0, 0.0, 0.0)
    drops = np.asarray(before) - np.asarray(after)
    return MixRow(
        name=name,
        pairs=len(before),
        share_before=float(np.mean(before)),
        share_after=float(np.mean(after)),
        distance_growth=float(np.mean(d_after) / np.mean(d_before) - 1),
        pairs_down_10=float(np.mean(drops >= 0.1 - 1e-9)),
    )


def evaluate(split: str = "test", npz: Path | None = None) -> tuple[list[WordRow], list[MixRow]]:
    real = load_realsongs(npz)
    mu = embed(real)
    libraries = {d: library(real, mu, d, split) for d in ("4q", "emotify")}
    return words_table(real, libraries), mix_table(real, libraries)


def markdown(words: Sequence[WordRow], mixes: Sequence[MixRow], split: str) -> str:
    lines = [
        f"| word | label ({split} split) | share | P@20 | target | met |",
        "|---|---|---|---|---|---|",
    ]
    for r in words:
        lines.append(
            f"| {r.word} | {r.label} | {r.share:.3f} | **{r.p_at_20:.2f}** | "
            f"{r.target:.2f} | {'yes' if r.met else 'NO'} |"
        )
    lines += [
        "",
        "| alchemy (`similar A --minus B`) | pairs | B's label in the top 20 | "
        "change | mean distance to A | pairs down ≥ 10 points |",
        "|---|---|---|---|---|---|",
    ]
    for m in mixes:
        lines.append(
            f"| {m.name} | {m.pairs} | {m.share_before:.3f} → {m.share_after:.3f} | "
            f"{-100 * m.drop:+.1f} points | {100 * m.distance_growth:+.1f} % | "
            f"{100 * m.pairs_down_10:.0f} % |"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--split", choices=("test", "train"), default="test")
    ap.add_argument("--npz", type=Path, help="the real-song features (default: the corpus)")
    ap.add_argument("--json", type=Path, help="also write the figures here")
    args = ap.parse_args(argv)
    words, mixes = evaluate(args.split, args.npz)
    print(markdown(words, mixes, args.split))
    if args.json:
        data: dict[str, Any] = {
            "split": args.split,
            "words": [{**asdict(r), "target": r.target, "met": r.met} for r in words],
            "alchemy": [{**asdict(m), "drop": m.drop} for m in mixes],
        }
        args.json.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
