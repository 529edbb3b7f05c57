"""The commands that find music by its sound and its words rather than by its playlists:
similar (with --minus: mix by example), path, ask (in words), foryou (from the plays), map."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Final, Protocol, TypeVar

from musicorg.cli.common import (
    CommandError,
    Stderr,
    Subparsers,
    add_command,
    json_flag,
    print_json,
    printable,
)
from musicorg.store import userlists
from musicorg.store.db import Catalogue

HELP: Final = {
    "similar": "more like this: nearest tracks to one or more seeds (--minus: less like others)",
    "path": "a smooth sequence of tracks from A to B",
    "ask": "a playlist from a few words: genres, artists, decades, moods (calm jazz, not metal)",
    "foryou": "a playlist like what you played most and lately",
    "map": "compute the 2-D map of the library",
}


def register(sub: Subparsers) -> None:
    p = add_command(sub, HELP, "similar", cmd_similar)
    p.add_argument("files", nargs="+", metavar="FILE", help="seed tracks (catalogued files)")
    p.add_argument("-n", type=int, default=25, help="how many tracks (default 25)")
    p.add_argument(
        "--minus",
        action="append",
        default=[],
        metavar="FILE",
        help="a track to move away from (repeat for several)",
    )
    p.add_argument(
        "--minus-weight",
        type=float,
        default=0.5,
        metavar="W",
        help="how far to move away from the --minus tracks (default 0.5)",
    )
    json_flag(p)
    p.add_argument("--save", metavar="NAME", help="save the result as a user playlist")

    p = add_command(sub, HELP, "path", cmd_path)
    p.add_argument("a", metavar="A", help="the first track (a catalogued file)")
    p.add_argument("b", metavar="B", help="the last track")
    p.add_argument("-n", type=int, default=12, help="at most this many tracks, A and B included")
    p.add_argument("--radius", type=float, help="corridor radius r (default: adaptive)")
    json_flag(p)
    p.add_argument("--save", metavar="NAME", help="save the path as a user playlist")

    p = add_command(sub, HELP, "ask", cmd_ask)
    p.add_argument(
        "words", nargs="+", metavar="WORDS", help='what to play ("calm jazz", "80s not metal")'
    )
    p.add_argument("-n", type=int, default=30, help="how many tracks (default 30)")
    json_flag(p)
    p.add_argument("--save", metavar="NAME", help="save the result as a user playlist")

    p = add_command(sub, HELP, "foryou", cmd_foryou)
    p.add_argument("-n", type=int, default=30, help="how many tracks (default 30)")
    json_flag(p)
    p.add_argument("--save", metavar="NAME", help="save the result as a user playlist")

    p = add_command(sub, HELP, "map", cmd_map)
    p.add_argument("--umap", action="store_true", help="also the UMAP map (PCA is always made)")
    p.add_argument("--refit", action="store_true", help="fit again instead of placing new tracks")
    json_flag(p)


def _print_tracks(rows: list[tuple[str, str | None, str | None, str]]) -> None:
    for i, (path, artist, title, extra) in enumerate(rows, start=1):
        name = f"{artist or '?'} - {title or Path(path).stem}"
        print(printable(f"{i:3}. {name}  [{extra}]"))
        print(printable(f"     {path}"))


def _save_list(cat: Catalogue, name: str | None, track_ids: list[int]) -> dict[str, Any] | None:
    if not name:
        return None
    pid, replaced = userlists.save(cat, name, track_ids)
    return {"id": pid, "name": " ".join(name.split()), "replaced": replaced}


def _saved_line(saved: dict[str, Any] | None) -> None:
    if saved:
        verb = "Replaced" if saved["replaced"] else "Saved"
        print(printable(f"{verb} the playlist {saved['name']!r}."))


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
    note: Callable[[W], str | None] | None = None,
) -> int:
    """Run a walk in the latent space, save it with --save, print it as JSON or with ``show``
    (and ``note``'s line, if any, on stderr: what the user should know, JSON or not)."""
    # lazy: the organise stage loads numpy; start-up stays light
    from musicorg.organise import similar

    try:
        result = walk()
    except similar.SimilarError as exc:
        raise CommandError(args.command, exc) from exc
    said = note(result) if note is not None else None
    if said:
        print(printable(said), file=sys.stderr)
    saved = _save_list(cat, args.save, [t.track_id for t in result.tracks])
    if args.json:
        print_json({**result.as_dict(), "saved": saved})
        return 0
    show(result)
    _saved_line(saved)
    return 0


def cmd_similar(args: argparse.Namespace, cat: Catalogue) -> int:
    # lazy: the organise stage loads numpy; start-up stays light
    from musicorg.organise import similar

    def walk() -> similar.SimilarResult:
        return similar.similar(
            cat,
            similar.resolve_tracks(cat, args.files),
            n=args.n,
            minus=similar.resolve_tracks(cat, args.minus),
            minus_weight=args.minus_weight,
        )

    def show(result: similar.SimilarResult) -> None:
        less = ", less like the subtracted ones" if result.minus else ""
        print(f"{len(result.tracks)} tracks like the seeds{less} ({result.metric}):")
        _print_tracks([(t.path, t.artist, t.title, f"d={t.distance:.3f}") for t in result.tracks])
        if result.near_minus:
            print(f"({result.near_minus} tracks very close to a subtracted one left out)")
        if result.duplicates_collapsed:
            print(f"({result.duplicates_collapsed} copies of listed songs left out)")
        if result.artist_conflict:
            print(printable(f"note: {result.artist_conflict}"))

    return _run_walk(args, cat, walk, show)


def cmd_path(args: argparse.Namespace, cat: Catalogue) -> int:
    # lazy: the organise stage loads numpy; start-up stays light
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


def cmd_ask(args: argparse.Namespace, cat: Catalogue) -> int:
    # lazy: the organise stage loads numpy; start-up stays light
    from musicorg.organise import ask

    text = " ".join(args.words)

    def walk() -> ask.AskResult:
        return ask.ask(cat, text, n=args.n)

    def show(result: ask.AskResult) -> None:
        print(printable(f"{len(result.tracks)} tracks for: {', '.join(result.terms)}"))
        _print_tracks(
            [(t.path, t.artist, t.title, " · ".join(r.shown for r in t.why)) for t in result.tracks]
        )
        if result.artist_conflict:
            print(printable(f"note: {result.artist_conflict}"))

    def unknown(result: ask.AskResult) -> str | None:
        return f"not understood: {', '.join(result.unknown)}" if result.unknown else None

    return _run_walk(args, cat, walk, show, unknown)


def cmd_foryou(args: argparse.Namespace, cat: Catalogue) -> int:
    # lazy: the organise stage loads numpy; start-up stays light
    from musicorg.organise import foryou

    def walk() -> foryou.ForYouResult:
        return foryou.for_you(cat, n=args.n)

    def show(result: foryou.ForYouResult) -> None:
        print(f"Made from the {len(result.seeds)} tracks you played most and lately:")
        for s in result.seeds:
            when = time.strftime("%Y-%m-%d %H:%M", time.localtime(s.last_played or 0))
            name = f"{s.artist or '?'} - {s.title or Path(s.path).stem}"
            print(printable(f"   - {name}  [{s.play_count} plays, last {when}]"))
        print(
            f"{len(result.tracks)} tracks for you (left out: {result.just_heard} just heard, "
            f"{result.skipped} skipped):"
        )
        _print_tracks([(t.path, t.artist, t.title, f"score {t.score:.3f}") for t in result.tracks])
        if result.artist_conflict:
            print(printable(f"note: {result.artist_conflict}"))

    return _run_walk(args, cat, walk, show)


def cmd_map(args: argparse.Namespace, cat: Catalogue) -> int:
    # lazy: the pipeline loads every stage (numpy, scipy, librosa); start-up stays light
    from musicorg.app import pipeline
    from musicorg.organise import mapping

    progress = Stderr(args.quiet)
    reports: list[mapping.MapReport] = []
    try:
        for method in ("pca", "umap") if args.umap else ("pca",):
            reports.append(pipeline.update_map(cat, method, refit=args.refit, progress=progress))
    except mapping.MapError as exc:
        progress.end()
        raise CommandError("map", exc) from exc
    progress.end()
    if args.json:
        print_json([r.as_dict() for r in reports])
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
