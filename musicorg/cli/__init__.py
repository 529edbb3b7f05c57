"""The ``musicorg`` command: the GUI with no arguments, every stage headless as a subcommand."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol, TypeVar

from musicorg import __version__, paths
from musicorg import settings as settings_mod
from musicorg.app import listeners
from musicorg.jobs import Cancelled
from musicorg.store import safety
from musicorg.store.db import Catalogue, CatalogueError

log = logging.getLogger("musicorg")

COMMANDS: list[tuple[str, str]] = [
    ("scan", "catalogue music folders (incremental)"),
    ("problems", "files that could not be read, and why"),
    ("stats", "tracks by format, with lyrics, missing, total duration"),
    ("tracks", "one row per track, with tags (and the top tags heard in the audio)"),
    ("prune", "forget tracks that are missing for good, after confirming"),
    ("relocate", "move a library folder without re-analysis"),
    ("lyrics", "look for lyrics again (sidecars; Genius with --genius)"),
    ("analyze", "audio features and embeddings with the active model"),
    ("embeddings", "write the latent means to an .npz file"),
    ("playlists", "automatic playlists"),
    ("similar", "more like this: nearest tracks to one or more seeds"),
    ("path", "a smooth sequence of tracks from A to B"),
    ("map", "compute the 2-D map of the library"),
    ("export", "write playlists as .m3u8 files"),
    ("import", "read an .m3u/.m3u8 file into a user playlist"),
    ("retrain", "retrain the model on this library"),
    ("models", "list, use, revert or delete model versions"),
]


class Stderr:
    """Progress on stderr: a rewritten line on a terminal, sparse lines otherwise."""

    def __init__(self, quiet: bool = False) -> None:
        self.quiet = quiet
        self.tty = sys.stderr.isatty()
        self._last = ""

    def __call__(self, done: int, total: int, text: str) -> None:
        if self.quiet:
            return
        line = f"[{done}/{total}] {text}" if total else text
        if self.tty:
            sys.stderr.write("\r\x1b[2K" + line[:200])
            sys.stderr.flush()
        elif line != self._last and (total == 0 or done == total or done % 1000 == 0):
            sys.stderr.write(line + "\n")
        self._last = line

    def end(self) -> None:
        if self.tty and not self.quiet and self._last:
            sys.stderr.write("\n")


def _common(parser: argparse.ArgumentParser, *, top: bool) -> None:
    default = None if top else argparse.SUPPRESS
    parser.add_argument(
        "--db",
        metavar="FILE",
        default=default,
        help="catalogue file (default: the user data dir)",
    )
    parser.add_argument(
        "--demo",
        action="store_true",
        default=False if top else argparse.SUPPRESS,
        help="use the bundled demo library and its own catalogue",
    )
    parser.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        default=False if top else argparse.SUPPRESS,
        help="no progress output",
    )


def build_parser() -> argparse.ArgumentParser:
    epilog = "commands:\n" + "\n".join(f"  {n:<11} {h}" for n, h in COMMANDS)
    epilog += "\n\nWith no command, the desktop app opens."
    parser = argparse.ArgumentParser(
        prog="musicorg",
        description="Organise a music library into automatic playlists and a map.",
        epilog=epilog,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"musicorg {__version__}")
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="start the GUI offscreen, run the pipeline, save a screenshot, exit",
    )
    parser.add_argument(
        "--screenshot",
        metavar="PNG",
        help="with --smoke: where to save the screenshot (default: the cache dir's smoke.png)",
    )
    _common(parser, top=True)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    helps = dict(COMMANDS)

    def add(name: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=helps[name], description=helps[name])
        _common(p, top=False)
        return p

    p = add("scan")
    p.add_argument("folders", nargs="*", metavar="DIR", help="folders (default: the saved ones)")
    p.add_argument("--json", action="store_true", help="print the report as JSON")

    for name in ("problems", "stats", "tracks"):
        add(name).add_argument("--json", action="store_true", help="print JSON")

    p = add("prune")
    p.add_argument("-y", "--yes", action="store_true", help="do not ask for confirmation")

    p = add("relocate")
    p.add_argument("old", metavar="OLD")
    p.add_argument("new", metavar="NEW")

    p = add("lyrics")
    p.add_argument("--genius", action="store_true", help="also ask Genius (needs a token)")
    p.add_argument("--token", help="Genius API token (default: settings or MUSICORG_GENIUS_TOKEN)")

    p = add("analyze")
    p.add_argument("--device", choices=settings_mod.DEVICES, help="where the model runs")
    p.add_argument(
        "--workers",
        type=int,
        default=max(1, min(4, (os.cpu_count() or 2) - 1)),
        help="decoding processes (default: one less than the cores, at most 4)",
    )

    p = add("embeddings")
    p.add_argument("out", metavar="OUT.npz")

    p = add("playlists")
    p.add_argument("--rebuild", action="store_true", help="cluster again now")
    p.add_argument(
        "--method",
        choices=settings_mod.CLUSTER_METHODS,
        help="clustering method (default: the setting, kmeans); implies --rebuild",
    )
    p.add_argument("--min", type=int, metavar="N", help="shortest playlist (default: setting)")
    p.add_argument("--max", type=int, metavar="N", help="longest playlist (default: setting)")
    p.add_argument("--rename", nargs=2, metavar=("ID", "NAME"), help="rename a playlist")
    p.add_argument("--pin", type=int, metavar="ID", help="pin a playlist (keeps its tracks)")
    p.add_argument("--unpin", type=int, metavar="ID", help="unpin a playlist")
    p.add_argument("--json", action="store_true", help="print JSON")

    p = add("retrain")
    p.add_argument("--epochs", type=int, help="epochs (default: 10, or 40 with --from-scratch)")
    p.add_argument(
        "--from-scratch",
        action="store_true",
        help="start from new weights (default: fine-tune the active model)",
    )
    p.add_argument("--device", choices=settings_mod.DEVICES, help="where training runs")
    p.add_argument(
        "--threads", type=int, default=0, help="CPU threads (default: half the cores, at most 4)"
    )
    p.add_argument("--json", action="store_true", help="print the result as JSON")

    p = add("models")
    msub = p.add_subparsers(dest="models_command", metavar="ACTION", required=True)
    for action, text in (
        ("list", "the bundled model and the retrained versions"),
        ("use", "make a version the active model"),
        ("revert", "go back to the bundled model"),
        ("delete", "delete a retrained version: its files and its data in this catalogue"),
    ):
        q = msub.add_parser(action, help=text, description=text)
        _common(q, top=False)
        if action == "list":
            q.add_argument("--json", action="store_true", help="print JSON")
        elif action != "delete":
            q.add_argument("--device", choices=settings_mod.DEVICES, help="where the model runs")
        if action in ("use", "delete"):
            q.add_argument("version", metavar="VERSION")
    p = add("similar")
    p.add_argument("files", nargs="+", metavar="FILE", help="seed tracks (catalogued files)")
    p.add_argument("-n", type=int, default=25, help="how many tracks (default 25)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("--save", metavar="NAME", help="save the result as a user playlist")

    p = add("path")
    p.add_argument("a", metavar="A", help="the first track (a catalogued file)")
    p.add_argument("b", metavar="B", help="the last track")
    p.add_argument("-n", type=int, default=12, help="at most this many tracks, A and B included")
    p.add_argument("--radius", type=float, help="corridor radius r (default: adaptive)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("--save", metavar="NAME", help="save the path as a user playlist")

    p = add("map")
    p.add_argument("--umap", action="store_true", help="also the UMAP map (PCA is always made)")
    p.add_argument("--refit", action="store_true", help="fit again instead of placing new tracks")
    p.add_argument("--json", action="store_true", help="print JSON")

    p = add("export")
    p.add_argument("dir", metavar="DIR", help="folder for the .m3u8 files")
    p.add_argument("--absolute", action="store_true", help="always write absolute paths")
    p.add_argument(
        "--playlist", action="append", metavar="NAME", help="only this playlist (repeatable)"
    )

    p = add("import")
    p.add_argument("file", metavar="FILE", help="an .m3u or .m3u8 file")
    p.add_argument("--name", help="name of the new playlist (default: from the file)")

    return parser


def _open_catalogue(args: argparse.Namespace) -> Catalogue:
    if args.db:
        return Catalogue(Path(args.db))
    if args.demo:
        return Catalogue(paths.demo_db_path())
    return Catalogue(paths.default_db_path())


def _print_json(data: Any) -> None:
    json.dump(data, sys.stdout, indent=2, ensure_ascii=False)
    sys.stdout.write("\n")


def _fmt_duration(seconds: float) -> str:
    total = round(seconds)
    h, rem = divmod(total, 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def cmd_scan(args: argparse.Namespace, cat: Catalogue) -> int:
    from musicorg.ingest import scanner

    folders: list[str] = list(args.folders)
    if not folders and args.demo:
        folders = [str(paths.demo_dir())]
    if not folders:
        folders = settings_mod.load().music_folders
    if not folders:
        print("musicorg scan: no folder given and none saved; try: musicorg scan ~/Music")
        return 2
    if args.folders and not args.demo and not args.db:
        current = settings_mod.load(env=False)
        merged = list(dict.fromkeys([*current.music_folders, *map(_abs, args.folders)]))
        if merged != current.music_folders:
            settings_mod.update(music_folders=merged)
    progress = Stderr(args.quiet)
    report = scanner.scan(cat, folders, progress=progress)
    progress.end()
    if args.json:
        _print_json(
            {
                "added": report.added,
                "updated": report.updated,
                "moved": [{"from": a, "to": b} for a, b in report.moved],
                "missing": report.missing,
                "restored": report.restored,
                "problems": [{"path": p, "kind": k, "message": m} for p, k, m in report.problems],
                "unchanged": report.unchanged,
                "vanished_folders": report.vanished_roots,
                "seconds": round(report.seconds, 3),
            }
        )
        return 0
    if not report.changed:
        print(f"Nothing changed ({report.unchanged} tracks checked in {report.seconds:.1f} s).")
    else:
        print(report.summary())
        for old, new in report.moved[:20]:
            print(f"  moved: {old} -> {new}")
        for path, kind, msg in report.problems[:20]:
            print(f"  problem ({kind}): {path}: {msg}")
        if len(report.problems) > 20:
            print(f"  … and {len(report.problems) - 20} more: see `musicorg problems`")
    for folder in report.vanished_roots:
        print(f"warning: folder not found: {folder} (its tracks are kept, marked missing)")
    return 0


def _abs(folder: str) -> str:
    return os.path.abspath(os.path.expanduser(folder))


def cmd_problems(args: argparse.Namespace, cat: Catalogue) -> int:
    from musicorg.store import library

    rows = library.problems(cat)
    if args.json:
        _print_json([r.as_dict() for r in rows])
    elif not rows:
        print("No problems.")
    else:
        for r in rows:
            print(f"{r.stage:8} {r.kind:18} {r.path}\n{'':27} {r.message}")
    return 0


def cmd_stats(args: argparse.Namespace, cat: Catalogue) -> int:
    from musicorg.store import library

    s = library.stats(cat)
    if args.json:
        _print_json(s)
        return 0
    print(f"Tracks:    {s['tracks']} ({s['available']} available, {s['missing']} missing)")
    print(f"Duration:  {_fmt_duration(s['total_duration_s'])}")
    print(f"Lyrics:    {s['with_lyrics']}")
    print("Formats:   " + ", ".join(f"{k} {v}" for k, v in s["by_format"].items()))
    print(f"Problems:  {s['problems']}")
    for folder in s["folders"]:
        print(f"Folder:    {folder}")
    return 0


def cmd_tracks(args: argparse.Namespace, cat: Catalogue) -> int:
    from musicorg.store import library

    rows = library.tracks(cat)
    if args.json:
        _print_json([r.as_dict() for r in rows])
        return 0
    for r in rows:
        dur = _fmt_duration(r.duration) if r.duration else "?"
        flag = " (missing)" if r.missing else ""
        # The top three words heard in the audio (all of them, with probabilities: --json).
        heard = f"  ~ {', '.join(t.label for t in r.tags[:3])}" if r.tags else ""
        print(
            f"{r.id:6} {r.artist or '?'} - {r.title or Path(r.path).stem} "
            f"[{r.album or ''}{', ' + str(r.year) if r.year else ''}] {r.genre or ''} {dur}{flag}"
            f"{heard}"
        )
    return 0


def cmd_prune(args: argparse.Namespace, cat: Catalogue) -> int:
    from musicorg.store import library

    missing = library.missing_tracks(cat)
    if not missing:
        print("No missing tracks.")
        return 0
    for path in missing[:20]:
        print(f"  {path}")
    if len(missing) > 20:
        print(f"  … and {len(missing) - 20} more")
    if not args.yes:
        if not sys.stdin.isatty():
            print("Refusing to prune without confirmation: run `musicorg prune --yes`.")
            return 1
        answer = input(f"Forget these {len(missing)} missing tracks? [y/N] ")
        if answer.strip().lower() not in ("y", "yes"):
            print("Nothing pruned.")
            return 1
    n = library.prune_missing(cat)
    print(f"Forgot {n} missing tracks.")
    return 0


def cmd_relocate(args: argparse.Namespace, cat: Catalogue) -> int:
    from musicorg.store import library

    n = library.relocate(cat, _abs(args.old), _abs(args.new))
    if not args.db and not args.demo:
        current = settings_mod.load(env=False)
        old, new = _abs(args.old), _abs(args.new)
        folders = [
            new + f[len(old) :] if f == old or f.startswith(old + "/") else f
            for f in current.music_folders
        ]
        if folders != current.music_folders:
            settings_mod.update(music_folders=folders)
    print(f"Relocated {n} tracks from {args.old} to {args.new}.")
    return 0


def cmd_lyrics(args: argparse.Namespace, cat: Catalogue) -> int:
    from musicorg.ingest import lyrics

    progress = Stderr(args.quiet)
    sidecars = lyrics.refresh_sidecars(cat, progress=progress)
    progress.end()
    print(f"Sidecar lyrics: {sidecars} new or changed.")
    if args.genius:
        token = args.token or settings_mod.load().genius_token
        if not token:
            print(
                "Genius needs an API token: pass --token, set MUSICORG_GENIUS_TOKEN, "
                "or save one in the settings."
            )
            return 2
        try:
            result = lyrics.fetch_genius(cat, token, progress=progress)
        except lyrics.GeniusAuthError as exc:
            progress.end()
            print(f"musicorg lyrics: {exc}", file=sys.stderr)
            return 1
        progress.end()
        print(result.summary())
    return 0


def cmd_analyze(args: argparse.Namespace, cat: Catalogue) -> int:
    from musicorg.app import pipeline
    from musicorg.model.bundle import ModelIntegrityError
    from musicorg.store import library

    if library.track_count(cat) == 0:
        scan = "musicorg --demo scan" if args.demo else "musicorg scan DIR"
        print(f"The catalogue has no tracks yet: run `{scan}` first.", file=sys.stderr)
        return 1
    device = args.device or settings_mod.load().device
    progress = Stderr(args.quiet)
    try:
        report = pipeline.analyse(cat, device=device, workers=args.workers, progress=progress)
    except ModelIntegrityError as exc:
        progress.end()
        print(f"musicorg analyze: {exc}", file=sys.stderr)
        return 1
    except RuntimeError as exc:
        progress.end()
        if "CUDA" in str(exc) or "cuda" in str(exc):
            print(f"musicorg analyze: {exc}", file=sys.stderr)
            return 1
        raise
    progress.end()
    if report.model_warning:
        print(f"warning: {report.model_warning}", file=sys.stderr)
    print(report.summary(forgotten=False))
    if report.forgotten:
        print(report.forgotten)
    for path, kind, msg in report.problems[:20]:
        print(f"  problem ({kind}): {path}: {msg}")
    if report.embedded:
        # Re-cluster only when this analysis added enough new tracks (or none were built).
        result = pipeline.update_playlists(cat, progress=progress)
        progress.end()
        if result is not None and result.rebuilt:
            print(
                f"Automatic playlists rebuilt: {len(result.playlists)} (see `musicorg playlists`)."
            )
    return 0


def cmd_embeddings(args: argparse.Namespace, cat: Catalogue) -> int:
    import numpy as np

    from musicorg.app import models as modelstore
    from musicorg.store.vectors import embeddings

    names, _ids, vectors = embeddings(cat, modelstore.active_version(cat))
    if not names:
        print("No embeddings yet: run `musicorg analyze` first.", file=sys.stderr)
        return 1
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    np.savez(out, paths=np.array(names, dtype=str), vectors=vectors.astype(np.float32))
    print(f"Wrote {len(names)} vectors of {vectors.shape[1]} dimensions to {out}.")
    return 0


def _print_tracks(rows: list[tuple[str, str | None, str | None, str]]) -> None:
    for i, (path, artist, title, extra) in enumerate(rows, start=1):
        name = f"{artist or '?'} - {title or Path(path).stem}"
        print(f"{i:3}. {name}  [{extra}]\n     {path}")


def _save_list(cat: Catalogue, name: str | None, track_ids: list[int]) -> dict[str, Any] | None:
    from musicorg.store import userlists

    if not name:
        return None
    pid, replaced = userlists.save(cat, name, track_ids)
    return {"id": pid, "name": " ".join(name.split()), "replaced": replaced}


def _saved_line(saved: dict[str, Any] | None) -> None:
    if saved:
        verb = "Replaced" if saved["replaced"] else "Saved"
        print(f"{verb} the playlist {saved['name']!r}.")


class _Listed(Protocol):
    @property
    def track_id(self) -> int: ...


class _Walk(Protocol):
    """What ``similar`` and ``path`` answer: tracks in order, and the whole as JSON."""

    @property
    def tracks(self) -> Sequence[_Listed]: ...

    def as_dict(self) -> dict[str, Any]: ...


W = TypeVar("W", bound=_Walk)


def _run_walk(
    args: argparse.Namespace,
    cat: Catalogue,
    walk: Callable[[], W],
    show: Callable[[W], None],
) -> int:
    """Run a walk in the latent space, save it with --save, print it as JSON or with ``show``."""
    from musicorg.organise import similar

    try:
        result = walk()
    except similar.SimilarError as exc:
        print(f"musicorg {args.command}: {exc}", file=sys.stderr)
        return 1
    saved = _save_list(cat, args.save, [t.track_id for t in result.tracks])
    if args.json:
        _print_json({**result.as_dict(), "saved": saved})
        return 0
    show(result)
    _saved_line(saved)
    return 0


def cmd_similar(args: argparse.Namespace, cat: Catalogue) -> int:
    from musicorg.organise import similar

    def walk() -> similar.SimilarResult:
        return similar.similar(cat, similar.resolve_tracks(cat, args.files), n=args.n)

    def show(result: similar.SimilarResult) -> None:
        print(f"{len(result.tracks)} tracks like the seeds ({result.metric}):")
        _print_tracks([(t.path, t.artist, t.title, f"d={t.distance:.3f}") for t in result.tracks])
        if result.duplicates_collapsed:
            print(f"({result.duplicates_collapsed} copies of listed songs left out)")
        if result.artist_conflict:
            print(f"note: {result.artist_conflict}")

    return _run_walk(args, cat, walk, show)


def cmd_path(args: argparse.Namespace, cat: Catalogue) -> int:
    from musicorg.organise import similar, songpath

    def walk() -> songpath.PathResult:
        a, b = similar.resolve_tracks(cat, [args.a, args.b])
        return songpath.song_path(cat, a, b, n=args.n, radius=args.radius)

    def show(result: songpath.PathResult) -> None:
        print(f"Bound: {result.bound} ({result.metric}).")
        _print_tracks(
            [
                (t.path, t.artist, t.title, f"to B {t.to_b:.3f}, off the line {t.to_segment:.3f}")
                for t in result.tracks
            ]
        )
        if len(result.tracks) < args.n:
            print(
                f"note: only {len(result.tracks)} of {args.n} tracks fit within r; "
                "a larger --radius allows more"
            )

    return _run_walk(args, cat, walk, show)


def cmd_map(args: argparse.Namespace, cat: Catalogue) -> int:
    from musicorg.organise import mapping

    progress = Stderr(args.quiet)
    reports: list[mapping.MapReport] = []
    try:
        for method in ("pca", "umap") if args.umap else ("pca",):
            if args.refit or not mapping.has_map(cat, None, method):
                report = mapping.compute_map(cat, method, progress=progress)
            else:
                report = mapping.place_new(cat, method)
            reports.append(report)
    except mapping.MapError as exc:
        progress.end()
        print(f"musicorg map: {exc}", file=sys.stderr)
        return 1
    progress.end()
    if args.json:
        _print_json([r.as_dict() for r in reports])
        return 0
    for r in reports:
        if r.fitted or not r.points:
            print(r.summary())
        else:
            print(
                f"{r.method.upper()} map (model {r.model_version}): {r.placed} new tracks "
                f"placed, {r.points} in all; `musicorg map --refit` fits it again"
            )
    return 0


def cmd_export(args: argparse.Namespace, cat: Catalogue) -> int:
    from musicorg.io import m3u

    try:
        report = m3u.export_playlists(
            cat, _abs(args.dir), absolute=args.absolute, names=args.playlist
        )
    except m3u.PlaylistNotFound as exc:
        print(f"musicorg export: no playlist named {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"musicorg export: {exc}", file=sys.stderr)
        return 1
    for playlist, track in report.skipped:
        print(f"warning: {playlist}: skipped missing track {track}", file=sys.stderr)
    for name, path, count in report.files:
        print(f"{path}  ({count} tracks, {name})")
    print(report.summary())
    return 0


def cmd_import(args: argparse.Namespace, cat: Catalogue) -> int:
    from musicorg.io import m3u

    try:
        report = m3u.import_playlist(cat, args.file, name=args.name)
    except OSError as exc:
        print(f"musicorg import: {exc}", file=sys.stderr)
        return 1
    print(report.summary())
    for entry in report.unmatched:
        print(f"  not found (line {entry.line}): {entry.text}")
    return 0


def cmd_playlists(args: argparse.Namespace, cat: Catalogue) -> int:
    from musicorg.organise import playlists

    try:
        if args.rename:
            playlists.rename_playlist(cat, int(args.rename[0]), args.rename[1])
        if args.pin is not None:
            playlists.pin_playlist(cat, args.pin, True)
        if args.unpin is not None:
            playlists.pin_playlist(cat, args.unpin, False)
        edited = bool(args.rename) or args.pin is not None or args.unpin is not None
        rebuild = args.rebuild or args.method or args.min or args.max
        if not rebuild and not edited and playlists.needs_recluster(cat):
            rebuild = True
            if not args.quiet:
                print("Building playlists (first time, or many new tracks)…", file=sys.stderr)
        progress = Stderr(args.quiet)
        if rebuild:
            lists = playlists.build_playlists(
                cat,
                method=args.method,
                playlist_min=args.min,
                playlist_max=args.max,
                progress=progress,
            )
            progress.end()
        else:
            lists = playlists.list_playlists(cat)
    except (playlists.PlaylistError, ValueError) as exc:
        print(f"musicorg playlists: {exc}", file=sys.stderr)
        return 1
    if args.json:
        _print_json(
            [
                {
                    "id": p.id,
                    "group": p.group_name,
                    "group_index": p.group_index,
                    "name": p.name,
                    "size": p.size,
                    "duration": round(p.duration, 3),
                    "unavailable": p.unavailable,
                    "pinned": p.pinned,
                    "renamed": p.renamed,
                    "examples": p.examples,
                    "track_ids": p.track_ids,
                }
                for p in lists
            ]
        )
        return 0
    if not lists:
        print("No playlists yet: run `musicorg analyze`, then `musicorg playlists`.")
        return 0
    group: object = object()
    for p in lists:
        if p.group_index != group:
            group = p.group_index
            print(f"{p.group_name or 'Ungrouped'}")
        flags = "".join([" (pinned)" if p.pinned else "", " (renamed)" if p.renamed else ""])
        missing = f", {p.unavailable} unavailable" if p.unavailable else ""
        print(f"  {p.id:5}  {p.name}{flags}: {p.size} tracks, {_fmt_duration(p.duration)}{missing}")
        if p.examples:
            print(f"         e.g. {'; '.join(p.examples)}")
    total = sum(p.size for p in lists)
    print(f"{len(lists)} playlists, {total} tracks.")
    return 0


def cmd_retrain(args: argparse.Namespace, cat: Catalogue) -> int:
    from musicorg.app import retrain
    from musicorg.model.libreport import format_report

    def epoch_line(p: retrain.RetrainProgress) -> None:
        if not args.quiet:
            print(p.line(), file=sys.stderr, flush=True)

    def stage(text: str) -> None:
        if not args.quiet:
            print(text, file=sys.stderr, flush=True)

    opts = retrain.RetrainOptions(
        epochs=args.epochs,
        from_scratch=args.from_scratch,
        device=args.device or settings_mod.load().device,
        threads=args.threads,
    )
    try:
        result = retrain.retrain(cat, opts, progress=epoch_line, stage=stage)
    except (retrain.RetrainError, ValueError) as exc:
        print(f"musicorg retrain: {exc}", file=sys.stderr)
        return 1
    except RuntimeError as exc:
        if "cuda" in str(exc).lower():
            print(f"musicorg retrain: {exc}", file=sys.stderr)
            return 1
        raise
    except (Cancelled, KeyboardInterrupt):
        print(
            "Retraining stopped; the active model is unchanged. Run `musicorg retrain` again "
            "with the same options to resume from the last finished epoch.",
            file=sys.stderr,
        )
        return 130
    for w in result.warnings:
        print(f"warning: {w}", file=sys.stderr)
    if args.json:
        _print_json(result.as_dict())
        return 0
    resumed = f", resumed after epoch {result.resumed_from}" if result.resumed_from else ""
    print(
        f"Trained {result.version} ({'from scratch' if result.from_scratch else 'fine-tuned'} "
        f"from {result.base_version}, {result.epochs} epochs on {result.device}{resumed}, "
        f"{result.seconds_per_epoch:.1f} s per epoch; lyrics pipeline "
        f"{'refitted on ' + str(result.n_lyrics) + ' lyrics' if result.text_refit else 'kept'})."
    )
    print()
    print(format_report(result.report))
    print()
    print(
        f"The active model is unchanged. To use the new one: musicorg models use "
        f"{result.version}  (musicorg models revert goes back to the bundled model)"
    )
    return 0


def cmd_models(args: argparse.Namespace, cat: Catalogue) -> int:
    from musicorg.app import models as modelstore
    from musicorg.model import registry as model_registry
    from musicorg.model.bundle import ModelIntegrityError

    if args.models_command == "list":
        models = modelstore.list_models(cat, verify=True)
        if args.json:
            _print_json([m.as_dict() for m in models])
            return 0
        for m in models:
            mark = "*" if m.active else " "
            print(f"{mark} {m.version:24} {m.describe()}")
            print(
                f"  {'':24} {m.embedded} tracks embedded, {m.auto_playlists} automatic playlists"
                + (f"; REFUSED: {m.problem}" if m.problem else "")
            )
        return 0
    if args.models_command == "delete":
        return _delete_model(args.version, cat)
    device = args.device or settings_mod.load().device
    progress = Stderr(args.quiet)
    try:
        if args.models_command == "revert":
            report = modelstore.revert(cat, device=device, progress=progress)
        else:
            report = modelstore.use_model(cat, args.version, device=device, progress=progress)
    except (ModelIntegrityError, model_registry.ModelVersionError) as exc:
        progress.end()
        active = modelstore.active_version(cat)
        print(f"musicorg models: {exc}; the active model is unchanged ({active}).", file=sys.stderr)
        return 1
    except RuntimeError as exc:
        progress.end()
        if "cuda" in str(exc).lower():
            print(f"musicorg models: {exc}", file=sys.stderr)
            return 1
        raise
    progress.end()
    print(report.summary())
    if report.note:
        print(f"note: {report.note}")
    return 0


def _delete_model(version: str, cat: Catalogue) -> int:
    from musicorg.app import models as modelstore
    from musicorg.model import registry as model_registry

    if version != model_registry.bundled_version() and version == modelstore.active_version(cat):
        print(
            f"musicorg models delete: {version} is the active model of this catalogue; switch "
            "first (musicorg models revert, or musicorg models use VERSION).",
            file=sys.stderr,
        )
        return 1
    try:
        model_registry.delete_version(version)
    except model_registry.ModelVersionError as exc:
        print(f"musicorg models delete: {exc}", file=sys.stderr)
        return 1
    print(f"Deleted model {version}.")
    stale = modelstore.forget_stale_versions(cat)
    if stale:
        print(stale.summary())
    return 0


def _not_yet(name: str) -> Callable[[argparse.Namespace, Catalogue], int]:
    def run(_args: argparse.Namespace, _cat: Catalogue) -> int:
        print(f"musicorg {name}: not available in this version yet.", file=sys.stderr)
        return 2

    return run


HANDLERS: dict[str, Callable[[argparse.Namespace, Catalogue], int]] = {
    "scan": cmd_scan,
    "problems": cmd_problems,
    "stats": cmd_stats,
    "tracks": cmd_tracks,
    "prune": cmd_prune,
    "relocate": cmd_relocate,
    "lyrics": cmd_lyrics,
    "analyze": cmd_analyze,
    "embeddings": cmd_embeddings,
    "playlists": cmd_playlists,
    "similar": cmd_similar,
    "path": cmd_path,
    "map": cmd_map,
    "export": cmd_export,
    "import": cmd_import,
    "retrain": cmd_retrain,
    "models": cmd_models,
}


def setup_logging(verbose: bool = False) -> None:
    log_dir = paths.log_dir()
    handlers: list[logging.Handler] = []
    try:
        log_dir.mkdir(parents=True, exist_ok=True)
        handlers.append(logging.FileHandler(log_dir / "musicorg.log", encoding="utf-8"))
    except OSError:
        pass
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        handlers=handlers or [logging.NullHandler()],
    )


READ_ONLY = frozenset({"problems", "stats", "tracks", "embeddings"})


def _explain_damage(args: argparse.Namespace) -> None:
    path = (
        Path(args.db)
        if args.db
        else (paths.demo_db_path() if args.demo else paths.default_db_path())
    )
    if safety.check_catalogue(path) is None:
        return
    found = safety.backups(path)
    if found:
        print("Backups of this catalogue (newest first):", file=sys.stderr)
        for b in found:
            print(f"  {b}", file=sys.stderr)
        print(
            "To restore one, move the damaged file away and copy a backup in its place; the "
            "app offers this on start.",
            file=sys.stderr,
        )


def gui_main() -> int:
    return main([])


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    setup_logging()
    listeners.install()
    if args.command is None:
        from musicorg.gui.app import run_gui

        return int(
            run_gui(demo=args.demo, db=args.db, smoke=args.smoke, screenshot=args.screenshot)
        )
    handler = HANDLERS.get(args.command) or _not_yet(args.command)
    try:
        cat = _open_catalogue(args)
    except CatalogueError as exc:
        print(f"musicorg: {exc}", file=sys.stderr)
        _explain_damage(args)
        return 1
    if args.command not in READ_ONLY:
        safety.rotate_backups(cat.path)
    try:
        return handler(args, cat)
    except Cancelled:
        print("Cancelled; the work done so far is kept.", file=sys.stderr)
        return 130
    except KeyboardInterrupt:
        print("\nInterrupted; the work done so far is kept.", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader of our output went away (`musicorg tracks | head`): not an error.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except CatalogueError as exc:
        print(f"musicorg: {exc}", file=sys.stderr)
        return 1
    finally:
        cat.close()
