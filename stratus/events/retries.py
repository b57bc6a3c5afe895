"""EventBridge targets' retries that wait for their time: one row each in the metadata store, so
that a crash during a backoff loses neither the retry nor its dead-lettering.

A row holds everything the retry needs without the rule (which may have changed or gone since):
the rule's ARN, the target as it was configured when the event matched, the event and the
target's input, how many attempts were made, when the first was (MaximumEventAgeInSeconds
counts from it), when the next is due, and the last failure (what a dead-letter message says if
the event grows too old before its next attempt).

Rows are leased, never deleted on read: `claim` writes an owner and an expiry, and `done` or
`reschedule` count only while the lease is still the caller's. A server that dies leaves its
leases; the next start on the same data dir frees those of owners no longer running, and any
other (a later cluster's node) waits for the lease to expire. So a retry that was being made
when the server died is made again (at least once, as EventBridge promises).

Every call is one short transaction on the loop, as the metadata store's writes are; the SQL is
what PostgreSQL also runs (no AUTOINCREMENT, BIGINT times, UPDATE ... RETURNING).
"""

from __future__ import annotations

import json
import os
import uuid
from dataclasses import asdict
from pathlib import Path
from typing import Any

from stratus.events.delivery import Job, Waiting
from stratus.events.rules import Target
from stratus.store.sqlite import Store

TABLE = """
CREATE TABLE IF NOT EXISTS event_target_retries (
    id TEXT PRIMARY KEY,
    rule_arn TEXT NOT NULL,
    target TEXT NOT NULL,
    event TEXT NOT NULL,
    payload TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    first_ms BIGINT NOT NULL,
    due_ms BIGINT NOT NULL,
    error_code TEXT NOT NULL,
    error_message TEXT NOT NULL,
    lease_owner TEXT,
    lease_until_ms BIGINT
)
"""
INDEX = "CREATE INDEX IF NOT EXISTS event_target_retries_due ON event_target_retries (due_ms)"
COLUMNS = "id, rule_arn, target, event, payload, attempts, first_ms, due_ms, error_code, error_message"


def new_owner() -> str:
    """Who holds a lease ("HOST:PID:NONCE"), so that a later start knows whether it still runs."""
    return f"{os.uname().nodename}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def owner_alive(owner: str) -> bool:
    """An owner on this host lives while its pid does; another host's only its lease expiry ends."""
    host, _, rest = owner.partition(":")
    pid = rest.partition(":")[0]
    if host != os.uname().nodename or not pid.isdigit():
        return True
    return Path(f"/proc/{pid}").exists()


def _waiting(row: tuple[Any, ...]) -> Waiting:
    ident, rule, target, event, payload, attempts, first_ms, due_ms, code, message = row
    # A row's attempts were all made: the job it holds is the next retry, whose number they are.
    job = Job(
        rule,
        Target.from_dict(json.loads(target)),
        json.loads(event),
        payload.encode(),
        int(first_ms),
        int(attempts),
    )
    return Waiting(str(ident), job, int(due_ms), code, message)


class RetryRows:
    """The `Pending` retries of `Deliveries`, in the metadata store."""

    def __init__(self, store: Store, owner: str | None = None) -> None:
        self._store = store
        self.owner = owner or new_owner()
        with store.transaction() as conn:
            conn.execute(TABLE)
            conn.execute(INDEX)

    def add(self, job: Job, due_ms: int, code: str, message: str) -> str:
        """Store the retry `job` is (its `retries`: the attempts made so far), due at `due_ms`,
        after a failure (`code`, `message`). Raises `errors.DiskFull` when nothing was stored."""
        ident = uuid.uuid4().hex
        with self._store.transaction() as conn:
            conn.execute(
                f"INSERT INTO event_target_retries ({COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    ident,
                    job.rule_arn,
                    json.dumps(asdict(job.target)),
                    json.dumps(job.event),
                    job.payload.decode("utf-8"),
                    job.retries,
                    job.first_ms,
                    due_ms,
                    code,
                    message,
                ),
            )
        return ident

    def claim(self, now_ms: int, lease_ms: int, limit: int) -> list[Waiting]:
        """Lease up to `limit` due retries that nobody holds (or whose lease has lapsed)."""
        with self._store.transaction() as conn:
            rows = conn.execute(
                "UPDATE event_target_retries SET lease_owner = ?, lease_until_ms = ? WHERE id IN ("
                " SELECT id FROM event_target_retries WHERE due_ms <= ? AND"
                " (lease_owner IS NULL OR lease_until_ms < ?) ORDER BY due_ms, id LIMIT ?)"
                f" RETURNING {COLUMNS}",
                (self.owner, now_ms + lease_ms, now_ms, now_ms, limit),
            ).fetchall()
        return sorted((_waiting(row) for row in rows), key=lambda w: (w.due_ms, w.id))

    def done(self, ident: str) -> bool:
        """Delivered or dead-lettered: the row goes, if its lease is still ours."""
        with self._store.transaction() as conn:
            cur = conn.execute(
                "DELETE FROM event_target_retries WHERE id = ? AND lease_owner = ?", (ident, self.owner)
            )
        return cur.rowcount == 1

    def reschedule(self, ident: str, attempts: int, due_ms: int, code: str, message: str) -> bool:
        """Failed again: `attempts` made, the next due at `due_ms`, the lease given back."""
        with self._store.transaction() as conn:
            cur = conn.execute(
                "UPDATE event_target_retries SET attempts = ?, due_ms = ?, error_code = ?,"
                " error_message = ?, lease_owner = NULL, lease_until_ms = NULL"
                " WHERE id = ? AND lease_owner = ?",
                (attempts, due_ms, code, message, ident, self.owner),
            )
        return cur.rowcount == 1

    def release_dead_owners(self) -> int:
        """Leases of earlier servers of this data dir that are gone: free now, not at expiry."""
        with self._store.transaction() as conn:
            owners = [
                r[0]
                for r in conn.execute(
                    "SELECT DISTINCT lease_owner FROM event_target_retries WHERE lease_owner IS NOT NULL"
                )
            ]
            freed = 0
            for owner in owners:
                if owner != self.owner and not owner_alive(owner):
                    freed += conn.execute(
                        "UPDATE event_target_retries SET lease_owner = NULL, lease_until_ms = NULL"
                        " WHERE lease_owner = ?",
                        (owner,),
                    ).rowcount
        return freed

    def next_due_ms(self, now_ms: int) -> int | None:
        """When the runner next has something to claim: the earliest due time, or for a row
        held by a live lease, that lease's end."""
        with self._store.transaction() as conn:
            row = conn.execute(
                "SELECT MIN(CASE WHEN lease_owner IS NOT NULL AND lease_until_ms >= ?"
                " THEN lease_until_ms ELSE due_ms END) FROM event_target_retries",
                (now_ms,),
            ).fetchone()
        return None if row is None or row[0] is None else int(row[0])

    def count(self) -> int:
        with self._store.transaction() as conn:
            return int(conn.execute("SELECT COUNT(*) FROM event_target_retries").fetchone()[0])
