"""Bad expressions refused as DynamoDB refuses them: each row is (parser, expression, message)."""

from __future__ import annotations

from typing import Any

import pytest

from stratus.tables.errors import ValidationException
from stratus.tables.expressions import (
    Substitutions,
    parse_condition,
    parse_key_condition,
    parse_projection,
    parse_update,
)
from stratus.tables.expressions.reserved import RESERVED_WORDS, is_reserved

VALUES: dict[str, Any] = {
    ":v": {"S": "x"},
    ":n": {"N": "1"},
    ":n5": {"N": "5"},
    ":b": {"BOOL": True},
    ":l": {"L": []},
    ":m": {"M": {}},
    ":t": {"S": "STRING"},
}
PARSERS = {
    "condition": parse_condition,
    "update": parse_update,
    "projection": parse_projection,
    "key": parse_key_condition,
}
C = "Invalid ConditionExpression: "
U = "Invalid UpdateExpression: "
P = "Invalid ProjectionExpression: "
K = "Invalid KeyConditionExpression: "
OPERAND = "Incorrect operand type for operator or function; operator or function: "
OVERLAP = "Two document paths overlap with each other; must remove or rewrite one of these paths; "
CONFLICT = "Two document paths conflict with each other; must remove or rewrite one of these paths; "

CASES: list[tuple[str, str, str]] = [
    # syntax errors: the token, and the text around it
    ("condition", "a = ", C + 'Syntax error; token: "<EOF>", near: "= "'),
    ("condition", "a = :v :v", C + 'Syntax error; token: ":v", near: ":v :v"'),
    ("condition", "a = :v AND", C + 'Syntax error; token: "<EOF>", near: "AND"'),
    ("condition", "a = :v)", C + 'Syntax error; token: ")", near: ":v)"'),
    ("condition", "a.b[x] = :v", C + 'Syntax error; token: "x", near: "[x]"'),
    ("condition", "a[-1] = :v", C + 'Syntax error; token: "-", near: "[-1"'),
    ("condition", "a-b = :v", C + 'Syntax error; token: "-", near: "a-b"'),
    ("condition", "attribute_exists(a) = :v", C + 'Syntax error; token: "=", near: ") = :v"'),
    ("update", "UPDATE a = :v", U + 'Syntax error; token: "UPDATE", near: "UPDATE a"'),
    ("update", "SET a", U + 'Syntax error; token: "<EOF>", near: "a"'),
    ("update", "ADD a b", U + 'Syntax error; token: "b", near: "a b"'),
    ("update", "SET a = b + c + d", U + 'Syntax error; token: "+", near: "c + d"'),
    ("projection", "a, :v", P + 'Syntax error; token: ":v", near: ", :v"'),
    # empty
    ("condition", "", C + "The expression can not be empty;"),
    ("update", "   ", U + "The expression can not be empty;"),
    # names and values
    ("condition", "name = :v", C + "Attribute name is a reserved keyword; reserved keyword: name"),
    ("condition", "a.Status = :v", C + "Attribute name is a reserved keyword; reserved keyword: Status"),
    ("update", "SET data = :v", U + "Attribute name is a reserved keyword; reserved keyword: data"),
    ("projection", "a, size", P + "Attribute name is a reserved keyword; reserved keyword: size"),
    (
        "condition",
        "#x = :v",
        C + "An expression attribute name used in the document path is not defined; attribute name: #x",
    ),
    (
        "update",
        "SET a = :zz",
        U + "An expression attribute value used in expression is not defined; attribute value: :zz",
    ),
    # functions
    (
        "condition",
        "size(a)",
        C + "The function is not allowed to be used this way in an expression; function: size",
    ),
    ("condition", "foo(a)", C + "Invalid function name; function: foo"),
    ("condition", "Contains(a, :v)", C + "Invalid function name; function: Contains"),
    (
        "condition",
        "if_not_exists(a, :v) = :v",
        C + "The function is not allowed in a condition expression; function: if_not_exists",
    ),
    ("update", "SET a = size(b)", U + "The function is not allowed in an update expression; function: size"),
    (
        "condition",
        "begins_with(a)",
        C + "Incorrect number of operands for operator or function; operator or function: begins_with, "
        "number of operands: 1",
    ),
    (
        "condition",
        "attribute_exists(a, b)",
        C + "Incorrect number of operands for operator or function; operator or function: attribute_exists, "
        "number of operands: 2",
    ),
    (
        "condition",
        "attribute_exists(:v)",
        C + "Operator or function requires a document path; operator or function: attribute_exists",
    ),
    (
        "condition",
        "size(:v) = :n",
        C + "Operator or function requires a document path; operator or function: size",
    ),
    (
        "update",
        "SET a = if_not_exists(:v, :v)",
        U + "Operator or function requires a document path; operator or function: if_not_exists",
    ),
    # operand types known from the literal
    (
        "condition",
        "a < :b",
        C + "Incorrect operand type for operator or function; operator or function: <, operand type: BOOL",
    ),
    (
        "condition",
        "a BETWEEN :l AND :v",
        C + "Incorrect operand type for operator or function; operator or function: BETWEEN, operand type: L",
    ),
    (
        "condition",
        "begins_with(a, :n)",
        C + OPERAND + "begins_with, operand type: N",
    ),
    (
        "condition",
        "attribute_type(a, :n)",
        C + "Incorrect operand type for operator or function; operator or function: attribute_type, "
        "operand type: N",
    ),
    (
        "condition",
        "attribute_type(a, :t)",
        C + "Invalid attribute type name found; type: STRING, valid types: { B,NULL,SS,BOOL,L,BS,N,NS,S,M }",
    ),
    (
        "condition",
        "a BETWEEN :n5 AND :n",
        C + "The BETWEEN operator requires upper bound to be greater than or equal to lower bound; "
        "lower operand: AttributeValue: {N:5}, upper operand: AttributeValue: {N:1}",
    ),
    (
        "update",
        "SET a = :v + :n",
        U + "Incorrect operand type for operator or function; operator or function: +, operand type: S",
    ),
    (
        "update",
        "SET a = list_append(a, :m)",
        U + OPERAND + "list_append, operand type: M",
    ),
    (
        "update",
        "ADD a :v",
        U + "Incorrect operand type for operator or function; operator: ADD, operand type: STRING",
    ),
    (
        "update",
        "ADD a :l",
        U + "Incorrect operand type for operator or function; operator: ADD, operand type: LIST",
    ),
    (
        "update",
        "DELETE a :n",
        U + "Incorrect operand type for operator or function; operator: DELETE, operand type: NUMBER",
    ),
    # structure
    ("condition", "((a = :v))", C + "The expression has redundant parentheses;"),
    (
        "update",
        "SET a = :v SET b = :v",
        U + 'The "SET" section can only be used once in an update expression;',
    ),
    (
        "update",
        "remove a REMOVE b",
        U + 'The "REMOVE" section can only be used once in an update expression;',
    ),
    ("update", "SET a = :v, a.b = :v", U + OVERLAP + "path one: [a], path two: [a, b]"),
    ("update", "SET a = :v REMOVE a", U + OVERLAP + "path one: [a], path two: [a]"),
    (
        "update",
        "REMOVE a.b[1].c ADD a.b[1] :n",
        U + OVERLAP + "path one: [a, b, [1], c], path two: [a, b, [1]]",
    ),
    ("update", "SET a[0] = :v, a.b = :v", U + CONFLICT + "path one: [a, [0]], path two: [a, b]"),
    ("projection", "a, a.b", P + OVERLAP + "path one: [a], path two: [a, b]"),
    ("projection", "a[0], a.b", P + CONFLICT + "path one: [a, [0]], path two: [a, b]"),
    # key conditions
    ("key", "pk = :v OR sk = :v", "Invalid operator used in KeyConditionExpression: OR"),
    ("key", "NOT pk = :v", "Invalid operator used in KeyConditionExpression: NOT"),
    ("key", "pk IN (:v)", "Invalid operator used in KeyConditionExpression: IN"),
    ("key", "pk <> :v", "Invalid operator used in KeyConditionExpression: <>"),
    ("key", "pk = :v AND contains(sk, :v)", "Invalid operator used in KeyConditionExpression: contains"),
    (
        "key",
        "pk = :v AND attribute_exists(sk)",
        "Invalid operator used in KeyConditionExpression: attribute_exists",
    ),
    ("key", "pk = :v AND pk = :v", "KeyConditionExpressions must only contain one condition per key"),
    ("key", "pk = :v AND sk = :v AND x = :v", "Query key condition not supported"),
    ("key", "pk < :v", "Query key condition not supported"),
    ("key", "pk.x = :v", "Query key condition not supported"),
    ("key", "pk = :v AND size(sk) = :n", "Query key condition not supported"),
    (
        "key",
        "pk = sk",
        "Invalid condition in KeyConditionExpression: multiple attribute names used in one condition",
    ),
    (
        "key",
        "pk = :v AND begins_with(sk, :n)",
        K + OPERAND + "begins_with, operand type: N",
    ),
]


@pytest.mark.parametrize(("parser", "text", "message"), CASES)
def test_refused_with_dynamodbs_message(parser: str, text: str, message: str) -> None:
    subs = Substitutions({"#y": "y"}, VALUES)
    with pytest.raises(ValidationException) as caught:
        PARSERS[parser](text, subs)
    assert caught.value.message == message
    assert caught.value.code == "ValidationException" and caught.value.status == 400


def test_in_refuses_more_than_one_hundred_values() -> None:
    values = {f":v{i}": {"N": str(i)} for i in range(101)}
    with pytest.raises(ValidationException) as caught:
        parse_condition("a IN (" + ", ".join(values) + ")", Substitutions(None, values))
    assert (
        caught.value.message
        == C + "The IN operator is provided with too many operands; number of operands: 101"
    )


def test_path_deeper_than_32_levels_is_refused() -> None:
    text = ".".join(["a"] * 33) + " = :v"
    with pytest.raises(ValidationException) as caught:
        parse_condition(text, Substitutions(None, {":v": {"S": "x"}}))
    assert caught.value.message == C + "The document path has too many nesting levels; nesting levels: 33"
    parse_condition(".".join(["a"] * 32) + " = :v", Substitutions(None, {":v": {"S": "x"}}))


def test_unused_placeholders_are_refused_after_parsing() -> None:
    subs = Substitutions({"#a": "a", "#b": "b", "#c": "c"}, {":v": {"S": "x"}})
    parse_condition("#a = :v", subs)
    with pytest.raises(ValidationException) as caught:
        subs.check_all_used()
    assert (
        caught.value.message
        == "Value provided in ExpressionAttributeNames unused in expressions: keys: {#b, #c}"
    )

    subs = Substitutions(None, {":v": {"S": "x"}, ":w": {"S": "y"}})
    parse_condition("a = :v", subs)
    with pytest.raises(ValidationException) as caught:
        subs.check_all_used()
    assert (
        caught.value.message
        == "Value provided in ExpressionAttributeValues unused in expressions: keys: {:w}"
    )


def test_placeholders_used_by_any_expression_of_the_request_count() -> None:
    subs = Substitutions({"#a": "a"}, {":v": {"S": "x"}, ":w": {"S": "y"}})
    parse_update("SET #a = :v", subs)
    parse_condition("b = :w", subs)
    subs.check_all_used()


@pytest.mark.parametrize(
    ("names", "values", "message"),
    [
        ({}, None, "ExpressionAttributeNames must not be empty"),
        (None, {}, "ExpressionAttributeValues must not be empty"),
        ({"n": "a"}, None, 'ExpressionAttributeNames contains invalid key: Syntax error; key: "n"'),
        (None, {"v": {"S": "x"}}, 'ExpressionAttributeValues contains invalid key: Syntax error; key: "v"'),
        (
            None,
            {":a-b": {"S": "x"}},
            'ExpressionAttributeValues contains invalid key: Syntax error; key: ":a-b"',
        ),
        (
            None,
            {":v": {"N": "abc"}},
            "ExpressionAttributeValues contains invalid value: A value provided cannot be converted into a "
            "number for key :v",
        ),
    ],
)
def test_substitution_maps_are_checked(names: Any, values: Any, message: str) -> None:
    with pytest.raises(ValidationException) as caught:
        Substitutions(names, values)
    assert caught.value.message == message


def test_reserved_words_are_the_guides_list() -> None:
    assert len(RESERVED_WORDS) == 573
    for word in ("ABORT", "name", "Status", "data", "size", "ZONE", "FLATTERN", "ttl", "value", "timestamp"):
        assert is_reserved(word)
    for word in ("pk", "sk", "price", "title", "createdAt", "absent"):
        assert not is_reserved(word)
