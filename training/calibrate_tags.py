"""Per-tag thresholds for MusiCNN's 50 tags, calibrated on the training split of real songs.

    .venv/bin/python -m training.calibrate_tags [--corpus FILE] [--out FILE] [--allow-missing]

Reads ``<corpus>/realsongs-v<N>.npz`` (4Q and Emotify, see :mod:`training.realsongs`; only its
``split == "train"`` clips are used) and writes ``resources/models/musicnn/tag_thresholds.json``,
which :mod:`musicorg.model.autotags` reads: a tag is *on* for a track when its probability is at or
above its threshold.

A clip's probability of a tag is the mean over the same patches the app uses: the
:data:`PATCHES` (3) 3-s patches spread over the window, patch ``floor((k + ½)·P / 3)`` of the
clip's P (1, 5 and 8 of 10; :func:`musicorg.model.musicnn.patch_starts`), or all P when
P ≤ 3; patches past ``n_patches`` are NaN and never used.

The rule, per tag:

1. **F0.5 against a label** for the tags in :data:`RULES` (genres of 4Q's AllMusic metadata
   and Emotify's folders, 4Q's emotion quadrants): the threshold that maximises F-beta with
   beta = :data:`BETA` (precision weighs twice as much as recall: a word in a name should be
   right) over the training clips of the rule's universe (midway between the last score taken
   and the next lower one). Used when the rule has at least :data:`MIN_POSITIVES` positives
   and its F0.5 beats calling every clip positive (1.25π/(0.25π+1) at prevalence π) by
   :data:`MIN_GAIN`;
   otherwise the labels do not tell the tag apart and rule 2 applies.
2. **Top 10 %** for the others: the value that the top :data:`TOP_SHARE` of all training
   clips' probabilities exceed (their 90th percentile).

Every threshold is then kept within [:data:`FLOOR`, :data:`CEILING`] = [0.001, 0.9]. The floor
is low on purpose: MusiCNN learnt Last.fm's tag frequencies, so a rare tag's probabilities are
small even when it fits ("happy" and "sad" tell 4Q's quadrants apart at about 0.003; a floor
of 0.05 left them never on), and a threshold is only meaningful relative to its own tag. The
floor keeps a tag off where the network says practically nothing (and a probability of 0 is
always off); the ceiling keeps a tag that is plainly there from being off.

The file also records, for the tags with a label, how the chosen thresholds do on the
held-out (``test``) clips; nothing is chosen from them.

Until the real-song archive exists, ``--allow-missing`` writes a *provisional* file from the
demo library's tags (rule 2 only) and marks it so (``"provisional": true``).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "resources" / "models" / "musicnn" / "tag_thresholds.json"
FORMAT_VERSION = 1
# Patches per clip the app averages (musicorg.model.musicnn.DEFAULT_PATCHES; a test checks it).
PATCHES = 3
MIN_POSITIVES = 10
MIN_GAIN = 0.05
# F-beta with beta 0.5: a word in a playlist's name should be right when it is said (precision
# counts twice as much as recall); F1's best thresholds called "sad" 82 % of Q3 clips at a
# precision of 0.36.
BETA = 0.5
F_NAME = "F0.5"
TOP_SHARE = 0.10
FLOOR = 0.001
CEILING = 0.90

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]


@dataclass(frozen=True)
class Rule:
    """Which training clips are positive for a tag, and which count at all.

    A 4Q clip is positive when one of its AllMusic genres is in ``q4_genres`` (or, for an
    emotion rule, its quadrant is in ``quadrants``); an Emotify clip when its folder is in
    ``emotify_genres``. Emotion rules count only 4Q clips (Emotify has no quadrants); genre
    rules count every clip with a genre except 4Q clips with a genre of ``q4_unsure`` (AllMusic's
    "Pop/Rock" is neither a clear yes nor a clear no for "rock" or "pop")."""

    what: str
    q4_genres: frozenset[str] = frozenset()
    emotify_genres: frozenset[str] = frozenset()
    quadrants: frozenset[str] = frozenset()
    q4_unsure: frozenset[str] = frozenset()


def _genre(what: str, q4: Sequence[str] = (), emotify: Sequence[str] = (), **kw: Any) -> Rule:
    return Rule(what, frozenset(q4), frozenset(emotify), **kw)


# The tags with a label to calibrate against. The 4Q genre is AllMusic's (a clip may have
# several: any of them counts); Emotify's four genres are its folders.
RULES: dict[str, Rule] = {
    "rock": _genre(
        "Emotify rock (4Q Pop/Rock left out)", emotify=["rock"], q4_unsure=frozenset({"Pop/Rock"})
    ),
    "pop": _genre(
        "Emotify pop (4Q Pop/Rock left out)", emotify=["pop"], q4_unsure=frozenset({"Pop/Rock"})
    ),
    "electronic": _genre("4Q Electronic or Emotify electronic", ["Electronic"], ["electronic"]),
    "electronica": _genre("4Q Electronic or Emotify electronic", ["Electronic"], ["electronic"]),
    "jazz": _genre("4Q Jazz", ["Jazz"]),
    "blues": _genre("4Q Blues", ["Blues"]),
    "country": _genre("4Q Country", ["Country"]),
    "folk": _genre("4Q Folk", ["Folk"]),
    "Hip-Hop": _genre("4Q Rap", ["Rap"]),
    "rnb": _genre("4Q R&B", ["R&B"]),
    "soul": _genre("4Q R&B (AllMusic files soul under R&B)", ["R&B"]),
    "easy listening": _genre("4Q Easy Listening", ["Easy Listening"]),
    "happy": Rule("4Q quadrant Q1 (happy, energetic)", quadrants=frozenset({"Q1"})),
    "sad": Rule("4Q quadrant Q3 (sad, low energy)", quadrants=frozenset({"Q3"})),
    "Mellow": Rule("4Q quadrant Q4 (calm, content)", quadrants=frozenset({"Q4"})),
}


@dataclass
class Clips:
    """The training-relevant fields of the real-song archive, one entry per clip."""

    dataset: NDArray[np.str_]  # "4q" | "emotify"
    split: NDArray[np.str_]  # "train" | "test"
    genre: NDArray[np.str_]  # 4Q: first AllMusic genre; Emotify: its folder
    quadrant: NDArray[np.str_]  # 4Q: "Q1".."Q4"; Emotify: ""
    tags: NDArray[np.float32]  # (N, patches, 50), NaN past n_patches
    n_patches: NDArray[np.int64]
    genres: NDArray[np.str_] | None = None  # 4Q: all AllMusic genres, "; "-separated
    source: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def of(cls, found: Any) -> Clips:
        """From a mapping (an ``np.load`` archive) or an object with these attributes."""

        def get(name: str) -> Any:
            if isinstance(found, Mapping):
                return found.get(name)
            return getattr(found, name, None)

        genres = get("genres")
        return cls(
            dataset=np.asarray(get("dataset")).astype(str),
            split=np.asarray(get("split")).astype(str),
            genre=np.asarray(get("genre")).astype(str),
            quadrant=np.asarray(get("quadrant")).astype(str),
            tags=np.asarray(get("tags"), dtype=np.float32),
            n_patches=np.asarray(get("n_patches"), dtype=np.int64),
            genres=None if genres is None else np.asarray(genres).astype(str),
        )

    def __len__(self) -> int:
        return len(self.dataset)

    def subset(self, mask: BoolArray) -> Clips:
        return Clips(
            self.dataset[mask],
            self.split[mask],
            self.genre[mask],
            self.quadrant[mask],
            self.tags[mask],
            self.n_patches[mask],
            None if self.genres is None else self.genres[mask],
            dict(self.source),
        )

    def q4_genres(self, i: int) -> set[str]:
        """The AllMusic genres of clip ``i`` (all of them when the archive has them)."""
        found: set[str] = set()
        if self.genres is not None:
            found = {g.strip() for g in str(self.genres[i]).split(";") if g.strip()}
        if self.genre[i]:
            found.add(str(self.genre[i]))
        return found


def patch_indices(n_patches: int, k: int = PATCHES) -> list[int]:
    """The patches of a clip of ``n_patches`` that the app averages (see the module doc)."""
    from musicorg.model.musicnn import patch_indices as app_patches

    return app_patches(int(n_patches), k)


def clip_probs(tags: NDArray[np.floating[Any]], n_patches: NDArray[np.integer[Any]]) -> FloatArray:
    """Clip-level tag probabilities (N × 50): the NaN-mean over each clip's default patches,
    or over all its patches when those are missing; NaN when a clip has none."""
    tags = np.asarray(tags, dtype=np.float64)
    out = np.full((tags.shape[0], tags.shape[2]), np.nan)
    for i in range(tags.shape[0]):
        rows = tags[i]
        chosen = rows[[p for p in patch_indices(int(n_patches[i])) if p < len(rows)]]
        if not np.isfinite(chosen).any():
            chosen = rows
        if np.isfinite(chosen).any():
            with np.errstate(invalid="ignore"):
                out[i] = np.nanmean(chosen, axis=0)
    return out


def labels(rule: Rule, clips: Clips) -> tuple[BoolArray, BoolArray]:
    """(which clips count, which of them are positive) for one rule."""
    n = len(clips)
    counts = np.zeros(n, dtype=bool)
    positive = np.zeros(n, dtype=bool)
    for i in range(n):
        if clips.dataset[i] == "4q":
            if rule.quadrants:
                counts[i] = clips.quadrant[i] in {"Q1", "Q2", "Q3", "Q4"}
                positive[i] = clips.quadrant[i] in rule.quadrants
                continue
            genres = clips.q4_genres(i)
            counts[i] = bool(genres) and not genres & rule.q4_unsure
            positive[i] = bool(genres & rule.q4_genres)
        elif clips.dataset[i] == "emotify" and not rule.quadrants:
            counts[i] = bool(clips.genre[i])
            positive[i] = str(clips.genre[i]) in rule.emotify_genres
    return counts, positive & counts


@dataclass
class Fit:
    threshold: float
    f1: float
    precision: float
    recall: float


def f_score(precision: Any, recall: Any, beta: float) -> Any:
    """F-beta: beta < 1 weighs precision more (a word in a name should be right when it is
    said more than it should be said every time)."""
    b2 = beta * beta
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(
            (precision > 0) & (recall > 0),
            (1 + b2) * precision * recall / (b2 * precision + recall),
            0.0,
        )


def best_f1(scores: NDArray[np.floating[Any]], positive: BoolArray, beta: float = 1.0) -> Fit:
    """The threshold with the highest F-beta (F1 by default; ties: the higher threshold),
    midway between the lowest score called positive and the next lower score; ``Fit.f1``
    holds that F-beta."""
    s = np.asarray(scores, dtype=np.float64)
    y = np.asarray(positive, dtype=bool)
    ok = np.isfinite(s)
    s, y = s[ok], y[ok]
    n_pos = int(y.sum())
    if n_pos == 0 or len(s) == 0:
        return Fit(math.inf, 0.0, 0.0, 0.0)
    order = np.argsort(-s, kind="stable")
    s, y = s[order], y[order]
    tp = np.cumsum(y)
    called = np.arange(1, len(s) + 1)
    # Only cuts between distinct scores: a threshold cannot split tied clips.
    last = np.r_[s[1:] < s[:-1], True]
    precision = tp / called
    recall = tp / n_pos
    f1 = np.where(tp > 0, f_score(precision, recall, beta), 0.0)
    f1 = np.where(last, f1, -1.0)
    k = int(np.argmax(f1))  # first maximum = fewest clips called = highest threshold
    threshold = float(s[k] if k + 1 == len(s) else (s[k] + s[k + 1]) / 2)
    return Fit(threshold, float(f1[k]), float(precision[k]), float(recall[k]))


def scores_at(
    scores: NDArray[np.floating[Any]], positive: BoolArray, threshold: float, beta: float = 1.0
) -> Fit:
    """F-beta, precision and recall of calling the clips at or above ``threshold`` positive."""
    s = np.asarray(scores, dtype=np.float64)
    y = np.asarray(positive, dtype=bool)
    called = s >= threshold
    tp = int((called & y).sum())
    precision = tp / int(called.sum()) if called.any() else 0.0
    recall = tp / int(y.sum()) if y.any() else 0.0
    f1 = float(f_score(np.float64(precision), np.float64(recall), beta)) if tp else 0.0
    return Fit(threshold, f1, precision, recall)


def top_share_threshold(scores: NDArray[np.floating[Any]], share: float = TOP_SHARE) -> float:
    """The value the top ``share`` of the (finite) scores exceed."""
    s = np.asarray(scores, dtype=np.float64)
    s = s[np.isfinite(s)]
    if len(s) == 0:
        return CEILING
    return float(np.quantile(s, 1.0 - share))


def _bounded(value: float) -> float:
    return float(min(max(value, FLOOR), CEILING))


def calibrate(
    probs: FloatArray, clips: Clips | None, names: Sequence[str], *, set_name: str = "training"
) -> dict[str, Any]:
    """Thresholds for every tag from the clip probabilities ``probs`` (N × 50) of training
    clips (``clips``: their labels, or None for rule 2 only); the JSON document to write."""
    thresholds: dict[str, float] = {}
    source: dict[str, str] = {}
    for j, name in enumerate(names):
        column = probs[:, j]
        rule = RULES.get(name) if clips is not None else None
        why = ""
        if rule is not None and clips is not None:
            counts, positive = labels(rule, clips)
            counted = counts & np.isfinite(column)
            n_pos, n = int(positive[counted].sum()), int(counted.sum())
            fit = best_f1(column[counted], positive[counted], BETA)
            prevalence = n_pos / n if n else 0.0
            b2 = BETA * BETA
            chance = (1 + b2) * prevalence / (b2 * prevalence + 1) if n_pos else 0.0
            against = f"{rule.what}: {n_pos} of {n} {set_name} clips"
            if n_pos >= MIN_POSITIVES and fit.f1 >= chance + MIN_GAIN:
                value = _bounded(fit.threshold)
                bounded = ""
                if value != fit.threshold:
                    at = scores_at(column[counted], positive[counted], value, BETA)
                    bounded = (
                        f", kept at {value:.3f}: {F_NAME} {at.f1:.2f} (precision "
                        f"{at.precision:.2f}, recall {at.recall:.2f})"
                    )
                thresholds[name] = round(value, 4)
                source[name] = (
                    f"{F_NAME} {fit.f1:.2f} (precision {fit.precision:.2f}, "
                    f"recall {fit.recall:.2f}; "
                    f"calling all positive {chance:.2f}) at {fit.threshold:.3f}{bounded} "
                    f"against {against}"
                )
                continue
            why = (
                f"; {F_NAME} against {against} only {fit.f1:.2f} (all positive {chance:.2f})"
                if n_pos >= MIN_POSITIVES
                else f"; too few positives for {F_NAME} ({against})"
            )
        raw = top_share_threshold(column)
        value = _bounded(raw)
        thresholds[name] = round(value, 4)
        note = "" if value == raw else f", kept at {value:.3f}"
        source[name] = (
            f"top {TOP_SHARE:.0%} of {int(np.isfinite(column).sum())} {set_name} clips "
            f"(90th percentile {raw:.3f}{note}){why}"
        )
    return {
        "version": FORMAT_VERSION,
        "rule": (
            "A tag is on when its probability (mean over the 3 default patches) is at or above "
            f"its threshold. Thresholds maximise {F_NAME} (precision weighed twice recall: a "
            "word in a name should be right) against a label on the training split of "
            "the real songs (4Q, Emotify) for the tags with one (at least "
            f"{MIN_POSITIVES} positives, {F_NAME} at least {MIN_GAIN} above calling every clip "
            f"positive); the others are the value exceeded by the top {TOP_SHARE:.0%} of the "
            f"training clips. All are kept within [{FLOOR}, {CEILING}]. "
            "Made by training/calibrate_tags.py."
        ),
        "thresholds": thresholds,
        "source": source,
    }


def held_out(thresholds: Mapping[str, float], test: Clips, names: Sequence[str]) -> dict[str, str]:
    """For the tags with a label: how the chosen thresholds do on the held-out clips (read
    only for the record; nothing is chosen from them)."""
    probs = clip_probs(test.tags, test.n_patches)
    out: dict[str, str] = {}
    for j, name in enumerate(names):
        rule = RULES.get(name)
        if rule is None:
            continue
        counts, positive = labels(rule, test)
        counted = counts & np.isfinite(probs[:, j])
        n_pos, n = int(positive[counted].sum()), int(counted.sum())
        if not n_pos:
            continue
        at = scores_at(probs[counted, j], positive[counted], float(thresholds[name]))
        prevalence = n_pos / n
        out[name] = (
            f"F1 {at.f1:.2f} (precision {at.precision:.2f}, recall {at.recall:.2f}; calling all "
            f"positive {2 * prevalence / (1 + prevalence):.2f}) on {n_pos} of {n} test clips"
        )
    return out


def load(path: Path) -> Clips:
    """The real-song archive (read by :func:`training.data.load_realsongs`)."""
    from training.data import load_realsongs

    clips = Clips.of(load_realsongs(path))
    clips.source = {
        "file": path.name,
        "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
    }
    return clips


def demo_probs() -> FloatArray:
    """Tag probabilities of the demo library (for a provisional file): MusiCNN over each
    demo track's analysis window, the app's default patches."""
    import torch

    from musicorg import paths
    from musicorg.analyse import features
    from musicorg.model import musicnn

    teacher = musicnn.Teacher(torch.device("cpu"))
    rows: list[FloatArray] = []
    for path in sorted(paths.demo_dir().glob("*.opus")):
        audio = features.analyse_file(path).teacher_audio
        if audio is not None:
            _pen, tags, _n = teacher.track_outputs([audio])
            rows.append(np.asarray(tags[0], dtype=np.float64))
    return np.stack(rows)


def main(argv: Sequence[str] | None = None) -> int:
    from musicorg.analyse.features import FEATURES_VERSION
    from musicorg.model import autotags
    from training.data import corpus_dir

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--corpus",
        type=Path,
        default=None,
        help=f"the real-song archive (default <corpus>/realsongs-v{FEATURES_VERSION}.npz, "
        "<corpus> = $MUSICORG_CORPUS_DIR or ~/.cache/musicorg/corpus)",
    )
    parser.add_argument("--out", type=Path, default=OUT, help=f"where to write (default {OUT})")
    parser.add_argument(
        "--allow-missing",
        action="store_true",
        help="without the archive, write a provisional file from the demo library's tags",
    )
    args = parser.parse_args(argv)
    env = os.environ.get("MUSICORG_CORPUS_DIR")
    folder = Path(env) if env else corpus_dir()
    corpus = args.corpus or folder / f"realsongs-v{FEATURES_VERSION}.npz"
    names = list(autotags.tag_names())
    if corpus.is_file():
        clips = load(corpus)
        train = clips.subset(clips.split == "train")
        if not len(train):
            print(f"{corpus}: no training clips", file=sys.stderr)
            return 1
        probs = clip_probs(train.tags, train.n_patches)
        doc = calibrate(probs, train, names)
        doc["provisional"] = False
        counts = {d: int((train.dataset == d).sum()) for d in sorted(set(train.dataset))}
        doc["calibrated_on"] = {**clips.source, "split": "train", "clips": counts}
        test = clips.subset(clips.split == "test")
        if len(test):
            doc["held_out"] = held_out(doc["thresholds"], test, names)
    elif args.allow_missing:
        print(f"{corpus} is missing: a provisional file from the demo library", file=sys.stderr)
        probs = demo_probs()
        doc = calibrate(probs, None, names, set_name="demo-library")
        doc["provisional"] = True
        doc["calibrated_on"] = {
            "file": None,
            "note": (
                f"{corpus.name} was not there yet: the top-10 % rule on the demo library's "
                f"{len(probs)} tracks for every tag; run training/calibrate_tags.py again"
            ),
        }
    else:
        print(f"{corpus} is missing (prepare it with training.realsongs)", file=sys.stderr)
        return 1
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(doc, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    on = doc["thresholds"]
    calibrated = sum(1 for s in doc["source"].values() if s.startswith(F_NAME))
    print(
        f"Wrote {args.out}: {len(on)} thresholds, {calibrated} of them by {F_NAME} against labels."
    )
    for name, line in doc.get("held_out", {}).items():
        print(f"  held out, {name}: {line}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
