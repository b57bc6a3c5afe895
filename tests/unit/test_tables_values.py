"""DynamoDB's values: validation with its messages, canonical numbers, ordering, sizes and the
order-preserving key encoding."""

from __future__ import annotations

import random
from decimal import Decimal

import pytest

from stratus.tables.errors import ValidationException
from stratus.tables.values import (
    check_item,
    check_value,
    compare,
    dumps,
    equal,
    item_size,
    loads,
    normalize_number,
    prefix_end,
    sort_key_bytes,
)


@pytest.mark.parametrize(
    ("given", "canonical"),
    [("1.50", "1.5"), ("1E2", "100"), ("-0.000", "0"), ("0012", "12"), ("-1.2e-3", "-0.0012"), ("+7", "7")],
)
def test_numbers_take_dynamodbs_canonical_text(given: str, canonical: str) -> None:
    assert normalize_number(given) == canonical


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ("1" * 39, "more than 38 significant digits"),
        ("1E126", "Number overflow"),
        ("1E-131", "Number underflow"),
        ("NaN", "cannot be converted into a number"),
        ("", "cannot be converted into a number"),
        ("1_000", "cannot be converted into a number"),
    ],
)
def test_numbers_out_of_range_or_precision_are_refused(given: str, message: str) -> None:
    with pytest.raises(ValidationException, match=message):
        normalize_number(given)


def test_extreme_numbers_in_range_are_kept() -> None:
    assert normalize_number("9.9999999999999999999999999999999999999E+125").startswith("99999")
    assert normalize_number("1E-130") == "0." + "0" * 129 + "1"
    assert normalize_number("1" * 38 + "000") == "1" * 38 + "000"  # trailing zeros are not significant


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({}, "Supplied AttributeValue is empty"),
        ({"S": "a", "N": "1"}, "more than one datatypes"),
        ({"SS": []}, "An string set  may not be empty"),
        ({"NS": ["1", "1.0"]}, "contains duplicates"),
        ({"BS": [b"a", b"a"]}, "contains duplicates"),
        ({"NULL": False}, "Null attribute value types must have the value of true"),
    ],
)
def test_bad_values_are_refused_in_dynamodbs_words(value: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationException, match=message):
        check_value(value)


def test_nesting_is_limited_to_32_levels() -> None:
    value: dict[str, object] = {"S": "x"}
    for _ in range(31):
        value = {"L": [value]}
    check_value(value)
    with pytest.raises(ValidationException, match="Nesting Levels"):
        check_value({"M": {"a": value}})


def test_checked_items_hold_canonical_numbers_everywhere() -> None:
    item = check_item({"a": {"M": {"b": {"L": [{"N": "1.0"}]}}}, "s": {"NS": ["2.50"]}, "t": {"S": ""}})
    assert item == {"a": {"M": {"b": {"L": [{"N": "1"}]}}}, "s": {"NS": ["2.5"]}, "t": {"S": ""}}


def test_sizes_follow_dynamodbs_rules() -> None:
    assert item_size({"ab": {"S": "héllo"}}) == 2 + 6
    assert item_size({"n": {"N": "123"}}) == 1 + 3  # two digits a byte, plus one
    assert item_size({"b": {"BOOL": True}, "z": {"NULL": True}}) == 4
    assert item_size({"l": {"L": [{"S": "ab"}, {"N": "1"}]}}) == 1 + 3 + (1 + 2) + (1 + 2)
    assert item_size({"m": {"M": {"k": {"S": "v"}}}}) == 1 + 3 + 1 + 1 + 1


def test_compare_and_equal_as_the_operators_see_them() -> None:
    assert compare({"N": "10"}, {"N": "9"}) == 1
    assert compare({"S": "a"}, {"S": "B"}) == 1  # by UTF-8 bytes, not case-folded
    assert compare({"B": b"\x01"}, {"B": b"\x01\x00"}) == -1
    assert compare({"N": "1"}, {"S": "1"}) is None
    assert compare({"BOOL": True}, {"BOOL": False}) is None
    assert equal({"NS": ["1", "2"]}, {"NS": ["2", "1.0"]})
    assert equal({"M": {"a": {"N": "1.0"}}}, {"M": {"a": {"N": "1"}}})
    assert not equal({"L": [{"S": "a"}, {"S": "b"}]}, {"L": [{"S": "b"}, {"S": "a"}]})


def test_key_bytes_sort_numbers_as_dynamodb_does() -> None:
    rng = random.Random(18)
    texts = ["0", "-0.5", "1E-130", "-1E-130", "9.9E125", "-9.9E125", "10", "9", "-10", "-9", "0.123", "0.12"]
    texts += [f"{rng.uniform(-1e6, 1e6):.{rng.randint(0, 8)}f}" for _ in range(300)]
    texts += [f"{rng.randint(-10, 10)}E{rng.randint(-120, 120)}" for _ in range(100)]
    by_bytes = sorted(texts, key=lambda t: sort_key_bytes({"N": t}))
    by_value = sorted(texts, key=Decimal)
    assert [Decimal(t) for t in by_bytes] == [Decimal(t) for t in by_value]


def test_key_bytes_sort_strings_and_binaries_bytewise() -> None:
    words = ["b", "a", "ab", "", "é", "z", "A"]
    assert sorted(words, key=lambda w: sort_key_bytes({"S": w})) == sorted(words, key=str.encode)
    assert sort_key_bytes({"B": b"\x00\xff"}) == b"\x00\xff"


def test_prefix_ranges() -> None:
    assert prefix_end(b"ab") == b"ac"
    assert prefix_end(b"a\xff") == b"b"
    assert prefix_end(b"\xff\xff") is None


def test_stored_form_round_trips_blobs_as_base64() -> None:
    item = {"b": {"B": b"\x00"}, "n": {"M": {"bs": {"BS": [b"x"]}}}, "s": {"S": "B"}}
    text = dumps(item)
    assert b'"AA=="' in text
    assert loads(text) == item
    assert loads(dumps({"s": {"S": "plain"}})) == {"s": {"S": "plain"}}
