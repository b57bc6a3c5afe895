"""AWS event stream messages (`application/vnd.amazon.eventstream`), written server side: the
answers of Lambda's InvokeWithResponseStream and S3's SelectObjectContent.

A message is a prelude (total length, headers length, CRC32 of those eight bytes), headers
(name, type, value), the payload and a CRC32 of everything before it. Each event names its
member of the stream's union in `:event-type`; a member marked `eventpayload` is the payload
(raw bytes, text, or a structure in the protocol's body format), members marked `eventheader`
travel as headers, and any others are the payload as a structure."""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from botocore.model import Shape

if TYPE_CHECKING:  # rest.py imports this module
    from stratus.wire.rest import Codec

_BOOL_TRUE, _BOOL_FALSE, _INT32, _INT64, _BYTES, _STRING, _TIMESTAMP = 0, 1, 4, 5, 6, 7, 8


def _header(name: str, value: Any) -> bytes:
    key = name.encode()
    head = struct.pack("!B", len(key)) + key
    if isinstance(value, bool):
        return head + struct.pack("!B", _BOOL_TRUE if value else _BOOL_FALSE)
    if isinstance(value, int):
        if -(2**31) <= value < 2**31:
            return head + struct.pack("!Bi", _INT32, value)
        return head + struct.pack("!Bq", _INT64, value)
    if isinstance(value, datetime):
        millis = int(value.timestamp() * 1000)
        return head + struct.pack("!Bq", _TIMESTAMP, millis)
    if isinstance(value, bytes | bytearray):
        return head + struct.pack("!BH", _BYTES, len(value)) + bytes(value)
    text = str(value).encode()
    return head + struct.pack("!BH", _STRING, len(text)) + text


def message(headers: Mapping[str, Any], payload: bytes) -> bytes:
    encoded = b"".join(_header(k, v) for k, v in headers.items())
    total = 12 + len(encoded) + len(payload) + 4
    prelude = struct.pack("!II", total, len(encoded))
    prelude += struct.pack("!I", zlib.crc32(prelude))
    body = prelude + encoded + payload
    return body + struct.pack("!I", zlib.crc32(body))


def encode_events(stream: Shape, events: Iterable[Mapping[str, Any]], codec: Codec) -> bytes:
    """Every event of `events` (each `{MemberName: value}`, as botocore's EventStream yields
    them) as one message each, concatenated."""
    out = bytearray()
    for event in events:
        for kind, value in event.items():
            member = stream.members.get(kind)  # type: ignore[attr-defined]
            if member is None or value is None:
                continue
            out += _event(kind, member, value, codec)
    return bytes(out)


def _event(kind: str, shape: Shape, value: Mapping[str, Any], codec: Codec) -> bytes:
    headers: dict[str, Any] = {":message-type": "event", ":event-type": kind}
    payload = b""
    content_type: str | None = None
    rest_of: dict[str, Any] = {}
    explicit = False
    for name, member in shape.members.items():  # type: ignore[attr-defined]
        item = value.get(name)
        if member.serialization.get("eventheader"):
            if item is not None:
                headers[name] = item
        elif member.serialization.get("eventpayload"):
            explicit = True
            if item is None:
                continue
            if member.type_name == "blob":
                payload, content_type = bytes(item), "application/octet-stream"
            elif member.type_name == "string":
                payload, content_type = str(item).encode(), "text/plain"
            else:
                payload, content_type = codec.write(member, item, False), codec.media_type
        elif item is not None:
            rest_of[name] = item
    if not explicit and rest_of:
        payload, content_type = codec.write(shape, rest_of, False), codec.media_type
    if content_type:
        headers[":content-type"] = content_type
    return message(headers, payload)
