"""Concurrency limits: the account limit, with reserved concurrency carved out of it, each
region's own (Lambda's account concurrency is a per-region quota).

`admit` is the pure decision. `Limiter` owns the counters; a lease is taken and released
synchronously on the event loop, so the counters need no lock.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from stratus.control.keys import FunctionKey
from stratus.errors import TooManyRequests

RESERVED_EXCEEDED = "ReservedFunctionConcurrentInvocationLimitExceeded"
ACCOUNT_EXCEEDED = "ConcurrentInvocationLimitExceeded"


# Once the unreserved pool is this full, a function above its fair share gets no more of it, so
# one hot function cannot starve the others.
CONTENDED = 0.9


@dataclass(frozen=True)
class LimitSnapshot:
    account_limit: int
    reserved_total: int  # sum of the region's functions' reserved concurrency
    unreserved_in_use: int  # in-flight invokes of the region's functions without a reservation
    function_in_use: int
    function_reserved: int | None
    active_unreserved_functions: int = 1  # functions without a reservation now running, this included


def admit(s: LimitSnapshot) -> str | None:
    """None if one more invoke may run, else the throttle reason Lambda reports."""
    if s.function_reserved is not None:
        return RESERVED_EXCEEDED if s.function_in_use >= s.function_reserved else None
    pool = s.account_limit - s.reserved_total
    if s.unreserved_in_use >= pool:
        return ACCOUNT_EXCEEDED
    if s.unreserved_in_use >= CONTENDED * pool and s.active_unreserved_functions > 1:
        fair_share = pool / s.active_unreserved_functions
        if s.function_in_use >= fair_share:
            return ACCOUNT_EXCEEDED
    return None


def unreserved_limit(account_limit: int, reserved: dict[str, int]) -> int:
    return account_limit - sum(reserved.values())


@dataclass
class _RegionCounts:
    """One region's share of the counters: Lambda's account concurrency limit, and the
    unreserved pool carved out of it, are per region, so one region's load never throttles
    another's functions."""

    in_use: int = 0
    unreserved_in_use: int = 0
    unreserved_active: set[FunctionKey] = field(default_factory=set)


class Limiter:
    def __init__(self, account_limit: int) -> None:
        self.account_limit = account_limit  # each region's, as on Lambda
        self._in_use: dict[FunctionKey, int] = {}
        self._regions: dict[str, _RegionCounts] = {}
        self.total_in_use = 0  # every region's: what the server runs now

    def in_use(self, function: FunctionKey) -> int:
        return self._in_use.get(function, 0)

    def running(self) -> dict[str, int]:
        """Concurrent executions now, by function (`region:name`; those running at least one)."""
        return {str(key): count for key, count in self._in_use.items()}

    def region_in_use(self, region: str) -> int:
        """Concurrent executions now of one region's functions (its ConcurrentExecutions)."""
        counts = self._regions.get(region)
        return counts.in_use if counts is not None else 0

    def unreserved_in_use(self, region: str) -> int:
        """Concurrent executions now of one region's functions without a reservation."""
        counts = self._regions.get(region)
        return counts.unreserved_in_use if counts is not None else 0

    @contextmanager
    def lease(self, function: FunctionKey, reserved: int | None, reserved_total: int) -> Iterator[None]:
        self.acquire(function, reserved, reserved_total)
        try:
            yield
        finally:
            self.release(function, reserved)

    def acquire(self, function: FunctionKey, reserved: int | None, reserved_total: int) -> None:
        """Count one more concurrent execution of `function`, or raise TooManyRequests.
        `reserved_total` is the sum of the reservations of the function's region. The invoke
        path calls this and `release` directly; `lease` wraps the pair."""
        counts = self._regions.get(function.region) or _RegionCounts()
        active = counts.unreserved_active
        if reserved is None and counts.unreserved_in_use < CONTENDED * (self.account_limit - reserved_total):
            reason = None  # what `admit` decides below the contended mark, without its snapshot
        else:
            reason = admit(
                LimitSnapshot(
                    self.account_limit,
                    reserved_total,
                    counts.unreserved_in_use,
                    self._in_use.get(function, 0),
                    reserved,
                    len(active) + (function not in active),
                )
            )
        if reason is not None:
            raise TooManyRequests("Rate Exceeded.", Reason=reason, Type="User")
        self._regions[function.region] = counts
        self._in_use[function] = self._in_use.get(function, 0) + 1
        self.total_in_use += 1
        counts.in_use += 1
        if reserved is None:
            counts.unreserved_in_use += 1
            active.add(function)

    def release(self, function: FunctionKey, reserved: int | None) -> None:
        counts = self._regions[function.region]
        self.total_in_use -= 1
        counts.in_use -= 1
        left = self._in_use[function] - 1
        if left:
            self._in_use[function] = left
        else:
            del self._in_use[function]
            counts.unreserved_active.discard(function)
        if reserved is None:
            counts.unreserved_in_use -= 1
        if not counts.in_use:  # a region at rest keeps no counters
            del self._regions[function.region]
