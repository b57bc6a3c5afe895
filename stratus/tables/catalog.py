"""The SQL of `tables.db` (portable: PostgreSQL runs it too, with BYTEA for BLOB), each function
run on the store's worker thread inside the caller's transaction.

- `tables`: one JSON record per table (`model.Table`).
- `items`: one row per item, keyed by (table id, partition key bytes, sort key bytes) in
  DynamoDB's key order (`values.sort_key_bytes`), the item as DynamoDB's JSON, its size, and its
  partition's hash (Scan's segments are ranges of it).
- `index_items`: one row per item per secondary index that holds it, keyed by the index's key
  then the table's (the order a Query of the index returns), with the item as the index
  projects it.
- `stream_records`: one row per change a table's stream must see, written in the change's own
  transaction (read by `streams.py`): sequence (increasing), table_arn, shard_id, event_name,
  keys, new_image and old_image (DynamoDB's JSON, blobs in base64), created_ms, user_identity.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from stratus.tables.model import Table

SCHEMA = """
CREATE TABLE IF NOT EXISTS tables (
    id INTEGER PRIMARY KEY,
    arn TEXT NOT NULL UNIQUE,
    record TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS items (
    table_id INTEGER NOT NULL,
    pk BLOB NOT NULL,
    sk BLOB NOT NULL,
    hash INTEGER NOT NULL,
    item TEXT NOT NULL,
    size INTEGER NOT NULL,
    PRIMARY KEY (table_id, pk, sk)
);
CREATE TABLE IF NOT EXISTS index_items (
    table_id INTEGER NOT NULL,
    index_name TEXT NOT NULL,
    ipk BLOB NOT NULL,
    isk BLOB NOT NULL,
    pk BLOB NOT NULL,
    sk BLOB NOT NULL,
    hash INTEGER NOT NULL,
    item TEXT NOT NULL,
    size INTEGER NOT NULL,
    PRIMARY KEY (table_id, index_name, ipk, isk, pk, sk)
);
CREATE INDEX IF NOT EXISTS index_items_by_item ON index_items (table_id, pk, sk);
CREATE TABLE IF NOT EXISTS stream_records (
    sequence INTEGER PRIMARY KEY,
    table_arn TEXT NOT NULL,
    shard_id TEXT NOT NULL,
    event_name TEXT NOT NULL,
    keys TEXT NOT NULL,
    new_image TEXT,
    old_image TEXT,
    created_ms INTEGER NOT NULL,
    user_identity TEXT
);
CREATE INDEX IF NOT EXISTS stream_records_by_table ON stream_records (table_arn, sequence);
"""


# -- tables ----------------------------------------------------------------------------------


def load_tables(conn: sqlite3.Connection) -> list[Table]:
    return [Table.from_record(json.loads(r)) for (r,) in conn.execute("SELECT record FROM tables")]


def next_table_id(conn: sqlite3.Connection) -> int:
    (high,) = conn.execute("SELECT MAX(id) FROM tables").fetchone()
    return int(high or 0) + 1


def save_table(conn: sqlite3.Connection, table: Table) -> None:
    record = json.dumps(table.to_record(), separators=(",", ":"))
    conn.execute(
        "INSERT INTO tables (id, arn, record) VALUES (?, ?, ?) "
        "ON CONFLICT (id) DO UPDATE SET record = excluded.record",
        (table.id, table.arn, record),
    )


def drop_table(conn: sqlite3.Connection, table_id: int) -> None:
    """The table and its items; its stream records stay for their 24 hours, as DynamoDB's do."""
    conn.execute("DELETE FROM index_items WHERE table_id = ?", (table_id,))
    conn.execute("DELETE FROM items WHERE table_id = ?", (table_id,))
    conn.execute("DELETE FROM tables WHERE id = ?", (table_id,))


def counts(conn: sqlite3.Connection, table_id: int) -> tuple[int, int, dict[str, tuple[int, int]]]:
    """(item count, bytes) of the table and of each of its indexes."""
    count, size = conn.execute(
        "SELECT COUNT(*), COALESCE(SUM(size), 0) FROM items WHERE table_id = ?", (table_id,)
    ).fetchone()
    indexes = {
        str(name): (int(n), int(s))
        for name, n, s in conn.execute(
            "SELECT index_name, COUNT(*), COALESCE(SUM(size), 0) FROM index_items WHERE table_id = ? "
            "GROUP BY index_name",
            (table_id,),
        )
    }
    return int(count), int(size), indexes


# -- items -----------------------------------------------------------------------------------


def get_item(conn: sqlite3.Connection, table_id: int, pk: bytes, sk: bytes) -> str | None:
    row = conn.execute(
        "SELECT item FROM items WHERE table_id = ? AND pk = ? AND sk = ?", (table_id, pk, sk)
    ).fetchone()
    return None if row is None else str(row[0])


def put_item(
    conn: sqlite3.Connection, table_id: int, pk: bytes, sk: bytes, hash_: int, item: str, size: int
) -> None:
    conn.execute(
        "INSERT INTO items (table_id, pk, sk, hash, item, size) VALUES (?, ?, ?, ?, ?, ?) "
        "ON CONFLICT (table_id, pk, sk) DO UPDATE SET item = excluded.item, size = excluded.size",
        (table_id, pk, sk, hash_, item, size),
    )


def delete_item(conn: sqlite3.Connection, table_id: int, pk: bytes, sk: bytes) -> None:
    conn.execute("DELETE FROM items WHERE table_id = ? AND pk = ? AND sk = ?", (table_id, pk, sk))


@dataclass(frozen=True)
class IndexRow:
    index_name: str
    ipk: bytes
    isk: bytes
    item: str
    size: int


def replace_index_rows(
    conn: sqlite3.Connection,
    table_id: int,
    pk: bytes,
    sk: bytes,
    hash_: int,
    rows: Iterable[IndexRow],
    had: bool,
) -> None:
    """The item's rows in its table's indexes, replaced (`had`: it may have some already)."""
    if had:
        conn.execute("DELETE FROM index_items WHERE table_id = ? AND pk = ? AND sk = ?", (table_id, pk, sk))
    conn.executemany(
        "INSERT INTO index_items (table_id, index_name, ipk, isk, pk, sk, hash, item, size) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [(table_id, r.index_name, r.ipk, r.isk, pk, sk, hash_, r.item, r.size) for r in rows],
    )


def drop_index(conn: sqlite3.Connection, table_id: int, index_name: str) -> None:
    conn.execute("DELETE FROM index_items WHERE table_id = ? AND index_name = ?", (table_id, index_name))


def all_items(conn: sqlite3.Connection, table_id: int) -> list[tuple[bytes, bytes, int, str]]:
    return [
        (bytes(pk), bytes(sk), int(h), str(item))
        for pk, sk, h, item in conn.execute(
            "SELECT pk, sk, hash, item FROM items WHERE table_id = ? ORDER BY pk, sk", (table_id,)
        )
    ]


# -- ranges (Query and Scan) -----------------------------------------------------------------


@dataclass(frozen=True)
class Range:
    """The rows a Query or Scan reads, in its order: one partition's sort key range (Query) or
    a range of partition hashes (a Scan segment), after an exclusive start, of the table or one
    of its indexes."""

    table_id: int
    index_name: str | None = None
    pk: bytes | None = None  # Query: the partition (of the index, for an index)
    low: tuple[bytes, bool] | None = None  # (bound, inclusive)
    high: tuple[bytes, bool] | None = None
    hash_range: tuple[int, int] | None = None  # Scan segment: low <= hash < high
    forward: bool = True
    after: tuple[bytes, ...] | None = None  # the order's columns of the last row read


def read_range(conn: sqlite3.Connection, r: Range, limit: int) -> list[tuple[tuple[bytes, ...], str, int]]:
    """Up to `limit` rows of `r`: (their order's columns, item JSON, size)."""
    where: list[str] = ["table_id = ?"]
    args: list[Any] = [r.table_id]
    if r.index_name is None:
        order: Sequence[str] = ("pk", "sk")
        source = "items"
        sort_col = "sk"
    else:
        order = ("ipk", "isk", "pk", "sk")
        source = "index_items"
        sort_col = "isk"
        where.append("index_name = ?")
        args.append(r.index_name)
    if r.pk is not None:
        where.append(f"{order[0]} = ?")
        args.append(r.pk)
    if r.low is not None:
        where.append(f"{sort_col} {'>=' if r.low[1] else '>'} ?")
        args.append(r.low[0])
    if r.high is not None:
        where.append(f"{sort_col} {'<=' if r.high[1] else '<'} ?")
        args.append(r.high[0])
    if r.hash_range is not None:
        where.append("hash >= ? AND hash < ?")
        args += list(r.hash_range)
    if r.after is not None:
        columns = ", ".join(order)
        marks = ", ".join("?" for _ in order)
        where.append(f"({columns}) {'>' if r.forward else '<'} ({marks})")
        args += list(r.after)
    direction = "" if r.forward else " DESC"
    sql = (
        f"SELECT {', '.join(order)}, item, size FROM {source} WHERE {' AND '.join(where)} "
        f"ORDER BY {', '.join(c + direction for c in order)} LIMIT ?"
    )
    args.append(limit)
    width = len(order)
    return [
        (tuple(bytes(v) for v in row[:width]), str(row[width]), int(row[width + 1]))
        for row in conn.execute(sql, args)
    ]


# -- stream records --------------------------------------------------------------------------


def add_stream_record(
    conn: sqlite3.Connection,
    table_arn: str,
    shard_id: str,
    event_name: str,
    keys: str,
    new_image: str | None,
    old_image: str | None,
    created_ms: int,
    user_identity: str | None = None,
) -> int:
    (high,) = conn.execute("SELECT MAX(sequence) FROM stream_records").fetchone()
    sequence = int(high or 0) + 1
    conn.execute(
        "INSERT INTO stream_records (sequence, table_arn, shard_id, event_name, keys, new_image, "
        "old_image, created_ms, user_identity) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (sequence, table_arn, shard_id, event_name, keys, new_image, old_image, created_ms, user_identity),
    )
    return sequence
