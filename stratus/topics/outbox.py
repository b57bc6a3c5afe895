"""The durable outbox of HTTP deliveries (SQL only; run on the Topics owner's worker thread).

A delivery is leased, never deleted on read: a claim writes an owner and an expiry; success
deletes the row and failure puts it back with a later due time, each only while the lease is
still the claimer's. A server that dies leaves leases that expire, so the delivery is made again
(at least once). The same shape maps to PostgreSQL's `FOR UPDATE SKIP LOCKED`.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, field

SCHEMA = """
CREATE TABLE IF NOT EXISTS sns_outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    subscription_arn TEXT NOT NULL,
    url TEXT NOT NULL,
    headers TEXT NOT NULL,
    body TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    max_attempts INTEGER NOT NULL,
    min_delay_ms INTEGER NOT NULL,
    max_delay_ms INTEGER NOT NULL,
    due_ms INTEGER NOT NULL,
    lease_owner TEXT,
    lease_until_ms INTEGER,
    attributes TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX IF NOT EXISTS sns_outbox_due ON sns_outbox(due_ms);
"""


def migrate(conn: sqlite3.Connection) -> None:
    """Add the attributes column to an outbox made before it existed (portable SQL)."""
    try:
        conn.execute("SELECT attributes FROM sns_outbox LIMIT 0")
    except sqlite3.OperationalError:
        conn.execute("ALTER TABLE sns_outbox ADD COLUMN attributes TEXT NOT NULL DEFAULT '{}'")


@dataclass(frozen=True)
class Delivery:
    subscription_arn: str
    url: str
    headers: dict[str, str]
    body: str
    max_attempts: int
    min_delay_ms: int
    max_delay_ms: int
    # Raw deliveries: the message attributes (SNS's {"Type", "Value"} shape), which the
    # dead-letter queue gets should every attempt fail.
    attributes: dict[str, dict[str, str]] = field(default_factory=dict)


@dataclass(frozen=True)
class Leased:
    id: int
    delivery: Delivery
    attempts: int


def add(conn: sqlite3.Connection, deliveries: list[Delivery], now_ms: int) -> None:
    conn.executemany(
        "INSERT INTO sns_outbox(subscription_arn, url, headers, body, max_attempts, min_delay_ms,"
        " max_delay_ms, due_ms, attributes) VALUES (?,?,?,?,?,?,?,?,?)",
        [
            (
                d.subscription_arn,
                d.url,
                json.dumps(d.headers),
                d.body,
                d.max_attempts,
                d.min_delay_ms,
                d.max_delay_ms,
                now_ms,
                json.dumps(d.attributes),
            )
            for d in deliveries
        ],
    )


def claim(conn: sqlite3.Connection, owner: str, now_ms: int, lease_ms: int, limit: int) -> list[Leased]:
    rows = conn.execute(
        "UPDATE sns_outbox SET lease_owner = ?, lease_until_ms = ? WHERE id IN ("
        " SELECT id FROM sns_outbox WHERE due_ms <= ? AND (lease_owner IS NULL OR lease_until_ms < ?)"
        " ORDER BY due_ms, id LIMIT ?)"
        " RETURNING id, subscription_arn, url, headers, body, max_attempts, min_delay_ms,"
        " max_delay_ms, attempts, attributes",
        (owner, now_ms + lease_ms, now_ms, now_ms, limit),
    ).fetchall()
    out = [
        Leased(
            row[0],
            Delivery(row[1], row[2], json.loads(row[3]), row[4], row[5], row[6], row[7], json.loads(row[9])),
            row[8],
        )
        for row in rows
    ]
    return sorted(out, key=lambda leased: leased.id)


def done(conn: sqlite3.Connection, delivery_id: int, owner: str) -> None:
    conn.execute("DELETE FROM sns_outbox WHERE id = ? AND lease_owner = ?", (delivery_id, owner))


def retry(conn: sqlite3.Connection, delivery_id: int, owner: str, attempts: int, due_ms: int) -> None:
    conn.execute(
        "UPDATE sns_outbox SET attempts = ?, due_ms = ?, lease_owner = NULL, lease_until_ms = NULL"
        " WHERE id = ? AND lease_owner = ?",
        (attempts, due_ms, delivery_id, owner),
    )


def next_due(conn: sqlite3.Connection) -> int | None:
    row = conn.execute("SELECT MIN(COALESCE(lease_until_ms, due_ms)) FROM sns_outbox").fetchone()
    return None if row is None or row[0] is None else int(row[0])


def forget(conn: sqlite3.Connection, subscription_arn: str) -> None:
    """An unsubscribed endpoint gets nothing more."""
    conn.execute("DELETE FROM sns_outbox WHERE subscription_arn = ?", (subscription_arn,))


def backoff_ms(attempts: int, min_delay_ms: int, max_delay_ms: int) -> int:
    """The wait before the next attempt after `attempts` failed ones: from the policy's minimum
    doubling up to its maximum (SNS's exponential backoff, with its targets as bounds)."""
    return int(min(max_delay_ms, min_delay_ms * (2 ** max(0, attempts - 1))))
