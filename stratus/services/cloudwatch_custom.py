"""CloudWatch's custom metrics: PutMetricData into any namespace but AWS's own, and the reads of
them (GetMetricStatistics, GetMetricData, ListMetrics) that `cloudwatch.py` sends here for every
namespace but `AWS/Lambda`. Storage is `observe/custom_metrics.py`."""

from __future__ import annotations

import datetime as dt
import math
import time
from typing import Any

from stratus.errors import ClientError
from stratus.observe.custom_metrics import CustomMetrics, Datum, Series, StatSet
from stratus.observe.metrics import percentile

MAX_DATA = 1000  # MetricData entries in one PutMetricData
MAX_DIMENSIONS = 30
PAST_S = 14 * 86400  # how old a published timestamp may be
FUTURE_S = 2 * 3600  # how far ahead
STATISTICS = ("SampleCount", "Average", "Sum", "Minimum", "Maximum")


# CloudWatch's errors, for both its Lambda metrics (cloudwatch.py) and these.
class InvalidParameterValue(ClientError):
    code = "InvalidParameterValue"


class MissingParameter(ClientError):
    code = "MissingParameter"


class InvalidParameterCombination(ClientError):
    code = "InvalidParameterCombination"


def _finite(value: Any, where: str) -> float:
    number = float(value)
    if not math.isfinite(number):
        raise InvalidParameterValue(f"The value {value} for parameter {where} is invalid.")
    return number


def _stats(datum: dict[str, Any], where: str) -> StatSet:
    given = [k for k in ("Value", "StatisticValues", "Values") if datum.get(k) is not None]
    if not given:
        raise MissingParameter(
            f"At least one of the parameters {where}.Value, {where}.StatisticValues or {where}.Values "
            "must be specified."
        )
    if len(given) > 1:
        raise InvalidParameterCombination(
            f"The parameters {where}.{given[0]} and {where}.{given[1]} are mutually exclusive."
        )
    stats = StatSet()
    if "Value" in given:
        value = _finite(datum["Value"], f"{where}.Value")
        stats.add(1, value, value, value, [value])
    elif "StatisticValues" in given:
        s = datum["StatisticValues"]
        count = _finite(s["SampleCount"], f"{where}.StatisticValues.SampleCount")
        if count <= 0:
            raise InvalidParameterValue(
                f"The parameter {where}.StatisticValues.SampleCount must be greater than 0."
            )
        low, high = _finite(s["Minimum"], where), _finite(s["Maximum"], where)
        if low > high:
            raise InvalidParameterValue(
                f"The parameter {where}.StatisticValues.Minimum must not exceed Maximum."
            )
        stats.add(count, _finite(s["Sum"], where), low, high, [])
    else:
        values = [_finite(v, f"{where}.Values") for v in datum["Values"]]
        counts = [_finite(c, f"{where}.Counts") for c in datum.get("Counts") or [1.0] * len(values)]
        if len(counts) != len(values):
            raise InvalidParameterValue(
                f"The parameters {where}.Values and {where}.Counts must be of the same size."
            )
        if values:
            stats.add(
                sum(counts),
                sum(v * c for v, c in zip(values, counts, strict=True)),
                min(values),
                max(values),
                values,
            )
    return stats


def _epoch(value: dt.datetime | float) -> float:
    return value.timestamp() if isinstance(value, dt.datetime) else float(value)


async def put_metric_data(custom: CustomMetrics, params: dict[str, Any], region: str) -> dict[str, Any]:
    """PutMetricData: the data go to the request's region, where alone they are read back."""
    namespace = str(params["Namespace"])
    if namespace.startswith("AWS/"):
        raise InvalidParameterValue(f"The value {namespace} for parameter Namespace is invalid.")
    entries = params.get("MetricData") or []
    if len(entries) > MAX_DATA:
        raise InvalidParameterValue(
            f"The collection MetricData must not have a size greater than {MAX_DATA}."
        )
    now = time.time()
    data = []
    for i, datum in enumerate(entries, 1):
        where = f"MetricData.member.{i}"
        dims = {str(d["Name"]): str(d["Value"]) for d in datum.get("Dimensions") or []}
        if len(dims) > MAX_DIMENSIONS:
            raise InvalidParameterValue(
                f"The collection {where}.Dimensions must not have more than 30 items."
            )
        stamp = _epoch(datum["Timestamp"]) if datum.get("Timestamp") is not None else now
        if stamp < now - PAST_S or stamp > now + FUTURE_S:
            raise InvalidParameterValue(
                f"The parameter {where}.Timestamp must specify a time no more than two weeks in the past "
                "and no more than two hours in the future."
            )
        stats = _stats(datum, where)
        minute = int(stamp) // 60 * 60
        data.append(
            Datum(namespace, str(datum["MetricName"]), dims, minute, datum.get("Unit") or "None", stats)
        )
    await custom.put(region, data)
    return {}


def quantile(stat: str) -> float:
    """The quantile an extended statistic names (`p99` -> 0.99), CloudWatch's error if none."""
    try:
        q = float(stat[1:]) / 100
    except ValueError:
        raise InvalidParameterValue(f"Unknown statistic {stat}.") from None
    if not 0 <= q <= 1:
        raise InvalidParameterValue(f"Unknown statistic {stat}.")
    return q


def _stat(stats: StatSet, stat: str) -> float | None:
    if not stats.count:
        return None
    if stat.startswith("p"):
        return percentile(stats.kept, quantile(stat))  # None without samples: nothing made up
    return (
        {
            "SampleCount": stats.count,
            "Sum": stats.total,
            "Average": stats.total / stats.count,
            "Minimum": stats.low,
            "Maximum": stats.high,
        }.get(stat)
        if stat in STATISTICS
        else _unknown(stat)
    )


def _unknown(stat: str) -> float:
    raise InvalidParameterValue(f"Unknown statistic {stat}.")


async def windows(
    custom: CustomMetrics, region: str, series: Series, start: int, end: int, period: int
) -> list[tuple[int, str, StatSet]]:
    """(period start, unit, merged statistics) of a series of `region` over [start, end),
    oldest first."""
    merged: dict[int, tuple[str, StatSet]] = {}
    for minute, unit, stats in await custom.minutes(region, series, start, end):
        slot = start + (minute - start) // period * period
        _, held = merged.setdefault(slot, (unit, StatSet()))
        held.merge(stats)
    return [(slot, unit, stats) for slot, (unit, stats) in sorted(merged.items())]


def statistic(stats: StatSet, stat: str) -> float | None:
    return _stat(stats, stat)


async def listed(custom: CustomMetrics, params: dict[str, Any], region: str) -> list[dict[str, Any]]:
    """ListMetrics over `region`'s published series with data in the last two weeks."""
    namespace, name = params.get("Namespace"), params.get("MetricName")
    wanted = [(d.get("Name"), d.get("Value")) for d in params.get("Dimensions") or []]
    out = []
    for series in await custom.series(region, int(time.time()) - PAST_S):
        if namespace not in (None, series.namespace) or name not in (None, series.name):
            continue
        if not all(k in series.dimensions and v in (None, "", series.dimensions[k]) for k, v in wanted):
            continue
        out.append(
            {
                "Namespace": series.namespace,
                "MetricName": series.name,
                "Dimensions": [{"Name": k, "Value": v} for k, v in sorted(series.dimensions.items())],
            }
        )
    return out
