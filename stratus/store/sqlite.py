"""The embedded store: SQLite in WAL mode.

Metadata writes are rare and small, so they run on the event loop in one short transaction
each, with `synchronous=FULL` so that an acknowledged write survives a crash or power loss.
The invoke hot path never touches this store: the registry serves reads from memory.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS functions (
    name TEXT PRIMARY KEY,
    record TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS rules (
    name TEXT PRIMARY KEY,
    record TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS documents (
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    record TEXT NOT NULL,
    PRIMARY KEY (kind, name)
);
CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
"""


def connect(path: Path, *, durable: bool = True) -> sqlite3.Connection:
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute(f"PRAGMA synchronous={'FULL' if durable else 'NORMAL'}")
    conn.execute("PRAGMA busy_timeout=5000")
    return conn


class Store:
    """Persistent function records. One JSON document per function keeps each registry write
    to a single row in a single transaction."""

    def __init__(self, path: Path) -> None:
        self._conn = connect(path)
        self._conn.executescript(SCHEMA)

    def close(self) -> None:
        self._conn.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            yield self._conn
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise
        self._conn.execute("COMMIT")

    def load_functions(self) -> dict[str, dict[str, Any]]:
        rows = self._conn.execute("SELECT name, record FROM functions").fetchall()
        return {name: json.loads(record) for name, record in rows}

    def put_function(self, name: str, record: dict[str, Any]) -> None:
        with self.transaction() as conn:
            conn.execute(
                "INSERT INTO functions(name, record) VALUES (?, ?) "
                "ON CONFLICT(name) DO UPDATE SET record = excluded.record",
                (name, json.dumps(record, separators=(",", ":"))),
            )

    def delete_function(self, name: str) -> None:
        with self.transaction() as conn:
            conn.execute("DELETE FROM functions WHERE name = ?", (name,))

    def load_rules(self) -> dict[str, str]:
        return {name: record for name, record in self._conn.execute("SELECT name, record FROM rules")}

    def put_rule(self, name: str, record: str) -> None:
        with self.transaction() as conn:
            conn.execute(
                "INSERT INTO rules(name, record) VALUES (?, ?) "
                "ON CONFLICT(name) DO UPDATE SET record = excluded.record",
                (name, record),
            )

    def delete_rule(self, name: str) -> None:
        with self.transaction() as conn:
            conn.execute("DELETE FROM rules WHERE name = ?", (name,))

    def load_documents(self, kind: str) -> dict[str, str]:
        rows = self._conn.execute("SELECT name, record FROM documents WHERE kind = ?", (kind,))
        return {name: record for name, record in rows}

    def put_document(self, kind: str, name: str, record: str) -> None:
        with self.transaction() as conn:
            conn.execute(
                "INSERT INTO documents(kind, name, record) VALUES (?, ?, ?) "
                "ON CONFLICT(kind, name) DO UPDATE SET record = excluded.record",
                (kind, name, record),
            )

    def delete_document(self, kind: str, name: str) -> None:
        with self.transaction() as conn:
            conn.execute("DELETE FROM documents WHERE kind = ? AND name = ?", (kind, name))

    def get_meta(self, key: str) -> str | None:
        row = self._conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def put_meta(self, key: str, value: str) -> None:
        with self.transaction() as conn:
            conn.execute(
                "INSERT INTO meta(key, value) VALUES (?, ?) "
                "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                (key, value),
            )
