from kuulo.model import ScoreInput
from kuulo.settings import SentimentSettings
from sentiment.vader import VaderScorer


def test_labels_follow_the_readme_thresholds():
    scorer = VaderScorer()
    scores = scorer.score(
        [
            ScoreInput("The coffee was terrible and the staff were rude.", "en"),
            ScoreInput("Best cinnamon bun I have ever had, lovely staff!", "en"),
            ScoreInput("The shop opens at nine on Mondays.", "en"),
        ]
    )
    assert [s.label for s in scores] == ["negative", "positive", "neutral"]
    assert scores[0].score is not None
    assert scores[0].score <= -0.05
    assert {s.model for s in scores} == {"vader"}


def test_other_languages_are_unscored_not_neutral():
    (score,) = VaderScorer().score([ScoreInput("Kahvi oli kylmää ja palvelu huonoa", "fi")])
    assert score.label == "unscored"
    assert score.score is None
    assert "fi" in (score.reason or "")


def test_unknown_language_is_scored_as_english():
    (score,) = VaderScorer().score([ScoreInput("awful, awful service", None)])
    assert score.label == "negative"


def test_thresholds_come_from_settings():
    strict = VaderScorer(SentimentSettings(negative_threshold=-0.9))
    (score,) = strict.score([ScoreInput("The coffee was a bit bad.", "en")])
    assert score.label == "neutral"


def test_long_text_is_capped_and_scored_per_sentence():
    scorer = VaderScorer(SentimentSettings(max_chars=200))
    text = "Terrible service. " * 12 + "Great cake! " * 2000
    # Only the first 200 characters count: the negative sentences dominate.
    (score,) = scorer.score([ScoreInput(text, "en")])
    assert score.label == "negative"


def test_multi_sentence_score_is_the_sentence_mean():
    scorer = VaderScorer()
    one = scorer.compound("The coffee was terrible.")
    two = scorer.compound("The coffee was terrible. The shop opens at nine.")
    assert two == (one + 0.0) / 2
