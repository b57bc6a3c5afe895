"""SNS's errors, by the codes its query protocol answers (botocore's model: NotFound,
InvalidParameter, ParameterValueInvalid...), so that boto3 raises the same exception classes."""

from __future__ import annotations

from stratus.errors import ClientError


class SnsError(ClientError):
    code = "InvalidParameter"


class InvalidParameter(SnsError):
    code = "InvalidParameter"


class InvalidParameterValue(SnsError):
    code = "ParameterValueInvalid"


class NotFound(SnsError):
    code = "NotFound"
    status = 404


class ResourceNotFound(SnsError):
    code = "ResourceNotFound"
    status = 404


class AuthorizationError(SnsError):
    code = "AuthorizationError"
    status = 403


class TagLimitExceeded(SnsError):
    code = "TagLimitExceeded"


class EmptyBatchRequest(SnsError):
    code = "EmptyBatchRequest"


class TooManyEntriesInBatchRequest(SnsError):
    code = "TooManyEntriesInBatchRequest"


class BatchEntryIdsNotDistinct(SnsError):
    code = "BatchEntryIdsNotDistinct"


class InvalidBatchEntryId(SnsError):
    code = "InvalidBatchEntryId"


class BatchRequestTooLong(SnsError):
    code = "BatchRequestTooLong"
