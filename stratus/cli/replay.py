"""`stratus invocations NAME [--failed] [--limit N]` lists a function's recorded invocations;
`stratus replay REQUEST_ID [--to NAME] [--qualifier Q]` runs one's event again, synchronously,
with its client context, and prints the recorded and the new result side by side.

Both read the server's `/_stratus/invocations` endpoints (services/invocations.py); the replay
itself is an ordinary Invoke, so it is held to the caller's rights like any other.
"""

from __future__ import annotations

import base64
import json
import re
import sys
import urllib.parse
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from stratus.cli.client import client, endpoint_option, fail_on_client_error, signed_get

RESULT_CHARS = 2000  # longer results are cut in the table
_DURATION = re.compile(r"\tDuration: ([0-9.]+) ms")


@dataclass(frozen=True)
class Outcome:
    """One side of the comparison."""

    request_id: str
    function: str
    version: str
    failed: bool
    error: str
    duration: str
    result: str


def _error_text(error_type: str | None, message: str | None) -> str:
    if not error_type and not message:
        return ""
    return f"{error_type or 'Error'}: {message}" if message else str(error_type)


def _cut(text: str) -> str:
    return text if len(text) <= RESULT_CHARS else text[:RESULT_CHARS] + f"… ({len(text):,} characters)"


def recorded_outcome(recording: dict[str, Any]) -> Outcome:
    result = recording.get("result")
    return Outcome(
        request_id=str(recording["requestId"]),
        function=str(recording["function"])
        + (f":{recording['qualifier']}" if recording.get("qualifier") else ""),
        version=str(recording["version"]),
        failed=recording["status"] == "Failed",
        error=_error_text(recording.get("errorType"), recording.get("errorMessage")),
        duration=f"{recording['durationMs']:.2f} ms",
        result=_cut(result) if result is not None else str(recording.get("resultNote") or ""),
    )


def new_outcome(function: str, response: dict[str, Any], body: bytes) -> Outcome:
    """The replay's side, from Invoke's answer (its log tail's REPORT gives the duration)."""
    failed = bool(response.get("FunctionError"))
    error = ""
    if failed:
        try:
            document = json.loads(body)
        except ValueError:
            document = None
        if isinstance(document, dict):
            error = _error_text(document.get("errorType"), document.get("errorMessage"))
        error = error or str(response["FunctionError"])
    tail = base64.b64decode(response.get("LogResult", "")).decode(errors="replace")
    found = _DURATION.findall(tail)
    meta = response.get("ResponseMetadata", {})
    return Outcome(
        request_id=str(meta.get("RequestId", "")),
        function=function,
        version=str(response.get("ExecutedVersion", "")),
        failed=failed,
        error=error,
        duration=f"{float(found[-1]):.2f} ms" if found else "",
        result=_cut(body.decode(errors="replace")),
    )


@click.command("invocations")
@click.argument("name")
@click.option("--failed", is_flag=True, help="Only the invocations that failed.")
@click.option("--limit", type=click.IntRange(1, 1000), default=20, show_default=True)
@endpoint_option
def invocations(name: str, failed: bool, limit: int, endpoint: str, data_dir: Path | None) -> None:
    """List NAME's recorded invocations, newest first (replay one with `stratus replay ID`)."""
    from rich.console import Console
    from rich.table import Table

    query = urllib.parse.urlencode({"function": name, "limit": limit, **({"failed": 1} if failed else {})})
    found = signed_get(endpoint, f"/_stratus/invocations?{query}", data_dir)["invocations"]
    if not found:
        click.echo(f"no recorded {'failed ' if failed else ''}invocations of {name}")
        return
    table = Table("REQUEST ID", "TIME (UTC)", "VERSION", "STATUS", "DURATION", "ERROR", "PAYLOAD")
    for row in found:
        when = datetime.fromtimestamp(row["time"] / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S")
        payload = f"{row['payloadBytes']:,} bytes" if row["payloadRecorded"] else str(row["note"])
        status = "[red]Failed[/red]" if row["status"] == "Failed" else "[green]Succeeded[/green]"
        table.add_row(
            row["requestId"],
            when,
            str(row["version"]),
            status,
            f"{row['durationMs']:.2f} ms",
            _escape(_error_text(row.get("errorType"), row.get("errorMessage"))),
            payload,
        )
    Console(width=200).print(table)


@click.command("replay")
@click.argument("request_id")
@click.option("--to", "to", default=None, help="Run the event on this function instead.")
@click.option("--qualifier", default=None, help="Version or alias to run [default: as recorded].")
@endpoint_option
@fail_on_client_error
def replay(
    request_id: str, to: str | None, qualifier: str | None, endpoint: str, data_dir: Path | None
) -> None:
    """Run a recorded invocation's event again and compare the results (exit 1 if it fails)."""
    from rich.console import Console
    from rich.table import Table

    path = "/_stratus/invocations/" + urllib.parse.quote(request_id, safe="")
    recording = signed_get(endpoint, path, data_dir)["invocation"]
    if recording.get("payload") is None:
        raise click.ClickException(
            f"{request_id} cannot be replayed: its payload was not recorded "
            f"(too large: {recording['payloadBytes']:,} bytes)"
        )
    payload = str(recording["payload"])
    data = base64.b64decode(payload[7:]) if payload.startswith("base64:") else payload.encode()
    name = to or str(recording["function"])
    kwargs: dict[str, Any] = {"FunctionName": name, "Payload": data, "LogType": "Tail"}
    qualifier = qualifier or (None if to else recording.get("qualifier"))
    if qualifier:
        kwargs["Qualifier"] = qualifier
    if recording.get("clientContext"):
        kwargs["ClientContext"] = base64.b64encode(str(recording["clientContext"]).encode()).decode()
    response = client("lambda", endpoint, data_dir).invoke(**kwargs)
    body = response["Payload"].read()
    old = recorded_outcome(recording)
    new = new_outcome(name + (f":{qualifier}" if qualifier else ""), response, body)
    table = Table("", "RECORDED", "REPLAY", show_lines=True)
    for label, field in (
        ("request id", "request_id"),
        ("function", "function"),
        ("version", "version"),
        ("status", "failed"),
        ("error", "error"),
        ("duration", "duration"),
        ("result", "result"),
    ):
        cells = []
        for side in (old, new):
            value = getattr(side, field)
            if field == "failed":
                value = "[red]Failed[/red]" if value else "[green]Succeeded[/green]"
            else:
                value = _escape(str(value))
            cells.append(value)
        table.add_row(label, *cells)
    Console(width=200).print(table)
    if new.failed:
        sys.exit(1)


def _escape(text: str) -> str:
    """Results are the function's text: never read as rich markup."""
    from rich.markup import escape

    return escape(text)


def register(cli: click.Group) -> None:
    cli.add_command(invocations)
    cli.add_command(replay)
