"""Invoke's lean path (the switchboard's own reading and answer, lambda_api/invoke.py) against
the general rest-json protocol on the same requests: botocore's own serializer makes each
request, `read_incoming` and `RestJsonProtocol.parse` must read the same parameters; and
botocore's own parser must read the lean answer as it reads the general serializer's."""

from __future__ import annotations

import base64
import json
from typing import Any
from urllib.parse import urlencode

import pytest

from stratus.errors import ClientError
from stratus.http_types import Incoming
from stratus.lambda_api.conventions import PROTOCOL
from stratus.lambda_api.invoke import _check, is_invoke, read_incoming, reply
from stratus.wire.models import service_model
from stratus.wire.rest_json import RestJsonProtocol
from stratus.wire.types import WireRequest, WireResponse
from tests.unit.wire.rest_roundtrip import client_parse, client_request

MODEL = service_model("lambda")
INVOKE = MODEL.operation_model("Invoke")
GENERAL = RestJsonProtocol()
ARN = "arn:aws:lambda:us-east-1:000000000000:function:fn"
CONTEXT = base64.b64encode(json.dumps({"custom": {"a": 1}}).encode()).decode()

REQUESTS: dict[str, dict[str, Any]] = {
    "plain": {"FunctionName": "fn"},
    "payload": {"FunctionName": "fn", "Payload": b'{"k": [1, 2, "\\u00e9"]}'},
    "binary-payload": {"FunctionName": "fn", "Payload": b"\x00\xff{not json"},
    "empty-payload": {"FunctionName": "fn", "Payload": b""},
    "version": {"FunctionName": "fn", "Qualifier": "3"},
    "latest": {"FunctionName": "fn", "Qualifier": "$LATEST"},
    "alias": {"FunctionName": "fn", "Qualifier": "live"},
    "arn": {"FunctionName": ARN},
    "qualified-arn": {"FunctionName": ARN + ":live"},
    "partial-arn": {"FunctionName": "000000000000:function:fn:7"},
    "arn-and-qualifier": {"FunctionName": ARN + ":live", "Qualifier": "live"},
    "event": {"FunctionName": "fn", "InvocationType": "Event", "Payload": b"{}"},
    "dry-run": {"FunctionName": "fn", "InvocationType": "DryRun"},
    "request-response": {"FunctionName": "fn", "InvocationType": "RequestResponse"},
    "bad-invocation-type": {"FunctionName": "fn", "InvocationType": "Sometimes"},
    "tail": {"FunctionName": "fn", "LogType": "Tail"},
    "no-log": {"FunctionName": "fn", "LogType": "None"},
    "bad-log-type": {"FunctionName": "fn", "LogType": "Loud"},
    "client-context": {"FunctionName": "fn", "ClientContext": CONTEXT},
    "everything": {
        "FunctionName": ARN,
        "Qualifier": "9",
        "InvocationType": "RequestResponse",
        "LogType": "Tail",
        "ClientContext": CONTEXT,
        "TenantId": "tenant-1",
        "Payload": b'{"deep": {"x": null}}',
    },
    "bad-name": {"FunctionName": "bad name!"},
}


def incoming(request: WireRequest) -> Incoming:
    """The same request as the switchboard hands it over: raw path, raw query string, headers
    in order with lower-case names."""
    return Incoming(
        method=request.method,
        path=request.raw_path,
        query=urlencode(request.query),
        headers=tuple(request.headers.items()),
        body=request.body,
        peer="127.0.0.1",
    )


@pytest.mark.parametrize("case", list(REQUESTS))
def test_lean_reading_matches_the_general_parser(case: str) -> None:
    request = client_request("rest-json", INVOKE, REQUESTS[case])
    operation, labels = GENERAL.operation(MODEL, request)
    assert operation.name == "Invoke"
    general = GENERAL.parse(operation, request, labels)
    lean = incoming(request)
    assert is_invoke(lean.method, lean.path)
    assert read_incoming(lean) == general


@pytest.mark.parametrize("case", list(REQUESTS))
def test_lean_checks_refuse_what_the_model_refuses(case: str) -> None:
    from stratus.wire import validate

    request = client_request("rest-json", INVOKE, REQUESTS[case])
    params = read_incoming(incoming(request))
    problems = validate.validate(INVOKE.input_shape, params)
    if problems:
        with pytest.raises(ClientError) as refused:
            _check(params)
        assert refused.value.code == "ValidationException"
        assert refused.value.message == validate.message(problems)
    else:
        _check(params)


RESULTS: dict[str, dict[str, Any]] = {
    "ok": {
        "StatusCode": 200,
        "ExecutedVersion": "$LATEST",
        "Payload": b'{"answer": 42}',
        "ResponseMetadata": {
            "RequestId": "req-1",
            "HTTPHeaders": {"Content-Type": "application/json", "X-Amzn-Trace-Id": "Root=1-a-b"},
        },
    },
    "function-error-tail": {
        "StatusCode": 200,
        "ExecutedVersion": "4",
        "FunctionError": "Unhandled",
        "LogResult": base64.b64encode(b"START\nEND\n").decode(),
        "Payload": b'{"errorMessage": "boom"}',
        "ResponseMetadata": {"RequestId": "req-2", "HTTPHeaders": {"Content-Type": "application/json"}},
    },
    "event": {"StatusCode": 202, "ResponseMetadata": {"RequestId": "req-3"}},
    "dry-run": {"StatusCode": 204, "ExecutedVersion": "2"},
}


def _read(answer: WireResponse) -> dict[str, Any]:
    parsed = client_parse("rest-json", INVOKE, answer)
    payload = parsed.pop("Payload", None)
    meta = parsed.pop("ResponseMetadata")
    headers = meta["HTTPHeaders"]
    return {
        **parsed,
        "Payload": payload.read() if payload is not None else b"",
        "status": meta["HTTPStatusCode"],
        "request-id": meta.get("RequestId"),
        "trace": headers.get("x-amzn-trace-id"),
        "content-type": headers.get("content-type"),
    }


@pytest.mark.parametrize("case", list(RESULTS))
def test_lean_answer_reads_as_the_general_one(case: str) -> None:
    result = RESULTS[case]
    lean = reply(result, "dispatch-id")
    general = PROTOCOL.serialize(INVOKE, result, "dispatch-id")
    lean_read = _read(WireResponse(lean.status, lean.headers, lean.body))
    assert lean_read == _read(general)
    assert lean_read["status"] == result["StatusCode"]
    assert lean_read["request-id"] == (result.get("ResponseMetadata") or {}).get("RequestId", "dispatch-id")
    assert lean_read.get("FunctionError") == result.get("FunctionError")
    assert lean_read.get("LogResult") == result.get("LogResult")
