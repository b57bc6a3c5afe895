"""The bucket store's SQL: its schema and its queries, over one connection.

Every function here runs on the owner's (`objects.Buckets`) worker thread, inside a transaction
the owner opens: one per change, holding the object row and its outbox rows together.

Portable SQL: TEXT, INTEGER and BIGINT columns, `ON CONFLICT ... DO UPDATE/NOTHING` and
`UPDATE ... RETURNING`, which PostgreSQL runs as SQLite does. Keys are compared bytewise
(UTF-8 bytes, which is also code point order): SQLite's default BINARY collation does that;
PostgreSQL needs the key columns declared `COLLATE "C"`, which its backend adds (SQLite has no
collation of that name). Listings never load a whole bucket: each step is a range query on
(bucket, key) with a LIMIT.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

from stratus.buckets.model import BucketInfo, Delivery, ObjectInfo, PartInfo, Segment, UploadInfo

SCHEMA = """
CREATE TABLE IF NOT EXISTS buckets (
    name TEXT PRIMARY KEY,
    region TEXT NOT NULL,
    created_ms BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS objects (
    bucket TEXT NOT NULL,
    key TEXT NOT NULL,
    size BIGINT NOT NULL,
    etag TEXT NOT NULL,
    modified_ms BIGINT NOT NULL,
    content_type TEXT NOT NULL,
    metadata TEXT NOT NULL,
    headers TEXT NOT NULL,
    checksums TEXT NOT NULL,
    segments TEXT NOT NULL,
    sequencer TEXT NOT NULL,
    parts_count INTEGER,
    PRIMARY KEY (bucket, key)
);
CREATE TABLE IF NOT EXISTS uploads (
    upload_id TEXT PRIMARY KEY,
    bucket TEXT NOT NULL,
    key TEXT NOT NULL,
    initiated_ms BIGINT NOT NULL,
    content_type TEXT NOT NULL,
    metadata TEXT NOT NULL,
    headers TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS uploads_by_key ON uploads (bucket, key, upload_id);
CREATE TABLE IF NOT EXISTS parts (
    upload_id TEXT NOT NULL,
    number INTEGER NOT NULL,
    size BIGINT NOT NULL,
    etag TEXT NOT NULL,
    modified_ms BIGINT NOT NULL,
    blob TEXT NOT NULL,
    PRIMARY KEY (upload_id, number)
);
CREATE TABLE IF NOT EXISTS notifications (
    bucket TEXT PRIMARY KEY,
    config TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS outbox (
    id BIGINT PRIMARY KEY,
    function_arn TEXT NOT NULL,  -- the target: a function, queue or topic (named before the others existed)
    region TEXT NOT NULL,
    payload TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS sequences (
    name TEXT PRIMARY KEY,
    value BIGINT NOT NULL
);
"""
SEQUENCER = "sequencer"  # one per object change: orders the events of a key
OUTBOX = "outbox"  # the outbox's row ids (no SQLite-only AUTOINCREMENT)
_OBJECT_COLUMNS = (
    "bucket, key, size, etag, modified_ms, content_type, metadata, headers, checksums, segments, "
    "sequencer, parts_count"
)
_UPLOAD_COLUMNS = "bucket, key, upload_id, initiated_ms, content_type, metadata, headers"
_PART_COLUMNS = "number, size, etag, modified_ms, blob"


def create(conn: sqlite3.Connection) -> None:
    conn.executescript(SCHEMA)
    for name in (SEQUENCER, OUTBOX):
        conn.execute(
            "INSERT INTO sequences (name, value) VALUES (?, 0) ON CONFLICT (name) DO NOTHING", (name,)
        )


def when(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


def _json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def next_values(conn: sqlite3.Connection, name: str, count: int = 1) -> int:
    """Take `count` values of a sequence; returns the last (the first is last - count + 1)."""
    (value,) = conn.execute(
        "UPDATE sequences SET value = value + ? WHERE name = ? RETURNING value", (count, name)
    ).fetchone()
    return int(value)


def sequencer(n: int) -> str:
    return f"{n:016X}"


# -- buckets --------------------------------------------------------------------------------


def load_buckets(conn: sqlite3.Connection) -> list[BucketInfo]:
    rows = conn.execute("SELECT name, region, created_ms FROM buckets ORDER BY name")
    return [BucketInfo(name, region, when(ms)) for name, region, ms in rows]


def insert_bucket(conn: sqlite3.Connection, info: BucketInfo) -> bool:
    """False if a bucket of that name exists."""
    cursor = conn.execute(
        "INSERT INTO buckets (name, region, created_ms) VALUES (?, ?, ?) ON CONFLICT (name) DO NOTHING",
        (info.name, info.region, int(info.created.timestamp() * 1000)),
    )
    return cursor.rowcount == 1


def bucket_exists(conn: sqlite3.Connection, name: str) -> bool:
    return conn.execute("SELECT 1 FROM buckets WHERE name = ?", (name,)).fetchone() is not None


def bucket_holds_anything(conn: sqlite3.Connection, name: str) -> bool:
    """Whether a bucket has an object or an upload in progress (S3 refuses to delete it)."""
    for table in ("objects", "uploads"):
        if conn.execute(f"SELECT 1 FROM {table} WHERE bucket = ? LIMIT 1", (name,)).fetchone():
            return True
    return False


def delete_bucket(conn: sqlite3.Connection, name: str) -> None:
    conn.execute("DELETE FROM notifications WHERE bucket = ?", (name,))
    conn.execute("DELETE FROM buckets WHERE name = ?", (name,))


# -- notification configurations ------------------------------------------------------------


def load_notifications(conn: sqlite3.Connection) -> dict[str, str]:
    return dict(conn.execute("SELECT bucket, config FROM notifications"))


def put_notification(conn: sqlite3.Connection, bucket: str, config: str | None) -> None:
    if config:
        conn.execute(
            "INSERT INTO notifications (bucket, config) VALUES (?, ?) "
            "ON CONFLICT (bucket) DO UPDATE SET config = excluded.config",
            (bucket, config),
        )
    else:
        conn.execute("DELETE FROM notifications WHERE bucket = ?", (bucket,))


# -- objects --------------------------------------------------------------------------------


def _object(row: Sequence[Any]) -> ObjectInfo:
    bucket, key, size, etag, ms, content_type, metadata, headers, checksums, segments, seq, parts = row
    return ObjectInfo(
        bucket=bucket,
        key=key,
        size=size,
        etag=etag,
        last_modified=when(ms),
        content_type=content_type,
        metadata=json.loads(metadata),
        headers=json.loads(headers),
        checksums=json.loads(checksums),
        segments=tuple(Segment(blob, n) for blob, n in json.loads(segments)),
        sequencer=seq,
        parts_count=parts,
    )


def get_object(conn: sqlite3.Connection, bucket: str, key: str) -> ObjectInfo | None:
    row = conn.execute(
        f"SELECT {_OBJECT_COLUMNS} FROM objects WHERE bucket = ? AND key = ?", (bucket, key)
    ).fetchone()
    return None if row is None else _object(row)


def put_object(conn: sqlite3.Connection, info: ObjectInfo) -> None:
    conn.execute(
        f"INSERT INTO objects ({_OBJECT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
        "ON CONFLICT (bucket, key) DO UPDATE SET size = excluded.size, etag = excluded.etag, "
        "modified_ms = excluded.modified_ms, content_type = excluded.content_type, "
        "metadata = excluded.metadata, headers = excluded.headers, checksums = excluded.checksums, "
        "segments = excluded.segments, sequencer = excluded.sequencer, parts_count = excluded.parts_count",
        (
            info.bucket,
            info.key,
            info.size,
            info.etag,
            int(info.last_modified.timestamp() * 1000),
            info.content_type,
            _json(dict(info.metadata)),
            _json(dict(info.headers)),
            _json(dict(info.checksums)),
            _json([[s.blob, s.size] for s in info.segments]),
            info.sequencer,
            info.parts_count,
        ),
    )


def delete_object(conn: sqlite3.Connection, bucket: str, key: str) -> None:
    conn.execute("DELETE FROM objects WHERE bucket = ? AND key = ?", (bucket, key))


def after_prefix(prefix: str) -> str | None:
    """The smallest string greater than every string that starts with `prefix` (None: there is
    none, every longer string sorts after it). Its last character raised by one, past the
    surrogates (no key holds one) and carrying over U+10FFFF."""
    while prefix:
        last = ord(prefix[-1])
        if last < 0x10FFFF:
            nxt = 0xE000 if 0xD800 <= last + 1 <= 0xDFFF else last + 1
            return prefix[:-1] + chr(nxt)
        prefix = prefix[:-1]
    return None


def list_objects(
    conn: sqlite3.Connection,
    bucket: str,
    *,
    prefix: str,
    delimiter: str,
    start_after: str,
    max_keys: int,
) -> tuple[list[ObjectInfo], list[str], bool, str | None]:
    """ListObjectsV2's page: (contents, common prefixes, truncated, the last key or prefix
    returned). Keys after `start_after` (if that is itself a common prefix, after every key
    under it: that is how a page that ended on a prefix resumes). Each query reads at most what
    is still wanted; with a delimiter, a common prefix is reported once and the next query
    starts past every key under it, so a folder of a million keys costs one row."""
    upper = after_prefix(prefix) if prefix else None
    lower, inclusive = start_after, False
    if delimiter and start_after.startswith(prefix):
        cut = start_after.find(delimiter, len(prefix))
        if cut >= 0 and cut + len(delimiter) == len(start_after):
            past = after_prefix(start_after)
            if past is None:
                return [], [], False, None
            lower, inclusive = past, True
    if prefix > lower or (prefix == lower and not start_after):
        lower, inclusive = prefix, True
    contents: list[ObjectInfo] = []
    prefixes: list[str] = []
    last: str | None = None
    while True:
        want = max_keys - len(contents) - len(prefixes) + 1  # one more tells whether it is truncated
        above = ">=" if inclusive else ">"
        query = f"SELECT {_OBJECT_COLUMNS} FROM objects WHERE bucket = ? AND key {above} ?"
        args: list[Any] = [bucket, lower]
        if upper is not None:
            query += " AND key < ?"
            args.append(upper)
        rows = conn.execute(query + " ORDER BY key LIMIT ?", (*args, want)).fetchall()
        if not rows:
            return contents, prefixes, False, last
        jumped = False
        for row in rows:
            key: str = row[1]
            cut = key.find(delimiter, len(prefix)) if delimiter else -1
            if len(contents) + len(prefixes) == max_keys:
                return contents, prefixes, True, last
            if cut >= 0:
                common = key[: cut + len(delimiter)]
                prefixes.append(common)
                last = common
                past = after_prefix(common)
                if past is None:
                    return contents, prefixes, False, last
                lower, inclusive, jumped = past, True, True
                break
            contents.append(_object(row))
            last, lower, inclusive = key, key, False
        if not jumped and len(rows) < want:
            return contents, prefixes, False, last


def live_blobs(conn: sqlite3.Connection) -> Iterator[str]:
    """Every blob a row names: objects' segments and uploaded parts (the sweep keeps these)."""
    for (segments,) in conn.execute("SELECT segments FROM objects"):
        for blob, _ in json.loads(segments):
            yield blob
    for (blob,) in conn.execute("SELECT blob FROM parts"):
        yield blob


# -- multipart uploads ----------------------------------------------------------------------


def _upload(row: Sequence[Any]) -> UploadInfo:
    bucket, key, upload_id, ms, content_type, metadata, headers = row
    return UploadInfo(
        bucket, key, upload_id, when(ms), content_type, json.loads(metadata), json.loads(headers)
    )


def insert_upload(conn: sqlite3.Connection, info: UploadInfo) -> None:
    conn.execute(
        f"INSERT INTO uploads ({_UPLOAD_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)",
        (
            info.bucket,
            info.key,
            info.upload_id,
            int(info.initiated.timestamp() * 1000),
            info.content_type,
            _json(dict(info.metadata)),
            _json(dict(info.headers)),
        ),
    )


def get_upload(conn: sqlite3.Connection, upload_id: str) -> UploadInfo | None:
    row = conn.execute(f"SELECT {_UPLOAD_COLUMNS} FROM uploads WHERE upload_id = ?", (upload_id,)).fetchone()
    return None if row is None else _upload(row)


def delete_upload(conn: sqlite3.Connection, upload_id: str) -> list[str]:
    """The upload and its parts gone; returns the parts' blobs (to delete after commit)."""
    blobs = [b for (b,) in conn.execute("SELECT blob FROM parts WHERE upload_id = ?", (upload_id,))]
    conn.execute("DELETE FROM parts WHERE upload_id = ?", (upload_id,))
    conn.execute("DELETE FROM uploads WHERE upload_id = ?", (upload_id,))
    return blobs


def list_uploads(
    conn: sqlite3.Connection, bucket: str, *, prefix: str, key_marker: str, upload_id_marker: str, limit: int
) -> list[UploadInfo]:
    """Uploads in progress by (key, upload id), after the markers, at most `limit`."""
    query = f"SELECT {_UPLOAD_COLUMNS} FROM uploads WHERE bucket = ?"
    args: list[Any] = [bucket]
    if key_marker:
        if upload_id_marker:
            query += " AND (key > ? OR (key = ? AND upload_id > ?))"
            args += [key_marker, key_marker, upload_id_marker]
        else:
            query += " AND key > ?"
            args.append(key_marker)
    if prefix:
        query += " AND key >= ?"
        args.append(prefix)
        upper = after_prefix(prefix)
        if upper is not None:
            query += " AND key < ?"
            args.append(upper)
    query += " ORDER BY key, upload_id LIMIT ?"
    return [_upload(row) for row in conn.execute(query, (*args, limit))]


def _part(row: Sequence[Any]) -> PartInfo:
    number, size, etag, ms, blob = row
    return PartInfo(number, size, etag, when(ms), blob)


def put_part(conn: sqlite3.Connection, upload_id: str, part: PartInfo) -> str | None:
    """Store a part (replacing one of the same number); returns the replaced part's blob."""
    old = conn.execute(
        "SELECT blob FROM parts WHERE upload_id = ? AND number = ?", (upload_id, part.number)
    ).fetchone()
    conn.execute(
        f"INSERT INTO parts (upload_id, {_PART_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?) "
        "ON CONFLICT (upload_id, number) DO UPDATE SET size = excluded.size, etag = excluded.etag, "
        "modified_ms = excluded.modified_ms, blob = excluded.blob",
        (upload_id, part.number, part.size, part.etag, int(part.last_modified.timestamp() * 1000), part.blob),
    )
    return None if old is None else str(old[0])


def all_parts(conn: sqlite3.Connection, upload_id: str) -> dict[int, PartInfo]:
    rows = conn.execute(f"SELECT {_PART_COLUMNS} FROM parts WHERE upload_id = ?", (upload_id,))
    return {row[0]: _part(row) for row in rows}


def list_parts(conn: sqlite3.Connection, upload_id: str, *, marker: int, limit: int) -> list[PartInfo]:
    rows = conn.execute(
        f"SELECT {_PART_COLUMNS} FROM parts WHERE upload_id = ? AND number > ? ORDER BY number LIMIT ?",
        (upload_id, marker, limit),
    )
    return [_part(row) for row in rows]


# -- the notification outbox ----------------------------------------------------------------


def add_deliveries(conn: sqlite3.Connection, deliveries: Sequence[Delivery]) -> None:
    if not deliveries:
        return
    last = next_values(conn, OUTBOX, len(deliveries))
    first = last - len(deliveries) + 1
    conn.executemany(
        "INSERT INTO outbox (id, function_arn, region, payload) VALUES (?, ?, ?, ?)",
        [(first + i, d.target_arn, d.region, d.payload.decode("utf-8")) for i, d in enumerate(deliveries)],
    )


def pending(conn: sqlite3.Connection, limit: int) -> list[tuple[int, Delivery]]:
    rows = conn.execute("SELECT id, function_arn, region, payload FROM outbox ORDER BY id LIMIT ?", (limit,))
    return [(i, Delivery(arn, region, payload.encode("utf-8"))) for i, arn, region, payload in rows]


def delivered(conn: sqlite3.Connection, ids: Sequence[int]) -> None:
    conn.executemany("DELETE FROM outbox WHERE id = ?", [(i,) for i in ids])
