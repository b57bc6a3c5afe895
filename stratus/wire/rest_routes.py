"""Which operation a REST request calls: a route table per service built from the model's
`http.method` and `http.requestUri`, and a pure, fast match of a request against it.

A request URI template has path segments (literal, `{Label}`, greedy `{Key+}`, or a literal
with labels inside it) and, after `?`, literal query parts that must be present to match
(`?tagging`, `?list-type=2`). Several operations can share a template (S3's PutObject,
CopyObject, UploadPart and UploadPartCopy are all `PUT /{Bucket}/{Key+}`): they differ only by
the query keys and headers they require, so those break the tie."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from urllib.parse import unquote

from botocore.model import ServiceModel

from stratus.wire.types import BadRequest, WireRequest

_LABEL = re.compile(r"\{([^}]+)\}")


@dataclass(frozen=True)
class NoRoute:
    """What a request that matches no route is told; each service has its own answer (Lambda:
    404 UnknownOperationException; S3 its own codes), so the protocol takes it as a parameter."""

    code: str = "UnknownOperationException"
    status: int = 404
    message: str = "Unknown operation: {method} {path}"


@dataclass(frozen=True)
class Segment:
    """One path segment of a template: a literal, a label, a greedy label (the rest of the path,
    slashes included) or a literal with labels inside (matched by `pattern`)."""

    literal: str | None = None
    label: str | None = None
    greedy: bool = False
    pattern: re.Pattern[str] | None = None


@dataclass(frozen=True)
class Route:
    operation: str
    method: str
    segments: tuple[Segment, ...]
    query: tuple[tuple[str, str | None], ...]  # literal query parts: key, and value if given
    required_query: tuple[str, ...]  # wire names of required querystring members
    required_headers: tuple[str, ...]  # lower-case names of required header members
    deprecated: bool
    order: int

    @property
    def literals(self) -> int:
        return sum(1 for s in self.segments if s.literal is not None)


def _segment(text: str) -> Segment:
    whole = _LABEL.fullmatch(text)
    if whole:
        name = whole.group(1)
        return Segment(label=name.rstrip("+"), greedy=name.endswith("+"))
    if "{" not in text:
        return Segment(literal=text)
    # A literal with labels inside (rare in the models): match the segment with a pattern.
    parts, last = [], 0
    for m in _LABEL.finditer(text):
        parts.append(re.escape(text[last : m.start()]))
        parts.append(f"(?P<{m.group(1).rstrip('+')}>.+?)")
        last = m.end()
    parts.append(re.escape(text[last:]))
    return Segment(pattern=re.compile("".join(parts)))


def _route(service: ServiceModel, name: str, order: int) -> Route:
    op = service.operation_model(name)
    path, _, query = op.http["requestUri"].partition("?")
    literal_query: list[tuple[str, str | None]] = []
    for part in filter(None, query.split("&")):
        key, eq, value = part.partition("=")
        literal_query.append((unquote(key), unquote(value) if eq else None))
    required_query: list[str] = []
    required_headers: list[str] = []
    shape = op.input_shape
    if shape is not None:
        for member in shape.required_members:
            where = shape.members[member].serialization
            wire = where.get("name", member)
            if where.get("location") == "querystring":
                required_query.append(wire)
            elif where.get("location") == "header":
                required_headers.append(wire.lower())
    segments = tuple(_segment(s) for s in path.strip("/").split("/")) if path.strip("/") else ()
    return Route(
        operation=name,
        method=op.http.get("method", "POST").upper(),
        segments=segments,
        query=tuple(literal_query),
        required_query=tuple(required_query),
        required_headers=tuple(required_headers),
        deprecated=bool(op.deprecated),
        order=order,
    )


@dataclass(frozen=True)
class RouteTable:
    """Routes indexed by (method, first literal segment); routes whose first segment is a label
    sit under (method, None) and are tried with every request of that method."""

    by_key: Mapping[tuple[str, str | None], tuple[Route, ...]]

    def match(self, request: WireRequest, no_route: NoRoute = NoRoute()) -> tuple[Route, dict[str, str]]:
        raw = request.raw_path.split("?", 1)[0]
        parts = raw.strip("/").split("/") if raw.strip("/") else []
        # A trailing slash (`/2015-03-31/functions/`) names the same resource; greedy labels
        # see it, since an S3 key may end with one.
        trailing = raw.endswith("/") and len(raw) > 1
        method = request.method.upper()
        first = parts[0] if parts else ""
        candidates = self.by_key.get((method, first), ()) + self.by_key.get((method, None), ())
        query: dict[str, str] = {}
        for key, value in request.query:
            query.setdefault(key, value)
        best: tuple[tuple[int, ...], Route, dict[str, str]] | None = None
        for route in candidates:
            if any(k not in query or (v is not None and query[k] != v) for k, v in route.query):
                continue
            labels = _match_path(route.segments, parts, trailing)
            if labels is None:
                continue
            present = sum(1 for k in route.required_query if k in query) + sum(
                1 for h in route.required_headers if h in request.headers
            )
            complete = present == len(route.required_query) + len(route.required_headers)
            rank = (route.literals, len(route.query), complete, present, not route.deprecated, -route.order)
            if best is None or rank > best[0]:
                best = (rank, route, labels)
        if best is None:
            message = no_route.message.format(method=request.method, path=raw)
            raise BadRequest(no_route.code, message, no_route.status)
        return best[1], best[2]


def _match_path(segments: tuple[Segment, ...], parts: list[str], trailing: bool) -> dict[str, str] | None:
    labels: dict[str, str] = {}
    for i, seg in enumerate(segments):
        if seg.greedy:
            tail = len(segments) - i - 1
            if len(parts) - i - tail < 1:
                return None
            rest = parts[i : len(parts) - tail]
            value = "/".join(rest) + ("/" if trailing and tail == 0 else "")
            labels[seg.label or ""] = unquote(value)
            sub = _match_path(segments[i + 1 :], parts[len(parts) - tail :], trailing)
            if sub is None:
                return None
            labels.update(sub)
            return labels
        if i >= len(parts):
            return None
        part = parts[i]
        if seg.literal is not None:
            if part != seg.literal:
                return None
        elif seg.label is not None:
            if not part:
                return None
            # Labels are split on the raw path first, so an encoded slash stays in the label.
            labels[seg.label] = unquote(part)
        elif seg.pattern is not None:
            m = seg.pattern.fullmatch(part)
            if m is None:
                return None
            labels.update({k: unquote(v) for k, v in m.groupdict().items()})
    if len(parts) != len(segments):
        return None
    return labels


@cache
def route_table(service: ServiceModel) -> RouteTable:
    """The table of one service, built once per process (models are cached, so is this)."""
    index: dict[tuple[str, str | None], list[Route]] = {}
    for order, name in enumerate(service.operation_names):
        route = _route(service, name, order)
        first = route.segments[0].literal if route.segments else ""
        index.setdefault((route.method, first), []).append(route)
    return RouteTable({k: tuple(v) for k, v in index.items()})
