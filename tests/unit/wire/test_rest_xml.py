"""rest-xml against botocore's own client, for every operation of S3: botocore's serializer
makes the request, RestXmlProtocol finds the operation and reads the params back;
RestXmlProtocol answers, botocore's parser (and, for GetBucketLocation, botocore's own S3
handler) reads the result back; S3's errors reach botocore with their code and message."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from types import SimpleNamespace
from typing import Any

import pytest
from botocore.handlers import parse_get_bucket_location

from stratus.wire.models import service_model
from stratus.wire.rest_xml import RestXmlProtocol
from stratus.wire.samples import sample
from stratus.wire.types import BadRequest, WireError, WireRequest
from tests.unit.wire.rest_roundtrip import (
    client_parse,
    client_request,
    expected_params,
    readable,
    sample_result,
)

PROTOCOL = RestXmlProtocol()
S3 = service_model("s3")
NAMES = S3.operation_names
# Pairs S3 itself cannot tell apart on the wire (same method, path, query and headers): the
# deprecated operation's request reads as its successor's, and ListDirectoryBuckets (served by
# directory-bucket endpoints) as ListBuckets.
SAME_WIRE = {
    "GetBucketLifecycle": "GetBucketLifecycleConfiguration",
    "PutBucketLifecycle": "PutBucketLifecycleConfiguration",
    "GetBucketNotification": "GetBucketNotificationConfiguration",
    "PutBucketNotification": "PutBucketNotificationConfiguration",
    "ListDirectoryBuckets": "ListBuckets",
}


def one_event(value: Any) -> Any:
    """The deprecated notification configurations have both `Event` (a string) and `Events` (a
    flattened list of `Event` elements): on the wire they are the same elements, and botocore's
    own parser mixes them up. Samples keep only the list."""
    if isinstance(value, dict):
        return {k: one_event(v) for k, v in value.items() if not (k == "Event" and "Events" in value)}
    if isinstance(value, list):
        return [one_event(v) for v in value]
    return value


@pytest.mark.parametrize("name", NAMES)
def test_request_round_trip(name: str) -> None:
    operation = S3.operation_model(name)
    params = one_event(sample(operation.input_shape, seed=name)) if operation.input_shape is not None else {}
    request = client_request("rest-xml", operation, params)
    found, labels = PROTOCOL.operation(S3, request)
    assert found.name == SAME_WIRE.get(name, name)
    # Parsed as the operation the client meant, whichever of a same-wire pair was found.
    assert PROTOCOL.parse(operation, request, labels) == expected_params(operation, params)


@pytest.mark.parametrize("name", NAMES)
def test_response_round_trip(name: str) -> None:
    operation = S3.operation_model(name)
    result = one_event(sample_result(operation))
    answer = PROTOCOL.serialize(operation, result, "req-1")
    parsed = client_parse("rest-xml", operation, answer)
    if name == "GetBucketLocation":
        # botocore reads this answer with a handler of its own; run it as the client does.
        parse_get_bucket_location(parsed, SimpleNamespace(raw=True, content=answer.body))
    assert parsed["ResponseMetadata"]["RequestId"] == "req-1"
    got, want = readable(operation, parsed, result)
    assert one_event(got) == want


def test_bucket_location_us_east_1_is_empty() -> None:
    answer = PROTOCOL.serialize(S3.operation_model("GetBucketLocation"), {"LocationConstraint": None}, "r")
    root = ET.fromstring(answer.body)
    assert root.tag.endswith("LocationConstraint") and not root.text


def test_list_answer_has_s3s_root_and_namespace() -> None:
    answer = PROTOCOL.serialize(S3.operation_model("ListObjectsV2"), {"Name": "b", "KeyCount": 0}, "r")
    assert ET.fromstring(answer.body).tag == "{http://s3.amazonaws.com/doc/2006-03-01/}ListBucketResult"
    answer = PROTOCOL.serialize(S3.operation_model("GetBucketTagging"), {"TagSet": []}, "r")
    assert ET.fromstring(answer.body).tag.endswith("}Tagging")


ERRORS = [e.name for e in S3.error_shapes] + ["NoSuchBucketPolicy", "AccessDenied", "InternalError"]


@pytest.mark.parametrize("code", ERRORS)
def test_error_reaches_botocore(code: str) -> None:
    fields: dict[str, Any] = {"BucketName": "b"} if code.startswith("NoSuch") else {}
    status = 500 if code == "InternalError" else 404
    answer = PROTOCOL.error(S3, WireError(code, f"{code} happened", status, status < 500, fields), "req-2")
    assert answer.status == status
    root = ET.fromstring(answer.body)
    assert root.tag == "Error"  # S3's errors are not wrapped
    parsed = client_parse("rest-xml", S3.operation_model("GetObject"), answer, None)
    assert parsed["Error"]["Code"] == code
    assert parsed["Error"]["Message"] == f"{code} happened"
    assert parsed["ResponseMetadata"]["RequestId"] == "req-2"
    for key, value in fields.items():
        assert parsed["Error"][key] == value


def test_other_rest_xml_services_wrap_errors() -> None:
    route53 = service_model("route53")
    answer = PROTOCOL.error(route53, WireError("NoSuchHostedZone", "none", 404), "req-3")
    parsed = client_parse("rest-xml", route53.operation_model("GetHostedZone"), answer, None)
    assert (parsed["Error"]["Code"], parsed["Error"]["Message"]) == ("NoSuchHostedZone", "none")
    assert parsed["Error"]["Type"] == "Sender"
    assert parsed["ResponseMetadata"]["RequestId"] == "req-3"


def test_malformed_xml_is_bad_request() -> None:
    request = WireRequest("PUT", "/b", query=(("tagging", ""),), body=b"<Tagging><TagSet>")
    operation, labels = PROTOCOL.operation(S3, request)
    assert operation.name == "PutBucketTagging"
    with pytest.raises(BadRequest) as caught:
        PROTOCOL.parse(operation, request, labels)
    assert caught.value.code == "MalformedXML"


def test_user_metadata_headers() -> None:
    request = WireRequest(
        "PUT", "/b/k", headers={"x-amz-meta-colour": "blue", "x-amz-meta-size": "9"}, body=b"data"
    )
    operation, labels = PROTOCOL.operation(S3, request)
    params = PROTOCOL.parse(operation, request, labels)
    assert params == {"Bucket": "b", "Key": "k", "Metadata": {"colour": "blue", "size": "9"}, "Body": b"data"}
    answer = PROTOCOL.serialize(S3.operation_model("HeadObject"), {"Metadata": {"colour": "blue"}}, "r")
    assert ("x-amz-meta-colour", "blue") in answer.headers
