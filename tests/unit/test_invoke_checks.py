"""The payload and ClientContext checks that Invoke and InvokeWithResponseStream share
(lambda_api/invoke.py): what each refuses, with Lambda's error codes, and what it lets through."""

from __future__ import annotations

import base64

import pytest

from stratus.errors import InvalidParameterValue, InvalidRequestContent, RequestTooLarge
from stratus.lambda_api.invoke import check_json, decoded_client_context, too_large


@pytest.mark.parametrize("payload", [b"", b"{}", b'{"k": [1, "\\u00e9"]}', b"3", b'"text"', b"null"])
def test_json_payloads_and_the_empty_one_pass(payload: bytes) -> None:
    check_json(payload)


@pytest.mark.parametrize("payload", [b"{not json", b"\xff\xfe", b"{}{}", b"   "])
def test_a_payload_that_is_not_json_is_refused(payload: bytes) -> None:
    with pytest.raises(InvalidRequestContent) as refused:
        check_json(payload)
    assert refused.value.message.startswith("Could not parse request body into json")


def test_a_client_context_is_decoded_from_base64() -> None:
    text = '{"custom": {"tenant": "t-1"}}'
    encoded = base64.b64encode(text.encode()).decode()
    assert decoded_client_context({"ClientContext": encoded}) == text


@pytest.mark.parametrize("params", [{}, {"ClientContext": ""}])
def test_no_client_context_is_what_came(params: dict[str, str]) -> None:
    assert decoded_client_context(params) == params.get("ClientContext")


@pytest.mark.parametrize(
    "value",
    ["not base64!", "e30", base64.b64encode(b"\xff\xfe").decode()],
    ids=["text", "unpadded", "not-utf8"],
)
def test_a_client_context_that_is_not_base64_text_is_refused(value: str) -> None:
    with pytest.raises(InvalidParameterValue) as refused:
        decoded_client_context({"ClientContext": value})
    assert refused.value.message == "Client context must be a valid Base64-encoded JSON object."


def test_the_size_refusal_names_the_limit() -> None:
    refused = too_large(6 * 1024 * 1024)
    assert isinstance(refused, RequestTooLarge)
    assert refused.message == "Request must be smaller than 6291456 bytes for the InvokeFunction operation"
