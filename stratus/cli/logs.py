"""`stratus logs NAME [--follow]`, read through the CloudWatch Logs API."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import click

from stratus.cli.client import client, endpoint_option, fail_on_client_error


@click.command()
@click.argument("name")
@click.option("--follow", "-f", is_flag=True, help="Keep printing new lines.")
@click.option("--since", default=3600, show_default=True, type=int, help="Seconds of history.")
@endpoint_option
@fail_on_client_error
def logs(name: str, follow: bool, since: int, endpoint: str, data_dir: Path | None) -> None:
    """Print the logs of function NAME."""
    from botocore.exceptions import ClientError

    cw = client("logs", endpoint, data_dir)
    group = f"/aws/lambda/{name}"
    try:  # the function's LoggingConfig may name a log group of its own
        config = client("lambda", endpoint, data_dir).get_function_configuration(FunctionName=name)
        group = config.get("LoggingConfig", {}).get("LogGroup") or group
    except ClientError as e:
        if e.response["Error"]["Code"] != "ResourceNotFoundException":
            raise
    kwargs: dict[str, Any] = {"logGroupName": group, "startTime": int((time.time() - since) * 1000)}
    seen: set[str] = set()
    while True:
        try:
            response = cw.filter_log_events(**kwargs)
        except ClientError as e:
            if e.response["Error"]["Code"] != "ResourceNotFoundException" or not follow:
                raise
            response = {"events": []}
        for event in response["events"]:
            if event["eventId"] in seen:
                continue
            seen.add(event["eventId"])
            click.echo(event["message"])
        if "nextToken" in response:
            kwargs["nextToken"] = response["nextToken"]
            continue
        if not follow:
            return
        if response["events"]:
            kwargs["nextToken"] = response["events"][-1]["eventId"]
        time.sleep(0.5)


def register(cli: click.Group) -> None:
    cli.add_command(logs)
