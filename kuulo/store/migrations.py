"""The schema as ordered migrations (sqlite-utils ``Migrations``), each run once in a transaction.

Add a new function to change the schema; never edit one that has shipped.
"""

from __future__ import annotations

from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

from kuulo.store import calibration, catalog, summaries

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
            status TEXT NOT NULL,             -- running|ok|not_modified|paused|error
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


@migrations()
def m002_sentiment_confidence(db: Database) -> None:
    """How sure the scorer was of each label (0-1), beside its human-readable reason."""
    db.execute("ALTER TABLE mentions ADD COLUMN sentiment_confidence REAL")


@migrations()
def m003_alert_outbox(db: Database) -> None:
    """The alert outbox (transactional-outbox pattern), its send log and delivery state.

    A row is written in the same transaction as the score that triggered it, so an alert can
    be neither lost nor invented by a crash; UNIQUE(alert_key, channel, target) makes the same
    alert impossible to queue twice for one target, across restarts and re-scores.
    """
    # One statement per execute: executescript() would COMMIT the migration's transaction.
    for sql in _ALERT_SCHEMA:
        db.execute(sql)


_ALERT_SCHEMA = (
    """
    CREATE TABLE alert_outbox (
        id INTEGER PRIMARY KEY,
        alert_key TEXT NOT NULL,          -- rule:mention_id (spike:/health: for the others)
        channel TEXT NOT NULL,
        target INTEGER NOT NULL DEFAULT 0, -- index into the channel's urls (never the URL)
        rule TEXT NOT NULL,
        kind TEXT NOT NULL DEFAULT 'mention', -- mention | spike | health
        group_key TEXT NOT NULL,          -- rule/channel/target: one message per group
        mention_id TEXT,                  -- no foreign key: the alert outlives the mention
        brand TEXT,
        payload TEXT NOT NULL DEFAULT '{}', -- JSON: title/summary of spike and health alerts
        status TEXT NOT NULL DEFAULT 'pending', -- pending | sending | sent | dead
        created_at TEXT NOT NULL,
        enqueued_at TEXT NOT NULL,        -- retention counts from here (resend resets it)
        due_at TEXT NOT NULL,             -- group_wait, digest slot or end of quiet hours
        lease_until TEXT,                 -- a 'sending' row past this was left by a crash
        claim_token TEXT,
        attempts INTEGER NOT NULL DEFAULT 0,
        last_attempt_at TEXT,
        last_error TEXT,
        sent_at TEXT,
        dead_at TEXT,
        UNIQUE (alert_key, channel, target)
    )
    """,
    "CREATE INDEX idx_alert_outbox_due ON alert_outbox(status, due_at)",
    "CREATE INDEX idx_alert_outbox_group ON alert_outbox(group_key, status)",
    "CREATE INDEX idx_alert_outbox_claim ON alert_outbox(claim_token)"
    " WHERE claim_token IS NOT NULL",
    """
    CREATE TABLE alert_groups (
        group_key TEXT PRIMARY KEY,
        not_before TEXT,                  -- group_interval after a send, or the backoff
        failures INTEGER NOT NULL DEFAULT 0, -- consecutive failures: the backoff exponent
        last_sent_at TEXT
    )
    """,
    """
    CREATE TABLE alert_attempts (
        id INTEGER PRIMARY KEY,
        group_key TEXT NOT NULL,
        channel TEXT NOT NULL,
        target INTEGER NOT NULL,
        message_key TEXT NOT NULL,
        alerts INTEGER NOT NULL,          -- outbox rows carried by this message
        at TEXT NOT NULL,
        outcome TEXT NOT NULL,            -- sent | transient | ambiguous | permanent | broken
        error TEXT,                       -- scrubbed: never a channel URL or secret
        retry_at TEXT
    )
    """,
    "CREATE INDEX idx_alert_attempts_group ON alert_attempts(group_key, id)",
    """
    CREATE TABLE alert_channels (
        name TEXT PRIMARY KEY,
        broken_at TEXT,                   -- credentials refused (401/403, SMTP 535)
        broken_reason TEXT,
        paused_until TEXT                 -- next probe when broken, or Retry-After after a 429
    )
    """,
    """
    CREATE TABLE alert_state (
        key TEXT PRIMARY KEY,             -- spike:<brand>, health:<source>, ...
        value TEXT NOT NULL,              -- JSON
        updated_at TEXT NOT NULL
    )
    """,
)


@migrations()
def m004_inbox(db: Database) -> None:
    """Staff triage for the dashboard inbox (SQL in ``kuulo/store/inbox.py``).

    Kept apart from ``mentions`` so re-collection and re-scoring never touch staff work; a
    sentiment correction is a row of its own beside the model's label, kept for evaluation.
    No foreign keys: staff work and the audit trail outlive a deleted mention.
    """
    for sql in _INBOX_SCHEMA:
        db.execute(sql)


_INBOX_SCHEMA = (
    """
    CREATE TABLE mention_triage (
        mention_id TEXT PRIMARY KEY,
        status TEXT NOT NULL DEFAULT 'new', -- new | handled | replied | ignored
        assignee TEXT,
        updated_at TEXT NOT NULL,
        updated_by TEXT
    ) WITHOUT ROWID
    """,
    "CREATE INDEX idx_mention_triage_status ON mention_triage(status, mention_id)",
    """
    CREATE TABLE mention_tags (
        mention_id TEXT NOT NULL,
        tag TEXT NOT NULL,
        added_at TEXT NOT NULL,
        added_by TEXT,
        PRIMARY KEY (mention_id, tag)
    ) WITHOUT ROWID
    """,
    "CREATE INDEX idx_mention_tags_tag ON mention_tags(tag)",
    """
    CREATE TABLE mention_notes (
        id INTEGER PRIMARY KEY,
        mention_id TEXT NOT NULL,
        body TEXT NOT NULL,
        author TEXT,
        created_at TEXT NOT NULL
    )
    """,
    "CREATE INDEX idx_mention_notes_mention ON mention_notes(mention_id, id)",
    """
    CREATE TABLE sentiment_corrections (
        id INTEGER PRIMARY KEY,
        mention_id TEXT NOT NULL,
        mention_version INTEGER NOT NULL, -- the text version the human judged
        label TEXT NOT NULL,              -- negative | neutral | positive (the human's)
        model_label TEXT,                 -- the model's label at that moment (may be NULL)
        model_score REAL,
        model TEXT,
        model_version TEXT,
        corrected_by TEXT,
        corrected_at TEXT NOT NULL
    )
    """,
    "CREATE INDEX idx_sentiment_corrections_mention ON sentiment_corrections(mention_id, id)",
    """
    CREATE TABLE blocks (
        kind TEXT NOT NULL,               -- author (handle, else name) | site (host)
        value TEXT NOT NULL,
        created_at TEXT NOT NULL,
        created_by TEXT,
        PRIMARY KEY (kind, value)
    ) WITHOUT ROWID
    """,
    """
    CREATE TABLE inbox_events (
        id INTEGER PRIMARY KEY,
        mention_id TEXT,                  -- NULL for blocks
        action TEXT NOT NULL,             -- status | assignee | tag | untag | note | correct | ...
        value TEXT,
        actor TEXT,
        at TEXT NOT NULL
    )
    """,
)


@migrations()
def m005_users(db: Database) -> None:
    """Dashboard users and roles (SQL in ``kuulo/store/users.py``): an argon2id hash, never
    the password; ``failures``/``locked_until`` rate-limit sign-ins per user across processes.
    """
    db.execute(
        """
        CREATE TABLE users (
            id INTEGER PRIMARY KEY,
            username TEXT NOT NULL UNIQUE,    -- lower case
            password_hash TEXT NOT NULL,      -- argon2id, with its own salt and parameters
            role TEXT NOT NULL,               -- viewer | agent | admin
            created_at TEXT NOT NULL,
            disabled INTEGER NOT NULL DEFAULT 0,
            failures INTEGER NOT NULL DEFAULT 0, -- failed sign-ins in a row
            locked_until TEXT,                -- refuse every sign-in until then
            last_sign_in_at TEXT
        )
        """
    )


@migrations()
def m006_brand_calibration(db: Database) -> None:
    """Per-brand negative thresholds fitted on staff corrections (SQL in
    ``kuulo/store/calibration.py``); absent brands keep the scorer's own rules."""
    db.execute(
        """
        CREATE TABLE brand_calibration (
            brand TEXT PRIMARY KEY,
            negative_threshold REAL NOT NULL, -- cut on the scorer's P(negative)
            corrections INTEGER NOT NULL,     -- corrected mentions it was fitted on
            recall_target REAL,               -- NULL: fitted for the best negative F1
            details TEXT NOT NULL DEFAULT '{}', -- JSON: before/after precision, recall, F1
            fitted_at TEXT NOT NULL
        ) WITHOUT ROWID
        """
    )


@migrations()
def m007_hidden_and_hourly_counts(db: Database) -> None:
    """A stored ``hidden`` flag for blocked authors/sites and per-hour count tables kept up to
    date on write, so 7- and 30-day aggregates stay fast at 1M mentions (``summaries.py``)."""
    summaries.create_schema(db)


@migrations()
def m008_catalog(db: Database) -> None:
    """Brands, sources and alert rules created in the dashboard (``catalog.py``)."""
    catalog.create_schema(db)


@migrations()
def m009_calibration_per_language(db: Database) -> None:
    """Per-brand thresholds per language (``calibration.py``)."""
    calibration.migrate_per_language(db)
