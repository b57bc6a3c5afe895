"""The rest-xml protocol, server side (S3, and later Route 53 or CloudFront): the HTTP bindings
of `rest.py` with an XML body: locationNames, flattened lists and maps, `xmlAttribute` members,
the model's `xmlNamespace`, ISO 8601 timestamps.

S3's own ways, where botocore's parser expects them: errors are a bare `<Error>` (other rest-xml
services wrap it in `<ErrorResponse>`), request ids go in `x-amz-request-id`/`x-amz-id-2`, and
GetBucketLocation answers with a lone `<LocationConstraint>` element, which botocore reads with
a handler of its own. S3 output shapes carry no root element name, so the root is the name AWS
sends (the matching Put operation's payload name, or a short table for the rest)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from botocore.model import OperationModel, ServiceModel, Shape

from stratus.wire import rest
from stratus.wire.rest_routes import NoRoute, route_table
from stratus.wire.types import BadRequest, WireError, WireRequest, WireResponse

_S3_ROOTS = {
    "ListBuckets": "ListAllMyBucketsResult",
    "ListDirectoryBuckets": "ListAllMyDirectoryBucketsResult",
    "ListObjects": "ListBucketResult",
    "ListObjectsV2": "ListBucketResult",
    "ListObjectVersions": "ListVersionsResult",
    "ListMultipartUploads": "ListMultipartUploadsResult",
    "ListParts": "ListPartsResult",
    "CreateMultipartUpload": "InitiateMultipartUploadResult",
    "CompleteMultipartUpload": "CompleteMultipartUploadResult",
    "DeleteObjects": "DeleteResult",
    "GetObjectAttributes": "GetObjectAttributesResponse",
    "GetObjectTagging": "Tagging",
    "GetObjectAcl": "AccessControlPolicy",
    "GetBucketNotificationConfiguration": "NotificationConfiguration",
    "GetBucketLifecycleConfiguration": "LifecycleConfiguration",
}


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _key_name(member: Shape, name: str) -> str:
    """The element name of a member; a flattened list with a named member uses that name
    (botocore's `_member_key_name`)."""
    if member.type_name == "list" and member.serialization.get("flattened"):
        inner = member.member.serialization.get("name")  # type: ignore[attr-defined]
        if inner:
            return str(inner)
    return str(member.serialization.get("name", name))


@cache
def _list_names(shape: Shape) -> frozenset[str]:
    """Element names a flattened list of this structure takes. S3's deprecated notification
    shapes have `Event` (one) beside `Events` (a flattened list of `Event`): the same elements
    on the wire, read as the list."""
    members = shape.members.items()  # type: ignore[attr-defined]
    return frozenset(_key_name(m, n) for n, m in members if _flat(m))


def _flat(shape: Shape) -> bool:
    return shape.type_name in ("list", "map") and bool(shape.serialization.get("flattened"))


def _text(node: ET.Element) -> str:
    return node.text or ""


def _from_xml(shape: Shape, node: Any, top: bool = False) -> Any:
    kind = shape.type_name
    if kind == "structure":
        children: dict[str, list[ET.Element]] = {}
        for child in node:
            children.setdefault(_local(child.tag), []).append(child)
        out: dict[str, Any] = {}
        listed = _list_names(shape)
        for name, member in shape.members.items():  # type: ignore[attr-defined]
            where = member.serialization
            if top and "location" in where:
                continue
            key = _key_name(member, name)
            if key in listed and not _flat(member):
                continue
            if where.get("xmlAttribute"):
                wanted = where.get("name", name)
                for key, value in node.attrib.items():
                    if key == wanted or _local(key) == wanted.split(":")[-1]:
                        out[name] = value
                continue
            nodes = children.get(key)
            if nodes:
                out[name] = _from_xml(member, nodes if _flat(member) else nodes[0])
        return out
    if kind == "list":
        items = node if isinstance(node, list) else list(node)
        return [_from_xml(shape.member, item) for item in items]  # type: ignore[attr-defined]
    if kind == "map":
        entries = node if isinstance(node, list) else list(node)
        key_name = shape.key.serialization.get("name", "key")  # type: ignore[attr-defined]
        value_name = shape.value.serialization.get("name", "value")  # type: ignore[attr-defined]
        out_map: dict[str, Any] = {}
        for entry in entries:
            entry_key: str | None = None
            entry_value: Any = None
            for part in entry:
                if _local(part.tag) == key_name:
                    entry_key = _text(part)
                elif _local(part.tag) == value_name:
                    entry_value = _from_xml(shape.value, part)  # type: ignore[attr-defined]
            if entry_key is not None:
                out_map[entry_key] = entry_value
        return out_map
    text = _text(node)
    if kind in ("string", "character"):
        return text
    if kind == "blob":
        return rest.b64decode(text)
    return rest.from_text(shape, text.strip())


def _to_xml(parent: ET.Element, shape: Shape, value: Any, name: str) -> None:
    kind = shape.type_name
    if kind == "structure":
        node = ET.SubElement(parent, name)
        _namespace(shape, node)
        for key, v in value.items():
            member = shape.members.get(key)  # type: ignore[attr-defined]
            if member is None or v is None:
                continue
            if member.serialization.get("xmlAttribute"):
                node.set(member.serialization["name"], str(v))
            else:
                _to_xml(node, member, v, _member_name(member, key))
    elif kind == "list":
        item_shape = shape.member  # type: ignore[attr-defined]
        if shape.serialization.get("flattened"):
            for item in value:
                _to_xml(parent, item_shape, item, name)
        else:
            node = ET.SubElement(parent, name)
            _namespace(shape, node)
            item_name = item_shape.serialization.get("name", "member")
            for item in value:
                _to_xml(node, item_shape, item, item_name)
    elif kind == "map":
        key_name = shape.key.serialization.get("name", "key")  # type: ignore[attr-defined]
        value_name = shape.value.serialization.get("name", "value")  # type: ignore[attr-defined]
        flat = shape.serialization.get("flattened")
        holder = parent if flat else ET.SubElement(parent, name)
        for k, v in value.items():
            entry = ET.SubElement(holder, name if flat else "entry")
            _to_xml(entry, shape.key, k, key_name)  # type: ignore[attr-defined]
            _to_xml(entry, shape.value, v, value_name)  # type: ignore[attr-defined]
    else:
        node = ET.SubElement(parent, name)
        node.text = _scalar(shape, value)
        _namespace(shape, node)


def _member_name(member: Shape, key: str) -> str:
    # A flattened list's items take the list member's name when it has one (the parser looks
    # them up by that name).
    if member.type_name == "list" and member.serialization.get("flattened"):
        return _key_name(member, key)
    return str(member.serialization.get("name", key))


def _scalar(shape: Shape, value: Any) -> str:
    kind = shape.type_name
    if kind == "timestamp":
        return str(rest.format_timestamp(value, shape.serialization.get("timestampFormat", "iso8601")))
    if kind == "boolean":
        return "true" if value else "false"
    if kind == "blob":
        return rest.to_text(shape, value, "")
    if kind in ("float", "double"):
        return str(rest.float_out(float(value)))
    return str(value)


def _namespace(shape: Shape, node: ET.Element) -> None:
    ns = shape.serialization.get("xmlNamespace")
    if isinstance(ns, dict):
        prefix = ns.get("prefix")
        node.set(f"xmlns:{prefix}" if prefix else "xmlns", ns["uri"])
    elif isinstance(ns, str):
        node.set("xmlns", ns)


@dataclass(frozen=True)
class XmlCodec:
    namespace: str | None = None
    root: str | None = None
    media_type: str = "application/xml"

    def read(self, shape: Shape, body: bytes, top: bool) -> Any:
        try:
            root = ET.fromstring(body)
        except ET.ParseError as e:
            raise BadRequest("MalformedXML", "The XML you provided was not well-formed") from e
        return _from_xml(shape, root, top)

    def write(self, shape: Shape, value: Any, top: bool) -> bytes:
        holder = ET.Element("holder")
        name = self.root or shape.serialization.get("name") or shape.name
        _to_xml(holder, shape, value, name)
        root = holder[0]
        if self.namespace and "xmlns" not in root.attrib:
            root.set("xmlns", self.namespace)
        return _document(root)


@cache
def _service_namespace(service: ServiceModel) -> str | None:
    """The namespace answers carry: the model's, else the one its request payloads declare
    (S3's model names it only there)."""
    ns = service.metadata.get("xmlNamespace")
    if isinstance(ns, dict):
        return str(ns.get("uri"))
    if isinstance(ns, str):
        return ns
    for name in service.operation_names:
        shape = service.operation_model(name).input_shape
        if shape is None:
            continue
        for member in [shape, *shape.members.values()]:
            found = member.serialization.get("xmlNamespace")
            if isinstance(found, dict) and found.get("uri"):
                return str(found["uri"])
    return None


@cache
def _root_name(operation: OperationModel) -> str | None:
    shape = operation.output_shape
    if shape is None or shape.serialization.get("name"):
        return None
    if operation.name in _S3_ROOTS:
        return _S3_ROOTS[operation.name]
    if operation.name.startswith("Get"):
        service = operation.service_model
        put = "Put" + operation.name[3:]
        if put in service.operation_names:
            put_input = service.operation_model(put).input_shape
            payload = put_input.serialization.get("payload") if put_input is not None else None
            if put_input is not None and payload:
                return str(put_input.members[payload].serialization.get("name", payload))
    return None


def _is_s3(service: ServiceModel) -> bool:
    return bool(service.metadata.get("serviceId") == "S3")


@dataclass(frozen=True)
class RestXmlProtocol:
    """`no_route` is what a request matching no operation is told (the service's choice)."""

    no_route: NoRoute = field(
        default_factory=lambda: NoRoute("MethodNotAllowed", 405, "The specified method is not allowed")
    )
    name: str = "rest-xml"

    def operation(self, service: ServiceModel, request: WireRequest) -> tuple[OperationModel, dict[str, str]]:
        route, labels = route_table(service).match(request, self.no_route)
        return service.operation_model(route.operation), labels

    def parse(
        self, operation: OperationModel, request: WireRequest, labels: dict[str, str]
    ) -> dict[str, Any]:
        return rest.read_request(operation, request, labels, XmlCodec())

    def serialize(
        self, operation: OperationModel, result: Mapping[str, Any], request_id: str
    ) -> WireResponse:
        service = operation.service_model
        namespace = _service_namespace(service)
        if _is_s3(service) and operation.name == "GetBucketLocation":
            status, headers, body = 200, [("Content-Type", "application/xml")], _location(result, namespace)
        else:
            codec = XmlCodec(namespace, _root_name(operation))
            status, headers, body = rest.write_response(operation, result, codec)
        headers.extend(_request_ids(service, request_id))
        return WireResponse(status, tuple(headers), body)

    def error(self, service: ServiceModel, error: WireError, request_id: str) -> WireResponse:
        root = ET.Element("Error")
        if not _is_s3(service):
            wrapper = ET.Element("ErrorResponse")
            ns = _service_namespace(service)
            if ns:
                wrapper.set("xmlns", ns)
            wrapper.append(root)
            ET.SubElement(root, "Type").text = "Sender" if error.sender_fault else "Receiver"
        ET.SubElement(root, "Code").text = error.code
        ET.SubElement(root, "Message").text = error.message
        shape = rest.error_shapes(service).get(error.code)
        for name, value in error.fields.items():
            member = shape.members.get(name) if shape is not None else None
            if member is not None:
                _to_xml(root, member, value, _member_name(member, name))
            else:
                ET.SubElement(root, name).text = str(value)
        if _is_s3(service):
            ET.SubElement(root, "RequestId").text = request_id
            ET.SubElement(root, "HostId").text = request_id
            top = root
        else:
            ET.SubElement(wrapper, "RequestId").text = request_id
            top = wrapper
        body = _document(top)
        headers = [("Content-Type", "application/xml"), *_request_ids(service, request_id)]
        return WireResponse(error.status, tuple(headers), body)


def _location(result: Mapping[str, Any], namespace: str | None) -> bytes:
    # us-east-1 is an empty element, as S3 answers it.
    node = ET.Element("LocationConstraint")
    if namespace:
        node.set("xmlns", namespace)
    node.text = result.get("LocationConstraint") or None
    return _document(node)


def _document(root: ET.Element) -> bytes:
    text: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=False)
    return _DECLARATION + text


_DECLARATION = b'<?xml version="1.0" encoding="UTF-8"?>\n'


def _request_ids(service: ServiceModel, request_id: str) -> list[tuple[str, str]]:
    if _is_s3(service):
        return [("x-amz-request-id", request_id), ("x-amz-id-2", request_id)]
    return [("x-amzn-RequestId", request_id)]
