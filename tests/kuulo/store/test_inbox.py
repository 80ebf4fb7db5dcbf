"""Staff triage in the store: status, assignment, tags, notes, corrections and blocks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from kuulo.model import Mention, Score
from kuulo.normalise import Prepared, content_hash
from kuulo.store import MentionFilter, SqliteStore, open_store
from kuulo.store.inbox import InboxFilter, url_host

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def item(i: int, *, author: str = "ann", url: str | None = None, rating: float | None = None):
    text = f"mention number {i} about coffee"
    m = Mention(
        source="rss",
        source_name="news",
        native_id=str(i),
        url=url or f"https://news.example/{i}",
        text=text,
        author_handle=author,
        author_followers=i * 10,
        rating=rating,
        published_at=NOW - timedelta(hours=i),
    )
    return Prepared(m, None, text, "en", content_hash(None, text, m.url), ("Acme",))


@pytest.fixture
def store(tmp_path):
    with open_store(tmp_path / "kuulo.db") as opened:
        assert isinstance(opened, SqliteStore)
        opened.sync_sources([("news", "rss")], NOW)
        items = [item(i) for i in range(5)]
        items += [item(5, author="spammer"), item(6, url="https://www.spam.example/x", rating=1)]
        opened.save_batch("news", items, None, NOW)
        pending = opened.pending_scores(10)
        opened.save_scores([(p, Score("negative", -0.6, "vader", "1")) for p in pending], NOW)
        yield opened


def ids(rows):
    return [r["id"] for r in rows]


def test_new_mentions_are_new_newest_first(store):
    rows = store.inbox(InboxFilter(statuses=("new",)))
    assert ids(rows) == [f"news:{i}" for i in range(7)]
    assert {r["status"] for r in rows} == {"new"}
    assert rows[0]["brands"] == "Acme"


def test_marking_replied_persists_and_filters(store, tmp_path):
    assert store.set_status(["news:1", "news:2"], "replied", "kim", NOW) == 2
    with open_store(tmp_path / "kuulo.db", read_only=True) as reader:
        replied = reader.inbox(InboxFilter(statuses=("replied",)))
        assert ids(replied) == ["news:1", "news:2"]
        assert reader.count_inbox(InboxFilter(statuses=("new",))) == 5
    store.set_status(["news:1"], "new", "kim", NOW)
    assert ids(store.inbox(InboxFilter(statuses=("replied",)))) == ["news:2"]


def test_unknown_status_or_label_is_refused(store):
    with pytest.raises(ValueError, match="status"):
        store.set_status(["news:1"], "done", "kim", NOW)
    with pytest.raises(ValueError, match="label"):
        store.correct_sentiment(["news:1"], "angry", "kim", NOW)


def test_unknown_mentions_are_not_invented(store):
    assert store.set_status(["news:404"], "handled", "kim", NOW) == 0
    assert store.db.execute("SELECT count(*) FROM mention_triage").fetchone()[0] == 0


def test_assign_tag_and_note(store):
    store.assign(["news:0", "news:3"], "  Kim  Lee ", "ann", NOW)
    store.add_tag(["news:0"], "Refund", "ann", NOW)
    store.add_tag(["news:0"], "refund", "ann", NOW)  # the same tag twice is one tag
    store.add_tag(["news:0"], "press", "ann", NOW)
    store.add_note(["news:0"], "Called the customer back.", "ann", NOW)
    row = store.inbox(InboxFilter())[0]
    assert (row["assignee"], row["tags"], row["notes"]) == ("Kim Lee", "press, refund", 1)
    assert store.assignees() == ["Kim Lee"]
    assert store.notes("news:0")[0]["body"] == "Called the customer back."
    store.remove_tag(["news:0"], "press", "ann", NOW)
    store.assign(["news:0"], "", "ann", NOW)
    row = store.inbox(InboxFilter())[0]
    assert (row["assignee"], row["tags"]) == (None, "refund")
    with pytest.raises(ValueError, match="note"):
        store.add_note(["news:0"], "   ", "ann", NOW)


def test_a_correction_is_kept_beside_the_model_label(store):
    store.correct_sentiment(["news:1"], "positive", "kim", NOW)
    store.correct_sentiment(["news:1"], "neutral", "lee", NOW)
    row = next(r for r in store.inbox(InboxFilter()) if r["id"] == "news:1")
    assert (row["sentiment"], row["corrected"]) == ("negative", "neutral")
    history = store.corrections("news:1")
    assert [(c["label"], c["model_label"], c["model"]) for c in history] == [
        ("positive", "negative", "vader"),
        ("neutral", "negative", "vader"),
    ]
    assert history[0]["mention_version"] == 1
    model_label = store.db.execute("SELECT sentiment FROM mentions WHERE id = 'news:1'")
    assert model_label.fetchone()[0] == "negative"


def test_blocks_hide_past_mentions_and_are_reversible(store):
    store.block("author", "spammer", "kim", NOW)
    store.block("site", "https://spam.example/any/page", "kim", NOW)
    assert store.blocks()[1]["value"] == "spam.example"
    visible = ids(store.inbox(InboxFilter()))
    assert "news:5" not in visible
    assert "news:6" not in visible
    assert ids(store.inbox(InboxFilter(blocked=True))) == ["news:5", "news:6"]
    assert store.sentiment_counts(InboxFilter()) == {"negative": 5}
    store.unblock("author", "spammer", "kim", NOW)
    assert "news:5" in ids(store.inbox(InboxFilter()))


def test_blocks_hide_future_mentions(store):
    store.block("author", "newcomer", "kim", NOW)
    store.save_batch("news", [item(9, author="newcomer")], None, NOW)
    assert "news:9" not in ids(store.inbox(InboxFilter()))


def test_a_site_block_covers_subdomains_and_ports_only(store):
    urls = ["https://spam.example/a", "http://m.spam.example:8080/b", "https://SPAM.example",
            "https://notspam.example/c", "https://ok.example/spam.example/d"]  # fmt: skip
    store.save_batch("news", [item(20 + i, url=u) for i, u in enumerate(urls)], None, NOW)
    store.block("site", "spam.example", "kim", NOW)
    visible = set(ids(store.inbox(InboxFilter())))
    assert {"news:23", "news:24"} <= visible
    assert not {"news:20", "news:21", "news:22"} & visible


def test_rating_and_search_filters(store):
    assert ids(store.inbox(InboxFilter(max_rating=2))) == ["news:6"]
    found = store.inbox(InboxFilter(MentionFilter(search="number 3")))
    assert ids(found) == ["news:3"]


def test_actions_are_audited(store):
    store.set_status(["news:1", "news:2"], "handled", "kim", NOW)
    events = store.db.execute("SELECT mention_id, action, value, actor FROM inbox_events")
    assert events.fetchall() == [
        ("news:1", "status", "handled", "kim"),
        ("news:2", "status", "handled", "kim"),
    ]


def test_insights(store):
    f = InboxFilter(MentionFilter(since=NOW - timedelta(days=1)))
    assert store.by_source(f) == [{"source": "news", "mentions": 7, "negative": 7}]
    top = store.top_authors(f, limit=2)
    assert [a["author"] for a in top] == ["ann", "spammer"]
    hourly = store.sentiment_over_time(f, "hour")
    assert sum(r["mentions"] for r in hourly) == 7
    shares = store.brand_sentiment(["Acme", "Other"], NOW - timedelta(days=1))
    assert shares == [{"brand": "Acme", "sentiment": "negative", "mentions": 7}]


@pytest.mark.parametrize(
    ("url", "host"),
    [
        ("https://www.Example.com/a", "example.com"),
        ("http://a.b.example:8080/", "a.b.example"),
        ("javascript:alert(1)", None),
        ("", None),
        ("http://[::1/", None),
    ],
)
def test_url_host(url, host):
    assert url_host(url) == host
