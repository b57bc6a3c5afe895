"""AWS's query protocol, server side, from botocore's models (IAM, STS, SNS, CloudWatch).

A request is a form, in the body of a POST or in the query string of a GET: `Action` names the
operation, `Version` the API version, and every other pair one scalar of the input, named by
its path: `Tags.member.1.Key=k` (a list's items under the member's locationName, `member` by
default, numbered from 1), `Attributes.entry.1.key=k` / `.value=v` (a map, under the model's
key and value names), `Dimensions.1.Name=d` (a flattened list), `Tags=` (an empty list).
The answer is XML: `<OpResponse xmlns=...><OpResult>...</OpResult><ResponseMetadata>
<RequestId>`, the members under their locationNames, lists as `<member>` items (or repeated
elements when flattened), maps as `<entry><key/><value/></entry>`, timestamps in ISO 8601;
an error is `<ErrorResponse><Error><Type>Sender|Receiver</Type><Code/><Message/></Error>
<RequestId/></ErrorResponse>`. Both sides are what botocore's QuerySerializer and QueryParser
write and read.
"""

from __future__ import annotations

import base64
import binascii
import math
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl
from xml.sax.saxutils import escape

from botocore.model import OperationModel, ServiceModel, Shape

from stratus.wire.legacy_query import query_code
from stratus.wire.timestamps import formatted, to_datetime
from stratus.wire.types import BadRequest, WireError, WireRequest, WireResponse

MAX_DEPTH = 16  # parts of a parameter name; the deepest any model here needs is about 10
# `\r` would come back as `\n` (XML normalises line ends), so it is written as a reference.
ENTITIES = {"\r": "&#13;"}

Tree = dict[str, Any]  # a form's pairs by name part: each value a Tree or the text sent


class QueryProtocol:
    name = "query"

    def operation(self, service: ServiceModel, request: WireRequest) -> tuple[OperationModel, dict[str, str]]:
        action = next((v for k, v in _pairs(request) if k == "Action"), "")
        if action not in service.operation_names:
            shown = action[:200] or "(none)"
            raise BadRequest("InvalidAction", f"The action {shown} is not valid for this web service.")
        return service.operation_model(action), {}

    def parse(
        self, operation: OperationModel, request: WireRequest, labels: dict[str, str]
    ) -> dict[str, Any]:
        tree: Tree = {}
        for key, value in _pairs(request):
            if key not in ("Action", "Version"):
                _place(tree, key, value)
        shape = operation.input_shape
        if shape is None:
            return {}
        out: dict[str, Any] = _read(shape, tree, "")
        return out

    def serialize(
        self, operation: OperationModel, result: Mapping[str, Any], request_id: str
    ) -> WireResponse:
        name = operation.name
        shape = operation.output_shape
        inner = ""
        if shape is not None:
            inner = _members(shape, result)
            wrapper = shape.serialization.get("resultWrapper")
            if wrapper:
                inner = f"<{wrapper}>{inner}</{wrapper}>"
        namespace = escape(operation.service_model.metadata.get("xmlNamespace", ""), {'"': "&quot;"})
        body = (
            f'<{name}Response xmlns="{namespace}">{inner}'
            f"<ResponseMetadata><RequestId>{escape(request_id)}</RequestId></ResponseMetadata>"
            f"</{name}Response>"
        )
        return WireResponse(200, _headers(request_id), body.encode())

    def error(self, service: ServiceModel, error: WireError, request_id: str) -> WireResponse:
        kind = "Sender" if error.sender_fault else "Receiver"
        extra = "".join(f"<{k}>{_text(str(v))}</{k}>" for k, v in error.fields.items() if v is not None)
        namespace = escape(service.metadata.get("xmlNamespace", ""), {'"': "&quot;"})
        code = query_code(service, error.code)
        body = (
            f'<ErrorResponse xmlns="{namespace}"><Error><Type>{kind}</Type>'
            f"<Code>{_text(code)}</Code><Message>{_text(error.message)}</Message>{extra}"
            f"</Error><RequestId>{escape(request_id)}</RequestId></ErrorResponse>"
        )
        return WireResponse(error.status, _headers(request_id), body.encode())


def _headers(request_id: str) -> tuple[tuple[str, str], ...]:
    return (("Content-Type", "text/xml"), ("x-amzn-RequestId", request_id))


def _invalid(message: str) -> BadRequest:
    return BadRequest("InvalidQueryParameter", message)


def _pairs(request: WireRequest) -> list[tuple[str, str]]:
    """The form's pairs: the query string's, then the body's (a GET carries only the first)."""
    pairs = list(request.query)
    if request.body:
        try:
            text = request.body.decode()
        except UnicodeDecodeError:
            raise _invalid("The form is not UTF-8.") from None
        pairs.extend(parse_qsl(text, keep_blank_values=True))
    return pairs


def _place(tree: Tree, key: str, value: str) -> None:
    path = key.split(".")
    # A bound on the parts bounds the nesting (and the recursion) a client can cause.
    if len(path) > MAX_DEPTH:
        raise _invalid(f"The parameter name {key[:100]} is nested too deeply.")
    node = tree
    for i, part in enumerate(path[:-1]):
        if not part:
            raise _invalid(f"The parameter name {key[:100]} is malformed.")
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            raise _invalid(f"The parameter {'.'.join(path[: i + 1])[:100]} is given twice.")
        node = child
    if path[-1] in node:
        raise _invalid(f"The parameter {key[:100]} is given twice.")
    node[path[-1]] = value


def _key(member: Shape, name: str) -> str:
    """The name a structure's member goes by on the wire (both directions): a flattened list
    whose items have a locationName goes by that name, as botocore has it."""
    if member.type_name == "list" and member.serialization.get("flattened"):
        item_name = member.member.serialization.get("name")
        if item_name:
            return str(item_name)
    return str(member.serialization.get("name", name))


def _read(shape: Shape, node: Any, path: str) -> Any:
    kind = shape.type_name
    if kind == "structure":
        if not isinstance(node, dict):
            raise _invalid(f"The parameter {path[:100]} must be a structure.")
        out: dict[str, Any] = {}
        for name, member in shape.members.items():
            child = node.get(_key(member, name))
            if child is not None:
                out[name] = _read(member, child, f"{path}.{name}" if path else name)
        return out
    if kind == "list":
        if node == "":
            return []  # `Tags=`: the query protocol's empty list
        if not isinstance(node, dict):
            raise _invalid(f"The parameter {path[:100]} must be a list.")
        if not shape.serialization.get("flattened"):
            item_name = shape.member.serialization.get("name", "member")
            node = node.get(item_name, node.get("member", node.get("Member")))
            if not isinstance(node, dict):
                raise _invalid(f"The list {path[:100]} must be numbered {item_name}.1, {item_name}.2, ...")
        return [_read(shape.member, item, path) for item in _numbered(node, path)]
    if kind == "map":
        if node == "":
            return {}
        if not isinstance(node, dict):
            raise _invalid(f"The parameter {path[:100]} must be a map.")
        if not shape.serialization.get("flattened"):
            node = node.get("entry")
            if not isinstance(node, dict):
                raise _invalid(f"The map {path[:100]} must be numbered entry.1, entry.2, ...")
        key_name = shape.key.serialization.get("name", "key")
        value_name = shape.value.serialization.get("name", "value")
        out = {}
        for entry in _numbered(node, path):
            if not isinstance(entry, dict) or key_name not in entry:
                raise _invalid(f"Each entry of {path[:100]} needs a {key_name}.")
            key = _read(shape.key, entry[key_name], path)
            out[key] = _read(shape.value, entry.get(value_name, ""), path)
        return out
    if not isinstance(node, str):
        raise _invalid(f"The parameter {path[:100]} must be a single value.")
    return _scalar(shape, node, path)


def _numbered(node: Tree, path: str) -> list[Any]:
    if not all(k.isdigit() for k in node):
        raise _invalid(f"The items of {path[:100]} must be numbered from 1.")
    return [node[k] for k in sorted(node, key=int)]


def _scalar(shape: Shape, text: str, path: str) -> Any:
    kind = shape.type_name
    try:
        if kind in ("integer", "long"):
            return int(text)
        if kind in ("float", "double"):
            return float(text)
        if kind == "boolean":
            if text.lower() not in ("true", "false"):
                raise ValueError(text)
            return text.lower() == "true"
        if kind == "timestamp":
            return to_datetime(text)
        if kind == "blob":
            return base64.b64decode(text, validate=True)
    except (ValueError, binascii.Error):
        raise _invalid(f"The value of {path[:100]} is not a valid {kind}.") from None
    return text


def _members(shape: Shape, value: Mapping[str, Any]) -> str:
    """A structure's members as XML elements, in the model's order; members the model does not
    name are left out."""
    parts = []
    for name, member in shape.members.items():
        item = value.get(name)
        if item is not None:
            parts.append(_element(member, _key(member, name), item))
    return "".join(parts)


def _element(shape: Shape, tag: str, value: Any) -> str:
    kind = shape.type_name
    if kind == "structure":
        return f"<{tag}>{_members(shape, value)}</{tag}>"
    if kind == "list":
        if shape.serialization.get("flattened"):
            return "".join(_element(shape.member, tag, v) for v in value if v is not None)
        item = shape.member.serialization.get("name", "member")
        items = "".join(_element(shape.member, item, v) for v in value if v is not None)
        return f"<{tag}>{items}</{tag}>"
    if kind == "map":
        key_name = shape.key.serialization.get("name", "key")
        value_name = shape.value.serialization.get("name", "value")
        entries = [
            _element(shape.key, key_name, k) + _element(shape.value, value_name, v)
            for k, v in value.items()
            if v is not None
        ]
        if shape.serialization.get("flattened"):
            return "".join(f"<{tag}>{e}</{tag}>" for e in entries)
        return f"<{tag}>{''.join(f'<entry>{e}</entry>' for e in entries)}</{tag}>"
    return f"<{tag}>{_text(_scalar_text(shape, value))}</{tag}>"


def _scalar_text(shape: Shape, value: Any) -> str:
    kind = shape.type_name
    if kind == "boolean":
        return "true" if value else "false"
    if kind == "timestamp":
        return str(formatted(value, shape.serialization.get("timestampFormat", "iso8601")))
    if kind == "blob":
        raw = value.encode() if isinstance(value, str) else bytes(value)
        return base64.b64encode(raw).decode()
    if kind in ("float", "double"):
        number = float(value)
        if math.isnan(number):
            return "NaN"
        if math.isinf(number):
            return "Infinity" if number > 0 else "-Infinity"
        return repr(number)
    return str(value)


def _text(text: str) -> str:
    return escape(text, ENTITIES)
