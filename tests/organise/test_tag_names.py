"""Playlist and group names that use the tags heard in the audio (musicorg.model.autotags)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from musicorg.model import autotags
from musicorg.organise import naming, vocabulary
from musicorg.organise import playlists as pl
from musicorg.store.db import Catalogue
from tests.organise.test_playlists import add_tracks, mixture
from tests.tag_fixtures import probs, store_tags

ON = 0.95  # above every threshold (the calibration keeps them within [0.001, 0.9])


def tagged(
    n: int,
    heard: dict[str, Sequence[int] | range],
    *,
    genres: Sequence[str | None] | None = None,
    years: Sequence[int | None] | None = None,
) -> naming.Vocabulary:
    """A vocabulary of ``n`` tracks where each tag of ``heard`` is on for the given rows."""
    p = np.stack([probs() for _ in range(n)])
    names = autotags.tag_names()
    for tag, rows in heard.items():
        p[list(rows), names.index(tag)] = ON
    return naming.Vocabulary.build(
        naming.TrackTags(
            list(genres) if genres is not None else [None] * n,
            [None] * n,
            list(years) if years is not None else [None] * n,
            tag_probs=p,
        )
    )


def words(name: str) -> set[str]:
    return {w.strip() for w in name.split(naming.SEP.strip())}


def test_a_tag_word_names_a_playlist_when_60_percent_have_it_and_it_is_rarer() -> None:
    n = 100
    vocab = tagged(n, {"jazz": range(40), "Mellow": range(n)})
    assert naming.name_sets([np.arange(30)], vocab) == ["Jazz"]
    # 18 of 30 (60 %) is enough, 17 of 30 is not; then a name takes what is true of 40 %
    # (rather than "Mix 1"); 11 of 30 is not that either, and what all of it is names it.
    assert naming.name_sets([np.r_[0:18, 40:52]], vocab) == ["Jazz"]
    assert [t for t, _s, _e in vocab.qualifying(np.r_[0:17, 40:53])] == []
    assert naming.name_sets([np.r_[0:17, 40:53]], vocab) == ["Jazz"]
    assert naming.name_sets([np.r_[0:11, 40:59]], vocab) == ["mellow"]
    info = {e["token"]: e for e in naming.explain(vocab, np.arange(30))}
    assert info["Jazz"]["kind"] == naming.STYLE
    assert info["Jazz"]["share"] == 1.0 and info["Jazz"]["library_share"] == 0.4
    # "mellow" is true of the whole library: it names nothing.
    assert "mellow" not in info
    # Kinds take their places: style, then qualities (moods, sounds, descriptors), then era.
    vocab = tagged(n, {"jazz": range(30), "sad": range(30), "80s": range(30)})
    assert naming.name_sets([np.arange(30)], vocab) == ["Jazz · sad · 80s"]


def test_never_instrumental_with_vocalists_nor_happy_with_sad() -> None:
    n = 100
    vocab = tagged(
        n,
        {
            "instrumental": range(30),
            "female vocalists": range(30),
            "male vocalists": range(20),
            "happy": range(30),
            "sad": range(30),
        },
    )
    rows = np.arange(30)
    names = naming.name_sets([rows, rows, rows, rows], vocab)
    assert len(set(names)) == 4
    for name in names:
        said = words(name)
        assert not ({"instrumental"} & said and {"female vocalists", "male vocalists"} & said)
        assert not {"happy", "sad"} <= said, name
    # The opposites are the vocabulary's too (what group names avoid).
    label = {t: vocab.labels[t] for t in range(len(vocab.labels))}
    opp = {label[t]: {label[o] for o in os} for t, os in vocab.opposite.items()}
    assert opp["instrumental"] == {"female vocalists", "male vocalists"}
    assert opp["happy"] == {"sad"}


def test_a_group_is_not_named_happy_over_a_sad_playlist() -> None:
    n = 100
    genres: list[str | None] = ["Synth"] * 60 + [None] * 40
    vocab = tagged(n, {"happy": range(40), "sad": range(40, 60)}, genres=genres)
    group = np.arange(60)  # 67 % happy, all Synth
    happy_part, sad_part = np.arange(30), np.arange(30, 60)  # all happy / 67 % sad
    assert naming.name_sets([group], vocab) == ["Synth · happy"]
    avoid = naming.contradicted(vocab, [happy_part, sad_part])
    assert {vocab.labels[t] for t in avoid} == {"happy", "sad"}
    assert naming.name_sets([group], vocab, avoid=[avoid]) == ["Synth"]
    assert naming.name_sets([happy_part, sad_part], vocab, wordings=["Synth"]) == [
        "Synth · happy",
        "Synth · sad",
    ]


def test_genres_of_the_files_come_first() -> None:
    n = 100
    genres: list[str | None] = ["Soul"] * 30 + [None] * 30 + ["Hip Hop"] * 20 + [None] * 20
    years: list[int | None] = [1985] * 30 + [None] * 70
    vocab = tagged(
        n,
        {"jazz": range(60), "Mellow": range(30), "80s": range(30), "Hip-Hop": range(60, 80)},
        genres=genres,
        years=years,
    )
    soul, jazz, hiphop = np.arange(30), np.arange(30, 60), np.arange(60, 80)
    names = naming.name_sets([soul, jazz, hiphop], vocab)
    # The files' genre leads and the heard genre stays out; the year's decade, not the era.
    assert names == ["Soul · mellow · 1980s", "Jazz", "Hip Hop"]
    # A duplicate does not take the heard genre (or the era) to tell itself apart.
    assert naming.name_sets([soul, soul], vocab) == [names[0], f"{names[0]} 2"]


def test_built_playlists_are_named_from_the_catalogues_tags(tmp_path: Path) -> None:
    x, label = mixture(240, k=3, seed=1)
    cat = Catalogue(tmp_path / "cat.sqlite")
    add_tracks(cat, x)
    heard = {
        0: probs(jazz=ON, instrumental=ON, female_vocalists=ON),
        1: probs(happy=ON, sad=ON, Hip_Hop=ON),
        2: probs(),
    }
    store_tags(cat, {f"key{i:06d}": heard[int(c)] for i, c in enumerate(label)})
    built = pl.build_playlists(cat, method="kmeans")
    cat.close()
    assert built
    cluster_of = {i + 1: int(c) for i, c in enumerate(label)}  # track ids start at 1
    seen: set[str] = set()
    for p in built:
        said = words(p.name) | words(p.group_name or "")
        for name in (p.name, p.group_name or ""):
            w = words(name)
            assert not ({"instrumental"} & w and {"female vocalists", "male vocalists"} & w)
            assert not {"happy", "sad"} <= w
        clusters = {cluster_of[t] for t in p.track_ids}
        if clusters == {0}:
            assert said & {"Jazz", "instrumental", "female vocalists"}, p.name
        if clusters == {1}:
            assert said & {"Hip-Hop", "happy", "sad"}, p.name
        seen |= said
    assert "Jazz" in seen and "Hip-Hop" in seen


def test_a_word_means_the_same_tracks_in_a_name_and_in_the_vocabulary() -> None:
    """Names, ask, the map labels and the details pane share one vocabulary: each name token
    is on for exactly the tracks the vocabulary says, "calm" included, which is the energy
    together with the heard moods (a quiet track the tagger hears as tense is not calm)."""
    n = 60
    rng = np.random.default_rng(3)
    p = np.stack([probs() for _ in range(n)])
    names = autotags.tag_names()
    p[:20, names.index("jazz")] = ON
    p[:30, names.index("Mellow")] = ON
    energy = rng.uniform(0.01, 0.2, n)
    energy[:30] = 0.15  # quiet-ish but mellow; the rest random
    facts = naming.TrackTags(
        ["Rock; Death Metal"] * 10 + [None] * (n - 10),
        ["Ann"] * 5 + [None] * (n - 5),
        [1984] * 10 + [None] * (n - 10),
        tempo=rng.uniform(60, 180, n),
        brightness=rng.uniform(500, 4000, n),
        energy=energy,
        tag_probs=p,
    )
    names_vocab = naming.Vocabulary.build(facts)
    words_vocab = vocabulary.Vocabulary.build(facts)
    by_label = {(w.label, w.kind): key for key, w in words_vocab.words.items()}
    seen_kinds = set()
    for t, (label, kind) in enumerate(zip(names_vocab.labels, names_vocab.kinds, strict=True)):
        key = by_label[(label, kind)]
        rows = np.flatnonzero(names_vocab.incidence[:, t].toarray().ravel())
        np.testing.assert_array_equal(rows, words_vocab.rows(key))
        seen_kinds.add(kind)
    assert {
        vocabulary.GENRE,
        vocabulary.ARTIST,
        vocabulary.DECADE,
        vocabulary.DESCRIPTOR,
        naming.STYLE,
    } <= seen_kinds
    calm = names_vocab.labels.index("calm")
    on_energy_alone = energy < np.median(energy)
    calm_rows = names_vocab.incidence[:, calm].toarray().ravel() > 0
    assert not np.array_equal(calm_rows, on_energy_alone)  # the heard moods count
