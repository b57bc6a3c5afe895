"""Published metrics' store: statistic sets merged per minute, one series per dimension set
whatever its order, minutes past retention removed."""

from __future__ import annotations

import asyncio
import sqlite3
from contextlib import closing
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
        await store.put("us-east-1", [Datum("App", "Latency", a, 9_999_960, "Milliseconds", _one(5.0))])
        await store.put("us-east-1", [Datum("App", "Latency", b, 9_999_960, "Milliseconds", _one(1.0))])
        await store.put(
            "us-east-1", [Datum("App", "Latency", {"Service": "y"}, 9_999_960, "Milliseconds", _one(100.0))]
        )
        return await store.minutes("us-east-1", Series("App", "Latency", b), 9_999_900, 10_000_000)

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
        await store.put(
            "us-east-1", [old]
        )  # written; the next pruning write (every PRUNE_EVERY puts) removes it
        for _ in range(PRUNE_EVERY):
            await store.put("us-east-1", [Datum("App", "New", {}, 10_000_000 - 60, "None", _one(1.0))])
        return await store.series("us-east-1", 0)

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
            await store.put("us-east-1", batch)
        rows = [await store.minutes("us-east-1", Series("App", "Size", {"Q": q}), 0, 300) for q in ("0", "1")]
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


# -- each region its own namespace -------------------------------------------------------------


def test_each_region_reads_only_its_own_data(tmp_path: Path) -> None:
    """The same series put in two regions (and recorded from a function's log in a third) is
    three series: each region's reads see its own values only."""
    store = CustomMetrics(tmp_path / "custom.db", retention_days=15, clock=lambda: 600.0)
    latency = Series("App", "Latency", {"Service": "x"})

    def datum(value: float) -> Datum:
        return Datum("App", "Latency", {"Service": "x"}, 120, "Milliseconds", _one(value))

    async def run() -> dict[str, tuple[list[float], list[str]]]:
        await store.put("us-east-1", [datum(1.0)])
        await store.put("eu-west-1", [datum(50.0), datum(70.0)])
        store.record("ap-south-1", [datum(9.0)])  # an EMF line: written at the next flush or read
        out = {}
        for region in ("us-east-1", "eu-west-1", "ap-south-1", "sa-east-1"):
            rows = await store.minutes(region, latency, 0, 600)
            out[region] = (
                sorted(v for _, _, stats in rows for v in stats.samples),
                [s.name for s in await store.series(region, 0)],
            )
        return out

    assert asyncio.run(run()) == {
        "us-east-1": ([1.0], ["Latency"]),
        "eu-west-1": ([50.0, 70.0], ["Latency"]),
        "ap-south-1": ([9.0], ["Latency"]),
        "sa-east-1": ([], []),
    }
    store.close()


def test_a_data_dir_of_one_namespace_is_placed_in_us_east_1(tmp_path: Path) -> None:
    """custom_metrics.db as the previous commit kept it (table `custom`, no region): its rows
    come up in us-east-1 (nothing in a row says which function or queue wrote it), once."""
    path = tmp_path / "custom_metrics.db"
    with closing(sqlite3.connect(path)) as conn, conn:
        conn.executescript(
            "CREATE TABLE custom (namespace TEXT NOT NULL, name TEXT NOT NULL, dims TEXT NOT NULL,"
            " minute BIGINT NOT NULL, unit TEXT NOT NULL, stats TEXT NOT NULL,"
            " PRIMARY KEY (namespace, name, dims, minute));"
        )
        conn.execute(
            "INSERT INTO custom VALUES ('App', 'Old', ?, 120, 'Count', ?)",
            (dims_key({"Service": "x"}), _one(3.0).to_json()),
        )
    old = Series("App", "Old", {"Service": "x"})

    async def read(store: CustomMetrics) -> tuple[list[float], list[float]]:
        east = [s.total for _, _, s in await store.minutes("us-east-1", old, 0, 600)]
        west = [s.total for _, _, s in await store.minutes("eu-west-1", old, 0, 600)]
        return east, west

    store = CustomMetrics(path, retention_days=15, clock=lambda: 600.0)
    assert asyncio.run(read(store)) == ([3.0], [])
    store.close()
    again = CustomMetrics(path, retention_days=15, clock=lambda: 600.0)  # moved once, not twice
    assert asyncio.run(read(again)) == ([3.0], [])
    again.close()
    with closing(sqlite3.connect(path)) as conn:
        tables = {name for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert "custom" not in tables
