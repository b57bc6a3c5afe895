"""Concurrency limits: the account limit, with reserved concurrency carved out of it.

`admit` is the pure decision. `Limiter` owns the counters; a lease is taken and released
synchronously on the event loop, so the counters need no lock.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from stratus.errors import TooManyRequests

RESERVED_EXCEEDED = "ReservedFunctionConcurrentInvocationLimitExceeded"
ACCOUNT_EXCEEDED = "ConcurrentInvocationLimitExceeded"


# Once the unreserved pool is this full, a function above its fair share gets no more of it, so
# one hot function cannot starve the others.
CONTENDED = 0.9


@dataclass(frozen=True)
class LimitSnapshot:
    account_limit: int
    reserved_total: int  # sum of every function's reserved concurrency
    unreserved_in_use: int  # in-flight invokes of functions without a reservation
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


class Limiter:
    def __init__(self, account_limit: int) -> None:
        self.account_limit = account_limit
        self._in_use: dict[str, int] = {}
        self._unreserved_in_use = 0
        self._unreserved_active: set[str] = set()
        self.total_in_use = 0

    def in_use(self, function: str) -> int:
        return self._in_use.get(function, 0)

    def running(self) -> dict[str, int]:
        """Concurrent executions now, by function (those running at least one)."""
        return dict(self._in_use)

    @property
    def unreserved_in_use(self) -> int:
        return self._unreserved_in_use

    @contextmanager
    def lease(self, function: str, reserved: int | None, reserved_total: int) -> Iterator[None]:
        self.acquire(function, reserved, reserved_total)
        try:
            yield
        finally:
            self.release(function, reserved)

    def acquire(self, function: str, reserved: int | None, reserved_total: int) -> None:
        """Count one more concurrent execution of `function`, or raise TooManyRequests. The
        invoke path calls this and `release` directly; `lease` wraps the pair."""
        reason = admit(
            LimitSnapshot(
                self.account_limit,
                reserved_total,
                self._unreserved_in_use,
                self._in_use.get(function, 0),
                reserved,
                len(self._unreserved_active) + (function not in self._unreserved_active),
            )
        )
        if reason is not None:
            raise TooManyRequests("Rate Exceeded.", Reason=reason, Type="User")
        self._in_use[function] = self._in_use.get(function, 0) + 1
        self.total_in_use += 1
        if reserved is None:
            self._unreserved_in_use += 1
            self._unreserved_active.add(function)

    def release(self, function: str, reserved: int | None) -> None:
        self.total_in_use -= 1
        left = self._in_use[function] - 1
        if left:
            self._in_use[function] = left
        else:
            del self._in_use[function]
            self._unreserved_active.discard(function)
        if reserved is None:
            self._unreserved_in_use -= 1
