"""AWS's query protocol, for the services whose older clients still speak it (CloudWatch:
the AWS CLI v2 as Debian ships it, and the Go SDK under Grafana's CloudWatch data source).

A request is a form (`Action=GetMetricStatistics&Version=2010-08-01&Dimensions.member.1.Name=...`);
`parse_form` turns it into the same parameters the JSON protocol carries, so one operation
serves both, and `to_xml` writes the operation's result as the query protocol's XML answer.
Both are pure.
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from xml.sax.saxutils import escape

# Parameters that arrive as text but that operations take as numbers; timestamps become epoch
# seconds, as the JSON protocol sends them.
TIMESTAMPS = frozenset({"StartTime", "EndTime"})
INTEGERS = frozenset({"Period", "MaxDatapoints"})
# Result fields written as ISO 8601 rather than the epoch seconds operations return.
TIMESTAMP_FIELDS = frozenset({"Timestamp", "Timestamps"})
# Result maps, written as entry/key/value.
MAPS = frozenset({"ExtendedStatistics"})
MAX_DEPTH = 16  # parts of a parameter name; CloudWatch's deepest is 8 (a query's dimension)


class QueryError(ValueError):
    """A form that cannot be read as parameters."""


def parse_form(pairs: list[tuple[str, str]]) -> tuple[str, dict[str, Any]]:
    """(the Action, its parameters); `Foo.member.N` becomes the Nth item of list `Foo`."""
    action = ""
    root: dict[str, Any] = {}
    for key, value in pairs:
        if key == "Action":
            action = value
            continue
        if key == "Version":
            continue
        path = key.split(".")
        if len(path) > MAX_DEPTH:
            raise QueryError(f"The parameter name {key[:100]} is nested too deeply.")
        _place(root, path, _convert(path[-1], value))
    return action, _lists(root)


def _place(node: dict[str, Any], path: list[str], value: Any) -> None:
    for i, part in enumerate(path[:-1]):
        if not part:
            raise QueryError(f"The parameter name {'.'.join(path)} is malformed.")
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            raise QueryError(f"The parameter {'.'.join(path[: i + 1])} is given twice.")
        node = child
    node[path[-1]] = value


def _lists(node: Any) -> Any:
    """Dicts of `member` -> {index: item} become lists ordered by index."""
    if not isinstance(node, dict):
        return node
    if set(node) == {"member"} and isinstance(node["member"], dict):
        members = node["member"]
        if not all(k.isdigit() for k in members):
            raise QueryError("List members must be numbered member.1, member.2, ...")
        return [_lists(members[k]) for k in sorted(members, key=int)]
    return {k: _lists(v) for k, v in node.items()}


def _convert(name: str, value: str) -> Any:
    if name in TIMESTAMPS:
        try:
            stamp = dt.datetime.fromisoformat(value)
        except ValueError:
            try:
                return float(value)
            except ValueError:
                raise QueryError(f"{name} must be an ISO 8601 timestamp.") from None
        if stamp.tzinfo is None:
            stamp = stamp.replace(tzinfo=dt.UTC)
        return stamp.timestamp()
    if name in INTEGERS:
        try:
            return int(value)
        except ValueError:
            raise QueryError(f"{name} must be an integer.") from None
    return value


def to_xml(action: str, namespace: str, result: dict[str, Any], request_id: str) -> bytes:
    body = "".join(_element(k, v) for k, v in result.items())
    return (
        f'<{action}Response xmlns="{namespace}"><{action}Result>{body}</{action}Result>'
        f"<ResponseMetadata><RequestId>{request_id}</RequestId></ResponseMetadata></{action}Response>"
    ).encode()


def error_xml(code: str, message: str, sender_fault: bool, request_id: str) -> bytes:
    kind = "Sender" if sender_fault else "Receiver"
    return (
        f"<ErrorResponse><Error><Type>{kind}</Type><Code>{escape(code)}</Code>"
        f"<Message>{escape(message)}</Message></Error><RequestId>{request_id}</RequestId></ErrorResponse>"
    ).encode()


def _element(name: str, value: Any) -> str:
    return "" if value is None else f"<{name}>{_content(name, value)}</{name}>"


def _content(name: str, value: Any) -> str:
    if isinstance(value, dict):
        if name in MAPS:
            return "".join(
                f"<entry><key>{escape(k)}</key>{_element('value', v)}</entry>" for k, v in value.items()
            )
        return "".join(_element(k, v) for k, v in value.items())
    if isinstance(value, list):
        # Members take the list's name for typing: the members of Timestamps are timestamps.
        return "".join(f"<member>{_content(name, v)}</member>" for v in value)
    return _scalar(name, value)


def _scalar(name: str, value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if name in TIMESTAMP_FIELDS and isinstance(value, int | float):
        return dt.datetime.fromtimestamp(value, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return escape(str(value))
