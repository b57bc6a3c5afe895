"""queues.db's tables and the statements on them (synchronous: they run on the committer's one
worker thread). SQL that PostgreSQL also runs: `id` is an integer key the database assigns (an
identity column there), and a FIFO send reads it back with RETURNING.

A message is leased, never deleted on read: a receive writes its nonce (`lease`) and the end of
the visibility timeout (`visible_ms`); a delete or a visibility change counts only while the
lease is still the one its receipt handle names."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from stratus.queues.choosing import Candidate
from stratus.queues.model import Depth, Queue

SCHEMA = """
CREATE TABLE IF NOT EXISTS queues (
    arn TEXT PRIMARY KEY,
    region TEXT NOT NULL,
    name TEXT NOT NULL,
    account TEXT NOT NULL,
    attributes TEXT NOT NULL,
    tags TEXT NOT NULL,
    created_ms BIGINT NOT NULL,
    modified_ms BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS messages (
    id INTEGER PRIMARY KEY,
    queue TEXT NOT NULL,
    message_id TEXT NOT NULL,
    body TEXT NOT NULL,
    attributes TEXT,
    md5_attributes TEXT,
    sent_ms BIGINT NOT NULL,
    visible_ms BIGINT NOT NULL,
    receive_count INTEGER NOT NULL DEFAULT 0,
    first_receive_ms BIGINT,
    lease TEXT,
    group_id TEXT,
    dedup_id TEXT,
    sender_id TEXT,
    source_arn TEXT
);
CREATE INDEX IF NOT EXISTS messages_due ON messages(queue, visible_ms);
-- A FIFO receive reads a queue's messages in order: without this, every receive sorted them all.
CREATE INDEX IF NOT EXISTS messages_order ON messages(queue, id);
CREATE TABLE IF NOT EXISTS dedup (
    queue TEXT NOT NULL,
    scope_key TEXT NOT NULL,
    message_id TEXT NOT NULL,
    sequence TEXT,
    expires_ms BIGINT NOT NULL,
    PRIMARY KEY (queue, scope_key)
);
"""

_MESSAGE = (
    "id, message_id, body, attributes, md5_attributes, sent_ms, receive_count, first_receive_ms, "
    "group_id, dedup_id, sender_id"
)


@dataclass(frozen=True)
class Row:
    """A message as stored, for a receive's answer."""

    id: int
    message_id: str
    body: str
    attributes: str | None
    md5_attributes: str | None
    sent_ms: int
    receive_count: int
    first_receive_ms: int | None
    group_id: str | None
    dedup_id: str | None
    sender_id: str | None


@dataclass(frozen=True)
class NewMessage:
    queue: str
    message_id: str
    body: str
    attributes: str | None
    md5_attributes: str | None
    sent_ms: int
    visible_ms: int
    group_id: str | None
    dedup_id: str | None
    sender_id: str | None


def sequence_number(row_id: int) -> str:
    """A FIFO message's SequenceNumber: 20 digits, growing with the send order."""
    return f"{10**19 + row_id}"


# -- queues ------------------------------------------------------------------------------------


def load_queues(conn: sqlite3.Connection) -> list[Queue]:
    rows = conn.execute(
        "SELECT region, name, account, attributes, tags, created_ms, modified_ms FROM queues"
    ).fetchall()
    return [Queue(r[0], r[1], r[2], json.loads(r[3]), json.loads(r[4]), r[5], r[6]) for r in rows]


def put_queue(conn: sqlite3.Connection, queue: Queue) -> None:
    conn.execute(
        "INSERT INTO queues(arn, region, name, account, attributes, tags, created_ms, modified_ms) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(arn) DO UPDATE SET attributes = excluded.attributes, "
        "tags = excluded.tags, modified_ms = excluded.modified_ms",
        (
            queue.arn,
            queue.region,
            queue.name,
            queue.account_id,
            json.dumps(dict(queue.attributes)),
            json.dumps(dict(queue.tags)),
            queue.created_ms,
            queue.modified_ms,
        ),
    )


def delete_queue(conn: sqlite3.Connection, arn: str) -> None:
    conn.execute("DELETE FROM messages WHERE queue = ?", (arn,))
    conn.execute("DELETE FROM dedup WHERE queue = ?", (arn,))
    conn.execute("DELETE FROM queues WHERE arn = ?", (arn,))


def purge(conn: sqlite3.Connection, arn: str) -> None:
    conn.execute("DELETE FROM messages WHERE queue = ?", (arn,))


# -- sending -----------------------------------------------------------------------------------


def insert(conn: sqlite3.Connection, m: NewMessage) -> int | None:
    """One INSERT; the row's id when the caller needs it (FIFO's sequence number)."""
    values = (
        m.queue,
        m.message_id,
        m.body,
        m.attributes,
        m.md5_attributes,
        m.sent_ms,
        m.visible_ms,
        m.group_id,
        m.dedup_id,
        m.sender_id,
    )
    sql = (
        "INSERT INTO messages(queue, message_id, body, attributes, md5_attributes, sent_ms, visible_ms, "
        "group_id, dedup_id, sender_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    )
    if m.group_id is None:
        conn.execute(sql, values)
        return None
    row = conn.execute(sql + " RETURNING id", values).fetchone()
    return int(row[0])


def deduplicated(
    conn: sqlite3.Connection, queue: str, key: str, now_ms: int
) -> tuple[str, str | None] | None:
    """(message id, sequence number) of a send with the same deduplication key within the
    window, if there was one."""
    row = conn.execute(
        "SELECT message_id, sequence FROM dedup WHERE queue = ? AND scope_key = ? AND expires_ms > ?",
        (queue, key, now_ms),
    ).fetchone()
    return (row[0], row[1]) if row else None


def remember(
    conn: sqlite3.Connection, queue: str, key: str, message_id: str, sequence: str | None, expires_ms: int
) -> None:
    conn.execute(
        "INSERT INTO dedup(queue, scope_key, message_id, sequence, expires_ms) VALUES (?, ?, ?, ?, ?) "
        "ON CONFLICT(queue, scope_key) DO UPDATE SET message_id = excluded.message_id, "
        "sequence = excluded.sequence, expires_ms = excluded.expires_ms",
        (queue, key, message_id, sequence, expires_ms),
    )


# -- receiving ---------------------------------------------------------------------------------


def candidates(conn: sqlite3.Connection, queue: str, now_ms: int, fifo: bool, limit: int) -> list[Candidate]:
    """A standard queue's visible messages, oldest first; a FIFO queue's messages in order,
    visible or not (a group's message in flight holds back the rest of its group)."""
    if fifo:
        rows = conn.execute(
            "SELECT id, group_id, visible_ms, receive_count, sent_ms FROM messages WHERE queue = ? "
            "ORDER BY id LIMIT ?",
            (queue, limit),
        )
    else:
        # In the order they became visible (best effort, as a standard queue promises): the
        # order of the (queue, visible_ms) index, so a deep queue costs a receive no sort of
        # everything visible.
        rows = conn.execute(
            "SELECT id, group_id, visible_ms, receive_count, sent_ms FROM messages "
            "WHERE queue = ? AND visible_ms <= ? ORDER BY visible_ms, id LIMIT ?",
            (queue, now_ms, limit),
        )
    return [Candidate(*r) for r in rows]


def earliest_hidden(conn: sqlite3.Connection, queue: str, now_ms: int) -> int | None:
    row = conn.execute(
        "SELECT MIN(visible_ms) FROM messages WHERE queue = ? AND visible_ms > ?", (queue, now_ms)
    ).fetchone()
    return int(row[0]) if row and row[0] is not None else None


def lease(conn: sqlite3.Connection, ids: Sequence[int], nonce: str, until_ms: int, now_ms: int) -> list[Row]:
    out: list[Row] = []
    for row_id in ids:
        conn.execute(
            "UPDATE messages SET lease = ?, visible_ms = ?, receive_count = receive_count + 1, "
            "first_receive_ms = COALESCE(first_receive_ms, ?) WHERE id = ?",
            (nonce, until_ms, now_ms, row_id),
        )
        found = conn.execute(f"SELECT {_MESSAGE} FROM messages WHERE id = ?", (row_id,)).fetchone()
        out.append(Row(*found))
    return out


def move(
    conn: sqlite3.Connection,
    ids: Iterable[int],
    destination: str,
    now_ms: int,
    *,
    source: str | None,
    reset: bool,
) -> None:
    """Messages to another queue, keeping their id, body, attributes and send time: to a
    dead-letter queue (remembering the `source`), or back from one (`reset`: received afresh)."""
    for row_id in ids:
        if reset:
            conn.execute(
                "UPDATE messages SET queue = ?, visible_ms = ?, lease = NULL, receive_count = 0, "
                "first_receive_ms = NULL, source_arn = NULL WHERE id = ?",
                (destination, now_ms, row_id),
            )
        else:
            conn.execute(
                "UPDATE messages SET queue = ?, visible_ms = ?, lease = NULL, source_arn = ? WHERE id = ?",
                (destination, now_ms, source, row_id),
            )


def delete_ids(conn: sqlite3.Connection, ids: Iterable[int]) -> None:
    conn.executemany("DELETE FROM messages WHERE id = ?", [(i,) for i in ids])


def delete_leased(conn: sqlite3.Connection, queue: str, row_id: int, nonce: str) -> bool:
    """Deletes the message if the lease is still this handle's; False when it is not (gone, or
    received again since)."""
    cur = conn.execute(
        "DELETE FROM messages WHERE id = ? AND queue = ? AND lease = ?", (row_id, queue, nonce)
    )
    return cur.rowcount > 0


def set_visibility(conn: sqlite3.Connection, queue: str, row_id: int, nonce: str, until_ms: int) -> bool:
    cur = conn.execute(
        "UPDATE messages SET visible_ms = ? WHERE id = ? AND queue = ? AND lease = ?",
        (until_ms, row_id, queue, nonce),
    )
    return cur.rowcount > 0


def leased_until(conn: sqlite3.Connection, queue: str, row_id: int, nonce: str) -> int | None:
    row = conn.execute(
        "SELECT visible_ms FROM messages WHERE id = ? AND queue = ? AND lease = ?", (row_id, queue, nonce)
    ).fetchone()
    return int(row[0]) if row else None


# -- counting, expiry, redrive back -------------------------------------------------------------


def depth(conn: sqlite3.Connection, queue: str, now_ms: int) -> Depth:
    row = conn.execute(
        "SELECT "
        "COALESCE(SUM(CASE WHEN visible_ms <= ? THEN 1 ELSE 0 END), 0), "
        "COALESCE(SUM(CASE WHEN visible_ms > ? AND receive_count > 0 THEN 1 ELSE 0 END), 0), "
        "COALESCE(SUM(CASE WHEN visible_ms > ? AND receive_count = 0 THEN 1 ELSE 0 END), 0) "
        "FROM messages WHERE queue = ?",
        (now_ms, now_ms, now_ms, queue),
    ).fetchone()
    return Depth(int(row[0]), int(row[1]), int(row[2]))


def expire(conn: sqlite3.Connection, queue: str, sent_before_ms: int) -> int:
    return conn.execute(
        "DELETE FROM messages WHERE queue = ? AND sent_ms < ?", (queue, sent_before_ms)
    ).rowcount


def forget_dedup(conn: sqlite3.Connection, now_ms: int) -> None:
    conn.execute("DELETE FROM dedup WHERE expires_ms <= ?", (now_ms,))


def movable(conn: sqlite3.Connection, queue: str, now_ms: int, limit: int) -> list[tuple[int, str | None]]:
    """Visible messages of a dead-letter queue with the queue each came from."""
    return [
        (int(r[0]), r[1])
        for r in conn.execute(
            "SELECT id, source_arn FROM messages WHERE queue = ? AND visible_ms <= ? ORDER BY id LIMIT ?",
            (queue, now_ms, limit),
        )
    ]


def oldest_sent_ms(conn: sqlite3.Connection, queue: str) -> int | None:
    row = conn.execute("SELECT MIN(sent_ms) FROM messages WHERE queue = ?", (queue,)).fetchone()
    return None if row is None or row[0] is None else int(row[0])


def count(conn: sqlite3.Connection, queue: str) -> int:
    return int(conn.execute("SELECT COUNT(*) FROM messages WHERE queue = ?", (queue,)).fetchone()[0])
