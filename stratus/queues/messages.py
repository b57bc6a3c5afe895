"""A message as SQS checks it on send (pure): the characters a body may hold, its size with
its attributes against the queue's MaximumMessageSize, the message attributes' names, types
and values, and FIFO's group and deduplication ids."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from stratus.queues.digest import attributes_size, binary_value
from stratus.queues.errors import InvalidMessageContents, InvalidParameterValue, MissingParameter

# XML 1.0's characters, which SQS allows: #x9 | #xA | #xD | [#x20-#xD7FF] | [#xE000-#xFFFD] |
# [#x10000-#x10FFFF].
_BAD_CHAR = re.compile("[^\x09\x0a\x0d\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_ATTRIBUTE_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,256}$")
_DATA_TYPE = re.compile(r"^(String|Number|Binary)(\.[^\s]{1,250})?$")
# MessageGroupId and MessageDeduplicationId: up to 128 alphanumerics and punctuation.
_FIFO_ID = re.compile(r"^[A-Za-z0-9!\"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~]{1,128}$")
MAX_ATTRIBUTES = 10


def check_body(body: str) -> None:
    if body == "":
        raise MissingParameter("The request must contain the parameter MessageBody.")
    bad = _BAD_CHAR.search(body)
    if bad is not None:
        raise InvalidMessageContents(
            f"Invalid binary character '#x{ord(bad.group()):X}' was found in the message body, the set of "
            "allowed characters is #x9 | #xA | #xD | #x20 to #xD7FF | #xE000 to #xFFFD | #x10000 to #x10FFFF"
        )


def check_attributes(attributes: Mapping[str, Mapping[str, Any]]) -> None:
    if len(attributes) > MAX_ATTRIBUTES:
        raise InvalidParameterValue(
            f"Number of message attributes [{len(attributes)}] exceeds the allowed maximum "
            f"[{MAX_ATTRIBUTES}]."
        )
    for name, value in attributes.items():
        lowered = name.lower()
        if (
            not _ATTRIBUTE_NAME.match(name)
            or lowered.startswith(("aws.", "amazon."))
            or name.startswith(".")
            or name.endswith(".")
            or ".." in name
        ):
            raise InvalidParameterValue(f"Message attribute name '{name}' is invalid.")
        data_type = str(value.get("DataType") or "")
        if not data_type:
            raise InvalidParameterValue(
                f"The message attribute '{name}' must contain a non-empty attribute type."
            )
        if not _DATA_TYPE.match(data_type):
            raise InvalidParameterValue(
                f"The type of message attribute '{name}' is invalid. You must use only the following "
                "supported "
                "type prefixes: Binary, Number, String."
            )
        if value.get("StringListValues") or value.get("BinaryListValues"):
            raise InvalidParameterValue(f"Message attribute list values in '{name}' are not supported.")
        if data_type.startswith("Binary"):
            raw = value.get("BinaryValue")
            if raw is None or not binary_value(raw):
                raise InvalidParameterValue(
                    f"The message attribute '{name}' must contain non-empty message attribute value for "
                    "message attribute type 'Binary'."
                )
        else:
            text = value.get("StringValue")
            if text is None or text == "":
                kind = data_type.split(".", 1)[0]
                raise InvalidParameterValue(
                    f"The message attribute '{name}' must contain non-empty message attribute value for "
                    f"message attribute type '{kind}'."
                )
            if _BAD_CHAR.search(str(text)):
                raise InvalidParameterValue(f"The message attribute '{name}' contains invalid characters.")
            if data_type.startswith("Number"):
                try:
                    float(str(text))
                except ValueError:
                    raise InvalidParameterValue(
                        f"Can't cast the value of message (user) attribute '{name}' to a number."
                    ) from None


def check_size(body: str, attributes: Mapping[str, Mapping[str, Any]], limit: int) -> None:
    size = len(body.encode()) + attributes_size(attributes)
    if size > limit:
        raise InvalidParameterValue(
            f"One or more parameters are invalid. Reason: Message must be shorter than {limit} bytes."
        )


def check_fifo_id(member: str, value: str) -> None:
    if not _FIFO_ID.match(value):
        raise InvalidParameterValue(
            f"Value {value} for parameter {member} is invalid. Reason: {member} can only include "
            "alphanumeric "
            "and punctuation characters. 1 to 128 in length."
        )


def stored(attributes: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[str, str]]:
    """Message attributes as kept in the store (JSON): binary values as base64 text."""
    import base64

    out: dict[str, dict[str, str]] = {}
    for name, value in attributes.items():
        data_type = str(value["DataType"])
        if data_type.startswith("Binary"):
            out[name] = {
                "DataType": data_type,
                "BinaryValue": base64.b64encode(binary_value(value["BinaryValue"])).decode(),
            }
        else:
            out[name] = {"DataType": data_type, "StringValue": str(value["StringValue"])}
    return out


def loaded(attributes: Mapping[str, Mapping[str, str]]) -> dict[str, dict[str, Any]]:
    """Stored message attributes in boto3's shape (binary values as bytes)."""
    out: dict[str, dict[str, Any]] = {}
    for name, value in attributes.items():
        if "BinaryValue" in value:
            out[name] = {"DataType": value["DataType"], "BinaryValue": binary_value(value["BinaryValue"])}
        else:
            out[name] = dict(value)
    return out
