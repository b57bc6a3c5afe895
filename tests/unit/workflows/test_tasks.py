"""Task states' Lambda calls (workflows/tasks.py) with a fake invoke path: a function's error
is the state's error (its errorType; Lambda.Unknown for timeouts, crashes and what names no
type), refusals of the invoke path are Lambda.<code> with the SDK-style cause (a throttle is
Lambda.TooManyRequestsException), a role that may not invoke is Lambda.AWSLambdaException, and
lambda:invoke's parameters and output shape."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from stratus.errors import ResourceNotFound, ServiceError, TooManyRequests
from stratus.invoke.records import InvocationResult, error_payload
from stratus.invoke.target import Invoked, Target
from stratus.observe.tracing import TraceHeader
from stratus.workflows.errors import StatesError
from stratus.workflows.tasks import Call, Called, Functions, function_error, invoke_call, invoke_output

ACCOUNT = "123456789012"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/machine"


@pytest.mark.parametrize(
    ("payload", "error_type", "expected"),
    [
        (error_payload("ValueError", "no good"), "ValueError", "ValueError"),
        # The document's own errorType wins over the header's.
        (error_payload("CustomError", "x"), "Unhandled", "CustomError"),
        (error_payload("Sandbox.Timedout", "Task timed out after 3.00 seconds"), None, "Lambda.Unknown"),
        (error_payload("Runtime.ExitError", "exit status 1"), None, "Lambda.Unknown"),
        (error_payload("Function.ResponseSizeTooLarge", "too big"), None, "Lambda.Unknown"),
        (b"not json at all", None, "Lambda.Unknown"),
        (b"not json at all", "Runtime.OutOfMemory", "Lambda.Unknown"),
        (b"not json at all", "MyError", "MyError"),
        (b'{"errorMessage": "no type"}', None, "Lambda.Unknown"),
        (b'["a list"]', None, "Lambda.Unknown"),
    ],
)
def test_function_errors_become_the_state_error(
    payload: bytes, error_type: str | None, expected: str
) -> None:
    error = function_error(payload, error_type)
    assert error.error == expected
    assert error.cause == payload.decode()  # the error document as it came


def test_invoke_call_reads_function_name_qualifier_and_payload() -> None:
    call = invoke_call({"FunctionName": "fn", "Qualifier": "live", "Payload": {"a": 1}})
    assert call == Call("fn", "live", {"a": 1})
    assert invoke_call({"FunctionName": "fn"}) == Call("fn", None, None)
    for bad in ({}, {"FunctionName": 3}, "fn", None):
        with pytest.raises(StatesError) as refused:
            invoke_call(bad)
        assert refused.value.error == "States.Runtime"
        assert "'FunctionName' is required" in refused.value.cause


def test_invoke_output_is_the_sdk_response_shape() -> None:
    out = invoke_output(Called({"n": 2}, "7", "req-1"))
    assert out["Payload"] == {"n": 2}
    assert (out["StatusCode"], out["ExecutedVersion"]) == (200, "7")
    assert out["SdkResponseMetadata"] == {"RequestId": "req-1"}
    assert out["SdkHttpMetadata"]["HttpStatusCode"] == 200
    assert out["SdkHttpMetadata"]["HttpHeaders"]["X-Amz-Executed-Version"] == "7"
    assert out["SdkHttpMetadata"]["AllHttpHeaders"]["x-amzn-RequestId"] == ["req-1"]


class FakeInvoke:
    """The invoke path: records what it was asked, answers `result` or raises `error`."""

    def __init__(self, result: InvocationResult | None = None, error: Exception | None = None) -> None:
        self.result = result or InvocationResult(b'{"ok": true}', "$LATEST")
        self.error = error
        self.calls: list[tuple[Target, bytes, str | None]] = []

    async def __call__(self, target: Target, payload: bytes, *, request_id: str | None = None) -> Invoked:
        self.calls.append((target, payload, request_id))
        if self.error is not None:
            raise self.error
        return Invoked(self.result, TraceHeader("1-abc-def"))


def call(functions: Functions, function: str, payload: Any = None, qualifier: str | None = None) -> Called:
    return asyncio.run(
        functions.call(Call(function, qualifier, payload), region="us-east-1", role_arn=ROLE, session="run-1")
    )


def test_a_call_invokes_the_named_function_in_its_region_with_the_payload() -> None:
    fake = FakeInvoke()
    functions = Functions(fake, lambda *a: True, ACCOUNT)
    called = call(functions, f"arn:aws:lambda:eu-west-1:{ACCOUNT}:function:fn:live", {"a": 1})
    assert called.payload == {"ok": True}
    assert called.executed_version == "$LATEST"
    target, payload, request_id = fake.calls[0]
    assert (target.name, target.qualifier, target.region) == ("fn", "live", "eu-west-1")
    assert json.loads(payload) == {"a": 1}
    assert request_id == called.request_id
    call(functions, "plain-name")
    assert fake.calls[1][0].region == "us-east-1"  # a bare name is in the execution's region


def test_a_result_that_is_not_json_is_a_string_and_an_empty_one_null() -> None:
    assert call(
        Functions(FakeInvoke(InvocationResult(b"hello", "1")), lambda *a: True, ACCOUNT), "f"
    ).payload == ("hello")
    assert (
        call(Functions(FakeInvoke(InvocationResult(b"", "1")), lambda *a: True, ACCOUNT), "f").payload is None
    )


def test_a_function_error_raises_its_type() -> None:
    failed = InvocationResult(error_payload("KeyError", "'x'"), "$LATEST", function_error="Unhandled")
    with pytest.raises(StatesError) as raised:
        call(Functions(FakeInvoke(failed), lambda *a: True, ACCOUNT), "f")
    assert raised.value.error == "KeyError"
    timed_out = InvocationResult(
        error_payload("Sandbox.Timedout", "Task timed out"), "$LATEST", function_error="Unhandled"
    )
    with pytest.raises(StatesError) as raised:
        call(Functions(FakeInvoke(timed_out), lambda *a: True, ACCOUNT), "f")
    assert raised.value.error == "Lambda.Unknown"


@pytest.mark.parametrize(
    ("refusal", "error", "status"),
    [
        (TooManyRequests("Rate Exceeded."), "Lambda.TooManyRequestsException", 429),
        (ResourceNotFound("Function not found: fn"), "Lambda.ResourceNotFoundException", 404),
        (ServiceError("boom"), "Lambda.ServiceException", 500),
    ],
)
def test_refusals_of_the_invoke_path_are_lambda_codes(refusal: Exception, error: str, status: int) -> None:
    with pytest.raises(StatesError) as raised:
        call(Functions(FakeInvoke(error=refusal), lambda *a: True, ACCOUNT), "fn")
    assert raised.value.error == error
    code = error.removeprefix("Lambda.")
    assert (
        f"(Service: AWSLambda; Status Code: {status}; Error Code: {code}; Request ID: " in raised.value.cause
    )
    assert raised.value.cause.startswith(str(refusal))


def test_a_role_that_may_not_invoke_is_refused_before_any_call() -> None:
    fake = FakeInvoke()
    asked: list[tuple[str, str, str, str]] = []

    def role_may(role: str, session: str, arn: str, region: str) -> bool:
        asked.append((role, session, arn, region))
        return False

    with pytest.raises(StatesError) as raised:
        call(Functions(fake, role_may, ACCOUNT), "fn")
    assert fake.calls == []
    assert asked == [(ROLE, "run-1", f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:fn", "us-east-1")]
    assert raised.value.error == "Lambda.AWSLambdaException"
    assert (
        f"User: arn:aws:sts::{ACCOUNT}:assumed-role/machine/run-1 is not authorized to perform: "
        "lambda:InvokeFunction" in raised.value.cause
    )
    assert "Error Code: AccessDeniedException" in raised.value.cause


@pytest.mark.parametrize("name", ["bad name!", "arn:aws:lambda:us-east-1:999999999999:function:fn"])
def test_a_bad_function_name_is_invalid_parameter_value(name: str) -> None:
    fake = FakeInvoke()
    with pytest.raises(StatesError) as raised:
        call(Functions(fake, lambda *a: True, ACCOUNT), name)
    assert raised.value.error == "Lambda.InvalidParameterValueException"
    assert fake.calls == []
