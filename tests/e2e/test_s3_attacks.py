"""Attacks on the S3 front: callers held to their policies on S3's ARNs, presigned URLs held
to what they were signed for, aws-chunked bodies held to their chunk signatures."""

from __future__ import annotations

import hashlib
import hmac
import http.client
import json
import uuid
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.e2e.conftest import ACCESS_KEY, REGION, SECRET_KEY, Server
from tests.e2e.test_identity import new_user

SECRET = b"the protected object"


def s3_as(server: Server, creds: dict[str, str]) -> Any:
    return boto3.client(
        "s3",
        endpoint_url=server.endpoint,
        region_name=REGION,
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds.get("SessionToken"),
        config=Config(signature_version="s3v4", retries={"max_attempts": 1}),
    )


@pytest.fixture
def two_buckets(server: Server) -> tuple[str, str]:
    s3 = server.client("s3", signature_version="s3v4")
    mine, other = f"mine-{uuid.uuid4().hex[:10]}", f"other-{uuid.uuid4().hex[:10]}"
    for name in (mine, other):
        s3.create_bucket(Bucket=name)
        s3.put_object(Bucket=name, Key="doc.txt", Body=SECRET)
    return mine, other


def code_of(e: pytest.ExceptionInfo[ClientError]) -> str:
    return str(e.value.response["Error"]["Code"])


def read_only_user(server: Server, bucket: str) -> dict[str, str]:
    return new_user(
        server, {"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{bucket}/*"}
    )


def test_get_object_on_one_bucket_opens_nothing_else(server: Server, two_buckets: tuple[str, str]) -> None:
    mine, other = two_buckets
    s3 = s3_as(server, read_only_user(server, mine))
    assert s3.get_object(Bucket=mine, Key="doc.txt")["Body"].read() == SECRET
    assert s3.head_object(Bucket=mine, Key="doc.txt")["ContentLength"] == len(SECRET)
    refused = [
        lambda: s3.get_object(Bucket=other, Key="doc.txt"),
        lambda: s3.head_object(Bucket=other, Key="doc.txt"),
        lambda: s3.list_objects_v2(Bucket=other),
        lambda: s3.list_objects_v2(Bucket=mine),
        lambda: s3.list_buckets(),
        lambda: s3.put_object(Bucket=mine, Key="doc.txt", Body=b"defaced"),
        lambda: s3.put_object(Bucket=mine, Key="new.txt", Body=b"new"),
        lambda: s3.delete_object(Bucket=mine, Key="doc.txt"),
        lambda: s3.copy_object(Bucket=mine, Key="copy.txt", CopySource=f"{other}/doc.txt"),
        lambda: s3.create_multipart_upload(Bucket=mine, Key="mp"),
        lambda: s3.create_bucket(Bucket=f"x-{uuid.uuid4().hex[:10]}"),
        lambda: s3.delete_bucket(Bucket=other),
    ]
    for call in refused:
        with pytest.raises(ClientError) as e:
            call()
        assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    # DeleteObjects answers for each key, as S3 does: refused ones come back as AccessDenied.
    answer = s3.delete_objects(Bucket=mine, Delete={"Objects": [{"Key": "doc.txt"}]})
    assert [(e["Key"], e["Code"]) for e in answer["Errors"]] == [("doc.txt", "AccessDenied")]
    assert "Deleted" not in answer
    root = server.client("s3", signature_version="s3v4")
    for name in (mine, other):
        assert [o["Key"] for o in root.list_objects_v2(Bucket=name)["Contents"]] == ["doc.txt"]
        assert root.get_object(Bucket=name, Key="doc.txt")["Body"].read() == SECRET


def test_delete_objects_deletes_only_the_keys_the_caller_may(
    server: Server, two_buckets: tuple[str, str]
) -> None:
    mine, _ = two_buckets
    root = server.client("s3", signature_version="s3v4")
    root.put_object(Bucket=mine, Key="tmp/a", Body=b"scratch")
    cleaner = new_user(
        server, {"Effect": "Allow", "Action": "s3:DeleteObject", "Resource": f"arn:aws:s3:::{mine}/tmp/*"}
    )
    answer = s3_as(server, cleaner).delete_objects(
        Bucket=mine, Delete={"Objects": [{"Key": "doc.txt"}, {"Key": "tmp/a"}]}
    )
    assert [d["Key"] for d in answer["Deleted"]] == ["tmp/a"]
    assert [(e["Key"], e["Code"]) for e in answer["Errors"]] == [("doc.txt", "AccessDenied")]
    assert [o["Key"] for o in root.list_objects_v2(Bucket=mine)["Contents"]] == ["doc.txt"]


def test_copy_needs_read_on_the_source(server: Server, two_buckets: tuple[str, str]) -> None:
    mine, other = two_buckets
    writer = new_user(
        server,
        {"Effect": "Allow", "Action": ["s3:PutObject", "s3:GetObject"], "Resource": f"arn:aws:s3:::{mine}/*"},
    )
    s3 = s3_as(server, writer)
    s3.copy_object(Bucket=mine, Key="copy.txt", CopySource=f"{mine}/doc.txt")
    with pytest.raises(ClientError) as e:
        s3.copy_object(Bucket=mine, Key="stolen.txt", CopySource=f"{other}/doc.txt")
    assert code_of(e) == "AccessDenied"
    root = server.client("s3", signature_version="s3v4")
    with pytest.raises(ClientError):
        root.head_object(Bucket=mine, Key="stolen.txt")


def test_a_presigned_put_for_one_key_cannot_write_another(
    server: Server, two_buckets: tuple[str, str]
) -> None:
    mine, _ = two_buckets
    s3 = server.client("s3", signature_version="s3v4")
    url = s3.generate_presigned_url("put_object", Params={"Bucket": mine, "Key": "a.txt"}, ExpiresIn=300)
    for forged in (url.replace("/a.txt?", "/doc.txt?"), url.replace("/a.txt?", "/b.txt?")):
        host, _, rest = forged.removeprefix("http://").partition("/")
        conn = http.client.HTTPConnection(host, timeout=30)
        conn.request("PUT", "/" + rest, body=b"forged")
        response = conn.getresponse()
        assert response.status == 403 and b"SignatureDoesNotMatch" in response.read()
        conn.close()
    assert s3.get_object(Bucket=mine, Key="doc.txt")["Body"].read() == SECRET
    with pytest.raises(ClientError):
        s3.head_object(Bucket=mine, Key="b.txt")


def _signing_key(date: str) -> bytes:
    key = ("AWS4" + SECRET_KEY).encode()
    for part in (date, REGION, "s3", "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return key


def chunked_put(server: Server, path: str, chunks: list[bytes], tamper: bool) -> tuple[int, bytes]:
    """A PUT with STREAMING-AWS4-HMAC-SHA256-PAYLOAD, signed here from AWS's documented
    algorithm (botocore has no chunk signer); with `tamper`, one byte of the first chunk is
    changed after signing."""
    now = datetime.now(UTC)
    stamp, date = now.strftime("%Y%m%dT%H%M%SZ"), now.strftime("%Y%m%d")
    scope = f"{date}/{REGION}/s3/aws4_request"
    key = _signing_key(date)
    mode = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
    decoded = sum(len(c) for c in chunks)
    host = server.endpoint.removeprefix("http://")
    headers = {
        "host": host,
        "x-amz-content-sha256": mode,
        "x-amz-date": stamp,
        "x-amz-decoded-content-length": str(decoded),
        "content-encoding": "aws-chunked",
    }
    signed = sorted(headers)
    canonical = "\n".join(
        ["PUT", path, "", "".join(f"{h}:{headers[h]}\n" for h in signed), ";".join(signed), mode]
    )
    to_sign = "\n".join(["AWS4-HMAC-SHA256", stamp, scope, hashlib.sha256(canonical.encode()).hexdigest()])
    previous = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    authorization = (
        f"AWS4-HMAC-SHA256 Credential={ACCESS_KEY}/{scope}, "
        f"SignedHeaders={';'.join(signed)}, Signature={previous}"
    )
    empty = hashlib.sha256(b"").hexdigest()
    body = []
    for data in [*chunks, b""]:
        chunk_to_sign = "\n".join(
            ["AWS4-HMAC-SHA256-PAYLOAD", stamp, scope, previous, empty, hashlib.sha256(data).hexdigest()]
        )
        previous = hmac.new(key, chunk_to_sign.encode(), hashlib.sha256).hexdigest()
        body.append(b"%x;chunk-signature=%s\r\n%s\r\n" % (len(data), previous.encode(), data))
    raw = bytearray(b"".join(body))
    if tamper:
        at = raw.index(b"\r\n") + 2
        raw[at] ^= 0x01
    conn = http.client.HTTPConnection(host, timeout=30)
    send = {k: v for k, v in headers.items() if k != "host"}
    conn.request("PUT", path, body=bytes(raw), headers={**send, "Authorization": authorization})
    response = conn.getresponse()
    result = response.status, response.read()
    conn.close()
    return result


def test_aws_chunked_upload_is_verified_chunk_by_chunk(server: Server, two_buckets: tuple[str, str]) -> None:
    mine, _ = two_buckets
    s3 = server.client("s3", signature_version="s3v4")
    chunks = [b"a" * 65536, b"b" * 65536, b"tail"]
    status, _ = chunked_put(server, f"/{mine}/chunked.bin", chunks, tamper=False)
    assert status == 200
    assert s3.get_object(Bucket=mine, Key="chunked.bin")["Body"].read() == b"".join(chunks)
    status, answer = chunked_put(server, f"/{mine}/doc.txt", chunks, tamper=True)
    assert status == 403 and b"SignatureDoesNotMatch" in answer, answer
    assert s3.get_object(Bucket=mine, Key="doc.txt")["Body"].read() == SECRET  # not overwritten


def test_policy_document_names_s3_arns_without_region_or_account(
    server: Server, two_buckets: tuple[str, str]
) -> None:
    mine, other = two_buckets
    lister = new_user(
        server,
        {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": f"arn:aws:s3:::{mine}"},
        {"Effect": "Allow", "Action": "s3:ListAllMyBuckets", "Resource": "*"},
    )
    s3 = s3_as(server, lister)
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=mine)["Contents"]] == ["doc.txt"]
    assert mine in [b["Name"] for b in s3.list_buckets()["Buckets"]]
    with pytest.raises(ClientError) as e:
        s3.list_objects_v2(Bucket=other)
    assert code_of(e) == "AccessDenied"
    with pytest.raises(ClientError):
        s3.get_object(Bucket=mine, Key="doc.txt")
    assert json.dumps({"ok": True})  # the policy above is the whole grant
