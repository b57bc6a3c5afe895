"""A full data disk: recognised in every form, refused cleanly by writes, dropped by telemetry.

SQLite's own limit on a database's pages (`PRAGMA max_page_count`) answers SQLITE_FULL exactly
as a full filesystem does, so the stores are driven into it here without mounting anything;
tests/e2e/test_full_disk.py does the same against a real full filesystem.
"""

from __future__ import annotations

import errno
import logging
import os
import sqlite3
from pathlib import Path

import pytest

from stratus.control.codestore import CodeStore
from stratus.control.keys import FunctionKey
from stratus.errors import DiskFull
from stratus.events.rules import Rules
from stratus.frontend.responses import error_parts, incident_error
from stratus.observe.drops import Drops, DropsCollector
from stratus.observe.logstore import LogStore
from stratus.observe.metrics import Bucket, Metrics
from stratus.store.diskfull import disk_full_error, is_disk_full, warning_due, writing
from stratus.store.queue import EventQueue, NewEvent
from stratus.store.sqlite import Store
from tests.unit.test_codestore import good_zip


def cap(conn: sqlite3.Connection) -> None:
    """No page beyond those the database has now: the next write that needs one fails."""
    pages = conn.execute("PRAGMA page_count").fetchone()[0]
    conn.execute(f"PRAGMA max_page_count={pages}")


def uncap(conn: sqlite3.Connection) -> None:
    conn.execute("PRAGMA max_page_count=1073741823")


def sqlite_full() -> sqlite3.OperationalError:
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE TABLE t(x)")
    cap(conn)
    try:
        conn.execute("INSERT INTO t VALUES (?)", (b"x" * 100_000,))
    except sqlite3.OperationalError as e:
        return e
    raise AssertionError("the capped database took the write")


def test_every_form_of_a_full_disk_is_recognised() -> None:
    assert is_disk_full(OSError(errno.ENOSPC, "No space left on device"))
    assert is_disk_full(OSError(errno.EDQUOT, "Disk quota exceeded"))
    assert is_disk_full(sqlite_full())
    assert is_disk_full(DiskFull("x"))
    wrapped = RuntimeError("while writing")
    wrapped.__cause__ = OSError(errno.ENOSPC, "No space left on device")
    assert is_disk_full(wrapped)
    assert not is_disk_full(OSError(errno.EACCES, "Permission denied"))
    assert not is_disk_full(sqlite3.OperationalError("database is locked"))
    assert not is_disk_full(ValueError("disk"))
    assert not is_disk_full(None)


def test_the_error_names_the_disk_and_the_quota() -> None:
    full = disk_full_error(OSError(errno.ENOSPC, "x"))
    assert full.code == "ServiceException" and full.status == 500 and not full.sender_fault
    assert "data disk is full" in full.message and "No space left on device" in full.message
    assert "Disk quota exceeded" in disk_full_error(OSError(errno.EDQUOT, "x")).message
    with pytest.raises(DiskFull), writing():
        raise OSError(errno.ENOSPC, "No space left on device")
    with pytest.raises(PermissionError), writing():
        raise PermissionError(errno.EACCES, "Permission denied")


def test_the_one_mapper_answers_a_raw_full_disk_as_disk_full_not_an_incident() -> None:
    error = incident_error(sqlite_full())
    assert isinstance(error, DiskFull)
    status, headers, body = error_parts(error)
    assert status == 500 and headers["x-amzn-ErrorType"] == "ServiceException"
    assert b"data disk is full" in body and b"incident" not in body
    assert "incident" in incident_error(RuntimeError("boom")).message


def test_warnings_are_rate_limited() -> None:
    assert warning_due(None, 5.0, 60.0)
    assert not warning_due(5.0, 64.9, 60.0)
    assert warning_due(5.0, 65.0, 60.0)


def test_a_store_write_on_a_full_disk_changes_nothing_and_the_store_goes_on(tmp_path: Path) -> None:
    store = Store(tmp_path / "stratus.db")
    store.put_function("r", "kept", {"n": 1})
    cap(store._conn)
    with pytest.raises(DiskFull):
        store.put_function("r", "big", {"blob": "x" * 200_000})
    assert not store._conn.in_transaction  # the ROLLBACK after SQLite's own did not hide it
    assert store.load_functions() == {("r", "kept"): {"n": 1}}  # reads still work
    uncap(store._conn)
    store.put_function("r", "big", {"blob": "x" * 200_000})
    assert set(store.load_functions()) == {("r", "kept"), ("r", "big")}
    store.close()


def test_an_async_accept_on_a_full_disk_stores_none_of_its_batch(tmp_path: Path) -> None:
    queue = EventQueue(tmp_path / "q.db")
    events = [NewEvent(f"r{i}", "f", None, "us-east-1", b"x" * 50_000, 1) for i in range(4)]
    cap(queue._conn)
    with pytest.raises(DiskFull):
        queue.enqueue(events, now_ms=1)
    assert queue.depth() == 0
    uncap(queue._conn)
    queue.enqueue(events, now_ms=1)
    assert queue.depth() == 4
    queue.close()


def test_log_lines_are_dropped_and_counted_then_stored_again(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    logs = LogStore(tmp_path / "logs.db")
    logs.append("us-east-1", "/aws/lambda/f", "s", 1, "before")
    logs.flush()
    cap(logs._conn)
    with caplog.at_level(logging.WARNING, "stratus.observe"):
        for i in range(3):
            logs.append("us-east-1", "/aws/lambda/f", "s", 2, "x" * 100_000)
            logs.append("us-east-1", "/aws/lambda/f", "s", 2, f"lost {i}")
            logs.flush()  # no exception: dropped
    assert logs.drops.total == 6
    assert sum("dropped" in r.message for r in caplog.records) == 1  # one warning, not three
    assert [e.message for e in logs.events("us-east-1", "/aws/lambda/f")] == ["before"]  # reads still work
    uncap(logs._conn)
    with caplog.at_level(logging.WARNING, "stratus.observe"):
        logs.append("us-east-1", "/aws/lambda/f", "s", 3, "after")
        logs.flush()
    assert [e.message for e in logs.events("us-east-1", "/aws/lambda/f")] == ["before", "after"]
    assert any("stored again" in r.message for r in caplog.records)
    logs.close()


def test_metric_buckets_are_dropped_and_counted_then_stored_again(tmp_path: Path) -> None:
    metrics = Metrics(tmp_path / "metrics.db")
    cap(metrics._conn)
    for i in range(300):  # enough rows to need new pages
        metrics._pending[("us-east-1", f"fn-{i}-" + "x" * 500, "$LATEST", 60)] = Bucket(invocations=1)
    metrics.flush()  # no exception: dropped
    assert metrics.drops.total == 300
    assert metrics.usage(0, "function") == []
    uncap(metrics._conn)
    metrics.record(FunctionKey("us-east-1", "f"), ["$LATEST"], 1.0, 1, 128, None, False)
    assert [u.key for u in metrics.usage(0, "function")] == ["f"]
    metrics.close()


def test_the_drop_counter_is_exported_for_prometheus() -> None:
    logs, metrics = Drops("logs"), Drops("metrics")
    logs.dropped(5, OSError(errno.ENOSPC, "No space left on device"))
    [family] = list(DropsCollector(logs, metrics).collect())
    samples = {(s.name, s.labels["kind"]): s.value for s in family.samples}
    assert samples[("stratus_telemetry_dropped_total", "logs")] == 5
    assert samples[("stratus_telemetry_dropped_total", "metrics")] == 0


def test_a_code_upload_on_a_full_disk_leaves_no_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    code = CodeStore(tmp_path / "code")

    def extract_until_full(*args: object) -> None:  # the zip is written; the disk fills now
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(code, "_extract", extract_until_full)
    with pytest.raises(DiskFull):
        code.put(good_zip())
    leftovers = [p for p in (tmp_path / "code").rglob("*") if not p.is_dir()]
    assert leftovers == []  # no zip without its tree
    monkeypatch.undo()
    stored = code.put(good_zip())
    assert (stored.root / "app.py").is_file() and code.zip_path(stored.key).is_file()


def test_a_schedule_firing_on_a_full_disk_is_kept_in_memory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Else the scheduler, which raised out of its loop, would end the server, or (caught)
    would find the rule still due and fire it again at once, forever."""
    store = Store(tmp_path / "stratus.db")
    rules = Rules(store)
    rules.put("every-minute", "rate(1 minute)", "ENABLED", "", "us-east-1", now_ms=1_000)

    def full(name: str, record: str) -> None:
        raise disk_full_error(OSError(errno.ENOSPC, "No space left on device"))

    monkeypatch.setattr(store, "put_rule", full)
    key = ("us-east-1", "default", "every-minute")
    rules.fired(key, 61_000)  # no exception
    assert rules.get(*key).last_fired_ms == 61_000
    monkeypatch.undo()
    rules.fired(key, 121_000)  # space again: stored
    assert Rules(store).get(*key).last_fired_ms == 121_000
    store.close()
