"""Scan benchmark: a first scan and a no-change rescan of many realistic files.

Generates N byte-distinct files of 4-8 MB in several containers (mp3, flac, ogg vorbis, opus,
m4a) from the real excerpts in tests/data: each file keeps a real header, real tags (with its
own title) and real first and last audio frames; the bulk in between is sparse on disk with
random 64-KiB blocks every 512 KiB, so 10,000 files of ~6 MB fit on a small disk while every
file stays distinct across its whole length. The files were just written, so the figures are
for a warm page cache: the CPU cost of scanning, not the speed of a cold disk.

    python scripts/bench_scan.py [--files 10000] [--dir /tmp/musicorg-bench-scan] [--keep]
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import struct
import sys
import tempfile
import time
from pathlib import Path

from mutagen.flac import FLAC
from mutagen.id3 import ID3, TIT2
from mutagen.mp4 import MP4
from mutagen.oggopus import OggOpus
from mutagen.oggvorbis import OggVorbis

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from musicorg.ingest import probe, scanner  # noqa: E402
from musicorg.store.db import Catalogue  # noqa: E402

DATA = ROOT / "tests" / "data"
TEMPLATES = {
    "mp3": "kevin_macleod_vibe_ace.mp3",
    "flac": "muldjord_chaos_god.flac",
    "ogg": "westlund_legends_of_the_north.ogg",
    "opus": "kevin_macleod_vibe_ace.opus",
    "m4a": "kevin_macleod_vibe_ace.m4a",
}
BLOCK = 64 * 1024
STRIDE = 512 * 1024


# The tagged file class and its title key, for every container but mp3 (ID3 frames).
TITLE_TAGS = {
    "flac": (FLAC, "title"),
    "ogg": (OggVorbis, "title"),
    "opus": (OggOpus, "title"),
    "m4a": (MP4, "\xa9nam"),
}


def _retitle(path: Path, ext: str, title: str) -> None:
    if ext == "mp3":
        tags = ID3(path)
        tags.add(TIT2(encoding=3, text=title))
        tags.save()
    elif ext in TITLE_TAGS:
        cls, key = TITLE_TAGS[ext]
        f = cls(path)  # type: ignore[no-untyped-call]
        f[key] = title
        f.save()


def make_template(ext: str, work: Path) -> tuple[bytes, bytes, bytes]:
    """(head, tail, original) of a real file, split inside its audio payload."""
    src = work / f"template.{ext}"
    shutil.copy(DATA / TEMPLATES[ext], src)
    _retitle(src, ext, "T" * 24)
    raw = src.read_bytes()
    with src.open("rb") as fh:
        fmt = probe.sniff(raw[:64])
        assert fmt is not None
        start, end = probe.payload_range(fh, fmt, len(raw))
    cut = start + min(96 * 1024, (end - start) // 2)
    tail_from = max(cut, end - 48 * 1024) if ext != "m4a" else end  # keep moov whole
    return raw[:cut], raw[tail_from:], raw


def write_file(
    path: Path, ext: str, head: bytes, tail: bytes, size: int, rng: random.Random
) -> None:
    body = size - len(head) - len(tail)
    with path.open("wb") as fh:
        fh.write(head)
        pos = len(head)
        while pos + BLOCK < len(head) + body:
            fh.seek(pos)
            fh.write(rng.randbytes(BLOCK))
            pos += STRIDE
        fh.seek(len(head) + body)
        fh.write(tail)
    if ext == "m4a":  # the mdat atom now spans the sparse body
        with path.open("r+b") as fh:
            start, _ = probe.payload_range(fh, probe.MP4, len(head) + len(tail))
            fh.seek(start - 8)
            fh.write(struct.pack(">I", body + (len(head) - start) + 8))


def generate(folder: Path, n: int, seed: int = 7) -> int:
    rng = random.Random(seed)
    work = folder / ".templates"
    work.mkdir(parents=True, exist_ok=True)
    templates = {ext: make_template(ext, work) for ext in TEMPLATES}
    exts = list(TEMPLATES)
    total = 0
    for i in range(n):
        ext = exts[i % len(exts)]
        head, tail, _ = templates[ext]
        title = f"Bench track {i:06d}".ljust(24)[:24].encode()
        head = head.replace(b"T" * 24, title, 1)
        sub = folder / f"artist{i % 97:02d}" / f"album{i % 13:02d}"
        sub.mkdir(parents=True, exist_ok=True)
        size = rng.randint(4 * 1024 * 1024, 8 * 1024 * 1024)
        write_file(sub / f"{i:06d} bench.{ext}", ext, head, tail, size, rng)
        total += size
    shutil.rmtree(work)
    return total


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--files", type=int, default=10_000)
    ap.add_argument("--dir", type=Path, default=Path(tempfile.gettempdir()) / "musicorg-bench-scan")
    ap.add_argument("--keep", action="store_true", help="keep the generated files")
    args = ap.parse_args()
    music = args.dir / "music"
    marker = args.dir / f"generated-{args.files}"
    if not marker.exists():
        shutil.rmtree(args.dir, ignore_errors=True)
        t0 = time.perf_counter()
        total = generate(music, args.files)
        marker.write_text(str(total))
        print(
            f"generated {args.files} files, {total / 1e9:.1f} GB apparent size "
            f"(mean {total / args.files / 1e6:.1f} MB) in {time.perf_counter() - t0:.0f} s"
        )
    db = args.dir / "bench.sqlite"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    os.sync()
    with Catalogue(db) as cat:
        t0 = time.perf_counter()
        first = scanner.scan(cat, [music])
        t1 = time.perf_counter()
        assert len(first.added) == args.files, (len(first.added), first.problems[:3])
        distinct = len(
            {
                k
                for (k,) in cat.engine.connect()
                .exec_driver_sql("SELECT content_key FROM tracks")
                .all()
            }
        )
        t2 = time.perf_counter()
        second = scanner.scan(cat, [music])
        t3 = time.perf_counter()
        assert not second.changed
    print(
        f"first scan: {args.files} files in {t1 - t0:.2f} s = {args.files / (t1 - t0):.0f} files/s"
        f" (target >= 1000 files/s); {distinct} distinct content keys"
    )
    print(f"no-change rescan: {t3 - t2:.2f} s for {args.files} files (target < 2 s)")
    if not args.keep:
        shutil.rmtree(args.dir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
