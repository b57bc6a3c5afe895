"""S3's errors, with the codes and statuses S3 answers (botocore raises the same classes as
against AWS). All are `StratusError`s; the S3 front writes them in S3's XML shape."""

from __future__ import annotations

from stratus.errors import ClientError, ServiceError


class S3Error(ClientError):
    code = "InvalidRequest"
    status = 400


class NoSuchBucket(S3Error):
    code, status = "NoSuchBucket", 404


class NoSuchKey(S3Error):
    code, status = "NoSuchKey", 404


class NoSuchUpload(S3Error):
    code, status = "NoSuchUpload", 404


class NoSuchBucketPolicy(S3Error):
    code, status = "NoSuchBucketPolicy", 404


class BucketAlreadyOwnedByYou(S3Error):
    code, status = "BucketAlreadyOwnedByYou", 409


class BucketNotEmpty(S3Error):
    code, status = "BucketNotEmpty", 409


class InvalidBucketName(S3Error):
    code = "InvalidBucketName"


class KeyTooLong(S3Error):
    code = "KeyTooLongError"


class InvalidArgument(S3Error):
    code = "InvalidArgument"


class InvalidRequest(S3Error):
    code = "InvalidRequest"


class MalformedXML(S3Error):
    code = "MalformedXML"


class BadDigest(S3Error):
    code = "BadDigest"


class InvalidDigest(S3Error):
    code = "InvalidDigest"


class ContentSHA256Mismatch(S3Error):
    code = "XAmzContentSHA256Mismatch"


class EntityTooLarge(S3Error):
    code = "EntityTooLarge"


class EntityTooSmall(S3Error):
    code = "EntityTooSmall"


class IncompleteBody(S3Error):
    code = "IncompleteBody"


class InvalidPart(S3Error):
    code = "InvalidPart"


class InvalidPartOrder(S3Error):
    code = "InvalidPartOrder"


class InvalidRange(S3Error):
    code, status = "InvalidRange", 416


class PreconditionFailed(S3Error):
    code, status = "PreconditionFailed", 412


class NotModified(S3Error):
    # Not an error on the wire (304, no body), raised to leave the handler the same way.
    code, status = "NotModified", 304


class AccessDenied(S3Error):
    code, status = "AccessDenied", 403


class MethodNotAllowed(S3Error):
    code, status = "MethodNotAllowed", 405


class InternalError(ServiceError):
    code = "InternalError"
