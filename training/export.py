"""Export a finished (or in-progress) run as the bundled model ``resources/models/<version>/``.

    python -m training.export --run ~/.cache/musicorg/runs/ours-seed1 --version hvae-X.Y.Z \
        [--metrics eval.json] [--notes notes.md] [--pin]

Writes model.safetensors, config.json, norm.npz, textpipe.json/.npz, MODEL_CARD.md and
manifest.json (SHA-256 and size of each file), then prints the manifest's SHA-256, the value
to pin as ``BUNDLED_MANIFEST_SHA256`` in musicorg/model/bundle.py (``--pin`` edits it there,
with ``BUNDLED_VERSION``).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from musicorg import paths
from musicorg.model import bundle
from musicorg.model.textpipe import TextPipeline
from musicorg.model.vae import VAEConfig
from musicorg.model.write import metrics_table, write_bundle

REPO = Path(__file__).resolve().parent.parent
MAX_BYTES = 20 * 1024 * 1024
_POOL_WORDS = {
    "flatten": "flattened (every cell)",
    "pool": "pooled over time (mean and std of each channel and band)",
    "both": "both flattened and pooled over time (mean and std of each channel and band)",
}


def _features_version(run: dict[str, Any]) -> int:
    """The audio-features version the run trained on (runs that predate the record: 1)."""
    return int(run.get("features_version", 1))


def _teacher_lines(m: dict[str, Any], run: dict[str, Any]) -> list[str]:
    lines = [
        "- Teacher: the audio expert also reads the 200-d penultimate vector of **MusiCNN** "
        '(MSD_musicnn; Jordi Pons and Xavier Serra, "musicnn: pre-trained convolutional neural '
        'networks for music audio tagging", 2019; weights © Music Technology Group, '
        "Universitat Pompeu Fabra, ISC licence, shipped in `resources/models/musicnn/` with "
        "their notice), frozen, averaged over 3-s patches of the analysis window. The VAE "
        f"rebuilds it (weight {m.get('teacher_weight')}) and keeps its neighbourhoods "
        f"(distance-preserving weight {m.get('distance_weight')}).",
    ]
    if run.get("data", {}).get("realsongs"):
        lines.append(
            "- Real songs: the training splits of the 4Q audio emotion dataset (Panda, "
            "Malheiro and Paiva 2018; 30-s previews from AllMusic, no licence stated; split by "
            "artist) and Emotify (Aljanaki, Wiering and Veltkamp 2016; no licence stated; split "
            "by track), taken from public GitHub repositories (Famelgas/MULT_TP2, "
            "sergi-andreu/ProjectMusicInformatics). Used to fit and evaluate only: none of "
            "their audio is committed or shipped; their held-out parts never entered training "
            "or normalisation (`training/configs/realsongs_split.json`)."
        )
    return lines


def model_card(
    version: str, run: dict[str, Any], epoch: int, metrics: dict[str, Any], notes: str = ""
) -> str:
    m = run["model"]
    lines = [
        f"# musicorg model {version}",
        "",
        "A hybrid audio/lyrics variational autoencoder: every track becomes a "
        f"{m['latent_dim']}-d point (the posterior mean μ); close points should sound alike.",
        "",
        "## Data and licences",
        "",
        "- Audio: free-licensed game soundtracks from Debian packages (GPL-2+, CC-BY-3.0, "
        "CC-BY-SA-3.0, per file as each package's `usr/share/doc/<pkg>/copyright` states), "
        "prepared by `training/prepare.py` (30-s clips, split by track per package, 30 % held "
        "out). `drascula-music` (own licence) is excluded. No audio is shipped here, only "
        "weights trained on it.",
        "- Lyrics: the musicmood corpus (rasbt/musicmood, 1,200 songs) and poplyrics-1k "
        "(ashuwhy/poplyrics-1k, 1,000 songs). Their texts are their authors' copyright: only "
        "statistics fitted on the training split are shipped (a 500-term vocabulary with idf "
        "weights and a 64-d PCA), never the texts.",
        "- No paired audio+lyrics data exists in these corpora: audio-only and lyrics-only "
        "samples train the same latent space, with the absent branch masked.",
        *(_teacher_lines(m, run) if m.get("teacher_dim") else []),
        "",
        "## Configuration",
        "",
        f"- Run `{run['name']}` seed {run['seed']}, {epoch} epochs "
        f"(batch {run['train']['batch_size']}, Adam {run['train']['lr']}, grad clip "
        f"{run['train']['grad_clip']}).",
        f"- Fusion `{m['fusion']}`, loss scale `{m['loss_scale']}`, statistics head "
        f"`{m['use_stats']}`, weights audio {m['audio_weight']} / text {m['text_weight']} / "
        f"stats {m['stats_weight']}, β 0→{m['beta_max']} over {m['anneal_epochs']} epochs, "
        f"text log-variance ≥ {m['text_logvar_min']}.",
        f"- Audio expert: the last convolution's map read "
        f"{_POOL_WORDS[m.get('audio_pool', 'flatten')]}; same-track contrastive weight "
        f"{m.get('contrastive_weight', 0.0)} (τ {m.get('contrastive_tau', 1.0)}).",
        "- Loss reductions: `elbo` = per sample, squared error summed over cells / 2 "
        "+ β·KL summed over latent dims, averaged over the batch; `paper` = MSE averaged over "
        "elements + β·KL averaged over batch and latent dims.",
        "- Inputs: the 39x130 feature matrix standardised per row (mean/std of each of the "
        "39 features over the training clips), the 78-d per-feature mean+std statistics "
        + ("and the 200-d MusiCNN vector " if m.get("teacher_dim") else "")
        + "standardised per dimension, the 64-d lyrics vector divided by one global scale "
        "(all in `norm.npz`).",
        f"- Audio features: version {_features_version(run)} of `musicorg/analyse/features.py` "
        "(`FEATURES_VERSION`); musicorg refuses to pair a model with features of another version.",
        "",
        "```json",
        json.dumps(m, indent=1, sort_keys=True),
        "```",
        "",
        "## Held-out metrics",
        "",
        "Labels: source package of held-out tracks, middle clip per track; K = #labels; "
        "clustering scores are means over KMeans seeds 0, 1, 2 (one training seed).",
        "",
        *metrics_table(metrics),
        "",
        "<details><summary>All numbers (JSON)</summary>",
        "",
        "```json",
        json.dumps(metrics, indent=1, sort_keys=True) if metrics else "(not measured)",
        "```",
        "",
        "</details>",
        "",
        *(["## Notes", "", notes.strip(), ""] if notes.strip() else []),
        "## Files",
        "",
        "`model.safetensors` (weights), `config.json`, `norm.npz`, `textpipe.json` + "
        "`textpipe.npz` (vocabulary, idf, PCA mean/components; read without pickle), and "
        "`manifest.json` (SHA-256 of each file; its own hash is pinned in "
        "`musicorg/model/bundle.py`).",
        "",
    ]
    return "\n".join(lines)


def export(
    run_dir: Path, version: str, out_root: Path, metrics: dict[str, Any], notes: str = ""
) -> tuple[Path, str]:
    run = json.loads((run_dir / "run.json").read_text(encoding="utf-8"))
    VAEConfig.from_dict(run["model"])  # validates
    ckpt = torch.load(run_dir / "checkpoint.pt", map_location="cpu", weights_only=True)
    epoch = int(ckpt["epoch"])
    out = out_root / version
    meta = {
        "version": version,
        "model": run["model"],
        "features_version": _features_version(run),
        "trained_epochs": epoch,
        "run": {k: run[k] for k in ("name", "seed", "train", "text")},
    }
    digest = write_bundle(
        out,
        version,
        ckpt["model"],
        meta,
        run_dir / bundle.NORM_NAME,
        TextPipeline.load(run_dir),
        model_card(version, run, epoch, metrics, notes),
    )
    size = sum(f.stat().st_size for f in out.iterdir())
    if size > MAX_BYTES:
        raise SystemExit(f"bundle is {size} bytes, over the {MAX_BYTES} limit")
    # Sanity: the bundle loads and embeds.
    lm = bundle.load_model(out, device="cpu", expected_manifest_sha256=digest)
    print(f"[export] {out} ({size / 1e6:.2f} MB, epoch {epoch}) loads as {lm.version}")
    return out, digest


def pin(version: str, digest: str) -> None:
    path = REPO / "musicorg" / "model" / "bundle.py"
    text = path.read_text(encoding="utf-8")
    text = re.sub(r'BUNDLED_VERSION = "[^"]*"', f'BUNDLED_VERSION = "{version}"', text)
    text = re.sub(
        r'BUNDLED_MANIFEST_SHA256 = "[0-9a-f]*"', f'BUNDLED_MANIFEST_SHA256 = "{digest}"', text
    )
    path.write_text(text, encoding="utf-8")
    print(f"[export] pinned {version} / {digest} in {path}")


def main(argv: Sequence[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--run", type=Path, required=True)
    ap.add_argument("--version", required=True)
    ap.add_argument("--out", type=Path, default=None, help="default: the bundled models dir")
    ap.add_argument("--metrics", type=Path, default=None, help="JSON from training.evaluate")
    ap.add_argument("--notes", type=Path, default=None, help="Markdown added to the card")
    ap.add_argument("--pin", action="store_true", help="pin version and hash in bundle.py")
    args = ap.parse_args(argv)
    if not re.fullmatch(r"[A-Za-z0-9._-]+", args.version):
        raise SystemExit("version: letters, digits, '.', '_' and '-' only")
    metrics = json.loads(args.metrics.read_text()) if args.metrics else {}
    out_root = args.out or paths.models_dir()
    notes = args.notes.read_text(encoding="utf-8") if args.notes else ""
    _out, digest = export(args.run, args.version, out_root, metrics, notes)
    print(f"[export] manifest SHA-256: {digest}")
    if args.pin:
        pin(args.version, digest)


if __name__ == "__main__":
    main()
