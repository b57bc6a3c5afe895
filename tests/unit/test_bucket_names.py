from __future__ import annotations

import pytest

from stratus.buckets.errors import InvalidArgument, InvalidBucketName, KeyTooLong
from stratus.buckets.names import bucket_name_problem, check_bucket_name, check_key


@pytest.mark.parametrize(
    "name", ["abc", "my-bucket", "my.bucket.1", "a" * 63, "0bucket9", "192.168.1.1a", "xn-abc"]
)
def test_valid_bucket_names(name: str) -> None:
    assert bucket_name_problem(name) is None
    check_bucket_name(name)


@pytest.mark.parametrize(
    "name",
    [
        "ab",  # too short
        "a" * 64,  # too long
        "My-Bucket",  # upper case
        "my_bucket",  # underscore
        "-bucket",  # starts with a hyphen
        "bucket-",  # ends with a hyphen
        ".bucket",
        "bucket.",
        "my..bucket",
        "192.168.5.4",  # an IP address
        "xn--bucket",
        "sthree-bucket",
        "amzn-s3-demo-bucket",
        "bucket-s3alias",
        "bucket--ol-s3",
        "bucket.mrap",
        "bucket--x-s3",
        "bücket",
        "",
    ],
)
def test_invalid_bucket_names(name: str) -> None:
    assert bucket_name_problem(name) is not None
    with pytest.raises(InvalidBucketName) as caught:
        check_bucket_name(name)
    assert caught.value.message == "The specified bucket is not valid."
    assert caught.value.code == "InvalidBucketName"


@pytest.mark.parametrize(
    "key",
    ["a", "dir/file.txt", "ünïcødé/日本語.txt", "a" * 1024, "é" * 512, "a..b", "..a/b..", "/lead", "./x"],
)
def test_valid_keys(key: str) -> None:
    check_key(key)


def test_key_over_1024_utf8_bytes_is_too_long() -> None:
    with pytest.raises(KeyTooLong) as caught:
        check_key("é" * 512 + "x")  # 1025 bytes, 513 characters
    assert caught.value.code == "KeyTooLongError"
    with pytest.raises(KeyTooLong):
        check_key("a" * 1025)


@pytest.mark.parametrize(
    "key", ["", "a\x00b", "..", "../etc/passwd", "a/../../b", "a/..", "a\\..\\b", "\ud800"]
)
def test_refused_keys(key: str) -> None:
    with pytest.raises(InvalidArgument) as caught:
        check_key(key)
    assert caught.value.code == "InvalidArgument"
