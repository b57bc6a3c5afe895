"""Model validation: each rule, in AWS's wording, on a small hand-made model (pure)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from botocore.model import Shape, ShapeResolver

from stratus.wire.validate import message, validate

SHAPES = ShapeResolver(
    {
        "Input": {
            "type": "structure",
            "required": ["GroupName"],
            "members": {
                "GroupName": {"shape": "Name"},
                "Kind": {"shape": "Kind"},
                "Limit": {"shape": "Limit"},
                "Ratio": {"shape": "Ratio"},
                "Enabled": {"shape": "Flag"},
                "When": {"shape": "When"},
                "Data": {"shape": "Data"},
                "Names": {"shape": "Names"},
                "Tags": {"shape": "Tags"},
                "Filters": {"shape": "Filters"},
                "Doc": {"shape": "Doc"},
                "Java": {"shape": "JavaOnly"},
            },
        },
        "Name": {"type": "string", "min": 1, "max": 8, "pattern": "[a-z]+"},
        "Kind": {"type": "string", "enum": ["a", "b"]},
        "Limit": {"type": "integer", "min": 1, "max": 50},
        "Ratio": {"type": "double", "min": 0.5, "max": 1.5},
        "Flag": {"type": "boolean"},
        "When": {"type": "timestamp"},
        "Data": {"type": "blob", "max": 2},
        "Names": {"type": "list", "member": {"shape": "Name"}, "max": 2},
        "Tags": {"type": "map", "key": {"shape": "Name"}, "value": {"shape": "Kind"}, "min": 1},
        "Filters": {"type": "list", "member": {"shape": "Filter"}},
        "Filter": {
            "type": "structure",
            "required": ["Key"],
            "members": {"Key": {"shape": "Name"}, "Values": {"shape": "Names"}},
        },
        "Doc": {"type": "structure", "members": {}, "document": True},
        "JavaOnly": {"type": "string", "pattern": "\\p{L}+"},
    }
)
INPUT: Shape = SHAPES.get_shape_by_name("Input")


def problems(**params: Any) -> list[str]:
    return validate(INPUT, {"GroupName": "ok", **params})


def constraint(path: str, value: str, rule: str) -> str:
    return f"Value {value} at '{path}' failed to satisfy constraint: {rule}"


def test_valid_input_has_no_problems() -> None:
    assert (
        problems(
            Kind="b",
            Limit=50,
            Ratio=1.0,
            Enabled=False,
            When=dt.datetime(2024, 1, 1, tzinfo=dt.UTC),
            Data=b"\x00\xff",
            Names=["x", "y"],
            Tags={"k": "a"},
            Filters=[{"Key": "k", "Values": []}],
            Doc={"anything": [1, None]},
            Java="not checked: re cannot read it",
        )
        == []
    )
    assert validate(None, {}) == []


def test_required_member_must_not_be_null() -> None:
    assert validate(INPUT, {}) == [constraint("groupName", "null", "Member must not be null")]
    assert validate(INPUT, {"GroupName": None}) == [
        constraint("groupName", "null", "Member must not be null")
    ]


def test_string_length_and_pattern() -> None:
    assert problems(GroupName="") == [
        constraint("groupName", "''", "Member must have length greater than or equal to 1"),
        constraint("groupName", "''", "Member must satisfy regular expression pattern: [a-z]+"),
    ]
    assert problems(GroupName="abcdefghi") == [
        constraint("groupName", "'abcdefghi'", "Member must have length less than or equal to 8")
    ]
    assert problems(GroupName="ABC") == [
        constraint("groupName", "'ABC'", "Member must satisfy regular expression pattern: [a-z]+")
    ]


def test_enum() -> None:
    assert problems(Kind="c") == [constraint("kind", "'c'", "Member must satisfy enum value set: [a, b]")]


def test_number_ranges() -> None:
    assert problems(Limit=0) == [
        constraint("limit", "'0'", "Member must have value greater than or equal to 1")
    ]
    assert problems(Limit=51) == [
        constraint("limit", "'51'", "Member must have value less than or equal to 50")
    ]
    assert problems(Ratio=2.0) == [
        constraint("ratio", "'2.0'", "Member must have value less than or equal to 1.5")
    ]
    assert problems(Ratio=0.25) == [
        constraint("ratio", "'0.25'", "Member must have value greater than or equal to 0.5")
    ]


def test_collection_lengths() -> None:
    assert problems(Names=["a", "b", "c"]) == [
        constraint("names", "'[a, b, c]'", "Member must have length less than or equal to 2")
    ]
    assert problems(Tags={}) == [
        constraint("tags", "'{}'", "Member must have length greater than or equal to 1")
    ]
    assert problems(Data=b"abc") == [
        constraint(
            "data",
            "'java.nio.HeapByteBuffer[pos=0 lim=3 cap=3]'",
            "Member must have length less than or equal to 2",
        )
    ]


def test_nested_paths() -> None:
    assert problems(Names=["a", "B"], Filters=[{"Key": "k"}, {"Values": ["x", ""]}]) == [
        constraint("names.2.member", "'B'", "Member must satisfy regular expression pattern: [a-z]+"),
        constraint("filters.2.member.key", "null", "Member must not be null"),
        constraint(
            "filters.2.member.values.2.member", "''", "Member must have length greater than or equal to 1"
        ),
        constraint(
            "filters.2.member.values.2.member", "''", "Member must satisfy regular expression pattern: [a-z]+"
        ),
    ]


def test_map_keys_and_values() -> None:
    assert problems(Tags={"K": "z"}) == [
        "Value at 'tags' failed to satisfy constraint: Map keys must satisfy constraint: "
        "[Member must satisfy regular expression pattern: [a-z]+]",
        "Value at 'tags' failed to satisfy constraint: Map value must satisfy constraint: "
        "[Member must satisfy enum value set: [a, b]]",
    ]


@pytest.mark.parametrize(
    ("member", "value", "rule"),
    [
        ("GroupName", 5, "Member must be a string"),
        ("Limit", "5", "Member must be an integer"),
        ("Limit", True, "Member must be an integer"),
        ("Limit", 1.5, "Member must be an integer"),
        ("Ratio", "x", "Member must be a number"),
        ("Enabled", "true", "Member must be a boolean"),
        ("When", "2024-01-01", "Member must be a timestamp"),
        ("Data", 5, "Member must be a blob"),
        ("Names", "a", "Member must be a list"),
        ("Tags", ["a"], "Member must be a map"),
        ("Filters", [5], "Member must be a structure"),
    ],
)
def test_types(member: str, value: Any, rule: str) -> None:
    found = problems(**{member: value})
    assert len(found) == 1 and found[0].endswith(rule)


def test_numbers_and_timestamps_accept_their_python_forms() -> None:
    assert problems(Ratio=1, When=1700000000, Limit=7) == []


def test_unknown_members_are_ignored() -> None:
    assert problems(Unknown="x") == []


def test_message_counts_and_joins() -> None:
    one = problems(Kind="c")
    assert message(one) == "1 validation error detected: " + one[0]
    two = validate(INPUT, {"Kind": "c"})
    assert message(two) == f"2 validation errors detected: {two[0]}; {two[1]}"
