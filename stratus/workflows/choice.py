"""A Choice state's decision: the first rule that matches the state's input names the next
state, else Default, else the state fails.

Comparisons follow AWS's Choice rules: a value of the wrong type never matches (a
NumericEquals over a string is false, not an error); a Variable (or a *Path operand) that
selects nothing is a States.Runtime error, except for IsPresent, which is what it tests, and the
other Is* tests, which are false; timestamps compare as instants (RFC 3339); StringMatches takes
`*` as any run of characters, with `\\*` and `\\\\` for a literal star and backslash.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from stratus.workflows import paths
from stratus.workflows.definition import State
from stratus.workflows.errors import PathError, StateRuntimeError
from stratus.workflows.timestamps import parse_timestamp

_MISSING = object()
_ORDER = ("Equals", "LessThan", "GreaterThan", "LessThanEquals", "GreaterThanEquals")


class _Invalid(Exception):
    def __init__(self, path: str) -> None:
        self.path = path


def choose(state: State, raw_input: Any, context: Mapping[str, Any] | None = None) -> str:
    """The next state's name for this input (the state's input after InputPath)."""
    ctx = context or {}
    try:
        for rule in state.raw["Choices"]:
            if _holds(rule, raw_input, ctx):
                return str(rule["Next"])
    except _Invalid as bad:
        raise StateRuntimeError(
            state.name,
            f"Invalid path '{bad.path}': The choice state's condition path references an invalid value.",
        ) from None
    default = state.raw.get("Default")
    if default is None:
        # AWS documents States.NoChoiceMatched as reserved, and reports no match with the
        # States.Runtime error name.
        raise StateRuntimeError(state.name, "No Matches!")
    return str(default)


def _holds(rule: Mapping[str, Any], data: Any, context: Mapping[str, Any]) -> bool:
    if "And" in rule:
        return all(_holds(r, data, context) for r in rule["And"])
    if "Or" in rule:
        return any(_holds(r, data, context) for r in rule["Or"])
    if "Not" in rule:
        return not _holds(rule["Not"], data, context)
    variable = rule["Variable"]
    value = _read(variable, data, context)
    operator = next(k for k in rule if k not in ("Variable", "Next", "Comment"))
    expected = rule[operator]
    if operator == "IsPresent":
        return bool((value is not _MISSING) == expected)
    if operator.startswith("Is"):
        return value is not _MISSING and bool(_is(operator, value) == expected)
    if value is _MISSING:
        raise _Invalid(variable)
    if operator.endswith("Path"):
        operator = operator[: -len("Path")]
        expected = _read(expected, data, context)
        if expected is _MISSING:
            raise _Invalid(rule[operator + "Path"])
    return _compare(operator, value, expected)


def _read(text: str, data: Any, context: Mapping[str, Any]) -> Any:
    try:
        return paths.read(text, data, context)
    except PathError:
        return _MISSING


def _number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def _is(operator: str, value: Any) -> bool:
    if operator == "IsNull":
        return value is None
    if operator == "IsNumeric":
        return _number(value)
    if operator == "IsString":
        return isinstance(value, str)
    if operator == "IsBoolean":
        return isinstance(value, bool)
    return isinstance(value, str) and parse_timestamp(value) is not None  # IsTimestamp


def _compare(operator: str, value: Any, expected: Any) -> bool:
    if operator == "BooleanEquals":
        return isinstance(value, bool) and isinstance(expected, bool) and value == expected
    if operator == "StringMatches":
        return isinstance(value, str) and isinstance(expected, str) and string_matches(value, expected)
    kind = next(k for k in ("String", "Numeric", "Timestamp") if operator.startswith(k))
    order = operator[len(kind) :]
    a: Any
    b: Any
    if kind == "String":
        if not (isinstance(value, str) and isinstance(expected, str)):
            return False
        a, b = value.encode("utf-16-be"), expected.encode("utf-16-be")  # Java's String order
    elif kind == "Numeric":
        if not (_number(value) and _number(expected)) or any(math.isnan(x) for x in (value, expected)):
            return False
        a, b = value, expected
    else:
        left = parse_timestamp(value) if isinstance(value, str) else None
        right = parse_timestamp(expected) if isinstance(expected, str) else None
        if left is None or right is None:
            return False
        a, b = left, right
    return _ordered(order, a, b)


def _ordered(order: str, a: Any, b: Any) -> bool:
    if order == "Equals":
        return bool(a == b)
    if order == "LessThan":
        return bool(a < b)
    if order == "GreaterThan":
        return bool(a > b)
    if order == "LessThanEquals":
        return bool(a <= b)
    return bool(a >= b)


def string_matches(value: str, pattern: str) -> bool:
    """StringMatches: `*` is any run of characters (none included); `\\*` is a star and
    `\\\\` a backslash."""
    parts: list[str | None] = []  # None: a wildcard
    literal: list[str] = []
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\" and i + 1 < len(pattern) and pattern[i + 1] in "*\\":
            literal.append(pattern[i + 1])
            i += 2
            continue
        if ch == "*":
            parts.append("".join(literal))
            parts.append(None)
            literal = []
        else:
            literal.append(ch)
        i += 1
    parts.append("".join(literal))
    return _match(value, [p for p in parts if p != ""])


def _match(value: str, parts: list[str | None]) -> bool:
    # Literal runs between wildcards, matched greedily left to right: the first must be a
    # prefix (unless a wildcard leads), the last a suffix (unless a wildcard ends).
    if not parts:
        return value == ""
    pos = 0
    for index, part in enumerate(parts):
        if part is None:
            continue
        first = index == 0
        last = index == len(parts) - 1
        if first and last:
            return value == part
        if first:
            if not value.startswith(part):
                return False
            pos = len(part)
        elif last:
            return len(value) - len(part) >= pos and value.endswith(part)
        else:
            found = value.find(part, pos)
            if found < 0:
                return False
            pos = found + len(part)
    return True
