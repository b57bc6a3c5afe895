"""`stratus schedule ls | add | rm`: scheduled rules that invoke a function."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from stratus.cli.client import client, endpoint_option, fail_on_client_error


@click.group()
def schedule() -> None:
    """Run functions on a schedule (EventBridge rules)."""


@schedule.command("ls")
@endpoint_option
@fail_on_client_error
def list_schedules(endpoint: str, data_dir: Path | None) -> None:
    """List scheduled rules and their targets."""
    from rich.console import Console
    from rich.table import Table

    events = client("events", endpoint, data_dir)
    table = Table("RULE", "SCHEDULE", "STATE", "TARGETS")
    for rule in events.list_rules()["Rules"]:
        targets = events.list_targets_by_rule(Rule=rule["Name"])["Targets"]
        names = ", ".join(t["Arn"].split(":function:")[-1] for t in targets)
        table.add_row(rule["Name"], rule.get("ScheduleExpression", ""), rule["State"], names)
    Console().print(table)


@schedule.command("add")
@click.argument("name")
@click.argument("expression")
@click.option("--function", "function", required=True, help="The function to invoke.")
@click.option("--input", "payload", default=None, help="JSON to send instead of the Scheduled Event.")
@endpoint_option
@fail_on_client_error
def add_schedule(
    name: str, expression: str, function: str, payload: str | None, endpoint: str, data_dir: Path | None
) -> None:
    """Create or update rule NAME with EXPRESSION (rate(...) or cron(...)) targeting FUNCTION."""
    if payload is not None:
        try:
            json.loads(payload)
        except ValueError as e:
            raise click.ClickException(f"--input is not valid JSON: {e}") from None
    lam = client("lambda", endpoint, data_dir)
    arn = lam.get_function_configuration(FunctionName=function)["FunctionArn"]
    events = client("events", endpoint, data_dir)
    rule_arn = events.put_rule(Name=name, ScheduleExpression=expression)["RuleArn"]
    allow_rule(lam, function, rule_arn)
    target = {"Id": "stratus-cli", "Arn": arn, **({"Input": payload} if payload is not None else {})}
    events.put_targets(Rule=name, Targets=[target])
    click.echo(rule_arn)


def allow_rule(lam: Any, function: str, rule_arn: str) -> None:
    """Let the rule invoke the function (its resource policy must, as on AWS; the console adds
    this statement too), unless a statement of that id is already there."""
    from botocore.exceptions import ClientError

    try:
        lam.add_permission(
            FunctionName=function,
            StatementId=f"stratus-schedule-{rule_arn.rpartition('/')[2]}"[:100],
            Action="lambda:InvokeFunction",
            Principal="events.amazonaws.com",
            SourceArn=rule_arn,
        )
    except ClientError as e:
        if e.response["Error"]["Code"] != "ResourceConflictException":
            raise


@schedule.command("rm")
@click.argument("name")
@endpoint_option
@fail_on_client_error
def remove_schedule(name: str, endpoint: str, data_dir: Path | None) -> None:
    """Delete rule NAME and its targets."""
    events = client("events", endpoint, data_dir)
    ids = [t["Id"] for t in events.list_targets_by_rule(Rule=name)["Targets"]]
    if ids:
        events.remove_targets(Rule=name, Ids=ids)
    events.delete_rule(Name=name)
    click.echo(f"deleted {name}")


def register(cli: click.Group) -> None:
    cli.add_command(schedule)
