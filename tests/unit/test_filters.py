"""CloudWatch Logs filter patterns: terms and JSON expressions."""

from __future__ import annotations

import json

import pytest

from stratus.observe.filters import BadPattern, compile_pattern

DOC = json.dumps(
    {
        "level": "ERROR",
        "latency": 120,
        "user": {"id": 7, "name": "ada"},
        "items": ["x", "y"],
        "ok": True,
        "gone": None,
        "path": "/api/users/7",
    }
)


@pytest.mark.parametrize(
    ("pattern", "message", "expected"),
    [
        ("", "anything", True),
        ("ERROR", "an ERROR here", True),
        ("ERROR timeout", "ERROR without the other", False),
        ("ERROR timeout", "timeout ERROR", True),
        ('"two words"', "has two words in it", True),
        ('"two words"', "words two", False),
        ("?ERROR ?WARN", "a WARN line", True),
        ("?ERROR ?WARN", "an INFO line", False),
        ("ERROR -ignored", "ERROR ignored", False),
        ("ERROR -ignored", "ERROR kept", True),
    ],
)
def test_term_patterns(pattern: str, message: str, expected: bool) -> None:
    assert compile_pattern(pattern)(message) is expected


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ('{ $.level = "ERROR" }', True),
        ('{ $.level = "INFO" }', False),
        ('{ $.level != "INFO" }', True),
        ("{ $.level = ERROR }", True),
        ('{ $.level = "ERR*" }', True),
        ('{ $.path = "/api/*/7" }', True),
        ("{ $.latency > 100 }", True),
        ("{ $.latency >= 120 }", True),
        ("{ $.latency < 100 }", False),
        ("{ $.latency = 120 }", True),
        ("{ $.user.id = 7 }", True),
        ('{ $.user.name = "ada" }', True),
        ('{ $.items[1] = "y" }', True),
        ('{ $.items[5] = "y" }', False),
        ("{ $.ok IS TRUE }", True),
        ("{ $.ok IS FALSE }", False),
        ("{ $.gone IS NULL }", True),
        ("{ $.user EXISTS }", True),
        ("{ $.nope NOT EXISTS }", True),
        ("{ $.nope EXISTS }", False),
        ('{ $.nope = "x" }', False),
        ('{ $.nope != "x" }', False),
        ('{ $.level = "ERROR" && $.latency > 100 }', True),
        ('{ $.level = "INFO" || $.latency > 100 }', True),
        ('{ ($.level = "INFO" || $.latency > 200) && $.ok IS TRUE }', False),
        ('{ $.level = "INFO" || ($.latency > 100 && $.user.id = 7) }', True),
    ],
)
def test_json_patterns(pattern: str, expected: bool) -> None:
    assert compile_pattern(pattern)(DOC) is expected


def test_json_pattern_never_matches_a_text_line() -> None:
    assert compile_pattern('{ $.level = "ERROR" }')("ERROR: not json") is False


@pytest.mark.parametrize(
    "pattern",
    [
        '{ $.level = "ERROR"',
        "{ $.level = }",
        "{ level = 1 }",
        '{ $.latency > "abc" }',
        "{ $.latency > abc }",
        '{ $.a = "x" && }',
        '{ ($.a = "x" }',
        "{ $.a IS MAYBE }",
        "{ $.a NOT THERE }",
        '"unterminated',
        '{ $.a = "x" } trailing',
    ],
)
def test_malformed_patterns_are_refused(pattern: str) -> None:
    with pytest.raises(BadPattern):
        compile_pattern(pattern)
