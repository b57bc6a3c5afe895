"""The embedded store: SQLite in WAL mode.

Metadata writes are rare and small, so they run on the event loop in one short transaction
each, with `synchronous=FULL` so that an acknowledged write survives a crash or power loss.
The invoke hot path never touches this store: the registry serves reads from memory.

Every database of a data dir is opened by one server process only, so connections take
SQLite's exclusive locking mode: the WAL index then lives in the process's memory instead of a
`-shm` file, which a full disk refuses to grow (SQLITE_IOERR_SHMSIZE on the first read). With
it, a server starts and serves reads on a full disk; a second server on the same data dir is
refused ("database is locked") instead of sharing it. Database files are created 0600, and
SQLite gives its `-wal` and `-journal` files the database's mode.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from stratus.store.diskfull import writing

# The region of function records kept before regions were (control/keys.py's DEFAULT_REGION:
# the store sits below control, so it names it itself).
MIGRATED_REGION = "us-east-1"

SCHEMA = """
CREATE TABLE IF NOT EXISTS functions (
    name TEXT PRIMARY KEY,
    record TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS lambda_functions (
    region TEXT NOT NULL,
    name TEXT NOT NULL,
    record TEXT NOT NULL,
    PRIMARY KEY (region, name)
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
    # Private from the start: the records hold functions' environment variables.
    os.close(os.open(path, os.O_RDONLY | os.O_CREAT, 0o600))
    if os.stat(path).st_mode & 0o077:
        os.chmod(path, 0o600)
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA locking_mode=EXCLUSIVE")  # before WAL: no -shm file (see above)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute(f"PRAGMA synchronous={'FULL' if durable else 'NORMAL'}")
    conn.execute("PRAGMA busy_timeout=5000")
    return conn


@contextmanager
def transaction(conn: sqlite3.Connection, begin: str = "BEGIN IMMEDIATE") -> Iterator[sqlite3.Connection]:
    """One transaction: committed, or rolled back with the first error raised. SQLite rolls a
    transaction back by itself on some errors (SQLITE_FULL among them), and a ROLLBACK then
    fails; that failure must not hide the error that caused it. A COMMIT that fails is rolled
    back too, so the connection is never left inside a half-done transaction."""
    conn.execute(begin)
    try:
        yield conn
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
        raise


class Store:
    """Persistent function records. One JSON document per function keeps each registry write
    to a single row in a single transaction."""

    def __init__(self, path: Path) -> None:
        self._conn = connect(path)
        self._conn.executescript(SCHEMA)
        self._migrate_functions()

    def close(self) -> None:
        self._conn.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """A write: all of it or none of it; on a full disk, `errors.DiskFull`."""
        with writing(), transaction(self._conn) as conn:
            yield conn

    def load_functions(self) -> dict[tuple[str, str], dict[str, Any]]:
        """Every function record by (region, name)."""
        rows = self._conn.execute("SELECT region, name, record FROM lambda_functions").fetchall()
        return {(region, name): json.loads(record) for region, name, record in rows}

    def put_function(self, region: str, name: str, record: dict[str, Any]) -> None:
        with self.transaction() as conn:
            conn.execute(
                "INSERT INTO lambda_functions(region, name, record) VALUES (?, ?, ?) "
                "ON CONFLICT(region, name) DO UPDATE SET record = excluded.record",
                (region, name, json.dumps(record, separators=(",", ":"))),
            )

    def delete_function(self, region: str, name: str) -> None:
        with self.transaction() as conn:
            conn.execute("DELETE FROM lambda_functions WHERE region = ? AND name = ?", (region, name))

    def _migrate_functions(self) -> None:
        """Functions were one namespace across regions, one row per name in `functions`; each
        region is its own namespace now (`lambda_functions`, keyed by region and name). A data
        dir written before moves every record into its `home_region` (the region CreateFunction
        was signed for), or into the default region us-east-1 where that is empty (records older
        than `home_region`), and the record says so from then on. One transaction: a crash
        leaves the old rows, and the next start migrates them again."""
        rows = self._conn.execute("SELECT name, record FROM functions").fetchall()
        if not rows:
            return
        with self.transaction() as conn:
            for name, text in rows:
                record = json.loads(text)
                region = record["latest"].get("home_region") or MIGRATED_REGION
                record["latest"]["home_region"] = region
                for version in record.get("versions", {}).values():
                    version["home_region"] = region
                conn.execute(
                    "INSERT INTO lambda_functions(region, name, record) VALUES (?, ?, ?) "
                    "ON CONFLICT(region, name) DO NOTHING",
                    (region, name, json.dumps(record, separators=(",", ":"))),
                )
            conn.execute("DELETE FROM functions")

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

