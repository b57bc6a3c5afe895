"""AWS's JSON protocol (1.0 and 1.1), server side, from botocore's models.

A request is a POST whose `X-Amz-Target: <targetPrefix>.<Operation>` names the operation and
whose body is the input as JSON: timestamps as epoch seconds, blobs as base64, members under
their `locationName` where the model gives one. The answer is the output the same way, typed
`application/x-amz-json-<jsonVersion>`; an error is `{"__type": code, "message": ...}` with the
code again in `x-amzn-ErrorType`, which is what botocore's JSONParser reads.

Parsed input is what a boto3 caller passes: timestamps as aware UTC datetimes, blobs as bytes.
Results may carry timestamps as datetimes, epoch numbers or ISO strings (handlers written for
the JSON wire already return epoch numbers) and blobs as bytes or text.
"""

from __future__ import annotations

import base64
import binascii
import math
from collections.abc import Mapping
from typing import Any

import orjson
from botocore.model import OperationModel, ServiceModel, Shape

from stratus.wire.legacy_query import query_code
from stratus.wire.timestamps import formatted, to_datetime
from stratus.wire.types import BadRequest, WireError, WireRequest, WireResponse


class JsonProtocol:
    name = "json"

    def operation(self, service: ServiceModel, request: WireRequest) -> tuple[OperationModel, dict[str, str]]:
        target = request.header("x-amz-target") or ""
        prefix, _, name = target.rpartition(".")
        if prefix != service.metadata.get("targetPrefix") or name not in service.operation_names:
            shown = target[:200] or "(no X-Amz-Target)"
            raise BadRequest("UnknownOperationException", f"Unknown operation {shown}.")
        return service.operation_model(name), {}

    def parse(
        self, operation: OperationModel, request: WireRequest, labels: dict[str, str]
    ) -> dict[str, Any]:
        try:
            body = orjson.loads(request.body) if request.body.strip() else {}
        except orjson.JSONDecodeError:
            raise BadRequest("SerializationException", "The request body is not valid JSON.") from None
        if not isinstance(body, dict):
            raise BadRequest("SerializationException", "The request body must be a JSON object.")
        shape = operation.input_shape
        if shape is None:
            return {}
        out: dict[str, Any] = read(shape, body, "")
        return out

    def serialize(
        self, operation: OperationModel, result: Mapping[str, Any], request_id: str
    ) -> WireResponse:
        shape = operation.output_shape
        payload = write(shape, result) if shape is not None else {}
        return WireResponse(200, _headers(operation.service_model, request_id), orjson.dumps(payload))

    def error(self, service: ServiceModel, error: WireError, request_id: str) -> WireResponse:
        payload = {**error.fields, "__type": error.code, "message": error.message}
        body = orjson.dumps(payload, default=str)
        headers = (*_headers(service, request_id), ("x-amzn-ErrorType", error.code))
        if service.is_query_compatible:
            # Services that also speak query (SQS, CloudWatch) name the query-era code and the
            # fault too; botocore reads them from this header for both protocols' clients.
            # The header carries the query-era code (botocore keeps `__type` to pick the
            # exception class and answers the header's code as Error.Code, as SQS does).
            fault = "Sender" if error.sender_fault else "Receiver"
            headers = (*headers, ("x-amzn-query-error", f"{query_code(service, error.code)};{fault}"))
        return WireResponse(error.status, headers, body)


def _headers(service: ServiceModel, request_id: str) -> tuple[tuple[str, str], ...]:
    version = service.metadata.get("jsonVersion", "1.0")
    return (("Content-Type", f"application/x-amz-json-{version}"), ("x-amzn-RequestId", request_id))


def _wrong(path: str, expected: str) -> BadRequest:
    # AWS's JSON services answer a value of the wrong JSON type with SerializationException.
    return BadRequest("SerializationException", f"{path or 'The body'} must be {expected}.")


def read(shape: Shape, value: Any, path: str) -> Any:
    """The JSON value `value` as the Python value botocore's client takes for `shape`."""
    kind = shape.type_name
    if kind == "structure":
        if shape.metadata.get("document"):
            return value
        if not isinstance(value, dict):
            raise _wrong(path, "an object")
        out: dict[str, Any] = {}
        for name, member in shape.members.items():
            item = value.get(member.serialization.get("name", name))
            if item is not None:
                out[name] = read(member, item, f"{path}.{name}" if path else name)
        return out
    if kind == "list":
        if not isinstance(value, list):
            raise _wrong(path, "an array")
        return [None if item is None else read(shape.member, item, path) for item in value]
    if kind == "map":
        if not isinstance(value, dict):
            raise _wrong(path, "an object")
        return {k: None if v is None else read(shape.value, v, path) for k, v in value.items()}
    if kind == "timestamp":
        try:
            return to_datetime(value)
        except ValueError:
            raise _wrong(path, "a timestamp") from None
    if kind == "blob":
        if not isinstance(value, str):
            raise _wrong(path, "base64 text")
        try:
            return base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            raise _wrong(path, "base64 text") from None
    if kind in ("integer", "long"):
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise _wrong(path, "an integer")
        return value
    if kind in ("float", "double"):
        if isinstance(value, str) and value in ("NaN", "Infinity", "-Infinity"):
            return float(value)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise _wrong(path, "a number")
        return float(value)
    if kind == "boolean":
        if not isinstance(value, bool):
            raise _wrong(path, "a boolean")
        return value
    if not isinstance(value, str):
        raise _wrong(path, "a string")
    return value


def write(shape: Shape, value: Any) -> Any:
    """`value` (a result as a handler returns it) as the JSON value botocore parses for `shape`.
    Members the model does not name are left out: the wire carries the model's shape only."""
    kind = shape.type_name
    if kind == "structure":
        if shape.metadata.get("document"):
            return value
        members = shape.members
        out: dict[str, Any] = {}
        for name, item in value.items():
            member = members.get(name)
            if member is not None and item is not None:
                out[member.serialization.get("name", name)] = write(member, item)
        return out
    if kind == "list":
        return [None if item is None else write(shape.member, item) for item in value]
    if kind == "map":
        return {k: None if v is None else write(shape.value, v) for k, v in value.items()}
    if kind == "timestamp":
        return formatted(value, shape.serialization.get("timestampFormat", "unixTimestamp"))
    if kind == "blob":
        raw = value.encode() if isinstance(value, str) else bytes(value)
        return base64.b64encode(raw).decode()
    if kind in ("float", "double"):
        number = float(value)
        if math.isnan(number):
            return "NaN"
        if math.isinf(number):
            return "Infinity" if number > 0 else "-Infinity"
        return number
    return value
