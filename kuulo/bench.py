"""``make bench``: ingest throughput beside the scorer's own, measured in the same run.

Ingest = the real pipeline on one core: fetch over loopback, parse (feedparser), normalise,
match, store (SQLite), score. The baseline is the default scorer alone on the same stored texts.
Goal: ingest runs at >= 50% of the scorer-alone throughput.
"""

from __future__ import annotations

import copy
import json
import os
import tempfile
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kuulo.clock import utcnow
from kuulo.demo.runner import demo_config_text
from kuulo.demo.samples import build_feeds
from kuulo.demo.server import FeedServer
from kuulo.model import ScoreInput
from kuulo.pipeline import Runtime, build_collector, prepare_batch, score_pending, sync_sources
from kuulo.settings import load_settings
from kuulo.store import MentionFilter, SqliteStore, open_store

ITEMS = 10_000
RESULTS = Path("data/bench/results.json")
_RSS_PATHS = ("/news/nordlight.xml", "/social/mentions.xml", "/news/competitors.xml")


def sample_feed(items: int) -> bytes:
    """One RSS document with ``items`` entries, recycled from the demo's sample items."""
    feeds = build_feeds(utcnow())
    pool = [
        item
        for path in _RSS_PATHS
        for item in ET.fromstring(feeds[path][0]).iter("item")  # noqa: S314 - our own XML
    ]
    channel = ET.Element("channel")
    ET.SubElement(channel, "title").text = "kuulo bench"
    for i in range(items):
        item = copy.deepcopy(pool[i % len(pool)])
        guid = item.find("guid")
        if guid is None:
            guid = ET.SubElement(item, "guid")
        guid.text = f"bench-{i}"
        channel.append(item)
    rss = ET.Element("rss", version="2.0")
    rss.append(channel)
    document: bytes = ET.tostring(rss, encoding="utf-8", xml_declaration=True)
    return document


def _timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    start = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - start


def measure(items: int = ITEMS) -> dict[str, Any]:
    body = sample_feed(items)
    feeds = {"/bench.xml": (body, "application/rss+xml")}
    with tempfile.TemporaryDirectory() as tmp, FeedServer(feeds) as server:
        config = _bench_config(Path(tmp), f"{server.url}/bench.xml")
        rt = Runtime.from_settings(load_settings(config, {}))
        stages, stored, inputs = _run_stages(rt)
    scorer = rt.scorer()
    batches = [inputs[i : i + 500] for i in range(0, len(inputs), 500)]
    _, alone_s = _timed(lambda: [scorer.score(batch) for batch in batches])
    total = sum(stages.values())
    after_parse = total - stages["fetch_parse_s"]
    scorer_per_s = len(inputs) / alone_s
    return {
        "items": items,
        "stored": stored,
        "ingest_per_s": round(items / total, 1),
        "scorer": scorer.name,
        "scorer_per_s": round(scorer_per_s, 1),
        "ratio": round(items / total / scorer_per_s, 3),
        "after_parse_per_s": round(items / after_parse, 1),
        "after_parse_ratio": round(items / after_parse / scorer_per_s, 3),
        **{name: round(seconds, 3) for name, seconds in stages.items()},
    }


def _run_stages(rt: Runtime) -> tuple[dict[str, float], int, list[ScoreInput]]:
    """The pipeline's own stage functions, timed one by one (as collect_source chains them)."""
    source = rt.sources["bench"]
    scorer = rt.scorer()
    with open_store(rt.settings.database_path()) as store:
        sync_sources(store, rt)
        batches, parse_s = _timed(lambda: list(build_collector(rt, source).collect(None)))
        brands = rt.brands_for(source)
        prepared, prepare_s = _timed(
            lambda: [prepare_batch(b, brands, source.settings)[0] for b in batches]
        )
        now = rt.clock()
        _, store_s = _timed(
            lambda: [
                store.save_batch(source.name, p, b.cursor, now)
                for p, b in zip(prepared, batches, strict=True)
            ]
        )
        _, score_s = _timed(lambda: score_pending(store, scorer, 500, rt.clock))
        stored = store.count_mentions(MentionFilter())
        inputs = _stored_inputs(store)
    stages = {
        "fetch_parse_s": parse_s,
        "normalise_match_s": prepare_s,
        "store_s": store_s,
        "score_s": score_s,
    }
    return stages, stored, inputs


def _bench_config(directory: Path, url: str) -> Path:
    """The demo's brands, one rss source for the big feed, a body cap that fits it."""
    text = demo_config_text(url, directory / "bench.db").split("[[sources]]")[0]
    text = text.replace("[kuulo]", "[http]\nmax_bytes = 104857600\n\n[kuulo]", 1)
    text += f'[[sources]]\nname = "bench"\nkind = "rss"\nurl = "{url}"\n'
    path = directory / "kuulo.toml"
    path.write_text(text, encoding="utf-8")
    return path


def _stored_inputs(store: Any) -> list[ScoreInput]:
    assert isinstance(store, SqliteStore)  # noqa: S101 - the bench reads the SQLite file
    rows = store.db.execute("SELECT text, language FROM mentions ORDER BY rowid").fetchall()
    return [ScoreInput(text, language) for text, language in rows]


def write_results(section: str, figures: dict[str, Any], path: Path = RESULTS) -> None:
    """Merge one benchmark's section into the results file (others keep theirs)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    results = json.loads(path.read_text()) if path.exists() else {}
    results[section] = figures
    path.write_text(json.dumps(results, indent=2) + "\n")


def main() -> None:
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # one core, as documented
    figures = measure()
    rows = [
        ("ingest: fetch+parse+normalise+match+store+score", f"{figures['ingest_per_s']:,.0f} /s"),
        (f"scorer alone ({figures['scorer']}), same texts", f"{figures['scorer_per_s']:,.0f} /s"),
        ("ratio ingest / scorer (goal >= 0.50)", f"{figures['ratio']:.2f}"),
        (
            "ingest after parsing: normalise+match+store+score",
            f"{figures['after_parse_per_s']:,.0f} /s",
        ),
        ("ratio after parsing / scorer", f"{figures['after_parse_ratio']:.2f}"),
        ("  fetch + parse (feedparser)", f"{figures['fetch_parse_s']:.2f} s"),
        ("  normalise + match", f"{figures['normalise_match_s']:.2f} s"),
        ("  store (SQLite, FTS5)", f"{figures['store_s']:.2f} s"),
        ("  score", f"{figures['score_s']:.2f} s"),
    ]
    width = max(len(r[0]) for r in rows)
    print(f"ingest benchmark: {figures['items']:,} items, one core")  # noqa: T201
    for name, value in rows:
        print(f"  {name:<{width}}  {value:>20}")  # noqa: T201
    write_results("ingest", figures)
    _sentiment_section()
    _alerts_section()
    _dashboard_section()
    print(f"written to {RESULTS}")  # noqa: T201


def _sentiment_section() -> None:
    from kuulo.bench_sentiment import main as sentiment_main

    sentiment_main()  # prints its table and writes the "sentiment" section


def _alerts_section() -> None:
    from kuulo.bench_alerts import measure_alerts

    figures = measure_alerts()
    print("alerts benchmark: loopback SMTP, default tick, simulated clock")  # noqa: T201
    print(f"  stored -> delivered p50  {figures['latency_p50_s']:>8.1f} s")  # noqa: T201
    print(f"  stored -> delivered p99  {figures['latency_p99_s']:>8.1f} s (target <= 60)")  # noqa: T201
    print(f"  grouped messages in a burst  {figures['grouped_messages_per_s']:>6.1f} /s")  # noqa: T201
    write_results("alerts", figures)


def _dashboard_section() -> None:
    from kuulo.bench_dashboard import main as dashboard_main

    dashboard_main()  # seeds (or reuses) the 1M-row database, prints and writes "dashboard"


if __name__ == "__main__":
    main()
