"""CloudWatch metrics, the subset that reads Lambda's function metrics: ListMetrics,
GetMetricStatistics and GetMetricData over the `AWS/Lambda` namespace, declared as `SERVICE`
in both protocols its clients speak: JSON (`X-Amz-Target: GraniteServiceVersion20100801.*`,
what boto3 sends) and query (forms signed for "monitoring": the AWS CLI v2 as Debian ships it,
the Go SDK under Grafana). The model checks required members, types and enums at the edge;
the handlers check what it cannot (periods, windows, statistics, Lambda's dimensions).

Metrics come from the per-minute buckets of `observe.metrics`: Lambda's invocation,
performance, concurrency and asynchronous-invocation metrics (`METRICS`), plus ColdStarts and
InitDuration. Dimensions are none (the whole account), `FunctionName`, or `FunctionName` with
`Resource` (`name:version` or `name:alias`), as Lambda publishes them.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass
from typing import Any

from stratus.observe.custom_metrics import CustomMetrics, Series
from stratus.observe.metrics import ACCOUNT, Bucket, Metrics, percentile
from stratus.services import cloudwatch_custom as custom
from stratus.services.cloudwatch_custom import InvalidParameterValue, MissingParameter
from stratus.wire.service import Handler, Service
from stratus.wire.signing import Signing


@dataclass(frozen=True)
class CloudWatchContext:
    """What the CloudWatch handlers read: the per-minute metric buckets, and the metrics code
    publishes itself (PutMetricData)."""

    metrics: Metrics
    custom: CustomMetrics


TARGET_PREFIX = "GraniteServiceVersion20100801"
NAMESPACE = "AWS/Lambda"
# name -> (unit, how it reads from a merged minute bucket; see `_observe`)
METRICS: dict[str, tuple[str, str]] = {
    "Invocations": ("Count", "count"),
    "Errors": ("Count", "count"),
    "Throttles": ("Count", "count"),
    "ColdStarts": ("Count", "count"),
    "Duration": ("Milliseconds", "timing"),
    "InitDuration": ("Milliseconds", "timing"),
    "ConcurrentExecutions": ("Count", "gauge"),
    "UnreservedConcurrentExecutions": ("Count", "gauge"),
    "ProvisionedConcurrentExecutions": ("Count", "gauge"),
    "ProvisionedConcurrencyUtilization": ("None", "gauge"),
    "ProvisionedConcurrencyInvocations": ("Count", "count"),
    "ProvisionedConcurrencySpilloverInvocations": ("Count", "count"),
    "AsyncEventsReceived": ("Count", "count"),
    "AsyncEventAge": ("Milliseconds", "timing"),
    "AsyncEventsDropped": ("Count", "count"),
    "DestinationDeliveryFailures": ("Count", "count"),
    "DeadLetterErrors": ("Count", "count"),
    "RecursiveInvocationsDropped": ("Count", "count"),
    "IteratorAge": ("Milliseconds", "timing"),
}
# Counts and the sample each is a share of: Errors out of invocations, and so on. The others
# count events of their own (each a sample of 1).
COUNTS = {
    "Invocations": ("invocations", "invocations"),
    "Errors": ("errors", "invocations"),
    "ColdStarts": ("cold_starts", "invocations"),
    "Throttles": ("throttles", "throttles"),
    "ProvisionedConcurrencyInvocations": ("provisioned_invocations", "provisioned_invocations"),
    "ProvisionedConcurrencySpilloverInvocations": ("spillover_invocations", "spillover_invocations"),
    "AsyncEventsReceived": ("async_received", "async_received"),
    "AsyncEventsDropped": ("async_dropped", "async_dropped"),
    "DestinationDeliveryFailures": ("destination_failures", "destination_failures"),
    "DeadLetterErrors": ("dead_letter_errors", "dead_letter_errors"),
    "RecursiveInvocationsDropped": ("recursive_dropped", "recursive_dropped"),
}
# Gauges are kept as each minute's peak, which every statistic of a period then reports: the
# Maximum is exact, the others are the peak too.
ACCOUNT_ONLY = {"UnreservedConcurrentExecutions"}
ACCOUNT_GAUGES = {"ConcurrentExecutions", "UnreservedConcurrentExecutions"}
STATISTICS = ("SampleCount", "Average", "Sum", "Minimum", "Maximum")
MAX_DATAPOINTS = 1440


def _require(params: dict[str, Any], key: str) -> Any:
    """For members the model leaves optional but these operations need (a query's metric)."""
    if params.get(key) in (None, "", []):
        raise MissingParameter(f"The parameter {key} is required.")
    return params[key]


def _epoch(value: dt.datetime | float) -> float:
    # The protocols parse timestamps as boto3 takes them (aware datetimes); numbers pass too.
    return value.timestamp() if isinstance(value, dt.datetime) else float(value)


def _stamp(epoch: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(epoch, dt.UTC)


def _dimensions(value: list[dict[str, str]] | None) -> dict[str, str]:
    if value is None:
        return {}
    dims = {str(d["Name"]): str(d.get("Value", "")) for d in value}
    unknown = set(dims) - {"FunctionName", "Resource"}
    if unknown:
        raise InvalidParameterValue(f"Unknown dimensions for {NAMESPACE}: {', '.join(sorted(unknown))}.")
    return dims


def aligned_start(start: float, now: float) -> int:
    """The start of the first period, as CloudWatch rounds a query's StartTime: down to the
    minute when it is under 15 days ago, to five minutes up to 63 days, to the hour beyond;
    periods then follow from it, so datapoints fall on whole minutes, not on the seconds a
    caller's start happened to have."""
    age = now - start
    step = 60 if age < 15 * 86400 else 300 if age < 63 * 86400 else 3600
    return int(start) // step * step


def _window(params: dict[str, Any]) -> tuple[int, int, int]:
    start = aligned_start(_epoch(params["StartTime"]), time.time())
    end = _epoch(params["EndTime"])
    period = params["Period"]
    if end <= start:
        raise InvalidParameterValue("The parameter EndTime must be greater than StartTime.")
    if period < 60 or period % 60:
        raise InvalidParameterValue("The parameter Period must be a multiple of 60.")
    if (end - start) / period > MAX_DATAPOINTS:
        raise InvalidParameterValue(
            f"You have requested up to {int((end - start) / period)} datapoints, which exceeds the limit of "
            f"{MAX_DATAPOINTS}. You may reduce the datapoints requested by increasing Period, or decreasing "
            "the time range."
        )
    return start, int(end), period


def _buckets(
    ctx: CloudWatchContext, region: str, metric: str, dims: dict[str, str], start: int, end: int
) -> list[tuple[int, Bucket]]:
    """The stored minutes a metric reads, in the request's region only (CloudWatch is regional,
    and so are Lambda's functions and the account's concurrency)."""
    function = dims.get("FunctionName")
    resource = dims.get("Resource")
    if not dims and metric in ACCOUNT_GAUGES:
        rows = ctx.metrics.minutes(region, *ACCOUNT, start, end)
    elif metric in ACCOUNT_ONLY:
        return []
    elif resource is not None:
        if function is None or not resource.startswith(function + ":"):
            return []
        qualifier = resource[len(function) + 1 :]
        rows = ctx.metrics.minutes(region, function, qualifier, start, end)
        rows += ctx.metrics.minutes(region, function, f"alias:{qualifier}", start, end)
    else:
        rows = ctx.metrics.minutes(region, function, None, start, end)
        rows = [r for r in rows if not r[1].startswith("alias:")]
    return [(minute, bucket) for _, _, minute, bucket in rows]


def _aggregate(rows: list[tuple[int, Bucket]], start: int, period: int) -> dict[int, Bucket]:
    windows: dict[int, Bucket] = {}
    for minute, bucket in rows:
        slot = start + (minute - start) // period * period
        windows.setdefault(slot, Bucket()).merge(bucket)
    return windows


def _observe(metric: str, b: Bucket) -> tuple[int, float, float, float, list[float]]:
    """(samples, sum, minimum, maximum, sampled values) of one metric in a merged bucket."""
    if metric in COUNTS:
        field, basis = COUNTS[metric]
        hits, count = getattr(b, field), getattr(b, basis)
        return count, float(hits), (0.0 if hits < count else 1.0), (1.0 if hits else 0.0), []
    if metric == "Duration":
        low = min(b.durations) if b.durations else 0.0
        return b.invocations, b.duration_sum, low, b.duration_max, b.durations
    if metric == "InitDuration":
        return b.cold_starts, b.init_ms_sum, b.init_ms_min, b.init_ms_max, []
    if metric == "AsyncEventAge":
        return b.async_age_count, b.async_age_sum, b.async_age_min, b.async_age_max, []
    if metric == "IteratorAge":
        return b.iterator_age_count, b.iterator_age_sum, b.iterator_age_min, b.iterator_age_max, []
    if metric == "ProvisionedConcurrencyUtilization":
        peak = b.provisioned_max / b.provisioned_alloc if b.provisioned_alloc else 0.0
        return int(b.provisioned_alloc > 0), peak, peak, peak, []
    peak = float(
        {
            "ConcurrentExecutions": b.concurrent_max,
            "UnreservedConcurrentExecutions": b.unreserved_max,
            "ProvisionedConcurrentExecutions": b.provisioned_max,
        }[metric]
    )
    return int(peak > 0), peak, peak, peak, []


def _stat(metric: str, bucket: Bucket, stat: str) -> float | None:
    """One statistic of one metric over a merged bucket (None: no data for it)."""
    count, total, low, high, samples = _observe(metric, bucket)
    if count == 0:
        return None
    if stat.startswith("p"):
        # Only from samples: a metric without them (counts, gauges, InitDuration) has no
        # percentiles to report, and a made-up one would be a lie.
        return percentile(samples, custom.quantile(stat))
    if stat not in STATISTICS:
        _unknown(stat)
    if METRICS[metric][1] == "gauge":
        return {"SampleCount": float(count)}.get(stat, high)
    return {
        "SampleCount": float(count),
        "Sum": total,
        "Average": total / count,
        "Maximum": high,
        "Minimum": low,
    }[stat]


def _unknown(stat: str) -> float:
    raise InvalidParameterValue(f"Unknown statistic {stat}.")


def _metric_name(params: dict[str, Any]) -> str:
    name = _require(params, "MetricName")  # required by GetMetricStatistics, not by a query's
    namespace = _require(params, "Namespace")
    if namespace != NAMESPACE or name not in METRICS:
        raise InvalidParameterValue(f"Stratus publishes {', '.join(METRICS)} in {NAMESPACE} only.")
    return str(name)


async def get_metric_statistics(
    ctx: CloudWatchContext, params: dict[str, Any], region: str
) -> dict[str, Any]:
    stats = params.get("Statistics") or []
    extended = params.get("ExtendedStatistics") or []
    if not stats and not extended:
        raise MissingParameter(
            "At least one of the parameters Statistics and ExtendedStatistics is required."
        )
    if _require(params, "Namespace") != NAMESPACE:
        return await _custom_statistics(ctx, params, stats, extended, region)
    metric = _metric_name(params)
    start, end, period = _window(params)
    windows = _aggregate(
        _buckets(ctx, region, metric, _dimensions(params.get("Dimensions")), start, end), start, period
    )
    points = []
    for slot, bucket in sorted(windows.items()):
        point: dict[str, Any] = {"Timestamp": _stamp(slot), "Unit": METRICS[metric][0]}
        for stat in stats:
            value = _stat(metric, bucket, stat)
            if value is not None:
                point[stat] = value
        if extended:
            point["ExtendedStatistics"] = {
                s: v for s in extended if (v := _stat(metric, bucket, s)) is not None
            }
        if len(point) > 2:
            points.append(point)
    return {"Label": metric, "Datapoints": points}


def _series(spec: dict[str, Any]) -> Series:
    dims = {str(d["Name"]): str(d.get("Value", "")) for d in spec.get("Dimensions") or []}
    return Series(str(_require(spec, "Namespace")), str(_require(spec, "MetricName")), dims)


async def _custom_statistics(
    ctx: CloudWatchContext, params: dict[str, Any], stats: list[str], extended: list[str], region: str
) -> dict[str, Any]:
    series = _series(params)
    start, end, period = _window(params)
    points = []
    for slot, unit, merged in await custom.windows(ctx.custom, region, series, start, end, period):
        point: dict[str, Any] = {"Timestamp": _stamp(slot), "Unit": unit}
        for stat in stats:
            value = custom.statistic(merged, stat)
            if value is not None:
                point[stat] = value
        if extended:
            point["ExtendedStatistics"] = {
                s: v for s in extended if (v := custom.statistic(merged, s)) is not None
            }
        points.append(point)
    return {"Label": series.name, "Datapoints": points}


async def _custom_query(
    ctx: CloudWatchContext, spec: dict[str, Any], params: dict[str, Any], region: str
) -> tuple[list[dt.datetime], list[float]]:
    start, end, period = _window({**params, "Period": spec["Period"]})
    found = await custom.windows(ctx.custom, region, _series(spec["Metric"]), start, end, period)
    stamps, values = [], []
    for slot, _, merged in reversed(found):  # newest first, as CloudWatch
        value = custom.statistic(merged, spec["Stat"])
        if value is not None:
            stamps.append(_stamp(slot))
            values.append(value)
    return stamps, values


async def put_metric_data(ctx: CloudWatchContext, params: dict[str, Any], region: str) -> dict[str, Any]:
    return await custom.put_metric_data(ctx.custom, params, region)


async def get_metric_data(ctx: CloudWatchContext, params: dict[str, Any], region: str) -> dict[str, Any]:
    queries = params["MetricDataQueries"]
    if len(queries) > 500:  # CloudWatch's documented limit, which its model does not carry
        raise InvalidParameterValue("MetricDataQueries must be a list of at most 500 queries.")
    results = []
    for query in queries:
        if "MetricStat" not in query:
            raise InvalidParameterValue("Only MetricStat queries are supported here; metric math is not.")
        stat_spec = query["MetricStat"]
        metric_spec = stat_spec["Metric"]
        if _require(metric_spec, "Namespace") != NAMESPACE:
            stamps, values = await _custom_query(ctx, stat_spec, params, region)
            label = query.get("Label") or metric_spec["MetricName"]
            results.append(
                {
                    "Id": query["Id"],
                    "Label": label,
                    "Timestamps": stamps,
                    "Values": values,
                    "StatusCode": "Complete",
                }
            )
            continue
        metric = _metric_name(metric_spec)
        start, end, period = _window({**params, "Period": stat_spec["Period"]})
        windows = _aggregate(
            _buckets(ctx, region, metric, _dimensions(metric_spec.get("Dimensions")), start, end),
            start,
            period,
        )
        stamps, values = [], []
        for slot, bucket in sorted(windows.items(), reverse=True):  # newest first, as CloudWatch
            value = _stat(metric, bucket, stat_spec["Stat"])
            if value is not None:
                stamps.append(_stamp(slot))
                values.append(value)
        results.append(
            {
                "Id": query["Id"],
                "Label": query.get("Label") or metric,
                "Timestamps": stamps,
                "Values": values,
                "StatusCode": "Complete",
            }
        )
    return {"MetricDataResults": results, "Messages": []}


async def list_metrics(ctx: CloudWatchContext, params: dict[str, Any], region: str) -> dict[str, Any]:
    namespace = params.get("Namespace")
    published = await custom.listed(ctx.custom, params, region)
    if namespace not in (None, NAMESPACE):
        return {"Metrics": published}
    wanted_name = params.get("MetricName")
    wanted = _dimensions(
        [{"Name": d.get("Name"), "Value": d.get("Value", "")} for d in params.get("Dimensions") or []]
    )
    since = int(time.time()) - 14 * 86400  # CloudWatch lists metrics with data in two weeks
    seen: set[tuple[str, str]] = set()
    for function, dimension, _, _ in ctx.metrics.minutes(region, None, None, since, 1 << 62):
        seen.add((function, dimension))
    dimension_sets: list[list[dict[str, str]]] = [[]] if seen else []
    for function in sorted({f for f, _ in seen}):
        dimension_sets.append([{"Name": "FunctionName", "Value": function}])
    for function, dimension in sorted(seen):
        if dimension != "$LATEST":
            qualifier = dimension.removeprefix("alias:")
            dimension_sets.append(
                [
                    {"Name": "FunctionName", "Value": function},
                    {"Name": "Resource", "Value": f"{function}:{qualifier}"},
                ]
            )
    metrics = []
    for dims in dimension_sets:
        if wanted and not all(
            any(d["Name"] == k and (not v or d["Value"] == v) for d in dims) for k, v in wanted.items()
        ):
            continue
        for name in METRICS:
            if dims and name in ACCOUNT_ONLY:
                continue
            if wanted_name in (None, name):
                metrics.append({"Namespace": NAMESPACE, "MetricName": name, "Dimensions": dims})
    return {"Metrics": metrics + published}


OPERATIONS: dict[str, Handler[CloudWatchContext]] = {
    "PutMetricData": put_metric_data,
    "GetMetricStatistics": get_metric_statistics,
    "GetMetricData": get_metric_data,
    "ListMetrics": list_metrics,
}

SERVICE = Service[CloudWatchContext](
    model="cloudwatch",
    # Forms signed for "monitoring" are its query-protocol requests.
    signing=Signing("monitoring", targets=(TARGET_PREFIX,), query_protocol=True),
    handlers=OPERATIONS,
    # CloudWatch's own codes: a missing member is MissingParameter, any other refusal
    # InvalidParameterValue (as it answers a statistic outside its enum, say).
    validation_error="InvalidParameterValue",
    missing_error="MissingParameter",
    protocols=("json", "query"),
    # Its IAM actions are "cloudwatch:...", and the reference ("Actions, resources, and condition
    # keys for Amazon CloudWatch") gives the metric operations served here no resource type: each
    # is `cloudwatch:<Operation>` on "*", the declaration's default, so there is no table.
    action_prefix="cloudwatch",
)
