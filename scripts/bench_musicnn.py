"""Benchmark: milliseconds per 3-s patch of the PyTorch MusiCNN, and what each speed-up buys.

    .venv/bin/python scripts/bench_musicnn.py [--seconds 2.5] [--rounds 2] [--quick]
    .venv/bin/python scripts/bench_musicnn.py --cuda     # the accelerator section only

CPU table: random log-mel patches (B, 187, 96) through ``MusiCNN`` (no corpus needed; the
network's cost does not depend on the values). The first row is the app's path (``Teacher``:
``load_musicnn(fuse=True)``, ``torch.inference_mode()``, contiguous tensors,
``BATCH_PATCHES_CPU`` patches a pass, torch's threads as on a 2-core machine); each following
row changes ONE thing from it:

- torch threads: 1, 2, every core (``torch.set_num_threads``);
- autograd: ``torch.inference_mode()`` vs ``torch.no_grad()`` vs plain (the weights need no
  gradient either way, so "plain" only adds autograd's bookkeeping);
- memory format: ``channels_last`` (the model's weights; the (B, 1, 187, 96) input is both
  formats at once);
- batch-norm fusion: ``load_musicnn(fuse=False)`` (the batch norms applied as written);
- batch size: 1, 3, 8, 32 patches a pass;

then the factors together: none of the speed-ups (1 thread, plain, unfused, contiguous, one
patch a pass), all of them, and the best value of each factor as measured above. Each cell runs
a time box (``--seconds``, split over ``--rounds`` rounds that visit the cells in alternating
order, so that load from elsewhere falls on all of them alike) after one warm-up pass; the
table gives the median and the best pass in ms per patch, patches/s, the ratio to the app's
path, and the largest difference of the 200-d vector from the app's path on the same patches
(a speed-up must not change the numbers beyond float rounding). A last line times the app's
whole per-track teacher step (``Teacher.track_outputs``: log-mel of a 30-s window, its
``DEFAULT_PATCHES`` patches, the network).

Accelerator section (``--cuda``, and after the CPU table by default): when
``torch.cuda.is_available()``, MusiCNN on the GPU at several batch sizes (patches/s,
``torch.cuda.synchronize()`` around the timing), ``Teacher.track_outputs`` on 30-s windows,
and the bundled VAE's ``embed`` on random (N, 39, 130) matrices, (N, 78) statistics and — when
the model's config has ``teacher_dim`` — (N, 200) teacher vectors; then the two together at
``DEFAULT_PATCHES`` patches a track. Without CUDA it prints one line saying none was at hand.
``--device cpu`` runs that section on the CPU instead (to check the script without a GPU).

``--quick`` shrinks every time box (a smoke test: the numbers mean little).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from musicorg.model import musicnn as mn  # noqa: E402

GRADS = ("inference_mode", "no_grad", "plain")


def grad_context(mode: str) -> contextlib.AbstractContextManager[Any]:
    if mode == "inference_mode":
        return torch.inference_mode()
    if mode == "no_grad":
        return torch.no_grad()
    return contextlib.nullcontext()


@dataclass(frozen=True)
class Cell:
    threads: int
    grad: str
    channels_last: bool
    fuse: bool
    batch: int

    def describe(self) -> str:
        fmt = "ch-last" if self.channels_last else "contig"
        return (
            f"{self.threads:>3}  {self.grad:14} {fmt:7} "
            f"{'fused' if self.fuse else 'unfused':7} {self.batch:>3}"
        )


@dataclass
class Timing:
    per_patch_ms: list[float]  # one entry per timed pass
    max_diff: float = float("nan")

    @property
    def median(self) -> float:
        return statistics.median(self.per_patch_ms) if self.per_patch_ms else float("nan")

    @property
    def best(self) -> float:
        return min(self.per_patch_ms) if self.per_patch_ms else float("nan")


class Models:
    """MusiCNN instances per (fuse, channels_last), loaded once each."""

    def __init__(self) -> None:
        self._cache: dict[tuple[bool, bool], mn.MusiCNN] = {}

    def get(self, fuse: bool, channels_last: bool) -> mn.MusiCNN:
        key = (fuse, channels_last)
        if key not in self._cache:
            model, _tags = mn.load_musicnn(fuse=fuse)
            if channels_last:
                model = model.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
            self._cache[key] = model
        return self._cache[key]


def random_patches(n: int, seed: int = 0) -> torch.Tensor:
    """n log-mel patches with values in the range of real ones (log10(10000·mel + 1))."""
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, mn.PATCH_FRAMES, mn.N_MELS, generator=g) * 4.0


def run_pass(model: mn.MusiCNN, cell: Cell, x: torch.Tensor) -> torch.Tensor:
    with grad_context(cell.grad):
        out: tuple[torch.Tensor, torch.Tensor] = model(x)
    return out[0].detach()


def warm(models: Models, cell: Cell, full: bool) -> None:
    """One untimed pass: of a whole batch, or (``full`` False, for a quick run) of one patch."""
    torch.set_num_threads(cell.threads)
    x = random_patches(cell.batch if full else 1, 1)
    run_pass(models.get(cell.fuse, cell.channels_last), cell, x)


def time_cell(models: Models, cell: Cell, seconds: float, into: Timing) -> None:
    """Passes of ``cell.batch`` patches until ``seconds`` are spent (at least one)."""
    torch.set_num_threads(cell.threads)
    model = models.get(cell.fuse, cell.channels_last)
    x = random_patches(cell.batch, 2)
    end = time.perf_counter() + seconds
    while True:
        t0 = time.perf_counter()
        run_pass(model, cell, x)
        into.per_patch_ms.append(1000 * (time.perf_counter() - t0) / cell.batch)
        if time.perf_counter() >= end:
            break


def outputs(models: Models, cell: Cell, probe: torch.Tensor) -> torch.Tensor:
    """The 200-d vectors of ``probe`` computed the cell's way (``cell.batch`` at a time)."""
    torch.set_num_threads(cell.threads)
    model = models.get(cell.fuse, cell.channels_last)
    step = cell.batch
    return torch.cat(
        [run_pass(model, cell, probe[lo : lo + step]) for lo in range(0, len(probe), step)]
    )


def measure(
    models: Models,
    cells: list[Cell],
    seconds: float,
    rounds: int,
    reference: torch.Tensor,
    full_warmup: bool = True,
) -> dict[Cell, Timing]:
    """Every distinct cell: its check against ``reference``, then its time box, split over
    ``rounds`` rounds that visit the cells in alternating order."""
    probe = random_patches(len(reference), 3)
    out: dict[Cell, Timing] = {}
    for c in cells:
        if c not in out:
            warm(models, c, full_warmup)
            diff = float((outputs(models, c, probe) - reference).abs().max())
            out[c] = Timing([], diff)
    unique = list(out)
    for r in range(rounds):
        order = unique if r % 2 == 0 else unique[::-1]
        for c in order:
            time_cell(models, c, seconds / rounds, out[c])
    return out


def cpu_table(args: argparse.Namespace) -> None:
    cores = os.cpu_count() or 1
    two = min(2, cores)
    app = Cell(two, "inference_mode", False, True, mn.BATCH_PATCHES_CPU)
    single: list[tuple[str, Cell]] = []  # one factor changed from the app's path
    for n in sorted({1, two, cores}):
        every_core = " (every core)" if n == cores else ""
        single.append((f"threads {n}{every_core}", replace(app, threads=n)))
    for g in GRADS:
        single.append((f"autograd: {g}", replace(app, grad=g)))
    single.append(("memory: channels_last", replace(app, channels_last=True)))
    single.append(("fusion: off (fuse=False)", replace(app, fuse=False)))
    for b in (1, 3, 8, 32):
        single.append((f"batch {b}", replace(app, batch=b)))
    together = [
        ("together: none of the speed-ups", Cell(1, "plain", False, False, 1)),
        ("together: all of them", Cell(cores, "inference_mode", True, True, 32)),
    ]

    models = Models()
    seconds = 0.4 if args.quick else args.seconds
    print(
        f"CPU: {cores} cores, torch {torch.__version__}, load average "
        f"{os.getloadavg()[0]:.2f} at start; {seconds:.1f} s per cell over {args.rounds} rounds"
    )
    t_start = time.perf_counter()
    reference = outputs(models, app, random_patches(6, 3))
    rows = [("app's path", app), *single, *together]
    res = measure(models, [c for _, c in rows], seconds, args.rounds, reference, not args.quick)

    # Together, as measured: each factor at its best value among the one-factor rows.
    def best(field: str) -> Any:
        cands = [c for _, c in single] + [app]
        cands = [c for c in cands if replace(c, **{field: getattr(app, field)}) == app]
        return getattr(min(cands, key=lambda c: res[c].median), field)

    chosen = Cell(*(best(f) for f in ("threads", "grad", "channels_last", "fuse", "batch")))
    rows.append(("together: the best of each factor", chosen))
    if chosen not in res:
        res.update(measure(models, [chosen], seconds, args.rounds, reference, not args.quick))

    base = res[app].median
    print()
    print(
        f"  {'':34} {'thr':>3}  {'autograd':14} {'memory':7} {'BN':7} {'B':>3} "
        f"{'median':>9} {'best':>9} {'patch/s':>8} {'vs app':>7} {'max|Δ|':>8}"
    )
    for label, c in rows:
        t = res[c]
        if c == app and label != "app's path":
            label += " (= app)"
        print(
            f"  {label:34} {c.describe()} {t.median:6.1f} ms {t.best:6.1f} ms "
            f"{1000 / t.median:8.1f} {base / t.median:6.2f}x {t.max_diff:8.1e}"
        )
    print(
        "  (ms per 3-s patch, median and best pass; 'vs app' above 1 is faster than the app's "
        "path; max|Δ|: the 200-d vector against the app's path on the same patches)"
    )

    # The app's whole teacher step per track, as analysis.py runs it.
    torch.set_num_threads(app.threads)
    teacher = mn.Teacher(torch.device("cpu"))
    audios = random_windows(4)
    teacher.track_outputs(audios[:1])
    times: list[float] = []
    end = time.perf_counter() + seconds
    while not times or time.perf_counter() < end:
        t0 = time.perf_counter()
        teacher.track_outputs(audios)
        times.append((time.perf_counter() - t0) / len(audios))
    med = statistics.median(times)
    print(
        f"\nTeacher.track_outputs (log-mel of a 30-s window + {mn.DEFAULT_PATCHES} patches + "
        f"network, {app.threads} threads, {len(audios)} windows a call): {1000 * med:.0f} "
        f"ms/track median ({1 / med:.2f} tracks/s on its own)"
    )
    print(
        f"CPU section: {time.perf_counter() - t_start:.0f} s; load average at the end "
        f"{os.getloadavg()[0]:.2f}"
    )


def random_windows(n: int, seconds: float = 30.0, seed: int = 4) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [(0.1 * rng.standard_normal(int(seconds * mn.SR))).astype(np.float32) for _ in range(n)]


@contextlib.contextmanager
def synced(dev: torch.device) -> Iterator[list[float]]:
    """Wall seconds of the block, with the device's queue drained before and after."""
    box: list[float] = []
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)
    t0 = time.perf_counter()
    yield box
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)
    box.append(time.perf_counter() - t0)


def rate(dev: torch.device, fn: Callable[[], Any], items: int, seconds: float) -> float:
    """Items per second of ``fn`` (which handles ``items`` items), best of the time box."""
    fn()  # warm-up (cuDNN autotuning, allocations)
    best = 0.0
    end = time.perf_counter() + seconds
    while True:
        with synced(dev) as box:
            fn()
        best = max(best, items / box[0])
        if time.perf_counter() >= end:
            return best


def per_s(r: float) -> str:
    return f"{r:,.0f}" if r >= 100 else f"{r:.2f}"


def accel_section(args: argparse.Namespace) -> None:
    name = args.device
    if name.startswith("cuda") and not torch.cuda.is_available():
        print(f"\naccelerator: no CUDA device at hand (torch {torch.__version__}); section skipped")
        return
    dev = torch.device(name)
    seconds = 0.4 if args.quick else args.seconds
    label = torch.cuda.get_device_name(dev) if dev.type == "cuda" else "CPU (dry run)"
    print(f"\naccelerator: {label}, torch {torch.__version__}; best pass of {seconds:.1f} s each")
    model = mn.load_musicnn(fuse=True)[0].to(dev)
    cuda_batches = sorted({16, 32, 64, mn.BATCH_PATCHES_CUDA, 256, 1024})
    batches = (8, 32) if dev.type == "cpu" else cuda_batches
    best_patches = 0.0
    for b in batches:
        x = random_patches(b, 5).to(dev)

        def net(x: torch.Tensor = x) -> None:
            with torch.inference_mode():
                model(x)

        r = rate(dev, net, b, seconds)
        best_patches = max(best_patches, r)
        print(f"  MusiCNN, batch {b:>4}: {per_s(r):>9} patches/s ({1000 / r:.3f} ms/patch)")

    teacher = mn.Teacher(dev)
    n_win = 16 if dev.type == "cpu" else 64
    audios = random_windows(n_win)
    t_rate = rate(dev, lambda: teacher.track_outputs(audios), n_win, seconds)
    print(
        f"  Teacher.track_outputs, {n_win} windows of 30 s (host audio → log-mel → "
        f"{mn.DEFAULT_PATCHES} patches each → vectors on the host): {per_s(t_rate)} tracks/s"
    )

    try:
        from musicorg.model.bundle import load_model

        vae = load_model(device=name)
    except Exception as exc:
        print(f"  VAE embedding: skipped ({exc.__class__.__name__}: {exc})")
        return
    cfg = vae.config
    n = 256 if dev.type == "cpu" else 4096
    rng = np.random.default_rng(6)
    X = rng.standard_normal((n, cfg.n_features, cfg.n_frames)).astype(np.float32)
    stats = rng.standard_normal((n, cfg.stats_dim)).astype(np.float32)
    teach = (
        np.abs(rng.standard_normal((n, cfg.teacher_dim))).astype(np.float32)
        if getattr(cfg, "teacher_dim", 0)
        else None
    )
    v_rate = rate(dev, lambda: vae.embed(X, stats, None, teacher=teach), n, seconds)
    print(
        f"  VAE {vae.version} embed, {n} tracks (teacher input: "
        f"{'yes' if teach is not None else 'no'}): {per_s(v_rate)} tracks/s"
    )
    p = mn.DEFAULT_PATCHES
    both = 1.0 / (p / best_patches + 1.0 / v_rate)
    print(
        f"  MusiCNN ({p} patches a track, best batch) + VAE embedding: {per_s(both)} tracks/s = "
        f"{per_s(both * p)} patches/s (from the two rates above; decoding not included)"
    )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--seconds", type=float, default=2.5, help="time box per cell (default 2.5)")
    ap.add_argument("--rounds", type=int, default=2, help="rounds the time box is split over")
    ap.add_argument("--quick", action="store_true", help="tiny time boxes: a smoke test")
    ap.add_argument("--cuda", action="store_true", help="only the accelerator section")
    ap.add_argument(
        "--device", default="cuda", help="device of the accelerator section (cpu: a dry run)"
    )
    args = ap.parse_args()
    if not args.cuda:
        cpu_table(args)
    accel_section(args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
