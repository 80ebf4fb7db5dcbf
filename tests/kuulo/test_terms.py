"""Top terms and phrases of negative mentions (Overview)."""

from __future__ import annotations

from kuulo.terms import Term, tokens, top_terms

COMPLAINTS = [
    "@AcmeAir still no bag after three days https://t.co/abc",
    "Acme lost my bag, still no bag!",
    "Flight cancelled again, Acme. No refund either.",
    "cancelled and no refund #acmefail",
    "Sovellus ei toimi taas, Acme",
    "Acmen sovellus ei toimi",
    "delayed three hours",
]


def test_phrases_stand_in_for_their_words_and_negations_open_phrases() -> None:
    terms = top_terms(COMPLAINTS, exclude=['Acme OR "Acme Air"'])
    found = {t.term: t.mentions for t in terms}
    assert found["no bag"] == 2
    assert found["no refund"] == 2
    assert found["ei toimi"] == 2
    assert found["cancelled"] == 2
    assert "bag" not in found  # "no bag" covers every mention of it
    assert "refund" not in found


def test_noise_stop_words_brand_terms_and_one_offs_are_left_out() -> None:
    found = {t.term for t in top_terms(COMPLAINTS, exclude=['Acme OR "Acme Air"'])}
    assert not found & {"acme", "air", "still", "the", "taas", "https", "acmeair", "acmefail"}
    assert "delayed" not in found  # in one mention only


def test_a_word_repeated_in_one_mention_counts_once() -> None:
    assert top_terms(["refund refund refund", "refund please"]) == [Term("refund", 2)]


def test_ranking_is_by_mentions_then_phrases_first_then_alphabetical() -> None:
    texts = ["late parcel", "late parcel", "broken box", "broken box", "late", "late again"]
    assert [t.term for t in top_terms(texts)] == ["late", "broken box", "late parcel"]


def test_limit_and_empty_input() -> None:
    assert top_terms([]) == []
    assert len(top_terms([f"word{n} alpha beta" for n in range(5)], limit=1)) == 1


def test_tokens_drop_links_handles_numbers_and_keep_apostrophes() -> None:
    assert tokens("Don\u2019t @bob see www.x.com 42 l'amour e-mail!") == [
        "don't",
        "see",
        "l'amour",
        "e-mail",
    ]
