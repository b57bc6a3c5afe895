"""Step Functions' API errors (the codes botocore's `stepfunctions` model names, so boto3 raises
`client.exceptions.<Code>`): all sender faults, status 400, as Step Functions answers them.
The States Language's own errors (InvalidDefinition's text, runtime StatesError) are
`workflows/errors.py`'s; `api.py` turns an InvalidDefinition into `InvalidDefinitionFault`."""

from __future__ import annotations

from stratus.errors import ClientError


class SfnError(ClientError):
    code = "ValidationException"
    status = 400


class InvalidArn(SfnError):
    code = "InvalidArn"


class InvalidName(SfnError):
    code = "InvalidName"


class InvalidDefinitionFault(SfnError):
    code = "InvalidDefinition"


class InvalidExecutionInput(SfnError):
    code = "InvalidExecutionInput"


class InvalidOutput(SfnError):
    code = "InvalidOutput"


class InvalidToken(SfnError):
    code = "InvalidToken"


class InvalidLoggingConfiguration(SfnError):
    code = "InvalidLoggingConfiguration"


class StateMachineDoesNotExist(SfnError):
    code = "StateMachineDoesNotExist"


class StateMachineAlreadyExists(SfnError):
    code = "StateMachineAlreadyExists"


class StateMachineTypeNotSupported(SfnError):
    code = "StateMachineTypeNotSupported"


class ExecutionDoesNotExist(SfnError):
    code = "ExecutionDoesNotExist"


class ExecutionAlreadyExists(SfnError):
    code = "ExecutionAlreadyExists"


class TaskDoesNotExist(SfnError):
    code = "TaskDoesNotExist"


class TaskTimedOut(SfnError):
    code = "TaskTimedOut"


class ResourceNotFound(SfnError):
    code = "ResourceNotFound"


class TooManyTags(SfnError):
    code = "TooManyTags"


class Validation(SfnError):
    code = "ValidationException"
