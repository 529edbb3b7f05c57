"""A track's ReplayGain, read from its tags with mutagen, and the factor the player applies.

Where each format keeps it:

- Vorbis comments (FLAC, Ogg Vorbis, Opus): ``REPLAYGAIN_TRACK_GAIN`` / ``_PEAK``; Opus files
  may carry ``R128_TRACK_GAIN`` instead (RFC 7845: a Q7.8 integer in dB against -23 LUFS,
  which is 5 dB below ReplayGain's reference, so 5 dB are added);
- ID3 (MP3, AIFF, WAV): ``TXXX:REPLAYGAIN_TRACK_GAIN`` (any case);
- MP4 (M4A): ``----:com.apple.iTunes:replaygain_track_gain``;
- ASF (WMA) and APEv2: ``replaygain_track_gain``.

Values such as ``"-6.48 dB"`` are read; anything unreadable counts as no gain. The factor is
clipped by the peak when the tags give one, so that a positive gain never clips.
"""

from __future__ import annotations

import logging
import math
import os
import re
from dataclasses import dataclass
from typing import Any, Final

import mutagen

log = logging.getLogger(__name__)

#: Gains outside this range are taken as damaged tags.
_LIMITS_DB: Final = (-60.0, 30.0)
#: R128 gains in Opus are relative to -23 LUFS, ReplayGain's reference is about -18 LUFS.
R128_OFFSET_DB: Final = 5.0
_NUMBER: Final = re.compile(r"[-+]?\d+(?:[.,]\d+)?")


@dataclass(frozen=True)
class ReplayGain:
    """A track gain in dB, and the track's peak (1.0 = full scale) when the tags say it."""

    gain_db: float
    peak: float | None = None

    def factor(self) -> float:
        """The linear factor to play the track at; never more than 1/peak."""
        return factor(self.gain_db, self.peak)


def factor(gain_db: float, peak: float | None = None) -> float:
    """``gain_db`` as a linear factor, lowered to ``1 / peak`` where it would clip."""
    linear = float(10.0 ** (gain_db / 20.0))
    if peak is not None and peak > 0:
        linear = min(linear, 1.0 / peak)
    return linear


def _number(text: str) -> float | None:
    match = _NUMBER.search(text.replace("\u2212", "-"))
    if match is None:
        return None
    value = float(match.group(0).replace(",", "."))
    return value if math.isfinite(value) else None


def _text(value: Any) -> str:
    """The first text of a tag value, whatever the format keeps it as."""
    if isinstance(value, list | tuple):
        value = value[0] if value else ""
    if isinstance(value, bytes):  # MP4 free-form atoms
        return value.decode("utf-8", "replace")
    texts = getattr(value, "text", None)  # ID3 frames
    if isinstance(texts, list) and texts:
        return str(texts[0])
    return str(value)


def _fields(tags: Any) -> dict[str, str]:
    """Lower-case field name → first text, for every field of the tags. Prefixed keys lose
    their prefix: ``TXXX:REPLAYGAIN_TRACK_GAIN`` and ``----:com.apple.iTunes:replaygain_track_gain``
    are both ``replaygain_track_gain``."""
    out: dict[str, str] = {}
    for key in list(tags.keys()):
        name = str(key).rsplit(":", 1)[-1].lower()
        try:
            out.setdefault(name, _text(tags[key]))
        except (KeyError, ValueError, UnicodeError):
            continue
    return out


def from_fields(fields: dict[str, str]) -> ReplayGain | None:
    """The track gain that lower-cased tag ``fields`` hold, if any."""
    gain: float | None = None
    if "replaygain_track_gain" in fields:
        gain = _number(fields["replaygain_track_gain"])
    elif "r128_track_gain" in fields:
        q78 = _number(fields["r128_track_gain"])
        gain = None if q78 is None else q78 / 256.0 + R128_OFFSET_DB
    if gain is None or not _LIMITS_DB[0] <= gain <= _LIMITS_DB[1]:
        return None
    peak = _number(fields.get("replaygain_track_peak", ""))
    return ReplayGain(gain, peak if peak is not None and peak > 0 else None)


def read(path: str | bytes) -> ReplayGain | None:
    """The track's ReplayGain from its tags; None when it has none (or they cannot be read)."""
    try:
        with open(os.fsencode(path), "rb") as handle:
            audio = mutagen.File(handle)
    except Exception as exc:  # mutagen raises many kinds on damaged tags: no gain then
        log.debug("no ReplayGain read from %r: %s", path, exc)
        return None
    tags = getattr(audio, "tags", None)
    if tags is None:
        return None
    return from_fields(_fields(tags))
