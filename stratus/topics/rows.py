"""topics.db's rows (SQL only; run on the Topics owner's worker thread): topics,
subscriptions, and the FIFO topics' deduplication ids, whose 5-minute window outlives a
restart. SQL that PostgreSQL also runs (`ON CONFLICT ... DO UPDATE`, no `INSERT OR REPLACE`)."""

from __future__ import annotations

import json
import sqlite3

from stratus.topics.model import Subscription, Topic, compile_filter

SCHEMA = """
CREATE TABLE IF NOT EXISTS sns_topics (
    arn TEXT PRIMARY KEY, region TEXT NOT NULL, name TEXT NOT NULL, attributes TEXT NOT NULL,
    tags TEXT NOT NULL, created_ms INTEGER NOT NULL, sequence INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS sns_subscriptions (
    arn TEXT PRIMARY KEY, topic_arn TEXT NOT NULL, protocol TEXT NOT NULL, endpoint TEXT NOT NULL,
    owner TEXT NOT NULL, attributes TEXT NOT NULL, confirmed INTEGER NOT NULL, token TEXT NOT NULL,
    created_ms INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS sns_dedup (
    topic_arn TEXT NOT NULL, dedup_id TEXT NOT NULL, message_id TEXT NOT NULL,
    expires_ms INTEGER NOT NULL, PRIMARY KEY (topic_arn, dedup_id)
);
CREATE INDEX IF NOT EXISTS sns_dedup_expiry ON sns_dedup(expires_ms);
"""


def load_topics(conn: sqlite3.Connection, account_id: str) -> list[Topic]:
    return [
        Topic(arn, region, name, account_id, json.loads(attrs), json.loads(tags), created, seq)
        for arn, region, name, attrs, tags, created, seq in conn.execute(
            "SELECT arn, region, name, attributes, tags, created_ms, sequence FROM sns_topics"
        )
    ]


def load_subscriptions(conn: sqlite3.Connection) -> list[Subscription]:
    out = []
    for arn, topic, protocol, endpoint, owner, attrs, confirmed, token, created in conn.execute(
        "SELECT arn, topic_arn, protocol, endpoint, owner, attributes, confirmed, token, created_ms"
        " FROM sns_subscriptions"
    ):
        attributes = json.loads(attrs)
        out.append(
            Subscription(
                arn,
                topic,
                protocol,
                endpoint,
                owner,
                attributes,
                bool(confirmed),
                token,
                created,
                compile_filter(attributes),
            )
        )
    return out


def load_dedup(conn: sqlite3.Connection, now_ms: int) -> dict[tuple[str, str], tuple[str, float]]:
    """The deduplication ids still inside their window: (topic, id) -> (message id, expiry s)."""
    return {
        (topic, dedup): (message_id, expires / 1000)
        for topic, dedup, message_id, expires in conn.execute(
            "SELECT topic_arn, dedup_id, message_id, expires_ms FROM sns_dedup WHERE expires_ms > ?",
            (now_ms,),
        )
    }


def insert_topic(conn: sqlite3.Connection, t: Topic) -> None:
    conn.execute(
        "INSERT INTO sns_topics(arn, region, name, attributes, tags, created_ms, sequence)"
        " VALUES (?,?,?,?,?,?,?)",
        (
            t.arn,
            t.region,
            t.name,
            json.dumps(dict(t.attributes)),
            json.dumps(dict(t.tags)),
            t.created_ms,
            t.sequence,
        ),
    )


def update_topic(conn: sqlite3.Connection, t: Topic) -> None:
    conn.execute(
        "UPDATE sns_topics SET attributes = ?, tags = ?, sequence = ? WHERE arn = ?",
        (json.dumps(dict(t.attributes)), json.dumps(dict(t.tags)), t.sequence, t.arn),
    )


def delete_topic(conn: sqlite3.Connection, arn: str) -> None:
    conn.execute("DELETE FROM sns_topics WHERE arn = ?", (arn,))
    conn.execute("DELETE FROM sns_subscriptions WHERE topic_arn = ?", (arn,))
    conn.execute("DELETE FROM sns_dedup WHERE topic_arn = ?", (arn,))


def insert_subscription(conn: sqlite3.Connection, s: Subscription) -> None:
    conn.execute(
        "INSERT INTO sns_subscriptions(arn, topic_arn, protocol, endpoint, owner, attributes,"
        " confirmed, token, created_ms) VALUES (?,?,?,?,?,?,?,?,?)",
        (
            s.arn,
            s.topic_arn,
            s.protocol,
            s.endpoint,
            s.owner,
            json.dumps(dict(s.attributes)),
            int(s.confirmed),
            s.token,
            s.created_ms,
        ),
    )


def update_subscription(conn: sqlite3.Connection, s: Subscription) -> None:
    conn.execute(
        "UPDATE sns_subscriptions SET attributes = ?, confirmed = ? WHERE arn = ?",
        (json.dumps(dict(s.attributes)), int(s.confirmed), s.arn),
    )


def sequenced(
    conn: sqlite3.Connection, t: Topic, dedup_id: str, message_id: str, now_ms: int, window_ms: int
) -> None:
    """A FIFO publish's bookkeeping, in one transaction: the topic's last sequence number, the
    deduplication id for its window, and the ids whose window has passed pruned."""
    update_topic(conn, t)
    conn.execute("DELETE FROM sns_dedup WHERE expires_ms <= ?", (now_ms,))
    conn.execute(
        "INSERT INTO sns_dedup(topic_arn, dedup_id, message_id, expires_ms) VALUES (?,?,?,?)"
        " ON CONFLICT (topic_arn, dedup_id) DO UPDATE SET message_id = excluded.message_id,"
        " expires_ms = excluded.expires_ms",
        (t.arn, dedup_id, message_id, now_ms + window_ms),
    )
