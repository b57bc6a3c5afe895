"""queues.db's connection on one worker thread, with group commit: every change (a send, a
receive's leases, a delete) that arrives while a batch is being committed joins the next
batch, and a batch is one transaction and one fsync, each change in a savepoint of its own so
that one refused change leaves the others. A change that finds no batch running starts one; the
batch's outcomes go to each change's own future (a done-callback, so a cancelled caller cannot
strand the others)."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import sqlite3
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar, cast

from stratus.store.diskfull import writing
from stratus.store.sqlite import connect, transaction

T = TypeVar("T")
Change = Callable[[sqlite3.Connection], Any]


class Committer:
    def __init__(self, path: Path, schema: str) -> None:
        self.conn = connect(path)
        self.conn.executescript(schema)
        self._db = ThreadPoolExecutor(max_workers=1, thread_name_prefix="queues")
        self._waiting: list[tuple[Change, asyncio.Future[Any]]] = []
        self._batch: asyncio.Future[list[tuple[bool, Any]]] | None = None

    def close(self) -> None:
        self._db.shutdown(wait=True)
        self.conn.close()

    async def read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._db, fn, self.conn)

    async def change(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """`fn`'s result once it is committed (durably), or the error it raised."""
        loop = asyncio.get_running_loop()
        done: asyncio.Future[Any] = loop.create_future()
        self._waiting.append((fn, done))
        while not done.done():
            batch = self._batch
            if batch is None:
                changes, self._waiting = self._waiting, []
                batch = loop.run_in_executor(self._db, self._commit, [f for f, _ in changes])
                self._batch = batch
                batch.add_done_callback(functools.partial(self._settle, changes))
            with contextlib.suppress(Exception):
                await asyncio.shield(batch)
            if not done.done():
                await asyncio.sleep(0)  # the done-callback runs at the loop's next turn
        return cast(T, done.result())

    def _settle(self, changes: list[tuple[Change, asyncio.Future[Any]]], batch: asyncio.Future[Any]) -> None:
        self._batch = None
        error = batch.exception() if not batch.cancelled() else asyncio.CancelledError()
        outcomes = batch.result() if error is None else [(False, error)] * len(changes)
        for (_, done), (ok, value) in zip(changes, outcomes, strict=True):
            if done.done():
                continue
            if ok:
                done.set_result(value)
            else:
                done.set_exception(value)

    def _commit(self, changes: list[Change]) -> list[tuple[bool, Any]]:
        outcomes: list[tuple[bool, Any]] = []
        with writing(), transaction(self.conn):
            for fn in changes:
                self.conn.execute("SAVEPOINT change")
                try:
                    outcomes.append((True, fn(self.conn)))
                except Exception as e:
                    if not self.conn.in_transaction:
                        raise
                    self.conn.execute("ROLLBACK TO change")
                    outcomes.append((False, e))
                self.conn.execute("RELEASE change")
        return outcomes
