"""Lyrics → 64-d vector: TF-IDF over 500 terms, then PCA to 64 dims.

Fitting uses scikit-learn (``TfidfVectorizer(max_features=500, stop_words='english',
min_df=2)`` then ``PCA(64)``). What the app reads back is plain data: the vocabulary and the
settings in JSON, the idf weights and the PCA mean and components in an ``.npz`` read with
``allow_pickle=False``. :meth:`TextPipeline.transform` reimplements the transform in numpy, so
no scikit-learn object is ever pickled or unpickled.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

TOKEN_PATTERN = r"(?u)\b\w\w+\b"
# Section headers such as "[Verse 1: Artist]" or "[Chorus]" carry no lyrics.
_HEADER = re.compile(r"\[[^\]\n]{0,80}\]")
FORMAT_VERSION = 1
JSON_NAME = "textpipe.json"
NPZ_NAME = "textpipe.npz"


def clean(text: str) -> str:
    """Drop bracketed section headers; everything else is left to the tokenizer."""
    return _HEADER.sub(" ", text)


@dataclass
class TextPipeline:
    vocabulary: list[str]
    idf: NDArray[np.float64]  # (V,)
    mean: NDArray[np.float64]  # (V,) PCA mean
    components: NDArray[np.float64]  # (k, V) PCA components

    @property
    def n_components(self) -> int:
        return int(self.components.shape[0])

    def __post_init__(self) -> None:
        v = len(self.vocabulary)
        if self.idf.shape != (v,) or self.mean.shape != (v,) or self.components.shape[1] != v:
            raise ValueError("text pipeline arrays do not match its vocabulary")
        self._index = {term: i for i, term in enumerate(self.vocabulary)}
        self._token = re.compile(TOKEN_PATTERN)

    # -- transform ------------------------------------------------------------------------

    def tfidf(self, texts: Sequence[str]) -> NDArray[np.float64]:
        """L2-normalised TF-IDF rows (n, V), as scikit-learn's vectorizer computes them."""
        out = np.zeros((len(texts), len(self.vocabulary)), dtype=np.float64)
        for r, text in enumerate(texts):
            for tok in self._token.findall(clean(text).lower()):
                j = self._index.get(tok)
                if j is not None:
                    out[r, j] += 1.0
        out *= self.idf[None, :]
        norms = np.sqrt((out * out).sum(axis=1, keepdims=True))
        np.divide(out, norms, out=out, where=norms > 0)
        return out

    def transform(self, texts: Sequence[str]) -> NDArray[np.float64]:
        """(n, k) PCA coordinates of the texts' TF-IDF vectors."""
        x = self.tfidf(texts)
        result: NDArray[np.float64] = (x - self.mean[None, :]) @ self.components.T
        return result

    # -- persistence ----------------------------------------------------------------------

    def save(self, directory: Path) -> list[Path]:
        directory.mkdir(parents=True, exist_ok=True)
        meta: dict[str, Any] = {
            "format_version": FORMAT_VERSION,
            "token_pattern": TOKEN_PATTERN,
            "lowercase": True,
            "norm": "l2",
            "header_pattern": _HEADER.pattern,
            "n_components": self.n_components,
            "vocabulary": self.vocabulary,
        }
        jpath = directory / JSON_NAME
        jpath.write_text(json.dumps(meta, ensure_ascii=False, indent=1), encoding="utf-8")
        npath = directory / NPZ_NAME
        with npath.open("wb") as fh:
            np.savez(
                fh,
                idf=self.idf.astype(np.float64),
                mean=self.mean.astype(np.float64),
                components=self.components.astype(np.float64),
            )
        return [jpath, npath]

    @classmethod
    def load(cls, directory: Path) -> TextPipeline:
        meta = json.loads((directory / JSON_NAME).read_text(encoding="utf-8"))
        if meta.get("format_version") != FORMAT_VERSION or meta.get("token_pattern") != (
            TOKEN_PATTERN
        ):
            raise ValueError("unsupported text pipeline format")
        with np.load(directory / NPZ_NAME, allow_pickle=False) as z:
            idf = np.asarray(z["idf"], dtype=np.float64)
            mean = np.asarray(z["mean"], dtype=np.float64)
            comps = np.asarray(z["components"], dtype=np.float64)
        vocab = [str(t) for t in meta["vocabulary"]]
        return cls(vocabulary=vocab, idf=idf, mean=mean, components=comps)


def fit(
    texts: Sequence[str],
    max_features: int = 500,
    n_components: int = 64,
    min_df: int = 2,
    seed: int = 0,
) -> tuple[TextPipeline, Any, Any]:
    """Fit TF-IDF + PCA with scikit-learn; return the numpy pipeline and the fitted objects.

    The scikit-learn objects are returned for tests and comparisons only; never persist them.
    """
    # lazy: scikit-learn (~0.5 s) only when a pipeline is fitted (retraining), not at load
    from sklearn.decomposition import PCA
    from sklearn.feature_extraction.text import TfidfVectorizer

    vec = TfidfVectorizer(
        max_features=max_features,
        stop_words="english",
        min_df=min_df,
        preprocessor=lambda s: clean(s).lower(),
    )
    x = vec.fit_transform(list(texts)).toarray()
    k = min(n_components, x.shape[0], x.shape[1])
    pca = PCA(n_components=k, random_state=seed, svd_solver="full")
    pca.fit(x)
    inv = vec.vocabulary_
    vocab = [""] * len(inv)
    for term, i in inv.items():
        vocab[int(i)] = str(term)
    pipe = TextPipeline(
        vocabulary=vocab,
        idf=np.asarray(vec.idf_, dtype=np.float64),
        mean=np.asarray(pca.mean_, dtype=np.float64),
        components=np.asarray(pca.components_, dtype=np.float64),
    )
    return pipe, vec, pca


def sklearn_transform(vec: Any, pca: Any, texts: Sequence[str]) -> NDArray[np.float64]:
    """The reference transform through the fitted scikit-learn objects (for tests)."""
    out: NDArray[np.float64] = np.asarray(
        pca.transform(vec.transform(list(texts)).toarray()), dtype=np.float64
    )
    return out
