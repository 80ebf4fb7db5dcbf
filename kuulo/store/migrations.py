"""The schema as ordered migrations (sqlite-utils ``Migrations``), each run once in a transaction.

Add a new function to change the schema; never edit one that has shipped.
"""

from __future__ import annotations

from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

migrations = Migrations("kuulo")


@migrations()
def m001_core(db: Database) -> None:
    db.execute(
        """
        CREATE TABLE mentions (
            id TEXT PRIMARY KEY,              -- natural key: source_name:native_id
            source TEXT NOT NULL,             -- collector kind (rss, x, reddit, ...)
            source_name TEXT NOT NULL,        -- configured source instance
            native_id TEXT NOT NULL,
            url TEXT NOT NULL,
            author_name TEXT,
            author_handle TEXT,
            author_followers INTEGER,
            title TEXT,
            raw_text TEXT NOT NULL,           -- as received (may be HTML)
            text TEXT NOT NULL,               -- plain text, what is matched, searched and scored
            language TEXT,
            published_at TEXT,                -- UTC, NULL when the source gave no usable date
            collected_at TEXT NOT NULL,
            ts TEXT NOT NULL,                 -- published_at, else collected_at: the time shown
            likes INTEGER, replies INTEGER, reposts INTEGER, quotes INTEGER,
            rating REAL,
            parent_id TEXT,
            thread_id TEXT,
            raw TEXT NOT NULL DEFAULT '{}',   -- the upstream payload (JSON)
            content_hash TEXT NOT NULL,
            version INTEGER NOT NULL DEFAULT 1,
            updated_at TEXT NOT NULL,
            sentiment TEXT,                   -- negative|neutral|positive|unscored; NULL: pending
            sentiment_score REAL,
            sentiment_model TEXT,
            sentiment_version TEXT,
            sentiment_reason TEXT,
            scored_at TEXT
        )
        """
    )
    db.execute(
        """
        CREATE TABLE mention_brands (
            mention_id TEXT NOT NULL REFERENCES mentions(id) ON DELETE CASCADE,
            brand TEXT NOT NULL,
            ts TEXT NOT NULL,                 -- copy of mentions.ts: brand + window without a join
            PRIMARY KEY (mention_id, brand)
        ) WITHOUT ROWID
        """
    )
    db.execute(
        """
        CREATE TABLE sources (
            name TEXT PRIMARY KEY,
            kind TEXT NOT NULL,
            next_due TEXT NOT NULL,
            cursor TEXT,                      -- JSON; saved with the rows it covers
            last_run_at TEXT,
            last_ok_at TEXT,
            last_error TEXT,
            last_error_at TEXT,
            paused_until TEXT,
            failures INTEGER NOT NULL DEFAULT 0
        )
        """
    )
    db.execute(
        """
        CREATE TABLE runs (
            id INTEGER PRIMARY KEY,
            source_name TEXT NOT NULL,
            started_at TEXT NOT NULL,
            finished_at TEXT,
            status TEXT NOT NULL,             -- running | ok | not_modified | error
            fetched INTEGER NOT NULL DEFAULT 0,
            new INTEGER NOT NULL DEFAULT 0,
            updated INTEGER NOT NULL DEFAULT 0,
            unchanged INTEGER NOT NULL DEFAULT 0,
            skipped INTEGER NOT NULL DEFAULT 0,
            skip_reasons TEXT NOT NULL DEFAULT '[]',
            error TEXT
        )
        """
    )
    for sql in (
        "CREATE INDEX idx_mentions_ts ON mentions(ts)",
        "CREATE INDEX idx_mentions_source_ts ON mentions(source_name, ts)",
        "CREATE INDEX idx_mentions_ts_sentiment ON mentions(ts, sentiment, source_name)",
        "CREATE INDEX idx_mentions_pending ON mentions(id) WHERE sentiment IS NULL",
        "CREATE INDEX idx_mention_brands_brand_ts ON mention_brands(brand, ts)",
        "CREATE INDEX idx_runs_source ON runs(source_name, id)",
    ):
        db.execute(sql)
    # Full-text search over title + text. Hand-written triggers rather than enable_fts's,
    # which re-index on *any* update: scoring a mention must not rewrite its FTS row.
    db.table("mentions").enable_fts(["title", "text"], tokenize="unicode61 remove_diacritics 2")
    db.executescript(
        """
        CREATE TRIGGER mentions_fts_ai AFTER INSERT ON mentions BEGIN
            INSERT INTO mentions_fts(rowid, title, text) VALUES (new.rowid, new.title, new.text);
        END;
        CREATE TRIGGER mentions_fts_ad AFTER DELETE ON mentions BEGIN
            INSERT INTO mentions_fts(mentions_fts, rowid, title, text)
            VALUES ('delete', old.rowid, old.title, old.text);
        END;
        CREATE TRIGGER mentions_fts_au AFTER UPDATE OF title, text ON mentions BEGIN
            INSERT INTO mentions_fts(mentions_fts, rowid, title, text)
            VALUES ('delete', old.rowid, old.title, old.text);
            INSERT INTO mentions_fts(rowid, title, text) VALUES (new.rowid, new.title, new.text);
        END;
        """
    )
