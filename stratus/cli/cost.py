"""`stratus cost [--since ...] [--by function|day]`: what the metered use would cost on Lambda."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime
from pathlib import Path

import click

from stratus.cli.client import endpoint_option, signed_get

_RELATIVE = re.compile(r"^(\d+)([mhd])$")


def parse_since(value: str) -> int:
    """`30m`, `24h`, `7d`, an ISO date or time (UTC), or epoch seconds."""
    relative = _RELATIVE.match(value)
    if relative:
        seconds = int(relative.group(1)) * {"m": 60, "h": 3600, "d": 86400}[relative.group(2)]
        return int(time.time()) - seconds
    if value.isdigit():
        return int(value)
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(
            "use 30m, 24h, 7d, an ISO date such as 2026-11-01, or epoch seconds"
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return int(parsed.timestamp())


@click.command("cost")
@click.option(
    "--since",
    default="30d",
    show_default=True,
    callback=lambda _ctx, _param, value: parse_since(value),
    help="30m, 24h, 7d, an ISO date, or epoch seconds.",
)
@click.option("--by", type=click.Choice(["function", "day"]), default="function", show_default=True)
@endpoint_option
def cost(since: int, by: str, endpoint: str, data_dir: Path | None) -> None:
    """Requests, GB-seconds and their cost at the configured prices (AWS's x86 prices by default)."""
    from rich.console import Console
    from rich.table import Table

    report = signed_get(endpoint, f"/_stratus/cost?since={since}&by={by}", data_dir)
    table = Table(by.upper(), "REQUESTS", "BILLED MS", "GB-SECONDS", "COST (USD)")
    for row in report["rows"]:
        table.add_row(
            row[by],
            f"{row['requests']:,}",
            f"{row['billedMs']:,}",
            f"{row['gbSeconds']:.6f}",
            f"{row['cost']:.8f}",
        )
    prices = report["prices"]
    Console().print(table)
    click.echo(
        f"total {report['totalCost']:.8f} USD at {prices['perMillionRequests']} per million requests "
        f"and {prices['perGbSecond']} per GB-second"
    )


def register(cli: click.Group) -> None:
    cli.add_command(cost)
