"""What a rule's target receives in place of the event: `Input` (constant JSON), `InputPath`
(a part of the event) or `InputTransformer` (variables read from the event by JSONPath, then
written into a template). Pure functions.

Templates follow EventBridge's rules: in a template that is JSON, a `<var>` inside a string
literal is written into the string (a string as its characters, anything else as its JSON,
escaped), and a `<var>` outside one is written as a JSON value (null when its path found
nothing). A template that is not JSON is text, and each variable is written as its text.
`<aws.events.event>` is the event without its detail and `<aws.events.event.json>` the whole
event, both as JSON; `<aws.events.rule-arn>`, `<aws.events.rule-name>` and
`<aws.events.event.ingestion-time>` are the other predefined variables.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from typing import Any

from stratus.errors import ValidationError

MAX_VARIABLES = 100
PREDEFINED = (
    "aws.events.rule-arn",
    "aws.events.rule-name",
    "aws.events.event.ingestion-time",
    "aws.events.event",
    "aws.events.event.json",
)
_MISSING: Any = object()
_STEP = re.compile(r"\.\*|\.([^.\[\]\s]+)|\[(\d+)\]|\['([^']*)'\]|\[\*\]")
_VARIABLE = re.compile(r"<([A-Za-z0-9_.:\-]+)>")
_VAR_NAME = re.compile(r"^[A-Za-z0-9_\-]+$")


def _steps(path: str) -> list[re.Match[str]] | None:
    """The steps of a JSONPath after its `$`, or None when it is not one EventBridge accepts."""
    if not isinstance(path, str) or not path.startswith("$"):
        return None
    steps = []
    rest = path[1:]
    while rest:
        match = _STEP.match(rest)
        if match is None:
            return None
        steps.append(match)
        rest = rest[match.end() :]
    return steps


def check_path(path: str, what: str = "InputPath") -> None:
    """A JSONPath EventBridge accepts: `$`, then `.name`, `[n]`, `['name']` or `*` steps."""
    if _steps(path) is None:
        raise ValidationError(f"{what} is not a valid JSON path: {path!r}")


def select(value: Any, path: str) -> Any:
    """The value at a JSONPath (checked by `check_path`), or `_MISSING`. A wildcard step
    gathers every element's value into a list."""
    current: list[Any] = [value]
    wild = False
    steps = _steps(path)
    assert steps is not None  # checked when the target was put
    for match in steps:
        name, index, quoted = match.group(1), match.group(2), match.group(3)
        following: list[Any] = []
        for item in current:
            if index is not None:
                if isinstance(item, list) and int(index) < len(item):
                    following.append(item[int(index)])
            elif name is not None or quoted is not None:
                key = name if name is not None else quoted
                if isinstance(item, Mapping) and key in item:
                    following.append(item[key])
            else:  # a wildcard
                wild = True
                if isinstance(item, Mapping):
                    following.extend(item.values())
                elif isinstance(item, list):
                    following.extend(item)
        current = following
    if wild:
        return current
    return current[0] if current else _MISSING


def check_transformer(paths: Mapping[str, str], template: str) -> None:
    if len(paths) > MAX_VARIABLES:
        raise ValidationError(f"InputPathsMap can have at most {MAX_VARIABLES} entries.")
    for name, path in paths.items():
        if name in PREDEFINED or name.startswith("aws."):
            raise ValidationError(f"InputTransformer: {name} is a reserved variable name.")
        if not _VAR_NAME.match(name):
            raise ValidationError(f"InputTransformer: {name!r} is not a valid variable name.")
        check_path(path, "InputPathsMap")


def target_input(
    event: Mapping[str, Any],
    *,
    input: str | None,
    input_path: str | None,
    paths: Mapping[str, str] | None,
    template: str | None,
    rule_name: str,
    rule_arn: str,
    ingestion_time: str,
) -> bytes:
    """The bytes a target receives for an event."""
    if input is not None:
        return input.encode()
    if input_path is not None:
        value = select(event, input_path)
        return json.dumps(None if value is _MISSING else value).encode()
    if template is not None:
        values: dict[str, Any] = {name: select(event, path) for name, path in (paths or {}).items()}
        values["aws.events.rule-arn"] = rule_arn
        values["aws.events.rule-name"] = rule_name
        values["aws.events.event.ingestion-time"] = ingestion_time
        values["aws.events.event"] = _Raw({k: v for k, v in event.items() if k != "detail"})
        values["aws.events.event.json"] = _Raw(dict(event))
        return render(template, values).encode()
    return json.dumps(event).encode()


class _Raw:
    """A value written as its JSON, unescaped, wherever it appears."""

    def __init__(self, value: Any) -> None:
        self.value = value


def render(template: str, values: Mapping[str, Any]) -> str:
    json_template = _is_json_template(template, values)
    out: list[str] = []
    for variable, text, in_string in _pieces(template, values):
        if variable is None:
            out.append(text)
        elif not json_template:
            out.append(_text(values[variable]))
        elif in_string:
            out.append(_in_string(values[variable]))
        else:
            out.append(_json(values[variable]))
    return "".join(out)


def _is_json_template(template: str, values: Mapping[str, Any]) -> bool:
    """Whether the template is JSON once each variable outside a string is a value."""
    probe = [
        text if variable is None else "x" if in_string else "null"
        for variable, text, in_string in _pieces(template, values)
    ]
    try:
        json.loads("".join(probe))
    except ValueError:
        return False
    return True


def _pieces(template: str, values: Mapping[str, Any]) -> Iterator[tuple[str | None, str, bool]]:
    """The template as (variable, text, in_string): each `<name>` of a known variable as its
    name (text ""), every other character as itself (variable None), each with whether it
    stands inside a JSON string literal, were the template JSON."""
    in_string = escaped = False
    i = 0
    while i < len(template):
        ch = template[i]
        match = _VARIABLE.match(template, i) if ch == "<" else None
        if match is not None and match.group(1) in values:
            yield match.group(1), "", in_string
            i = match.end()
            continue
        yield None, ch, in_string
        if escaped:
            escaped = False
        elif ch == "\\" and in_string:
            escaped = True
        elif ch == '"':
            in_string = not in_string
        i += 1


def _json(value: Any) -> str:
    if isinstance(value, _Raw):
        return json.dumps(value.value)
    return "null" if value is _MISSING else json.dumps(value)


def _in_string(value: Any) -> str:
    if isinstance(value, _Raw):
        return json.dumps(value.value)
    if value is _MISSING or value is None:
        return ""
    text = value if isinstance(value, str) else json.dumps(value)
    return json.dumps(text)[1:-1]


def _text(value: Any) -> str:
    if isinstance(value, _Raw):
        return json.dumps(value.value)
    if value is _MISSING or value is None:
        return ""
    return value if isinstance(value, str) else json.dumps(value)
