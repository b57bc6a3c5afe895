"""The table store's owner on a real SQLite file: conditions against the committed item under
concurrent writes, transactions all-or-nothing, index rows kept with their items, stream records
in the write's own transaction, and everything back after reopening."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from pathlib import Path

import pytest

from stratus.tables.catalog import Range
from stratus.tables.errors import ConditionalCheckFailedException, TransactionCanceledException
from stratus.tables.expressions import Condition, Substitutions, parse_condition, parse_update
from stratus.tables.model import Index, Table, new_stream
from stratus.tables.tables import Tables, Write

ACCOUNT = "000000000000"


def definition(table_id: int, *, streams: bool = False) -> Table:
    return Table(
        id=table_id,
        region="us-east-1",
        account=ACCOUNT,
        name="t",
        created_ms=1,
        attributes={"pk": "S", "g": "N"},
        hash_key="pk",
        range_key=None,
        indexes=(Index("by_g", True, "g", None, "KEYS_ONLY"),),
        streams=(new_stream("NEW_AND_OLD_IMAGES", 1),) if streams else (),
    )


def condition(text: str) -> Condition:
    return parse_condition(text, Substitutions(None, None))


def test_only_one_of_racing_conditional_puts_wins(tmp_path: Path) -> None:
    async def main() -> list[bool]:
        tables = Tables(tmp_path / "tables.db", ACCOUNT)
        try:
            table = await tables.create(definition)
            key = {"pk": {"S": "same"}}

            async def claim(i: int) -> bool:
                write = Write(
                    "put",
                    table,
                    key,
                    item={**key, "by": {"N": str(i)}},
                    condition=condition("attribute_not_exists(pk)"),
                )
                try:
                    await tables.write(write)
                    return True
                except ConditionalCheckFailedException:
                    return False

            return list(await asyncio.gather(*(claim(i) for i in range(40))))
        finally:
            tables.close()

    assert sum(asyncio.run(main())) == 1


def test_transactions_and_indexes_and_reopening(tmp_path: Path) -> None:
    async def first() -> None:
        tables = Tables(tmp_path / "tables.db", ACCOUNT)
        try:
            table = await tables.create(lambda i: definition(i, streams=True))
            a, b = {"pk": {"S": "a"}}, {"pk": {"S": "b"}}
            await tables.write(Write("put", table, a, item={**a, "g": {"N": "1"}}))
            with pytest.raises(TransactionCanceledException) as err:
                await tables.write_all(
                    [
                        Write("put", table, b, item={**b, "g": {"N": "2"}}),
                        Write("check", table, a, condition=condition("attribute_not_exists(pk)")),
                    ]
                )
            assert [r["Code"] for r in err.value.reasons] == ["None", "ConditionalCheckFailed"]
            assert await tables.get(table, b) is None
            update = parse_update("REMOVE g", Substitutions(None, None))
            await tables.write(Write("update", table, a, update=update))
            rows = await tables.read_range(Range(table.id, "by_g"), 10)
            assert rows == []  # the item lost the index key: out of the index
        finally:
            tables.close()

    asyncio.run(first())
    conn = sqlite3.connect(tmp_path / "tables.db")
    events = [r[0] for r in conn.execute("SELECT event_name FROM stream_records ORDER BY sequence")]
    (old,) = conn.execute("SELECT old_image FROM stream_records WHERE event_name = 'MODIFY'").fetchone()
    conn.close()
    assert events == ["INSERT", "MODIFY"]  # nothing of the cancelled transaction
    assert json.loads(old) == {"pk": {"S": "a"}, "g": {"N": "1"}}

    async def again() -> None:
        tables = Tables(tmp_path / "tables.db", ACCOUNT)
        try:
            table = tables.require("us-east-1", "t")
            assert table.stream is not None and table.index("by_g") is not None
            assert await tables.get(table, {"pk": {"S": "a"}}) == {"pk": {"S": "a"}}
            assert [s.view_type for s in tables.streams()] == ["NEW_AND_OLD_IMAGES"]
        finally:
            tables.close()

    asyncio.run(again())
