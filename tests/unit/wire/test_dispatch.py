"""The dispatcher, end to end over a fake protocol and botocore's real `logs` model: each way a
request can go (answered, unknown, unimplemented, unreadable, refused by the model, refused by
the handler, an unexpected failure) ends in the one answer it should, and only the answered
ones reach the handler."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from typing import Any

import pytest
from botocore.model import OperationModel, ServiceModel

from stratus.errors import DiskFull, ResourceNotFound, ServiceError, StratusError, TooManyRequests
from stratus.wire.dispatch import dispatch, protocol_for
from stratus.wire.service import Handler, Service
from stratus.wire.signing import Signing
from stratus.wire.types import BadRequest, WireError, WireRequest, WireResponse

Context = dict[str, Any]


class FakeProtocol:
    """The operation named by an `x-op` header, the input a JSON body; answers are JSON with the
    code in a header, so each test reads exactly what the dispatcher handed the protocol."""

    def __init__(self, name: str = "json") -> None:
        self.name = name
        self.errors: list[WireError] = []

    def operation(self, service: ServiceModel, request: WireRequest) -> tuple[OperationModel, dict[str, str]]:
        name = request.header("x-op") or ""
        if name not in service.operation_names:
            raise BadRequest("UnknownOperationException", f"no operation {name!r}")
        return service.operation_model(name), {}

    def parse(
        self, operation: OperationModel, request: WireRequest, labels: dict[str, str]
    ) -> dict[str, Any]:
        try:
            parsed = json.loads(request.body or b"{}")
        except ValueError:
            raise BadRequest("SerializationException", "not JSON") from None
        assert isinstance(parsed, dict)
        return parsed

    def serialize(
        self, operation: OperationModel, result: Mapping[str, Any], request_id: str
    ) -> WireResponse:
        return WireResponse(200, (("op", operation.name), ("rid", request_id)), json.dumps(result).encode())

    def error(self, service: ServiceModel, error: WireError, request_id: str) -> WireResponse:
        self.errors.append(error)
        body = {"message": error.message, "sender": error.sender_fault, **error.fields}
        return WireResponse(
            error.status, (("code", error.code), ("rid", request_id)), json.dumps(body).encode()
        )


calls: list[tuple[Context, dict[str, Any], str]] = []


async def describe(context: Context, params: dict[str, Any], region: str) -> dict[str, Any]:
    calls.append((context, params, region))
    return {"logGroups": [{"logGroupName": params.get("logGroupNamePrefix", "all")}]}


def raising(error: BaseException) -> Handler[Context]:
    async def handler(context: Context, params: dict[str, Any], region: str) -> dict[str, Any]:
        calls.append((context, params, region))
        raise error

    return handler


def incident(exc: BaseException) -> StratusError:
    return exc if isinstance(exc, DiskFull) else ServiceError(f"incident for {type(exc).__name__}")


def service(**handlers: Handler[Context]) -> Service[Context]:
    return Service(
        model="logs",
        signing=Signing("logs", targets=("Logs_20140328",)),
        handlers={"DescribeLogGroups": describe, **handlers},
        validation_error="InvalidParameterException",
    )


def run(
    op: str,
    body: Any = None,
    svc: Service[Context] | None = None,
    protocol: FakeProtocol | None = None,
) -> tuple[int, dict[str, str], dict[str, Any]]:
    calls.clear()
    raw = body if isinstance(body, bytes) else json.dumps(body or {}).encode()
    request = WireRequest("POST", "/", headers={"x-op": op}, body=raw)
    answer = asyncio.run(
        dispatch(
            svc or service(), protocol or FakeProtocol(), request, {"ctx": 1}, "eu-west-1", incident=incident
        )
    )
    return answer.status, dict(answer.headers), json.loads(answer.body)


def test_an_operation_reaches_its_handler_with_context_params_and_region() -> None:
    status, headers, body = run("DescribeLogGroups", {"logGroupNamePrefix": "/aws/lambda/"})
    assert (status, headers["op"]) == (200, "DescribeLogGroups")
    assert body == {"logGroups": [{"logGroupName": "/aws/lambda/"}]}
    assert calls == [({"ctx": 1}, {"logGroupNamePrefix": "/aws/lambda/"}, "eu-west-1")]
    assert len(headers["rid"]) == 36  # a request id for every answer


def test_an_unknown_operation_is_the_protocols_bad_request() -> None:
    status, headers, _ = run("NoSuchThing")
    assert (status, headers["code"]) == (400, "UnknownOperationException") and not calls


@pytest.mark.parametrize(
    ("protocol", "code", "status"),
    [
        ("json", "UnknownOperationException", 400),
        ("query", "InvalidAction", 400),
        ("rest-json", "UnknownOperationException", 400),
        ("rest-xml", "NotImplemented", 501),
    ],
)
def test_a_model_operation_without_a_handler_is_not_implemented(
    protocol: str, code: str, status: int
) -> None:
    got, headers, body = run("CreateLogGroup", {"logGroupName": "g"}, protocol=FakeProtocol(protocol))
    assert (got, headers["code"]) == (status, code)
    assert "CreateLogGroup" in body["message"] and not calls


def test_an_unreadable_body_is_the_parsers_error() -> None:
    status, headers, _ = run("DescribeLogGroups", b"{not json")
    assert (status, headers["code"]) == (400, "SerializationException") and not calls


def test_input_the_model_refuses_gets_the_services_validation_error() -> None:
    status, headers, body = run("DescribeLogGroups", {"limit": 51, "logGroupClass": "NOPE"})
    assert (status, headers["code"]) == (400, "InvalidParameterException") and not calls
    assert body["message"].startswith("2 validation errors detected: ")
    assert "Member must have value less than or equal to 50" in body["message"]
    assert "Member must satisfy enum value set" in body["message"]


def test_missing_members_get_the_services_missing_code_when_it_has_one() -> None:
    put = raising(AssertionError("never called"))
    plain = service(PutRetentionPolicy=put)
    status, headers, body = run("PutRetentionPolicy", {"retentionInDays": 1}, plain)
    assert (status, headers["code"]) == (400, "InvalidParameterException")
    assert "Member must not be null" in body["message"] and not calls
    own = Service(
        model="logs",
        signing=plain.signing,
        handlers={"PutRetentionPolicy": put},
        validation_error="InvalidParameterValue",
        missing_error="MissingParameter",
    )
    assert run("PutRetentionPolicy", {"retentionInDays": 1}, own)[1]["code"] == "MissingParameter"
    # A missing member together with any other problem is a plain validation error.
    both = {"retentionInDays": 1, "logGroupName": "x" * 600}
    assert run("PutRetentionPolicy", both, own)[1]["code"] == "InvalidParameterValue"


@pytest.mark.parametrize(
    "error",
    [ResourceNotFound("The specified log group does not exist."), TooManyRequests("slow", Reason="Rate")],
)
def test_a_handlers_error_keeps_its_code_status_fault_and_members(error: StratusError) -> None:
    status, headers, body = run(
        "DeleteLogGroup", {"logGroupName": "g"}, service(DeleteLogGroup=raising(error))
    )
    assert (status, headers["code"], body["message"]) == (error.status, error.code, error.message)
    assert body["sender"] is True and {k: body[k] for k in error.extra} == error.extra
    assert len(calls) == 1


def test_an_unexpected_exception_is_an_incident_without_a_traceback() -> None:
    boom = raising(KeyError("secret-internal-detail"))
    status, headers, body = run("DeleteLogGroup", {"logGroupName": "g"}, service(DeleteLogGroup=boom))
    assert (status, headers["code"], body["sender"]) == (500, "ServiceException", False)
    assert body["message"] == "incident for KeyError"
    assert "secret-internal-detail" not in json.dumps(body) and "Traceback" not in json.dumps(body)


def test_a_full_disk_goes_through_the_gateways_mapper() -> None:
    seen: list[BaseException] = []

    def noting(exc: BaseException) -> StratusError:
        seen.append(exc)
        return incident(exc)

    full = DiskFull("Stratus's data disk is full")
    request = WireRequest("POST", "/", headers={"x-op": "DeleteLogGroup"}, body=b'{"logGroupName": "g"}')
    svc = service(DeleteLogGroup=raising(full))
    answer = asyncio.run(dispatch(svc, FakeProtocol(), request, {}, "us-east-1", incident=noting))
    assert answer.status == 500 and dict(answer.headers)["code"] == "ServiceException"
    assert seen == [full]


def test_a_result_the_serializer_cannot_write_is_an_incident() -> None:
    class Unwritable(FakeProtocol):
        def serialize(
            self, operation: OperationModel, result: Mapping[str, Any], request_id: str
        ) -> WireResponse:
            raise TypeError("cannot write")

    status, headers, _ = run("DescribeLogGroups", {}, protocol=Unwritable())
    assert (status, headers["code"]) == (500, "ServiceException")


def declared(*protocols: str) -> Service[Context]:
    return Service(model="logs", signing=Signing("x"), handlers={}, protocols=protocols)


FORM = {"content-type": "application/x-www-form-urlencoded; charset=utf-8"}


@pytest.mark.parametrize(
    ("protocols", "headers", "expected"),
    [
        (("json",), {"x-amz-target": "Logs_20140328.DescribeLogGroups"}, "json"),
        (("json", "query"), {"x-amz-target": "GraniteServiceVersion20100801.ListMetrics"}, "json"),
        (("json", "query"), FORM, "query"),
        (("json", "query"), {"content-type": "Application/X-WWW-Form-URLEncoded"}, "query"),
        (("json",), FORM, None),  # a JSON-only service has nothing to read a form with
        (("json",), {}, None),
        (("rest-json",), {}, "rest-json"),
        (("rest-json",), {"x-amz-target": "X.Y"}, None),  # a target where none is spoken
        (("rest-xml",), FORM, "rest-xml"),  # a form posted to a REST service (S3's POST upload)
    ],
)
def test_the_protocol_follows_from_the_request(
    protocols: tuple[str, ...], headers: dict[str, str], expected: str | None
) -> None:
    request = WireRequest("POST", "/", headers=headers, body=b"")
    assert protocol_for(declared(*protocols), request) == expected
