"""Can any 32-d view of the MusiCNN vector be *clearly above* PCA-32 of it on the held-out real
songs? A probe for the model issue's last audio check, with the labels themselves.

    python -m training.probe_supervised [--out training/report/probe_supervised.md]

If a 32-d code learned *with the training split's labels* (genre and quadrant: what the
held-out sets are scored on) cannot beat PCA-32 of the teacher on kNN@5 with paired intervals
above 0 on all three held-out sets, an unsupervised VAE trained on the same vectors cannot be
expected to. Two supervised views are tried, each fitted on the real songs' TRAINING split
only (the held-out songs are only scored):

- **PCA + LDA**: the first 32 − k principal components beside k linear discriminants of the
  training genres (4Q and Emotify genres as one label set), at two weights;
- **a supervised projection**: a 200 → 256 → 32 MLP trained with a distance-preserving term
  (the teacher's distances) plus a supervised contrastive term on the training labels (4Q
  genre, 4Q quadrant, Emotify genre), at three weights.

Both are scored as ``training.realeval`` scores every row (kNN@5 leave-one-out, AMI of
K-Means with K = the number of labels, seeds 0-2), with paired bootstrap intervals against
PCA-32 of the teacher. MODEL.md gives the figures and what they mean.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from training.data import load_realsongs, teacher_vectors
from training.realeval import EvalSet, Scores, _pca, _score, _standardise, eval_sets
from training.report import bootstrap_ami, bootstrap_knn

LDA_DIMS = (8, 16)
LDA_WEIGHTS = (0.5, 1.0)
SUPCON_WEIGHTS = (0.05, 0.3, 1.0)
STEPS = 300
N_BOOT = 1000


def pca_lda(train: np.ndarray, test: np.ndarray, labels: np.ndarray, k: int, w: float) -> Any:
    """The first 32 − k principal components and ``k`` discriminants of ``labels`` (each
    block scaled to its first component's spread, the discriminants by ``w``)."""
    from sklearn.decomposition import PCA  # heavy: loaded when probing
    from sklearn.discriminant_analysis import (  # heavy: loaded when probing
        LinearDiscriminantAnalysis,
    )

    k = min(k, len(np.unique(labels)) - 1)
    pca = PCA(n_components=32 - k, random_state=0).fit(train)
    lda = LinearDiscriminantAnalysis(n_components=k).fit(train, labels)
    p_tr, p_te = pca.transform(train), pca.transform(test)
    l_tr, l_te = lda.transform(train), lda.transform(test)
    return np.hstack([p_te / p_tr[:, :1].std(), w * l_te / l_tr[:, :1].std()]).astype(np.float32)


def supervised_projection(
    train: np.ndarray, test: np.ndarray, label_sets: Sequence[np.ndarray], w: float, seed: int = 0
) -> Any:
    """A 32-d MLP projection trained on ``train`` with the teacher's distances kept and a
    supervised contrastive term (temperature 0.1) for each label set (-1: no label)."""
    import torch  # heavy: loaded when probing

    torch.manual_seed(seed)
    torch.set_num_threads(1)
    x = torch.tensor(train)
    labels = [torch.tensor(s) for s in label_sets]
    net = torch.nn.Sequential(
        torch.nn.Linear(x.shape[1], 256), torch.nn.GELU(), torch.nn.Linear(256, 32)
    )
    opt = torch.optim.Adam(net.parameters(), 1e-3, weight_decay=1e-4)
    for _step in range(STEPS):
        idx = torch.randperm(len(x))[:256]
        batch = x[idx]
        e = net(batch + 0.1 * torch.randn_like(batch))
        dt, de = torch.cdist(batch, batch), torch.cdist(e, e)
        loss = ((de / de.mean() - dt / dt.mean()) ** 2).mean()
        en = torch.nn.functional.normalize(e, dim=1)
        sim = en @ en.T / 0.1 - 1e9 * torch.eye(len(idx))
        for lab in labels:
            li = lab[idx]
            ok = li >= 0
            if int(ok.sum()) < 4:
                continue
            s, lo = sim[ok][:, ok], li[ok]
            pos = (lo[:, None] == lo[None]) & ~torch.eye(len(lo), dtype=torch.bool)
            logp = s - torch.logsumexp(s, 1, keepdim=True)
            has = pos.sum(1) > 0
            loss = loss + w * (-(logp * pos).sum(1)[has] / pos.sum(1)[has]).mean()
        opt.zero_grad()
        loss.backward()  # type: ignore[no-untyped-call]
        opt.step()
    with torch.no_grad():
        return net(torch.tensor(test)).numpy()


def _label_ids(values: np.ndarray, mask: np.ndarray) -> np.ndarray:
    out = np.full(len(values), -1, dtype=np.int64)
    names = {v: i for i, v in enumerate(sorted(set(values[mask])))}
    out[mask] = [names[v] for v in values[mask]]
    return out


def probe() -> list[tuple[str, str, Scores, Scores]]:
    """(view, set, its scores, PCA-32's scores) for every view and held-out set."""
    real = load_realsongs()
    split = np.asarray(real["split"]).astype(str)
    tr, te = split == "train", split == "test"
    teacher = teacher_vectors(np.asarray(real["musicnn"]), np.asarray(real["n_patches"]))
    std_tr, std_te = _standardise(teacher[tr], teacher[tr]), _standardise(teacher[tr], teacher[te])
    ds = np.asarray(real["dataset"]).astype(str)[tr]
    genre = np.asarray(real["genre"]).astype(str)[tr]
    quad = np.asarray(real["quadrant"]).astype(str)[tr]
    views: dict[str, np.ndarray] = {"PCA-32 of the MusiCNN vector": _pca(teacher[tr], teacher[te])}
    both = np.array([f"{d}:{g}" for d, g in zip(ds, genre, strict=True)])
    for k in LDA_DIMS:
        for w in LDA_WEIGHTS:
            views[f"PCA + LDA-{k} of genre, weight {w}"] = pca_lda(std_tr, std_te, both, k, w)
    label_sets = [
        _label_ids(genre, (ds == "4q") & (genre != "")),
        _label_ids(quad, ds == "4q"),
        _label_ids(genre, ds == "emotify"),
    ]
    for w in SUPCON_WEIGHTS:
        views[f"supervised MLP, weight {w}"] = supervised_projection(std_tr, std_te, label_sets, w)
    sets: list[EvalSet] = eval_sets(real, te)
    base = {s.name: _score([views["PCA-32 of the MusiCNN vector"][s.rows]], s.labels) for s in sets}
    out = []
    for name, emb in views.items():
        if name.startswith("PCA-32"):
            continue
        for s in sets:
            out.append((name, s.name, _score([emb[s.rows]], s.labels), base[s.name]))
    return out


def markdown(rows: list[tuple[str, str, Scores, Scores]], labels: dict[str, np.ndarray]) -> str:
    lines = [
        "| view | set | kNN@5 (PCA-32) | difference [95 %] | AMI (PCA-32) | difference [95 %] |",
        "|---|---|---|---|---|---|",
    ]
    for name, set_name, got, base in rows:
        k = bootstrap_knn(got.shares, base.shares, N_BOOT)
        a = bootstrap_ami(labels[set_name], got.preds, base.preds, 200)
        lines.append(
            f"| {name} | {set_name} | {got.knn5:.3f} ({base.knn5:.3f}) | "
            f"{k[0]:+.3f} [{k[1]:+.3f}, {k[2]:+.3f}] | {got.ami:.3f} ({base.ami:.3f}) | "
            f"{a[0]:+.3f} [{a[1]:+.3f}, {a[2]:+.3f}] |"
        )
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=None, help="write the table here too")
    args = parser.parse_args(argv)
    real = load_realsongs()
    te = np.asarray(real["split"]).astype(str) == "test"
    labels = {s.name: s.labels for s in eval_sets(real, te)}
    table = markdown(probe(), labels)
    print(table)
    if args.out is not None:
        args.out.write_text(table, encoding="utf-8")


if __name__ == "__main__":
    main()
