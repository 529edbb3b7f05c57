"""Writing a model bundle (the format :func:`musicorg.model.bundle.load_model` reads).

Used by ``training/export.py`` for the bundled model and by the app for the versions it
retrains on a user's library. The bundle is assembled in a temporary sibling directory and
renamed into place only when complete, so a crash never leaves a half-written version.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import save_file

from musicorg.model import bundle
from musicorg.model.bundle import Normalizer
from musicorg.model.textpipe import TextPipeline

METRIC_COLUMNS = ("knn5", "ami", "nmi", "ari", "purity", "silhouette", "ch", "db")
_EXTRA = (
    "active_dims",
    "recon_mse",
    "has_lyrics_auc",
    "knn5_all_clips",
    "knn5_with_random_lyrics",
    "text_knn5_mu",
    "text_knn5_tfidf_pca",
    "text_knn5_chance",
)


def metrics_table(metrics: dict[str, Any]) -> list[str]:
    """A Markdown table of every flat {metric: value} dict found in ``metrics``."""
    rows: list[tuple[str, dict[str, Any]]] = []

    def walk(prefix: str, d: dict[str, Any]) -> None:
        if any(k in d for k in METRIC_COLUMNS):
            rows.append((prefix, d))
            return
        for k, v in d.items():
            if isinstance(v, dict):
                walk(f"{prefix} / {k}" if prefix else k, v)

    walk("", metrics)
    if not rows:
        return ["(not measured)"]
    out = [
        "| embedding | " + " | ".join(METRIC_COLUMNS) + " |",
        "|---" * (len(METRIC_COLUMNS) + 1) + "|",
    ]
    for name, d in rows:
        cells = [f"{d[c]:.3f}" if isinstance(d.get(c), float) else "" for c in METRIC_COLUMNS]
        out.append(f"| {name} | " + " | ".join(cells) + " |")
    for name, d in rows:
        found = [
            f"{k} {d[k]:.3f}" if isinstance(d[k], float) else f"{k} {d[k]}"
            for k in _EXTRA
            if k in d
        ]
        if found:
            out += ["", f"{name}: " + ", ".join(found)]
    return out


def write_bundle(
    out: Path,
    version: str,
    state: Mapping[str, torch.Tensor],
    meta: dict[str, Any],
    norm: Normalizer | Path,
    textpipe: TextPipeline,
    model_card: str,
    extra_files: Mapping[str, bytes] | None = None,
) -> str:
    """Write the bundle ``out`` (replacing it) and return its manifest's SHA-256.

    ``meta`` is written as config.json and must hold the model config under "model";
    ``norm`` is a Normalizer or an existing norm.npz to copy; ``extra_files`` are further
    files (name → bytes) listed in the manifest like the others.
    """

    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))
    try:
        tensors = {k: v.detach().contiguous().cpu() for k, v in state.items()}
        save_file(tensors, str(tmp / bundle.WEIGHTS_NAME), metadata={"version": version})
        (tmp / bundle.WEIGHTS_NAME).chmod(0o644)
        (tmp / bundle.CONFIG_NAME).write_text(
            json.dumps(meta, indent=1, sort_keys=True) + "\n", encoding="utf-8"
        )
        if isinstance(norm, Normalizer):
            norm.save(tmp / bundle.NORM_NAME)
        else:
            shutil.copyfile(norm, tmp / bundle.NORM_NAME)
        textpipe.save(tmp)
        (tmp / "MODEL_CARD.md").write_text(model_card, encoding="utf-8")
        for name, data in (extra_files or {}).items():
            if "/" in name or "\\" in name or name.startswith(".") or name == bundle.MANIFEST_NAME:
                raise ValueError(f"invalid bundle file name {name!r}")
            (tmp / name).write_bytes(data)
        digest = bundle.write_manifest(tmp, version)
        tmp.chmod(0o755)
        if out.exists():
            shutil.rmtree(out)
        os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return digest


__all__ = ["METRIC_COLUMNS", "metrics_table", "write_bundle"]
