"""Published metrics' store: statistic sets merged per minute, one series per dimension set
whatever its order, minutes past retention removed."""

from __future__ import annotations

import asyncio
from pathlib import Path

from stratus.observe.custom_metrics import PRUNE_EVERY, CustomMetrics, Datum, Series, StatSet, dims_key


def _one(value: float) -> StatSet:
    s = StatSet()
    s.add(1, value, value, value, [value])
    return s


def test_minutes_merge_and_dimension_order_does_not_matter(tmp_path: Path) -> None:
    store = CustomMetrics(tmp_path / "custom.db", retention_days=15, clock=lambda: 10_000_000.0)
    a = {"Service": "x", "Region": "eu"}
    b = {"Region": "eu", "Service": "x"}
    assert dims_key(a) == dims_key(b)

    async def run() -> list[tuple[int, str, StatSet]]:
        await store.put([Datum("App", "Latency", a, 9_999_960, "Milliseconds", _one(5.0))])
        await store.put([Datum("App", "Latency", b, 9_999_960, "Milliseconds", _one(1.0))])
        await store.put([Datum("App", "Latency", {"Service": "y"}, 9_999_960, "Milliseconds", _one(100.0))])
        return await store.minutes(Series("App", "Latency", b), 9_999_900, 10_000_000)

    ((minute, unit, stats),) = asyncio.run(run())
    assert (minute, unit) == (9_999_960, "Milliseconds")
    assert (stats.count, stats.total, stats.low, stats.high) == (2, 6.0, 1.0, 5.0)
    assert sorted(stats.samples) == [1.0, 5.0]
    store.close()


def test_minutes_past_retention_are_removed(tmp_path: Path) -> None:
    now = [10_000_000.0]
    store = CustomMetrics(tmp_path / "custom.db", retention_days=1, clock=lambda: now[0])
    old = Datum("App", "Old", {}, 10_000_000 - 2 * 86400, "None", _one(1.0))

    async def run() -> list[Series]:
        await store.put([old])  # written; the next pruning write (every PRUNE_EVERY puts) removes it
        for _ in range(PRUNE_EVERY):
            await store.put([Datum("App", "New", {}, 10_000_000 - 60, "None", _one(1.0))])
        return await store.series(0)

    names = {s.name for s in asyncio.run(run())}
    assert names == {"New"}
    store.close()
