"""Analysis on a Dask cluster: the per-track work on the workers, the writes here.

``musicorg analyse --dask ADDRESS`` connects to a running scheduler (started with Dask's own
``dask scheduler`` and ``dask worker`` commands); ``--dask local:N`` starts a ``LocalCluster``
of N worker processes on this machine for the run. Each worker runs
:func:`musicorg.analyse.analysis.analyse_here` on a path (decode, features, MusiCNN) and sends
back the features and MusiCNN's outputs, a few kilobytes. This process writes them with the
stage's own batched writer as they arrive, so a lost worker costs only the tracks it had in
hand (the scheduler runs them again on another worker) and a killed client keeps everything it
committed: the next run skips those tracks and does the rest. The embedding with the active
model (the VAE, which also reads the lyrics) then runs here, from the catalogue.

Workers read the audio by path. When a worker mounts the music elsewhere, ``--path-map
FROM=TO`` (repeatable) rewrites each path that starts with the folder FROM to start with TO
instead (the longest FROM that matches wins); problems are still recorded under this
machine's path. A worker that cannot read a file this machine can read stops the run with a
message that says so (it is a set-up problem, not a broken file).

dask is optional (the ``cluster`` extra): it is imported here only, and only when a run asks
for a cluster.
"""

from __future__ import annotations

import logging
import os
import queue
import socket
import uuid
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from typing import Any, Final

import musicorg
from musicorg.analyse import analysis
from musicorg.analyse.audio import DecodeError
from musicorg.jobs import CancelFn, ProgressFn, check, no_progress
from musicorg.keys import FEATURES_VERSION
from musicorg.store.analyses import AudioFile

#: Seconds to wait for a scheduler to answer before giving up.
CONNECT_TIMEOUT_S: Final = 20
#: Seconds between looks at the cancel flag while tracks are out on the workers.
POLL_S: Final = 0.5
#: Tracks in flight per worker thread: enough to keep every worker busy, few enough that a
#: cancel or a lost client leaves little half-done work behind.
IN_FLIGHT_PER_THREAD: Final = 2
LOCAL_PREFIX: Final = "local:"

#: (FROM, TO) folder prefixes as bytes, the longest FROM first.
PathMap = tuple[tuple[bytes, bytes], ...]


class ClusterError(Exception):
    """The cluster could not do the work (no scheduler, a worker that cannot read the music or
    runs another musicorg); what was analysed so far is kept."""


class NotOnWorker(Exception):
    """Raised on a worker: it cannot read the file at the path it was given."""

    def __init__(self, path: bytes, host: str) -> None:
        super().__init__(f"{os.fsdecode(path)} cannot be read on {host}")
        self.path = path
        self.host = host

    def __reduce__(self) -> tuple[type[NotOnWorker], tuple[bytes, str]]:
        # Rebuilt with both arguments when it comes back from the worker.
        return (type(self), (self.path, self.host))


@dataclass(frozen=True)
class DaskOptions:
    """Where the analysis runs: a scheduler address (``tcp://host:8786``) or ``local:N``."""

    address: str
    path_map: PathMap = ()


def parse_path_map(specs: Sequence[str]) -> PathMap:
    """``FROM=TO`` folder pairs (split at the first ``=``), the longest FROM first; raises
    ValueError with the reason for one that is not of that form."""
    pairs: list[tuple[bytes, bytes]] = []
    for spec in specs:
        src, sep, dst = spec.partition("=")
        if not sep or not src or not dst:
            raise ValueError(f"--path-map {spec!r}: expected FROM=TO, e.g. /music=/mnt/music")
        pairs.append((os.fsencode(src), os.fsencode(dst)))
    return tuple(sorted(pairs, key=lambda p: len(p[0].rstrip(b"/")), reverse=True))


def map_path(path: bytes, path_map: PathMap) -> bytes:
    """``path`` as a worker sees it: the first (longest) FROM folder it lies in becomes TO."""
    for src, dst in path_map:
        head = src.rstrip(b"/")
        if path == head or path.startswith(head + b"/"):
            return dst.rstrip(b"/") + path[len(head) :]
    return path


def local_workers(address: str) -> int | None:
    """N of ``local:N`` (None for a scheduler address); ValueError when N is not a count."""
    if not address.startswith(LOCAL_PREFIX):
        return None
    count = address[len(LOCAL_PREFIX) :]
    if not count.isdigit() or int(count) < 1:
        raise ValueError(f"--dask {address!r}: expected local:N with N at least 1, e.g. local:2")
    return int(count)


def _analyse_remote(path: bytes, device: str, features_version: int) -> Any:
    """The task a worker runs for one track (a ``Taught`` or the ``DecodeError``)."""
    if features_version != FEATURES_VERSION:
        raise ClusterError(
            f"the Dask worker on {socket.gethostname()} runs musicorg {musicorg.__version__} "
            f"with features version {FEATURES_VERSION}, this machine version "
            f"{features_version}: install the same musicorg on every worker"
        )
    if not os.access(path, os.R_OK):
        raise NotOnWorker(path, socket.gethostname())
    return analysis.analyse_here(path, device)


class DaskRunner:
    """A :data:`musicorg.analyse.analysis.Runner` that sends each track to the cluster of
    ``client`` and yields the results as they come back."""

    def __init__(
        self, client: Any, options: DaskOptions, device: str, progress: ProgressFn
    ) -> None:
        self.client = client
        self.options = options
        self.device = device
        self.progress = progress
        self.run = uuid.uuid4().hex[:8]  # task names of one run never meet another run's

    def __call__(self, todo: list[AudioFile], cancel: CancelFn) -> Iterator[tuple[AudioFile, Any]]:
        pending: dict[Any, AudioFile] = {}
        arrived: queue.SimpleQueue[Any] = queue.SimpleQueue()  # futures, as they finish
        todo_left = iter(todo)
        yielded = 0
        idle_said = False
        try:
            while True:
                threads = sum(self.client.nthreads().values())
                limit = max(4, IN_FLIGHT_PER_THREAD * threads)
                self._top_up(pending, todo_left, limit, arrived)
                if not pending:
                    return
                try:
                    fut = arrived.get(timeout=POLL_S)
                except queue.Empty:
                    if not threads and not idle_said:
                        self.progress(yielded, len(todo), self._no_workers())
                    idle_said = not threads
                    check(cancel)
                    continue
                check(cancel)
                item = pending.pop(fut)
                yielded += 1
                yield item, self._outcome(fut, item)
        finally:
            if pending:
                self.client.cancel(list(pending))

    def _top_up(
        self,
        pending: dict[Any, AudioFile],
        todo_left: Iterator[AudioFile],
        limit: int,
        arrived: queue.SimpleQueue[Any],
    ) -> None:
        while len(pending) < limit:
            item = next(todo_left, None)
            if item is None:
                return
            fut = self.client.submit(
                _analyse_remote,
                map_path(item.path, self.options.path_map),
                self.device,
                FEATURES_VERSION,
                key=f"musicorg-analyse-{self.run}-{item.content_key}",
            )
            pending[fut] = item
            fut.add_done_callback(arrived.put)

    def _no_workers(self) -> str:
        return f"Waiting for Dask workers: the scheduler at {self.options.address} has none…"

    def _outcome(self, fut: Any, item: AudioFile) -> Any:
        """The track's result, a problem for a track that kills its workers, or ClusterError
        for what no rerun on this file would change."""
        # lazy: dask is optional (the cluster extra); this module loads only for a cluster run
        from distributed import KilledWorker

        if fut.status == "cancelled":
            raise ClusterError(
                f"the Dask scheduler at {self.options.address} dropped the work (stopped, or "
                "the connection was lost); what was analysed is kept: run the command again"
            )
        if fut.status != "error":
            return fut.result()  # (one lost with its worker since comes back when run again)
        exc = fut.exception()
        if isinstance(exc, KilledWorker):
            return DecodeError(
                "unreadable",
                f"{item.display}: every Dask worker that tried to analyse it died "
                "(it may crash the decoder)",
            )
        if isinstance(exc, NotOnWorker):
            if not os.access(item.path, os.R_OK):
                # Gone here too (deleted since the scan): the problem the local path notes.
                return analysis.analyse_here(item.path, self.device)
            raise ClusterError(
                f"the Dask worker on {exc.host} cannot read {os.fsdecode(exc.path)} "
                f"(here: {item.display}); mount the music there, or map the folders with "
                "--path-map FROM=TO"
            )
        if isinstance(exc, ClusterError):
            raise exc
        raise ClusterError(
            f"a Dask worker failed on {item.display} ({type(exc).__name__}: {exc}); does every "
            f"worker have musicorg {musicorg.__version__} installed (pip install "
            "'musicorg[cluster]')?"
        )


@contextmanager
def connect(
    options: DaskOptions, *, device: str = "auto", progress: ProgressFn = no_progress
) -> Iterator[DaskRunner]:
    """A runner on the cluster of ``options`` (a ``LocalCluster`` started for ``local:N``, shut
    down on leaving); the client lets go of everything it sent when it closes."""
    try:
        # lazy: dask is optional (the cluster extra) and is loaded only for a cluster run
        from distributed import Client, LocalCluster
    except ImportError as exc:
        raise ClusterError(
            "analysis on Dask needs the cluster extra: pip install 'musicorg[cluster]'"
        ) from exc
    workers = local_workers(options.address)
    with ExitStack() as stack:
        if workers is not None:
            progress(0, 0, f"Starting a local Dask cluster of {workers} worker processes…")
            cluster = stack.enter_context(
                LocalCluster(
                    n_workers=workers,
                    threads_per_worker=1,
                    processes=True,
                    dashboard_address=None,
                    # Its workers' comings and goings are not news to someone who asked
                    # for a cluster of this machine's cores; errors still show.
                    silence_logs=logging.ERROR,
                )
            )
            client = stack.enter_context(Client(cluster, set_as_default=False))
        else:
            progress(0, 0, f"Connecting to the Dask scheduler at {options.address}…")
            try:
                client = stack.enter_context(
                    Client(options.address, timeout=CONNECT_TIMEOUT_S, set_as_default=False)
                )
            except (OSError, TimeoutError) as exc:
                raise ClusterError(
                    f"cannot reach the Dask scheduler at {options.address}: {exc}"
                ) from exc
        yield DaskRunner(client, options, device, progress)
