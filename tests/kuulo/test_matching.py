"""Tests for the brand query language (kuulo.matching)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kuulo.errors import QueryError
from kuulo.matching import Brand, BrandQuery, match_brands, normalize_text

ACME = '("Acme Corp" OR @acme OR #acme) -"acme road"'


def q(text: str) -> BrandQuery:
    return BrandQuery(text)


# --- the example query -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "Loving my new Acme Corp blender",
        "thanks @acme!",
        "#acme rocks",
        "ACME-Corp quarterly results",
        "acme  corp",
        "(@ACME) said so",
    ],
)
def test_example_query_matches(text: str) -> None:
    assert q(ACME).matches(text)


@pytest.mark.parametrize(
    "text",
    [
        "Stuck on Acme Road again",
        "acmecorp",
        "Pacme",
        "p#acme",  # a hashtag needs a non-word character before '#'
        "mail bob@acme.com",  # an e-mail address is not a handle
        "acme is great",  # bare word: the query only has the handle and the hashtag
        "Acme Corporation",  # the phrase is word-bounded at the end
        "Acme_Corp",  # '_' is a word character, so it does not separate phrase words
        "",
    ],
)
def test_example_query_rejects(text: str) -> None:
    assert not q(ACME).matches(text)


def test_exclusion_wins_even_when_a_positive_term_matches() -> None:
    assert not q(ACME).matches("@acme: we are not on Acme Road")
    assert q(ACME).matches("@acme: we are not on Acme Street")


# --- keywords, prefixes, phrases, hashtags, handles ----------------------------------------------


def test_keyword_is_word_bounded_and_found_inside_tags_and_urls() -> None:
    query = q("acme")
    for text in ["ACME", "#acme", "@Acme", "see acme.com", "acme's", "x,acme,y"]:
        assert query.matches(text), text
    for text in ["acmecorp", "pacme", "acme_x", "acme1", "2acme"]:
        assert not query.matches(text), text


def test_prefix_is_word_bounded_at_the_start_only() -> None:
    query = q("acme*")
    assert query.matches("AcmeCorp rocks")
    assert query.matches("#acmefans")
    assert query.matches("acme")
    assert not query.matches("pacmecorp")
    assert not query.matches("acm")


@pytest.mark.parametrize(
    "text", ["acme corp", "ACME-Corp", "acme, corp", "acme\n\t corp", "«Acme» — «Corp»"]
)
def test_phrase_allows_any_non_word_run_between_words(text: str) -> None:
    assert q('"Acme Corp"').matches(text)


@pytest.mark.parametrize("text", ["acmecorp", "corp acme", "acme the corp", "acme corporation"])
def test_phrase_needs_the_words_in_order_and_bounded(text: str) -> None:
    assert not q('"Acme Corp"').matches(text)


def test_punctuation_inside_a_phrase_is_ignored() -> None:
    assert q('"acme-corp"').matches("Acme Corp")
    assert q('"Acme, Corp."').matches("acme corp")


def test_hashtag_and_handle_do_not_match_the_bare_word() -> None:
    assert q("#acme").matches("Love #Acme!")
    assert not q("#acme").matches("love acme")
    assert not q("#acme").matches("ping @acme")
    assert not q("#acme").matches("#acmefans")
    assert q("@acme").matches("cc @ACME.")
    assert not q("@acme").matches("acme")
    assert not q("@acme").matches("#acme")
    assert q("#acme*").matches("#acmefans")


def test_keyword_with_punctuation_is_literal() -> None:
    assert q("AT&T").matches("switched to at&t today")
    assert not q("AT&T").matches("at t")
    assert not q("AT&T").matches("at&tx")


def test_escaped_star_is_literal() -> None:
    query = q(r"acme\*")
    assert query.matches("acme* deals")
    assert not query.matches("acmecorp")


# --- operators ---------------------------------------------------------------------------------


def test_and_or_implicit_and() -> None:
    assert q("acme AND blender").matches("acme blender")
    assert not q("acme AND blender").matches("acme toaster")
    assert q("acme blender").matches("blender by acme")
    assert not q("acme blender").matches("blender")
    assert q("acme OR blender").matches("a blender")
    assert not q("acme OR blender").matches("a toaster")


def test_explicit_and_binds_tighter_than_or() -> None:
    query = q("acme OR blender AND toaster")  # acme OR (blender AND toaster)
    assert query.matches("acme")
    assert query.matches("blender toaster")
    assert not query.matches("blender")


def test_implicit_and_binds_looser_than_or() -> None:
    query = q("acme OR blender toaster")  # (acme OR blender) toaster, as luqum parses it
    assert not query.matches("acme")
    assert query.matches("acme toaster")
    assert query.matches("blender toaster")
    assert not query.matches("toaster")


def test_parentheses_override_precedence() -> None:
    query = q("acme OR (blender toaster)")
    assert query.matches("acme")
    assert query.matches("blender toaster")
    assert not query.matches("toaster")


@pytest.mark.parametrize("query", ["acme -road", "acme NOT road", "acme AND NOT road"])
def test_exclusion_forms(query: str) -> None:
    assert q(query).matches("acme street")
    assert not q(query).matches("acme road")


def test_excluded_group_and_plus() -> None:
    query = q("+acme -(road OR street)")
    assert query.matches("acme avenue")
    assert not query.matches("acme street")
    assert not query.matches("acme road")


def test_double_negation_is_positive() -> None:
    assert q("NOT -acme").matches("acme")
    assert not q("NOT -acme").matches("road")


# --- normalisation: case, accents, Finnish -------------------------------------------------------


def test_normalize_text() -> None:
    assert normalize_text("Café Ärrä") == "cafe arra"
    assert normalize_text("KÄRKKÄINEN") == "karkkainen"
    assert normalize_text("Straße") == "strasse"
    assert normalize_text("Cafe\u0301") == "cafe"  # decomposed accent


@pytest.mark.parametrize("query", ["kärkkäinen", "Karkkainen", "KÄRKKÄINEN"])
def test_accent_and_case_insensitive(query: str) -> None:
    assert q(query).matches("KÄRKKÄINEN avasi uuden myymälän")
    assert q(query).matches("Karkkainen")


def test_cafe_creme() -> None:
    assert q('"cafe creme"').matches("Café Crème on paras")
    assert q('"Café Crème"').matches("CAFE-CREME")
    assert not q('"cafe creme"').matches("Café Crèmes")


def test_finnish_phrase_and_prefix() -> None:
    query = q('"ärrä kahvila" OR ärrä*')
    text = "Kävin ÄRRÄ-kahvilassa eilen"
    # The phrase is word-bounded, so it does not match the inflected "kahvilassa"...
    assert not q('"ärrä kahvila"').matches(text)
    # ...but the prefix ärrä* matches "ÄRRÄ" (the hyphen ends the word), so the query matches.
    assert query.matches(text)
    assert query.matches("Ärrän kahvi on hyvää")  # inflected forms via the prefix
    assert query.matches("ärrä kahvila")
    assert not query.matches("Kärrä")  # prefix is word-bounded at the start
    # Accent folding has a price: ärrä* is arra*, which also matches "arrange".
    assert query.matches("Arrange a meeting")


# --- errors ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "fragment"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("title:acme", "field"),
        ("title:(acme OR corp)", "field"),
        ("[a TO b]", "range"),
        ("acme~2", "fuzzy"),
        ('"acme corp"~3', "proximity"),
        ("acme^2", "boost"),
        ("/ac.e/", "regular expression"),
        ("ac?e", "wildcard"),
        ("ac*me", "wildcard"),
        ("*", "wildcard"),
        ("-acme", "nothing to match"),
        ("NOT acme", "nothing to match"),
        ("-acme -road", "nothing to match"),
        ("acme OR -road", "nothing to match"),
        ("(acme", "cannot parse"),
        ("acme OR", "cannot parse"),
        ('"acme', "cannot parse"),
        ('""', "no letters or digits"),
        ("acme && corp", "no letters or digits"),
        ("acme or corp", "'or' is a search word here: write OR"),
        ("acme Not corp", "'Not' is a search word here: write NOT"),
    ],
)
def test_unsupported_syntax_raises_query_error(query: str, fragment: str) -> None:
    with pytest.raises(QueryError) as info:
        BrandQuery(query)
    message = str(info.value)
    assert fragment in message
    assert repr(query) in message  # the message quotes the query


def test_query_error_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="field"):
        BrandQuery("title:acme")


def test_quoted_operator_word_is_allowed() -> None:
    assert q('acme "or" corp').matches("acme or corp")


# --- API renderings ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        (ACME, '("Acme Corp" OR @acme OR #acme) -"acme road"'),
        ("acme AND blender", "acme blender"),
        ("acme OR blender toaster", "(acme OR blender) toaster"),
        ("acme OR blender AND toaster", "acme OR (blender toaster)"),
        ("acme NOT road NOT (street OR avenue)", "acme -road -(street OR avenue)"),
        ('+acme* -"acme  road"', 'acme -"acme road"'),
        ("(((acme)))", "acme"),
        ("AT&T OR title\\:x", 'AT&T OR "title:x"'),
    ],
)
def test_to_x(query: str, expected: str) -> None:
    assert q(query).to_x() == expected


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        (ACME, '("Acme Corp" OR acme) -"acme road"'),
        ("@acme #blender", "acme blender"),
        ('Kärkkäinen -"Kärkkäinen Oy"', 'Kärkkäinen -"Kärkkäinen Oy"'),
        ("(a b) OR c", "(a b) OR c"),
    ],
)
def test_to_google_news(query: str, expected: str) -> None:
    assert q(query).to_google_news() == expected


def test_to_x_length_limit() -> None:
    words = [f"brand{i:03d}" for i in range(60)]  # 8 chars + " OR " = 12 each
    fits = q(" OR ".join(words[:43]))  # 43 * 8 + 42 * 4 = 512
    assert len(fits.to_x()) == 512
    too_long = q(" OR ".join(words[:44]))  # 524
    with pytest.raises(QueryError, match=r"524 characters.*at most 512"):
        too_long.to_x()
    assert too_long.to_google_news()  # no such limit there


def test_positive_terms() -> None:
    assert q(ACME).positive_terms() == ["Acme Corp", "acme"]
    assert q('Ärrä* OR "Ärrä Kahvila" OR ärrä -road NOT (x OR y)').positive_terms() == [
        "Ärrä",
        "Ärrä Kahvila",
    ]
    assert q("NOT -acme blender").positive_terms() == ["acme", "blender"]


def test_equality_repr_and_hash() -> None:
    assert q("acme") == q("acme")
    assert q("acme") != q("ACME")
    assert q("acme") != "acme"
    assert len({q("acme"), q("acme")}) == 1
    assert repr(q("acme OR x")) == "BrandQuery('acme OR x')"
    assert q("acme").text == "acme"


# --- several brands ----------------------------------------------------------------------------


def test_match_brands_with_competitors() -> None:
    brands = [
        Brand("Acme", q(ACME), competitors=("Globex",)),
        Brand("Globex", q("globex OR @globexcorp")),
        Brand("Ärrä", q('"ärrä kahvila" OR ärrä*')),
    ]
    assert match_brands("Acme Corp vs Globex: which blender?", brands) == ["Acme", "Globex"]
    assert match_brands("@GlobexCorp replied to #acme", brands) == ["Acme", "Globex"]
    assert match_brands("ÄRRÄ-kahvila avattiin", brands) == ["Ärrä"]
    assert match_brands("Acme Road is closed", brands) == []
    assert match_brands("", brands) == []
    assert brands[0].competitors == ("Globex",)


# --- properties --------------------------------------------------------------------------------

_TEXT = st.text(
    st.one_of(
        st.sampled_from(list("acmeACMEÄäÉé#@ -_.orad\u0301\u0308ßİ")),
        st.characters(codec="utf-8"),  # every code point except surrogates
    ),
    max_size=40,
)
_QUERIES = [q(ACME), q('"ärrä kahvila" OR ärrä*'), q("acme* -road"), q("#acme OR @acme")]


@settings(max_examples=300)
@given(text=_TEXT, index=st.integers(0, len(_QUERIES) - 1))
def test_matching_normalized_text_is_the_same(text: str, index: int) -> None:
    query = _QUERIES[index]
    assert query.matches(text) == query.matches(normalize_text(text), normalized=True)


@settings(max_examples=500)
@given(text=_TEXT)
def test_normalize_text_is_idempotent(text: str) -> None:
    once = normalize_text(text)
    assert normalize_text(once) == once


_QUERY_PIECES = st.sampled_from(
    [*'ab "()-+*?~^:[]{}/\\!&|#@ä', "OR", "AND", "NOT", " TO ", "acme", '"x y"']
)


@settings(max_examples=300)
@given(query=st.lists(_QUERY_PIECES, max_size=12).map("".join))
def test_any_query_string_parses_or_raises_query_error(query: str) -> None:
    try:
        parsed = BrandQuery(query)
    except QueryError as exc:
        message = str(exc)
    else:
        message = ""
        parsed.matches("acme a b ä x y")
        assert parsed.positive_terms()
        assert parsed.to_google_news()
    assert not message or repr(query) in message
