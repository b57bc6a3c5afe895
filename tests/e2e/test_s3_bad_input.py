"""Bad input to the S3 API: AWS's error codes in S3's XML, and after each the server still
serves and what was stored is intact."""

from __future__ import annotations

import base64
import hashlib
import urllib.error
import urllib.request
import uuid
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.e2e.conftest import Server

KEEP = b"stored before the bad requests"


@pytest.fixture
def s3(server: Server) -> Any:
    return server.client("s3", signature_version="s3v4")


@pytest.fixture
def bucket(s3: Any) -> str:
    name = f"bad-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    s3.put_object(Bucket=name, Key="keep", Body=KEEP)
    return name


def intact(s3: Any, bucket: str) -> None:
    assert s3.get_object(Bucket=bucket, Key="keep")["Body"].read() == KEEP
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]]
    assert keys == ["keep"], keys


def code_of(e: pytest.ExceptionInfo[ClientError]) -> str:
    return str(e.value.response["Error"]["Code"])


def test_malformed_xml(s3: Any, bucket: str) -> None:
    def garble(request: Any, **kwargs: Any) -> None:
        request.data = b"<Delete><Object><Key>keep</Key></Object"
        request.headers["Content-MD5"] = base64.b64encode(hashlib.md5(request.data).digest()).decode()
        for name in [h for h in request.headers if h.lower().startswith("x-amz-checksum-")]:
            del request.headers[name]  # botocore's checksum of the well-formed body

    s3.meta.events.register("before-sign.s3.DeleteObjects", garble)
    with pytest.raises(ClientError) as e:
        s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "keep"}]})
    assert code_of(e) == "MalformedXML"
    intact(s3, bucket)


def test_wrong_content_md5_is_bad_digest(s3: Any, bucket: str) -> None:
    wrong = base64.b64encode(hashlib.md5(b"something else").digest()).decode()
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket=bucket, Key="keep", Body=b"replacement", ContentMD5=wrong)
    assert code_of(e) == "BadDigest"
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket=bucket, Key="new", Body=b"x", ContentMD5="not-base64!")
    assert code_of(e) == "InvalidDigest"
    intact(s3, bucket)


def test_invalid_range(s3: Any, bucket: str) -> None:
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=bucket, Key="keep", Range=f"bytes={len(KEEP) + 10}-")
    assert code_of(e) == "InvalidRange"
    intact(s3, bucket)


def test_bad_keys(s3: Any, bucket: str) -> None:
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket=bucket, Key="k" * 1025, Body=b"x")
    assert code_of(e) == "KeyTooLongError"
    for key in ("a\x00b", "../keep", "a/../../etc/passwd", ".."):
        with pytest.raises(ClientError) as e:
            s3.put_object(Bucket=bucket, Key=key, Body=b"x")
        assert code_of(e) == "InvalidArgument", key
    intact(s3, bucket)


def test_unsigned_requests_are_access_denied(server: Server, s3: Any, bucket: str) -> None:
    for method, path, data in (
        ("GET", f"/{bucket}/keep", None),
        ("PUT", f"/{bucket}/keep", b"overwrite"),
        ("DELETE", f"/{bucket}/keep", None),
        ("GET", f"/{bucket}", None),
        ("PUT", f"/unsigned-{uuid.uuid4().hex[:8]}", None),
    ):
        request = urllib.request.Request(server.endpoint + path, data=data, method=method)
        with pytest.raises(urllib.error.HTTPError) as e:
            urllib.request.urlopen(request, timeout=30)
        body = e.value.read()
        assert e.value.code == 403, (method, path)
        assert b"<Code>AccessDenied</Code>" in body and b"Traceback" not in body
    intact(s3, bucket)


def test_wrong_payload_sha256_stores_nothing(s3: Any, bucket: str) -> None:
    def lie(request: Any, **kwargs: Any) -> None:
        # After signing: the signed x-amz-content-sha256 is the digest of another body.
        sent = request.body.read() if hasattr(request.body, "read") else request.body
        request.body = b"X" * len(sent)

    s3.meta.events.register("before-send.s3.PutObject", lie)
    for key in ("keep", "fresh"):
        with pytest.raises(ClientError) as e:
            s3.put_object(Bucket=bucket, Key=key, Body=b"the real body")
        assert code_of(e) == "XAmzContentSHA256Mismatch"
    s3.meta.events.unregister("before-send.s3.PutObject", lie)
    intact(s3, bucket)


def test_signature_version_2_is_refused_with_a_clear_message(server: Server, s3: Any, bucket: str) -> None:
    old = server.client("s3")  # boto3's default presigner is Signature Version 2
    url = old.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "keep"})
    if "AWSAccessKeyId" not in url:
        pytest.skip("this botocore presigns with SigV4 by default")
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(url, timeout=30)
    assert e.value.code == 400 and b"AWS4-HMAC-SHA256" in e.value.read()
    intact(s3, bucket)
