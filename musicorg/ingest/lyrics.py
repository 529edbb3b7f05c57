"""Lyrics: embedded tags (read by :mod:`musicorg.ingest.tags`), sidecar files, and optionally
Genius.

Order of preference: the file's own tags (ID3 USLT, Vorbis LYRICS/UNSYNCEDLYRICS, MP4 ©lyr),
then a sidecar ``.lrc`` or ``.txt`` with the same stem (LRC timestamps stripped), then Genius,
which is a stage of its own (``musicorg lyrics --genius``, :func:`fetch_genius`), off by default.
"""

from __future__ import annotations

import logging
import os
import re
import stat as stat_mod
import time
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from musicorg import __version__, paths
from musicorg.jobs import CancelFn, ProgressFn, check, never, no_progress
from musicorg.store import lyrics as stored
from musicorg.store import tracks
from musicorg.store.db import Catalogue

log = logging.getLogger(__name__)

SIDECAR_MAX_BYTES = 256 * 1024

_LRC_TIME = re.compile(r"\[\d{1,3}:\d{1,2}(?:[.:]\d{1,3})?\]")
_LRC_META = re.compile(r"^\s*\[(?:ar|ti|al|au|by|re|ve|length|offset|#):[^\]]*\]\s*$", re.I)
_LRC_WORD_TIME = re.compile(r"<\d{1,3}:\d{1,2}(?:[.:]\d{1,3})?>")


def strip_lrc(text: str) -> str:
    """Plain text from LRC: no [mm:ss.xx] stamps, no word stamps, no [ar:] style headers."""
    lines = []
    for line in text.splitlines():
        if _LRC_META.match(line):
            continue
        line = _LRC_WORD_TIME.sub("", _LRC_TIME.sub("", line)).strip()
        lines.append(line)
    return _tidy("\n".join(lines))


def _tidy(text: str) -> str:
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\ufeff", "")
    text = re.sub(r"\n{3,}", "\n\n", text)
    return text.strip()


def _decode(raw: bytes) -> str:
    for enc in ("utf-8-sig", "utf-16") if raw[:2] in (b"\xff\xfe", b"\xfe\xff") else ("utf-8-sig",):
        try:
            return raw.decode(enc)
        except UnicodeDecodeError:
            continue
    return raw.decode("latin-1")


def _inside(real: bytes, roots: Iterable[bytes | str]) -> bool:
    """Whether the resolved path ``real`` lies inside one of ``roots`` (resolved too)."""
    for root in roots:
        top = os.path.realpath(os.fsencode(root))
        if real == top or real.startswith(top.rstrip(os.sep.encode()) + os.sep.encode()):
            return True
    return False


def _sidecar_bytes(candidate: bytes, roots: Iterable[bytes | str]) -> bytes | None:
    """The bytes of a sidecar that is a regular file inside the roots, at most 256 KB.

    A symlink is followed only when its target lies inside a library root: a link to the
    settings or to ``/etc/shadow`` must not copy them into the catalogue. FIFOs and devices are
    refused before they are opened (opening a FIFO would block), and the file is checked again
    once open, so that swapping it in between gains nothing.
    """
    try:
        st = os.stat(candidate)
    except FileNotFoundError:
        return None
    except OSError as exc:
        log.warning("lyrics sidecar %s: cannot read it: %s", paths.fs_display(candidate), exc)
        return None
    shown = paths.fs_display(candidate)
    if not stat_mod.S_ISREG(st.st_mode):
        log.warning("lyrics sidecar %s: skipped, not a regular file", shown)
        return None
    real = os.path.realpath(candidate)
    if not _inside(real, roots):
        log.warning("lyrics sidecar %s: skipped, it resolves outside the music folders", shown)
        return None
    if st.st_size > SIDECAR_MAX_BYTES:
        log.warning("lyrics sidecar %s: skipped, larger than %d bytes", shown, SIDECAR_MAX_BYTES)
        return None
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        fd = os.open(real, flags | getattr(os, "O_BINARY", 0))
    except OSError as exc:
        log.warning("lyrics sidecar %s: cannot read it: %s", shown, exc)
        return None
    with os.fdopen(fd, "rb") as fh:
        now = os.fstat(fh.fileno())
        if not stat_mod.S_ISREG(now.st_mode) or (now.st_dev, now.st_ino) != (
            st.st_dev,
            st.st_ino,
        ):
            log.warning("lyrics sidecar %s: skipped, it changed while being read", shown)
            return None
        raw = fh.read(SIDECAR_MAX_BYTES + 1)
    if len(raw) > SIDECAR_MAX_BYTES:
        log.warning("lyrics sidecar %s: skipped, larger than %d bytes", shown, SIDECAR_MAX_BYTES)
        return None
    return raw


def read_sidecar(
    audio_path: bytes | str, *, roots: Iterable[bytes | str]
) -> tuple[str, str] | None:
    """Lyrics from ``<stem>.lrc`` or ``<stem>.txt`` next to the audio file, with their source.

    Only a regular file whose real path lies inside one of the library ``roots`` is read, and
    only up to :data:`SIDECAR_MAX_BYTES`; anything else is skipped with a log line.
    """
    roots = list(roots)
    stem = os.path.splitext(os.fsencode(audio_path))[0]
    for ext, source in ((b".lrc", "sidecar-lrc"), (b".txt", "sidecar-txt")):
        raw = _sidecar_bytes(stem + ext, roots)
        if raw is None:
            continue
        if b"\0" in raw[:1024] and raw[:2] not in (b"\xff\xfe", b"\xfe\xff"):
            continue  # not a lyrics file
        text = _decode(raw)
        text = strip_lrc(text) if ext == b".lrc" or _LRC_TIME.search(text) else _tidy(text)
        if text:
            return text, source
    return None


def refresh_sidecars(
    cat: Catalogue,
    *,
    progress: ProgressFn = no_progress,
    roots: Iterable[bytes | str] | None = None,
) -> int:
    """Pick up sidecar files added or edited since the scan, for tracks without tag lyrics.

    Sidecars are read only inside ``roots``: by default the catalogue's music folders.
    """
    roots = tracks.root_paths(cat) if roots is None else list(roots)
    rows = stored.of_available_tracks(cat)
    changes: list[tuple[int, str, str]] = []
    for i, (tid, path, source, text) in enumerate(rows):
        if source is not None and not source.startswith("sidecar") and source != "genius":
            continue  # the file's own tags win
        found = read_sidecar(path, roots=roots)
        if found is not None and (found[0], found[1]) != (text, source):
            changes.append((tid, found[0], found[1]))
        if i % 500 == 0:
            progress(i, len(rows), "Looking for sidecar lyrics…")
    if changes:
        stored.save(cat, changes)
    progress(len(rows), len(rows), f"{len(changes)} sidecar lyrics new or changed")
    return len(changes)


# --- Genius -----------------------------------------------------------------------------------

GENIUS_SOURCE = "genius"
GENIUS_TIMEOUT_S = 10.0
GENIUS_MISS_TTL_S = 90 * 24 * 3600.0  # Genius grows: a song not found is asked again after this
GENIUS_MAX_CONSECUTIVE_ERRORS = 10

# Where lyricsgenius sends its requests, as attributes of its client. Tests point them at a local
# fake server through these variables; nobody else should set them.
GENIUS_ROOT_ENV: dict[str, str] = {
    "API_ROOT": "MUSICORG_GENIUS_API_ROOT",  # https://api.genius.com/ (the token is sent here)
    "PUBLIC_API_ROOT": "MUSICORG_GENIUS_PUBLIC_API_ROOT",  # https://genius.com/api/ (search)
    "WEB_ROOT": "MUSICORG_GENIUS_WEB_ROOT",  # https://genius.com/ (song pages, scraped)
}


class GeniusAuthError(RuntimeError):
    """Genius refused the API token (HTTP 401). The stage stops: every request would fail."""


class GeniusHTTPError(RuntimeError):
    """Genius answered with an error status (429, 5xx, a blocked page): retried on a later run."""


class GeniusSong(Protocol):
    @property
    def lyrics(self) -> str: ...

    @property
    def title(self) -> str: ...


class GeniusClient(Protocol):
    """What :func:`fetch_genius` needs of a client: lyricsgenius' ``Genius.search_song``."""

    def search_song(self, title: str, artist: str) -> GeniusSong | None: ...


@dataclass
class GeniusResult:
    """What one Genius run did. ``found``, ``not_found`` and ``errors`` split ``asked``."""

    considered: int = 0  # tracks without any lyrics that have a title and an artist
    asked: int = 0  # songs asked of Genius in this run
    found: int = 0
    not_found: int = 0  # no such song, or no lyrics, or only a different song of the artist
    errors: int = 0  # network errors, timeouts, error statuses: not cached, asked again next run
    cached_hits: int = 0  # tracks answered from the cache without asking
    stored: int = 0  # tracks that got lyrics (asked or from the cache)
    stopped: str = ""  # why the run stopped before the end, if it did
    last_error: str = ""

    def summary(self) -> str:
        if not self.considered:
            return "Genius: nothing to look up (no track without lyrics has a title and an artist)."
        errors = f"{self.errors} error" + ("" if self.errors == 1 else "s")
        text = (
            f"Genius: {self.considered} tracks without lyrics; asked {self.asked} "
            f"({self.found} found, {self.not_found} not found, {errors}), "
            f"{self.cached_hits} answered from the cache; lyrics stored for {self.stored}."
        )
        if self.stopped:
            text += f" Stopped early: {self.stopped}."
        if self.errors:
            text += f" Last error: {self.last_error}. Tracks with errors are asked again next run."
        return text


class _Throttle:
    """At least ``interval`` seconds between the starts of two requests (monotonic clock)."""

    def __init__(
        self,
        interval: float,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.interval = max(0.0, interval)
        self._clock = clock
        self._sleep = sleep
        self._last: float | None = None

    def wait(self) -> None:
        if self._last is not None:
            remaining = self._last + self.interval - self._clock()
            while remaining > 0:
                self._sleep(remaining)
                remaining = self._last + self.interval - self._clock()
        self._last = self._clock()


_FEAT = re.compile(r"\s+(?:feat\.?|ft\.?|featuring)\s+.*$", re.I)
_TITLE_NOISE = re.compile(
    r"\s*[(\[](?:feat\.?|ft\.?|featuring|with)\s[^)\]]*[)\]]"  # (feat. X), [with Y]
    r"|\s*[(\[][^)\]]*\bremaster(?:ed)?\b[^)\]]*[)\]]"  # (Remastered 2011)
    r"|\s+-\s+(?:\d{4}\s+)?remaster(?:ed)?\b.*$",  # - 2011 Remaster
    re.I,
)


def _search_artist(artist: str) -> str:
    """The primary artist of a tag like ``A; B`` or ``A feat. B``: Genius matches on it."""
    first = re.split(r"[;\x00]", artist, maxsplit=1)[0]
    return " ".join(_FEAT.sub("", first).split())


def _search_title(title: str) -> str:
    """A title without featured-artist and remaster decorations, which Genius titles lack."""
    cleaned = " ".join(_TITLE_NOISE.sub("", title).split())
    return cleaned or " ".join(title.split())


def _norm(text: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


def genius_query(artist: str, title: str) -> str:
    """The cache key of a song: normalised ``artist`` and ``title`` joined by U+001F."""
    return f"{_norm(_search_artist(artist))}\x1f{_norm(_search_title(title))}"


def _loose(title: str) -> str:
    """A title for comparing: no (...) or [...] parts, no `` - suffix``, letters and digits only."""
    core = re.sub(r"[(\[][^)\]]*[)\]]", " ", title).split(" - ")[0]
    core = _FEAT.sub("", core)
    folded = unicodedata.normalize("NFKC", core).casefold()
    alnum = "".join(ch for ch in folded if ch.isalnum())
    return alnum or _norm(title)


def _same_song(ours: str, theirs: str) -> bool:
    """lyricsgenius falls back to *another* song of the artist when the title does not match."""
    return _loose(ours) == _loose(theirs)


_CONTRIBUTORS = re.compile(r"^\s*\d+\s*Contributors?", re.I)
_EMBED = re.compile(r"\s*\d*\s*Embed\s*$")
_ALSO_LIKE_LINE = re.compile(r"^[ \t]*You might also like[ \t]*(?:\n|$)", re.M)
_ALSO_LIKE_END = re.compile(r"[ \t]*You might also like[ \t]*(?=\n|$)")
_ALSO_LIKE_START = re.compile(r"^[ \t]*You might also like(?![ \t]+\w)", re.M)
_ALSO_LIKE = re.compile(r"You might also like(?![ \t]+\w)")  # between two glued lines
_TICKETS = re.compile(r"See [^\n]{1,80}? Live\s*Get tickets as low as \$\d+")


def clean_genius_lyrics(text: str, title: str | None = None) -> str:
    """Remove the page furniture that lyricsgenius sometimes leaves in the text.

    A leading ``12 Contributors…Title Lyrics`` header (or a lone ``Title Lyrics`` line), a trailing
    ``123Embed``, ``You might also like`` and ``See X Live / Get tickets`` interjections, and
    section headers such as ``[Chorus]``; then the usual whitespace tidying.
    """
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\u2005", " ")
    text = text.replace("\u205f", " ").replace("\u200b", "")
    lines = text.lstrip().split("\n")
    if lines:
        first = lines[0]
        m = _CONTRIBUTORS.match(first)
        if m:
            rest = first[m.end() :]
            cut = rest.find("Lyrics")
            lines[0] = rest[cut + len("Lyrics") :] if cut >= 0 else ""
        elif title and _norm(first) == _norm(f"{title} Lyrics"):
            lines[0] = ""
    text = "\n".join(lines)
    text = _EMBED.sub("", text)
    text = _TICKETS.sub("\n", text)
    text = _ALSO_LIKE_LINE.sub("", text)
    text = _ALSO_LIKE_END.sub("", text)
    text = _ALSO_LIKE_START.sub("", text)
    text = _ALSO_LIKE.sub("\n", text)
    text = re.sub(r"^[ \t]*\[[^\]\n]{1,80}\][ \t]*$", "", text, flags=re.M)  # section headers
    text = "\n".join(line.strip() for line in text.split("\n"))
    return _tidy(text)


def _auth_error(response: Any) -> GeniusAuthError:
    detail = ""
    try:
        body = response.json()
        detail = str(body.get("error_description") or body.get("meta", {}).get("message") or "")
    except Exception:
        detail = ""
    return GeniusAuthError(
        "Genius refused the API token (HTTP 401"
        + (f": {detail.rstrip('.')}" if detail else "")
        + "). Check the token: musicorg lyrics --genius --token TOKEN, MUSICORG_GENIUS_TOKEN, "
        "or the settings."
    )


def _make_client(token: str, throttle: _Throttle, timeout_s: float) -> GeniusClient:
    """A lyricsgenius client whose every HTTP request is throttled and has its status checked.

    Both happen in a requests transport adapter mounted on the client's session, so they hold
    for every request lyricsgenius makes (search, song, page). lyricsgenius itself reads any
    status as an answer (an error page becomes a song page without lyrics, i.e. a miss that
    would be cached), so error statuses are raised here, before it sees them.
    """
    # lyricsgenius and requests (~0.5 s): an optional stage, imported only when it runs
    import lyricsgenius
    from requests.adapters import HTTPAdapter

    # Not a subclass of Genius: lyricsgenius 3.15 sends the token only when the class is
    # named exactly "Genius" (PublicAPI.__init__ looks at self.__class__.__name__).
    genius = lyricsgenius.Genius(
        token,
        timeout=timeout_s,
        sleep_time=0.0,  # the throttle spaces the requests
        retries=0,  # a failed song is not cached and is asked again on the next run
        remove_section_headers=True,
        skip_non_songs=True,
        user_agent=f"musicorg/{__version__}",
    )
    for attr, var in GENIUS_ROOT_ENV.items():
        value = os.environ.get(var)
        if value:
            setattr(genius, attr, value if value.endswith("/") else value + "/")
    api_root = str(genius.API_ROOT)

    class _GeniusAdapter(HTTPAdapter):  # type: ignore[misc]
        def send(self, request: Any, *args: Any, **kwargs: Any) -> Any:
            throttle.wait()
            response = super().send(request, *args, **kwargs)
            status = int(response.status_code)
            url = str(request.url).split("?", 1)[0]
            if status == 401 and url.startswith(api_root):
                raise _auth_error(response)
            if status >= 400 and status != 404:  # 404: no such page or song, a plain miss
                raise GeniusHTTPError(f"HTTP {status} from {url}")
            return response

    adapter = _GeniusAdapter()
    genius._session.mount("http://", adapter)
    genius._session.mount("https://", adapter)
    client: GeniusClient = genius
    return client


def _genius_candidates(cat: Catalogue) -> list[tuple[int, str, str]]:
    out = []
    for tid, artist, title in stored.without_lyrics(cat):
        artist, title = _search_artist(artist), _search_title(title)
        if artist and title:
            out.append((tid, artist, title))
    return out


def _cached(cat: Catalogue, key: str, miss_ttl_s: float | None) -> tuple[bool, str | None]:
    """(usable, lyrics): a cached song, or a cached miss not older than ``miss_ttl_s``."""
    row = stored.genius_cached(cat, key)
    if row is None:
        return False, None
    lyrics, fetched_at = row
    if lyrics is None and miss_ttl_s is not None and time.time() - fetched_at > miss_ttl_s:
        return False, None
    return True, lyrics


def _ask(client: GeniusClient, artist: str, title: str) -> str | None:
    song = client.search_song(title, artist)
    if song is None or not song.lyrics:
        return None
    if not _same_song(title, song.title):
        log.info("Genius offered %r for %r by %s; not the same song", song.title, title, artist)
        return None
    return clean_genius_lyrics(song.lyrics, song.title) or None


def fetch_genius(
    cat: Catalogue,
    token: str,
    *,
    progress: ProgressFn = no_progress,
    cancel: CancelFn = never,
    min_interval_s: float = 1.0,
    client: GeniusClient | None = None,
    timeout_s: float = GENIUS_TIMEOUT_S,
    miss_ttl_s: float | None = GENIUS_MISS_TTL_S,
    max_consecutive_errors: int = GENIUS_MAX_CONSECUTIVE_ERRORS,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> GeniusResult:
    """Ask Genius for the lyrics of tracks that have none (``musicorg lyrics --genius``).

    Only available tracks with no lyrics at all (no tag, no sidecar) and with both a title and
    an artist are looked up, with lyricsgenius' ``search_song(title, artist)``; a song Genius
    offers under another title is treated as not found. Found lyrics are cleaned
    (:func:`clean_genius_lyrics`) and stored with source ``"genius"``; lyrics a track already has
    are never replaced. No other stage waits on this one.

    Politeness and resumability:

    - every HTTP request (search, song, page) starts at least ``min_interval_s`` after the
      previous one, measured with ``clock`` (``time.monotonic``); ``clock``/``sleep`` are
      injectable for tests. An injected ``client`` is throttled per song instead.
    - answers are cached in ``genius_cache`` under :func:`genius_query` (``artist\\x1ftitle``,
      normalised), misses too, so a second run asks nothing; a miss is asked again after
      ``miss_ttl_s`` (``None``: never). Duplicate songs in the library are asked once.
    - network errors, timeouts and error statuses (429, 5xx, a blocked page) are counted in
      ``errors`` and not cached, so the next run asks again; after ``max_consecutive_errors``
      of them in a row (Genius unreachable) the run stops early, keeping what it did.
    - an HTTP 401 from the API (a bad token) raises :class:`GeniusAuthError`. The token is only
      sent when a song was found (lyricsgenius searches Genius' public API), so a run of misses
      does not notice a bad token.
    - ``cancel`` is checked between tracks (raising :class:`~musicorg.jobs.Cancelled`), and each
      track is committed on its own, so a cancel or a kill loses nothing.

    For tests only, ``MUSICORG_GENIUS_API_ROOT``, ``MUSICORG_GENIUS_PUBLIC_API_ROOT`` and
    ``MUSICORG_GENIUS_WEB_ROOT`` redirect lyricsgenius' ``API_ROOT``, ``PUBLIC_API_ROOT`` and
    ``WEB_ROOT`` (on the client instance) to a fake server; see ``tests/ingest/test_genius.py``.
    The live genius.com path is not exercised by the tests (they run offline): the fake server
    follows the requests and the page structure of lyricsgenius 3.15 as read from its code.
    """
    if client is None and not token:
        raise GeniusAuthError("Genius needs an API token")
    todo = _genius_candidates(cat)
    run = _GeniusRun(
        cat,
        GeniusResult(considered=len(todo)),
        client,
        lambda throttle: _make_client(token, throttle, timeout_s),
        _Throttle(min_interval_s, clock, sleep),
        miss_ttl_s,
        max_consecutive_errors,
    )
    for i, (track_id, artist, title) in enumerate(todo):
        check(cancel)
        progress(i, len(todo), f"Genius: {artist} - {title}")
        if not run.look_up(track_id, artist, title):
            break
    result = run.result
    progress(len(todo), len(todo), f"Genius: {result.asked} asked, {result.stored} stored")
    return result


@dataclass
class _GeniusRun:
    """The state of one :func:`fetch_genius` run: its counts, its client, its errors in a row."""

    cat: Catalogue
    result: GeniusResult
    client: GeniusClient | None  # an injected client (tests), throttled per song
    make_client: Callable[[_Throttle], GeniusClient]
    throttle: _Throttle
    miss_ttl_s: float | None
    max_consecutive_errors: int
    consecutive_errors: int = 0
    genius: GeniusClient | None = None  # made on the first question

    def look_up(self, track_id: int, artist: str, title: str) -> bool:
        """Lyrics for one track, from the cache or Genius; False when the run must stop."""
        key = genius_query(artist, title)
        usable, cached = _cached(self.cat, key, self.miss_ttl_s)
        if usable:
            self.result.cached_hits += 1
            if cached:
                self._store(track_id, None, cached)
            return True
        if self.client is not None:
            self.throttle.wait()
            self.genius = self.client
        elif self.genius is None:
            self.genius = self.make_client(self.throttle)
        self.result.asked += 1
        try:
            lyrics = _ask(self.genius, artist, title)
        except GeniusAuthError:
            raise
        except Exception as exc:  # network, timeout, HTTP status, a changed page or API
            return self._failed(f"{artist} - {title}: {exc.__class__.__name__}: {exc}")
        self.consecutive_errors = 0
        if lyrics:
            self.result.found += 1
        else:
            self.result.not_found += 1
        self._store(track_id, key, lyrics)
        return True

    def _store(self, track_id: int, key: str | None, lyrics: str | None) -> None:
        if stored.save_genius(self.cat, track_id, key, lyrics, GENIUS_SOURCE):
            self.result.stored += 1

    def _failed(self, error: str) -> bool:
        self.result.errors += 1
        self.consecutive_errors += 1
        self.result.last_error = error[:300]
        log.warning("Genius: %s", self.result.last_error)
        limit = self.max_consecutive_errors
        if limit and self.consecutive_errors >= limit:
            self.result.stopped = f"{self.consecutive_errors} failed requests in a row"
            return False
        return True
