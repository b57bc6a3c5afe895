"""`Tables`, the one owner of `DATA_DIR/tables.db`: table definitions (in memory, written
through), items, their index rows and their stream records, all changed through one group
committer (`store.committer`): each write is one change, committed (fsync'd) with whatever other
writes are waiting before it is answered, and its index rows and stream record are written in
the same transaction, so a committed change and its record exist together.

Conditions and updates (`expressions`) are evaluated on the store's worker thread against the
item as committed, so a condition and the write it guards see the same item.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

from stratus.store.committer import Committer
from stratus.tables import catalog, keys
from stratus.tables.errors import (
    ConditionalCheckFailedException,
    ResourceInUseException,
    ResourceNotFoundException,
    TransactionCanceledException,
    ValidationException,
)
from stratus.tables.expressions import Condition, Update, apply_update, evaluate
from stratus.tables.model import Stream, Table, table_arn
from stratus.tables.streams import StreamInfo, shard_id
from stratus.tables.values import Item, check_size, dumps, item_size, items_equal, loads

Kind = Literal["put", "update", "delete", "check"]


@dataclass(frozen=True)
class Write:
    """One item write (or a transaction's ConditionCheck), its condition evaluated against the
    item as committed."""

    kind: Kind
    table: Table
    key: Item
    item: Item | None = None  # put: the whole item
    update: Update | None = None
    condition: Condition | None = None
    old_on_failure: bool = False  # ReturnValuesOnConditionCheckFailure=ALL_OLD
    size: int | None = None  # put: the item's size, when the caller has it
    # Whether the caller wants the item as it was (a put that nothing else needs it for, no
    # condition, stream or index, then skips reading it).
    want_old: bool = True

    def needs_old(self) -> bool:
        t = self.table
        return (
            self.want_old
            or self.kind != "put"
            or self.condition is not None
            or bool(t.indexes)
            or t.stream is not None
        )


@dataclass(frozen=True)
class Outcome:
    old: Item | None
    new: Item | None


def not_found(name: str) -> ResourceNotFoundException:
    return ResourceNotFoundException(f"Requested resource not found: Table: {name} not found")


class Tables:
    def __init__(self, path: Path, account_id: str, *, clock: Callable[[], float] = time.time) -> None:
        self.account_id = account_id
        self._clock = clock
        self._db = Committer(path, "tables", catalog.SCHEMA)
        self._tables: dict[str, Table] = {t.arn: t for t in catalog.load_tables(self._db.conn)}
        self._definitions = asyncio.Lock()  # table definition changes, one at a time
        # Called after a commit that wrote stream records (the streams' readers wake up).
        self.on_stream_records: Callable[[], None] | None = None

    @property
    def database(self) -> Committer:
        """The store's owner of the connection, for the streams' reads."""
        return self._db

    def close(self) -> None:
        self._db.close()

    def now_ms(self) -> int:
        return int(self._clock() * 1000)

    # -- definitions ------------------------------------------------------------------------

    def find(self, region: str, name: str) -> Table | None:
        return self._tables.get(table_arn(region, self.account_id, name))

    def require(self, region: str, name: str) -> Table:
        table = self.find(region, name)
        if table is None:
            raise not_found(name)
        return table

    def by_arn(self, arn: str) -> Table | None:
        return self._tables.get(arn)

    def all_tables(self) -> list[Table]:
        """Every table of every region (the TTL sweep's)."""
        return list(self._tables.values())

    def listed(self, region: str) -> list[Table]:
        return sorted((t for t in self._tables.values() if t.region == region), key=lambda t: t.name)

    def streams(self) -> list[StreamInfo]:
        """Every stream of every table (ended ones too), as the streams' reader sees them."""
        out = []
        for table in self._tables.values():
            schema = tuple((n, "HASH" if n == table.hash_key else "RANGE") for n in table.key_names)
            for s in table.streams:
                out.append(
                    StreamInfo(
                        table.stream_arn(s),
                        table.name,
                        table.arn,
                        s.label,
                        s.view_type,
                        schema,
                        s.created_ms,
                        s.ended_ms,
                    )
                )
        return out

    async def create(self, make: Callable[[int], Table]) -> Table:
        async with self._definitions:

            def create(conn: sqlite3.Connection) -> Table:
                table = make(catalog.next_table_id(conn))
                if table.arn in self._tables:
                    raise ResourceInUseException(f"Table already exists: {table.name}")
                catalog.save_table(conn, table)
                return table

            table = await self._db.change(create)
            self._tables[table.arn] = table
            return table

    async def redefine(self, region: str, name: str, change: Callable[[Table], Table]) -> tuple[Table, Table]:
        """A table's definition changed by `change` (pure), with the index rows a new GSI needs
        (backfilled from the items) and those of a deleted one gone: (before, after)."""
        async with self._definitions:
            before = self.require(region, name)
            after = change(before)
            added = [i for i in after.indexes if before.index(i.name) is None]
            dropped = [i for i in before.indexes if after.index(i.name) is None]

            def write(conn: sqlite3.Connection) -> None:
                for index in dropped:
                    catalog.drop_index(conn, after.id, index.name)
                if added:
                    for pk, sk, hash_, text in catalog.all_items(conn, after.id):
                        item = loads(text)
                        rows = _index_rows(replace(after, indexes=tuple(added)), item)
                        catalog.replace_index_rows(conn, after.id, pk, sk, hash_, rows, had=False)
                catalog.save_table(conn, after)

            await self._db.change(write)
            self._tables[after.arn] = after
            return before, after

    async def delete(self, region: str, name: str) -> Table:
        async with self._definitions:
            table = self.require(region, name)
            if table.deletion_protection:
                raise ValidationException(
                    "Resource cannot be deleted as it is currently protected against deletion. "
                    "Disable deletion protection first."
                )
            await self._db.change(lambda conn: catalog.drop_table(conn, table.id))
            self._tables.pop(table.arn, None)
            return table

    async def counts(self, table: Table) -> tuple[int, int, dict[str, tuple[int, int]]]:
        return await self._db.read(lambda conn: catalog.counts(conn, table.id))

    # -- items ------------------------------------------------------------------------------

    async def get(self, table: Table, key: Item) -> Item | None:
        row = keys.row_key(table, key)
        text = await self._db.read(lambda conn: catalog.get_item(conn, table.id, row.pk, row.sk))
        return None if text is None else loads(text)

    async def get_many(self, wanted: Sequence[tuple[Table, Item]]) -> list[Item | None]:
        """Several items in one read (BatchGetItem, TransactGetItems: one snapshot)."""
        rows = [(t.id, keys.row_key(t, k)) for t, k in wanted]

        def read(conn: sqlite3.Connection) -> list[str | None]:
            return [catalog.get_item(conn, tid, r.pk, r.sk) for tid, r in rows]

        texts = await self._db.read(read)
        return [None if t is None else loads(t) for t in texts]

    async def read_range(self, r: catalog.Range, limit: int) -> list[tuple[tuple[bytes, ...], str, int]]:
        return await self._db.read(lambda conn: catalog.read_range(conn, r, limit))

    async def write(self, w: Write, *, user_identity: str | None = None) -> Outcome:
        now = self.now_ms()
        outcome = await self._db.change(
            lambda conn: self._apply(conn, w, _current(conn, w), now, user_identity)
        )
        self._after(w.table, outcome)
        return outcome

    async def write_all(self, writes: Sequence[Write]) -> list[Outcome]:
        """Several writes in one transaction: all, or none and TransactionCanceledException
        with a reason per write, in order (TransactWriteItems)."""
        now = self.now_ms()

        def run(conn: sqlite3.Connection) -> list[Outcome]:
            olds = [_current(conn, w) for w in writes]
            reasons: list[dict[str, Any]] = []
            failed = False
            for w, old in zip(writes, olds, strict=True):
                try:
                    self._check(w, old)
                    if w.kind == "update":
                        # An update that cannot apply to the item as it is (a path into a
                        # missing map, a wrong type, an item grown past 400 KB) cancels the
                        # transaction with its own reason, as DynamoDB's ValidationError.
                        self._updated(w, old)
                    reasons.append({"Code": "None"})
                except ConditionalCheckFailedException as e:
                    failed = True
                    reason: dict[str, Any] = {"Code": "ConditionalCheckFailed", "Message": e.message}
                    if w.old_on_failure and old is not None:
                        reason["Item"] = old
                    reasons.append(reason)
                except ValidationException as e:
                    failed = True
                    reasons.append({"Code": "ValidationError", "Message": e.message})
            if failed:
                raise TransactionCanceledException(reasons)
            return [
                self._apply(conn, w, old, now, None, checked=True)
                for w, old in zip(writes, olds, strict=True)
            ]

        outcomes = await self._db.change(run)
        for w, outcome in zip(writes, outcomes, strict=True):
            self._after(w.table, outcome)
        return outcomes

    def _after(self, table: Table, outcome: Outcome) -> None:
        if table.stream is not None and self.on_stream_records is not None and outcome.old != outcome.new:
            self.on_stream_records()

    # -- on the worker thread ---------------------------------------------------------------

    def _check(self, w: Write, old: Item | None) -> None:
        if w.condition is not None and not evaluate(w.condition, old):
            raise ConditionalCheckFailedException(item=old if w.old_on_failure and old is not None else None)

    def _updated(self, w: Write, old: Item | None) -> Item:
        """The item an update makes of `old`; ValidationException when it cannot."""
        base = dict(old) if old is not None else dict(w.key)  # absent: created, as DynamoDB does
        new = apply_update(w.update, base, exists=old is not None) if w.update is not None else base
        keys.check_item_keys(w.table, new)
        check_size(new)
        return new

    def _apply(
        self,
        conn: sqlite3.Connection,
        w: Write,
        old: Item | None,
        now_ms: int,
        user_identity: str | None,
        *,
        checked: bool = False,
    ) -> Outcome:
        if not checked:
            self._check(w, old)
        table = w.table
        if w.kind == "check":
            return Outcome(old, old)
        new: Item | None
        if w.kind == "put":
            new = w.item
        elif w.kind == "update":
            new = self._updated(w, old)
        else:
            new = None
        row = keys.row_key(table, w.key)
        if new is None:
            if old is None:
                return Outcome(None, None)
            catalog.delete_item(conn, table.id, row.pk, row.sk)
            if table.indexes:
                catalog.replace_index_rows(conn, table.id, row.pk, row.sk, row.hash, (), had=True)
        else:
            size = w.size if w.kind == "put" and w.size is not None else item_size(new)
            catalog.put_item(conn, table.id, row.pk, row.sk, row.hash, dumps(new).decode(), size)
            if table.indexes:
                rows = _index_rows(table, new)
                catalog.replace_index_rows(
                    conn, table.id, row.pk, row.sk, row.hash, rows, had=old is not None
                )
        stream = table.stream
        if stream is not None and _changed(old, new):  # no record for a write that changed nothing
            _record(conn, table, stream, w.key, old, new, now_ms, user_identity)
        return Outcome(old, new)


def _changed(old: Item | None, new: Item | None) -> bool:
    if old is None or new is None:
        return old is not new
    return not items_equal(old, new)


def _record(
    conn: sqlite3.Connection,
    table: Table,
    stream: Stream,
    key: Item,
    old: Item | None,
    new: Item | None,
    now_ms: int,
    user_identity: str | None,
) -> None:
    """The change's stream record, with the images its stream's view type asks for."""
    view = stream.view_type
    event = "INSERT" if old is None else "REMOVE" if new is None else "MODIFY"
    new_image = (
        dumps(new).decode() if new is not None and view in ("NEW_IMAGE", "NEW_AND_OLD_IMAGES") else None
    )
    old_image = (
        dumps(old).decode() if old is not None and view in ("OLD_IMAGE", "NEW_AND_OLD_IMAGES") else None
    )
    catalog.add_stream_record(
        conn,
        table.arn,
        shard_id(table.stream_arn(stream), stream.created_ms),
        event,
        dumps(keys.key_of(table, new or old or key)).decode(),
        new_image,
        old_image,
        now_ms,
        user_identity,
    )


def _current(conn: sqlite3.Connection, w: Write) -> Item | None:
    row = keys.row_key(w.table, w.key)
    text = catalog.get_item(conn, w.table.id, row.pk, row.sk)
    return None if text is None else loads(text)


def _index_rows(table: Table, item: Item) -> list[catalog.IndexRow]:
    rows = []
    for index in table.indexes:
        at = keys.index_key(index, item)
        if at is None:
            continue  # an item without the index's key is not in the index
        held = keys.projected(table, index, item)
        # The whole item is kept for a local index (a Query of it may ask for any attribute,
        # as DynamoDB fetches them from the table); its size is what the index projects.
        stored = item if not index.is_global else held
        rows.append(catalog.IndexRow(index.name, at[0], at[1], dumps(stored).decode(), item_size(held)))
    return rows
