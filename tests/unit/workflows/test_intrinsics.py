"""Intrinsic functions: the examples of AWS's "Intrinsic functions" page (its inputs, its
outputs), the parser's edge cases, and each documented argument check."""

from __future__ import annotations

import random
from typing import Any

import pytest

from stratus.workflows.intrinsics import (
    Entropy,
    IntrinsicError,
    IntrinsicSyntaxError,
    evaluate,
    is_call,
    parse_call,
)

CONTEXT = {"Execution": {"Id": "arn:aws:states:us-east-1:123456789012:execution:m:e1", "Name": "e1"}}


def run(text: str, data: Any = None, seed: int = 7) -> Any:
    return evaluate(text, data if data is not None else {}, CONTEXT, Entropy(random.Random(seed)))


AWS_EXAMPLES = [
    ("States.Array($.Id)", {"Id": 123456}, [123456]),
    (
        "States.ArrayPartition($.inputArray,4)",
        {"inputArray": [1, 2, 3, 4, 5, 6, 7, 8, 9]},
        [[1, 2, 3, 4], [5, 6, 7, 8], [9]],
    ),
    (
        "States.ArrayContains($.inputArray, $.lookingFor)",
        {"inputArray": [1, 2, 3, 4, 5, 6, 7, 8, 9], "lookingFor": 5},
        True,
    ),
    ("States.ArrayRange(1, 9, 2)", {}, [1, 3, 5, 7, 9]),
    (
        "States.ArrayGetItem($.inputArray, $.index)",
        {"inputArray": [1, 2, 3, 4, 5, 6, 7, 8, 9], "index": 5},
        6,
    ),
    ("States.ArrayLength($.inputArray)", {"inputArray": [1, 2, 3, 4, 5, 6, 7, 8, 9]}, 9),
    ("States.ArrayUnique($.inputArray)", {"inputArray": [1, 2, 3, 3, 3, 3, 3, 3, 4]}, [1, 2, 3, 4]),
    ("States.Base64Encode($.input)", {"input": "Data to encode"}, "RGF0YSB0byBlbmNvZGU="),
    ("States.Base64Decode($.base64)", {"base64": "RGF0YSB0byBlbmNvZGU="}, "Data to encode"),
    # The page prints this digest with one character dropped; this is SHA-1 of "input data".
    (
        "States.Hash($.Data, $.Algorithm)",
        {"Data": "input data", "Algorithm": "SHA-1"},
        "aaff4a450a104cd177d28d18d74485e8cae074b7",
    ),
    (
        "States.JsonMerge($.json1, $.json2, false)",
        {"json1": {"a": {"a1": 1, "a2": 2}, "b": 2}, "json2": {"a": {"a3": 1, "a4": 2}, "c": 3}},
        {"a": {"a3": 1, "a4": 2}, "b": 2, "c": 3},
    ),
    ("States.StringToJson($.escapedJsonString)", {"escapedJsonString": '{"foo": "bar"}'}, {"foo": "bar"}),
    ("States.JsonToString($.unescapedJson)", {"unescapedJson": {"foo": "bar"}}, '{"foo":"bar"}'),
    ("States.MathAdd($.value1, $.step)", {"value1": 111, "step": -1}, 110),
    (
        "States.StringSplit($.inputString, $.splitter)",
        {"inputString": "1,2,3,4,5", "splitter": ","},
        ["1", "2", "3", "4", "5"],
    ),
    (
        "States.StringSplit($.inputString, $.splitter)",
        {"inputString": "This.is+a,test=string", "splitter": ".+,="},
        ["This", "is", "a", "test", "string"],
    ),
    ("States.Format('Hello, my name is {}.', $.name)", {"name": "Arnav"}, "Hello, my name is Arnav."),
    (
        "States.Format($.template, $.name)",
        {"name": "Arnav", "template": "Hello, my name is {}."},
        "Hello, my name is Arnav.",
    ),
]


@pytest.mark.parametrize(("text", "data", "expected"), AWS_EXAMPLES, ids=[e[0] for e in AWS_EXAMPLES])
def test_aws_documented_examples(text: str, data: Any, expected: Any) -> None:
    assert run(text, data) == expected


MORE = [
    ("States.Format('\\{\\} {} it\\'s \\\\', 'x')", {}, "{} x it's \\"),
    ("States.Format('{} {} {} {}', 1, 2.5, true, null)", {}, "1 2.5 true null"),
    ("States.Format('{}', $$.Execution.Name)", {}, "e1"),
    ("States.Array()", {}, []),
    (
        "States.Array(1, 'two', true, null, $.o, States.Array(3))",
        {"o": {"k": "v"}},
        [1, "two", True, None, {"k": "v"}, [3]],
    ),
    ("States.ArrayRange(5, 1, -2)", {}, [5, 3, 1]),
    ("States.ArrayRange(1, 1000, 1)", {}, list(range(1, 1001))),
    ("States.ArrayRange(1, 0, 1)", {}, []),
    ("States.ArrayPartition(States.Array(1,2,3), 2.4)", {}, [[1, 2], [3]]),
    ("States.ArrayContains(States.Array(1, true), 1.0)", {}, True),
    ("States.ArrayContains(States.Array(true), 1)", {}, False),
    ("States.ArrayUnique(States.Array($.o, $.o, 1))", {"o": {"a": [1]}}, [{"a": [1]}, 1]),
    ("States.Hash('', 'MD5')", {}, "d41d8cd98f00b204e9800998ecf8427e"),
    ("States.Hash('abc', 'SHA-256')", {}, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
    ("States.MathAdd(1.6, 0)", {}, 2),
    ("States.StringSplit('a,,b', ',')", {}, ["a", "b"]),
    (
        "States.Format('{}.{}', "
        "States.ArrayGetItem(States.StringSplit("
        "States.ArrayGetItem(States.StringSplit($.Arn, '/'), 2), '.'), 0), "
        "States.ArrayGetItem(States.StringSplit("
        "States.ArrayGetItem(States.StringSplit($.Arn, '/'), 2), '.'), 1))",
        {"Arn": "arn:aws:imagebuilder:us-east-1:1:image-recipe/recipes/my.recipe/1.0.0"},
        "my.recipe",
    ),
    ("States.ArrayLength($.list[?(@.v > 1)])", {"list": [{"v": 1}, {"v": 2}, {"v": 3}]}, 2),
    ("States.Format('{}', $['odd, key'])", {"odd, key": "ok"}, "ok"),
]


@pytest.mark.parametrize(("text", "data", "expected"), MORE, ids=[m[0][:60] for m in MORE])
def test_more_calls(text: str, data: Any, expected: Any) -> None:
    assert run(text, data) == expected


def test_math_random_is_in_range_and_follows_the_injected_random() -> None:
    values = [run("States.MathRandom(1, 4)", seed=s) for s in range(40)]
    assert set(values) == {1, 2, 3}  # start inclusive, end exclusive
    assert run("States.MathRandom(1, 999)", seed=3) == run("States.MathRandom(1, 999)", seed=3)


def test_math_random_with_a_seed_gives_the_same_number_whatever_the_random() -> None:
    assert {run("States.MathRandom(1, 1000000, 42)", seed=s) for s in range(5)} == {
        run("States.MathRandom(1, 1000000, 42)")
    }


def test_uuid_comes_from_the_injected_source() -> None:
    assert evaluate("States.UUID()", {}, {}, Entropy(uuid_source=lambda: "fixed")) == "fixed"
    made = run("States.UUID()", seed=1)
    assert made == run("States.UUID()", seed=1) and made != run("States.UUID()", seed=2)
    assert len(made) == 36 and made[14] == "4"


FAILURES = [
    ("States.ArrayGetItem(States.Array(1), 1)", {}, "The index provided is out of bounds"),
    ("States.ArrayRange(1, 1001, 1)", {}, "cannot contain more than 1000 items"),
    ("States.ArrayRange(1, 5, 0)", {}, "must not be zero"),
    ("States.ArrayPartition(States.Array(1), 0)", {}, "must be a positive integer"),
    ("States.ArrayLength($.s)", {"s": "x"}, "must be an array"),
    ("States.Hash('x', 'SHA-2')", {}, "must be one of [MD5, SHA-1, SHA-256, SHA-384, SHA-512]"),
    ("States.Base64Encode($.s)", {"s": "x" * 10001}, "at most 10000 characters"),
    ("States.Base64Decode('!!!')", {}, "not a valid Base64 string"),
    ("States.JsonMerge($.a, $.b, true)", {"a": {}, "b": {}}, "Only the shallow merge is supported"),
    ("States.JsonMerge($.a, 1, false)", {"a": {}}, "must be JSON objects"),
    ("States.MathRandom(5, 5)", {}, "must be less than the end number"),
    ("States.MathAdd(2147483648, 1)", {}, "between -2147483648 and 2147483647"),
    ("States.MathAdd('1', 1)", {}, "must be an integer"),
    ("States.Format('{} {}', 1)", {}, "does not match the number of placeholders"),
    ("States.Format('{}', 1, 2)", {}, "does not match the number of placeholders"),
    ("States.Format('{}', $.o)", {"o": {"a": 1}}, "must be strings, numbers, booleans or null"),
    ("States.StringToJson('{nope')", {}, "not a valid JSON string"),
    ("States.Array($.missing)", {}, "Invalid path '$.missing' : No results for path: $['missing']"),
]


@pytest.mark.parametrize(("text", "data", "message"), FAILURES, ids=[f[0][:50] for f in FAILURES])
def test_argument_checks(text: str, data: Any, message: str) -> None:
    with pytest.raises(IntrinsicError) as caught:
        run(text, data)
    assert message in caught.value.detail


@pytest.mark.parametrize(
    "text",
    [
        "States.Nope()",
        "States.Array(",
        "States.Array(1,)",
        "States.Array(1) x",
        "States.ArrayLength()",
        "States.UUID(1)",
        "States.MathRandom(1)",
        "States.Format('open)",
        "States.Format('bad \\x escape')",
        "States.Array(nope)",
        "States.Array(" * 11 + ")" * 11,
    ],
)
def test_syntax_refused(text: str) -> None:
    with pytest.raises(IntrinsicSyntaxError):
        parse_call(text)
    assert not is_call(text)


def test_ten_nested_calls_are_allowed() -> None:
    text = "States.Array(" * 10 + ")" * 10
    assert is_call(text)
    value = run(text)
    for _ in range(9):
        value = value[0]
    assert value == []
