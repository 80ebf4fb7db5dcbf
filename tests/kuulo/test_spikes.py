"""Past spike episodes, as the Overview shows them (the live check: tests/alerts/test_watch.py)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from kuulo.spikes import Measure, episodes, has_ended, hour_keys, is_spike, measure

# -- past episodes (the Overview) ----------------------------------------------------------------


def _quiet_week(start: datetime, hours: int, per_hour: int = 2) -> dict[str, tuple[int, int]]:
    keys = hour_keys(start, start + timedelta(hours=hours))
    return {k: (per_hour + (i % 2), 0) for i, k in enumerate(keys)}


def test_past_spikes_are_found_as_episodes_with_their_peak() -> None:
    start = datetime(2026, 11, 1, tzinfo=UTC)
    buckets = _quiet_week(start, 24 * 9)
    burst = hour_keys(start + timedelta(days=8), start + timedelta(days=8, hours=3))
    for key, n in zip(burst, (30, 60, 25), strict=True):
        buckets[key] = (n, 1)
    since, until = start + timedelta(days=7), start + timedelta(days=9)

    found = episodes(buckets, since, until, timedelta(days=7), threshold=3.5, min_count=10)

    [volume] = found  # 1 negative in 30 is no negative-share spike
    assert (volume.metric, volume.start, volume.end) == ("volume", burst[0], burst[2])
    assert volume.peak.count == 60
    assert volume.peak.median <= 3


def test_a_quiet_period_has_no_episodes_and_small_counts_never_spike() -> None:
    start = datetime(2026, 11, 1, tzinfo=UTC)
    buckets = _quiet_week(start, 24 * 9, per_hour=0)
    buckets[hour_keys(start + timedelta(days=8), start + timedelta(days=8, hours=1))[0]] = (4, 4)
    since, until = start + timedelta(days=7), start + timedelta(days=9)
    assert episodes(buckets, since, until, timedelta(days=7), 3.5, min_count=5) == []


def _reference(
    buckets: dict[str, tuple[int, int]], since: datetime, until: datetime, threshold: float
) -> list[tuple[str, str, str, int, float]]:
    """Each hour through :func:`measure`, the live check's own code, one at a time."""
    width = 168
    hours = hour_keys(since - timedelta(days=7), until)
    found: list[tuple[str, str, str, int, float]] = []
    for metric in ("volume", "negative_share"):
        current: tuple[str, str, Measure] | None = None  # start, end, peak
        for i in range(width, len(hours)):
            measured = measure(buckets, hours[i - width : i], buckets.get(hours[i], (0, 0)))
            m = next((x for x in measured if x.metric == metric), None)
            if current is None and m is not None and is_spike(m, threshold, 5):
                current = (hours[i], hours[i], m)
            elif current is not None and (m is None or has_ended(m, threshold, 5)):
                found.append((metric, current[0], current[1], current[2].count, current[2].z))
                current = None
            elif current is not None and m is not None:
                current = (current[0], hours[i], m if m.z > current[2].z else current[2])
        if current is not None:
            found.append((metric, current[0], current[1], current[2].count, current[2].z))
    return sorted((m, a, b, n, round(z, 9)) for m, a, b, n, z in found)


@pytest.mark.parametrize("seed", range(6))
def test_episodes_judge_each_hour_exactly_as_the_live_check(seed: int) -> None:
    rng = random.Random(seed)  # noqa: S311 - reproducible synthetic data
    start = datetime(2026, 10, 1, tzinfo=UTC)
    buckets: dict[str, tuple[int, int]] = {}
    for key in hour_keys(start, start + timedelta(days=12)):
        if rng.random() < 0.3:
            continue  # hours without mentions
        n = rng.choice([1, 2, 3, 5, 8]) if rng.random() > 0.03 else rng.randint(20, 80)
        buckets[key] = (n, rng.randint(0, n))
    since, until = start + timedelta(days=7), start + timedelta(days=12)

    found = episodes(buckets, since, until, timedelta(days=7), threshold=3.5, min_count=5)

    got = sorted((e.metric, e.start, e.end, e.peak.count, round(e.peak.z, 9)) for e in found)
    assert got == _reference(buckets, since, until, 3.5)
    assert got  # the random bursts make some spikes: the comparison is not of two empty lists
