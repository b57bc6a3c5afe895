"""DynamoDB's condition keys of a request (dynamodb:LeadingKeys, Attributes, Select, ReturnValues,
ReturnConsumedCapacity), read from the request and the table's key schema: pure functions."""

from __future__ import annotations

from typing import Any

import pytest

from stratus.tables import condition_keys as ck
from stratus.tables.model import Index, Table

LK, ATTRS, SELECT, RV, RCC = (
    ck.LEADING_KEYS,
    ck.ATTRIBUTES,
    ck.SELECT,
    ck.RETURN_VALUES,
    ck.RETURN_CONSUMED_CAPACITY,
)

GAMES = Table(
    id=1,
    region="us-east-1",
    account="000000000000",
    name="games",
    created_ms=0,
    attributes={"user": "S", "title": "S", "score": "N"},
    hash_key="user",
    range_key="title",
    indexes=(Index("by_score", True, "score", None, "ALL"),),
)
NUMBERED = Table(
    id=2,
    region="us-east-1",
    account="000000000000",
    name="numbered",
    created_ms=0,
    attributes={"id": "N"},
    hash_key="id",
    range_key=None,
)
BLOBS = Table(
    id=3,
    region="us-east-1",
    account="000000000000",
    name="blobs",
    created_ms=0,
    attributes={"b": "B"},
    hash_key="b",
    range_key=None,
)
TABLES = {t.name: t for t in (GAMES, NUMBERED, BLOBS)}


def find(name: str) -> Table | None:
    return TABLES.get(name)


def S(text: str) -> dict[str, Any]:
    return {"S": text}


def one(operation: str, **params: Any) -> dict[str, tuple[str, ...]]:
    extract = ck.query_or_scan if operation in ("Query", "Scan") else ck.single_item
    keys = extract(operation, params, find)
    assert keys is not None
    return keys


def test_get_item_names_its_partition_key_value_and_key_attributes() -> None:
    keys = one("GetItem", TableName="games", Key={"user": S("alice"), "title": S("chess")})
    assert keys == {
        LK: ("alice",),
        ATTRS: ("title", "user"),
        SELECT: ("ALL_ATTRIBUTES",),
        RCC: ("NONE",),
    }


def test_get_item_projection_names_top_level_attributes_and_selects_specific() -> None:
    keys = one(
        "GetItem",
        TableName="games",
        Key={"user": S("alice"), "title": S("chess")},
        ProjectionExpression="#w, stats.best[0], score",
        ExpressionAttributeNames={"#w": "wins"},
        ReturnConsumedCapacity="TOTAL",
    )
    assert keys[ATTRS] == ("score", "stats", "title", "user", "wins")
    assert keys[SELECT] == ("SPECIFIC_ATTRIBUTES",)
    assert keys[RCC] == ("TOTAL",)
    legacy = one(
        "GetItem", TableName="games", Key={"user": S("a"), "title": S("t")}, AttributesToGet=["x", "y"]
    )
    assert legacy[ATTRS] == ("title", "user", "x", "y") and legacy[SELECT] == ("SPECIFIC_ATTRIBUTES",)


def test_put_item_names_the_item_the_condition_and_return_values() -> None:
    keys = one(
        "PutItem",
        TableName="games",
        Item={"user": S("bob"), "title": S("go"), "secret": S("x")},
        ConditionExpression="attribute_not_exists(#u) OR wins < :w",
        ExpressionAttributeNames={"#u": "user"},
        ExpressionAttributeValues={":w": {"N": "3"}},
    )
    assert keys[LK] == ("bob",)
    assert keys[ATTRS] == ("secret", "title", "user", "wins")
    assert keys[RV] == ("NONE",)
    assert SELECT not in keys
    assert one("PutItem", TableName="games", Item={"user": S("b"), "title": S("t")}, ReturnValues="ALL_OLD")[
        RV
    ] == ("ALL_OLD",)


def test_update_item_names_every_attribute_its_update_reads_or_writes() -> None:
    keys = one(
        "UpdateItem",
        TableName="games",
        Key={"user": S("alice"), "title": S("chess")},
        UpdateExpression="SET a = b + :one, c = if_not_exists(d, :one), l = list_append(m, :l) "
        "REMOVE r[1] ADD s :one DELETE t :set",
        ExpressionAttributeValues={":one": {"N": "1"}, ":l": {"L": []}, ":set": {"SS": ["x"]}},
        ReturnValues="UPDATED_NEW",
    )
    assert keys[LK] == ("alice",)
    assert keys[ATTRS] == ("a", "b", "c", "d", "l", "m", "r", "s", "t", "title", "user")
    assert keys[RV] == ("UPDATED_NEW",)


def test_delete_item_names_its_key_and_condition() -> None:
    keys = one(
        "DeleteItem",
        TableName="games",
        Key={"user": S("carol"), "title": S("chess")},
        ConditionExpression="size(notes) > :n",
        ExpressionAttributeValues={":n": {"N": "0"}},
    )
    assert keys == {
        LK: ("carol",),
        ATTRS: ("notes", "title", "user"),
        RV: ("NONE",),
        RCC: ("NONE",),
    }


@pytest.mark.parametrize(
    ("given", "text"),
    [({"N": "1.50"}, "1.5"), ({"N": "0100"}, "100"), ({"N": "1E2"}, "100"), ({"N": "-0.0"}, "0")],
)
def test_number_keys_are_their_canonical_text(given: dict[str, str], text: str) -> None:
    assert one("GetItem", TableName="numbered", Key={"id": given})[LK] == (text,)


def test_binary_keys_are_base64() -> None:
    assert one("GetItem", TableName="blobs", Key={"b": {"B": b"\x00\xffab"}})[LK] == ("AP9hYg==",)


def test_query_names_the_partition_of_its_key_condition() -> None:
    keys = one(
        "Query",
        TableName="games",
        KeyConditionExpression="#u = :u AND begins_with(title, :t)",
        FilterExpression="wins > :w",
        ProjectionExpression="title, wins",
        ExpressionAttributeNames={"#u": "user"},
        ExpressionAttributeValues={":u": S("alice"), ":t": S("c"), ":w": {"N": "1"}},
    )
    assert keys[LK] == ("alice",)
    assert keys[ATTRS] == ("title", "user", "wins")
    assert keys[SELECT] == ("SPECIFIC_ATTRIBUTES",)


def test_query_on_an_index_names_the_index_partition_and_projected_select() -> None:
    keys = one(
        "Query",
        TableName="games",
        IndexName="by_score",
        KeyConditionExpression="score = :s",
        ExpressionAttributeValues={":s": {"N": "10.0"}},
    )
    assert keys[LK] == ("10",)
    assert keys[SELECT] == ("ALL_PROJECTED_ATTRIBUTES",)
    counted = one(
        "Query",
        TableName="games",
        KeyConditionExpression="#u = :u",
        ExpressionAttributeNames={"#u": "user"},
        ExpressionAttributeValues={":u": S("a")},
        Select="COUNT",
    )
    assert counted[SELECT] == ("COUNT",)


def test_legacy_key_conditions_name_their_partition() -> None:
    keys = one(
        "Query",
        TableName="games",
        KeyConditions={"user": {"ComparisonOperator": "EQ", "AttributeValueList": [S("bob")]}},
    )
    assert keys[LK] == ("bob",)


def test_scan_has_no_leading_keys() -> None:
    keys = one("Scan", TableName="games", FilterExpression="attribute_exists(wins)")
    assert LK not in keys
    assert keys[ATTRS] == ("wins",)
    assert keys[SELECT] == ("ALL_ATTRIBUTES",)


def test_unknown_tables_and_indexes_give_no_keys() -> None:
    assert ck.single_item("GetItem", {"TableName": "nope", "Key": {"user": S("a")}}, find) is None
    assert ck.query_or_scan("Query", {"TableName": "games", "IndexName": "nope"}, find) is None


def test_input_the_handler_refuses_gives_fewer_keys_never_an_error() -> None:
    bad_expression = one(
        "Query",
        TableName="games",
        KeyConditionExpression="user = = :u",
        ExpressionAttributeValues={":u": S("a")},
    )
    assert LK not in bad_expression
    wrong_type = one("GetItem", TableName="numbered", Key={"id": {"N": "not a number"}})
    assert LK not in wrong_type
    assert LK not in one("PutItem", TableName="games", Item={"title": S("no partition")})


def test_batches_key_each_table_by_its_own_items() -> None:
    got = ck.batch(
        "BatchGetItem",
        {
            "RequestItems": {
                "games": {
                    "Keys": [{"user": S("alice"), "title": S("a")}, {"user": S("bob"), "title": S("b")}],
                    "ProjectionExpression": "wins",
                },
                "numbered": {"Keys": [{"id": {"N": "7"}}]},
                "missing": {"Keys": [{"id": {"N": "7"}}]},
            }
        },
        find,
    )
    assert set(got) == {"games", "numbered"}
    assert got["games"][LK] == ("alice", "bob")
    assert got["games"][ATTRS] == ("title", "user", "wins")
    assert got["games"][SELECT] == ("SPECIFIC_ATTRIBUTES",)
    assert got["numbered"][LK] == ("7",) and got["numbered"][SELECT] == ("ALL_ATTRIBUTES",)
    writes = ck.batch(
        "BatchWriteItem",
        {
            "RequestItems": {
                "games": [
                    {"PutRequest": {"Item": {"user": S("alice"), "title": S("a"), "x": S("1")}}},
                    {"DeleteRequest": {"Key": {"user": S("carol"), "title": S("b")}}},
                ]
            }
        },
        find,
    )
    assert writes["games"][LK] == ("alice", "carol")
    assert writes["games"][ATTRS] == ("title", "user", "x")


def test_transactions_key_each_action_and_table_by_its_own_parts() -> None:
    got = ck.transaction(
        {
            "TransactItems": [
                {
                    "ConditionCheck": {
                        "TableName": "games",
                        "Key": {"user": S("bob"), "title": S("t")},
                        "ConditionExpression": "attribute_exists(wins)",
                    }
                },
                {"Put": {"TableName": "games", "Item": {"user": S("alice"), "title": S("t")}}},
                {"Put": {"TableName": "numbered", "Item": {"id": {"N": "2.0"}}}},
                {
                    "Update": {
                        "TableName": "games",
                        "Key": {"user": S("dave"), "title": S("t")},
                        "UpdateExpression": "SET n = :n",
                        "ExpressionAttributeValues": {":n": {"N": "1"}},
                    }
                },
            ],
            "ReturnConsumedCapacity": "INDEXES",
        },
        find,
    )
    assert got[("ConditionCheckItem", "games")][LK] == ("bob",)
    assert got[("ConditionCheckItem", "games")][ATTRS] == ("title", "user", "wins")
    assert got[("PutItem", "games")][LK] == ("alice",)
    assert got[("PutItem", "numbered")][LK] == ("2",)
    assert got[("UpdateItem", "games")][LK] == ("dave",)
    assert got[("UpdateItem", "games")][ATTRS] == ("n", "title", "user")
    assert all(k[RCC] == ("INDEXES",) and RV not in k for k in got.values())


def test_several_reads_of_one_table_select_the_broadest() -> None:
    got = ck.transaction(
        {
            "TransactItems": [
                {
                    "Get": {
                        "TableName": "games",
                        "Key": {"user": S("a"), "title": S("t")},
                        "ProjectionExpression": "x",
                    }
                },
                {"Get": {"TableName": "games", "Key": {"user": S("a"), "title": S("u")}}},
            ]
        },
        find,
    )
    assert got[("GetItem", "games")][SELECT] == ("ALL_ATTRIBUTES",)


def test_top_names_of_a_parsed_condition() -> None:
    from stratus.tables.expressions import Substitutions, parse_condition

    condition = parse_condition(
        "a.b[2] = :v AND (NOT contains(c, :v) OR d IN (:v, e)) AND attribute_type(f, :t) "
        "AND size(g) BETWEEN h AND :n",
        Substitutions(None, {":v": S("x"), ":t": S("S"), ":n": {"N": "1"}}),
    )
    assert ck.top_names(condition) == {"a", "c", "d", "e", "f", "g", "h"}
