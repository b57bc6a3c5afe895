"""Schedule expressions: parsing as EventBridge does, and next firing times."""

from datetime import UTC, datetime

import pytest

from stratus.errors import ValidationError
from stratus.events.schedule import Cron, Rate, next_fire, parse

START = datetime(2026, 11, 28, 0, 0, tzinfo=UTC)  # a Saturday


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("rate(1 minute)", datetime(2026, 11, 28, 0, 1, tzinfo=UTC)),
        ("rate(2 hours)", datetime(2026, 11, 28, 2, 0, tzinfo=UTC)),
        ("rate(1 day)", datetime(2026, 11, 29, 0, 0, tzinfo=UTC)),
        ("cron(0 12 * * ? *)", datetime(2026, 11, 28, 12, 0, tzinfo=UTC)),
        ("cron(0/15 * ? * MON-FRI *)", datetime(2026, 11, 30, 0, 0, tzinfo=UTC)),
        ("cron(0 18 ? * 2-6 *)", datetime(2026, 11, 30, 18, 0, tzinfo=UTC)),  # 2-6 is MON-FRI
        ("cron(0 8 ? * 1 *)", datetime(2026, 11, 29, 8, 0, tzinfo=UTC)),  # 1 is Sunday
        ("cron(0 8 L * ? *)", datetime(2026, 11, 30, 8, 0, tzinfo=UTC)),
        ("cron(0 10 ? * 7#3 *)", datetime(2026, 12, 19, 10, 0, tzinfo=UTC)),  # third Saturday
        ("cron(0 9 15W * ? 2027)", datetime(2027, 1, 15, 9, 0, tzinfo=UTC)),
        # Names hold the letters L and W themselves; nL is the month's last such weekday.
        ("cron(0 0,12 1,15 JAN,JUL ? *)", datetime(2027, 1, 1, 0, 0, tzinfo=UTC)),
        ("cron(30 6 ? * 6L 2030-2035)", datetime(2030, 1, 25, 6, 30, tzinfo=UTC)),  # last Friday
        ("cron(0 8 ? * WED *)", datetime(2026, 12, 2, 8, 0, tzinfo=UTC)),
        ("cron(0 8 ? * L *)", datetime(2026, 11, 28, 8, 0, tzinfo=UTC)),  # L: Saturday
        ("cron(0 8 ? JUL-DEC/2 * *)", datetime(2026, 11, 28, 8, 0, tzinfo=UTC)),  # JUL, SEP, NOV
        ("cron(0 9 14W * ? 2026)", datetime(2026, 12, 14, 9, 0, tzinfo=UTC)),
    ],
)
def test_next_fire(expression: str, expected: datetime) -> None:
    assert next_fire(parse(expression), START) == expected


@pytest.mark.parametrize(
    "expression",
    [
        "rate(1 minutes)",
        "rate(2 minute)",
        "rate(0 hours)",
        "rate(3 weeks)",
        "cron(* * * * * *)",
        "cron(0 12 ? * ? *)",
        "cron(0 12 * * *)",
        "cron(0 12 ? * 0 *)",
        "cron(0 12 1W ? * *)",
        "cron(0 12 1#2 * ? *)",
        "cron(0 12 ? JUNL * *)",
        "cron(0 12 ? * 8L *)",
        "cron(0 12 * * ? 26)",
        "hourly",
        "",
    ],
)
def test_invalid_expressions(expression: str) -> None:
    with pytest.raises(ValidationError):
        parse(expression)


def test_speedup_divides_rates_only() -> None:
    assert isinstance(parse("rate(1 minute)"), Rate)
    assert next_fire(parse("rate(1 minute)"), START, speedup=60) == datetime(
        2026, 11, 28, 0, 0, 1, tzinfo=UTC
    )
    assert isinstance(parse("cron(0 12 * * ? *)"), Cron)


def test_a_year_that_never_comes_has_no_next_time() -> None:
    assert next_fire(parse("cron(0 12 * * ? 2020)"), START) is None
