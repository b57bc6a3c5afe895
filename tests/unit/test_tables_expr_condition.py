"""Condition and filter expressions evaluated against items, with DynamoDB's semantics: each row
is (expression, values, expected) against one item."""

from __future__ import annotations

from typing import Any

import pytest

from stratus.tables.expressions import Substitutions, evaluate, parse_condition

ITEM: dict[str, Any] = {
    "pk": {"S": "user#1"},
    "n": {"N": "10"},
    "big": {"N": "12345678901234567890123456789012345678"},
    "f": {"N": "-1.5"},
    "s": {"S": "hello world"},
    "u": {"S": "é𝄞"},  # 2 characters, 3 UTF-16 code units, 6 UTF-8 bytes
    "b": {"B": b"\x01\x02\x03"},
    "ss": {"SS": ["a", "b", "c"]},
    "ns": {"NS": ["1", "2.5"]},
    "bs": {"BS": [b"\x00", b"\x01"]},
    "l": {"L": [{"S": "x"}, {"N": "2"}, {"M": {"c": {"S": "deep"}}}]},
    "m": {"M": {"a": {"M": {"b": {"L": [{"N": "0"}, {"N": "1"}, {"M": {"c": {"S": "found"}}}]}}}}},
    "t": {"BOOL": True},
    "z": {"NULL": True},
    "blank": {"S": ""},
}

S = lambda v: {"S": v}  # noqa: E731
N = lambda v: {"N": v}  # noqa: E731

CASES: list[tuple[str, dict[str, Any], bool]] = [
    # = and <> across types: a type mismatch is false, never an error
    ("n = :v", {":v": N("10")}, True),
    ("n = :v", {":v": N("10.000")}, True),
    ("n = :v", {":v": S("10")}, False),
    ("n <> :v", {":v": S("10")}, True),
    ("n <> :v", {":v": N("10")}, False),
    ("absent = :v", {":v": N("1")}, False),
    ("absent <> :v", {":v": N("1")}, True),
    ("ss = :v", {":v": {"SS": ["c", "b", "a"]}}, True),  # sets compare as sets
    ("ns = :v", {":v": {"NS": ["2.50", "1"]}}, True),
    ("l = :v", {":v": {"L": [S("x"), N("2"), {"M": {"c": S("deep")}}]}}, True),
    ("l = :v", {":v": {"L": [N("2"), S("x"), {"M": {"c": S("deep")}}]}}, False),  # lists in order
    ("t = :v", {":v": {"BOOL": True}}, True),
    ("z = :v", {":v": {"NULL": True}}, True),
    ("b = :v", {":v": {"B": b"\x01\x02\x03"}}, True),
    # ordering: numbers by value, strings by UTF-8 bytes, binaries by bytes
    ("n < :v", {":v": N("9")}, False),
    ("n > :v", {":v": N("9")}, True),
    ("n >= :v", {":v": N("10")}, True),
    ("n <= :v", {":v": N("1e1")}, True),
    ("f < :v", {":v": N("-1.4")}, True),
    ("big > :v", {":v": N("12345678901234567890123456789012345677")}, True),
    ("big < :v", {":v": N("12345678901234567890123456789012345679")}, True),
    ("s > :v", {":v": S("hello")}, True),
    ("s < :v", {":v": S("hellp")}, True),
    ("u > :v", {":v": S("z")}, True),  # é (0xC3 0xA9) sorts after z by bytes
    ("u > :v", {":v": S("é\uffff")}, True),  # UTF-8 order, not UTF-16 order, past the BMP
    ("b > :v", {":v": {"B": b"\x01\x02"}}, True),
    ("b < :v", {":v": {"B": b"\x02"}}, True),
    ("n < :v", {":v": S("zzz")}, False),  # N against S: false
    ("absent < :v", {":v": N("1")}, False),
    # BETWEEN is inclusive at both ends
    ("n BETWEEN :a AND :b", {":a": N("10"), ":b": N("20")}, True),
    ("n BETWEEN :a AND :b", {":a": N("1"), ":b": N("10")}, True),
    ("n BETWEEN :a AND :b", {":a": N("11"), ":b": N("20")}, False),
    ("s BETWEEN :a AND :b", {":a": S("h"), ":b": S("i")}, True),
    ("n BETWEEN :a AND :b", {":a": S("a"), ":b": S("z")}, False),
    ("n between :a and :b", {":a": N("10"), ":b": N("10")}, True),  # keywords in any case
    # IN
    ("n IN (:a, :b)", {":a": N("1"), ":b": N("10.0")}, True),
    ("n IN (:a)", {":a": S("10")}, False),
    ("s IN (:a, :b, :c)", {":a": S("x"), ":b": S("y"), ":c": S("hello world")}, True),
    ("absent IN (:a)", {":a": N("1")}, False),
    # functions
    ("attribute_exists(n)", {}, True),
    ("attribute_exists(absent)", {}, False),
    ("attribute_not_exists(absent)", {}, True),
    ("attribute_not_exists(n)", {}, False),
    ("attribute_exists(m.a.b[2].c)", {}, True),
    ("attribute_exists(m.a.b[3])", {}, False),
    ("attribute_exists(m.a.x)", {}, False),
    ("attribute_exists(n.x)", {}, False),  # a number has no members
    ("attribute_exists(l[0].x)", {}, False),
    ("attribute_type(n, :t)", {":t": S("N")}, True),
    ("attribute_type(n, :t)", {":t": S("S")}, False),
    ("attribute_type(ss, :t)", {":t": S("SS")}, True),
    ("attribute_type(z, :t)", {":t": S("NULL")}, True),
    ("attribute_type(absent, :t)", {":t": S("NULL")}, False),
    ("begins_with(s, :p)", {":p": S("hell")}, True),
    ("begins_with(s, :p)", {":p": S("world")}, False),
    ("begins_with(s, :p)", {":p": S("")}, True),
    ("begins_with(b, :p)", {":p": {"B": b"\x01\x02"}}, True),
    ("begins_with(b, :p)", {":p": {"B": b"\x02"}}, False),
    ("begins_with(b, :p)", {":p": S("a")}, False),
    ("begins_with(n, :p)", {":p": S("1")}, False),  # a number is not a string
    ("contains(s, :v)", {":v": S("lo wo")}, True),
    ("contains(s, :v)", {":v": S("xyz")}, False),
    ("contains(ss, :v)", {":v": S("b")}, True),
    ("contains(ss, :v)", {":v": S("bc")}, False),  # element, not substring
    ("contains(ns, :v)", {":v": N("2.50")}, True),
    ("contains(ns, :v)", {":v": S("1")}, False),
    ("contains(bs, :v)", {":v": {"B": b"\x01"}}, True),
    ("contains(l, :v)", {":v": N("2")}, True),
    ("contains(l, :v)", {":v": {"M": {"c": S("deep")}}}, True),
    ("contains(l, :v)", {":v": S("2")}, False),
    ("contains(n, :v)", {":v": N("1")}, False),
    ("contains(absent, :v)", {":v": S("a")}, False),
    # size(): S in UTF-16 code units, B in bytes, sets/lists/maps in elements; none for N
    ("size(s) = :v", {":v": N("11")}, True),
    ("size(u) = :v", {":v": N("3")}, True),
    ("size(blank) = :v", {":v": N("0")}, True),
    ("size(b) = :v", {":v": N("3")}, True),
    ("size(ss) = :v", {":v": N("3")}, True),
    ("size(ns) = :v", {":v": N("2")}, True),
    ("size(bs) = :v", {":v": N("2")}, True),
    ("size(l) = :v", {":v": N("3")}, True),
    ("size(m) = :v", {":v": N("1")}, True),
    ("size(m.a.b) > :v", {":v": N("2")}, True),
    ("size(n) = :v", {":v": N("2")}, False),
    ("size(n) <> :v", {":v": N("2")}, True),
    ("size(t) >= :v", {":v": N("0")}, False),
    ("size(absent) >= :v", {":v": N("0")}, False),
    ("size(s) > size(l)", {}, True),
    # paths: nested names, list indexes, placeholders
    ("m.a.b[2].c = :v", {":v": S("found")}, True),
    ("#m.#a.b[1] = :v", {":v": N("1")}, True),
    ("l[2].c = :v", {":v": S("deep")}, True),
    ("l[9] = :v", {":v": S("x")}, False),
    ("#dotted = :v", {":v": S("hello world")}, True),  # "#n" may stand for any name
    ("n = n", {}, True),
    ("n < big", {}, True),
    # AND, OR, NOT and parentheses, with NOT > AND > OR precedence
    ("n = :a AND s = :b", {":a": N("10"), ":b": S("hello world")}, True),
    ("n = :a AND s = :b", {":a": N("10"), ":b": S("x")}, False),
    ("n = :a OR s = :b", {":a": N("11"), ":b": S("hello world")}, True),
    ("NOT n = :a", {":a": N("11")}, True),
    ("NOT attribute_exists(n)", {}, False),
    ("not not attribute_exists(n)", {}, True),
    ("n = :a OR n = :b AND s = :c", {":a": N("10"), ":b": N("0"), ":c": S("x")}, True),
    ("(n = :a OR n = :b) AND s = :c", {":a": N("10"), ":b": N("0"), ":c": S("x")}, False),
    ("NOT (n = :a OR n = :b)", {":a": N("1"), ":b": N("2")}, True),
    ("NOT n = :a OR n = :b", {":a": N("10"), ":b": N("10")}, True),
    ("n=:a AND(s=:b)", {":a": N("10"), ":b": S("hello world")}, True),  # spacing is free
]


@pytest.mark.parametrize(("text", "values", "expected"), CASES)
def test_condition_evaluates_as_dynamodb(text: str, values: dict[str, Any], expected: bool) -> None:
    names = {"#m": "m", "#a": "a", "#dotted": "s"}
    used = {k: v for k, v in names.items() if k in text}
    subs = Substitutions(used or None, values or None)
    condition = parse_condition(text, subs)
    subs.check_all_used()
    assert evaluate(condition, ITEM) is expected


def test_placeholder_name_with_a_dot_is_one_attribute() -> None:
    """`#n` standing for "a.b" names the top-level attribute "a.b", not a nested path."""
    subs = Substitutions({"#n": "a.b"}, {":v": {"N": "1"}})
    condition = parse_condition("#n = :v", subs)
    assert evaluate(condition, {"a.b": {"N": "1"}}) is True
    assert evaluate(condition, {"a": {"M": {"b": {"N": "1"}}}}) is False


def test_absent_item_is_empty() -> None:
    subs = Substitutions(None, None)
    assert evaluate(parse_condition("attribute_not_exists(pk)", subs), None) is True
    assert evaluate(parse_condition("attribute_exists(pk)", subs), None) is False


def test_in_takes_one_hundred_values() -> None:
    values = {f":v{i}": {"N": str(i)} for i in range(100)}
    text = "n IN (" + ", ".join(values) + ")"
    subs = Substitutions(None, values)
    assert evaluate(parse_condition(text, subs), ITEM) is True


def test_reserved_word_through_placeholder_is_accepted() -> None:
    subs = Substitutions({"#name": "name", "#size": "size"}, {":v": {"S": "a"}})
    condition = parse_condition("#name = :v AND attribute_exists(#size)", subs)
    assert evaluate(condition, {"name": {"S": "a"}, "size": {"N": "1"}}) is True


BOTO3_CONDITIONS = [
    (lambda A: ~(A("n").eq(10) & A("s").eq("hello world")), False),
    (lambda A: (A("n").eq(1) | A("n").gt(5)) & A("s").begins_with("hell"), True),
    (lambda A: ~~A("n").eq(10), True),
    (lambda A: ~(~(A("n").eq(10) & A("blank").eq(""))), True),
    (lambda A: A("m.a.b[2].c").eq("found") & A("ss").contains("a") & A("n").is_in([1, 10]), True),
    (lambda A: A("n").between(1, 9) | A("absent").not_exists() & A("u").size().eq(3), True),
    (lambda A: A("name").exists() | A("status").attribute_type("S"), False),  # reserved names: boto3 uses #n
]


@pytest.mark.parametrize(("build", "expected"), BOTO3_CONDITIONS)
def test_boto3_condition_builder_output_parses(build: Any, expected: bool) -> None:
    """What boto3's resource API sends (its ConditionExpressionBuilder, with its parentheses and
    placeholders) parses and evaluates."""
    from boto3.dynamodb.conditions import Attr, ConditionExpressionBuilder
    from boto3.dynamodb.types import TypeSerializer

    built = ConditionExpressionBuilder().build_expression(build(Attr))
    serialize = TypeSerializer().serialize
    values = {k: serialize(v) for k, v in built.attribute_value_placeholders.items()}
    subs = Substitutions(built.attribute_name_placeholders or None, values or None)
    condition = parse_condition(built.condition_expression, subs)
    subs.check_all_used()
    assert evaluate(condition, ITEM) is expected
