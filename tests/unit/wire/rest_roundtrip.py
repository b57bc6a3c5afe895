"""What the REST protocols' round-trip tests share: botocore's own client serializer makes the
request, botocore's own parser reads the answer, exactly as a boto3 client would; these helpers
only move bytes between botocore's dicts and Stratus's WireRequest/WireResponse, and put the
sample values in the form botocore's parser returns them."""

from __future__ import annotations

import io
from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import parse_qsl

from botocore.awsrequest import HeadersDict
from botocore.model import OperationModel, Shape
from botocore.parsers import create_parser
from botocore.response import StreamingBody
from botocore.serialize import create_serializer

from stratus.wire.samples import sample
from stratus.wire.types import WireRequest, WireResponse


def client_request(protocol: str, operation: OperationModel, params: Mapping[str, Any]) -> WireRequest:
    """The request botocore's client serializer makes for `params`, as the gateway would hand it
    to a protocol: the path as sent (its literal query part split off), decoded query pairs,
    lower-case header names, the body as bytes."""
    made = create_serializer(protocol, include_validation=False).serialize_to_request(params, operation)
    path, _, literal = made["url_path"].partition("?")
    query = parse_qsl(literal, keep_blank_values=True)
    for key, value in made["query_string"].items() if isinstance(made["query_string"], dict) else ():
        for item in value if isinstance(value, list) else [value]:
            query.append((key, str(item)))
    body = made["body"]
    if isinstance(body, str):
        body = body.encode()
    elif not isinstance(body, bytes):
        body = body.read()
    headers = {k.lower(): str(v) for k, v in made["headers"].items()}
    return WireRequest(made["method"], path, tuple(query), headers, body)


def expected_params(operation: OperationModel, params: Mapping[str, Any]) -> dict[str, Any]:
    """`params` as a server can see them: header names are case-insensitive, so a header-bound
    map (S3's metadata) comes back with lower-case keys."""
    shape = operation.input_shape
    out = dict(params)
    if shape is None:
        return out
    for name, member in shape.members.items():
        if name in out and member.serialization.get("location") == "headers":
            out[name] = {k.lower(): v for k, v in out[name].items()}
    return out


class _Raw:
    """What botocore's endpoint hands an event-stream parser: something with `stream()`."""

    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self) -> Iterator[bytes]:
        yield self._body

    def close(self) -> None:
        pass


def client_parse(
    protocol: str, operation: OperationModel, answer: WireResponse, shape: Shape | None = None
) -> Any:
    """botocore's parser on the answer, with the body in the form its endpoint passes: a
    StreamingBody for streaming output, a raw stream for event streams, else bytes."""
    headers = HeadersDict()
    for key, value in answer.headers:
        headers[key] = value
    body: Any = answer.body
    if answer.status >= 300:
        pass  # botocore's endpoint reads an error's body whole
    elif shape is None and operation.has_streaming_output:
        body = StreamingBody(io.BytesIO(answer.body), len(answer.body))
    elif shape is None and operation.has_event_stream_output:
        body = _Raw(answer.body)
    response = {
        "status_code": answer.status,
        "headers": headers,
        "body": body,
        "context": {"operation_name": operation.name},
    }
    return create_parser(protocol).parse(response, shape if shape is not None else operation.output_shape)


def sample_result(operation: OperationModel) -> dict[str, Any]:
    shape = operation.output_shape
    if shape is None:
        return {}
    result = dict(sample(shape, seed=operation.name))
    payload = shape.serialization.get("payload")
    if payload is not None and shape.members[payload].serialization.get("eventstream"):
        # The sample generator skips event streams: one event of each kind, as boto3 yields them.
        stream = shape.members[payload]
        result[payload] = [
            {kind: sample(m, seed=f"{operation.name}.{kind}")} for kind, m in stream.members.items()
        ]
    return result


def readable(operation: OperationModel, parsed: dict[str, Any], result: Mapping[str, Any]) -> tuple[Any, Any]:
    """(what the client read, what the server meant), both in the client's terms."""
    shape = operation.output_shape
    got = {k: v for k, v in parsed.items() if k != "ResponseMetadata"}
    want = dict(result)
    if shape is None:
        return got, want
    for name, member in shape.members.items():
        location = member.serialization.get("location")
        if location == "statusCode":
            want.setdefault(name, int(operation.http.get("responseCode", 200)))
        elif location == "headers":
            got[name] = {k.lower(): v for k, v in got.get(name, {}).items()}
            want[name] = {k.lower(): v for k, v in want.get(name, {}).items()}
        if member.serialization.get("eventstream") and name in got:
            got[name] = list(got[name])
        elif isinstance(got.get(name), StreamingBody):
            got[name] = got[name].read()
            if member.type_name == "string":
                got[name] = got[name].decode()
    return got, want
