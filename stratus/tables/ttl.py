"""Time to live: items whose TTL attribute (a Number of epoch seconds) is in the past are
deleted by a sweep each minute, through the table store's own delete path, so each deletion
writes its REMOVE stream record with userIdentity {"type": "Service", "principalId":
"dynamodb.amazonaws.com"} (DynamoDB deletes within days; here within a minute or so).

As DynamoDB documents: only a top-level Number attribute counts (any other type, or a set of
numbers, never expires); an expiry more than five years in the past is taken as not meant as
one and the item stays. The sweep checks again at deletion, under the store's own write, so an
item updated meanwhile to a later expiry is kept. The same loop trims stream records past their
24 hours (`Streams.trim`).
"""

from __future__ import annotations

import asyncio
import decimal
import functools
import json
import logging
import os
import sqlite3
import time
from collections.abc import Callable
from typing import Any

from stratus.tables.errors import ConditionalCheckFailedException
from stratus.tables.expressions import Condition, Substitutions, parse_condition
from stratus.tables.model import Table
from stratus.tables.streams import SERVICE_IDENTITY, Streams
from stratus.tables.tables import Tables, Write
from stratus.tables.values import loads

log = logging.getLogger("stratus.tables")

SWEEP_EVERY_S = 30.0
# For tests and demos: a shorter sweep interval (seconds), e.g. STRATUS_TTL_SWEEP_SECONDS=1.
SWEEP_ENV = "STRATUS_TTL_SWEEP_SECONDS"
PAGE = 500
FIVE_YEARS_S = 5 * 365 * 86400
Item = dict[str, Any]
IDENTITY = json.dumps(SERVICE_IDENTITY, separators=(",", ":"))


def expires_at(item: Item, attribute: str) -> float | None:
    """The item's expiry in epoch seconds, or None when it has none DynamoDB would honour."""
    value = item.get(attribute)
    if not isinstance(value, dict) or set(value) != {"N"}:
        return None
    try:
        return float(decimal.Decimal(str(value["N"])))
    except (decimal.InvalidOperation, ValueError):
        return None


def expired(item: Item, attribute: str, now_s: float) -> bool:
    at = expires_at(item, attribute)
    return at is not None and now_s - FIVE_YEARS_S <= at <= now_s


def still_expired(attribute: str, now_s: float) -> Condition:
    """The deletion's condition, evaluated against the item as committed when the delete runs:
    an item given a later expiry (or none) meanwhile stays."""
    subs = Substitutions(
        {"#ttl": attribute},
        {":low": {"N": str(int(now_s - FIVE_YEARS_S))}, ":now": {"N": str(int(now_s))}},
    )
    return parse_condition("#ttl BETWEEN :low AND :now", subs)


class Sweeper:
    def __init__(
        self,
        owner: Tables,
        streams: Streams | None = None,
        *,
        clock: Callable[[], float] = time.time,
        every_s: float | None = None,
    ) -> None:
        self._owner = owner
        self._db = owner.database
        self._streams = streams
        self._clock = clock
        self._every_s = every_s if every_s is not None else float(os.environ.get(SWEEP_ENV) or SWEEP_EVERY_S)

    async def run(self) -> None:
        while True:
            try:
                await self.sweep()
                if self._streams is not None:
                    await self._streams.trim()
            except asyncio.CancelledError:
                raise
            except Exception:  # one bad sweep is logged; the next one runs anyway
                log.exception("the TTL sweep failed")
            await asyncio.sleep(self._every_s)

    async def sweep(self) -> int:
        """Deletes every expired item of the tables with TTL on; how many went."""
        deleted = 0
        for table in self._owner.all_tables():
            if table.ttl_enabled and table.ttl_attribute:
                deleted += await self._sweep_table(table, table.ttl_attribute)
        return deleted

    async def _sweep_table(self, table: Table, attribute: str) -> int:
        deleted = 0
        after: tuple[bytes, bytes] | None = None
        while True:
            page = await self._db.read(functools.partial(_page, table_id=table.id, after=after))
            if not page:
                return deleted
            now = self._clock()
            for _, _, text in page:
                item = json.loads(text)
                if expired(item, attribute, now) and await self._expire(table, item, attribute, now):
                    deleted += 1
            after = (page[-1][0], page[-1][1])

    async def _expire(self, table: Table, stored: Item, attribute: str, now: float) -> bool:
        current = self._owner.by_arn(table.arn)
        if current is None or current.id != table.id:
            return False  # the table went (or was made again) meanwhile
        key = loads(json.dumps({name: stored[name] for name in current.key_names if name in stored}))
        write = Write("delete", current, key, condition=still_expired(attribute, now))
        try:
            outcome = await self._owner.write(write, user_identity=IDENTITY)
        except ConditionalCheckFailedException:
            return False
        return outcome.old is not None


def _page(
    conn: sqlite3.Connection, *, table_id: int, after: tuple[bytes, bytes] | None
) -> list[tuple[bytes, bytes, str]]:
    """A page of the table's items in key order (the table store's `items` rows)."""
    if after is None:
        rows = conn.execute(
            "SELECT pk, sk, item FROM items WHERE table_id = ? ORDER BY pk, sk LIMIT ?", (table_id, PAGE)
        )
    else:
        rows = conn.execute(
            "SELECT pk, sk, item FROM items WHERE table_id = ? AND (pk > ? OR (pk = ? AND sk > ?)) "
            "ORDER BY pk, sk LIMIT ?",
            (table_id, after[0], after[0], after[1], PAGE),
        )
    return [(bytes(pk), bytes(sk), str(item)) for pk, sk, item in rows]
