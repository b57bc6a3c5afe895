"""What rest-json and rest-xml share: the HTTP bindings of a model's members.

Input: `location: uri` from the route's labels, `querystring` (scalars, lists as repeated keys,
a `map` as the rest of the query), `header` (lists comma-separated, timestamps rfc822 unless
the member's `timestampFormat` says otherwise, `jsonvalue` as base64 JSON), `headers` (a map
bound to a name prefix such as S3's `x-amz-meta-`), the `payload` member (a structure, or bytes,
or text) and the rest from the body. Output: the `statusCode` member, header members, the
payload, and the body. Only the body's format differs between the two protocols: a `Codec`."""

from __future__ import annotations

import base64
import binascii
import calendar
import json
import math
from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import formatdate, parsedate_to_datetime
from functools import cache
from typing import Any, Protocol

from botocore.model import OperationModel, ServiceModel, Shape, StructureShape

from stratus.wire.eventstream import encode_events
from stratus.wire.types import BadRequest, WireRequest

HEADER_TIMESTAMP = "rfc822"


class Codec(Protocol):
    """A body format. `top` means the shape is an operation's input or output: its members
    bound to a location (uri, header, ...) are not in the body."""

    @property
    def media_type(self) -> str: ...

    def read(self, shape: Shape, body: bytes, top: bool) -> Any: ...

    def write(self, shape: Shape, value: Any, top: bool) -> bytes: ...


@cache
def error_shapes(service: ServiceModel) -> dict[str, StructureShape]:
    """The modeled error shapes by code: the shape's name, and its `error.code` when it has one."""
    shapes: dict[str, StructureShape] = {}
    for shape in service.error_shapes:
        shapes[shape.name] = shape
        code = shape.metadata.get("error", {}).get("code")
        if code:
            shapes[code] = shape
    return shapes


# -- scalars ---------------------------------------------------------------------------------


def to_datetime(value: Any) -> datetime:
    """A timestamp in any of the wire's forms (epoch seconds, ISO 8601, RFC 822) as an aware
    datetime: clients are not always held to the format the model names."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value, UTC)
    text = str(value).strip()
    try:
        return datetime.fromtimestamp(float(text), UTC)
    except ValueError:
        pass
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        try:
            parsed = parsedate_to_datetime(text)
        except (TypeError, ValueError) as e:
            raise BadRequest("SerializationException", f"Invalid timestamp: {text!r}") from e
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def format_timestamp(value: Any, fmt: str) -> str | int | float:
    """`fmt` is a model timestampFormat: iso8601, rfc822 or unixTimestamp."""
    when = to_datetime(value)
    fmt = fmt.lower()
    if fmt == "unixtimestamp":
        whole = calendar.timegm(when.utctimetuple())
        return whole + when.microsecond / 1e6 if when.microsecond else whole
    if fmt == "rfc822":
        return formatdate(calendar.timegm(when.utctimetuple()), usegmt=True)
    when = when.astimezone(UTC)
    text = when.strftime("%Y-%m-%dT%H:%M:%S")
    return f"{text}.{when.microsecond // 1000:03d}Z" if when.microsecond else text + "Z"


def float_out(value: float) -> float | str:
    """Infinities and NaN travel as strings, as botocore writes and reads them."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return value


def from_text(shape: Shape, text: str) -> Any:
    """A scalar from a label, query value or header (a timestamp in any of the wire's forms)."""
    kind = shape.type_name
    try:
        if kind in ("integer", "long"):
            return int(text)
        if kind in ("float", "double"):
            return float(text)
    except ValueError as e:
        raise BadRequest("SerializationException", f"Invalid number: {text!r}") from e
    if kind == "boolean":
        return text.strip().lower() == "true"
    if kind == "timestamp":
        return to_datetime(text)
    if kind == "blob":
        return b64decode(text)
    if shape.serialization.get("jsonvalue"):
        try:
            return json.loads(base64.b64decode(text))
        except (ValueError, binascii.Error) as e:
            raise BadRequest("SerializationException", "Invalid JSON value header") from e
    return text


def to_text(shape: Shape, value: Any, default_ts: str) -> str:
    """A scalar as a header or query value, as botocore's serializer writes one."""
    kind = shape.type_name
    if kind == "timestamp":
        return str(format_timestamp(value, shape.serialization.get("timestampFormat", default_ts)))
    if kind == "boolean":
        return "true" if value else "false"
    if kind in ("float", "double"):
        return str(float_out(float(value)))
    if kind == "blob":
        return base64.b64encode(value if isinstance(value, bytes) else str(value).encode()).decode()
    if shape.serialization.get("jsonvalue"):
        return base64.b64encode(json.dumps(value, separators=(",", ":")).encode()).decode()
    return str(value)


def b64decode(text: str | bytes) -> bytes:
    try:
        return base64.b64decode(text)
    except (ValueError, TypeError, binascii.Error) as e:  # TypeError: a JSON number, say
        raise BadRequest("SerializationException", "Invalid base64 value") from e


def split_header_list(text: str) -> list[str]:
    """A comma-separated header list; items with a comma or quote arrive quoted, with inner
    quotes escaped (botocore's `_escape_header_list_string`)."""
    items: list[str] = []
    i, n = 0, len(text)
    while i < n:
        while i < n and text[i] in " \t":
            i += 1
        if i < n and text[i] == '"':
            i += 1
            buf = []
            while i < n and text[i] != '"':
                if text[i] == "\\" and i + 1 < n:
                    i += 1
                buf.append(text[i])
                i += 1
            items.append("".join(buf))
            i = text.find(",", i)
            i = n if i < 0 else i + 1
        else:
            j = text.find(",", i)
            j = n if j < 0 else j
            items.append(text[i:j].strip())
            i = j + 1
    return items


# -- requests --------------------------------------------------------------------------------


def read_request(
    operation: OperationModel, request: WireRequest, labels: Mapping[str, str], codec: Codec
) -> dict[str, Any]:
    shape = operation.input_shape
    if shape is None:
        return {}
    params: dict[str, Any] = {}
    query: dict[str, list[str]] = {}
    for key, value in request.query:
        query.setdefault(key, []).append(value)
    bound_query: set[str] = set()
    query_map: tuple[str, Shape] | None = None
    body_members = False
    for name, member in shape.members.items():
        where = member.serialization
        location = where.get("location")
        wire = where.get("name", name)
        if location == "uri":
            if wire in labels:
                params[name] = from_text(member, labels[wire])
        elif location == "querystring":
            if member.type_name == "map":
                query_map = (name, member)
                continue
            bound_query.add(wire)
            if wire not in query:
                continue
            if member.type_name == "list":
                params[name] = [from_text(member.member, v) for v in query[wire]]  # type: ignore[attr-defined]
            else:
                params[name] = from_text(member, query[wire][0])
        elif location == "header":
            text = request.header(wire)
            if text is None:
                continue
            if member.type_name == "list":
                item = member.member  # type: ignore[attr-defined]
                params[name] = [from_text(item, v) for v in split_header_list(text)]
            else:
                params[name] = from_text(member, text)
        elif location == "headers":
            prefix = wire.lower()
            found = {k[len(prefix) :]: v for k, v in request.headers.items() if k.lower().startswith(prefix)}
            if found:
                params[name] = found
        elif location is None and name != shape.serialization.get("payload"):
            body_members = True
    if query_map is not None:
        name, member = query_map
        many = member.value.type_name == "list"  # type: ignore[attr-defined]
        rest = {k: (v if many else v[0]) for k, v in query.items() if k not in bound_query}
        if rest:
            params[name] = rest
    params.update(_read_body(shape, request.body, body_members, codec))
    return params


def _read_body(shape: StructureShape, body: bytes, body_members: bool, codec: Codec) -> dict[str, Any]:
    payload = shape.serialization.get("payload")
    if payload is not None:
        member = shape.members[payload]
        if member.type_name == "blob":
            return {payload: body} if body else {}
        if member.type_name == "string":
            return {payload: body.decode("utf-8", "replace")} if body else {}
        if not body.strip():
            return {}
        return {payload: codec.read(member, body, False)}
    if not body_members or not body.strip():
        return {}
    value = codec.read(shape, body, True)
    return value if isinstance(value, dict) else {}


# -- responses -------------------------------------------------------------------------------


def write_response(
    operation: OperationModel, result: Mapping[str, Any], codec: Codec
) -> tuple[int, list[tuple[str, str]], bytes]:
    """The status, headers and body of an operation's answer (the protocol adds its request-id
    headers)."""
    status = int(operation.http.get("responseCode", 200))
    headers: list[tuple[str, str]] = []
    shape = operation.output_shape
    if shape is None:
        return status, headers, b""
    body_result: dict[str, Any] = {}
    for name, value in result.items():
        member = shape.members.get(name)
        if member is None or value is None:
            continue
        where = member.serialization
        location = where.get("location")
        if location == "statusCode":
            status = int(value)
        elif location == "header":
            wire = where.get("name", name)
            if member.type_name == "list":
                item = member.member  # type: ignore[attr-defined]
                if value:
                    headers.append((wire, ",".join(to_text(item, v, HEADER_TIMESTAMP) for v in value)))
            else:
                headers.append((wire, to_text(member, value, HEADER_TIMESTAMP)))
        elif location == "headers":
            prefix = where.get("name", "")
            headers.extend((prefix + str(k), str(v)) for k, v in value.items())
        else:
            body_result[name] = value
    named = {k.lower() for k, _ in headers}
    payload = shape.serialization.get("payload")
    body = b""
    if payload is not None:
        member = shape.members[payload]
        value = body_result.get(payload)
        media = codec.media_type
        if member.serialization.get("eventstream"):
            body = encode_events(member, value or (), codec)
            media = "application/vnd.amazon.eventstream"
        elif member.type_name == "blob":
            body = _bytes(value)
            media = "application/octet-stream"
        elif member.type_name == "string":
            body = _bytes(value)
            media = "text/plain"
        elif value is not None:
            body = codec.write(member, value, False)
        if body and "content-type" not in named:
            headers.append(("Content-Type", media))
    elif any("location" not in m.serialization for m in shape.members.values()):
        body = codec.write(shape, body_result, True)
        if "content-type" not in named:
            headers.append(("Content-Type", codec.media_type))
    return status, headers, body


def _bytes(value: Any) -> bytes:
    if value is None:
        return b""
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value)
    if isinstance(value, str):
        return value.encode()
    read = getattr(value, "read", None)
    if read is not None:  # a file-like body, read whole here; streaming is the gateway's choice
        return _bytes(read())
    raise TypeError(f"cannot send {type(value).__name__} as a body")
