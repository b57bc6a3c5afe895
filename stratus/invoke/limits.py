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


@dataclass(frozen=True)
class LimitSnapshot:
    account_limit: int
    reserved_total: int  # sum of every function's reserved concurrency
    unreserved_in_use: int  # in-flight invokes of functions without a reservation
    function_in_use: int
    function_reserved: int | None


def admit(s: LimitSnapshot) -> str | None:
    """None if one more invoke may run, else the throttle reason Lambda reports."""
    if s.function_reserved is not None:
        return RESERVED_EXCEEDED if s.function_in_use >= s.function_reserved else None
    if s.unreserved_in_use >= s.account_limit - s.reserved_total:
        return ACCOUNT_EXCEEDED
    return None


def unreserved_limit(account_limit: int, reserved: dict[str, int]) -> int:
    return account_limit - sum(reserved.values())


class Limiter:
    def __init__(self, account_limit: int) -> None:
        self.account_limit = account_limit
        self._in_use: dict[str, int] = {}
        self._unreserved_in_use = 0

    def in_use(self, function: str) -> int:
        return self._in_use.get(function, 0)

    @property
    def total_in_use(self) -> int:
        return sum(self._in_use.values())

    @contextmanager
    def lease(self, function: str, reserved: int | None, reserved_total: int) -> Iterator[None]:
        reason = admit(
            LimitSnapshot(
                self.account_limit,
                reserved_total,
                self._unreserved_in_use,
                self._in_use.get(function, 0),
                reserved,
            )
        )
        if reason is not None:
            raise TooManyRequests("Rate Exceeded.", Reason=reason, Type="User")
        self._in_use[function] = self._in_use.get(function, 0) + 1
        counted_unreserved = reserved is None
        if counted_unreserved:
            self._unreserved_in_use += 1
        try:
            yield
        finally:
            left = self._in_use[function] - 1
            if left:
                self._in_use[function] = left
            else:
                del self._in_use[function]
            if counted_unreserved:
                self._unreserved_in_use -= 1
