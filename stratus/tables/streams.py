"""DynamoDB Streams: reading the `stream_records` rows the table store writes with each change
(in the change's own transaction), as shards, sequence numbers and shard iterators.

- **One shard per stream.** DynamoDB splits a stream into shards that close every few hours;
  here a stream has one shard, open while the stream is enabled and closed when it is disabled
  (its last record's sequence number is then its EndingSequenceNumber). Records of one item are
  in order either way, which is what readers rely on.
- **Sequence numbers** are the rows' increasing integers written as DynamoDB writes them: 21
  or more decimal digits (the model's minimum length), zero-padded so that their text sorts
  as their value.
- **Shard iterators** carry what they read from (the stream, the shard, the sequence number
  the next read starts after) and when they expire (15 minutes, as DynamoDB's do). They need no
  secret: GetRecords is authorized on the stream the iterator names, so a forged iterator can
  only read what its caller may read anyway.
- **Retention**: records older than 24 hours are deleted by `trim` (run each minute beside the
  TTL sweep). A TRIM_HORIZON iterator then starts at the oldest record left.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import json
import sqlite3
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol, TypeVar

from stratus.tables.stream_errors import (
    ExpiredIteratorException,
    ResourceNotFoundException,
    ValidationException,
)
from stratus.tables.values import item_size

T = TypeVar("T")

RETENTION_MS = 24 * 3600 * 1000
ITERATOR_LIFE_MS = 15 * 60 * 1000
MAX_LIMIT = 1000  # GetRecords' and DescribeStream's most
SEQUENCE_DIGITS = 21
EVENT_VERSION = "1.1"
SERVICE_IDENTITY = {"type": "Service", "principalId": "dynamodb.amazonaws.com"}
ITERATOR_TYPES = ("TRIM_HORIZON", "LATEST", "AT_SEQUENCE_NUMBER", "AFTER_SEQUENCE_NUMBER", "AT_TIMESTAMP")


# -- sequence numbers and shards (pure) ----------------------------------------------------------


def sequence_number(value: int) -> str:
    return f"{value:0{SEQUENCE_DIGITS}d}"


def sequence_value(text: str) -> int:
    """A sequence number's integer; ValidationException for anything but digits."""
    if not text or not text.isascii() or not text.isdigit():
        raise ValidationException(f"Invalid SequenceNumber: {text}")
    return int(text)


def shard_id(stream_arn: str, created_ms: int) -> str:
    """DynamoDB's shard id form (shardId-<20 digits>-<8 hex>), fixed for a stream."""
    digest = hashlib.sha256(stream_arn.encode()).hexdigest()[:8]
    return f"shardId-{created_ms:020d}-{digest}"


def event_id(stream_arn: str, sequence: int) -> str:
    """A record's eventID: unique per record and the same each time it is read."""
    return hashlib.md5(f"{stream_arn}#{sequence}".encode(), usedforsecurity=False).hexdigest()


@dataclass(frozen=True)
class StreamInfo:
    """One stream of one table, as the table catalog describes it."""

    arn: str  # arn:aws:dynamodb:REGION:ACCOUNT:table/NAME/stream/LABEL
    table_name: str
    table_arn: str  # what stream_records.table_arn holds for this table
    label: str
    view_type: str  # KEYS_ONLY, NEW_IMAGE, OLD_IMAGE, NEW_AND_OLD_IMAGES
    key_schema: tuple[tuple[str, str], ...]  # (attribute name, HASH | RANGE)
    created_ms: int
    ended_ms: int | None = None  # when it was disabled; None while enabled

    @property
    def shard_id(self) -> str:
        return shard_id(self.arn, self.created_ms)

    @property
    def status(self) -> str:
        return "ENABLED" if self.ended_ms is None else "DISABLED"

    @property
    def region(self) -> str:
        parts = self.arn.split(":")
        return parts[3] if len(parts) > 3 else ""


@dataclass(frozen=True)
class StreamRow:
    """One stream record as stored: images in DynamoDB's JSON (binary values in base64)."""

    sequence: int
    event_name: str  # INSERT, MODIFY, REMOVE
    keys: dict[str, Any]
    new_image: dict[str, Any] | None
    old_image: dict[str, Any] | None
    created_ms: int
    user_identity: dict[str, Any] | None = None


@dataclass(frozen=True)
class Position:
    """What a shard iterator says: read `stream`'s `shard` after sequence `after` (-1: from
    the oldest record kept)."""

    stream_arn: str
    shard: str
    after: int
    expires_ms: int


def encode_iterator(position: Position) -> str:
    body = json.dumps([position.shard, position.after, position.expires_ms], separators=(",", ":"))
    return f"{position.stream_arn}|1|{base64.urlsafe_b64encode(body.encode()).decode()}"


def decode_iterator(text: str) -> Position:
    arn, _, rest = text.partition("|")
    version, _, body = rest.partition("|")
    try:
        if version != "1" or not arn.startswith("arn:"):
            raise ValueError(text)
        shard, after, expires = json.loads(base64.urlsafe_b64decode(body.encode()))
        if not isinstance(shard, str) or not isinstance(after, int) or not isinstance(expires, int):
            raise ValueError(text)
    except (ValueError, TypeError, binascii.Error) as e:
        raise ValidationException("Invalid ShardIterator") from e
    return Position(arn, shard, after, expires)


def expired(position: Position, now_ms: int) -> bool:
    return now_ms >= position.expires_ms


# -- the shapes records take (pure) --------------------------------------------------------------


def to_wire(value: Any) -> Any:
    """A stored attribute value (binary in base64 text) as the wire layer takes it (bytes)."""
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for kind, inner in value.items():
            if kind == "B" and isinstance(inner, str):
                out[kind] = base64.b64decode(inner)
            elif kind == "BS" and isinstance(inner, list):
                out[kind] = [base64.b64decode(v) for v in inner]
            elif kind == "M" and isinstance(inner, dict):
                out[kind] = {k: to_wire(v) for k, v in inner.items()}
            elif kind == "L" and isinstance(inner, list):
                out[kind] = [to_wire(v) for v in inner]
            else:
                out[kind] = inner
        return out
    return value


def item_to_wire(item: dict[str, Any]) -> dict[str, Any]:
    return {name: to_wire(value) for name, value in item.items()}


def size_bytes(row: StreamRow) -> int:
    """The record's SizeBytes: its keys and images by DynamoDB's item size rules."""
    total = 0
    for image in (row.keys, row.new_image, row.old_image):
        if image:
            total += item_size(item_to_wire(image))
    return total


def stream_record(stream: StreamInfo, row: StreamRow) -> dict[str, Any]:
    """The `dynamodb` member of a record, in stored JSON form (as Lambda's event has it)."""
    body: dict[str, Any] = {
        "ApproximateCreationDateTime": row.created_ms // 1000,
        "Keys": row.keys,
    }
    if row.new_image is not None:
        body["NewImage"] = row.new_image
    if row.old_image is not None:
        body["OldImage"] = row.old_image
    body["SequenceNumber"] = sequence_number(row.sequence)
    body["SizeBytes"] = size_bytes(row)
    body["StreamViewType"] = stream.view_type
    return body


def lambda_record(stream: StreamInfo, row: StreamRow) -> dict[str, Any]:
    """One of Records[] of the event a stream's event source mapping hands a function."""
    record: dict[str, Any] = {
        "eventID": event_id(stream.arn, row.sequence),
        "eventName": row.event_name,
        "eventVersion": EVENT_VERSION,
        "eventSource": "aws:dynamodb",
        "awsRegion": stream.region,
        "dynamodb": stream_record(stream, row),
        "eventSourceARN": stream.arn,
    }
    if row.user_identity:
        record["userIdentity"] = dict(row.user_identity)
    return record


def api_record(stream: StreamInfo, row: StreamRow) -> dict[str, Any]:
    """One of GetRecords' Records, as boto3 returns it (binary as bytes, a datetime)."""
    body = stream_record(stream, row)
    body["ApproximateCreationDateTime"] = datetime.fromtimestamp(row.created_ms // 1000, UTC)
    body["Keys"] = item_to_wire(row.keys)
    for name in ("NewImage", "OldImage"):
        if name in body:
            body[name] = item_to_wire(body[name])
    record: dict[str, Any] = {
        "eventID": event_id(stream.arn, row.sequence),
        "eventName": row.event_name,
        "eventVersion": EVENT_VERSION,
        "eventSource": "aws:dynamodb",
        "awsRegion": stream.region,
        "dynamodb": body,
    }
    if row.user_identity:
        record["userIdentity"] = {
            "PrincipalId": row.user_identity.get("principalId", ""),
            "Type": row.user_identity.get("type", ""),
        }
    return record


# -- reading the rows ----------------------------------------------------------------------------


class Database(Protocol):
    """The table store's connection owner (`store.committer.Committer`)."""

    def read(self, fn: Callable[[sqlite3.Connection], T]) -> Awaitable[T]: ...

    def change(self, fn: Callable[[sqlite3.Connection], T]) -> Awaitable[T]: ...


_COLUMNS = "sequence, event_name, keys, new_image, old_image, created_ms, user_identity"


def _window(stream: StreamInfo) -> tuple[str, tuple[Any, ...]]:
    """The SQL condition selecting one stream's rows: its table's, written while it was on."""
    sql = "table_arn = ? AND created_ms >= ?"
    args: tuple[Any, ...] = (stream.table_arn, stream.created_ms)
    if stream.ended_ms is not None:
        sql += " AND created_ms <= ?"
        args += (stream.ended_ms,)
    return sql, args


def _row(values: Sequence[Any]) -> StreamRow:
    def loads(text: Any) -> Any:
        return json.loads(text) if text else None

    return StreamRow(
        sequence=int(values[0]),
        event_name=str(values[1]),
        keys=loads(values[2]) or {},
        new_image=loads(values[3]),
        old_image=loads(values[4]),
        created_ms=int(values[5]),
        user_identity=loads(values[6]),
    )


class Streams:
    """Reads of the streams the table store writes (it owns `tables.db`; this reads through
    its connection's owner), and the wake-ups of readers waiting for new records."""

    def __init__(
        self,
        db: Database,
        catalog: Callable[[], Sequence[StreamInfo]],
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._db = db
        self._catalog = catalog
        self._clock = clock
        self._changed = asyncio.Event()

    def now_ms(self) -> int:
        return int(self._clock() * 1000)

    # -- the catalog --------------------------------------------------------------------------

    def all(self) -> list[StreamInfo]:
        return sorted(self._catalog(), key=lambda s: (s.table_name, s.created_ms))

    def find(self, arn: str) -> StreamInfo | None:
        return next((s for s in self._catalog() if s.arn == arn), None)

    def get(self, arn: str) -> StreamInfo:
        stream = self.find(arn)
        if stream is None:
            raise ResourceNotFoundException(f"Requested resource not found: Stream: {arn} not found")
        return stream

    # -- wake-ups -----------------------------------------------------------------------------

    def wake(self) -> None:
        """A change with a stream record was committed (the table store calls this)."""
        self._changed.set()

    async def wait(self, timeout_s: float) -> None:
        """Until the next wake-up or `timeout_s`, whichever comes first."""
        self._changed.clear()
        try:
            await asyncio.wait_for(self._changed.wait(), timeout_s)
        except TimeoutError:
            pass

    # -- reads --------------------------------------------------------------------------------

    async def read_after(self, stream: StreamInfo, after: int, limit: int) -> list[StreamRow]:
        """Up to `limit` records of `stream` with sequence numbers above `after`, in order."""
        where, args = _window(stream)

        def read(conn: sqlite3.Connection) -> list[StreamRow]:
            rows = conn.execute(
                f"SELECT {_COLUMNS} FROM stream_records WHERE {where} AND sequence > ? "
                "ORDER BY sequence LIMIT ?",
                (*args, after, limit),
            ).fetchall()
            return [_row(r) for r in rows]

        return await self._db.read(read)

    async def bounds(self, stream: StreamInfo) -> tuple[int | None, int | None]:
        """The lowest and highest sequence numbers `stream` still holds."""
        where, args = _window(stream)

        def read(conn: sqlite3.Connection) -> tuple[int | None, int | None]:
            low, high = conn.execute(
                f"SELECT MIN(sequence), MAX(sequence) FROM stream_records WHERE {where}", args
            ).fetchone()
            return (None if low is None else int(low), None if high is None else int(high))

        return await self._db.read(read)

    async def latest(self, stream: StreamInfo) -> int:
        """The position just past the newest record (what LATEST reads after)."""

        def read(conn: sqlite3.Connection) -> int:
            # The table's newest record, of this stream or an earlier one: anything after it
            # is new, whichever stream it belongs to.
            (high,) = conn.execute(
                "SELECT MAX(sequence) FROM stream_records WHERE table_arn = ?", (stream.table_arn,)
            ).fetchone()
            return int(high) if high is not None else 0

        return await self._db.read(read)

    async def before_time(self, stream: StreamInfo, at_ms: int) -> int:
        """The position just before the first record written at or after `at_ms`."""
        where, args = _window(stream)

        def read(conn: sqlite3.Connection) -> int:
            (high,) = conn.execute(
                f"SELECT MAX(sequence) FROM stream_records WHERE {where} AND created_ms < ?",
                (*args, at_ms),
            ).fetchone()
            return int(high) if high is not None else -1

        return await self._db.read(read)

    async def trim(self) -> int:
        """Deletes records past the 24-hour retention; how many went."""
        cutoff = self.now_ms() - RETENTION_MS

        def delete(conn: sqlite3.Connection) -> int:
            # The newest row stays whatever its age: the next sequence number is counted from it,
            # and a number used again would be behind every reader's checkpoint.
            return conn.execute(
                "DELETE FROM stream_records WHERE created_ms < ? "
                "AND sequence < (SELECT MAX(sequence) FROM stream_records)",
                (cutoff,),
            ).rowcount

        return await self._db.change(delete)

    # -- iterators ----------------------------------------------------------------------------

    async def iterator(
        self,
        stream: StreamInfo,
        shard: str,
        kind: str,
        sequence: str | None = None,
        at: datetime | None = None,
    ) -> str:
        """GetShardIterator: where a reader of `shard` starts."""
        if shard != stream.shard_id:
            raise ResourceNotFoundException(f"Requested resource not found: Shard does not exist: {shard}")
        if kind in ("AT_SEQUENCE_NUMBER", "AFTER_SEQUENCE_NUMBER"):
            if sequence is None:
                raise ValidationException(f"Must specify a sequence number for iterator type {kind}")
            value = sequence_value(sequence)
            after = value - 1 if kind == "AT_SEQUENCE_NUMBER" else value
        elif sequence is not None:
            raise ValidationException(f"Sequence number must not be specified for iterator type {kind}")
        elif kind == "TRIM_HORIZON":
            after = -1
        elif kind == "LATEST":
            after = await self.latest(stream)
        elif kind == "AT_TIMESTAMP":
            if at is None:
                raise ValidationException("Must specify a Timestamp for iterator type AT_TIMESTAMP")
            after = await self.before_time(stream, int(at.timestamp() * 1000))
        else:
            raise ValidationException(f"Invalid ShardIteratorType: {kind}")
        return encode_iterator(Position(stream.arn, shard, after, self.now_ms() + ITERATOR_LIFE_MS))

    async def get_records(self, text: str, limit: int) -> tuple[StreamInfo, list[StreamRow], str | None]:
        """GetRecords: the records after the iterator's position and the iterator that reads on
        (None once a closed shard has been read to its end)."""
        position = decode_iterator(text)
        stream = self.get(position.stream_arn)
        now = self.now_ms()
        if position.shard != stream.shard_id:
            raise ResourceNotFoundException(
                f"Requested resource not found: Shard does not exist: {position.shard}"
            )
        if expired(position, now):
            created = position.expires_ms - ITERATOR_LIFE_MS
            raise ExpiredIteratorException(
                f"Iterator expired. The iterator was created at time {_stamp(created)} while right "
                f"now it is {_stamp(now)}. The iterator is valid for 15 minutes."
            )
        rows = await self.read_after(stream, position.after, min(limit, MAX_LIMIT))
        after = rows[-1].sequence if rows else position.after
        if not rows and stream.ended_ms is not None:
            return stream, rows, None  # a closed shard, read to its end
        following = Position(stream.arn, position.shard, after, now + ITERATOR_LIFE_MS)
        return stream, rows, encode_iterator(following)


def _stamp(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%a %b %d %H:%M:%S UTC %Y")
