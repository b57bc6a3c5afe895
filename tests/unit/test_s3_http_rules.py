"""S3's HTTP rules for objects, pure: ranges, conditional headers, Content-MD5 and the hosts
that name a bucket."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

import pytest

from stratus.buckets.errors import InvalidDigest, InvalidRange
from stratus.buckets.http_rules import (
    byte_range,
    content_md5,
    precondition,
    signed_for_s3,
    unsigned,
    virtual_bucket,
)


@pytest.mark.parametrize(
    ("header", "size", "expected"),
    [
        (None, 10, None),
        ("bytes=0-0", 10, (0, 1)),
        ("bytes=2-5", 10, (2, 6)),
        ("bytes=2-", 10, (2, 10)),
        ("bytes=-3", 10, (7, 10)),
        ("bytes=-30", 10, (0, 10)),  # a suffix longer than the object: all of it
        ("bytes=5-100", 10, (5, 10)),  # an end past the object is cut
        ("bytes=5-2", 10, None),  # not a range: the whole object, as S3 answers
        ("bytes=0-1,4-5", 10, None),  # several ranges: S3 answers the whole object
        ("items=0-1", 10, None),
        ("bytes=a-b", 10, None),
    ],
)
def test_byte_ranges(header: str | None, size: int, expected: tuple[int, int] | None) -> None:
    assert byte_range(header, size) == expected


@pytest.mark.parametrize(("header", "size"), [("bytes=10-", 10), ("bytes=20-30", 10), ("bytes=-5", 0)])
def test_unsatisfiable_ranges(header: str, size: int) -> None:
    with pytest.raises(InvalidRange):
        byte_range(header, size)


MODIFIED = datetime(2026, 12, 1, 12, 0, 0, 500000, tzinfo=UTC)
BEFORE, SAME, AFTER = (
    "Tue, 01 Dec 2026 11:00:00 GMT",
    "Tue, 01 Dec 2026 12:00:00 GMT",
    "Tue, 01 Dec 2026 13:00:00 GMT",
)


@pytest.mark.parametrize(
    ("headers", "verdict"),
    [
        ({}, None),
        ({"if-match": '"abc"'}, None),
        ({"if-match": '"other", "abc"'}, None),
        ({"if-match": "*"}, None),
        ({"if-match": '"other"'}, 412),
        ({"if-none-match": '"abc"'}, 304),
        ({"if-none-match": '"other"'}, None),
        ({"if-modified-since": SAME}, 304),  # whole seconds: not modified since that second
        ({"if-modified-since": BEFORE}, None),
        ({"if-unmodified-since": BEFORE}, 412),
        ({"if-unmodified-since": AFTER}, None),
        # If-Match that holds overrides a failing If-Unmodified-Since...
        ({"if-match": '"abc"', "if-unmodified-since": BEFORE}, None),
        # ...and If-None-Match that fails overrides an If-Modified-Since that holds.
        ({"if-none-match": '"abc"', "if-modified-since": BEFORE}, 304),
        ({"if-modified-since": "not a date"}, None),
    ],
)
def test_conditional_headers(headers: dict[str, str], verdict: int | None) -> None:
    assert precondition("abc", MODIFIED, headers) == verdict


def test_content_md5() -> None:
    digest = bytes(range(16))
    assert content_md5(None) is None
    assert content_md5(base64.b64encode(digest).decode()) == digest
    for bad in ("not base64!", base64.b64encode(b"short").decode()):
        with pytest.raises(InvalidDigest):
            content_md5(bad)


@pytest.mark.parametrize(
    ("host", "bucket"),
    [
        ("photos.s3.localhost:9000", "photos"),
        ("photos.s3.us-east-1.example.com", "photos"),
        ("photos.localhost:9000", "photos"),
        ("127.0.0.1:9000", None),
        ("localhost:9000", None),
        ("abc.lambda-url.us-east-1.localhost", None),  # a function URL's host, not a bucket's
        ("s3.localhost", None),
        (None, None),
    ],
)
def test_virtual_hosted_buckets(host: str | None, bucket: str | None) -> None:
    assert virtual_bucket(host) == bucket


def test_what_is_signed_for_s3() -> None:
    header = {"Authorization": "AWS4-HMAC-SHA256 Credential=AKID/20261204/us-east-1/s3/aws4_request, ..."}
    assert signed_for_s3(header, {}) and not unsigned(header, {})
    presigned = {
        "X-Amz-Algorithm": "AWS4-HMAC-SHA256",
        "X-Amz-Credential": "AKID/20261204/us-east-1/s3/aws4_request",
    }
    assert signed_for_s3({}, presigned) and not unsigned({}, presigned)
    lam = {"Authorization": "AWS4-HMAC-SHA256 Credential=AKID/20261204/us-east-1/lambda/aws4_request, ..."}
    assert not signed_for_s3(lam, {})
    assert unsigned({}, {})
