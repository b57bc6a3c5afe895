"""`stratus invoke NAME --debug`: one invocation in an environment of its own, with a debugger
to attach to on a host loopback port (the server's side: lambda_api/debug.py).

The port and what to attach with go to stderr as soon as the server listens; the function's
result goes to stdout when the invocation ends, as a plain `stratus invoke` prints it.
"""

from __future__ import annotations

import base64
import http.client
import json
import sys
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
    path = f"/_stratus/debug/functions/{quote(name, safe='')}/invocations?{urlencode(query)}"
    url, headers = _signed(endpoint, path, payload.encode(), data_dir)
    parts = urlsplit(url)
    connection_class = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    connection = connection_class(parts.netloc)  # no timeout: a debugging session takes its time
    try:
        connection.request("POST", parts.path + (f"?{parts.query}" if parts.query else ""), payload, headers)
        response = connection.getresponse()
        if response.status != 200:
            raise click.ClickException(_refusal(response.status, response.read()))
        ended = False
        for raw in response:
            if not raw.strip():
                continue
            event = json.loads(raw)
            kind = event.get("event")
            if kind == "listening":
                click.echo(attach_hint(event), err=True)
            elif kind == "error":
                raise click.ClickException(f"{event.get('code')}: {event.get('message')}")
            elif kind == "result":
                ended = True
                if show_logs and event.get("logResult"):
                    tail = base64.b64decode(event["logResult"]).decode(errors="replace")
                    click.echo(tail, err=True, nl=False)
                click.echo(base64.b64decode(event.get("payload") or "").decode(errors="replace"))
                if event.get("functionError"):
                    sys.exit(1)
        if not ended:
            raise click.ClickException("the server ended the debug invocation without a result")
    except OSError as e:
        raise click.ClickException(f"cannot reach {endpoint}: {e}") from None
    finally:
        connection.close()


def _refusal(status: int, body: bytes) -> str:
    try:
        error = json.loads(body or b"{}")
    except ValueError:
        return f"HTTP {status}"
    code = str(error.get("__type") or error.get("code") or status).rpartition("#")[2]
    return f"{code}: {error.get('message') or error.get('Message') or ''}".rstrip(": ")
