"""DynamoDB Streams' errors, named by the dynamodbstreams model's shapes (boto3's
`client.exceptions.<Name>`). All are sender faults with status 400, as DynamoDB answers them."""

from __future__ import annotations

from stratus.errors import ClientError


class StreamsError(ClientError):
    code = "ValidationException"
    status = 400


class ValidationException(StreamsError):
    code = "ValidationException"


class ResourceNotFoundException(StreamsError):
    code = "ResourceNotFoundException"


class ExpiredIteratorException(StreamsError):
    code = "ExpiredIteratorException"


class TrimmedDataAccessException(StreamsError):
    code = "TrimmedDataAccessException"
