"""`WorkflowStore`: state machines, executions and their histories in `workflows.db`, through a
group committer (`store/committer.py`): each transition of any execution is one change, and
changes that arrive while a batch commits share the next fsync.

An execution row carries where it stands (`checkpoint`, JSON: the state, its input, the phase
and the retry counts) and when it is next due (`due_ms`: a Wait's end, a retry's time, a task
token's deadline; NULL while it waits on a token with no deadline). A task token's answer is
written there (phase "outcome", due now) before SendTaskSuccess/Failure answers, or in its
lane's frame for a branch's or an iteration's task. That row is the lease of a
waiting execution: no task or thread holds it, and `owner`/`lease_ms` say which node drives it
(one node today; several on PostgreSQL would claim rows whose lease lapsed). History events are
append-only rows keyed by (execution, id). SQL is what PostgreSQL also runs."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from stratus.store.committer import Committer
from stratus.workflows.model import RUNNING, Execution, StateMachine

SCHEMA = """
CREATE TABLE IF NOT EXISTS wf_machines (
    arn TEXT PRIMARY KEY,
    region TEXT NOT NULL,
    name TEXT NOT NULL,
    body TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS wf_executions (
    arn TEXT PRIMARY KEY,
    machine_arn TEXT NOT NULL,
    name TEXT NOT NULL,
    status TEXT NOT NULL,
    start_ms BIGINT NOT NULL,
    body TEXT NOT NULL,
    checkpoint TEXT,
    due_ms BIGINT,
    owner TEXT,
    lease_ms BIGINT
);
CREATE INDEX IF NOT EXISTS wf_executions_machine ON wf_executions (machine_arn, start_ms);
CREATE INDEX IF NOT EXISTS wf_executions_status ON wf_executions (status, due_ms);
CREATE TABLE IF NOT EXISTS wf_frames (
    execution_arn TEXT NOT NULL,
    lane TEXT NOT NULL,
    body TEXT NOT NULL,
    due_ms BIGINT,
    PRIMARY KEY (execution_arn, lane)
);
CREATE TABLE IF NOT EXISTS wf_events (
    execution_arn TEXT NOT NULL,
    id INTEGER NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (execution_arn, id)
);
"""


@dataclass(frozen=True)
class Resumable:
    """A running execution as the store left it: what a start resumes."""

    record: Execution
    checkpoint: dict[str, Any]
    due_ms: int | None
    next_event_id: int
    # Its running Parallel or Map state's branches and iterations (progress.py): key -> frame.
    frames: Mapping[str, dict[str, Any]] = field(default_factory=dict)


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


class WorkflowStore:
    def __init__(self, path: Path, owner: str) -> None:
        self._db = Committer(path, "workflows", SCHEMA)
        self.owner = owner

    def close(self) -> None:
        self._db.close()

    # -- loading (before the first change) -----------------------------------------------------

    def load_machines(self) -> list[StateMachine]:
        rows = self._db.conn.execute("SELECT body FROM wf_machines").fetchall()
        return [StateMachine.from_row(json.loads(r[0])) for r in rows]

    def load_running(self) -> list[Resumable]:
        rows = self._db.conn.execute(
            "SELECT e.body, e.checkpoint, e.due_ms,"
            " (SELECT COALESCE(MAX(id), 0) FROM wf_events v WHERE v.execution_arn = e.arn)"
            " FROM wf_executions e WHERE e.status = ?",
            (RUNNING,),
        ).fetchall()
        frames: dict[str, dict[str, dict[str, Any]]] = {}
        for arn, key, body in self._db.conn.execute(
            "SELECT f.execution_arn, f.lane, f.body FROM wf_frames f JOIN wf_executions e"
            " ON e.arn = f.execution_arn WHERE e.status = ?",
            (RUNNING,),
        ):
            frames.setdefault(arn, {})[key] = json.loads(body)
        resumable = []
        for b, c, d, n in rows:
            record = Execution.from_row(json.loads(b))
            checkpoint = json.loads(c or "{}")
            resumable.append(Resumable(record, checkpoint, d, int(n) + 1, frames.get(record.arn, {})))
        return resumable

    # -- state machines --------------------------------------------------------------------------

    async def put_machine(self, machine: StateMachine) -> None:
        def put(conn: sqlite3.Connection) -> None:
            conn.execute("DELETE FROM wf_machines WHERE arn = ?", (machine.arn,))
            conn.execute(
                "INSERT INTO wf_machines (arn, region, name, body) VALUES (?, ?, ?, ?)",
                (machine.arn, machine.region, machine.name, _dumps(machine.to_row())),
            )

        await self._db.change(put)

    async def delete_machine(self, arn: str) -> None:
        await self._db.change(lambda conn: conn.execute("DELETE FROM wf_machines WHERE arn = ?", (arn,)))

    # -- executions ------------------------------------------------------------------------------

    async def start(
        self,
        record: Execution,
        checkpoint: dict[str, Any],
        events: Sequence[dict[str, Any]],
        reuse_after_ms: int,
    ) -> Execution | None:
        """Insert a new execution with its first events, unless its name is taken: then the
        existing execution (a closed one older than `reuse_after_ms` is replaced)."""

        def start(conn: sqlite3.Connection) -> Execution | None:
            row = conn.execute(
                "SELECT body, status FROM wf_executions WHERE arn = ?", (record.arn,)
            ).fetchone()
            if row is not None:
                old = Execution.from_row(json.loads(row[0]))
                if old.status == RUNNING or (old.stop_ms or 0) >= reuse_after_ms:
                    return old
                conn.execute("DELETE FROM wf_events WHERE execution_arn = ?", (record.arn,))
                conn.execute("DELETE FROM wf_frames WHERE execution_arn = ?", (record.arn,))
                conn.execute("DELETE FROM wf_executions WHERE arn = ?", (record.arn,))
            conn.execute(
                "INSERT INTO wf_executions (arn, machine_arn, name, status, start_ms, body, checkpoint,"
                " due_ms, owner, lease_ms) VALUES (?, ?, ?, ?, ?, ?, ?, NULL, ?, NULL)",
                (
                    record.arn,
                    record.machine_arn,
                    record.name,
                    record.status,
                    record.start_ms,
                    _dumps(record.to_row()),
                    _dumps(checkpoint),
                    self.owner,
                ),
            )
            _append(conn, record.arn, events)
            return None

        return await self._db.change(start)

    async def advance(
        self,
        arn: str,
        events: Sequence[dict[str, Any]],
        checkpoint: dict[str, Any] | None,
        due_ms: int | None,
        record: Execution | None = None,
        *,
        clear_frames: bool = False,
    ) -> None:
        """One transition: its events appended, where the execution now stands, when it is next
        due, and (when it closes) its final record. Nothing happens to a closed execution (a
        stopped one whose driver was still finishing a step). `clear_frames`: the Parallel or
        Map state whose branches had frames has ended, so they go."""

        def advance(conn: sqlite3.Connection) -> None:
            row = conn.execute("SELECT status FROM wf_executions WHERE arn = ?", (arn,)).fetchone()
            if row is None or row[0] != RUNNING:
                return
            _append(conn, arn, events)
            if clear_frames:
                conn.execute("DELETE FROM wf_frames WHERE execution_arn = ?", (arn,))
            if record is not None:
                conn.execute(
                    "UPDATE wf_executions SET status = ?, body = ?, checkpoint = NULL, due_ms = NULL"
                    " WHERE arn = ?",
                    (record.status, _dumps(record.to_row()), arn),
                )
            else:
                conn.execute(
                    "UPDATE wf_executions SET checkpoint = ?, due_ms = ? WHERE arn = ?",
                    (_dumps(checkpoint), due_ms, arn),
                )

        await self._db.change(advance)

    async def progress(
        self,
        arn: str,
        events: Sequence[dict[str, Any]],
        frames: Mapping[str, tuple[dict[str, Any], int | None]],
    ) -> None:
        """Branches' and iterations' progress inside a running Parallel or Map state: their
        events appended and their frames (key -> (frame, due)) put, in one change. Nothing
        happens to a closed execution."""

        def put(conn: sqlite3.Connection) -> None:
            row = conn.execute("SELECT status FROM wf_executions WHERE arn = ?", (arn,)).fetchone()
            if row is None or row[0] != RUNNING:
                return
            _append(conn, arn, events)
            if frames:
                conn.executemany(
                    "INSERT INTO wf_frames (execution_arn, lane, body, due_ms) VALUES (?, ?, ?, ?)"
                    " ON CONFLICT (execution_arn, lane) DO UPDATE SET body = excluded.body,"
                    " due_ms = excluded.due_ms",
                    [(arn, key, _dumps(frame), due) for key, (frame, due) in frames.items()],
                )

        await self._db.change(put)

    async def execution(self, arn: str) -> Execution | None:
        def read(conn: sqlite3.Connection) -> Execution | None:
            row = conn.execute("SELECT body FROM wf_executions WHERE arn = ?", (arn,)).fetchone()
            return Execution.from_row(json.loads(row[0])) if row else None

        return await self._db.read(read)

    async def executions(
        self, machine_arn: str, status: str | None, offset: int, limit: int
    ) -> list[Execution]:
        """A machine's executions, newest first."""

        def read(conn: sqlite3.Connection) -> list[Execution]:
            where, args = "machine_arn = ?", [machine_arn]
            if status:
                where, args = where + " AND status = ?", [*args, status]
            rows = conn.execute(
                f"SELECT body FROM wf_executions WHERE {where} ORDER BY start_ms DESC, arn LIMIT ? OFFSET ?",
                (*args, limit, offset),
            ).fetchall()
            return [Execution.from_row(json.loads(r[0])) for r in rows]

        return await self._db.read(read)

    async def history(self, arn: str) -> list[dict[str, Any]]:
        def read(conn: sqlite3.Connection) -> list[dict[str, Any]]:
            rows = conn.execute(
                "SELECT body FROM wf_events WHERE execution_arn = ? ORDER BY id", (arn,)
            ).fetchall()
            return [json.loads(r[0]) for r in rows]

        return await self._db.read(read)

    async def delete_executions(self, machine_arn: str) -> None:
        """A deleted state machine's closed executions (running ones are stopped first)."""

        def delete(conn: sqlite3.Connection) -> None:
            for table in ("wf_events", "wf_frames"):
                conn.execute(
                    f"DELETE FROM {table} WHERE execution_arn IN"
                    " (SELECT arn FROM wf_executions WHERE machine_arn = ?)",
                    (machine_arn,),
                )
            conn.execute("DELETE FROM wf_executions WHERE machine_arn = ?", (machine_arn,))

        await self._db.change(delete)


def _append(conn: sqlite3.Connection, arn: str, events: Sequence[dict[str, Any]]) -> None:
    if events:
        conn.executemany(
            "INSERT INTO wf_events (execution_arn, id, body) VALUES (?, ?, ?)",
            [(arn, e["id"], _dumps(e)) for e in events],
        )
