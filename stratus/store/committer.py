"""A SQLite connection given to one worker thread, with group commit (the bucket catalog's and
the queues'): changes that arrive while a batch is being committed wait and are committed
together, in one transaction and one fsync, each in a savepoint of its own so that one refused
change leaves the others. The first change to find no batch running starts the next one, so no
task of its own is needed; a batch's outcomes are handed to each change's own future (by a
done-callback, so a cancelled caller cannot strand the others)."""

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


class Committer:
    """One owner of a database's connection: reads and changes run on its worker thread."""

    def __init__(self, path: Path, name: str, schema: str = "") -> None:
        self.conn = connect(path)  # read directly only before the first change (loading)
        if schema:
            self.conn.executescript(schema)
        self._db = ThreadPoolExecutor(max_workers=1, thread_name_prefix=name)
        # Changes waiting for the batch being committed, and that batch.
        self._waiting: list[tuple[Callable[[sqlite3.Connection], Any], asyncio.Future[Any]]] = []
        self._committing: asyncio.Future[list[tuple[bool, Any]]] | None = None

    def close(self) -> None:
        self._db.shutdown(wait=True)
        self.conn.close()

    async def read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """`fn` on the worker thread, outside any transaction (the catalog's reads)."""
        return await asyncio.get_running_loop().run_in_executor(self._db, fn, self.conn)

    async def change(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run `fn` as one change on the worker thread, committed with whichever other changes
        are waiting: its result, or the error it raised (its savepoint rolled back, the others
        kept), or the commit's error for all of them."""
        loop = asyncio.get_running_loop()
        done: asyncio.Future[Any] = loop.create_future()
        self._waiting.append((fn, done))
        while not done.done():
            committing = self._committing
            if committing is None:  # nothing being committed: this change leads the next batch
                batch, self._waiting = self._waiting, []
                committing = loop.run_in_executor(self._db, self._commit, [f for f, _ in batch])
                self._committing = committing
                committing.add_done_callback(functools.partial(self._settle, batch))
            if committing.done():  # committed; its outcomes are settled at the loop's next turn
                await asyncio.sleep(0)
                continue
            with contextlib.suppress(Exception):  # outcomes go to each change's own future
                await asyncio.shield(committing)
        return cast(T, await done)

    def _settle(self, batch: list[tuple[Any, asyncio.Future[Any]]], outcome: asyncio.Future[Any]) -> None:
        """Each change of a committed (or failed) batch gets its own result or error."""
        self._committing = None
        error = outcome.exception() if not outcome.cancelled() else asyncio.CancelledError()
        results = outcome.result() if error is None else [(False, error)] * len(batch)
        for (_, done), (ok, value) in zip(batch, results, strict=True):
            if not done.done():
                if ok:
                    done.set_result(value)
                else:
                    done.set_exception(value)

    def _commit(self, fns: list[Callable[[sqlite3.Connection], Any]]) -> list[tuple[bool, Any]]:
        """On the worker thread: one transaction holding each change in a savepoint of its own."""
        outcomes: list[tuple[bool, Any]] = []
        with writing(), transaction(self.conn):
            for fn in fns:
                self.conn.execute("SAVEPOINT change")
                try:
                    outcomes.append((True, fn(self.conn)))
                except Exception as e:
                    if not self.conn.in_transaction:
                        raise  # SQLite rolled the whole transaction back (a full disk, say)
                    self.conn.execute("ROLLBACK TO change")
                    outcomes.append((False, e))
                self.conn.execute("RELEASE change")
        return outcomes
