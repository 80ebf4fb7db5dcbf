"""Untrusted text as the dashboard shows it."""

from __future__ import annotations

import pandas as pd

from dashboard.common import readable
from dashboard.inbox import mention_text


def test_bidi_controls_cannot_disguise_text() -> None:
    spoof = "invoice\u202egpj.exe"  # displays as "invoiceexe.jpg" with the override
    assert readable(spoof) == "invoicegpj.exe"
    assert readable("\u2067abc\u2069 \u202adef\u202c") == "abc def"
    assert readable(None) == ""
    assert readable("שלום \u200f ok") == "שלום \u200f ok"  # marks that only hint direction stay


def test_mention_text_is_readable_and_capped() -> None:
    rows = pd.DataFrame({"title": [None, "Title"], "text": ["pay \u202eFDP.exe", "x" * 400]})
    shown = mention_text(rows)
    assert shown[0] == "pay FDP.exe"
    assert shown[1].startswith("Title — x")
    assert len(shown[1]) == 280
