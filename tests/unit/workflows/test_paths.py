"""JsonPath as Step Functions (Jayway) takes it: what each form selects, definite paths that
select nothing, reference paths, and ResultPath placement that leaves the input unchanged."""

from __future__ import annotations

from typing import Any

import pytest

from stratus.workflows import paths
from stratus.workflows.errors import PathError

DATA: dict[str, Any] = {
    "a": {"b": [1, 2, {"x": 3}], "c d": "spaced"},
    "store": {
        "book": [
            {"title": "A", "price": 8.95, "tags": ["x"]},
            {"title": "B", "price": 12.99},
            {"title": "C", "price": 22.99, "isbn": "0-553"},
        ],
        "bicycle": {"price": 19.95},
    },
    "n": None,
}
CONTEXT = {"Execution": {"Id": "arn:exec", "Input": {"k": 1}}, "Map": {"Item": {"Index": 2}}}

READS = [
    ("$", DATA),
    ("$.a.b", [1, 2, {"x": 3}]),
    ("$['a']['b'][0]", 1),
    ('$["a"].b[2].x', 3),
    ("$.a['c d']", "spaced"),
    ("$.a.['c d']", "spaced"),
    ("$.a.b[-1]", {"x": 3}),
    ("$.n", None),
    ("$.a.b[*]", [1, 2, {"x": 3}]),
    ("$.a.b[0,1]", [1, 2]),
    ("$.a.b[1:]", [2, {"x": 3}]),
    ("$.a.b[:2]", [1, 2]),
    ("$.store.book[*].title", ["A", "B", "C"]),
    ("$.store.*.price", [19.95]),
    ("$..price", [19.95, 8.95, 12.99, 22.99]),
    ("$.store.book[?(@.price > 10)].title", ["B", "C"]),
    ("$.store.book[?(@.price < 10 || @.isbn)].title", ["A", "C"]),
    ("$.store.book[?(@.price >= 12.99 && @.price <= 20)].title", ["B"]),
    ("$.store.book[?(@.isbn)].title", ["C"]),
    ("$.store.book[?(@.title == 'B')].price", [12.99]),
    ("$.store.book[?(!(@.title != 'A'))].price", [8.95]),
    ("$.missing[*]", []),
    ("$$.Execution.Id", "arn:exec"),
    ("$$.Map.Item.Index", 2),
    ("$$", CONTEXT),
]


@pytest.mark.parametrize(("path", "expected"), READS, ids=[r[0] for r in READS])
def test_read(path: str, expected: Any) -> None:
    value = paths.read(path, DATA, CONTEXT)
    if isinstance(expected, list) and not paths.parse_path(path).definite:
        assert sorted(map(repr, value)) == sorted(map(repr, expected))
    else:
        assert value == expected


MISSES = [
    ("$.a.z", "No results for path: $['a']['z']"),
    ("$.z.y", "No results for path: $['z']['y']"),
    ("$.a.b[7]", "No results for path: $['a']['b'][7]"),
    ("$.a.b.x", "No results for path: $['a']['b']['x']"),
]


@pytest.mark.parametrize(("path", "message"), MISSES)
def test_a_definite_path_that_selects_nothing_says_so_as_jayway_does(path: str, message: str) -> None:
    with pytest.raises(PathError) as caught:
        paths.read(path, DATA)
    assert caught.value.detail == message


@pytest.mark.parametrize(
    "text", ["a.b", "$.", "$[", "$.a[?(@.x >)]", "$.a['x]", "$a..", "", "$.a[1:2:0]", "$.a b"]
)
def test_not_paths(text: str) -> None:
    assert not paths.is_path(text)


@pytest.mark.parametrize(
    ("text", "context", "reference"),
    [
        ("$", False, True),
        ("$.a.b[0]", False, True),
        ("$['a b'].c", False, True),
        ("$.a[*]", False, False),
        ("$..a", False, False),
        ("$.a[0,1]", False, False),
        ("$.a[?(@.x)]", False, False),
        ("$$.Execution.Input", False, False),
        ("$$.Execution.Input", True, True),
    ],
)
def test_reference_paths(text: str, context: bool, reference: bool) -> None:
    assert paths.is_reference_path(text, context=context) is reference


PUTS = [
    ({"a": 1}, "$", {"r": 1}, {"r": 1}),
    ({"a": 1}, "$.r", 5, {"a": 1, "r": 5}),
    ({"a": 1}, "$.x.y.z", 5, {"a": 1, "x": {"y": {"z": 5}}}),
    ({"a": {"b": 1}}, "$.a.c", 2, {"a": {"b": 1, "c": 2}}),
    ({"a": 1}, "$.a", {"n": 1}, {"a": {"n": 1}}),
    ({"l": [1, {"v": 0}]}, "$.l[1].v", 9, {"l": [1, {"v": 9}]}),
    ({"l": [1, 2]}, "$.l[0]", 7, {"l": [7, 2]}),
]


@pytest.mark.parametrize(("target", "path", "value", "expected"), PUTS)
def test_put_places_the_value_and_leaves_the_target_unchanged(
    target: Any, path: str, value: Any, expected: Any
) -> None:
    before = repr(target)
    assert paths.put(target, path, value) == expected
    assert repr(target) == before


@pytest.mark.parametrize(("target", "path"), [("text", "$.a"), ({"a": "s"}, "$.a.b"), ({"l": [1]}, "$.l[3]")])
def test_put_into_what_cannot_hold_it(target: Any, path: str) -> None:
    with pytest.raises(PathError) as caught:
        paths.put(target, path, 1)
    assert caught.value.detail.startswith(f"Unable to apply ReferencePath {path} to input ")
