"""Spike detection, pure: is the last hour unusual for this brand?

Method. For each brand, two series over the baseline window (``[alerts] spike_baseline``,
default 7 days = 168 hourly buckets, hours without mentions counted as 0, the last hour left
out): mentions per hour, and the share of negative mentions per hour (hours with at least one
mention). The current value is the trailing 60 minutes. Each is compared with a *robust*
z-score (Iglewicz and Hoaglin):

    z = 0.6745 * (x - median) / MAD,   MAD = median(|x_i - median|)

The median and MAD ignore the outliers a mean and standard deviation would chase (last week's
spike does not hide this week's), and 0.6745 makes MAD comparable to a standard deviation, so
the usual threshold is 3.5 (``spike_threshold``). Social volume is mostly zeros and small
counts, so the MAD is floored (1 mention, or 5 percentage points of share): a brand that
usually gets nothing needs a real jump, not one stray post. A spike also needs at least
``spike_min_count`` mentions in the hour, and the brand needs 24 hours of history before it
can spike at all (a fresh install is not one big spike).

Episodes, not hours: the caller alerts when a spike starts, stays quiet while it lasts, and
considers it over once z drops below half the threshold (hysteresis, so a spike hovering at
the threshold is one alert, not a flapping series); a spike still going after
``repeat_interval`` is reported again.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from statistics import median

import numpy as np
import numpy.typing as npt
from numpy.lib.stride_tricks import sliding_window_view

Z_SCALE = 0.6745
VOLUME_MAD_FLOOR = 1.0
SHARE_MAD_FLOOR = 0.05
MIN_HISTORY = timedelta(hours=24)


@dataclass(frozen=True, slots=True)
class Measure:
    """One metric now against its baseline."""

    metric: str  # "volume" | "negative_share"
    value: float
    median: float
    mad: float
    z: float
    count: int  # mentions in the trailing hour
    negatives: int


def robust_z(
    value: float, history: Sequence[float], mad_floor: float
) -> tuple[float, float, float]:
    """(z, median, MAD) of ``value`` against ``history``; the MAD is floored at ``mad_floor``."""
    if not history:
        return 0.0, 0.0, mad_floor
    mid = median(history)
    mad = max(median(abs(x - mid) for x in history), mad_floor)
    return Z_SCALE * (value - mid) / mad, mid, mad


def hour_keys(since: datetime, until: datetime) -> list[str]:
    """The UTC hour buckets (``2026-11-25T12``) from ``since`` up to, not including, ``until``."""
    start = since.replace(minute=0, second=0, microsecond=0)
    hours = int((until - start).total_seconds() // 3600)
    return [(start + timedelta(hours=h)).strftime("%Y-%m-%dT%H") for h in range(hours)]


def measure(
    buckets: Mapping[str, tuple[int, int]],
    hours: Sequence[str],
    current: tuple[int, int],
) -> list[Measure]:
    """Volume and negative share of the trailing hour against the hourly baseline."""
    count, negatives = current
    volumes = [float(buckets.get(h, (0, 0))[0]) for h in hours]
    shares = [n / c for h in hours if (c := buckets.get(h, (0, 0))[0]) for n in [buckets[h][1]]]
    z, mid, mad = robust_z(count, volumes, VOLUME_MAD_FLOOR)
    found = [Measure("volume", count, mid, mad, z, count, negatives)]
    if count:
        share = negatives / count
        z, mid, mad = robust_z(share, shares, SHARE_MAD_FLOOR)
        found.append(Measure("negative_share", share, mid, mad, z, count, negatives))
    return found


def is_spike(m: Measure, threshold: float, min_count: int) -> bool:
    return m.count >= min_count and m.z >= threshold


def has_ended(m: Measure, threshold: float, min_count: int) -> bool:
    """Below half the threshold (or too few mentions): the episode is over."""
    return m.count < min_count or m.z < threshold / 2


def describe(brand: str, m: Measure) -> dict[str, str]:
    """Title, summary and details of a spike alert, in words."""
    if m.metric == "volume":
        title = f"{brand}: mention volume spike"
        summary = (
            f"{m.count} mentions in the last hour; a typical hour has {m.median:g}"
            f" (robust z-score {m.z:.1f} over the baseline)."
        )
    else:
        title = f"{brand}: negative share spike"
        summary = (
            f"{m.value:.0%} of the last hour's {m.count} mentions are negative; typically"
            f" {m.median:.0%} (robust z-score {m.z:.1f} over the baseline)."
        )
    return {
        "title": title,
        "summary": summary,
        "Mentions in the last hour": str(m.count),
        "Negative": str(m.negatives),
        "Baseline median": f"{m.median:g}" if m.metric == "volume" else f"{m.median:.0%}",
    }


@dataclass(frozen=True, slots=True)
class Episode:
    """A past spike for the dashboard: consecutive unusual hours of one metric."""

    metric: str  # "volume" | "negative_share"
    start: str  # first hour (``2026-11-25T12``, UTC)
    end: str  # last hour of the episode
    peak: Measure  # the hour with the highest z


def episodes(
    buckets: Mapping[str, tuple[int, int]],
    since: datetime,
    until: datetime,
    baseline: timedelta,
    threshold: float,
    min_count: int,
) -> list[Episode]:
    """The spikes between ``since`` and ``until``, each hour judged as the live check would
    have judged it then (:func:`measure` against the ``baseline`` hours before it), with the
    same hysteresis (an episode lasts until z falls below half the threshold). ``buckets``
    must cover ``since - baseline`` to ``until`` (``hourly_brand_counts``). Newest first.

    The baselines of every hour are computed at once with numpy (a 30-day window is 720
    rolling medians of 168 hours, twice): the same numbers as :func:`measure`, which a test
    checks, at a fraction of the time.
    """
    width = int(baseline.total_seconds() // 3600)
    hours = hour_keys(since - baseline, until)
    if len(hours) <= width:
        return []
    counts = np.array([buckets.get(h, (0, 0))[0] for h in hours], dtype=float)
    negatives = np.array([buckets.get(h, (0, 0))[1] for h in hours], dtype=float)
    shares = np.divide(negatives, counts, out=np.full_like(counts, np.nan), where=counts > 0)
    found: list[Episode] = []
    for metric, values, floor in (
        ("volume", counts, VOLUME_MAD_FLOOR),
        ("negative_share", shares, SHARE_MAD_FLOOR),
    ):
        mid, mad = _rolling_baseline(values, width, floor)
        found += _episodes_of(
            metric, hours[width:], counts[width:], negatives[width:], values[width:], mid, mad,
            threshold, min_count,
        )  # fmt: skip
    return sorted(found, key=lambda e: e.start, reverse=True)


def _rolling_baseline(
    values: npt.NDArray[np.float64], width: int, floor: float
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Median and floored MAD of the ``width`` values before each position from ``width`` on;
    NaN (an hour without mentions, for the share) is left out, as :func:`measure` leaves it."""
    windows = sliding_window_view(values[:-1], width)
    mid = _row_medians(windows)
    mad = _row_medians(np.abs(windows - mid[:, None]))
    empty = np.isnan(mid)
    return np.where(empty, 0.0, mid), np.where(empty, floor, np.maximum(mad, floor))


def _row_medians(rows: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """The median of each row without its NaNs (NaN for a row of NaNs only): a sort puts NaNs
    last, so the middle of the first ``n`` values is the median (numpy's nanmedian is ~10x
    slower on many short rows)."""
    ordered = np.sort(rows, axis=1)
    n = np.count_nonzero(~np.isnan(rows), axis=1)
    low = ordered[np.arange(len(rows)), np.maximum(n - 1, 0) // 2]
    high = ordered[np.arange(len(rows)), n // 2 - (n == 0)]
    return np.where(n > 0, (low + high) / 2, np.nan)


def _episodes_of(
    metric: str,
    hours: Sequence[str],
    counts: npt.NDArray[np.float64],
    negatives: npt.NDArray[np.float64],
    values: npt.NDArray[np.float64],
    mid: npt.NDArray[np.float64],
    mad: npt.NDArray[np.float64],
    threshold: float,
    min_count: int,
) -> list[Episode]:
    found: list[Episode] = []
    current: Episode | None = None
    for i, hour in enumerate(hours):
        m = None
        if metric == "volume" or counts[i] > 0:
            z = Z_SCALE * (float(values[i]) - float(mid[i])) / float(mad[i])
            m = Measure(metric, float(values[i]), float(mid[i]), float(mad[i]), z,
                        int(counts[i]), int(negatives[i]))  # fmt: skip
        if current is None and m is not None and is_spike(m, threshold, min_count):
            current = Episode(metric, hour, hour, m)
        elif current is not None and (m is None or has_ended(m, threshold, min_count)):
            found.append(current)
            current = None
        elif current is not None and m is not None:
            peak = m if m.z > current.peak.z else current.peak
            current = Episode(metric, current.start, hour, peak)
    if current is not None:
        found.append(current)
    return found
