"""The default scorer with a brand's calibrated threshold (``ScoreInput.negative_threshold``)."""

from __future__ import annotations

import pytest

from kuulo.model import ScoreInput
from sentiment.trained import TrainedScorer

TEXTS = [
    ("Flight 123 departs from gate 22.", "en"),
    ("Worst customer service I have ever experienced.", "en"),
    ("My parcel is still not here after a week", "en"),
    ("Odotin kaksi viikkoa eikä mitään kuulunut", "fi"),
]


@pytest.fixture(scope="module")
def scorer() -> TrainedScorer:
    return TrainedScorer()


def test_p_negative_is_reported_and_the_default_path_is_unchanged(scorer: TrainedScorer) -> None:
    plain = scorer.score([ScoreInput(t, lang) for t, lang in TEXTS])
    assert all(s.p_negative is not None and 0 <= s.p_negative <= 1 for s in plain)
    assert [s.label for s in plain][:2] == ["neutral", "negative"]
    assert all("brand threshold" not in (s.reason or "") for s in plain)


def test_the_brand_threshold_alone_decides_the_text(scorer: TrainedScorer) -> None:
    plain = scorer.score([ScoreInput(t, lang) for t, lang in TEXTS])
    for cut in (0.0, 0.2, 0.5, 1.0):
        scored = scorer.score([ScoreInput(t, lang, None, cut) for t, lang in TEXTS])
        for before, after in zip(plain, scored, strict=True):
            assert after.p_negative == before.p_negative
            assert before.p_negative is not None
            assert (after.label == "negative") == (before.p_negative >= cut)
            assert f"brand threshold {cut:.3f}" in (after.reason or "")


def test_stars_still_count_under_a_brand_threshold(scorer: TrainedScorer) -> None:
    [score] = scorer.score([ScoreInput("Flight 123 departs from gate 22.", "en", 1, 0.99)])
    assert score.label == "negative"
