"""Published metrics' store: statistic sets merged per minute, one series per dimension set
whatever its order, minutes past retention removed."""

from __future__ import annotations

import asyncio
from pathlib import Path

from stratus.observe.custom_metrics import (
    MAX_SAMPLES,
    PRUNE_EVERY,
    CustomMetrics,
    Datum,
    Series,
    StatSet,
    dims_key,
)


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


def test_one_put_of_many_datums_equals_them_put_one_by_one(tmp_path: Path) -> None:
    """A flush merges its datums per series and minute before touching a row: the stored
    statistics are those of putting each datum alone, and only the latest MAX_SAMPLES values
    are kept for percentiles, however many arrive."""
    values = [float(v % 97) for v in range(4 * MAX_SAMPLES + 345)]
    data = [Datum("App", "Size", {"Q": str(v % 2)}, 60, "Bytes", _one(x)) for v, x in enumerate(values)]

    async def stored(store: CustomMetrics, batches: list[list[Datum]]) -> list[StatSet]:
        for batch in batches:
            await store.put(batch)
        rows = [await store.minutes(Series("App", "Size", {"Q": q}), 0, 300) for q in ("0", "1")]
        return [stats for ((minute, unit, stats),) in rows]

    together = CustomMetrics(tmp_path / "a.db", retention_days=15, clock=lambda: 300.0)
    alone = CustomMetrics(tmp_path / "b.db", retention_days=15, clock=lambda: 300.0)
    got = asyncio.run(stored(together, [data]))
    want = asyncio.run(stored(alone, [[d] for d in data]))
    for q, (one, other) in enumerate(zip(got, want, strict=True)):
        mine = values[q::2]
        assert (one.count, one.total, one.low, one.high) == (len(mine), sum(mine), min(mine), max(mine))
        assert (one.count, one.total, one.low, one.high) == (other.count, other.total, other.low, other.high)
        assert one.kept == other.kept == mine[-MAX_SAMPLES:]
    together.close()
    alone.close()
