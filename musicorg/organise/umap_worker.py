"""The UMAP fit, run as its own process: ``python -m musicorg.organise.umap_worker IN.npy OUT.npy``.

UMAP runs here and not in a thread of the app because numba's compiler holds the GIL for
seconds at a time, which would freeze the interface. Input and output are plain ``.npy`` files
(no pickles): ``IN`` is float32 (N, d), ``OUT`` float32 (N, 2), written to a temporary name and
renamed, so a killed worker leaves no half-written result.

Numba compiles UMAP's functions on first use; umap-learn does not ask numba to cache them, so
this worker turns caching on for them before the first call. With ``NUMBA_CACHE_DIR`` in the
user cache folder (set by the parent), only the first run on a machine pays for the compile.
The neighbour graph is computed exactly with scikit-learn and handed to UMAP, which skips
pynndescent and its compile as well.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings


def enable_numba_caching() -> int:
    """Ask numba to cache UMAP's jitted functions on disk; the number of functions."""
    # Lazy: numba and umap load in the worker process only, when it fits (child process).
    from numba.core.dispatcher import Dispatcher
    from umap import layouts, umap_, utils

    count = 0
    for module in (umap_, layouts, utils):
        for obj in list(vars(module).values()):
            # Functions with an explicit signature were compiled at import: leave them be.
            if isinstance(obj, Dispatcher) and not obj.signatures:
                try:
                    obj.enable_caching()
                except Exception:  # a function numba cannot cache is compiled as usual
                    continue
                count += 1
    return count


def fit(x: object, *, neighbors: int, epochs: int | None, seed: int) -> object:
    # Lazy: the fit's imports load in the worker process only (child process).
    import numpy as np
    import umap
    from sklearn.neighbors import NearestNeighbors

    data = np.ascontiguousarray(x, dtype=np.float32)
    n = len(data)
    k = max(2, min(neighbors, n - 1))
    knn = NearestNeighbors(n_neighbors=k).fit(data)
    dist, idx = knn.kneighbors(data)
    model = umap.UMAP(
        n_neighbors=k,
        n_components=2,
        random_state=seed,
        n_epochs=epochs,
        init="spectral" if n > 50 else "random",
        precomputed_knn=(idx.astype(np.int64), dist.astype(np.float32), None),
    )
    return np.asarray(model.fit_transform(data), dtype=np.float32)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m musicorg.organise.umap_worker")
    parser.add_argument("input")
    parser.add_argument("output")
    parser.add_argument("--neighbors", type=int, default=15)
    parser.add_argument("--epochs", type=int, default=0, help="0: UMAP's default")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    started = time.monotonic()
    warnings.filterwarnings("ignore")
    # Lazy: the worker's report counts the import time from `started` on (child process).
    import numpy as np

    x = np.load(args.input, allow_pickle=False)
    cached = enable_numba_caching()
    imported = time.monotonic()
    xy = fit(x, neighbors=args.neighbors, epochs=args.epochs or None, seed=args.seed)
    tmp = args.output + ".part.npy"
    np.save(tmp, np.asarray(xy, dtype=np.float32), allow_pickle=False)
    os.replace(tmp, args.output)
    print(
        f"umap: {len(x)} points, import {imported - started:.1f} s, "
        f"fit {time.monotonic() - imported:.1f} s, {cached} functions cached",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
