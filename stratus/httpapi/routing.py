"""HTTP API route keys: parsing, conflicts and matching, as API Gateway selects a route.

A request takes the most specific route that matches: literal segments before `{variables}`,
variables before a greedy `{name+}`, a named method before `ANY`, and `$default` last.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TypeVar
from urllib.parse import unquote

DEFAULT_ROUTE = "$default"
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "ANY")
_VARIABLE = re.compile(r"^\{([A-Za-z0-9._-]+)(\+?)\}$")
_LITERAL = re.compile(r"^[A-Za-z0-9._~:@!$&'()*+,;=%-]+$")

LITERAL, VARIABLE, GREEDY = 0, 1, 2

T = TypeVar("T")


class BadRouteKey(ValueError):
    pass


@dataclass(frozen=True)
class Segment:
    kind: int
    text: str  # the literal, or the variable's name


@dataclass(frozen=True)
class RouteKey:
    method: str  # "" for $default
    segments: tuple[Segment, ...]

    @property
    def is_default(self) -> bool:
        return self.method == ""

    def shape(self) -> tuple[str, tuple[tuple[int, str], ...]]:
        """What two conflicting keys share: variables' names do not matter."""
        return self.method, tuple((s.kind, s.text if s.kind == LITERAL else "") for s in self.segments)

    def path(self) -> str:
        parts = []
        for s in self.segments:
            parts.append(s.text if s.kind == LITERAL else "{" + s.text + ("+}" if s.kind == GREEDY else "}"))
        return "/" + "/".join(parts)


def parse(route_key: str) -> RouteKey:
    if route_key == DEFAULT_ROUTE:
        return RouteKey("", ())
    method, sep, path = route_key.partition(" ")
    if not sep or method not in METHODS:
        raise BadRouteKey(
            f"Invalid route key {route_key!r}: use $default or 'METHOD /path' with METHOD one of "
            + ", ".join(METHODS)
        )
    if not path.startswith("/") or " " in path or "//" in path:
        raise BadRouteKey(
            f"Invalid route key {route_key!r}: the path must start with / and have no empty segments"
        )
    raw = [p for p in path.strip("/").split("/")] if path != "/" else []
    segments: list[Segment] = []
    for i, part in enumerate(raw):
        variable = _VARIABLE.match(part)
        if variable:
            greedy = variable.group(2) == "+"
            if greedy and i != len(raw) - 1:
                raise BadRouteKey(
                    f"Invalid route key {route_key!r}: a greedy variable must be the last segment"
                )
            segments.append(Segment(GREEDY if greedy else VARIABLE, variable.group(1)))
        elif _LITERAL.match(part) and "{" not in part and "}" not in part:
            segments.append(Segment(LITERAL, part))
        else:
            raise BadRouteKey(f"Invalid route key {route_key!r}: bad path segment {part!r}")
    names = [s.text for s in segments if s.kind != LITERAL]
    if len(names) != len(set(names)):
        raise BadRouteKey(f"Invalid route key {route_key!r}: a path variable is named twice")
    return RouteKey(method, tuple(segments))


def split_path(path: str) -> list[str]:
    stripped = path.strip("/")
    return stripped.split("/") if stripped else []


def match_one(key: RouteKey, method: str, parts: list[str]) -> dict[str, str] | None:
    if key.is_default:
        return {}
    if key.method not in ("ANY", method):
        return None
    params: dict[str, str] = {}
    for i, segment in enumerate(key.segments):
        if segment.kind == GREEDY:
            rest = parts[i:]
            if not rest:
                return None
            params[segment.text] = unquote("/".join(rest))
            return params
        if i >= len(parts):
            return None
        if segment.kind == LITERAL:
            if unquote(parts[i]) != unquote(segment.text):
                return None
        else:
            params[segment.text] = unquote(parts[i])
    return params if len(parts) == len(key.segments) else None


def _rank(key: RouteKey) -> tuple[int, tuple[int, ...], int]:
    if key.is_default:
        return (2, (), 1)
    greedy = int(any(s.kind == GREEDY for s in key.segments))
    return (greedy, tuple(s.kind for s in key.segments), int(key.method == "ANY"))


def select(
    routes: Iterable[tuple[RouteKey, T]], method: str, path: str
) -> tuple[RouteKey, T, dict[str, str]] | None:
    """The route a request takes, with its path parameters, or None."""
    parts = split_path(path)
    best: tuple[tuple[int, tuple[int, ...], int], RouteKey, T, dict[str, str]] | None = None
    for key, value in routes:
        params = match_one(key, method, parts)
        if params is None:
            continue
        rank = _rank(key)
        if best is None or rank < best[0]:
            best = (rank, key, value, params)
    if best is None:
        return None
    return best[1], best[2], best[3]
