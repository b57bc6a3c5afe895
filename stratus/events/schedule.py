"""Schedule expressions as EventBridge accepts them, and when they fire next. Pure functions.

`rate(value unit)`: minute(s), hour(s) or day(s), singular only for 1.
`cron(minutes hours day-of-month month day-of-week year)`, in UTC: one of day-of-month and
day-of-week must be `?`; `L` and `W` belong to day-of-month (and `L` to day-of-week as `nL`),
`#` to day-of-week; day-of-week numbers run 1-7 from Sunday.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from croniter import croniter

from stratus.errors import ValidationError

_RATE = re.compile(r"^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$")
_CRON = re.compile(r"^cron\((.+)\)$")
_UNIT_SECONDS = {"minute": 60, "hour": 3600, "day": 86400}
_DOW_NAMES = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")
_MONTH_ITEM = re.compile(
    r"^(\*|(\d{1,2}|JAN|FEB|MAR|APR|MAY|JUN|JUL|AUG|SEP|OCT|NOV|DEC)"
    r"(-(\d{1,2}|JAN|FEB|MAR|APR|MAY|JUN|JUL|AUG|SEP|OCT|NOV|DEC))?)(/\d+)?$",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Rate:
    seconds: int


@dataclass(frozen=True)
class Cron:
    expression: str  # five fields, as croniter reads them
    years: str  # the sixth field, checked separately


Schedule = Rate | Cron


def _invalid(expression: str) -> ValidationError:
    return ValidationError(f"Parameter ScheduleExpression is not valid: {expression}")


def parse(expression: str) -> Schedule:
    match = _RATE.match(expression or "")
    if match:
        value, unit = int(match.group(1)), match.group(2)
        if value < 1 or (value == 1) != (not unit.endswith("s")):
            raise _invalid(expression)
        return Rate(value * _UNIT_SECONDS[unit.rstrip("s")])
    match = _CRON.match(expression or "")
    if not match:
        raise _invalid(expression)
    fields = match.group(1).split()
    if len(fields) != 6:
        raise _invalid(expression)
    minutes, hours, dom, month, dow, years = fields
    if (dom == "?") == (dow == "?"):
        raise _invalid(expression)  # exactly one of the two days must be "?"
    # Tokens, not letters: month and day names hold L and W themselves (JUL, WED).
    if "#" in dom or not all(_MONTH_ITEM.match(item) for item in month.split(",")):
        raise _invalid(expression)
    if any(item.upper().endswith("W") and item.upper() not in _DOW_NAMES for item in dow.split(",")):
        raise _invalid(expression)
    cron = " ".join(
        [minutes, hours, "*" if dom == "?" else dom, month, "*" if dow == "?" else _dow(dow, expression)]
    )
    if not croniter.is_valid(cron) or not _years_valid(years):
        raise _invalid(expression)
    return Cron(cron, years)


def _dow(field: str, expression: str) -> str:
    """EventBridge numbers days 1-7 from Sunday; cron numbers them 0-6."""

    def shift(token: str) -> str:
        head, sep, tail = token.partition("#")
        if head.isdigit():
            number = int(head)
            if not 1 <= number <= 7:
                raise _invalid(expression)
            head = str(number - 1)
        elif head.upper() in _DOW_NAMES or head == "*":
            pass
        elif head == "L":  # the last day of the week: Saturday
            head = "6"
        elif head.endswith("L") and head[:-1].isdigit() and 1 <= int(head[:-1]) <= 7:
            head = f"L{int(head[:-1]) - 1}"  # the last such day of the month, croniter's spelling
        return head + sep + tail

    parts = []
    for item in field.split(","):
        if "-" in item and "#" not in item:
            lo, hi = item.split("-", 1)
            parts.append(f"{shift(lo)}-{shift(hi)}")
        else:
            parts.append(shift(item))
    return ",".join(parts)


def _years_valid(years: str) -> bool:
    return years == "*" or all(re.fullmatch(r"\d{4}(-\d{4})?(/\d+)?", part) for part in years.split(","))


def _year_matches(years: str, year: int) -> bool:
    if years == "*":
        return True
    for part in years.split(","):
        span, _, step = part.partition("/")
        lo, _, hi = span.partition("-")
        first, last = int(lo), int(hi or (lo if not step else "9999"))
        if first <= year <= last and (year - first) % int(step or 1) == 0:
            return True
    return False


def next_fire(schedule: Schedule, after: datetime, speedup: float = 1.0) -> datetime | None:
    """The first firing strictly after `after` (a UTC datetime). `speedup` divides rate
    periods; it exists for tests, which cannot wait minutes."""
    if isinstance(schedule, Rate):
        return after + timedelta(seconds=schedule.seconds / speedup)
    it = croniter(schedule.expression, after)
    for _ in range(2000):
        candidate: datetime = it.get_next(datetime)
        if _year_matches(schedule.years, candidate.year):
            return candidate
        if candidate.year > 2199:
            break
    return None
