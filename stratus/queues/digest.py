"""The digests SQS puts on messages, computed exactly as SQS does so that SDKs' checks pass
(boto3 verifies MD5OfMessageBody and MD5OfMessageAttributes on send and on receive), and the
SHA-256 of content-based deduplication."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Mapping
from typing import Any

# Transport types: how a value is carried, by the DataType's first part.
_STRING, _BINARY = 1, 2


def md5_of_body(body: str) -> str:
    return hashlib.md5(body.encode(), usedforsecurity=False).hexdigest()


def content_dedup_id(body: str) -> str:
    """ContentBasedDeduplication's id: the SHA-256 of the body (not of the attributes)."""
    return hashlib.sha256(body.encode()).hexdigest()


def _field(raw: bytes) -> bytes:
    return len(raw).to_bytes(4, "big") + raw


def binary_value(value: Any) -> bytes:
    """A BinaryValue as bytes (boto3 passes bytes; stored values are base64 text)."""
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value)
    return base64.b64decode(str(value))


def md5_of_attributes(attributes: Mapping[str, Mapping[str, Any]]) -> str | None:
    """SQS's MD5 of message attributes: for each attribute in name order, the name, the data
    type, a transport byte (1 string, 2 binary) and the value, each of the three texts and the
    value prefixed by its length as 4 bytes big-endian. None when there are no attributes."""
    if not attributes:
        return None
    digest = hashlib.md5(usedforsecurity=False)
    for name in sorted(attributes):
        value = attributes[name]
        data_type = str(value["DataType"])
        digest.update(_field(name.encode()))
        digest.update(_field(data_type.encode()))
        if data_type.startswith("Binary"):
            digest.update(bytes([_BINARY]))
            digest.update(_field(binary_value(value.get("BinaryValue", b""))))
        else:
            digest.update(bytes([_STRING]))
            digest.update(_field(str(value.get("StringValue", "")).encode()))
    return digest.hexdigest()


def attributes_size(attributes: Mapping[str, Mapping[str, Any]]) -> int:
    """What the attributes count toward MaximumMessageSize: each name, data type and value."""
    total = 0
    for name, value in attributes.items():
        total += len(name.encode()) + len(str(value["DataType"]).encode())
        if str(value["DataType"]).startswith("Binary"):
            total += len(binary_value(value.get("BinaryValue", b"")))
        else:
            total += len(str(value.get("StringValue", "")).encode())
    return total
