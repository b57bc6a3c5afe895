"""SQS's errors, named by the model's shape names (botocore's `client.exceptions.<Name>`) or,
for the codes SQS sends without a shape, by SQS's own code. All are sender faults, status 400,
as SQS answers them; the wire layer adds the query-era code where the model names one."""

from __future__ import annotations

from stratus.errors import ClientError


class SqsError(ClientError):
    code = "InvalidParameterValue"
    status = 400


class InvalidParameterValue(SqsError):
    code = "InvalidParameterValue"


class MissingParameter(SqsError):
    code = "MissingParameter"


class QueueDoesNotExist(SqsError):
    code = "QueueDoesNotExist"

    def __init__(self, message: str = "The specified queue does not exist.") -> None:
        super().__init__(message)


class QueueNameExists(SqsError):
    code = "QueueNameExists"


class InvalidAttributeName(SqsError):
    code = "InvalidAttributeName"


class InvalidAttributeValue(SqsError):
    code = "InvalidAttributeValue"


class ReceiptHandleIsInvalid(SqsError):
    code = "ReceiptHandleIsInvalid"


class MessageNotInflight(SqsError):
    code = "MessageNotInflight"


class PurgeQueueInProgress(SqsError):
    code = "PurgeQueueInProgress"


class BatchEntryIdsNotDistinct(SqsError):
    code = "BatchEntryIdsNotDistinct"


class TooManyEntriesInBatchRequest(SqsError):
    code = "TooManyEntriesInBatchRequest"


class EmptyBatchRequest(SqsError):
    code = "EmptyBatchRequest"


class InvalidBatchEntryId(SqsError):
    code = "InvalidBatchEntryId"


class BatchRequestTooLong(SqsError):
    code = "BatchRequestTooLong"


class InvalidMessageContents(SqsError):
    code = "InvalidMessageContents"


class UnsupportedOperation(SqsError):
    code = "UnsupportedOperation"


class ResourceNotFound(SqsError):
    code = "ResourceNotFoundException"


class InvalidAddress(SqsError):
    code = "InvalidAddress"
