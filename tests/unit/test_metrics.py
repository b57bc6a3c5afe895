"""Per-minute metrics and metering: buckets, flushing, and the usage the cost report reads."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest

from stratus.config import config_from_env
from stratus.control.keys import FunctionKey
from stratus.observe.metrics import ACCOUNT, Bucket, Metrics, percentile

R = "us-east-1"


def test_bucket_adds_and_merges() -> None:
    a = Bucket()
    a.add(10.0, 11, 128, None, False)
    a.add(30.0, 45, 128, 12.5, True)
    assert (a.invocations, a.errors, a.cold_starts, a.billed_ms) == (2, 1, 1, 56)
    assert a.duration_max == 30.0 and a.init_ms_sum == 12.5
    assert a.gb_ms == 56 * 128 / 1024
    b = Bucket.from_json(a.to_json())
    b.merge(a)
    assert (b.invocations, b.errors, b.billed_ms) == (4, 2, 112)
    assert sorted(b.durations) == [10.0, 10.0, 30.0, 30.0]


def test_percentiles() -> None:
    values = [float(i) for i in range(1, 101)]
    assert percentile(values, 0.5) == 51.0
    assert percentile(values, 0.99) == 100.0
    assert percentile([], 0.5) is None


def test_flush_and_usage_count_versions_not_aliases(tmp_path: Path) -> None:
    metrics = Metrics(tmp_path / "metrics.db")
    metrics.record(FunctionKey(R, "f"), ["$LATEST"], 5.0, 6, 1024, None, False)
    metrics.record(FunctionKey(R, "f"), ["1", "alias:live"], 5.0, 10, 2048, 3.0, False)
    metrics.throttled(FunctionKey(R, "f"))
    metrics.record(FunctionKey(R, "g"), ["$LATEST"], 1.0, 1, 128, None, True)
    usage = {u.key: u for u in metrics.usage(0, "function")}
    assert usage["f"].requests == 2  # the alias bucket repeats version 1's invocation
    assert usage["f"].billed_ms == 16
    assert abs(usage["f"].gb_seconds - (6 * 1 + 10 * 2) / 1000) < 1e-12
    assert usage["g"].requests == 1
    rows = metrics.minutes(R, "f", None, 0, 1 << 62)
    by_dimension = {d: b for _, d, _, b in rows}
    assert set(by_dimension) == {"$LATEST", "1", "alias:live"}
    assert by_dimension["$LATEST"].throttles == 1
    assert (
        metrics.totals[FunctionKey(R, "f")].invocations == 2
        and metrics.totals[FunctionKey(R, "f")].throttles == 1
    )
    metrics.record(FunctionKey(R, "f"), ["$LATEST"], 2.0, 2, 1024, None, False)  # a second flush adds up
    assert {u.key: u for u in metrics.usage(0, "function")}["f"].requests == 3
    metrics.close()
    reopened = Metrics(tmp_path / "metrics.db")
    assert {u.key: u for u in reopened.usage(0, "function")}["f"].billed_ms == 18


def test_gauges_keep_the_peak_and_counts_add_up_when_merged() -> None:
    a, b = (
        Bucket(concurrent_max=3, async_received=2, async_age_max=10.0),
        Bucket(concurrent_max=5, async_received=1),
    )
    a.merge(b)
    assert (a.concurrent_max, a.async_received, a.async_age_max) == (5, 3, 10.0)


def test_rows_written_before_a_field_existed_still_load() -> None:
    old = (
        '{"invocations": 2, "errors": 0, "throttles": 0, "cold_starts": 1, "init_ms_sum": 5.0, '
        '"duration_sum": 3.0, "duration_max": 2.0, "billed_ms": 4, "gb_ms": 0.5, "durations": [1.0, 2.0]}'
    )
    bucket = Bucket.from_json(old)
    assert bucket.invocations == 2 and bucket.concurrent_max == 0 and bucket.async_dropped == 0


def test_account_gauges_are_kept_apart_from_functions(tmp_path: Path) -> None:
    metrics = Metrics(tmp_path / "m.db")
    metrics.running(FunctionKey(R, "f"), "$LATEST", 2, 7, 6)
    now = int(time.time())
    assert [(f, b.concurrent_max) for f, _, _, b in metrics.minutes(R, None, None, 0, now + 60)] == [("f", 2)]
    ((_, _, _, whole),) = metrics.minutes(R, *ACCOUNT, 0, now + 60)
    assert (whole.concurrent_max, whole.unreserved_max) == (7, 6)
    metrics.close()


def test_prune_drops_only_minutes_past_retention(tmp_path: Path) -> None:
    metrics = Metrics(tmp_path / "m.db")
    metrics.record(FunctionKey(R, "f"), ["$LATEST"], 1.0, 1, 128, None, False)
    metrics.flush()
    now = int(time.time())
    assert metrics.prune(now - 3600) == 0
    assert metrics.prune(now + 120) == 1
    assert metrics.minutes(R, "f", None, 0, now + 120) == []
    metrics.close()


def test_metrics_retention_is_configurable_and_checked(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("STRATUS_METRICS_RETENTION_DAYS", "2")
    assert config_from_env(tmp_path, "127.0.0.1", 1).metrics_retention_days == 2
    monkeypatch.setenv("STRATUS_METRICS_RETENTION_DAYS", "0")
    with pytest.raises(ValueError, match="RETENTION"):
        config_from_env(tmp_path, "127.0.0.1", 1)


def test_init_duration_and_event_age_extremes_are_measured_not_averaged() -> None:
    from stratus.services.cloudwatch import _stat

    first, second = Bucket(), Bucket()
    first.add(10.0, 10, 128, 200.0, False)
    first.add(10.0, 10, 128, None, False)
    second.add(10.0, 10, 128, 50.0, False)
    second.add(10.0, 10, 128, 350.0, False)
    merged = Bucket()
    merged.merge(first)
    merged.merge(second)
    assert _stat("InitDuration", merged, "Minimum") == 50.0
    assert _stat("InitDuration", merged, "Maximum") == 350.0
    assert _stat("InitDuration", merged, "Average") == 200.0
    # No samples are kept of init durations: no percentile is made up from the mean.
    assert _stat("InitDuration", merged, "p99") is None


def test_event_age_extremes_come_through_the_store(tmp_path: Path) -> None:
    from stratus.services.cloudwatch import _stat

    metrics = Metrics(tmp_path / "metrics.db")
    for age in (30.0, 5.0, 90.0):
        metrics.async_dequeued(FunctionKey(R, "fn"), age)
    now = int(time.time())  # minutes are keyed by their first second
    merged = Bucket()
    for _, _, _, bucket in metrics.minutes(R, "fn", None, now - 120, now + 120):
        merged.merge(bucket)
    metrics.close()
    assert _stat("AsyncEventAge", merged, "Minimum") == 5.0
    assert _stat("AsyncEventAge", merged, "Maximum") == 90.0
    assert _stat("AsyncEventAge", merged, "SampleCount") == 3.0


def test_buckets_written_by_an_older_server_still_load() -> None:
    old = '{"invocations": 3, "dead_letter_errors": 0, "init_ms_sum": 12.5, "cold_starts": 1}'
    bucket = Bucket.from_json(old)
    assert (bucket.invocations, bucket.cold_starts, bucket.init_ms_sum) == (3, 1, 12.5)


def test_query_starts_are_aligned_as_cloudwatch_rounds_them() -> None:
    from stratus.services.cloudwatch import aligned_start

    now = 1_800_000_000.0
    assert aligned_start(now - 3600 + 34.5, now) == (int(now) - 3600 + 34) // 60 * 60  # whole minute
    day = 86400
    assert aligned_start(now - 20 * day + 123, now) % 300 == 0  # 15 to 63 days: five minutes
    assert aligned_start(now - 70 * day + 1234, now) % 3600 == 0  # older: the hour
    assert aligned_start(now - 3600 + 34.5, now) <= now - 3600 + 34.5


def test_minutes_are_kept_per_region(tmp_path: Path) -> None:
    metrics = Metrics(tmp_path / "m.db")
    metrics.record(FunctionKey("us-east-1", "f"), ["$LATEST"], 1.0, 1, 128, None, False)
    metrics.record(FunctionKey("eu-west-1", "f"), ["$LATEST"], 1.0, 1, 128, None, False)
    metrics.record(FunctionKey("eu-west-1", "f"), ["$LATEST"], 1.0, 1, 128, None, False)
    metrics.running(FunctionKey("eu-west-1", "f"), "$LATEST", 1, 3, 3)
    east = metrics.minutes("us-east-1", "f", None, 0, 1 << 62)
    west = metrics.minutes("eu-west-1", "f", None, 0, 1 << 62)
    assert sum(b.invocations for *_, b in east) == 1
    assert sum(b.invocations for *_, b in west) == 2
    assert metrics.minutes("us-east-1", *ACCOUNT, 0, 1 << 62) == []  # the account's gauges too
    assert [b.concurrent_max for *_, b in metrics.minutes("eu-west-1", *ACCOUNT, 0, 1 << 62)] == [3]
    assert sum(b.invocations for *_, b in metrics.minutes(None, "f", None, 0, 1 << 62)) == 3
    metrics.close()


def test_minutes_of_before_regions_are_placed_in_their_functions_region(tmp_path: Path) -> None:
    path = tmp_path / "m.db"
    conn = sqlite3.connect(path)
    conn.executescript(
        "CREATE TABLE minutes (function TEXT NOT NULL, dimension TEXT NOT NULL,"
        " minute INTEGER NOT NULL, stats TEXT NOT NULL, PRIMARY KEY (function, dimension, minute));"
    )
    conn.executemany(
        "INSERT INTO minutes VALUES (?, ?, ?, ?)",
        [
            ("west", "$LATEST", 60, Bucket(invocations=4).to_json()),
            ("gone", "$LATEST", 60, Bucket(invocations=1).to_json()),
            ("", "account", 60, Bucket(concurrent_max=2).to_json()),
        ],
    )
    conn.commit()
    conn.close()
    metrics = Metrics(path)
    assert sorted(metrics.unplaced()) == ["", "gone", "west"]
    metrics.place_regions({"west": "eu-west-1", "gone": "us-east-1", "": "us-east-1"})
    assert metrics.unplaced() == []
    assert [b.invocations for *_, b in metrics.minutes("eu-west-1", "west", None, 0, 120)] == [4]
    assert metrics.minutes("us-east-1", "west", None, 0, 120) == []
    assert [b.concurrent_max for *_, b in metrics.minutes("us-east-1", *ACCOUNT, 0, 120)] == [2]
    metrics.close()
