"""The rest-json protocol, server side (Lambda, API Gateway v2, ...): operations found by route,
members bound to the URI, query and headers (`rest.py`), the rest as a JSON body.

Errors are a JSON body with the message and the error's modeled members, and the code in the
`x-amzn-ErrorType` header, which botocore's RestJSONParser reads before the body. The message
key follows the error shape: Lambda's shapes spell it `Message`, API Gateway's `message`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson
from botocore.model import OperationModel, ServiceModel, Shape, StructureShape

from stratus.wire import rest
from stratus.wire.rest_routes import NoRoute, route_table
from stratus.wire.types import BadRequest, WireError, WireRequest, WireResponse


class JsonCodec:
    media_type = "application/json"

    def read(self, shape: Shape, body: bytes, top: bool) -> Any:
        try:
            data = orjson.loads(body)
        except orjson.JSONDecodeError as e:
            raise BadRequest("SerializationException", "The request body is not valid JSON") from e
        if shape.type_name == "structure" and not isinstance(data, dict):
            raise BadRequest("SerializationException", "The request body must be a JSON object")
        return _from_json(shape, data, top)

    def write(self, shape: Shape, value: Any, top: bool) -> bytes:
        return orjson.dumps(_to_json(shape, value, top))


def _from_json(shape: Shape, value: Any, top: bool = False) -> Any:
    kind = shape.type_name
    if value is None:
        return None
    if kind == "structure":
        if shape.is_document_type or not isinstance(value, dict):
            return value
        out: dict[str, Any] = {}
        for name, member in shape.members.items():  # type: ignore[attr-defined]
            if top and "location" in member.serialization:
                continue
            raw = value.get(member.serialization.get("name", name))
            if raw is not None:
                out[name] = _from_json(member, raw)
        return out
    if kind == "list":
        if not isinstance(value, list):
            raise BadRequest("SerializationException", f"Expected a list for {shape.name}")
        return [_from_json(shape.member, v) for v in value]  # type: ignore[attr-defined]
    if kind == "map":
        if not isinstance(value, dict):
            raise BadRequest("SerializationException", f"Expected an object for {shape.name}")
        return {k: _from_json(shape.value, v) for k, v in value.items()}  # type: ignore[attr-defined]
    if kind == "timestamp":
        return rest.to_datetime(value)
    if kind == "blob":
        return rest.b64decode(value)
    if kind in ("float", "double") and isinstance(value, str):
        return float(value)
    return value


def _to_json(shape: Shape, value: Any, top: bool = False) -> Any:
    kind = shape.type_name
    if kind == "structure":
        if shape.is_document_type:
            return value
        members = shape.members  # type: ignore[attr-defined]
        out: dict[str, Any] = {}
        for name, v in value.items():
            member = members.get(name)
            if member is None or v is None or (top and "location" in member.serialization):
                continue
            out[member.serialization.get("name", name)] = _to_json(member, v)
        return out
    if kind == "list":
        return [_to_json(shape.member, v) for v in value]  # type: ignore[attr-defined]
    if kind == "map":
        return {k: _to_json(shape.value, v) for k, v in value.items()}  # type: ignore[attr-defined]
    if kind == "timestamp":
        return rest.format_timestamp(value, shape.serialization.get("timestampFormat", "unixTimestamp"))
    if kind == "blob":
        return rest.to_text(shape, value, "")
    if kind in ("float", "double"):
        return rest.float_out(float(value))
    return value


CODEC = JsonCodec()


@dataclass(frozen=True)
class RestJsonProtocol:
    """`no_route` is what a request matching no operation is told (the service's choice)."""

    no_route: NoRoute = field(default_factory=NoRoute)
    name: str = "rest-json"

    def operation(self, service: ServiceModel, request: WireRequest) -> tuple[OperationModel, dict[str, str]]:
        route, labels = route_table(service).match(request, self.no_route)
        return service.operation_model(route.operation), labels

    def parse(
        self, operation: OperationModel, request: WireRequest, labels: dict[str, str]
    ) -> dict[str, Any]:
        return rest.read_request(operation, request, labels, CODEC)

    def serialize(
        self, operation: OperationModel, result: Mapping[str, Any], request_id: str
    ) -> WireResponse:
        status, headers, body = rest.write_response(operation, result, CODEC)
        headers.append(("x-amzn-RequestId", request_id))
        return WireResponse(status, tuple(headers), body)

    def error(self, service: ServiceModel, error: WireError, request_id: str) -> WireResponse:
        body: dict[str, Any] = {}
        headers = [
            ("Content-Type", "application/json"),
            ("x-amzn-ErrorType", error.code),
            ("x-amzn-RequestId", request_id),
        ]
        shape = _error_shape(service, error.code)
        message_key = "message"
        if shape is not None:
            for name, member in shape.members.items():
                if name.lower() == "message":
                    message_key = member.serialization.get("name", name)
            for name, value in error.fields.items():
                member = shape.members.get(name)
                if member is None:
                    body[name] = value
                elif member.serialization.get("location") == "header":  # Retry-After, say
                    headers.append(
                        (
                            member.serialization.get("name", name),
                            rest.to_text(member, value, rest.HEADER_TIMESTAMP),
                        )
                    )
                elif "location" not in member.serialization:
                    body[member.serialization.get("name", name)] = _to_json(member, value)
        else:
            body.update(error.fields)
        body[message_key] = error.message
        return WireResponse(error.status, tuple(headers), orjson.dumps(body))


def _error_shape(service: ServiceModel, code: str) -> StructureShape | None:
    return rest.error_shapes(service).get(code)
