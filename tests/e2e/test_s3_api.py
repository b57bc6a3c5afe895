"""The S3 API against a real `stratus serve`, with unchanged boto3 (client and resource) and
plain HTTP for presigned URLs: buckets, objects, listing, copy, multipart, ranges,
conditional GETs, presigned GET and PUT, virtual-hosted addressing."""

from __future__ import annotations

import hashlib
import os
import urllib.error
import urllib.request
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.e2e.conftest import ACCESS_KEY, REGION, SECRET_KEY, Server


def s3_client(server: Server, **config: Any) -> Any:
    return server.client("s3", signature_version="s3v4", **config)


@pytest.fixture
def s3(server: Server) -> Any:
    return s3_client(server)


@pytest.fixture
def bucket(s3: Any) -> str:
    name = f"b-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    return name


def code_of(e: pytest.ExceptionInfo[ClientError]) -> str:
    return str(e.value.response["Error"]["Code"])


def test_buckets_create_list_locate_head_delete(s3: Any) -> None:
    name = f"b-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    assert name in [b["Name"] for b in s3.list_buckets()["Buckets"]]
    assert s3.get_bucket_location(Bucket=name)["LocationConstraint"] is None  # us-east-1
    s3.head_bucket(Bucket=name)
    with pytest.raises(ClientError) as e:
        s3.create_bucket(Bucket=name)
    assert code_of(e) == "BucketAlreadyOwnedByYou"
    eu = f"b-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=eu, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    assert s3.get_bucket_location(Bucket=eu)["LocationConstraint"] == "eu-west-1"
    s3.put_object(Bucket=name, Key="k", Body=b"x")
    with pytest.raises(ClientError) as e:
        s3.delete_bucket(Bucket=name)
    assert code_of(e) == "BucketNotEmpty"
    s3.delete_object(Bucket=name, Key="k")
    s3.delete_bucket(Bucket=name)
    s3.delete_bucket(Bucket=eu)
    with pytest.raises(ClientError) as e:
        s3.head_bucket(Bucket=name)
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    with pytest.raises(ClientError) as e:
        s3.list_objects_v2(Bucket=name)
    assert code_of(e) == "NoSuchBucket"
    with pytest.raises(ClientError) as e:
        s3.create_bucket(Bucket="Not_Valid")
    assert code_of(e) == "InvalidBucketName"


def test_objects_put_get_head_metadata_and_headers(s3: Any, bucket: str) -> None:
    body = b"hello, bucket"
    put = s3.put_object(
        Bucket=bucket,
        Key="dir/hello.txt",
        Body=body,
        ContentType="text/plain",
        Metadata={"Owner": "me"},
        CacheControl="max-age=60",
        ContentDisposition="inline",
    )
    assert put["ETag"] == f'"{hashlib.md5(body).hexdigest()}"'
    got = s3.get_object(Bucket=bucket, Key="dir/hello.txt")
    assert got["Body"].read() == body
    assert got["ContentType"] == "text/plain"
    assert got["Metadata"] == {"owner": "me"}
    assert got["CacheControl"] == "max-age=60" and got["ContentDisposition"] == "inline"
    assert got["ETag"] == put["ETag"] and got["ContentLength"] == len(body)
    assert got["AcceptRanges"] == "bytes"
    head = s3.head_object(Bucket=bucket, Key="dir/hello.txt")
    assert head["ContentLength"] == len(body) and head["ETag"] == put["ETag"]
    assert head["Metadata"] == {"owner": "me"}
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=bucket, Key="missing")
    assert code_of(e) == "NoSuchKey"
    with pytest.raises(ClientError) as e:
        s3.head_object(Bucket=bucket, Key="missing")
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    # An overwrite replaces the bytes; an empty object is an object.
    s3.put_object(Bucket=bucket, Key="dir/hello.txt", Body=b"second")
    assert s3.get_object(Bucket=bucket, Key="dir/hello.txt")["Body"].read() == b"second"
    s3.put_object(Bucket=bucket, Key="empty", Body=b"")
    assert s3.get_object(Bucket=bucket, Key="empty")["Body"].read() == b""


def test_list_objects_v2_prefix_delimiter_continuation_start_after(s3: Any, bucket: str) -> None:
    keys = ["a/1", "a/2", "a/b/3", "b/1", "c", "key with space+plus", "ünïcode/ключ"]
    for key in keys:
        s3.put_object(Bucket=bucket, Key=key, Body=key.encode())
    listed = s3.list_objects_v2(Bucket=bucket)
    assert [o["Key"] for o in listed["Contents"]] == sorted(keys, key=lambda k: k.encode())
    assert listed["KeyCount"] == len(keys) and not listed["IsTruncated"]
    top = s3.list_objects_v2(Bucket=bucket, Delimiter="/")
    assert [p["Prefix"] for p in top["CommonPrefixes"]] == ["a/", "b/", "ünïcode/"]
    assert [o["Key"] for o in top["Contents"]] == ["c", "key with space+plus"]
    under = s3.list_objects_v2(Bucket=bucket, Prefix="a/", Delimiter="/")
    assert [o["Key"] for o in under["Contents"]] == ["a/1", "a/2"]
    assert [p["Prefix"] for p in under["CommonPrefixes"]] == ["a/b/"]
    seen, token = [], None
    while True:
        kwargs = {"ContinuationToken": token} if token else {}
        page = s3.list_objects_v2(Bucket=bucket, MaxKeys=2, **kwargs)
        seen += [o["Key"] for o in page.get("Contents", [])]
        if not page["IsTruncated"]:
            break
        token = page["NextContinuationToken"]
    assert seen == sorted(keys, key=lambda k: k.encode())
    after = s3.list_objects_v2(Bucket=bucket, StartAfter="b/1")
    assert [o["Key"] for o in after["Contents"]] == ["c", "key with space+plus", "ünïcode/ключ"]
    paginated = [
        o["Key"] for p in s3.get_paginator("list_objects").paginate(Bucket=bucket) for o in p["Contents"]
    ]
    assert paginated == sorted(keys, key=lambda k: k.encode())


def test_delete_object_and_delete_objects(s3: Any, bucket: str) -> None:
    for key in ("x", "y", "z"):
        s3.put_object(Bucket=bucket, Key=key, Body=b"1")
    s3.delete_object(Bucket=bucket, Key="x")
    s3.delete_object(Bucket=bucket, Key="never-existed")  # S3: no error
    result = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "y"}, {"Key": "nope"}]})
    assert sorted(d["Key"] for d in result["Deleted"]) == ["nope", "y"]
    quiet = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "z"}], "Quiet": True})
    assert "Deleted" not in quiet
    assert "Contents" not in s3.list_objects_v2(Bucket=bucket)


def test_copy_object_keeps_or_replaces_metadata(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="src", Body=b"payload", ContentType="text/csv", Metadata={"a": "1"})
    copied = s3.copy_object(Bucket=bucket, Key="dst", CopySource={"Bucket": bucket, "Key": "src"})
    assert copied["CopyObjectResult"]["ETag"] == f'"{hashlib.md5(b"payload").hexdigest()}"'
    dst = s3.get_object(Bucket=bucket, Key="dst")
    assert (
        dst["Body"].read() == b"payload"
        and dst["Metadata"] == {"a": "1"}
        and dst["ContentType"] == "text/csv"
    )
    s3.copy_object(
        Bucket=bucket,
        Key="dst2",
        CopySource=f"{bucket}/src",
        MetadataDirective="REPLACE",
        Metadata={"b": "2"},
        ContentType="text/plain",
    )
    dst2 = s3.head_object(Bucket=bucket, Key="dst2")
    assert dst2["Metadata"] == {"b": "2"} and dst2["ContentType"] == "text/plain"
    with pytest.raises(ClientError) as e:
        s3.copy_object(Bucket=bucket, Key="dst3", CopySource=f"{bucket}/missing")
    assert code_of(e) == "NoSuchKey"


def test_multipart_upload_64_mb_with_upload_file(
    server: Server, s3: Any, bucket: str, tmp_path: Path
) -> None:
    path = tmp_path / "big.bin"
    block = hashlib.sha256(b"seed").digest() * (1024 * 1024 // 32)  # 1 MiB of non-repeating-ish bytes
    with open(path, "wb") as f:
        for i in range(64):
            f.write(bytes([i]) + block[1:])
    config = TransferConfig(multipart_threshold=8 * 1024 * 1024, multipart_chunksize=8 * 1024 * 1024)
    s3.upload_file(str(path), bucket, "big.bin", Config=config)
    head = s3.head_object(Bucket=bucket, Key="big.bin")
    assert head["ContentLength"] == 64 * 1024 * 1024
    assert head["ETag"].strip('"').endswith("-8")
    parts = [
        hashlib.md5(path.read_bytes()[i : i + 8 * 1024 * 1024]).digest() for i in range(0, 64 << 20, 8 << 20)
    ]
    assert head["ETag"] == f'"{hashlib.md5(b"".join(parts)).hexdigest()}-8"'
    out = tmp_path / "back.bin"
    s3.download_file(bucket, "big.bin", str(out), Config=config)  # ranged GETs in parallel
    assert hashlib.sha256(out.read_bytes()).digest() == hashlib.sha256(path.read_bytes()).digest()


def test_multipart_by_hand_list_parts_uploads_abort(s3: Any, bucket: str) -> None:
    upload = s3.create_multipart_upload(
        Bucket=bucket, Key="mp", ContentType="text/plain", Metadata={"m": "1"}
    )
    uid = upload["UploadId"]
    listed = s3.list_multipart_uploads(Bucket=bucket)
    assert [(u["Key"], u["UploadId"]) for u in listed["Uploads"]] == [("mp", uid)]
    p1 = s3.upload_part(Bucket=bucket, Key="mp", UploadId=uid, PartNumber=1, Body=b"a" * (5 * 1024 * 1024))
    p2 = s3.upload_part(Bucket=bucket, Key="mp", UploadId=uid, PartNumber=2, Body=b"tail")
    parts = s3.list_parts(Bucket=bucket, Key="mp", UploadId=uid)["Parts"]
    assert [(p["PartNumber"], p["Size"], p["ETag"]) for p in parts] == [
        (1, 5 * 1024 * 1024, p1["ETag"]),
        (2, 4, p2["ETag"]),
    ]
    with pytest.raises(ClientError) as e:
        s3.complete_multipart_upload(
            Bucket=bucket,
            Key="mp",
            UploadId=uid,
            MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": '"00"'}]},
        )
    assert code_of(e) == "InvalidPart"
    done = s3.complete_multipart_upload(
        Bucket=bucket,
        Key="mp",
        UploadId=uid,
        MultipartUpload={
            "Parts": [{"PartNumber": 1, "ETag": p1["ETag"]}, {"PartNumber": 2, "ETag": p2["ETag"]}]
        },
    )
    assert done["ETag"].endswith('-2"')
    got = s3.get_object(Bucket=bucket, Key="mp")
    assert got["ContentLength"] == 5 * 1024 * 1024 + 4 and got["Metadata"] == {"m": "1"}
    assert s3.get_object(Bucket=bucket, Key="mp", Range="bytes=5242878-5242881")["Body"].read() == b"aata"
    other = s3.create_multipart_upload(Bucket=bucket, Key="gone")["UploadId"]
    s3.abort_multipart_upload(Bucket=bucket, Key="gone", UploadId=other)
    with pytest.raises(ClientError) as e:
        s3.list_parts(Bucket=bucket, Key="gone", UploadId=other)
    assert code_of(e) == "NoSuchUpload"
    assert "Uploads" not in s3.list_multipart_uploads(Bucket=bucket)


def test_range_gets(s3: Any, bucket: str) -> None:
    body = bytes(range(256)) * 4
    s3.put_object(Bucket=bucket, Key="r", Body=body)
    part = s3.get_object(Bucket=bucket, Key="r", Range="bytes=10-19")
    assert part["Body"].read() == body[10:20] and part["ContentRange"] == f"bytes 10-19/{len(body)}"
    assert part["ResponseMetadata"]["HTTPStatusCode"] == 206
    assert s3.get_object(Bucket=bucket, Key="r", Range="bytes=1000-")["Body"].read() == body[1000:]
    assert s3.get_object(Bucket=bucket, Key="r", Range="bytes=-5")["Body"].read() == body[-5:]
    assert s3.get_object(Bucket=bucket, Key="r", Range="bytes=1020-5000")["Body"].read() == body[1020:]
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=bucket, Key="r", Range="bytes=5000-6000")
    assert code_of(e) == "InvalidRange"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 416


def test_conditional_gets(s3: Any, bucket: str) -> None:
    etag = s3.put_object(Bucket=bucket, Key="c", Body=b"cond")["ETag"]
    modified = s3.head_object(Bucket=bucket, Key="c")["LastModified"]
    assert s3.get_object(Bucket=bucket, Key="c", IfMatch=etag)["Body"].read() == b"cond"
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=bucket, Key="c", IfMatch='"0000"')
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 412
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=bucket, Key="c", IfNoneMatch=etag)
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 304
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=bucket, Key="c", IfModifiedSince=modified + timedelta(seconds=5))
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 304
    assert s3.get_object(Bucket=bucket, Key="c", IfModifiedSince=modified - timedelta(days=1))["Body"].read()
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=bucket, Key="c", IfUnmodifiedSince=datetime(2000, 1, 1, tzinfo=UTC))
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 412
    with pytest.raises(ClientError) as e:
        s3.head_object(Bucket=bucket, Key="c", IfNoneMatch=etag)
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 304


def test_presigned_get_and_put_with_plain_http(s3: Any, bucket: str) -> None:
    put_url = s3.generate_presigned_url(
        "put_object", Params={"Bucket": bucket, "Key": "up.txt"}, ExpiresIn=300
    )
    request = urllib.request.Request(put_url, data=b"via presigned put", method="PUT")
    with urllib.request.urlopen(request, timeout=30) as r:
        assert r.status == 200
    get_url = s3.generate_presigned_url(
        "get_object", Params={"Bucket": bucket, "Key": "up.txt"}, ExpiresIn=300
    )
    with urllib.request.urlopen(get_url, timeout=30) as r:
        assert r.read() == b"via presigned put"
    tampered = get_url.replace("up.txt", "other.txt")
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(tampered, timeout=30)
    assert e.value.code == 403 and b"SignatureDoesNotMatch" in e.value.read()
    # A presigned URL cannot list a bucket (only object reads and writes are presignable).
    listing = s3.generate_presigned_url("list_objects_v2", Params={"Bucket": bucket}, ExpiresIn=300)
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(listing, timeout=30)
    assert e.value.code == 403


def test_expired_presigned_url_is_refused(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="e", Body=b"1")
    url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "e"}, ExpiresIn=1)
    stamp = url.split("X-Amz-Date=")[1][:16]
    old = (datetime.strptime(stamp, "%Y%m%dT%H%M%SZ") - timedelta(seconds=30)).strftime("%Y%m%dT%H%M%SZ")
    # Re-dating a URL breaks its signature; an expired one is refused either way.
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(url.replace(stamp, old), timeout=30)
    assert e.value.code == 403


def test_resource_api_and_virtual_hosted_addressing(server: Server, bucket: str) -> None:
    resource = boto3.resource(
        "s3",
        endpoint_url=server.endpoint,
        region_name=REGION,
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
        config=Config(signature_version="s3v4", retries={"max_attempts": 1}),
    )
    resource.Object(bucket, "res.txt").put(Body=b"resource")
    assert resource.Object(bucket, "res.txt").get()["Body"].read() == b"resource"
    assert [o.key for o in resource.Bucket(bucket).objects.all()] == ["res.txt"]
    virtual = s3_client(server)

    def to_virtual_host(request: Any, **kwargs: Any) -> None:
        # As a client configured for virtual-hosted addressing sends it (*.localhost does not
        # resolve everywhere): Host names the bucket, the path is the key alone.
        prefix = f"{server.endpoint}/{bucket}"
        if request.url.startswith(prefix):
            rest = request.url[len(prefix) :]
            request.url = server.endpoint + (rest if rest.startswith("/") else "/" + rest)
            request.headers["Host"] = f"{bucket}.localhost:{server.port}"

    virtual.meta.events.register("before-sign.s3", to_virtual_host)
    virtual.put_object(Bucket=bucket, Key="virt/key.txt", Body=b"virtual")
    assert virtual.get_object(Bucket=bucket, Key="virt/key.txt")["Body"].read() == b"virtual"
    assert [o["Key"] for o in virtual.list_objects_v2(Bucket=bucket, Prefix="virt/")["Contents"]] == [
        "virt/key.txt"
    ]
    assert s3_client(server).get_object(Bucket=bucket, Key="virt/key.txt")["Body"].read() == b"virtual"


def _peak_rss_kib(server: Server) -> int:
    assert server.proc is not None
    status = Path(f"/proc/{server.proc.pid}/status").read_text()
    return int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM:")))


def test_objects_stream_through_without_being_held_in_memory(s3: Any, bucket: str, server: Server) -> None:
    """A 256 MiB object goes in (one PUT, its body sent in pieces) and out without the server's
    peak memory growing by anything near its size: bodies stream to and from disk."""
    import http.client
    from urllib.parse import urlsplit

    size, piece = 256 * 1024 * 1024, os.urandom(1024 * 1024)
    url = s3.generate_presigned_url("put_object", Params={"Bucket": bucket, "Key": "big"}, ExpiresIn=600)
    before = _peak_rss_kib(server)
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=300)
    conn.putrequest("PUT", f"{parts.path}?{parts.query}")
    conn.putheader("Content-Length", str(size))
    conn.endheaders()
    digest = hashlib.md5()
    for _ in range(size // len(piece)):
        conn.send(piece)
        digest.update(piece)
    reply = conn.getresponse()
    assert reply.status == 200, reply.read()
    assert reply.getheader("ETag") == f'"{digest.hexdigest()}"'
    conn.close()
    read = hashlib.md5()
    body = s3.get_object(Bucket=bucket, Key="big")["Body"]
    for chunk in iter(lambda: body.read(1024 * 1024), b""):
        read.update(chunk)
    assert read.hexdigest() == digest.hexdigest()
    grown_mib = (_peak_rss_kib(server) - before) / 1024
    assert grown_mib < 64, f"the server's peak memory grew by {grown_mib:.0f} MiB for a 256 MiB object"
