"""`stratus sfn run | describe | history`: start a state machine's execution and wait for its
output, describe an execution, and print its history as a readable timeline."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import click

from stratus.cli.client import client, endpoint_option, fail_on_client_error


@click.group()
def sfn() -> None:
    """Step Functions state machines and their executions."""


def _machine_arn(states: Any, name: str) -> str:
    if name.startswith("arn:"):
        return name
    for page in states.get_paginator("list_state_machines").paginate():
        for machine in page["stateMachines"]:
            if machine["name"] == name:
                return str(machine["stateMachineArn"])
    raise click.ClickException(f"no state machine named {name}")


@sfn.command("run")
@click.argument("name")
@click.option("--input", "payload", default="{}", help="The execution's input (JSON).")
@endpoint_option
@fail_on_client_error
def run(name: str, payload: str, endpoint: str, data_dir: Path | None) -> None:
    """Start an execution of state machine NAME (or ARN), wait for it and print its output."""
    try:
        json.loads(payload)
    except ValueError as e:
        raise click.ClickException(f"--input is not valid JSON: {e}") from None
    states = client("stepfunctions", endpoint, data_dir)
    arn = _machine_arn(states, name)
    if states.describe_state_machine(stateMachineArn=arn)["type"] == "EXPRESS":
        done = client_without_prefix(endpoint, data_dir).start_sync_execution(
            stateMachineArn=arn, input=payload
        )
    else:
        execution = states.start_execution(stateMachineArn=arn, input=payload)["executionArn"]
        while True:
            done = states.describe_execution(executionArn=execution)
            if done["status"] != "RUNNING":
                break
            time.sleep(0.2)
    if done["status"] == "SUCCEEDED":
        click.echo(done.get("output", ""))
        return
    raise click.ClickException(f"{done['status']}: {done.get('error', '')}: {done.get('cause', '')}")


def client_without_prefix(endpoint: str, data_dir: Path | None) -> Any:
    """StartSyncExecution's "sync-" host prefix cannot go in front of an IP address."""
    import boto3
    from botocore.config import Config

    from stratus.cli.client import _credentials, cli_region

    key, secret, token = _credentials(data_dir)
    return boto3.client(
        "stepfunctions",
        endpoint_url=endpoint,
        region_name=cli_region(),
        aws_access_key_id=key,
        aws_secret_access_key=secret,
        aws_session_token=token,
        config=Config(retries={"max_attempts": 1}, read_timeout=930, inject_host_prefix=False),
    )


@sfn.command("describe")
@click.argument("arn")
@endpoint_option
@fail_on_client_error
def describe(arn: str, endpoint: str, data_dir: Path | None) -> None:
    """Describe execution ARN."""
    states = client("stepfunctions", endpoint, data_dir)
    described = states.describe_execution(executionArn=arn)
    described.pop("ResponseMetadata", None)
    click.echo(json.dumps(described, indent=2, default=str))


@sfn.command("history")
@click.argument("arn")
@endpoint_option
@fail_on_client_error
def history(arn: str, endpoint: str, data_dir: Path | None) -> None:
    """Print execution ARN's history as a timeline."""
    from stratus.workflows.history import timeline

    states = client("stepfunctions", endpoint, data_dir)
    events: list[dict[str, Any]] = []
    for page in states.get_paginator("get_execution_history").paginate(executionArn=arn):
        for e in page["events"]:
            events.append({**e, "timestamp": int(e["timestamp"].timestamp() * 1000)})
    for line in timeline(events):
        click.echo(line)


def register(cli: click.Group) -> None:
    cli.add_command(sfn)
