"""`stratus url NAME` exposes a function over HTTP; `stratus urls` lists what is exposed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from stratus.cli.client import client, endpoint_option, fail_on_client_error


@click.command("url")
@click.argument("name")
@click.option("--qualifier", default=None, help="An alias to expose instead of $LATEST.")
@click.option(
    "--auth",
    type=click.Choice(["NONE", "AWS_IAM"]),
    default="NONE",
    show_default=True,
    help="NONE: anyone may call it; AWS_IAM: requests must be SigV4-signed.",
)
@click.option("--cors-origin", "origins", multiple=True, help="Allow this browser origin (repeatable, or *).")
@click.option("--delete", is_flag=True, help="Remove the function URL instead.")
@endpoint_option
@fail_on_client_error
def url(
    name: str,
    qualifier: str | None,
    auth: str,
    origins: tuple[str, ...],
    delete: bool,
    endpoint: str,
    data_dir: Path | None,
) -> None:
    """Print the URL of function NAME, creating it first if it has none."""
    from botocore.exceptions import ClientError

    lam = client("lambda", endpoint, data_dir)
    target: dict[str, Any] = {"FunctionName": name, **({"Qualifier": qualifier} if qualifier else {})}
    if delete:
        lam.delete_function_url_config(**target)
        click.echo(f"removed the URL of {name}{':' + qualifier if qualifier else ''}")
        return
    try:
        found = lam.get_function_url_config(**target)
    except ClientError as e:
        if e.response.get("Error", {}).get("Code") != "ResourceNotFoundException":
            raise
        lam.get_function_configuration(**target)  # a missing function fails here, clearly
        extra: dict[str, Any] = {"Cors": {"AllowOrigins": list(origins)}} if origins else {}
        found = lam.create_function_url_config(**target, AuthType=auth, **extra)
    click.echo(found["FunctionUrl"])


@click.command("urls")
@endpoint_option
@fail_on_client_error
def list_urls(endpoint: str, data_dir: Path | None) -> None:
    """List every function URL and HTTP API endpoint."""
    lam = client("lambda", endpoint, data_dir)
    rows = [("FUNCTION", "QUALIFIER", "AUTH", "URL")]
    for page in lam.get_paginator("list_functions").paginate():
        for fn in page["Functions"]:
            name = fn["FunctionName"]
            for config in lam.list_function_url_configs(FunctionName=name)["FunctionUrlConfigs"]:
                parts = config["FunctionArn"].split(":")
                qualifier = parts[7] if len(parts) > 7 else "$LATEST"
                rows.append((name, qualifier, config["AuthType"], config["FunctionUrl"]))
    for api in client("apigatewayv2", endpoint, data_dir).get_apis().get("Items", []):
        rows.append((f"(HTTP API {api['Name']})", api["ApiId"], "NONE", api["ApiEndpoint"]))
    # Plain columns, never truncated, so a URL can be copied whole.
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    for row in rows:
        click.echo("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row[:3])) + "  " + row[3])


def register(cli: click.Group) -> None:
    cli.add_command(url)
    cli.add_command(list_urls)
