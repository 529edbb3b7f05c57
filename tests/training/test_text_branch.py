"""training/text_branch.py: the line-subset views of its two-view contrastive screen."""

from __future__ import annotations

from training.text_branch import line_views


def test_line_views_keep_a_random_subset_of_each_lyric_s_lines() -> None:
    texts = ["\n".join(f"line {i} of song {s}" for i in range(40)) + "\n\n" for s in range(20)]
    texts.append("just one line")
    views = line_views(texts, n_views=3, keep=0.5, seed=0)
    assert len(views) == 3 and all(len(v) == len(texts) for v in views)
    for view in views:
        for text, reading in zip(texts, view, strict=True):
            lines = reading.split("\n")
            originals = [line for line in text.splitlines() if line.strip()]
            assert lines and set(lines) <= set(originals)  # never empty, nothing invented
            # lines keep their order
            assert lines == [line for line in originals if line in set(lines)]
    kept = [len(v.split("\n")) for v in views[0][:20]]
    assert 10 < sum(kept) / len(kept) < 30  # about half of 40 lines
    assert views[0][:20] != views[1][:20]  # the views differ
    assert views[0][-1] == "just one line"  # a one-line lyric keeps its line
    assert line_views(texts, 3, 0.5, seed=0) == views  # deterministic for a seed
