"""Recorded invocations: the payload and context of each function's recent invocations, kept so
that `stratus replay` (and the dashboard's Replay button) can run the same event again.

Every invocation that ran (a direct invoke of either type, a function URL or HTTP API request,
an event source mapping's batch, a workflow's task) ends in `InvokeService._run`, which hands
its pieces to `note`: that only appends a reference to an in-memory list, so recording costs
the hot path one call and one append. A flusher task writes the list to `recordings.db` from a
worker thread every FLUSH_INTERVAL, then cuts each function it wrote for down to its bounds.

The bounds, per function (region and name): the newest `max_count` recordings, and no more
stored bytes than `max_bytes` (the newest first; the oldest go). A payload (or a result) past
`max_payload` is never stored: its recording keeps the metadata and says why the payload is
missing. Functions tagged `stratus:record=off` record nothing. Recordings older than the
retention (STRATUS_RECORD_RETENTION_DAYS, 1 day by default, as short as a log group's shortest
retention) are deleted by the flusher and never read.

Payloads may hold secrets: the database is private to the server (0600) and the readers
(`services/invocations.py`, the dashboard) check the caller's rights to the function.
"""

from __future__ import annotations

import base64
import json
import threading
import time
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from stratus.config import RecordLimits
from stratus.observe.drops import Drops
from stratus.observe.flushing import write_behind
from stratus.store.diskfull import is_disk_full, writing
from stratus.store.sqlite import connect, transaction

if TYPE_CHECKING:
    from stratus.control.keys import FunctionKey
    from stratus.invoke.records import Invocation, InvocationResult

RECORD_TAG = "stratus:record"
RECORD_OFF = "off"
TOO_LARGE = "payload not recorded: too large"
RESULT_TOO_LARGE = "result not recorded: too large"
# Readers flush first, so a longer interval delays no reader; it bounds how many rows a busy
# function's recordings cost per second (at most max_count per flush).
FLUSH_INTERVAL = 1.0
ENFORCE_INTERVAL = 60.0
DAY_MS = 86_400_000

# Portable SQL (PostgreSQL runs it too): payloads are kept as base64 text rather than in a
# BLOB, and rows are ordered by their time, not by an autoincrement id.
SCHEMA = """
CREATE TABLE IF NOT EXISTS recordings (
    request_id TEXT PRIMARY KEY,
    region TEXT NOT NULL,
    function TEXT NOT NULL,
    qualifier TEXT,
    version TEXT NOT NULL,
    time_ms BIGINT NOT NULL,
    duration_ms DOUBLE PRECISION NOT NULL,
    failed INTEGER NOT NULL,
    error_type TEXT,
    error_message TEXT,
    client_context TEXT,
    payload TEXT,
    payload_bytes BIGINT NOT NULL,
    result TEXT,
    result_bytes BIGINT NOT NULL,
    stored_bytes BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS recordings_function_time ON recordings(region, function, time_ms);
"""
COLUMNS = (
    "request_id, region, function, qualifier, version, time_ms, duration_ms, failed, error_type, "
    "error_message, client_context, payload, payload_bytes, result, result_bytes, stored_bytes"
)


@dataclass(frozen=True)
class Recording:
    request_id: str
    region: str
    function: str
    qualifier: str | None  # as the caller named it (None: unqualified)
    version: str  # the version that ran
    time_ms: int  # when it ended, ms since the epoch
    duration_ms: float
    failed: bool
    error_type: str | None
    error_message: str | None
    client_context: str | None
    payload: bytes | None  # None when it was too large to keep
    payload_bytes: int
    result: bytes | None
    result_bytes: int

    def to_json(self, *, with_payload: bool) -> dict[str, Any]:
        """The wire shape of the CLI's and dashboard's reads; payloads as text where they are
        UTF-8 (JSON events are), else base64 (`payloadEncoding`)."""
        data: dict[str, Any] = {
            "requestId": self.request_id,
            "region": self.region,
            "function": self.function,
            "qualifier": self.qualifier,
            "version": self.version,
            "time": self.time_ms,
            "durationMs": round(self.duration_ms, 3),
            "status": "Failed" if self.failed else "Succeeded",
            "errorType": self.error_type,
            "errorMessage": self.error_message,
            "payloadBytes": self.payload_bytes,
            "payloadRecorded": self.payload is not None,
            "note": TOO_LARGE if self.payload is None else None,
        }
        if with_payload:
            data["clientContext"] = self.client_context
            data["payload"] = _as_text(self.payload)
            data["result"] = _as_text(self.result)
            data["resultNote"] = RESULT_TOO_LARGE if self.result is None else None
        return data


def _as_text(data: bytes | None) -> str | None:
    if data is None:
        return None
    try:
        return data.decode()
    except UnicodeDecodeError:
        return "base64:" + base64.b64encode(data).decode()


def to_evict(newest_first: Sequence[tuple[str, int]], limits: RecordLimits) -> list[str]:
    """A function's recordings, newest first, as (request id, stored bytes) -> the ids that go:
    past `max_count`, and from the first one that would take the total past `max_bytes`, that
    one and every older one (the oldest go first, so what is kept is always the most recent)."""
    total = 0
    for index, (_, size) in enumerate(newest_first):
        total += size
        if index >= limits.max_count or total > limits.max_bytes:
            return [request_id for request_id, _ in newest_first[index:]]
    return []


def error_of(result: InvocationResult) -> tuple[str | None, str | None]:
    """A failed invocation's (error type, message) from its error document."""
    if result.function_error is None:
        return None, None
    error_type, message = result.error_type, None
    try:
        document = json.loads(result.payload)
    except ValueError:
        document = None
    if isinstance(document, dict):
        error_type = str(document.get("errorType") or error_type or result.function_error)
        message = None if document.get("errorMessage") is None else str(document["errorMessage"])
    return error_type or result.function_error, message


Noted = tuple[str, str, str | None, str, int, "Invocation", "InvocationResult"]


class Recordings:
    def __init__(self, path: Path, limits: RecordLimits | None = None) -> None:
        self.limits = limits or RecordLimits()
        self._conn = connect(path, durable=False)
        self._conn.executescript(SCHEMA)
        # Per function, the newest `max_count` noted since the last flush: a bounded deque drops
        # the oldest by itself, so a busy function costs neither memory nor rows past its bound.
        # Appended on the event loop's thread only, taken there too; written in a worker thread
        # under the database lock (as the log store does).
        self._pending: dict[FunctionKey, deque[Noted]] = {}
        self._db_lock = threading.Lock()
        self.drops = Drops("recordings")

    # -- the hot path ------------------------------------------------------------------------

    def note(
        self,
        function: FunctionKey,
        version: str,
        tags: Mapping[str, str],
        qualifier: str | None,
        invocation: Invocation,
        result: InvocationResult,
    ) -> None:
        """An invocation ended: remember it for the flusher (references only, no copy)."""
        if tags and tags.get(RECORD_TAG) == RECORD_OFF:
            return
        noted = (function.region, function.name, qualifier, version, time.time_ns(), invocation, result)
        pending = self._pending.get(function)
        if pending is None:
            self._pending[function] = deque((noted,), self.limits.max_count)
        else:
            pending.append(noted)

    # -- writes ------------------------------------------------------------------------------

    def flush(self) -> None:
        """Write what was noted; on the thread that notes (the loop)."""
        self._write(self._take())

    def _take(self) -> list[Noted]:
        taken, self._pending = self._pending, {}
        return [noted for pending in taken.values() for noted in pending]

    def _row(self, noted: Noted) -> tuple[Any, ...]:
        region, name, qualifier, version, ended_ns, invocation, result = noted
        limit = self.limits.max_payload
        payload = invocation.payload if len(invocation.payload) <= limit else None
        answer = result.payload if len(result.payload) <= limit else None
        error_type, message = error_of(result)
        stored = len(payload or b"") + len(answer or b"")
        return (
            invocation.request_id,
            region,
            name,
            qualifier,
            result.executed_version or version,
            ended_ns // 1_000_000,
            float(result.duration_ms),
            1 if result.function_error else 0,
            error_type,
            message,
            invocation.client_context,
            None if payload is None else base64.b64encode(payload).decode(),
            len(invocation.payload),
            None if answer is None else base64.b64encode(answer).decode(),
            len(result.payload),
            stored,
        )

    def _stored_bytes(self, noted: Noted) -> int:
        limit = self.limits.max_payload
        sizes = (len(noted[5].payload), len(noted[6].payload))
        return sum(size for size in sizes if size <= limit)

    def kept(self, batch: list[Noted]) -> list[Noted]:
        """The part of a batch its function's bounds would keep: under load a busy function
        notes far more than `max_count` per flush, and encoding, inserting and then deleting
        those would be most of what recording costs."""
        by_function: dict[tuple[str, str], list[Noted]] = {}
        for noted in reversed(batch):  # newest first
            by_function.setdefault((noted[0], noted[1]), []).append(noted)
        keep: set[int] = set()
        for group in by_function.values():
            seen: set[str] = set()
            newest = []
            for noted in group:  # an async retry's request id: its last attempt only
                if noted[5].request_id not in seen:
                    seen.add(noted[5].request_id)
                    newest.append(noted)
            ids = [(str(i), self._stored_bytes(n)) for i, n in enumerate(newest)]
            gone = set(to_evict(ids, self.limits))
            keep.update(id(n) for i, n in enumerate(newest) if str(i) not in gone)
        return [noted for noted in batch if id(noted) in keep]

    def _write(self, batch: list[Noted]) -> None:
        batch = self.kept(batch)
        if not batch:
            return
        rows = [self._row(noted) for noted in batch]
        functions = {(row[1], row[2]) for row in rows}
        updates = ", ".join(f"{c} = excluded.{c}" for c in COLUMNS.split(", ")[1:])
        try:
            with self._db_lock, transaction(self._conn, "BEGIN"):
                # An async event's retries keep its request id: the last attempt is the one kept.
                self._conn.executemany(
                    f"INSERT INTO recordings({COLUMNS}) VALUES ({','.join('?' * 16)}) "
                    f"ON CONFLICT(request_id) DO UPDATE SET {updates}",
                    rows,
                )
                for region, name in functions:
                    kept = self._conn.execute(
                        "SELECT request_id, stored_bytes FROM recordings WHERE region = ? AND function = ? "
                        "ORDER BY time_ms DESC, request_id DESC",
                        (region, name),
                    ).fetchall()
                    gone = to_evict([(str(r), int(b)) for r, b in kept], self.limits)
                    self._conn.executemany(
                        "DELETE FROM recordings WHERE request_id = ?", [(g,) for g in gone]
                    )
        except Exception as e:
            if not is_disk_full(e):
                raise
            self.drops.dropped(len(rows), e)  # never kept in memory: the disk may stay full
            return
        self.drops.stored()

    def enforce(self, now_ms: int) -> int:
        """Delete the recordings past the retention; how many went. Any thread."""
        with self._db_lock, writing():
            cur = self._conn.execute("DELETE FROM recordings WHERE time_ms < ?", (self._cutoff(now_ms),))
            return int(cur.rowcount)

    def _cutoff(self, now_ms: int) -> int:
        return now_ms - int(self.limits.retention_days * DAY_MS)

    async def run_flusher(self) -> None:
        await write_behind(
            self._take,
            self._write,
            self.enforce,
            self.flush,
            interval=FLUSH_INTERVAL,
            enforce_every=ENFORCE_INTERVAL,
        )

    def close(self) -> None:
        self.flush()
        self._conn.close()

    # -- reads -------------------------------------------------------------------------------

    def _select(self, where: str, args: tuple[Any, ...], limit: int) -> list[Recording]:
        self.flush()
        now_ms = int(time.time() * 1000)
        with self._db_lock:
            rows = self._conn.execute(
                f"SELECT {COLUMNS} FROM recordings WHERE {where} AND time_ms >= ? "
                "ORDER BY time_ms DESC, request_id DESC LIMIT ?",
                (*args, self._cutoff(now_ms), limit),
            ).fetchall()
        return [_recording(row) for row in rows]

    def recent(self, region: str, function: str, *, failed: bool = False, limit: int = 20) -> list[Recording]:
        """The function's recordings, newest first (only the failed ones with `failed`)."""
        where = "region = ? AND function = ?" + (" AND failed = 1" if failed else "")
        return self._select(where, (region, function), limit)

    def get(self, request_id: str) -> Recording | None:
        found = self._select("request_id = ?", (request_id,), 1)
        return found[0] if found else None


def _decode(text: object) -> bytes | None:
    return None if text is None else base64.b64decode(str(text))


def _recording(row: Sequence[Any]) -> Recording:
    (request_id, region, function, qualifier, version, time_ms, duration_ms, failed, error_type,
     message, client_context, payload, payload_bytes, result, result_bytes, _) = row  # fmt: skip
    return Recording(
        request_id=str(request_id),
        region=str(region),
        function=str(function),
        qualifier=None if qualifier is None else str(qualifier),
        version=str(version),
        time_ms=int(time_ms),
        duration_ms=float(duration_ms),
        failed=bool(failed),
        error_type=None if error_type is None else str(error_type),
        error_message=None if message is None else str(message),
        client_context=None if client_context is None else str(client_context),
        payload=_decode(payload),
        payload_bytes=int(payload_bytes),
        result=_decode(result),
        result_bytes=int(result_bytes),
    )
