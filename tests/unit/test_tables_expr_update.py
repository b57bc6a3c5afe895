"""Update expressions applied to items: each row is (expression, values, item before, item after),
then the errors DynamoDB gives when an update cannot apply to the item it meets."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from stratus.tables.errors import ValidationException
from stratus.tables.expressions import Substitutions, apply_update, parse_update

S = lambda v: {"S": v}  # noqa: E731
N = lambda v: {"N": v}  # noqa: E731
L = lambda *v: {"L": list(v)}  # noqa: E731
M = lambda **v: {"M": v}  # noqa: E731

CASES: list[tuple[str, dict[str, Any], dict[str, Any], dict[str, Any]]] = [
    # SET
    ("SET a = :v", {":v": S("x")}, {}, {"a": S("x")}),
    ("SET a = :v", {":v": S("x")}, {"a": N("1")}, {"a": S("x")}),
    ("SET a = :v, b = :w", {":v": S("x"), ":w": N("2")}, {}, {"a": S("x"), "b": N("2")}),
    ("set a = :v", {":v": S("x")}, {}, {"a": S("x")}),  # clause keywords in any case
    ("SET a = b", {}, {"b": N("3")}, {"a": N("3"), "b": N("3")}),
    ("SET a = b, b = a", {}, {"a": N("1"), "b": N("2")}, {"a": N("2"), "b": N("1")}),  # reads the old item
    # arithmetic, exact decimals with 38 digits
    ("SET n = n + :d", {":d": N("1")}, {"n": N("41")}, {"n": N("42")}),
    ("SET n = n - :d", {":d": N("0.1")}, {"n": N("0.3")}, {"n": N("0.2")}),
    ("SET n = :a + :b", {":a": N("0.1"), ":b": N("0.2")}, {}, {"n": N("0.3")}),
    (
        "SET n = n + :d",
        {":d": N("1")},
        {"n": N("99999999999999999999999999999999999998")},
        {"n": N("99999999999999999999999999999999999999")},
    ),
    (
        "SET n = n + :d",
        {":d": N("0.0000000000000000000000000000000000001")},
        {"n": N("1")},
        {"n": N("1.0000000000000000000000000000000000001")},
    ),
    ("SET n = n - :d", {":d": N("5")}, {"n": N("3")}, {"n": N("-2")}),
    ("SET n = n + :d", {":d": N("-3")}, {"n": N("3")}, {"n": N("0")}),
    # the sum needs 39 digits to write but has one significant digit: stored as 1E+38
    (
        "SET n = n + :d",
        {":d": N("1")},
        {"n": N("99999999999999999999999999999999999999")},
        {"n": N("100000000000000000000000000000000000000")},
    ),
    ("SET n = :d + n", {":d": N("1E2")}, {"n": N("1")}, {"n": N("101")}),
    # if_not_exists and list_append
    ("SET a = if_not_exists(a, :v)", {":v": N("0")}, {}, {"a": N("0")}),
    ("SET a = if_not_exists(a, :v)", {":v": N("0")}, {"a": N("7")}, {"a": N("7")}),
    ("SET c = if_not_exists(c, :z) + :one", {":z": N("0"), ":one": N("1")}, {}, {"c": N("1")}),
    ("SET c = if_not_exists(c, :z) + :one", {":z": N("0"), ":one": N("1")}, {"c": N("5")}, {"c": N("6")}),
    (
        "SET l = list_append(l, :v)",
        {":v": L(N("3"))},
        {"l": L(N("1"), N("2"))},
        {"l": L(N("1"), N("2"), N("3"))},
    ),
    ("SET l = list_append(:v, l)", {":v": L(N("0"))}, {"l": L(N("1"))}, {"l": L(N("0"), N("1"))}),
    (
        "SET l = list_append(if_not_exists(l, :e), :v)",
        {":e": L(), ":v": L(S("a"))},
        {},
        {"l": L(S("a"))},
    ),
    # nested paths and list indexes
    ("SET m.a = :v", {":v": N("1")}, {"m": M()}, {"m": M(a=N("1"))}),
    ("SET m.a.b = :v", {":v": N("1")}, {"m": M(a=M(b=N("0")))}, {"m": M(a=M(b=N("1")))}),
    ("SET #m.#a = :v", {":v": N("1")}, {"m": M()}, {"m": M(a=N("1"))}),
    ("SET l[0] = :v", {":v": S("z")}, {"l": L(S("a"), S("b"))}, {"l": L(S("z"), S("b"))}),
    ("SET l[7] = :v", {":v": S("z")}, {"l": L(S("a"))}, {"l": L(S("a"), S("z"))}),  # past the end appends
    ("SET l[1].x = :v", {":v": S("z")}, {"l": L(S("a"), M())}, {"l": L(S("a"), M(x=S("z")))}),
    # REMOVE
    ("REMOVE a", {}, {"a": N("1"), "b": N("2")}, {"b": N("2")}),
    ("REMOVE a, b", {}, {"a": N("1"), "b": N("2")}, {}),
    ("REMOVE absent", {}, {"a": N("1")}, {"a": N("1")}),
    ("REMOVE m.a", {}, {"m": M(a=N("1"), b=N("2"))}, {"m": M(b=N("2"))}),
    ("REMOVE m.x", {}, {"m": M()}, {"m": M()}),  # a missing member of a map that is there
    ("REMOVE l[1]", {}, {"l": L(S("a"), S("b"), S("c"))}, {"l": L(S("a"), S("c"))}),
    # indexes name the elements before the update
    ("REMOVE l[0], l[2]", {}, {"l": L(S("a"), S("b"), S("c"))}, {"l": L(S("b"))}),
    ("REMOVE l[9]", {}, {"l": L(S("a"))}, {"l": L(S("a"))}),
    # ADD
    ("ADD n :d", {":d": N("5")}, {"n": N("1")}, {"n": N("6")}),
    ("ADD n :d", {":d": N("5")}, {}, {"n": N("5")}),  # absent: created
    ("ADD n :d", {":d": N("-1.5")}, {"n": N("1")}, {"n": N("-0.5")}),
    ("ADD s :v", {":v": {"SS": ["b", "c"]}}, {"s": {"SS": ["a", "b"]}}, {"s": {"SS": ["a", "b", "c"]}}),
    ("ADD s :v", {":v": {"SS": ["b"]}}, {}, {"s": {"SS": ["b"]}}),
    ("ADD s :v", {":v": {"NS": ["1.0", "3"]}}, {"s": {"NS": ["1", "2"]}}, {"s": {"NS": ["1", "2", "3"]}}),
    ("ADD s :v", {":v": {"BS": [b"\x02"]}}, {"s": {"BS": [b"\x01"]}}, {"s": {"BS": [b"\x01", b"\x02"]}}),
    ("ADD m.n :d", {":d": N("1")}, {"m": M()}, {"m": M(n=N("1"))}),
    # DELETE
    ("DELETE s :v", {":v": {"SS": ["a"]}}, {"s": {"SS": ["a", "b"]}}, {"s": {"SS": ["b"]}}),
    ("DELETE s :v", {":v": {"SS": ["a", "b"]}}, {"s": {"SS": ["a", "b"]}, "k": N("1")}, {"k": N("1")}),
    ("DELETE s :v", {":v": {"NS": ["2.0"]}}, {"s": {"NS": ["1", "2"]}}, {"s": {"NS": ["1"]}}),
    ("DELETE s :v", {":v": {"SS": ["z"]}}, {"s": {"SS": ["a"]}}, {"s": {"SS": ["a"]}}),
    ("DELETE s :v", {":v": {"SS": ["z"]}}, {}, {}),
    # clauses together, in any order
    (
        "REMOVE r SET a = :v ADD n :d DELETE s :e",
        {":v": S("x"), ":d": N("1"), ":e": {"SS": ["a"]}},
        {"r": N("0"), "n": N("1"), "s": {"SS": ["a", "b"]}},
        {"a": S("x"), "n": N("2"), "s": {"SS": ["b"]}},
    ),
]


@pytest.mark.parametrize(("text", "values", "before", "after"), CASES)
def test_update_applies_as_dynamodb(
    text: str, values: dict[str, Any], before: dict[str, Any], after: dict[str, Any]
) -> None:
    names = {k: k[1:] for k in ("#m", "#a") if k in text}
    subs = Substitutions(names or None, values or None)
    update = parse_update(text, subs)
    subs.check_all_used()
    original = copy.deepcopy(before)
    assert apply_update(update, before) == after
    assert before == original  # the item given is left as it was


def test_touched_names_top_level_attributes() -> None:
    subs = Substitutions(None, {":v": S("x"), ":d": N("1"), ":s": {"SS": ["a"]}})
    update = parse_update("SET a.b = :v, c[0] = :v REMOVE d ADD e :d DELETE f :s", subs)
    assert update.touched == frozenset({"a", "c", "d", "e", "f"})


INVALID = "The document path provided in the update expression is invalid for update"

APPLY_ERRORS: list[tuple[str, dict[str, Any], dict[str, Any], str]] = [
    (
        "SET m.a = :v",
        {":v": N("1")},
        {},
        "The document path provided in the update expression is invalid for update",
    ),
    (
        "SET m.a.b = :v",
        {":v": N("1")},
        {"m": M()},
        "The document path provided in the update expression is invalid for update",
    ),
    (
        "SET m.a = :v",
        {":v": N("1")},
        {"m": S("not a map")},
        "The document path provided in the update expression is invalid for update",
    ),
    (
        "SET l[0] = :v",
        {":v": N("1")},
        {"l": M()},
        "The document path provided in the update expression is invalid for update",
    ),
    (
        "SET l[5].x = :v",
        {":v": N("1")},
        {"l": L()},
        "The document path provided in the update expression is invalid for update",
    ),
    # REMOVE of a path whose parent is missing or of the wrong type is refused as SET's is
    # (found by the differential test against moto; DynamoDB's behaviour as ScyllaDB's
    # Alternator tests record it, test_nested_attribute_update_bad_path_dot/_array).
    ("REMOVE m.x.y", {}, {"m": M()}, INVALID),
    ("REMOVE m.x", {}, {"m": S("x")}, INVALID),
    ("REMOVE l[0]", {}, {"a": N("1")}, INVALID),
    (
        "ADD m.n :d",
        {":d": N("1")},
        {},
        "The document path provided in the update expression is invalid for update",
    ),
    (
        "SET n = n + :d",
        {":d": N("1")},
        {"n": S("1")},
        "An operand in the update expression has an incorrect data type",
    ),
    (
        "SET n = n + :d",
        {":d": N("1")},
        {},
        "The provided expression refers to an attribute that does not exist in the item",
    ),
    ("SET a = b", {}, {}, "The provided expression refers to an attribute that does not exist in the item"),
    (
        "SET l = list_append(l, :v)",
        {":v": L()},
        {"l": S("x")},
        "An operand in the update expression has an incorrect data type",
    ),
    (
        "ADD n :d",
        {":d": N("1")},
        {"n": S("x")},
        "An operand in the update expression has an incorrect data type",
    ),
    (
        "ADD s :v",
        {":v": {"SS": ["a"]}},
        {"s": {"NS": ["1"]}},
        "An operand in the update expression has an incorrect data type",
    ),
    (
        "DELETE s :v",
        {":v": {"SS": ["a"]}},
        {"s": S("a")},
        "An operand in the update expression has an incorrect data type",
    ),
    (
        "SET n = n + :d",
        {":d": N("0.1")},
        {"n": N("99999999999999999999999999999999999999")},
        "Attempting to store more than 38 significant digits in a Number",
    ),
    (
        "ADD n :d",
        {":d": N("9E+125")},
        {"n": N("9E+125")},
        "Number overflow. Attempting to store a number with magnitude larger than supported range",
    ),
]


@pytest.mark.parametrize(("text", "values", "item", "message"), APPLY_ERRORS)
def test_update_refused_on_the_item(
    text: str, values: dict[str, Any], item: dict[str, Any], message: str
) -> None:
    update = parse_update(text, Substitutions(None, values or None))
    with pytest.raises(ValidationException) as caught:
        apply_update(update, item)
    assert caught.value.message == message
    assert caught.value.code == "ValidationException" and caught.value.status == 400


def test_remove_of_nested_paths_is_ignored_on_an_item_the_update_creates() -> None:
    # DynamoDB refuses REMOVE a.b when a is missing, except when the whole item is missing.
    update = parse_update("REMOVE m.x, l[0]", Substitutions(None, None))
    assert apply_update(update, {"pk": S("k")}, exists=False) == {"pk": S("k")}
    with pytest.raises(ValidationException):
        apply_update(update, {"pk": S("k")})
