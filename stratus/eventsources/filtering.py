"""FilterCriteria (pure): Lambda's filter syntax (EventBridge's patterns, events/patterns.py)
over each record. A record matches when any of the mapping's patterns does; with none, every
record matches. For SQS the record's `body` is matched as JSON when it is a JSON object and
as plain text otherwise, as Lambda documents."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from stratus.events.patterns import Pattern, parse_pattern

MAX_FILTERS = 5  # Lambda's default quota of filters per mapping


class Filters:
    def __init__(self, patterns: Sequence[str]) -> None:
        self._patterns: tuple[Pattern, ...] = tuple(parse_pattern(p) for p in patterns)

    def matches(self, view: Mapping[str, Any]) -> bool:
        return not self._patterns or any(p.matches(view) for p in self._patterns)


def check(patterns: Sequence[str]) -> str | None:
    """Why FilterCriteria are refused, or None."""
    if len(patterns) > MAX_FILTERS:
        return f"The number of filters exceeds the limit of {MAX_FILTERS}."
    for pattern in patterns:
        try:
            parse_pattern(pattern)
        except ValueError as e:
            return f"Invalid filter pattern definition. {e}"
    return None


def body_view(body: str) -> Any:
    """A message body as filters see it: the parsed object when the body is a JSON object."""
    if body[:1] in ("{", "["):
        try:
            return json.loads(body)
        except ValueError:
            return body
    return body
