"""KeyConditionExpression's accepted shapes, and ProjectionExpression applied to items."""

from __future__ import annotations

from typing import Any

import pytest

from stratus.tables.errors import ValidationException
from stratus.tables.expressions import (
    KeyCondition,
    Substitutions,
    parse_key_condition,
    parse_projection,
    project,
)

VALUES: dict[str, Any] = {":p": {"S": "user"}, ":a": {"N": "1"}, ":b": {"N": "9"}, ":s": {"S": "2024-"}}

KEY_CASES: list[tuple[str, KeyCondition]] = [
    ("pk = :p", KeyCondition("pk", {"S": "user"}, None, None, ())),
    (":p = pk", KeyCondition("pk", {"S": "user"}, None, None, ())),
    ("pk = :p AND sk = :a", KeyCondition("pk", {"S": "user"}, "sk", "=", ({"N": "1"},))),
    ("pk = :p AND sk < :a", KeyCondition("pk", {"S": "user"}, "sk", "<", ({"N": "1"},))),
    ("pk = :p AND sk <= :a", KeyCondition("pk", {"S": "user"}, "sk", "<=", ({"N": "1"},))),
    ("pk = :p AND sk > :a", KeyCondition("pk", {"S": "user"}, "sk", ">", ({"N": "1"},))),
    ("pk = :p AND sk >= :a", KeyCondition("pk", {"S": "user"}, "sk", ">=", ({"N": "1"},))),
    (
        "pk = :p AND :a < sk",
        KeyCondition("pk", {"S": "user"}, "sk", ">", ({"N": "1"},)),
    ),  # value first: flipped
    (
        "pk = :p AND sk BETWEEN :a AND :b",
        KeyCondition("pk", {"S": "user"}, "sk", "BETWEEN", ({"N": "1"}, {"N": "9"})),
    ),
    (
        "pk = :p AND begins_with(sk, :s)",
        KeyCondition("pk", {"S": "user"}, "sk", "begins_with", ({"S": "2024-"},)),
    ),
    # in either order
    ("sk > :a AND pk = :p", KeyCondition("pk", {"S": "user"}, "sk", ">", ({"N": "1"},))),
    (
        "begins_with(sk, :s) and pk = :p",
        KeyCondition("pk", {"S": "user"}, "sk", "begins_with", ({"S": "2024-"},)),
    ),
    ("(pk = :p) AND (sk = :a)", KeyCondition("pk", {"S": "user"}, "sk", "=", ({"N": "1"},))),
    ("#pk = :p AND #sk = :a", KeyCondition("pk", {"S": "user"}, "sk", "=", ({"N": "1"},))),
]


@pytest.mark.parametrize(("text", "expected"), KEY_CASES)
def test_key_condition_shapes(text: str, expected: KeyCondition) -> None:
    names = {k: k[1:] for k in ("#pk", "#sk") if k in text}
    values = {k: v for k, v in VALUES.items() if k in text}
    subs = Substitutions(names or None, values)
    assert parse_key_condition(text, subs) == expected
    subs.check_all_used()


def test_key_schema_decides_which_equality_is_the_partition_key() -> None:
    subs = Substitutions(None, VALUES)
    found = parse_key_condition("sk = :a AND pk = :p", subs, hash_key="pk", range_key="sk")
    assert (found.hash_name, found.range_name, found.range_op) == ("pk", "sk", "=")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("price = :p", "Query condition missed key schema element: pk"),
        ("pk = :p AND price = :a", "Query condition missed key schema element: sk"),
        ("pk > :p AND sk = :a", "Query key condition not supported"),
        ("pk = :p AND begins_with(price, :s)", "Query condition missed key schema element: sk"),
    ],
)
def test_key_condition_held_to_the_key_schema(text: str, message: str) -> None:
    with pytest.raises(ValidationException) as caught:
        parse_key_condition(text, Substitutions(None, VALUES), hash_key="pk", range_key="sk")
    assert caught.value.message == message


def test_two_conditions_on_a_table_without_sort_key() -> None:
    with pytest.raises(ValidationException) as caught:
        parse_key_condition("pk = :p AND x = :a", Substitutions(None, VALUES), hash_key="pk")
    assert caught.value.message == "Query key condition not supported"


ITEM: dict[str, Any] = {
    "pk": {"S": "k"},
    "a": {"N": "1"},
    "m": {"M": {"x": {"S": "X"}, "y": {"M": {"z": {"N": "26"}, "w": {"N": "0"}}}}},
    "l": {"L": [{"S": "l0"}, {"M": {"q": {"S": "Q"}, "r": {"S": "R"}}}, {"S": "l2"}, {"S": "l3"}]},
}

PROJECTIONS: list[tuple[str, dict[str, Any]]] = [
    ("pk", {"pk": {"S": "k"}}),
    ("pk, a", {"pk": {"S": "k"}, "a": {"N": "1"}}),
    ("absent", {}),
    ("pk, absent, m.nope, l[9]", {"pk": {"S": "k"}}),
    ("m.x", {"m": {"M": {"x": {"S": "X"}}}}),
    ("m.y.z", {"m": {"M": {"y": {"M": {"z": {"N": "26"}}}}}}),
    ("m.x, m.y.w", {"m": {"M": {"x": {"S": "X"}, "y": {"M": {"w": {"N": "0"}}}}}}),
    ("l[2]", {"l": {"L": [{"S": "l2"}]}}),
    ("l[3], l[0]", {"l": {"L": [{"S": "l0"}, {"S": "l3"}]}}),  # in the list's order
    ("l[1].r", {"l": {"L": [{"M": {"r": {"S": "R"}}}]}}),
    ("#m.#x", {"m": {"M": {"x": {"S": "X"}}}}),
    ("a.b", {}),  # a number has no members
]


@pytest.mark.parametrize(("text", "expected"), PROJECTIONS)
def test_projection(text: str, expected: dict[str, Any]) -> None:
    names = {k: k[1:] for k in ("#m", "#x") if k in text}
    subs = Substitutions(names or None, None)
    paths = parse_projection(text, subs)
    subs.check_all_used()
    assert project(paths, ITEM) == expected


def test_projection_paths_parsed() -> None:
    assert parse_projection("a.b[2].c, #n", Substitutions({"#n": "x.y"}, None)) == (
        ("a", "b", 2, "c"),
        ("x.y",),
    )
