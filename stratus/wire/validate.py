"""An operation's input checked against its botocore shape, with AWS's own wording.

AWS services built on the same models answer a bad input with one message listing every
problem: "2 validation errors detected: Value 'x' at 'logGroupName' failed to satisfy
constraint: Member must have length less than or equal to 512; Value null at 'logStreamName'
failed to satisfy constraint: Member must not be null". Member paths use the members' names
with a lower-case first letter, list items as `name.N.member` (from 1). `validate` returns
the problems (one string each), `message` joins them; the dispatcher maps them to each
service's own validation error. Pure: handlers can then trust required members, types,
lengths, ranges, enums and (where Python's `re` reads the model's Java regex) patterns.
"""

from __future__ import annotations

import contextvars
import datetime as dt
from collections.abc import Mapping
from typing import Any

from botocore.model import Shape

from stratus.wire.samples import compiled

NUMBERS = ("integer", "long", "float", "double")


def validate(
    shape: Shape | None, params: Mapping[str, Any], *, unchecked_enums: frozenset[str] = frozenset()
) -> list[str]:
    """Every problem with `params` as input of `shape` (none for an operation without input).
    `unchecked_enums` names string shapes whose enum the service checks itself (where its
    model's enum is narrower than what the service accepts)."""
    if shape is None:
        return []
    problems: list[str] = []
    token = _UNCHECKED.set(unchecked_enums)
    try:
        _structure(shape, params, "", problems)
    finally:
        _UNCHECKED.reset(token)
    return problems


# The enums of the validation running now that its service checks itself (set by `validate`).
_UNCHECKED: contextvars.ContextVar[frozenset[str]] = contextvars.ContextVar(
    "unchecked_enums", default=frozenset()
)


def message(problems: list[str]) -> str:
    count = len(problems)
    noun = "error" if count == 1 else "errors"
    return f"{count} validation {noun} detected: " + "; ".join(problems)


def _problem(value: Any, path: str, constraint: str) -> str:
    shown = "null" if value is None else f"'{_show(value)}'"
    return f"Value {shown} at '{path}' failed to satisfy constraint: {constraint}"


def _show(value: Any) -> str:
    """The value as AWS's Java services print it: lists as [a, b], maps as {k=v}."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_show(v) for v in value) + "]"
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{_show(k)}={_show(v)}" for k, v in value.items()) + "}"
    if isinstance(value, bytes | bytearray):
        return f"java.nio.HeapByteBuffer[pos=0 lim={len(value)} cap={len(value)}]"
    return str(value)


def _child(path: str, name: str) -> str:
    name = name[:1].lower() + name[1:]
    return f"{path}.{name}" if path else name


def _check(shape: Shape, value: Any, path: str, problems: list[str]) -> None:
    kind = shape.type_name
    if shape.metadata.get("document"):
        return  # any JSON value is a document
    if kind == "structure":
        if not isinstance(value, Mapping):
            problems.append(_problem(value, path, "Member must be a structure"))
        else:
            _structure(shape, value, path, problems)
    elif kind == "list":
        if not isinstance(value, list | tuple):
            problems.append(_problem(value, path, "Member must be a list"))
            return
        _length(shape, value, len(value), path, problems)
        for i, item in enumerate(value, 1):
            if item is not None:
                _check(shape.member, item, f"{path}.{i}.member", problems)
    elif kind == "map":
        if not isinstance(value, Mapping):
            problems.append(_problem(value, path, "Member must be a map"))
            return
        _length(shape, value, len(value), path, problems)
        _map(shape, value, path, problems)
    elif kind == "string":
        if not isinstance(value, str):
            problems.append(_problem(value, path, "Member must be a string"))
            return
        _length(shape, value, len(value), path, problems)
        _enum(shape, value, path, problems)
        pattern = compiled(shape.metadata.get("pattern"))
        if pattern is not None and pattern.fullmatch(value) is None:
            problems.append(
                _problem(value, path, f"Member must satisfy regular expression pattern: {pattern.pattern}")
            )
    elif kind in NUMBERS:
        _number(shape, value, path, problems)
    elif kind == "boolean":
        if not isinstance(value, bool):
            problems.append(_problem(value, path, "Member must be a boolean"))
    elif kind == "timestamp":
        # Parsers give datetimes; a handler calling another may pass epoch seconds, as boto3 allows.
        if isinstance(value, bool) or not isinstance(value, dt.datetime | int | float):
            problems.append(_problem(value, path, "Member must be a timestamp"))
    elif kind == "blob":
        if not isinstance(value, bytes | bytearray | str):
            problems.append(_problem(value, path, "Member must be a blob"))
        elif not shape.serialization.get("streaming"):
            _length(shape, value, len(value), path, problems)


def _structure(shape: Shape, value: Mapping[str, Any], path: str, problems: list[str]) -> None:
    members = shape.members
    for name in shape.required_members:
        if value.get(name) is None:
            problems.append(_problem(None, _child(path, name), "Member must not be null"))
    for name, item in value.items():
        member = members.get(name)
        # Unknown members are ignored, as AWS's JSON services ignore them.
        if member is not None and item is not None:
            _check(member, item, _child(path, name), problems)


def _map(shape: Shape, value: Mapping[Any, Any], path: str, problems: list[str]) -> None:
    # AWS reports a map's keys and values as one constraint on the map itself.
    for label, sub, items in (("keys", shape.key, value.keys()), ("value", shape.value, value.values())):
        found: list[str] = []
        for item in items:
            if item is not None:
                _check(sub, item, path, found)
        if found:
            constraints = sorted({p.split("failed to satisfy constraint: ", 1)[1] for p in found})
            text = f"Map {label} must satisfy constraint: [{', '.join(constraints)}]"
            problems.append(f"Value at '{path}' failed to satisfy constraint: {text}")


def _length(shape: Shape, value: Any, size: int, path: str, problems: list[str]) -> None:
    low, high = shape.metadata.get("min"), shape.metadata.get("max")
    if low is not None and size < low:
        problems.append(
            _problem(value, path, f"Member must have length greater than or equal to {_bound(low)}")
        )
    if high is not None and size > high:
        problems.append(
            _problem(value, path, f"Member must have length less than or equal to {_bound(high)}")
        )


def _number(shape: Shape, value: Any, path: str, problems: list[str]) -> None:
    integral = shape.type_name in ("integer", "long")
    kinds: tuple[type, ...] = (int,) if integral else (int, float)
    if isinstance(value, bool) or not isinstance(value, kinds):
        noun = "an integer" if integral else "a number"
        problems.append(_problem(value, path, f"Member must be {noun}"))
        return
    low, high = shape.metadata.get("min"), shape.metadata.get("max")
    if low is not None and value < low:
        problems.append(
            _problem(value, path, f"Member must have value greater than or equal to {_bound(low)}")
        )
    if high is not None and value > high:
        problems.append(_problem(value, path, f"Member must have value less than or equal to {_bound(high)}"))


def _enum(shape: Shape, value: str, path: str, problems: list[str]) -> None:
    if shape.name in _UNCHECKED.get():
        return
    enum = shape.metadata.get("enum")
    if enum and value not in enum:
        problems.append(_problem(value, path, f"Member must satisfy enum value set: [{', '.join(enum)}]"))


def _bound(bound: float) -> str:
    return str(int(bound)) if float(bound).is_integer() else str(bound)
