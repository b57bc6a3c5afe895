"""Timestamps on the wire, shared by the protocols: read from epoch seconds or ISO 8601 into
aware UTC datetimes (what boto3 callers pass), and written in a model's `timestampFormat`
from whatever a handler returns (datetime, epoch number or ISO string)."""

from __future__ import annotations

import datetime as dt
import decimal
from email.utils import formatdate
from typing import Any

EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def to_datetime(value: Any) -> dt.datetime:
    """Epoch seconds (number or text) or ISO 8601 text as an aware UTC datetime; ValueError
    for anything else."""
    if isinstance(value, dt.datetime):
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)
    if isinstance(value, str):
        try:
            value = decimal.Decimal(value) if value.strip()[:1].isdigit() and "-" not in value else value
        except decimal.InvalidOperation:
            pass
        if isinstance(value, str):
            stamp = dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
            return to_datetime(stamp)
    if isinstance(value, bool) or not isinstance(value, int | float | decimal.Decimal):
        raise ValueError(f"not a timestamp: {value!r}")
    try:
        if isinstance(value, int):
            return EPOCH + dt.timedelta(seconds=value)
        # Through Decimal, so 1.003691 is 3691 microseconds and not 3690.999...
        exact = value if isinstance(value, decimal.Decimal) else decimal.Decimal(repr(value))
        return EPOCH + dt.timedelta(microseconds=int((exact * 1_000_000).to_integral_value()))
    except (OverflowError, decimal.InvalidOperation) as e:
        raise ValueError(f"not a timestamp: {value!r}") from e


def epoch(value: Any) -> float | int:
    """A timestamp as epoch seconds: an int when it has no fraction, as botocore sends it."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return value
    delta = to_datetime(value) - EPOCH
    whole = delta.days * 86400 + delta.seconds
    return whole if not delta.microseconds else (whole * 10**6 + delta.microseconds) / 10**6


def iso8601(value: Any) -> str:
    stamp = to_datetime(value)
    if stamp.microsecond:
        return stamp.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return stamp.strftime("%Y-%m-%dT%H:%M:%SZ")


def formatted(value: Any, form: str) -> Any:
    """`value` in timestampFormat `form` ("unixTimestamp", "iso8601", "rfc822", any case)."""
    form = form.lower()
    if form == "unixtimestamp":
        return epoch(value)
    if form == "rfc822":
        return formatdate(int(epoch(value)), usegmt=True)
    return iso8601(value)
