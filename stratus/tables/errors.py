"""DynamoDB's errors, named by the dynamodb model's shapes (boto3's `client.exceptions.<Name>`)
plus ValidationException, which DynamoDB answers without a shape of its own. All are sender
faults with status 400 as DynamoDB answers them, except InternalServerError."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from stratus.errors import ClientError, ServiceError


class TablesError(ClientError):
    code = "ValidationException"
    status = 400


class ValidationException(TablesError):
    code = "ValidationException"


class ConditionalCheckFailedException(TablesError):
    """A ConditionExpression was false. With ReturnValuesOnConditionCheckFailure=ALL_OLD the
    item that failed the check travels as the body's `Item`."""

    code = "ConditionalCheckFailedException"

    def __init__(
        self, message: str = "The conditional request failed", item: dict[str, Any] | None = None
    ) -> None:
        if item is None:
            super().__init__(message)
        else:
            super().__init__(message, Item=item)


class ResourceNotFoundException(TablesError):
    code = "ResourceNotFoundException"


class ResourceInUseException(TablesError):
    code = "ResourceInUseException"


class TableNotFoundException(TablesError):
    code = "TableNotFoundException"


class TableAlreadyExistsException(TablesError):
    code = "TableAlreadyExistsException"


class TableInUseException(TablesError):
    code = "TableInUseException"


class IndexNotFoundException(TablesError):
    code = "IndexNotFoundException"


class LimitExceededException(TablesError):
    code = "LimitExceededException"


class ItemCollectionSizeLimitExceededException(TablesError):
    code = "ItemCollectionSizeLimitExceededException"


class ProvisionedThroughputExceededException(TablesError):
    code = "ProvisionedThroughputExceededException"


class RequestLimitExceeded(TablesError):
    code = "RequestLimitExceeded"


class ThrottlingException(TablesError):
    code = "ThrottlingException"


class DuplicateItemException(TablesError):
    code = "DuplicateItemException"


class IdempotentParameterMismatchException(TablesError):
    code = "IdempotentParameterMismatchException"


class TransactionConflictException(TablesError):
    code = "TransactionConflictException"


class TransactionInProgressException(TablesError):
    code = "TransactionInProgressException"


class TransactionCanceledException(TablesError):
    """A transaction refused as a whole. `reasons` has one entry per action, in request order:
    `{"Code": "None"}` for an action that was fine, `{"Code": "ConditionalCheckFailed",
    "Message": ..., "Item": ...}` for one that was not. DynamoDB's message lists the codes."""

    code = "TransactionCanceledException"

    def __init__(self, reasons: Sequence[dict[str, Any]]) -> None:
        codes = ", ".join(str(reason.get("Code", "None")) for reason in reasons)
        message = f"Transaction cancelled, please refer cancellation reasons for specific reasons [{codes}]"
        super().__init__(message, CancellationReasons=list(reasons))
        self.reasons = list(reasons)


class InternalServerError(ServiceError):
    code = "InternalServerError"
    status = 500
