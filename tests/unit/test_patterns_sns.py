"""SNS filter policies through events/patterns.py: attribute-based and payload-based, and SNS's limits."""

from __future__ import annotations

from typing import Any

import pytest

from stratus.events.patterns import compile_pattern, message_attributes_event

ATTRS = {
    "store": {"DataType": "String", "StringValue": "example_corp"},
    "price_usd": {"DataType": "Number", "StringValue": "210.75"},
    "quantity": {"DataType": "Number", "StringValue": "3"},
    "customer_interests": {"DataType": "String.Array", "StringValue": '["soccer", "rugby", 7]'},
    "blob": {"DataType": "Binary", "BinaryValue": b"\x00"},
}


def test_message_attributes_become_typed_values() -> None:
    assert message_attributes_event(ATTRS) == {
        "store": "example_corp",
        "price_usd": 210.75,
        "quantity": 3,
        "customer_interests": ["soccer", "rugby", 7],
    }
    # the event's own shape ({"Type", "Value"}) reads the same
    assert message_attributes_event({"k": {"Type": "Number", "Value": "1.5"}}) == {"k": 1.5}


@pytest.mark.parametrize(
    ("policy", "expected"),
    [
        ({"store": ["example_corp"]}, True),
        ({"store": ["other"]}, False),
        ({"price_usd": [{"numeric": [">=", 100]}]}, True),
        ({"price_usd": [{"numeric": ["<", 100]}]}, False),
        ({"quantity": [3]}, True),
        ({"customer_interests": ["rugby"]}, True),
        ({"customer_interests": [7]}, True),
        ({"customer_interests": ["tennis"]}, False),
        ({"store": ["example_corp"], "customer_interests": ["tennis"]}, False),
        ({"blob": [{"exists": True}]}, False),
        ({"absent": [{"exists": False}]}, True),
        ({"store": [{"anything-but": ["a", "b"]}]}, True),
        ({"$or": [{"store": ["x"]}, {"quantity": [3]}]}, True),
    ],
)
def test_attribute_policies(policy: dict[str, Any], expected: bool) -> None:
    event = message_attributes_event(ATTRS)
    assert compile_pattern(policy, dialect="sns").matches(event) is expected


def test_attribute_policies_are_flat() -> None:
    with pytest.raises(ValueError, match="nested"):
        compile_pattern({"a": {"b": ["c"]}}, dialect="sns")


def test_payload_policies_nest() -> None:
    body = {"order": {"status": "paid", "lines": [{"sku": "A1"}, {"sku": "B2"}]}}
    policy = compile_pattern(
        {"order": {"status": ["paid"], "lines": {"sku": [{"prefix": "B"}]}}}, dialect="sns-body"
    )
    assert policy.matches(body)
    assert not policy.matches({"order": {"status": "open"}})


def test_five_keys_at_most() -> None:
    five = {f"k{i}": ["v"] for i in range(5)}
    compile_pattern(five, dialect="sns")
    with pytest.raises(ValueError, match="more than 5 keys"):
        compile_pattern({**five, "k5": ["v"]}, dialect="sns")
    # EventBridge has no such limit
    compile_pattern({**five, "k5": ["v"]})


def test_nested_keys_count_as_leaves() -> None:
    with pytest.raises(ValueError, match="more than 5 keys"):
        compile_pattern({"a": {f"k{i}": ["v"] for i in range(6)}}, dialect="sns-body")


def test_150_combinations_at_most() -> None:
    # 10 x 15 = 150 is allowed; 10 x 16 is not
    ok = {"a": [str(i) for i in range(10)], "b": [str(i) for i in range(15)]}
    compile_pattern(ok, dialect="sns")
    with pytest.raises(ValueError, match="too complex"):
        compile_pattern({"a": ok["a"], "b": [str(i) for i in range(16)]}, dialect="sns")


def test_or_branches_add_combinations() -> None:
    branch = {"a": [str(i) for i in range(80)]}
    with pytest.raises(ValueError, match="too complex"):
        compile_pattern({"$or": [branch, {"b": [str(i) for i in range(80)]}]}, dialect="sns")


def test_numbers_within_a_billion() -> None:
    compile_pattern({"n": [{"numeric": ["<", 1e9]}]}, dialect="sns")
    with pytest.raises(ValueError, match=r"1\.0E9"):
        compile_pattern({"n": [{"numeric": ["<", 1e10]}]}, dialect="sns")
