"""MusiCNN tag probabilities written into a real catalogue, as the analysis stores them."""

from __future__ import annotations

import time
from collections.abc import Mapping

import numpy as np
from sqlalchemy import insert, update

from musicorg.analyse import features as feat
from musicorg.model import autotags
from musicorg.store.db import Analysis, Catalogue


def probs(**tags: float) -> np.ndarray:
    """50 probabilities, all 0 (under every threshold) but the named tags
    (``Mellow=0.4``; spaces as ``_``: ``female_vocalists=0.7``; ``Hip_Hop`` is "Hip-Hop")."""
    names = autotags.tag_names()
    out = np.zeros(len(names), dtype=np.float32)
    for key, value in tags.items():
        name = key.replace("_", " ")
        if name not in names:
            name = key.replace("_", "-")
        out[names.index(name)] = value
    return out


def store_tags(cat: Catalogue, tags: Mapping[str, np.ndarray | None]) -> None:
    """Give each content key its tag probabilities (None: an analysis without tags), in its
    analysis of the current features version (made when there is none)."""
    now = time.time()
    with cat.begin() as conn:
        for key, p in tags.items():
            blob = None if p is None else np.asarray(p, dtype=np.float32).tobytes()
            done = conn.execute(
                update(Analysis)
                .where(
                    Analysis.content_key == key,
                    Analysis.features_version == feat.FEATURES_VERSION,
                )
                .values(tags=blob)
            )
            if not done.rowcount:
                conn.execute(
                    insert(Analysis).values(
                        content_key=key,
                        features_version=feat.FEATURES_VERSION,
                        features=b"",
                        shape="0x0",
                        weak=False,
                        created_at=now,
                        tags=blob,
                    )
                )
