"""`stratus invoke NAME --debug`: one invocation in an environment of its own, with a debugger
to attach to on a host loopback port (the server's side: lambda_api/debug.py).

The port and what to attach with go to stderr as soon as the server listens; the function's
result goes to stdout when the invocation ends, as a plain `stratus invoke` prints it.
"""

from __future__ import annotations

import base64
import contextlib
import http.client
import json
import socket
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

import click

from stratus.cli.client import _credentials, cli_region

KINDS = {"dap": "debugpy", "inspector": "node --inspect"}


def attach_hint(event: dict[str, Any]) -> str:
    """The line the user reads: where to attach, and with what."""
    kind = KINDS.get(str(event.get("protocol")), str(event.get("protocol")))
    return (
        f"Debugger ({kind}) listening on 127.0.0.1:{event['port']}: attach within "
        f"{float(event['waitTimeout']):g} s, then the invocation runs anyway "
        f"(handler files at {event.get('remoteRoot') or '?'}, request {event.get('requestId')})"
    )


def _signed(endpoint: str, path: str, body: bytes, data_dir: Path | None) -> tuple[str, dict[str, str]]:
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    key, secret, token = _credentials(data_dir)
    url = endpoint.rstrip("/") + path
    request = AWSRequest(method="POST", url=url, data=body, headers={"Content-Type": "application/json"})
    SigV4Auth(Credentials(key, secret, token), "lambda", cli_region()).add_auth(request)
    return request.url, dict(request.headers)


class EventStream:
    """A signed POST to one of the server's debug paths, whose answer is read as JSON lines."""

    def __init__(self, endpoint: str, data_dir: Path | None, path: str, payload: str) -> None:
        self.endpoint = endpoint
        url, headers = _signed(endpoint, path, payload.encode(), data_dir)
        parts = urlsplit(url)
        kind = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
        self.connection = kind(parts.netloc)  # no timeout: a debugging session takes its time
        self._target = parts.path + (f"?{parts.query}" if parts.query else "")
        self._payload = payload
        self._headers = headers

    def events(self) -> Iterator[dict[str, Any]]:
        """Each JSON line of the answer; raises ClickException for a refusal or an unreachable
        server."""
        try:
            self.connection.request("POST", self._target, self._payload, self._headers)
            response = self.connection.getresponse()
            if response.status != 200:
                raise click.ClickException(_refusal(response.status, response.read()))
            for raw in response:
                if raw.strip():
                    yield json.loads(raw)
        except OSError as e:
            raise click.ClickException(f"cannot reach {self.endpoint}: {e}") from None

    def close(self) -> None:
        """Ends the request; from another thread too (its read then ends)."""
        sock = self.connection.sock
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        self.connection.close()


def debug_path(name: str, kind: str, query: dict[str, str]) -> str:
    return f"/_stratus/debug/functions/{quote(name, safe='')}/{kind}?{urlencode(query)}"


def run(
    endpoint: str,
    data_dir: Path | None,
    name: str,
    payload: str,
    qualifier: str | None,
    port: int | None,
    wait_timeout: float,
    show_logs: bool,
) -> None:
    """Ask for the debug invocation and print as it goes; exit 1 on a function error."""
    query: dict[str, str] = {"waitTimeout": f"{wait_timeout:g}"}
    if qualifier:
        query["Qualifier"] = qualifier
    if port is not None:
        query["port"] = str(port)
    stream = EventStream(endpoint, data_dir, debug_path(name, "invocations", query), payload)
    try:
        for event in stream.events():
            kind = event.get("event")
            if kind == "listening":
                click.echo(attach_hint(event), err=True)
            elif kind == "error":
                raise click.ClickException(f"{event.get('code')}: {event.get('message')}")
            elif kind == "result":
                if show_logs and event.get("logResult"):
                    tail = base64.b64decode(event["logResult"]).decode(errors="replace")
                    click.echo(tail, err=True, nl=False)
                click.echo(base64.b64decode(event.get("payload") or "").decode(errors="replace"))
                if event.get("functionError"):
                    sys.exit(1)
                return
        raise click.ClickException("the server ended the debug invocation without a result")
    finally:
        stream.close()


def _refusal(status: int, body: bytes) -> str:
    try:
        error = json.loads(body or b"{}")
    except ValueError:
        return f"HTTP {status}"
    code = str(error.get("__type") or error.get("code") or status).rpartition("#")[2]
    return f"{code}: {error.get('message') or error.get('Message') or ''}".rstrip(": ")
