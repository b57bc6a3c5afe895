"""The `stratus` command line: the server, and commands for humans that drive it over its API."""

from __future__ import annotations

import os
import sys
from dataclasses import replace
from pathlib import Path

import click

from stratus import __version__
from stratus.cli import cost, dev, functions, logs, replay, schedules, sfn, urls
from stratus.config import (
    CREDENTIALS_FILE,
    DEFAULT_PORT,
    config_from_env,
    default_data_dir,
    default_runtime_cache,
)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="stratus")
def cli() -> None:
    """Stratus: run AWS Lambda functions on your own machines."""


def local_host(host: str) -> str:
    """The address of a listener at `host` as seen from this machine."""
    return {"0.0.0.0": "127.0.0.1", "::": "[::1]"}.get(host, f"[{host}]" if ":" in host else host)


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=DEFAULT_PORT, show_default=True, type=int, help="Port for every API.")
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Where state lives [default: ~/.stratus].",
)
@click.option(
    "--dashboard-port",
    type=click.IntRange(0, 65535),
    default=None,
    envvar="STRATUS_DASHBOARD_PORT",
    help="Port of the dashboard, which has an origin of its own [default: a free port, printed at start].",
)
def serve(host: str, port: int, data_dir: Path | None, dashboard_port: int | None) -> None:
    """Run the whole platform in the foreground until SIGTERM or Ctrl-C."""
    import logging

    import uvloop

    from stratus.app import Started
    from stratus.app import serve as run_server
    from stratus.errors import DiskFull

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        config = config_from_env((data_dir or default_data_dir()).expanduser(), host, port)
        config = replace(config, dashboard_port=dashboard_port or None)
    except ValueError as e:
        raise click.ClickException(str(e)) from None

    def banner(started: Started) -> None:
        creds = started.credentials
        click.echo(f"Stratus {__version__} is serving on {started.endpoint}")
        click.echo(f"  data dir:          {config.data_dir}")
        click.echo(f"  access key id:     {creds.access_key_id}")
        # The secret is never printed: output ends up in terminals' scrollback, CI logs and
        # journald. It is where it came from.
        if os.environ.get("STRATUS_ACCESS_KEY_ID") and os.environ.get("STRATUS_SECRET_ACCESS_KEY"):
            click.echo("  secret access key: from STRATUS_SECRET_ACCESS_KEY")
        else:
            generated = "generated now, " if creds.generated else ""
            click.echo(f"  secret access key: {generated}in {config.data_dir / CREDENTIALS_FILE} (mode 0600)")
        for runtime, status in started.runtimes.items():
            click.echo(f"  runtime {runtime}: {status}")
        click.echo(f"  isolation:         {started.isolation}")
        # The token logs in only from this machine, so its link names this machine; it is the
        # one secret shown here, new at each start.
        local = f"http://{local_host(host)}:{started.dashboard_port}"
        click.echo(f"  dashboard:         {local}/_stratus/?token={started.dashboard_token}")
        for note in started.limitations:
            click.echo(f"  not enforced: {note}")
        click.echo(
            "Try: AWS_ACCESS_KEY_ID=... AWS_SECRET_ACCESS_KEY=... "
            f"aws --endpoint-url {started.endpoint} --region us-east-1 lambda list-functions"
        )
        click.echo(
            f"  or: boto3.client('lambda', endpoint_url='{started.endpoint}', region_name='us-east-1', "
            "aws_access_key_id=..., aws_secret_access_key=...)"
        )
        sys.stdout.flush()

    try:
        uvloop.run(run_server(config, banner))
    except DiskFull as e:
        raise click.ClickException(f"cannot start: {e.message} Free some space, then start again.") from None
    except OSError as e:
        raise click.ClickException(f"cannot serve on {host}:{port}: {e.strerror or e}") from None


@cli.group()
def runtimes() -> None:
    """Manage the runtime clients that execution environments use."""


@runtimes.command("install")
@click.option("--cache", type=click.Path(path_type=Path), default=None, help="Runtime cache dir.")
def runtimes_install(cache: Path | None) -> None:
    """Install awslambdaric (and boto3) for every Python interpreter found on this host."""
    from stratus.runtimes import python as py

    target = cache or default_runtime_cache()
    for name in py.SUPPORTED:
        if py.find_interpreter(name) is None:
            click.echo(f"{name}: skipped (no interpreter found)")
            continue
        try:
            path = py.install(target, name)
        except Exception as e:  # pip's own output says what went wrong
            raise click.ClickException(f"{name}: install failed: {e}") from None
        click.echo(f"{name}: ready in {path}")
    from stratus.runtimes import java

    for name, status in java.install_all(target).items():
        click.echo(f"{name}: {status}")


@runtimes.command("list")
def runtimes_list() -> None:
    """Show which runtimes this host can serve."""
    from stratus.runtimes import python as py

    for name, status in py.discover(default_runtime_cache()).items():
        click.echo(f"{name}: {status if isinstance(status, str) else status.interpreter}")


functions.register(cli)
logs.register(cli)
schedules.register(cli)
urls.register(cli)
cost.register(cli)
sfn.register(cli)
dev.register(cli)
replay.register(cli)
