"""The round trip both RPC protocols' tests share: botocore's own client serializer builds a
request that the protocol under test parses, and the protocol's answers go through botocore's
own parser. Inputs and results come from the deterministic sample generator."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from botocore.awsrequest import HeadersDict
from botocore.model import OperationModel, ServiceModel
from botocore.parsers import create_parser
from botocore.serialize import create_serializer

from stratus.wire.models import service_model
from stratus.wire.types import WireProtocol, WireRequest, WireResponse

REQUEST_ID = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"


def operations(services: tuple[str, ...]) -> list[tuple[str, str]]:
    return [(name, op) for name in services for op in service_model(name).operation_names]


def wire_request(protocol: str, params: dict[str, Any], operation: OperationModel) -> WireRequest:
    """What botocore's client would send for `params` (validated by botocore on the way)."""
    serialized = create_serializer(protocol, include_validation=True).serialize_to_request(params, operation)
    body = serialized["body"]
    if isinstance(body, dict):  # the query serializer leaves the form for the HTTP layer
        body = urlencode(body)
    if isinstance(body, str):
        body = body.encode()
    headers = {k.lower(): v for k, v in serialized["headers"].items()}
    return WireRequest(serialized["method"], serialized["url_path"], (), headers, body)


def botocore_reads(protocol: str, response: WireResponse, operation: OperationModel) -> dict[str, Any]:
    """The dict botocore's client returns for `response` (a result, or {"Error": ...})."""
    headers = HeadersDict()
    for name, value in response.headers:
        headers[name] = value
    raw = {"status_code": response.status, "headers": headers, "body": response.body}
    parsed: dict[str, Any] = create_parser(protocol).parse(raw, operation.output_shape)
    return parsed


def request_round_trip(
    wire: WireProtocol,
    protocol: str,
    service: ServiceModel,
    operation: OperationModel,
    params: dict[str, Any],
) -> dict[str, Any]:
    request = wire_request(protocol, params, operation)
    found, labels = wire.operation(service, request)
    assert found.name == operation.name
    return wire.parse(found, request, labels)


def handmade_service() -> ServiceModel:
    """A service using the naming traits no real model of the tested services has: members,
    list items and map keys/values under locationNames, flattened lists and maps."""
    names = {
        "type": "structure",
        "members": {
            "Renamed": {"shape": "Text", "locationName": "wireName"},
            "Items": {"shape": "NamedItems"},
            "Flat": {"shape": "FlatItems"},
            "FlatNamed": {"shape": "FlatNamedItems"},
            "Pairs": {"shape": "NamedMap"},
            "FlatPairs": {"shape": "FlatMap"},
            "When": {"shape": "Stamp"},
        },
    }
    return ServiceModel(
        {
            "metadata": {
                "protocol": "json",
                "jsonVersion": "1.1",
                "targetPrefix": "Handmade_1",
                "apiVersion": "2024-01-01",
                "xmlNamespace": "https://handmade.example/doc/2024-01-01/",
                "serviceId": "Handmade",
                "endpointPrefix": "handmade",
            },
            "operations": {
                "Echo": {
                    "name": "Echo",
                    "http": {"method": "POST", "requestUri": "/"},
                    "input": {"shape": "Names"},
                    "output": {"shape": "Names", "resultWrapper": "EchoResult"},
                }
            },
            "shapes": {
                "Names": names,
                "Text": {"type": "string"},
                "Stamp": {"type": "timestamp"},
                "NamedItems": {"type": "list", "member": {"shape": "Text", "locationName": "Item"}},
                "FlatItems": {"type": "list", "member": {"shape": "Text"}, "flattened": True},
                "FlatNamedItems": {
                    "type": "list",
                    "member": {"shape": "Text", "locationName": "One"},
                    "flattened": True,
                },
                "NamedMap": {
                    "type": "map",
                    "key": {"shape": "Text", "locationName": "Name"},
                    "value": {"shape": "Text", "locationName": "Val"},
                },
                "FlatMap": {
                    "type": "map",
                    "key": {"shape": "Text"},
                    "value": {"shape": "Text"},
                    "flattened": True,
                },
            },
        },
        service_name="handmade",
    )
