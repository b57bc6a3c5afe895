"""Content-based filtering: EventBridge event patterns, Lambda's FilterCriteria, SNS filter policies.

One syntax serves all three. A pattern is a JSON object whose leaves are arrays of conditions;
a field matches when any condition in its array matches, an object matches when every field
matches, and an event value that is an array matches when any of its elements does. The
conditions: exact values (string, number, true/false, null), {"prefix"}, {"suffix"},
{"anything-but"}, {"numeric"}, {"exists"}, {"equals-ignore-case"}, {"wildcard"}, {"cidr"};
and "$or" beside the fields of an object for alternatives.

A pattern is compiled once (every check of its syntax happens there, raising ValueError with
the reason AWS gives, so callers answer InvalidParameter) and then matched against many events
with no further parsing. Dialects: "eventbridge" (also Lambda's), "sns" (an attribute-based
filter policy: flat, over `message_attributes_event(...)`), "sns-body" (a payload-based one:
nested, over the parsed message). Both SNS dialects hold SNS's limits: five keys, 150
combinations of values, numbers within +-1e9.
"""

from __future__ import annotations

import ipaddress
import json
import math
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

DIALECTS = ("eventbridge", "sns", "sns-body")
SNS_MAX_KEYS = 5
SNS_MAX_COMBINATIONS = 150
SNS_NUMBER_LIMIT = 1e9

_MISSING: Any = object()
Test = Callable[[Any], bool]  # over one present, non-array value


class Pattern:
    """A compiled pattern: an object rule with its fields and $or alternatives."""

    __slots__ = ("_fields", "_ors")

    def __init__(self, fields: Sequence[tuple[str, _Field]], ors: Sequence[Sequence[Pattern]]) -> None:
        self._fields = tuple(fields)
        self._ors = tuple(tuple(branch) for branch in ors)

    def matches(self, event: Any) -> bool:
        if not isinstance(event, Mapping):
            return False
        for key, rule in self._fields:
            if not rule.matches(event.get(key, _MISSING)):
                return False
        return all(any(p.matches(event) for p in branch) for branch in self._ors)


class _Field:
    """One field of an object: a nested pattern, or a list of leaf conditions."""

    __slots__ = ("_exists", "_nested", "_tests")

    def __init__(self, nested: Pattern | None, tests: Sequence[Test], exists: bool | None) -> None:
        self._nested = nested
        self._tests = tuple(tests)
        self._exists = exists

    def matches(self, value: Any) -> bool:
        if self._nested is not None:
            if value is _MISSING:
                return self._nested.matches({})  # so {"exists": false} below an absent object holds
            if isinstance(value, list):
                return any(self._nested.matches(v) for v in value)
            return self._nested.matches(value)
        present = value is not _MISSING and not isinstance(value, Mapping)
        if self._exists is not None and present == self._exists:
            return True
        if not present:
            return False
        values = value if isinstance(value, list) else (value,)
        return any(test(v) for v in values for test in self._tests)


def compile_pattern(pattern: Mapping[str, Any], *, dialect: str = "eventbridge") -> Pattern:
    """Compile a pattern; raises ValueError(reason) when it is not a valid one."""
    if dialect not in DIALECTS:
        raise ValueError(f"unknown pattern dialect {dialect!r}")
    if not isinstance(pattern, Mapping):
        raise ValueError("Filter pattern must be a JSON object")
    keys: set[str] = set()
    compiled, combos = _object(pattern, dialect, (), keys)
    if dialect != "eventbridge":
        if len(keys) > SNS_MAX_KEYS:
            raise ValueError(f"Filter policy can not have more than {SNS_MAX_KEYS} keys")
        if combos > SNS_MAX_COMBINATIONS:
            raise ValueError("Filter policy is too complex")
    return compiled


def parse_pattern(text: str, *, dialect: str = "eventbridge") -> Pattern:
    """Compile a pattern given as JSON text (as FilterPolicy and FilterCriteria carry it)."""
    try:
        value = json.loads(text)
    except (ValueError, RecursionError) as e:
        raise ValueError(f"Filter pattern is not valid JSON: {e}") from None
    if not isinstance(value, dict):
        raise ValueError("Filter pattern must be a JSON object")
    return compile_pattern(value, dialect=dialect)


def message_attributes_event(attributes: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """The event an attribute-based SNS policy is matched against.

    Accepts SNS's wire shape ({"DataType", "StringValue"}) or the event's ({"Type", "Value"}).
    String values stay strings, Number values become numbers, String.Array values become their
    JSON array; Binary attributes are not compared, as SNS documents.
    """
    event: dict[str, Any] = {}
    for name, attr in attributes.items():
        kind = str(attr.get("DataType") or attr.get("Type") or "")
        raw = attr.get("StringValue", attr.get("Value"))
        if kind.startswith("Binary") or raw is None:
            continue
        text = str(raw)
        if kind.startswith("Number"):
            try:
                number = float(text)
                event[name] = number if not math.isfinite(number) or not number.is_integer() else int(number)
            except ValueError:
                event[name] = text
        elif kind.startswith("String.Array"):
            try:
                parsed = json.loads(text)
            except ValueError:
                parsed = text
            event[name] = parsed if isinstance(parsed, list) else text
        else:
            event[name] = text
    return event


def _object(
    pattern: Mapping[str, Any], dialect: str, path: tuple[str, ...], keys: set[str]
) -> tuple[Pattern, int]:
    fields: list[tuple[str, _Field]] = []
    ors: list[list[Pattern]] = []
    combos = 1
    for key, value in pattern.items():
        if not isinstance(key, str):
            raise ValueError("Filter pattern keys must be strings")
        if key == "$or":
            if (
                not isinstance(value, list)
                or len(value) < 2
                or not all(isinstance(v, Mapping) for v in value)
            ):
                raise ValueError('"$or" must be an array of at least two objects')
            branches = [_object(v, dialect, path, keys) for v in value]
            ors.append([b for b, _ in branches])
            combos *= sum(c for _, c in branches)
            continue
        here = (*path, key)
        if isinstance(value, Mapping):
            if dialect == "sns":
                raise ValueError(
                    f'"{key}": nested filter policies are not accepted for attribute-based filtering'
                )
            nested, inner = _object(value, dialect, here, keys)
            fields.append((key, _Field(nested, (), None)))
            combos *= inner
        elif isinstance(value, list):
            if not value:
                raise ValueError(f'"{key}": empty arrays are not allowed')
            keys.add(".".join(here))
            fields.append((key, _leaf(key, value, dialect)))
            combos *= len(value)
        else:
            raise ValueError(f'"{key}" must be an object or an array')
    return Pattern(fields, ors), combos


def _leaf(key: str, conditions: list[Any], dialect: str) -> _Field:
    tests: list[Test] = []
    exists: bool | None = None
    for cond in conditions:
        if isinstance(cond, Mapping):
            if len(cond) != 1:
                raise ValueError(f'"{key}": an operator object must have exactly one key')
            ((op, arg),) = cond.items()
            if op == "exists":
                if not isinstance(arg, bool):
                    raise ValueError(f'"{key}": exists match pattern must be either true or false')
                exists = arg
                continue
            tests.append(_operator(key, op, arg, dialect))
        elif isinstance(cond, list):
            raise ValueError(f'"{key}": match values must be strings, numbers, true, false or null')
        else:
            tests.append(_exact(key, cond, dialect))
    return _Field(None, tests, exists)


def _exact(key: str, want: Any, dialect: str) -> Test:
    if want is None:
        return lambda v: v is None
    if isinstance(want, bool):
        return lambda v: v is want
    if isinstance(want, (int, float)):
        number = _number(key, want, dialect)
        return lambda v: _is_number(v) and float(v) == number
    if isinstance(want, str):
        return lambda v: isinstance(v, str) and v == want
    raise ValueError(f'"{key}": match values must be strings, numbers, true, false or null')


def _operator(key: str, op: str, arg: Any, dialect: str) -> Test:
    if op == "prefix":
        return _affix(key, op, arg, str.startswith)
    if op == "suffix":
        return _affix(key, op, arg, str.endswith)
    if op == "equals-ignore-case":
        folded = _string(key, op, arg).casefold()
        return lambda v: isinstance(v, str) and v.casefold() == folded
    if op == "wildcard":
        regex = _wildcard(key, _string(key, op, arg))
        return lambda v: isinstance(v, str) and regex.fullmatch(v) is not None
    if op == "numeric":
        return _numeric(key, arg, dialect)
    if op == "cidr":
        try:
            network = ipaddress.ip_network(_string(key, op, arg), strict=False)
        except ValueError:
            raise ValueError(f'"{key}": cidr match pattern is not a valid CIDR block: {arg!r}') from None
        return lambda v: _in_network(v, network)
    if op == "anything-but":
        return _anything_but(key, arg, dialect)
    raise ValueError(f'"{key}": unrecognized match type {op}')


def _affix(key: str, op: str, arg: Any, check: Callable[[str, str], bool]) -> Test:
    if isinstance(arg, Mapping) and set(arg) == {"equals-ignore-case"}:
        folded = _string(key, op, arg["equals-ignore-case"]).casefold()
        return lambda v: isinstance(v, str) and check(v.casefold(), folded)
    text = _string(key, op, arg)
    return lambda v: isinstance(v, str) and check(v, text)


def _anything_but(key: str, arg: Any, dialect: str) -> Test:
    if isinstance(arg, Mapping):
        if len(arg) != 1 or next(iter(arg)) not in ("prefix", "suffix", "equals-ignore-case", "wildcard"):
            raise ValueError(f'"{key}": anything-but takes prefix, suffix, equals-ignore-case or wildcard')
        ((op, inner_arg),) = arg.items()
        if isinstance(inner_arg, list) and op in ("equals-ignore-case", "wildcard"):
            inner = [_operator(key, op, a, dialect) for a in inner_arg]
        else:
            inner = [_operator(key, op, inner_arg, dialect)]
        return lambda v: not any(t(v) for t in inner)
    values = arg if isinstance(arg, list) else [arg]
    if not values or any(isinstance(v, (Mapping, list, bool)) or v is None for v in values):
        raise ValueError(f'"{key}": anything-but values must be strings or numbers')
    tests = [_exact(key, v, dialect) for v in values]
    return lambda v: not any(t(v) for t in tests)


_OPS: dict[str, Callable[[float, float], bool]] = {
    "=": lambda a, b: a == b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
}


def _numeric(key: str, arg: Any, dialect: str) -> Test:
    if not isinstance(arg, list) or len(arg) not in (2, 4):
        raise ValueError(f'"{key}": numeric match pattern must be [op, number] or [op, number, op, number]')
    checks: list[tuple[Callable[[float, float], bool], float]] = []
    for i in range(0, len(arg), 2):
        op = arg[i]
        if op not in _OPS:
            raise ValueError(f'"{key}": unrecognized numeric range operator: {op}')
        checks.append((_OPS[op], _number(key, arg[i + 1], dialect)))
    if len(arg) == 4 and not (
        arg[0] in (">", ">=") and arg[2] in ("<", "<=") and checks[0][1] < checks[1][1]
    ):
        raise ValueError(
            f'"{key}": bad numeric range: give a lower bound (> or >=) then a greater upper bound (< or <=)'
        )
    bound = tuple(checks)
    return lambda v: _is_number(v) and all(op(float(v), n) for op, n in bound)


def _number(key: str, value: Any, dialect: str) -> float:
    if not _is_number(value) or not math.isfinite(float(value)):
        raise ValueError(f'"{key}": value must be a number: {value!r}')
    if dialect != "eventbridge" and abs(float(value)) > SNS_NUMBER_LIMIT:
        raise ValueError(f'"{key}": numbers must be between -1.0E9 and 1.0E9 inclusive')
    return float(value)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _string(key: str, op: str, arg: Any) -> str:
    if not isinstance(arg, str):
        raise ValueError(f'"{key}": {op} match pattern must be a string')
    return arg


def _wildcard(key: str, text: str) -> re.Pattern[str]:
    parts: list[str] = []
    escaped = previous_wild = False
    for ch in text:
        wild = False
        if escaped:
            if ch not in "*\\":
                raise ValueError(f'"{key}": wildcard may only escape * and \\')
            parts.append(re.escape(ch))
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch == "*":
            if previous_wild:
                raise ValueError(f'"{key}": consecutive wildcard characters are not allowed')
            parts.append(".*")
            wild = True
        else:
            parts.append(re.escape(ch))
        previous_wild = wild
    if escaped:
        raise ValueError(f'"{key}": wildcard ends with an unfinished escape')
    return re.compile("".join(parts), re.DOTALL)


def _in_network(value: Any, network: ipaddress.IPv4Network | ipaddress.IPv6Network) -> bool:
    if not isinstance(value, str):
        return False
    try:
        return ipaddress.ip_address(value) in network
    except ValueError:
        return False
