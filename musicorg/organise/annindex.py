"""A nearest-neighbour index of μ for ``similar`` and ``path`` in a big library.

Below :data:`INDEX_FROM` tracks, or without the ``scale`` extra (faiss-cpu), the walks search
exactly (a pass over every μ, about 70 ms at a million tracks, more with several seeds).
Above it they ask this index for candidates and rank those exactly, so the index only has to
find the neighbours, never to measure them.

**Which index.** faiss's inverted file of flat vectors (``IndexIVFFlat``, L2):
:data:`LISTS_PER_ROOT` × √N lists, trained on a sample of at most :data:`TRAIN_PER_LIST`
tracks per list, searched in :data:`PROBE` lists. Measured on 1,000,000 × 32-d μ of a
60-style mixture on our two cores: built in about 9 s (faiss's HNSW and usearch's took
minutes), 0.2-0.6 ms per query, and it holds the vectors themselves (128 MB). Adding a track
costs one assignment to its nearest list, with no graph to repair, which is what a library
that grows by analyses needs.

**Kept in the cache folder**, one file per model version (its name says which), as numpy
arrays (no pickle): faiss's own serialisation of the index, the track ids and a checksum of
each track's μ. On load the index catches up with the library: tracks that are new (a fresh
analysis) are added, tracks whose μ changed are replaced and tracks that are gone are
removed; when more than :data:`REBUILD_SHARE` of it changed, it is built again. Every change
is saved back (written aside, then renamed, so a reader never sees half a file).
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import numpy as np
from numpy.typing import NDArray

from musicorg import paths

log = logging.getLogger(__name__)

#: Libraries of at least this many tracks search through the index.
INDEX_FROM: Final = 200_000
LISTS_PER_ROOT: Final = 4
TRAIN_PER_LIST: Final = 40
PROBE: Final = 64
#: More than this share of the tracks new, changed or gone: build again (the lists were
#: trained on another library).
REBUILD_SHARE: Final = 0.5
FOLDER: Final = "neighbours"
FORMAT: Final = 1

IdArray = NDArray[np.int64]


def _faiss() -> Any:
    """The faiss module, or None when the ``scale`` extra is not installed."""
    try:
        # Lazy (optional dependency, and start-up time): only big libraries load it.
        import faiss
    except ImportError:
        return None
    return faiss


def available() -> bool:
    return _faiss() is not None


def index_path(version: str) -> Path:
    """The index file of a model version in the cache folder."""
    slug = re.sub(r"[^A-Za-z0-9._-]+", "_", version)[:60]
    digest = hashlib.sha256(version.encode()).hexdigest()[:10]
    return paths.cache_dir() / FOLDER / f"{slug}-{digest}.npz"


def checksums(mu: NDArray[Any]) -> NDArray[np.uint64]:
    """One 64-bit checksum per row of μ (float32), to see which vectors changed."""
    bits = np.ascontiguousarray(mu, dtype=np.float32).view(np.uint32).astype(np.uint64)
    mult = np.asarray(
        np.random.default_rng(12345).integers(1, 2**62, bits.shape[1], dtype=np.uint64) | 1,
        dtype=np.uint64,
    )
    with np.errstate(over="ignore"):
        out: NDArray[np.uint64] = (bits * mult[None, :]).sum(1, dtype=np.uint64)
    return out


@dataclass
class NearIndex:
    """The index of one model version's μ, by track id."""

    version: str
    path: Path
    index: Any  # faiss.IndexIVFFlat
    ids: IdArray  # sorted track ids in the index
    sums: NDArray[np.uint64]  # their μ's checksums

    def __len__(self) -> int:
        return len(self.ids)

    def search(self, queries: NDArray[Any], k: int) -> list[IdArray]:
        """The track ids of about the ``k`` nearest tracks to each query, nearest first."""
        q = np.ascontiguousarray(np.atleast_2d(queries), dtype=np.float32)
        _dist, found = self.index.search(q, min(k, len(self.ids)))
        return [row[row >= 0].astype(np.int64) for row in found]

    def describe(self) -> str:
        return (
            f"faiss IVFFlat, {self.index.nlist} lists, {self.index.nprobe} probed, "
            f"{len(self.ids)} tracks"
        )


def open_index(
    version: str, ids: NDArray[Any], mu: NDArray[Any], *, force: bool = False
) -> NearIndex | None:
    """The index of ``version`` for these tracks (track ids ``ids``, μ ``mu``): loaded from the
    cache folder and brought up to date, or built; None below INDEX_FROM tracks (unless
    ``force``) or without faiss."""
    faiss = _faiss()
    if faiss is None or len(ids) == 0 or (len(ids) < INDEX_FROM and not force):
        return None
    ids = np.asarray(ids, dtype=np.int64)
    mu = np.ascontiguousarray(mu, dtype=np.float32)
    sums = checksums(mu)
    path = index_path(version)
    near = _load(faiss, version, path, mu.shape[1])
    if near is not None and _catch_up(near, ids, mu, sums):
        return near
    near = _build(faiss, version, path, ids, mu, sums)
    _save(faiss, near)
    return near


def _load(faiss: Any, version: str, path: Path, dim: int) -> NearIndex | None:
    if not path.exists():
        return None
    try:
        with np.load(path, allow_pickle=False) as data:
            if int(data["format"]) != FORMAT or str(data["version"]) != version:
                return None
            index = faiss.deserialize_index(data["index"])
            ids, sums = data["ids"].astype(np.int64), data["sums"].astype(np.uint64)
    except (OSError, ValueError, KeyError, RuntimeError) as exc:
        log.warning("the neighbour index %s cannot be read (%s): building it again", path, exc)
        return None
    if index.d != dim or index.ntotal != len(ids):
        return None
    index.nprobe = min(PROBE, index.nlist)
    return NearIndex(version, path, index, ids, sums)


def _catch_up(near: NearIndex, ids: IdArray, mu: NDArray[np.float32], sums: Any) -> bool:
    """Bring a loaded index up to date with the library (saved when it changed); False when
    so much changed that it should be built again."""
    order = np.argsort(ids, kind="stable")
    ids, mu, sums = ids[order], mu[order], sums[order]
    pos = np.minimum(np.searchsorted(near.ids, ids), max(len(near.ids) - 1, 0))
    present = (near.ids[pos] == ids) if len(near.ids) else np.zeros(len(ids), dtype=bool)
    changed = present & (near.sums[pos] != sums)
    gone = ~np.isin(near.ids, ids)
    add = ~present | changed
    drop = np.concatenate([near.ids[gone], ids[changed]])
    if int(add.sum()) + int(gone.sum()) > REBUILD_SHARE * len(ids):
        return False
    if not add.any() and not len(drop):
        return True
    faiss = _faiss()
    if len(drop):
        near.index.remove_ids(faiss.IDSelectorBatch(drop))
    near.index.add_with_ids(mu[add], ids[add])
    near.ids, near.sums = ids, sums
    log.info("neighbour index: %d tracks added or replaced, %d removed", int(add.sum()), len(drop))
    _save(faiss, near)
    return True


def _build(
    faiss: Any, version: str, path: Path, ids: IdArray, mu: NDArray[np.float32], sums: Any
) -> NearIndex:
    started = time.perf_counter()
    order = np.argsort(ids, kind="stable")
    ids, mu, sums = ids[order], mu[order], sums[order]
    n, dim = mu.shape
    lists = max(1, min(int(LISTS_PER_ROOT * np.sqrt(n)), n // 39 or 1))
    quantizer = faiss.IndexFlatL2(dim)
    index = faiss.IndexIVFFlat(quantizer, dim, lists, faiss.METRIC_L2)
    rng = np.random.default_rng(0)
    train = mu if n <= TRAIN_PER_LIST * lists else mu[rng.choice(n, TRAIN_PER_LIST * lists, False)]
    index.train(train)
    index.add_with_ids(mu, ids)
    index.nprobe = min(PROBE, lists)
    log.info("neighbour index of %d tracks built in %.1f s", n, time.perf_counter() - started)
    return NearIndex(version, path, index, ids, sums)


def _save(faiss: Any, near: NearIndex) -> None:
    """Write the index aside, then rename it over the old one."""
    tmp = near.path.with_name(f".{near.path.name}.{os.getpid()}.tmp")
    try:
        paths.make_dir(near.path.parent)
        with open(tmp, "wb") as f:
            np.savez(
                f,
                format=np.int64(FORMAT),
                version=np.str_(near.version),
                index=faiss.serialize_index(near.index),
                ids=near.ids,
                sums=near.sums,
            )
        os.replace(tmp, near.path)
    except OSError as exc:
        log.warning("the neighbour index cannot be saved in %s (%s)", near.path.parent, exc)
        tmp.unlink(missing_ok=True)
