"""Service declarations: their defaults, their checks, and that every declared service agrees
with botocore's model of it (handlers name real operations, protocols are the model's, the
signing declaration reaches what the model says)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import pytest

from stratus.wire.models import service_model
from stratus.wire.service import Service, not_implemented
from stratus.wire.signing import Signing


async def noop(context: object, params: dict[str, Any], region: str) -> dict[str, Any]:
    return {}


def declared() -> list[Service[Any]]:
    from stratus.services import cloudwatch, events, logs

    return [logs.SERVICE, events.SERVICE, cloudwatch.SERVICE]


def test_the_default_action_is_the_signing_name_and_operation_on_any_resource() -> None:
    svc = Service(model="logs", signing=Signing("logs"), handlers={"DeleteLogGroup": noop})
    assert svc.action("DeleteLogGroup", {}, "eu-west-1", "123456789012") == ("logs:DeleteLogGroup", "*")
    cw = Service(model="cloudwatch", signing=Signing("monitoring"), handlers={}, action_prefix="cloudwatch")
    assert cw.action("ListMetrics", {}, "eu-west-1", "1")[0] == "cloudwatch:ListMetrics"


def test_a_declared_action_and_resource_come_from_the_input() -> None:
    def group(params: Mapping[str, Any], region: str, account: str) -> tuple[str, str]:
        return "logs:DeleteLogGroup", f"arn:aws:logs:{region}:{account}:log-group:{params['logGroupName']}"

    svc = Service(
        model="logs",
        signing=Signing("logs"),
        handlers={"DeleteLogGroup": noop},
        authorization={"DeleteLogGroup": group},
    )
    assert svc.action("DeleteLogGroup", {"logGroupName": "g"}, "eu-west-1", "123456789012") == (
        "logs:DeleteLogGroup",
        "arn:aws:logs:eu-west-1:123456789012:log-group:g",
    )


def test_declarations_that_cannot_be_served_are_refused() -> None:
    with pytest.raises(ValueError, match="protocols"):
        Service(model="logs", signing=Signing("logs"), handlers={}, protocols=("smithy-rpc-v2-cbor",))
    with pytest.raises(ValueError, match="protocols"):
        Service(model="logs", signing=Signing("logs"), handlers={}, protocols=())
    with pytest.raises(ValueError, match="authorization"):
        Service(
            model="logs",
            signing=Signing("logs"),
            handlers={},
            authorization={"DeleteLogGroup": lambda p, r, a: ("x", "*")},
        )


def test_the_rest_protocol_is_the_first_rest_one() -> None:
    assert Service(
        model="lambda", signing=Signing("lambda"), handlers={}, protocols=("rest-json",)
    ).rest_protocol == ("rest-json")
    assert Service(model="logs", signing=Signing("logs"), handlers={}).rest_protocol is None


def test_validation_errors_use_the_missing_code_only_for_missing_members_alone() -> None:
    svc = Service(
        model="cloudwatch",
        signing=Signing("monitoring"),
        handlers={},
        validation_error="InvalidParameterValue",
        missing_error="MissingParameter",
    )
    missing = "Value null at 'startTime' failed to satisfy constraint: Member must not be null"
    too_long = "Value 'x' at 'namespace' failed to satisfy constraint: Member must have length less than 2"
    assert svc.invalid([missing], "m").code == "MissingParameter"
    assert svc.invalid([missing, too_long], "m").code == "InvalidParameterValue"
    assert svc.invalid([too_long], "m").code == "InvalidParameterValue"
    plain = Service(
        model="logs", signing=Signing("logs"), handlers={}, validation_error="InvalidParameterException"
    )
    assert (plain.invalid([missing], "m").code, plain.invalid([missing], "m").status) == (
        "InvalidParameterException",
        400,
    )


def test_not_implemented_answers_as_aws_does_per_protocol() -> None:
    assert (not_implemented("query", "DeleteAlarms").code, not_implemented("query", "X").status) == (
        "InvalidAction",
        400,
    )
    assert not_implemented("json", "X").code == "UnknownOperationException"
    assert (not_implemented("rest-xml", "X").status, not_implemented("rest-xml", "X").sender_fault) == (
        501,
        False,
    )


@pytest.mark.parametrize("name", ["logs", "events", "cloudwatch"])
def test_each_declared_service_agrees_with_its_model(name: str) -> None:
    (svc,) = [s for s in declared() if s.model == name]
    model = service_model(svc.model)
    assert set(svc.handlers) <= set(model.operation_names)
    assert set(svc.protocols) <= set(model.metadata.get("protocols", [model.protocol]))
    assert svc.signing.name == model.signing_name
    if "json" in svc.protocols:
        assert svc.signing.targets == (model.metadata["targetPrefix"],)
    assert svc.signing.query_protocol == ("query" in svc.protocols)


def test_declared_services_are_reached_by_distinct_names() -> None:
    names = [s.signing.name for s in declared()]
    assert len(names) == len(set(names))


@pytest.mark.parametrize(
    ("model", "protocol", "headers", "body", "code"),
    [
        # Checks the handlers dropped: each is now the model's, with the service's own code.
        ("logs", "json", {"x-amz-target": "Logs_20140328.GetLogEvents"}, b'{"logGroupName": "g"}', "Invalid"),
        ("logs", "json", {"x-amz-target": "Logs_20140328.DescribeLogGroups"}, b'{"limit": 51}', "Invalid"),
        (
            "logs",
            "json",
            {"x-amz-target": "Logs_20140328.FilterLogEvents"},
            b'{"filterPattern": "%s"}',
            "Invalid",
        ),
        (
            "events",
            "json",
            {"x-amz-target": "AWSEvents.PutTargets"},
            b'{"Rule": "r", "Targets": []}',
            "Validation",
        ),
        ("events", "json", {"x-amz-target": "AWSEvents.DescribeRule"}, b"{}", "Validation"),
        (
            "events",
            "json",
            {"x-amz-target": "AWSEvents.PutTargets"},
            b'{"Rule": "r", "Targets": [{"Id": "a"}]}',
            "Validation",
        ),
        (
            "cloudwatch",
            "query",
            {"content-type": "application/x-www-form-urlencoded"},
            b"Action=GetMetricStatistics&Version=2010-08-01&Namespace=AWS/Lambda&MetricName=Invocations",
            "MissingParameter",
        ),
        (
            "cloudwatch",
            "json",
            {"x-amz-target": "GraniteServiceVersion20100801.GetMetricStatistics"},
            b'{"Namespace": "AWS/Lambda", "MetricName": "Errors", "StartTime": 1, "EndTime": 2, "Period": 60,'
            b' "Statistics": ["Median"]}',
            "InvalidParameterValue",
        ),
    ],
)
def test_declared_services_refuse_at_the_edge_what_their_handlers_no_longer_check(
    model: str, protocol: str, headers: dict[str, str], body: bytes, code: str
) -> None:
    import asyncio

    from stratus.errors import ServiceError
    from stratus.wire.dispatch import dispatch
    from stratus.wire.json_protocol import JsonProtocol
    from stratus.wire.query_protocol import QueryProtocol
    from stratus.wire.types import WireRequest

    (svc,) = [s for s in declared() if s.model == model]
    wire = QueryProtocol() if protocol == "query" else JsonProtocol()
    body = body.replace(b"%s", b"x" * 1025)
    request = WireRequest("POST", "/", headers=headers, body=body)
    # No context: the handler is never reached.
    answer = asyncio.run(
        dispatch(svc, wire, request, None, "eu-west-1", incident=lambda e: ServiceError(repr(e)))
    )
    assert answer.status == 400, answer.body
    expected = {"Invalid": "InvalidParameterException", "Validation": "ValidationException"}.get(code, code)
    if protocol == "json":
        assert json.loads(answer.body)["__type"] == expected
    else:
        assert f"<Code>{expected}</Code>".encode() in answer.body
