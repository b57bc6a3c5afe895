"""Stored per-minute buckets -> the dashboard's chart series, zero-filled over a window. Pure.

A function's invocations are counted on its `$LATEST` and version dimensions; an alias's
bucket repeats its version's invocations, so alias dimensions are skipped when adding up (the
rule `Metrics.usage` follows). Concurrency is a peak, not a sum over time: a function's peak
is the largest of its dimensions' (each records the function-wide count), and the account's
is its own gauge when the metrics carry one, else the sum of the functions' peaks.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from stratus.observe.metrics import Bucket, percentile

# name -> (span, step) in seconds; steps are whole minutes, so minutes fall in one slot each.
WINDOWS: dict[str, tuple[int, int]] = {
    "15m": (15 * 60, 60),
    "1h": (3600, 60),
    "6h": (6 * 3600, 300),
    "24h": (24 * 3600, 900),
}
DEFAULT_WINDOW = "1h"
QUANTILES = (("p50", 0.5), ("p90", 0.9), ("p99", 0.99))


Row = tuple[str, str, int, Bucket]  # (function, dimension, minute, bucket), as Metrics.minutes


@dataclass(frozen=True)
class Window:
    start: int  # epoch seconds, inclusive
    end: int  # exclusive; the slot holding `now` is the last one
    step: int

    @property
    def slots(self) -> int:
        return (self.end - self.start) // self.step

    def slot(self, minute: int) -> int | None:
        if not self.start <= minute < self.end:
            return None
        return (minute - self.start) // self.step


def window(name: str, now: float) -> Window:
    """The window called `name` that ends with the slot holding `now`; KeyError if unknown."""
    span, step = WINDOWS[name]
    end = (int(now) // step + 1) * step
    return Window(end - span, end, step)


@dataclass
class _Tally:
    """Buckets added up: `Bucket.merge` for the sums, and every duration sample kept beside it
    (merge keeps only the latest samples, which would tilt a long slot's percentiles)."""

    sums: Bucket = field(default_factory=Bucket)
    durations: list[float] = field(default_factory=list)

    def add(self, bucket: Bucket) -> None:
        self.sums.merge(bucket)
        self.sums.durations = []
        self.durations.extend(bucket.durations)

    def figures(self) -> dict[str, Any]:
        """One slot's (or the window's) values; durations are None where nothing ran."""
        b = self.sums
        ran = b.invocations > 0
        values: dict[str, Any] = {
            "invocations": b.invocations,
            "errors": b.errors,
            "throttles": b.throttles,
            "coldStarts": b.cold_starts,
            "initAvg": _rounded(b.init_ms_sum / b.cold_starts) if b.cold_starts else None,
            "avg": _rounded(b.duration_sum / b.invocations) if ran else None,
            "max": _rounded(b.duration_max) if ran else None,
        }
        for key, q in QUANTILES:
            value = percentile(self.durations, q)
            values[key] = None if value is None else _rounded(value)
        return values


def _rounded(ms: float) -> float:
    return round(ms, 3)


def chart_series(rows: Iterable[Row], win: Window, account_rows: Iterable[Row] = ()) -> dict[str, Any]:
    """{"t": slot starts, one list per figure, "concurrency", and "totals" over the window}."""
    slots = [_Tally() for _ in range(win.slots)]
    whole = _Tally()
    function_peaks: dict[tuple[str, int], int] = {}  # (function, minute) -> peak
    for function, dimension, minute, bucket in rows:
        index = win.slot(minute)
        if index is None:
            continue
        at = (function, minute)
        function_peaks[at] = max(function_peaks.get(at, 0), _peak(bucket))
        if dimension.startswith("alias:"):
            continue
        slots[index].add(bucket)
        whole.add(bucket)
    minute_peaks: dict[int, int] = {}
    account = [(minute, _peak(bucket)) for _, _, minute, bucket in account_rows]
    if account:
        for minute, peak in account:
            minute_peaks[minute] = max(minute_peaks.get(minute, 0), peak)
    else:
        for (_, minute), peak in function_peaks.items():
            minute_peaks[minute] = minute_peaks.get(minute, 0) + peak
    concurrency = [0] * win.slots
    for minute, peak in minute_peaks.items():
        index = win.slot(minute)
        if index is not None:
            concurrency[index] = max(concurrency[index], peak)
    per_slot = [tally.figures() for tally in slots]
    totals = whole.figures()
    series: dict[str, Any] = {"t": [win.start + i * win.step for i in range(win.slots)]}
    for name in totals:
        series[name] = [figures[name] for figures in per_slot]
    series["concurrency"] = concurrency
    totals["concurrency"] = max(concurrency, default=0)
    totals["billedMs"] = whole.sums.billed_ms
    totals["gbSeconds"] = round(whole.sums.gb_ms / 1000, 6)
    series["totals"] = totals
    return series


def _peak(bucket: Bucket) -> int:
    # `concurrent_max` is newer than the other figures; minutes stored before it have none.
    return int(getattr(bucket, "concurrent_max", 0))
