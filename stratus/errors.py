"""The one error hierarchy.

Every error the platform raises on purpose is a `StratusError`: it carries the AWS error code,
the HTTP status and whether the sender or the service is at fault. `gateway.responses` turns it
into a wire response in exactly one place. Function faults (a handler that raised, a runtime that
crashed) are not errors of the platform: they travel as `invoke.records.InvocationResult` and
answer 200 with `X-Amz-Function-Error`.
"""

from __future__ import annotations

from typing import Any


class StratusError(Exception):
    code = "ServiceException"
    status = 500
    sender_fault = False

    def __init__(self, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.message = message
        # Extra members of the error body, such as TooManyRequestsException's Reason.
        self.extra = extra


class ServiceError(StratusError):
    """A fault of the platform itself. The message is safe to show; details go to the log."""


class DiskFull(ServiceError):
    """The data dir's filesystem is out of space or quota (ENOSPC, EDQUOT, SQLite's
    SQLITE_FULL): the write was not made and what was stored before is unchanged. Lambda's code
    for its own failures; made by `store.diskfull`, which also recognises the raw exceptions."""

    code = "ServiceException"
    status = 500


class ClientError(StratusError):
    code = "InvalidRequestContentException"
    status = 400
    sender_fault = True


class InvalidRequestContent(ClientError):
    code = "InvalidRequestContentException"


class InvalidParameterValue(ClientError):
    code = "InvalidParameterValueException"


class ValidationError(ClientError):
    code = "ValidationException"


class ResourceNotFound(ClientError):
    code = "ResourceNotFoundException"
    status = 404


class CodeSigningConfigNotFound(ResourceNotFound):
    code = "CodeSigningConfigNotFoundException"


class CodeVerificationFailed(ClientError):
    code = "CodeVerificationFailedException"


class ResourceConflict(ClientError):
    code = "ResourceConflictException"
    status = 409


class PreconditionFailed(ClientError):
    code = "PreconditionFailedException"
    status = 412


class RequestTooLarge(ClientError):
    code = "RequestTooLargeException"
    status = 413


class UnsupportedMediaType(ClientError):
    code = "UnsupportedMediaTypeException"
    status = 415


class TooManyRequests(ClientError):
    code = "TooManyRequestsException"
    status = 429


class UnknownOperation(ClientError):
    code = "UnknownOperationException"
    status = 404


# The query protocol's own codes (CloudWatch through the AWS CLI v2 and the Go SDK).
class InvalidAction(ClientError):
    code = "InvalidAction"


class AuthError(ClientError):
    status = 403


class UnrecognizedClient(AuthError):
    code = "UnrecognizedClientException"


class InvalidSignature(AuthError):
    code = "InvalidSignatureException"


class MissingAuthenticationToken(AuthError):
    code = "MissingAuthenticationTokenException"


class AccessDenied(AuthError):
    code = "AccessDeniedException"


class ExpiredToken(AuthError):
    """A session token past its expiry (STS credentials)."""

    code = "ExpiredTokenException"
    status = 400


class LoginRequired(AuthError):
    """The dashboard's data without a session (stratus/dashboard/auth.py)."""

    code = "UnauthorizedException"
    status = 401


# API Gateway's error codes, for the apigatewayv2 API.
class BadRequest(ClientError):
    code = "BadRequestException"


class NotFound(ClientError):
    code = "NotFoundException"
    status = 404


class Conflict(ClientError):
    code = "ConflictException"
    status = 409


class InvalidParameter(ClientError):
    """CloudWatch Logs' own code for a bad parameter."""

    code = "InvalidParameterException"
