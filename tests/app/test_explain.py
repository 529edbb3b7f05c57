"""Why each playlist holds what it holds (app.explain, for the window's tooltips and details),
on the real held-out library of tests/organise/heldout.py."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest

from musicorg.app import explain, pipeline
from musicorg.model import autotags
from musicorg.organise import naming
from musicorg.organise import playlists as pl
from musicorg.store import userlists
from musicorg.store.db import Catalogue
from tests.organise import heldout


@pytest.fixture
def lists(cat: Catalogue) -> list[pl.PlaylistInfo]:
    lib = heldout.load()
    heldout.add_to(cat, lib, np.arange(len(lib)))
    return pl.build_playlists(cat)


def test_each_playlist_says_why(cat: Catalogue, lists: list[pl.PlaylistInfo]) -> None:
    lib = heldout.load()
    row = {t: t - 1 for t in range(1, len(lib) + 1)}  # track ids follow the rows
    on, _value = autotags.word_matrix(lib.tags)
    labels = [w.label for w in autotags.WORDS]
    why = explain.explain_playlists(cat)
    assert set(why) == {p.id for p in lists}
    for p in lists:
        e = why[p.id]
        rows = np.asarray([row[t] for t in p.track_ids])
        assert e.size == p.size and math.isclose(e.seconds, p.duration, abs_tol=1e-2)
        assert math.isclose(e.seconds, float(lib.duration[rows].sum()), rel_tol=1e-5)
        # The words: shares of its tracks, the name's words first, each more common here
        # than in the library; a word heard by the tagger has the share of tracks it is on.
        assert e.words
        for w in e.words:
            assert 0.3 <= w.share <= 1 and w.share > w.library_share
            if w.kind in autotags.KINDS and w.word in labels:
                assert math.isclose(w.share, on[rows, labels.index(w.word)].mean(), abs_tol=1e-3)
        said = [x.strip() for x in p.name.split(naming.SEP.strip())]
        told = [w.word for w in e.words]
        heard = [x for x in said if x in told]
        assert set(told[: len(heard)]) == set(heard)
        # Tempo: the middle 80 % of its tracks; brightness and energy: medians, in words.
        assert e.tempo_range is not None
        lo, hi = e.tempo_range
        bpm = lib.tempo[rows]
        assert bpm.min() - 1 <= lo <= hi <= bpm.max() + 1
        assert e.brightness is not None and e.energy is not None and e.tempo is not None
        assert e.brightness.unit == "Hz" and e.energy.unit == "dBFS"
        assert math.isclose(e.brightness.value, np.median(lib.brightness[rows]), abs_tol=0.5)
        assert math.isclose(
            e.energy.value, 20 * math.log10(np.median(lib.energy[rows])), abs_tol=0.05
        )
        # A descriptor word of the name is what the explanation says of it.
        for level in (e.tempo, e.brightness, e.energy):
            opposite = {"fast": "slow", "slow": "fast", "bright": "dark", "dark": "bright"}
            opposite |= {"calm": "energetic", "energetic": "calm"}
            if level.word in opposite:
                assert opposite[level.word] not in said
        # One line for a tooltip, saying all of that.
        assert re.search(r"\d+ %", e.summary) and "BPM" in e.summary
        assert f"{p.size} tracks" in e.summary
        assert e.summary != p.name
        data = e.as_dict()
        assert data["summary"] == e.summary and data["words"][0]["word"] == e.words[0].word
        assert data["brightness"]["unit"] == "Hz"


def test_one_playlist_and_user_playlists(cat: Catalogue, lists: list[pl.PlaylistInfo]) -> None:
    first = lists[0]
    assert explain.explain_playlist(cat, first.id) == explain.explain_playlists(cat)[first.id]
    assert explain.explain_playlist(cat, 10_000) is None
    mine = userlists.create(cat, "Mine", first.track_ids[:5])
    why = explain.explain_playlists(cat)[mine]
    assert why.size == 5 and " · 5 tracks, " in why.summary
    assert mine not in explain.explain_playlists(cat, include_user=False)


def test_nothing_to_explain_before_an_analysis(cat: Catalogue) -> None:
    assert explain.explain_playlists(cat) == {}


def test_the_pipeline_keeps_playlists_and_fits_new_lengths(cat: Catalogue) -> None:
    """What the window runs after an analysis, and after the length settings change."""
    lib = heldout.load()
    heldout.add_to(cat, lib, np.arange(120))
    built = pipeline.update_playlists(cat)
    assert built is not None and built.rebuilt
    heldout.add_to(cat, lib, np.arange(120, 150))
    kept = pipeline.update_playlists(cat)
    assert kept is not None and not kept.rebuilt
    assert {p.id: p.name for p in kept.playlists} == {p.id: p.name for p in built.playlists}
    assert sum(p.size for p in kept.playlists) == 150
    fitted = pipeline.resize_playlists(cat, playlist_min=5, playlist_max=12)
    assert fitted is not None and fitted.resized and "lengths" in fitted.summary()
    names = {p.id: p.name for p in fitted.playlists}
    assert {p.id: p.name for p in built.playlists}.items() <= names.items()
    assert all(p.size <= 12 for p in fitted.playlists)
