"""The one vocabulary: its words, their scores per track, and how a query is read."""

from __future__ import annotations

import numpy as np
import pytest

from musicorg.model import autotags
from musicorg.organise.vocabulary import (
    FILE_FLOOR,
    SYNONYMS,
    TrackFacts,
    Vocabulary,
    decade,
    genre_keys,
    library_rank,
    match_key,
)
from tests.tag_fixtures import probs


def facts(n: int = 8, **overrides: object) -> TrackFacts:
    """``n`` tracks: tracks 0-2 tagged jazz (heard), track 0 and 3 with the file genre Jazz."""
    tags = np.stack([probs(jazz=0.9 - 0.1 * i) if i < 3 else probs(rock=0.5) for i in range(n)])
    values: dict[str, object] = {
        "genres": ["Jazz", "Rock", None, "Cool Jazz; Blues", *["Rock"] * (n - 4)],
        "artists": [
            "Miles",
            "Sigur Rós",
            None,
            "Kevin MacLeod",
            *[f"Band {i}" for i in range(n - 4)],
        ],
        "years": [1985, 1999, None, 1962, *[2005] * (n - 4)],
        "tempo": np.linspace(60, 180, n),
        "brightness": np.linspace(1, 2, n)[::-1].copy(),
        "energy": np.linspace(0.1, 0.9, n),
        "tag_probs": tags,
    }
    values.update(overrides)
    return TrackFacts(**values)  # type: ignore[arg-type]


@pytest.fixture
def vocab() -> Vocabulary:
    return Vocabulary.build(facts())


def terms(vocab: Vocabulary, text: str) -> list[tuple[str, set[str]]]:
    return [(t.shown, {k for k, _w in t.sense}) for t in vocab.parse(text).terms]


def test_the_words_of_a_library(vocab: Vocabulary) -> None:
    kinds = {w.kind for w in vocab.words.values()}
    assert {"genre", "artist", "decade", "descriptor", "style", "mood", "sound", "era"} <= kinds
    heard = [k for k in vocab.words if k.startswith("heard:")]
    assert len(heard) == len(autotags.WORDS) == 42
    assert {"genre:jazz", "genre:cool jazz", "genre:blues", "genre:rock"} <= set(vocab.words)
    assert vocab.words["artist:sigur rós"].label == "Sigur Rós"
    assert {"decade:1980s", "decade:1960s", "decade:2000s"} <= set(vocab.words)
    for low, high in (("slow", "fast"), ("dark", "bright"), ("calm", "energetic")):
        assert {f"descriptor:{low}", f"descriptor:{high}"} <= set(vocab.words)
    # A word of the files scores 0 or 1; Cool Jazz is Jazz too (its broader last word).
    assert vocab.score("genre:jazz").tolist() == [1, 0, 0, 1, 0, 0, 0, 0]
    assert vocab.rows("artist:kevin macleod").tolist() == [3]
    assert vocab.share("genre:rock") == pytest.approx(5 / 8)


def test_scores_are_library_ranks_and_on_follows_the_thresholds(vocab: Vocabulary) -> None:
    jazz = vocab.score("heard:jazz")
    assert jazz[0] > jazz[1] > jazz[2] > jazz[3] and np.all((jazz > 0) & (jazz < 1))
    on = vocab.on("heard:jazz")
    threshold = autotags.thresholds()["jazz"]
    assert on.tolist() == [p >= threshold for p in vocab.heard_value("heard:jazz")]
    # Descriptors: two halves of one scale, strictly beyond the median.
    fast, slow = vocab.score("descriptor:fast"), vocab.score("descriptor:slow")
    assert np.allclose(fast + slow, 1) and fast.argmax() == 7
    assert vocab.on("descriptor:fast").tolist() == [False] * 4 + [True] * 4
    assert vocab.on("descriptor:slow").tolist() == [True] * 4 + [False] * 4
    assert vocab.on("descriptor:bright").tolist() == [True] * 4 + [False] * 4
    # Calm: low energy and what the tagger hears (mellow, chill, easy listening).
    assert vocab.score("descriptor:calm").argmax() == 0
    assert vocab.opposites("descriptor:calm") >= {"descriptor:energetic", "heard:party"}
    assert vocab.opposites("heard:instrumental") == {
        "heard:female vocalists",
        "heard:male vocalists",
    }


def test_a_track_without_analysis_is_neither_high_nor_low() -> None:
    assert library_rank(np.array([3.0, np.nan, 1.0, 2.0])).tolist() == pytest.approx(
        [5 / 6, 0.5, 1 / 6, 0.5]
    )
    # Equal values share the middle of their ranks.
    assert library_rank(np.array([0.0, 0.0, 0.0, 1.0])).tolist() == pytest.approx(
        [3 / 8, 3 / 8, 3 / 8, 7 / 8]
    )
    tags = np.full((3, autotags.N_TAGS), np.nan, np.float32)
    tags[0] = probs(jazz=0.9)
    tags[1] = probs(jazz=0.1)
    vocab = Vocabulary.build(TrackFacts([None] * 3, [None] * 3, [None] * 3, tag_probs=tags))
    assert vocab.score("heard:jazz").tolist() == pytest.approx([0.75, 0.25, 0.5])
    assert not vocab.on("heard:jazz")[2]
    # A track without analysis is in neither half of a descriptor.
    halves = Vocabulary.build(
        TrackFacts([None] * 5, [None] * 5, [None] * 5, energy=np.array([1, 2, np.nan, 3, 4.0]))
    )
    assert halves.on("descriptor:energetic").tolist() == [False, False, False, True, True]
    assert halves.on("descriptor:calm").tolist() == [True, True, False, False, False]
    # No analysis at all: the heard words and the descriptors are simply not there.
    bare = Vocabulary.build(TrackFacts(["Jazz"], ["A"], [1990]))
    assert set(bare.words) == {"genre:jazz", "artist:a", "decade:1990s"}
    assert bare.lookup("calm") is None and bare.lookup("jazz") == (("genre:jazz", 1.0),)


def test_phrases_synonyms_and_forms(vocab: Vocabulary) -> None:
    assert terms(vocab, "female vocals") == [("female vocals", {"heard:female vocalists"})]
    assert terms(vocab, "Easy Listening") == [("easy listening", {"heard:easy listening"})]
    assert terms(vocab, "chill") == [("chill", {"heard:chill", "heard:mellow"})]
    assert terms(vocab, "upbeat") == [("upbeat", {"descriptor:energetic", "heard:happy"})]
    assert terms(vocab, "no vocals") == [("no vocals", {"heard:instrumental"})]
    assert terms(vocab, "vocals") == [
        ("vocals", {"heard:female vocalists", "heard:male vocalists"})
    ]
    # Spellings: hyphens, "&", apostrophes, no spaces, plurals, accents.
    for text in ("hip-hop", "Hip Hop", "hiphop", "rap"):
        assert terms(vocab, text)[0][1] == {"heard:hip-hop"}, text
    assert terms(vocab, "R&B")[0][1] == {"heard:r&b"}
    assert terms(vocab, "guitars")[0][1] == {"heard:guitar"}
    assert terms(vocab, "sigur ros") == [("sigur ros", {"artist:sigur rós"})]
    # A genre the files and the tagger both know is both; its tags' own names work too.
    assert terms(vocab, "jazz")[0][1] == {"heard:jazz", "genre:jazz"}
    assert terms(vocab, "indie rock")[0][1] == {"heard:indie"}
    # Decades: the year tags and the era the tagger hears.
    for text in ("80s", "1980s", "80's", "'80s", "eighties"):
        assert terms(vocab, text)[0][1] == {"decade:1980s", "heard:80s"}, text
    assert terms(vocab, "2000s")[0][1] == {"decade:2000s", "heard:00s"}
    # Every synonym names words that exist (in a library with all of them).
    known = set(vocab.words)
    for phrase, sense in SYNONYMS.items():
        assert any(k in known for k, _w in sense), phrase
        assert all(k in known or k.startswith("genre:") for k, _w in sense), phrase


def test_negation_filler_and_unknown_words(vocab: Vocabulary) -> None:
    assert terms(vocab, "not metal") == [("not metal", {"heard:metal"})]
    assert terms(vocab, "without vocals")[0][0] == "not vocals"
    assert terms(vocab, "calm -jazz") == [
        ("calm", {"descriptor:calm"}),
        ("not jazz", {"heard:jazz", "genre:jazz"}),
    ]
    assert [t for t, _ in terms(vocab, "non-electronic upbeat")] == ["not electronic", "upbeat"]
    # The negation reaches over filler, and ends at the next term.
    assert [t for t, _ in terms(vocab, "no sad songs but happy")] == ["not sad", "happy"]
    query = vocab.parse("some calm piano music with no drums and lo fi beats")
    assert [t.shown for t in query.terms] == ["calm", "lo fi"]
    assert query.unknown == ["piano", "drums", "beats"]
    query = vocab.parse("Kevin MacLeod quirky ukulele jazz")
    assert [t.shown for t in query.terms] == ["kevin macleod", "jazz"]
    assert query.unknown == ["quirky ukulele"]
    assert vocab.parse("the songs of a").terms == []


def test_an_artist_name_never_hides_a_word() -> None:
    vocab = Vocabulary.build(
        facts(genres=[None] * 8, artists=["Calm", "Jazz", *[f"B{i}" for i in range(6)]])
    )
    assert terms(vocab, "calm") == [("calm", {"descriptor:calm"})]
    assert terms(vocab, "jazz")[0][1] == {"heard:jazz"}
    assert terms(vocab, "b3") == [("b3", {"artist:b3"})]
    cyrillic = Vocabulary.build(TrackFacts([None], ["Мумий Тролль"], [None]))
    assert terms(cyrillic, "мумий тролль") == [("мумии тролль", {"artist:мумий тролль"})]


def test_term_scores_put_the_files_tags_first(vocab: Vocabulary) -> None:
    jazz = vocab.term_score(vocab.lookup("jazz") or ())
    # Tracks 0 and 3 have the file genre: above every other, ordered by what is heard.
    assert min(jazz[[0, 3]]) >= FILE_FLOOR > max(np.delete(jazz, [0, 3]))
    assert jazz[0] > jazz[3] and jazz[1] > jazz[2]
    classical = vocab.term_score(vocab.lookup("classical") or ())
    assert np.all((classical >= 0) & (classical <= 1))
    # A negative weight counts the word reversed.
    rev = vocab.term_score((("heard:jazz", -1.0),))
    assert np.allclose(rev, 1 - vocab.score("heard:jazz"))
    only_files = vocab.term_score((("artist:miles", 1.0),))
    assert only_files.tolist() == [1, 0, 0, 0, 0, 0, 0, 0]


def test_tag_forms() -> None:
    assert genre_keys("Rock; Death Metal") == [
        ("rock", "Rock"),
        ("death metal", "Death Metal"),
        ("metal", "Metal"),
    ]
    assert genre_keys("Unknown") == [] and genre_keys(None) == []
    assert decade(1984) == "1980s" and decade(None) is None and decade(3) is None
    assert match_key("Hip-Hop") == "hip hop" and match_key("R&B") == "r and b"
    assert match_key("Sigur Rós") == "sigur ros" and match_key("80's") == "80s"
    assert match_key("Мумий Тролль!") == "мумии тролль" and match_key("椎名林檎") == "椎名林檎"
