"""Recorded invocations: the per-function bounds (count, bytes), the payload size limit, the
opt-out tag and the retention, on a real SQLite file."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from stratus.config import RecordLimits, record_limits_setting
from stratus.control.keys import FunctionKey
from stratus.invoke.records import Invocation, InvocationResult
from stratus.observe.recordings import (
    TOO_LARGE,
    Recordings,
    error_of,
    to_evict,
)


def fn(name: str = "f", region: str = "us-east-1") -> tuple[FunctionKey, str]:
    return FunctionKey(region, name), "$LATEST"


def ran(
    request_id: str, payload: bytes = b"{}", answer: bytes = b'"ok"', error: bool = False
) -> tuple[Any, Any]:
    result = InvocationResult(
        payload=answer,
        executed_version="$LATEST",
        function_error="Unhandled" if error else None,
        duration_ms=1.5,
    )
    return Invocation(request_id, payload, "arn", client_context='{"custom":{"a":1}}'), result


def store(tmp_path: Path, **limits: Any) -> Recordings:
    return Recordings(tmp_path / "recordings.db", RecordLimits(**limits))


# -- the pure decision ---------------------------------------------------------------------


def test_to_evict_keeps_the_newest_by_count() -> None:
    rows = [(f"r{i}", 1) for i in range(5)]  # newest first
    assert to_evict(rows, RecordLimits(max_count=3)) == ["r3", "r4"]
    assert to_evict(rows, RecordLimits(max_count=5)) == []


def test_to_evict_cuts_from_the_first_row_past_the_byte_cap() -> None:
    rows = [("new", 40), ("mid", 40), ("old", 40), ("oldest", 1)]
    # 40 + 40 fit in 100; "old" would make 120, so it and everything older go.
    assert to_evict(rows, RecordLimits(max_bytes=100)) == ["old", "oldest"]
    assert to_evict(rows, RecordLimits(max_bytes=121)) == []


def test_to_evict_metadata_only_rows_count_against_the_count_only() -> None:
    rows = [("a", 0), ("b", 0), ("c", 0)]
    assert to_evict(rows, RecordLimits(max_bytes=1, max_count=2)) == ["c"]


def test_record_limits_setting() -> None:
    limits = record_limits_setting({"STRATUS_RECORD_RETENTION_DAYS": "0.5", "STRATUS_RECORD_MAX_COUNT": "7"})
    assert (limits.retention_days, limits.max_count, limits.max_payload) == (0.5, 7, 256 * 1024)
    with pytest.raises(ValueError, match="STRATUS_RECORD_MAX_BYTES must be a number"):
        record_limits_setting({"STRATUS_RECORD_MAX_BYTES": "lots"})
    with pytest.raises(ValueError, match="STRATUS_RECORD_RETENTION_DAYS must be positive"):
        record_limits_setting({"STRATUS_RECORD_RETENTION_DAYS": "0"})


def test_error_of_reads_the_error_document() -> None:
    _, result = ran(
        "x", answer=json.dumps({"errorType": "KeyError", "errorMessage": "'id'"}).encode(), error=True
    )
    assert error_of(result) == ("KeyError", "'id'")
    _, ok = ran("y")
    assert error_of(ok) == (None, None)


# -- the store -----------------------------------------------------------------------------


def test_count_eviction_keeps_the_newest_per_function(tmp_path: Path) -> None:
    recordings = store(tmp_path, max_count=3)
    for i in range(5):
        recordings.note(*fn("f"), {}, None, *ran(f"f{i}"))
        recordings.flush()  # one flush each: their end times differ
        time.sleep(0.002)
    recordings.note(*fn("g"), {}, None, *ran("g0"))
    kept = [r.request_id for r in recordings.recent("us-east-1", "f")]
    assert kept == ["f4", "f3", "f2"]
    assert recordings.get("f0") is None
    assert [r.request_id for r in recordings.recent("us-east-1", "g")] == ["g0"]  # its own bound
    assert recordings.recent("eu-west-1", "f") == []  # regional


def test_one_flush_of_many_keeps_the_bounds_and_each_request_once(tmp_path: Path) -> None:
    recordings = store(tmp_path, max_count=3)
    for i in range(6):
        recordings.note(*fn(), {}, None, *ran(f"b{i}"))
    recordings.note(*fn(), {}, None, *ran("b5", error=True))  # a retry of b5, later
    recordings.note(*fn("other"), {}, None, *ran("o0"))
    # Only the newest three of f are held until the flush; b5 is written once, as retried.
    held = recordings._take()
    assert [n[5].request_id for n in held] == ["b4", "b5", "b5", "o0"]
    kept = recordings.kept(held)
    assert [(n[5].request_id, n[6].function_error) for n in kept] == [
        ("b4", None),
        ("b5", "Unhandled"),
        ("o0", None),
    ]
    recordings._write(held)
    found = {r.request_id: r.failed for r in recordings.recent("us-east-1", "f")}
    assert found == {"b4": False, "b5": True}
    assert [r.request_id for r in recordings.recent("us-east-1", "other")] == ["o0"]


def test_byte_eviction_drops_the_oldest(tmp_path: Path) -> None:
    recordings = store(tmp_path, max_bytes=250)
    for i in range(4):
        recordings.note(*fn(), {}, None, *ran(f"r{i}", payload=b"x" * 90, answer=b"1"))  # 91 bytes each
        recordings.flush()
        time.sleep(0.002)
    assert [r.request_id for r in recordings.recent("us-east-1", "f")] == ["r3", "r2"]


def test_a_payload_past_the_limit_keeps_only_the_metadata(tmp_path: Path) -> None:
    recordings = store(tmp_path, max_payload=100)
    recordings.note(*fn(), {}, "live", *ran("big", payload=b"y" * 101))
    found = recordings.get("big")
    assert found is not None
    assert found.payload is None and found.payload_bytes == 101 and found.qualifier == "live"
    listed = found.to_json(with_payload=True)
    assert listed["note"] == TOO_LARGE and listed["payload"] is None and listed["result"] == '"ok"'


def test_failed_filter_and_context(tmp_path: Path) -> None:
    recordings = store(tmp_path)
    recordings.note(*fn(), {}, None, *ran("ok"))
    boom = json.dumps({"errorType": "ValueError", "errorMessage": "boom"}).encode()
    recordings.note(*fn(), {}, None, *ran("bad", answer=boom, error=True))
    failed = recordings.recent("us-east-1", "f", failed=True)
    assert [r.request_id for r in failed] == ["bad"]
    assert (failed[0].error_type, failed[0].error_message) == ("ValueError", "boom")
    assert failed[0].client_context == '{"custom":{"a":1}}' and failed[0].payload == b"{}"


def test_tagged_functions_record_nothing(tmp_path: Path) -> None:
    recordings = store(tmp_path)
    recordings.note(*fn(), {"stratus:record": "off"}, None, *ran("quiet"))
    recordings.note(*fn(), {"stratus:record": "on"}, None, *ran("loud"))
    assert [r.request_id for r in recordings.recent("us-east-1", "f")] == ["loud"]


def test_a_retry_replaces_the_recording_of_its_request_id(tmp_path: Path) -> None:
    recordings = store(tmp_path)
    recordings.note(*fn(), {}, None, *ran("event", error=True))
    recordings.flush()
    recordings.note(*fn(), {}, None, *ran("event"))
    found = recordings.recent("us-east-1", "f")
    assert [(r.request_id, r.failed) for r in found] == [("event", False)]


def test_retention_deletes_old_recordings(tmp_path: Path) -> None:
    recordings = store(tmp_path, retention_days=1)
    recordings.note(*fn(), {}, None, *ran("old"))
    recordings.flush()
    assert recordings.get("old") is not None
    assert recordings.enforce(int(time.time() * 1000) + 2 * 86_400_000) == 1
    assert recordings.get("old") is None


def test_recordings_survive_a_reopen(tmp_path: Path) -> None:
    recordings = store(tmp_path)
    recordings.note(*fn(), {}, None, *ran("kept"))
    recordings.close()
    again = store(tmp_path)
    assert again.get("kept") is not None
