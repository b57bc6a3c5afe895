"""Stratus's own read endpoints for what it meters: the cost report (`/_stratus/cost`, SigV4
like every API) and Prometheus metrics (`/_stratus/metrics`).

The scrape is signed like every API request unless a setting says otherwise, because it names
every function: `STRATUS_METRICS_TOKEN` lets Prometheus send `Authorization: Bearer <token>`
(its `authorization` setting) instead, and `STRATUS_METRICS_PUBLIC=1` serves it to anyone, for
scrapers that can do neither. The gateway leaves this path to `prometheus`, which decides with
`scrape_access` (pure).
"""

from __future__ import annotations

import hmac
import time
from collections.abc import Iterator
from typing import Any, Literal

from aiohttp import web
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from stratus.errors import AccessDenied, InvalidParameterValue
from stratus.frontend.context import ApiContext, ctx
from stratus.frontend.responses import json_response
from stratus.identity.keyring import Caller
from stratus.invoke.service import InvokeService
from stratus.observe.drops import DropsCollector
from stratus.observe.metrics import Bucket, Metrics
from stratus.wire import authn


def cost_report(context: ApiContext, since: int, by: str) -> dict[str, Any]:
    config = context.config
    rows = []
    total = 0.0
    for usage in context.metrics.usage(since, by):
        requests_cost = usage.requests / 1_000_000 * config.price_per_million_requests
        compute_cost = usage.gb_seconds * config.price_per_gb_second
        total += requests_cost + compute_cost
        rows.append(
            {
                by: usage.key,
                "requests": usage.requests,
                "billedMs": usage.billed_ms,
                "gbSeconds": round(usage.gb_seconds, 9),
                "requestCost": round(requests_cost, 10),
                "computeCost": round(compute_cost, 10),
                "cost": round(requests_cost + compute_cost, 10),
            }
        )
    return {
        "since": since,
        "by": by,
        "prices": {
            "perMillionRequests": config.price_per_million_requests,
            "perGbSecond": config.price_per_gb_second,
        },
        "rows": rows,
        "totalCost": round(total, 10),
    }


async def cost(request: web.Request) -> web.StreamResponse:
    by = request.query.get("by", "function")
    if by not in ("function", "day"):
        raise InvalidParameterValue("by must be function or day.")
    try:
        since = int(request.query.get("since", "0"))
    except ValueError:
        raise InvalidParameterValue("since must be epoch seconds.") from None
    if since < 0 or since > time.time() + 86400:
        raise InvalidParameterValue("since is out of range.")
    _may_read_metrics(request, request.get("caller"), str(request.get("region", "us-east-1")))
    return json_response(cost_report(ctx(request), since, by))


# Stratus's own endpoints are read as CloudWatch metrics are: a caller other than root needs
# cloudwatch:GetMetricData.
METRICS_ACTION = "cloudwatch:GetMetricData"


def _may_read_metrics(request: web.Request, caller: object, region: str) -> None:
    if not isinstance(caller, Caller):
        raise AccessDenied("The request was not signed.")
    ctx(request).authorizer.check(caller, METRICS_ACTION, "*", region=region)


class _Totals(Collector):
    def __init__(self, metrics: Metrics, invoker: InvokeService) -> None:
        self._metrics = metrics
        self._invoker = invoker

    def collect(self) -> Iterator[Any]:
        def counter(name: str, text: str) -> CounterMetricFamily:
            return CounterMetricFamily(name, text, labels=["function"])

        families = {
            "invocations": counter("stratus_invocations", "Invocations"),
            "errors": counter("stratus_errors", "Invocations that failed"),
            "throttles": counter("stratus_throttles", "Invokes refused by concurrency limits"),
            "cold_starts": counter("stratus_cold_starts", "Invocations that started an environment"),
            "billed_ms": counter("stratus_billed_milliseconds", "Billed duration, init included"),
        }
        duration = counter("stratus_duration_milliseconds", "Summed invocation duration")
        gb = counter("stratus_gb_seconds", "Metered GB-seconds")
        maximum = GaugeMetricFamily(
            "stratus_duration_max_milliseconds", "Longest invocation since start", labels=["function"]
        )
        # By name, every region's together: the labels stay what they were before regions.
        by_name: dict[str, Bucket] = {}
        for key, total in sorted(self._metrics.totals.items()):
            by_name.setdefault(key.name, Bucket()).merge(total)
        for function, bucket in sorted(by_name.items()):
            for name, family in families.items():
                family.add_metric([function], getattr(bucket, name))
            duration.add_metric([function], bucket.duration_sum)
            gb.add_metric([function], bucket.gb_ms / 1000)
            maximum.add_metric([function], bucket.duration_max)
        yield from families.values()
        yield duration
        yield gb
        yield maximum
        yield _gauge(
            "stratus_concurrent_executions", "Invocations running now", self._invoker.limiter.running()
        )
        yield _gauge("stratus_environments", "Execution environments alive now", self._invoker.environments())


class _QueueDepth(Collector):
    """The async queue's depth, read on the queue's own thread before the scrape is built (its
    connection belongs to that thread), so the collector only reports it."""

    def __init__(self, depth: int) -> None:
        self._depth = depth

    def collect(self) -> Iterator[GaugeMetricFamily]:
        yield GaugeMetricFamily(
            "stratus_async_queue_depth", "Asynchronous events accepted and not yet settled", value=self._depth
        )


def _gauge(name: str, text: str, values: dict[str, int]) -> GaugeMetricFamily:
    """A gauge by function name. The limiter counts per `region:name` (a FunctionKey's string;
    names hold no ':'): every region's executions of a name are summed, as the counters are."""
    by_name: dict[str, int] = {}
    for function, value in values.items():
        name_only = function.rsplit(":", 1)[-1]
        by_name[name_only] = by_name.get(name_only, 0) + value
    family = GaugeMetricFamily(name, text, labels=["function"])
    for function, value in sorted(by_name.items()):
        family.add_metric([function], value)
    return family


ScrapeAccess = Literal["open", "bearer", "wrong-bearer", "no-token-set", "sigv4"]


def scrape_access(public: bool, token: str | None, authorization: str | None) -> ScrapeAccess:
    """What a scrape with this Authorization header gets: "open" and "bearer" are served,
    "sigv4" must pass the signature check, the others are refused."""
    if public:
        return "open"
    scheme, _, given = (authorization or "").strip().partition(" ")
    if scheme.lower() != "bearer":
        return "sigv4"
    if token is None:
        return "no-token-set"
    return "bearer" if hmac.compare_digest(given.strip().encode(), token.encode()) else "wrong-bearer"


async def prometheus(request: web.Request) -> web.StreamResponse:
    context = ctx(request)
    config = context.config
    access = scrape_access(config.metrics_public, config.metrics_token, request.headers.get("Authorization"))
    if access == "wrong-bearer":
        raise AccessDenied("The bearer token is not this server's STRATUS_METRICS_TOKEN.")
    if access == "no-token-set":
        raise AccessDenied(
            "No STRATUS_METRICS_TOKEN is set on this server: sign the scrape with SigV4, or set a "
            "token (or STRATUS_METRICS_PUBLIC=1)."
        )
    if access == "sigv4":
        # No service's declaration covers this path: the signature alone is checked.
        identity = authn.verify(request, await request.read(), context.keyring.resolve, ())
        _may_read_metrics(request, identity.caller, identity.region)
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Totals(context.metrics, context.invoker))
    registry.register(_QueueDepth(await context.async_invoker.depth()))
    registry.register(DropsCollector(context.logs.drops, context.metrics.drops))
    return web.Response(body=generate_latest(registry), content_type="text/plain", charset="utf-8")


def register(app: web.Application) -> None:
    app.router.add_get("/_stratus/cost", cost)
    app.router.add_get("/_stratus/metrics", prometheus)
