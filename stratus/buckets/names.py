"""Which bucket names and object keys the store accepts: pure checks, raising S3's errors.

Bucket names follow AWS's rules for general purpose buckets. Object keys are never used as
file paths (blobs are named by random ids), so the key rules only keep out what S3 refuses
(empty, over 1024 UTF-8 bytes) and what would confuse tools that map keys to paths: NUL and
`..` segments, which `aws s3 sync` and friends would turn into a path outside their target.
"""

from __future__ import annotations

import ipaddress
import re

from stratus.buckets.errors import InvalidArgument, InvalidBucketName, KeyTooLong

MAX_KEY_BYTES = 1024
_BUCKET_CHARS = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
# Reserved by AWS for its own names (access point aliases, demo buckets, ...).
_RESERVED_PREFIXES = ("xn--", "sthree-", "amzn-s3-demo-")
_RESERVED_SUFFIXES = ("-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3")


def bucket_name_problem(name: str) -> str | None:
    """Why `name` is not a valid bucket name, or None if it is."""
    if not 3 <= len(name) <= 63:
        return "must be between 3 and 63 characters long"
    if not _BUCKET_CHARS.fullmatch(name):
        return (
            "may hold only lowercase letters, digits, dots and hyphens, and must begin and end"
            " with a letter or digit"
        )
    if ".." in name:
        return "must not contain two adjacent periods"
    if _is_ip_address(name):
        return "must not be formatted as an IP address"
    if name.startswith(_RESERVED_PREFIXES):
        return "must not start with a reserved prefix"
    if name.endswith(_RESERVED_SUFFIXES):
        return "must not end with a reserved suffix"
    return None


def check_bucket_name(name: str) -> None:
    """InvalidBucketName with AWS's message when `name` breaks a rule."""
    if bucket_name_problem(name) is not None:
        raise InvalidBucketName("The specified bucket is not valid.", BucketName=name)


def _is_ip_address(name: str) -> bool:
    try:
        ipaddress.IPv4Address(name)
    except ValueError:
        return False
    return True


def check_key(key: str) -> None:
    """KeyTooLongError or InvalidArgument when S3 (or this store) refuses `key`."""
    if not key:
        raise InvalidArgument("The object key must not be empty.")
    try:
        encoded = key.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates: not text S3 could store or list
        raise InvalidArgument("The object key is not valid UTF-8.") from None
    if len(encoded) > MAX_KEY_BYTES:
        raise KeyTooLong("Your key is too long", Size=str(len(encoded)), MaxSizeAllowed=str(MAX_KEY_BYTES))
    if "\x00" in key:
        raise InvalidArgument("The object key must not contain a NUL character.")
    # Both separators: a key is read as a path by clients on either kind of system.
    if ".." in re.split(r"[/\\]", key):
        raise InvalidArgument("The object key must not contain a '..' path segment.")
