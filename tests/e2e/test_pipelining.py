"""Pipelined requests on one connection are answered in order, whichever side answers each one:
the switchboard (function URLs, Invoke) or aiohttp (the rest of the Lambda API). Driven by raw
sockets against the real server, with requests signed by botocore's SigV4Auth."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from typing import Any, BinaryIO

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from tests.e2e.conftest import ACCESS_KEY, REGION, SECRET_KEY, Server, create

APP = """
import json, time

def handler(event, context):
    query = event.get("queryStringParameters") or {}
    if "sleep" in query:
        time.sleep(float(query["sleep"]))
    return {"statusCode": 200, "body": "url:" + event["rawPath"]}
"""


@pytest.fixture(scope="module")
def target(mlam: Any) -> Iterator[tuple[str, str]]:
    """A function behind a NONE function URL: (function name, URL path)."""
    name = f"pipe-{time.monotonic_ns()}"
    create(mlam, name, {"app.py": APP})
    url = str(mlam.create_function_url_config(FunctionName=name, AuthType="NONE")["FunctionUrl"])
    yield name, "/" + url.split("/", 3)[3]
    mlam.delete_function(FunctionName=name)


def url_get(server: Server, url_path: str, tail: str) -> bytes:
    return f"GET {url_path}{tail} HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n\r\n".encode()


def signed(server: Server, method: str, path: str, body: bytes = b"") -> bytes:
    """A Lambda API request signed as boto3 would sign it, as raw bytes."""
    request = AWSRequest(method=method, url=f"{server.endpoint}{path}", data=body)
    SigV4Auth(Credentials(ACCESS_KEY, SECRET_KEY), "lambda", REGION).add_auth(request)
    lines = [f"{method} {path} HTTP/1.1", f"Host: 127.0.0.1:{server.port}"]
    lines += [f"{k}: {v}" for k, v in request.headers.items() if k.lower() != "host"]
    lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def read_response(stream: BinaryIO) -> tuple[int, dict[str, str], bytes]:
    status_line = stream.readline()
    assert status_line.startswith(b"HTTP/1.1 "), f"no response, got {status_line!r}"
    headers: dict[str, str] = {}
    while (line := stream.readline()) not in (b"\r\n", b""):
        name, _, value = line.decode("latin-1").partition(":")
        headers[name.strip().lower()] = value.strip()
    if headers.get("transfer-encoding") == "chunked":
        body = b""
        while size := int(stream.readline().split(b";")[0], 16):
            body += stream.read(size)
            stream.readline()
        stream.readline()
    else:
        body = stream.read(int(headers.get("content-length", "0")))
    return int(status_line.split()[1]), headers, body


def exchange(server: Server, *writes: bytes, responses: int) -> list[tuple[int, dict[str, str], bytes]]:
    """Send each write as it comes (each one send), then read `responses` answers in order."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=60) as sock:
        for data in writes:
            sock.sendall(data)
        stream = sock.makefile("rb")
        return [read_response(stream) for _ in range(responses)]


def is_function(response: tuple[int, dict[str, str], bytes], name: str) -> bool:
    status, _, body = response
    return status == 200 and json.loads(body)["Configuration"]["FunctionName"] == name


def test_function_url_then_lambda_api_in_one_write(server: Server, target: tuple[str, str]) -> None:
    name, url_path = target
    data = url_get(server, url_path, "first") + signed(server, "GET", f"/2015-03-31/functions/{name}")
    first, second = exchange(server, data, responses=2)
    assert first[0] == 200 and first[2] == b"url:/first"
    assert is_function(second, name), second


def test_slow_function_url_answer_comes_before_the_pipelined_api_answer(
    server: Server, target: tuple[str, str]
) -> None:
    """The API request is aiohttp's and is parsed while the URL's invoke still runs: aiohttp
    gets the connection only after that answer is written, and then serves the URL after it."""
    name, url_path = target
    data = (
        url_get(server, url_path, "slow?sleep=0.5")
        + signed(server, "GET", f"/2015-03-31/functions/{name}")
        + url_get(server, url_path, "third")
    )
    first, second, third = exchange(server, data, responses=3)
    assert first[0] == 200 and first[2] == b"url:/slow"
    assert is_function(second, name), second
    assert third[0] == 200 and third[2] == b"url:/third"


def test_lambda_api_then_function_url_in_one_write(server: Server, target: tuple[str, str]) -> None:
    name, url_path = target
    data = signed(server, "GET", f"/2015-03-31/functions/{name}") + url_get(server, url_path, "after-api")
    first, second = exchange(server, data, responses=2)
    assert is_function(first, name), first
    assert second[0] == 200 and second[2] == b"url:/after-api"


def test_invokes_around_an_api_request_split_across_writes(server: Server, target: tuple[str, str]) -> None:
    """Invoke (the switchboard's), GetFunction (aiohttp's), Invoke: the API request's bytes
    arrive in two sends, the first of them together with the first Invoke."""
    name, _ = target
    invoke = f"/2015-03-31/functions/{name}/invocations"
    payload = json.dumps({"rawPath": "/direct"}).encode()
    listing = signed(server, "GET", f"/2015-03-31/functions/{name}")
    data = signed(server, "POST", invoke, payload) + listing[:20]
    rest = listing[20:] + signed(server, "POST", invoke, payload)
    first, second, third = exchange(server, data, rest, responses=3)
    assert first[0] == 200 and json.loads(first[2])["body"] == "url:/direct"
    assert second[0] == 200 and json.loads(second[2])["Configuration"]["FunctionName"] == name
    assert third[0] == 200 and json.loads(third[2])["body"] == "url:/direct"


def test_function_urls_pipelined_with_a_partial_request_between_reads(
    server: Server, target: tuple[str, str]
) -> None:
    """Two URL requests and the first half of a third in one send, the rest in another:
    all answered, in order, by the switchboard."""
    _, url_path = target
    third = url_get(server, url_path, "c")
    data = url_get(server, url_path, "a") + url_get(server, url_path, "b") + third[:15]
    answers = exchange(server, data, third[15:], responses=3)
    assert [body for _, _, body in answers] == [b"url:/a", b"url:/b", b"url:/c"]
