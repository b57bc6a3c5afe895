"""The REST route table: labels, greedy labels, literal query parts, precedence among
operations sharing a template, percent-encoding, and the service's own answer to no match.
Pure: requests are built by hand, no server."""

from __future__ import annotations

import time

import pytest

from stratus.wire.models import service_model
from stratus.wire.rest_routes import NoRoute, RouteTable, route_table
from stratus.wire.types import BadRequest, WireRequest

LAMBDA = route_table(service_model("lambda"))
S3 = route_table(service_model("s3"))


def match(
    table: RouteTable, method: str, path: str, query: tuple[tuple[str, str], ...] = (), **headers: str
) -> tuple[str, dict[str, str]]:
    named = {k.replace("_", "-"): v for k, v in headers.items()}
    route, labels = table.match(WireRequest(method, path, query, named))
    return route.operation, labels


def test_labels() -> None:
    assert match(LAMBDA, "GET", "/2015-03-31/functions/my-fn") == ("GetFunction", {"FunctionName": "my-fn"})
    assert match(LAMBDA, "DELETE", "/2015-03-31/functions/f/aliases/live") == (
        "DeleteAlias",
        {"FunctionName": "f", "Name": "live"},
    )
    assert match(LAMBDA, "POST", "/2015-03-31/functions/f/invocations")[0] == "Invoke"


def test_labels_are_percent_decoded_after_splitting() -> None:
    arn = "arn%3Aaws%3Alambda%3Aus-east-1%3A123456789012%3Afunction%3Af"
    assert match(LAMBDA, "GET", f"/2015-03-31/functions/{arn}/configuration") == (
        "GetFunctionConfiguration",
        {"FunctionName": "arn:aws:lambda:us-east-1:123456789012:function:f"},
    )
    # An encoded slash stays inside its label rather than making a new segment.
    assert match(LAMBDA, "GET", "/2017-03-31/tags/a%2Fb") == ("ListTags", {"Resource": "a/b"})


def test_greedy_label_keeps_slashes() -> None:
    assert match(S3, "GET", "/bucket/a/b/c.txt") == ("GetObject", {"Bucket": "bucket", "Key": "a/b/c.txt"})
    assert match(S3, "GET", "/bucket/dir/")[1]["Key"] == "dir/"
    assert match(S3, "GET", "/bucket/a%20b/%E2%82%AC%2Fx")[1]["Key"] == "a b/€/x"


def test_literal_query_must_be_present() -> None:
    assert match(S3, "GET", "/bucket", (("tagging", ""),))[0] == "GetBucketTagging"
    assert match(S3, "GET", "/bucket", (("list-type", "2"), ("prefix", "a")))[0] == "ListObjectsV2"
    assert match(S3, "GET", "/bucket", (("list-type", "3"),))[0] == "ListObjects"
    assert match(S3, "GET", "/bucket")[0] == "ListObjects"
    assert match(S3, "GET", "/bucket/key", (("tagging", ""),))[0] == "GetObjectTagging"
    assert match(LAMBDA, "GET", "/2018-10-31/layers", (("find", "LayerVersion"), ("Arn", "x")))[0] == (
        "GetLayerVersionByArn"
    )
    assert match(LAMBDA, "GET", "/2018-10-31/layers")[0] == "ListLayers"


def test_precedence_literal_segments_first() -> None:
    # `.../event-invoke-config/list` is not the `{FunctionName}` config with a label after it.
    assert match(LAMBDA, "GET", "/2019-09-25/functions/f/event-invoke-config/list")[0] == (
        "ListFunctionEventInvokeConfigs"
    )
    assert match(LAMBDA, "GET", "/2019-09-25/functions/f/event-invoke-config")[0] == (
        "GetFunctionEventInvokeConfig"
    )


def test_precedence_required_query_and_headers() -> None:
    """S3's object PUTs share one template: the required query keys and headers decide."""
    assert match(S3, "PUT", "/b/k")[0] == "PutObject"
    assert match(S3, "PUT", "/b/k", x_amz_copy_source="/o/k")[0] == "CopyObject"
    upload = (("partNumber", "1"), ("uploadId", "u"))
    assert match(S3, "PUT", "/b/k", upload)[0] == "UploadPart"
    assert match(S3, "PUT", "/b/k", upload, x_amz_copy_source="/o/k")[0] == "UploadPartCopy"
    assert match(S3, "GET", "/b/k", (("uploadId", "u"),))[0] == "ListParts"
    assert match(S3, "DELETE", "/b/k", (("uploadId", "u"),))[0] == "AbortMultipartUpload"
    assert match(S3, "DELETE", "/b/k")[0] == "DeleteObject"
    assert match(S3, "GET", "/b", (("analytics", ""), ("id", "x")))[0] == "GetBucketAnalyticsConfiguration"
    assert match(S3, "GET", "/b", (("analytics", ""),))[0] == "ListBucketAnalyticsConfigurations"
    # Same wire, one deprecated: the current operation wins.
    assert match(S3, "GET", "/b", (("lifecycle", ""),))[0] == "GetBucketLifecycleConfiguration"


def test_trailing_slash_names_the_same_resource() -> None:
    assert match(LAMBDA, "GET", "/2015-03-31/functions/")[0] == "ListFunctions"
    assert match(S3, "GET", "/")[0] == "ListBuckets"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/2015-03-31/nothing"),
        ("PATCH", "/2015-03-31/functions/f"),
        ("GET", "/2015-03-31/functions/f/x/y"),
    ],
)
def test_no_route_is_the_services_answer(method: str, path: str) -> None:
    with pytest.raises(BadRequest) as caught:
        LAMBDA.match(WireRequest(method, path), NoRoute("UnknownOperationException", 404))
    assert (caught.value.code, caught.value.status) == ("UnknownOperationException", 404)
    with pytest.raises(BadRequest) as caught:
        LAMBDA.match(WireRequest(method, path), NoRoute("NotFound", 400, "no {method} {path}"))
    assert (caught.value.code, caught.value.message) == ("NotFound", f"no {method} {path}")


def test_empty_label_does_not_match() -> None:
    with pytest.raises(BadRequest):
        LAMBDA.match(WireRequest("GET", "/2015-03-31/functions//configuration"))


def test_table_is_built_once_and_matching_is_fast() -> None:
    assert route_table(service_model("s3")) is S3
    request = WireRequest("PUT", "/bucket/some/key.txt", (("partNumber", "1"), ("uploadId", "u")))
    start = time.perf_counter()
    for _ in range(2000):
        S3.match(request)
    # A generous bound for a loaded shared machine: about 10 µs a match when idle.
    assert time.perf_counter() - start < 1.0
