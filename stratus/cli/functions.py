"""`stratus deploy | invoke | ls | rm`."""

from __future__ import annotations

import base64
import io
import json
import os
import sys
import zipfile
from pathlib import Path
from typing import Any

import click

from stratus.cli.client import client, endpoint_option, fail_on_client_error

# The execution role `deploy` gives a function when none is named: created on first use, with
# Lambda's basic execution policy (logs only), as the Lambda console's default role has.
DEFAULT_ROLE_NAME = "stratus-function"
BASIC_EXECUTION = "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"


def default_role(endpoint: str, data_dir: Path | None) -> str:
    """The ARN of the default execution role, created (and given basic execution) if missing."""
    from botocore.exceptions import ClientError

    from stratus.identity.environments import LAMBDA_TRUST  # only here: the CLI starts lean

    iam = client("iam", endpoint, data_dir)
    try:
        return str(iam.get_role(RoleName=DEFAULT_ROLE_NAME)["Role"]["Arn"])
    except ClientError as e:
        if e.response["Error"]["Code"] != "NoSuchEntity":
            raise
    arn = str(
        iam.create_role(RoleName=DEFAULT_ROLE_NAME, AssumeRolePolicyDocument=LAMBDA_TRUST)["Role"]["Arn"]
    )
    iam.attach_role_policy(RoleName=DEFAULT_ROLE_NAME, PolicyArn=BASIC_EXECUTION)
    return arn


def zip_directory(directory: Path) -> bytes:
    """A deterministic zip of `directory`: sorted entries and fixed timestamps, so the same
    code always has the same CodeSha256."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for root, dirs, files in os.walk(directory):
            dirs[:] = sorted(d for d in dirs if d not in ("__pycache__", ".git"))
            for name in sorted(files):
                path = Path(root) / name
                if path.is_symlink() or name.endswith(".pyc"):
                    continue
                info = zipfile.ZipInfo(str(path.relative_to(directory)), (1980, 1, 1, 0, 0, 0))
                info.external_attr = (path.stat().st_mode & 0o777) << 16
                info.compress_type = zipfile.ZIP_DEFLATED
                zf.writestr(info, path.read_bytes())
    return buf.getvalue()


def _env_pairs(values: tuple[str, ...]) -> dict[str, str]:
    env = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"{item!r} is not KEY=VALUE", param_hint="--env")
        env[key] = value
    return env


@click.command()
@click.argument("directory", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--name", required=True, help="Function name.")
@click.option("--runtime", default="python3.11", show_default=True)
@click.option("--handler", default="app.handler", show_default=True)
@click.option("--memory", type=int, default=None, help="MemorySize in MB (default 128).")
@click.option("--timeout", type=int, default=None, help="Timeout in seconds (default 3).")
@click.option("--env", "env", multiple=True, help="KEY=VALUE; repeatable.")
@click.option(
    "--role", default=None, help=f"Execution role ARN [default: {DEFAULT_ROLE_NAME}, created if missing]."
)
@endpoint_option
@fail_on_client_error
def deploy(
    directory: Path,
    name: str,
    runtime: str,
    handler: str,
    memory: int | None,
    timeout: int | None,
    env: tuple[str, ...],
    role: str | None,
    endpoint: str,
    data_dir: Path | None,
) -> None:
    """Zip DIRECTORY and create or update function NAME, then print its ARN."""
    from botocore.exceptions import ClientError

    lam = client("lambda", endpoint, data_dir)
    code = zip_directory(directory)
    config: dict[str, Any] = {"Runtime": runtime, "Handler": handler}
    if role is not None:
        config["Role"] = role
    if memory is not None:
        config["MemorySize"] = memory
    if timeout is not None:
        config["Timeout"] = timeout
    if env:
        config["Environment"] = {"Variables": _env_pairs(env)}
    try:
        lam.get_function_configuration(FunctionName=name)
        exists = True
    except ClientError as e:
        if e.response["Error"]["Code"] != "ResourceNotFoundException":
            raise
        exists = False
    if exists:
        lam.update_function_code(FunctionName=name, ZipFile=code)
        lam.get_waiter("function_updated_v2").wait(FunctionName=name, WaiterConfig={"Delay": 1})
        result = lam.update_function_configuration(FunctionName=name, **config)
        lam.get_waiter("function_updated_v2").wait(FunctionName=name, WaiterConfig={"Delay": 1})
    else:
        config.setdefault("Role", default_role(endpoint, data_dir))
        result = lam.create_function(FunctionName=name, Code={"ZipFile": code}, **config)
        lam.get_waiter("function_active_v2").wait(FunctionName=name, WaiterConfig={"Delay": 1})
    click.echo(result["FunctionArn"])


@click.command()
@click.argument("name")
@click.argument("payload", required=False, default="{}")
@click.option("--qualifier", default=None, help="Version or alias.")
@click.option("--logs", "show_logs", is_flag=True, help="Print the invocation's log tail to stderr.")
@click.option(
    "--debug",
    is_flag=True,
    help="Run it in an environment of its own with a debugger (debugpy, node --inspect) to attach to.",
)
@click.option(
    "--debug-port", type=click.IntRange(1, 65535), default=None, help="Host loopback port for --debug."
)
@click.option(
    "--wait-timeout",
    type=click.FloatRange(0, 3600),
    default=60.0,
    show_default=True,
    help="With --debug: seconds to wait for an attach before it runs anyway.",
)
@endpoint_option
@fail_on_client_error
def invoke(
    name: str,
    payload: str,
    qualifier: str | None,
    show_logs: bool,
    debug: bool,
    debug_port: int | None,
    wait_timeout: float,
    endpoint: str,
    data_dir: Path | None,
) -> None:
    """Invoke NAME with PAYLOAD (JSON, or - for stdin) and print the response."""
    data = sys.stdin.read() if payload == "-" else payload
    try:
        json.loads(data)
    except ValueError as e:
        raise click.ClickException(f"PAYLOAD is not valid JSON: {e}") from None
    if debug:
        from stratus.cli import debug as debugging

        debugging.run(endpoint, data_dir, name, data, qualifier, debug_port, wait_timeout, show_logs)
        return
    if debug_port is not None:
        raise click.BadParameter("needs --debug", param_hint="--debug-port")
    lam = client("lambda", endpoint, data_dir)
    kwargs: dict[str, Any] = {
        "FunctionName": name,
        "Payload": data.encode(),
        "LogType": "Tail" if show_logs else "None",
    }
    if qualifier:
        kwargs["Qualifier"] = qualifier
    response = lam.invoke(**kwargs)
    if show_logs and "LogResult" in response:
        click.echo(base64.b64decode(response["LogResult"]).decode(errors="replace"), err=True, nl=False)
    click.echo(response["Payload"].read().decode(errors="replace"))
    if response.get("FunctionError"):
        sys.exit(1)


@click.command("ls")
@endpoint_option
@fail_on_client_error
def list_functions(endpoint: str, data_dir: Path | None) -> None:
    """List functions."""
    from rich.console import Console
    from rich.table import Table

    lam = client("lambda", endpoint, data_dir)
    table = Table("NAME", "RUNTIME", "HANDLER", "MEMORY", "TIMEOUT", "LAST MODIFIED")
    for page in lam.get_paginator("list_functions").paginate():
        for fn in page["Functions"]:
            table.add_row(
                fn["FunctionName"],
                fn["Runtime"],
                fn["Handler"],
                str(fn["MemorySize"]),
                str(fn["Timeout"]),
                fn["LastModified"],
            )
    Console().print(table)


@click.command("rm")
@click.argument("names", nargs=-1, required=True)
@endpoint_option
@fail_on_client_error
def remove(names: tuple[str, ...], endpoint: str, data_dir: Path | None) -> None:
    """Delete functions."""
    lam = client("lambda", endpoint, data_dir)
    for name in names:
        lam.delete_function(FunctionName=name)
        click.echo(f"deleted {name}")


def register(cli: click.Group) -> None:
    for command in (deploy, invoke, list_functions, remove):
        cli.add_command(command)
