from __future__ import annotations

import pytest

from stratus.control.keys import FunctionKey
from stratus.errors import TooManyRequests
from stratus.invoke.limits import (
    ACCOUNT_EXCEEDED,
    RESERVED_EXCEEDED,
    Limiter,
    LimitSnapshot,
    admit,
    unreserved_limit,
)


def east(name: str) -> FunctionKey:
    return FunctionKey("us-east-1", name)


def west(name: str) -> FunctionKey:
    return FunctionKey("eu-west-1", name)


def snap(
    *,
    account: int = 10,
    reserved_total: int = 0,
    unreserved: int = 0,
    fn_in_use: int = 0,
    fn_reserved: int | None = None,
) -> LimitSnapshot:
    return LimitSnapshot(account, reserved_total, unreserved, fn_in_use, fn_reserved)


# -- admit -----------------------------------------------------------------------------------


def test_unreserved_below_account_limit() -> None:
    assert admit(snap(unreserved=9, fn_in_use=9)) is None


def test_unreserved_at_account_limit() -> None:
    assert admit(snap(unreserved=10, fn_in_use=3)) == ACCOUNT_EXCEEDED


def test_unreserved_pool_shrinks_by_reservations() -> None:
    assert admit(snap(reserved_total=4, unreserved=5)) is None
    assert admit(snap(reserved_total=4, unreserved=6)) == ACCOUNT_EXCEEDED


def test_reserved_below_its_reservation() -> None:
    # Reserved functions do not compete with unreserved ones, however busy those are.
    assert admit(snap(reserved_total=4, unreserved=6, fn_in_use=3, fn_reserved=4)) is None


def test_reserved_at_its_reservation() -> None:
    assert admit(snap(reserved_total=4, fn_in_use=4, fn_reserved=4)) == RESERVED_EXCEEDED


def test_reserved_zero_throttles_everything() -> None:
    assert admit(snap(reserved_total=0, fn_reserved=0)) == RESERVED_EXCEEDED


def test_everything_reserved_leaves_nothing_unreserved() -> None:
    assert admit(snap(account=5, reserved_total=5)) == ACCOUNT_EXCEEDED


def test_unreserved_limit() -> None:
    assert unreserved_limit(1000, {}) == 1000
    assert unreserved_limit(1000, {"a": 100, "b": 50}) == 850


# -- Limiter ---------------------------------------------------------------------------------


def test_lease_counts_and_releases() -> None:
    limiter = Limiter(10)
    with limiter.lease(east("a"), None, 0):
        assert limiter.in_use(east("a")) == 1
        with limiter.lease(east("a"), None, 0), limiter.lease(east("b"), 2, 2):
            assert limiter.in_use(east("a")) == 2
            assert limiter.in_use(east("b")) == 1
            assert limiter.total_in_use == 3
        assert limiter.in_use(east("a")) == 1
        assert limiter.in_use(east("b")) == 0
    assert limiter.total_in_use == 0


def test_lease_released_on_exception() -> None:
    limiter = Limiter(1)
    with pytest.raises(RuntimeError), limiter.lease(east("a"), None, 0):
        assert limiter.in_use(east("a")) == 1
        raise RuntimeError("boom")
    assert limiter.in_use(east("a")) == 0
    assert limiter.total_in_use == 0
    with limiter.lease(east("a"), None, 0):  # the slot is free again
        pass


def test_reserved_lease_released_on_exception() -> None:
    limiter = Limiter(10)
    with pytest.raises(ValueError), limiter.lease(east("r"), 1, 1):
        raise ValueError
    with limiter.lease(east("r"), 1, 1):
        assert limiter.in_use(east("r")) == 1


def test_reserved_limit_throttles_with_reason() -> None:
    limiter = Limiter(10)
    with limiter.lease(east("r"), 2, 2), limiter.lease(east("r"), 2, 2):
        with pytest.raises(TooManyRequests) as info, limiter.lease(east("r"), 2, 2):
            pass
        assert info.value.extra == {"Reason": RESERVED_EXCEEDED, "Type": "User"}
        assert info.value.status == 429
        assert limiter.in_use(east("r")) == 2  # a refused lease takes nothing


def test_account_limit_throttles_with_reason() -> None:
    limiter = Limiter(3)
    with limiter.lease(east("a"), None, 1), limiter.lease(east("b"), None, 1):
        with pytest.raises(TooManyRequests) as info, limiter.lease(east("c"), None, 1):
            pass
        assert info.value.extra["Reason"] == ACCOUNT_EXCEEDED
        assert limiter.in_use(east("c")) == 0
        # The reserved function still has its own capacity.
        with limiter.lease(east("r"), 1, 1):
            assert limiter.total_in_use == 3


def test_reserved_invokes_do_not_count_against_unreserved() -> None:
    limiter = Limiter(2)
    with limiter.lease(east("r"), 1, 1), limiter.lease(east("a"), None, 1):
        assert limiter.total_in_use == 2
        with pytest.raises(TooManyRequests), limiter.lease(east("b"), None, 1):
            pass


def test_throttled_lease_after_release_is_admitted() -> None:
    limiter = Limiter(1)
    with limiter.lease(east("a"), None, 0), pytest.raises(TooManyRequests), limiter.lease(east("a"), None, 0):
        pass
    with limiter.lease(east("a"), None, 0):
        assert limiter.in_use(east("a")) == 1


# -- fair share of the unreserved pool ------------------------------------------------------------


def test_fair_share_applies_only_when_the_pool_is_contended() -> None:
    from stratus.invoke.limits import ACCOUNT_EXCEEDED, LimitSnapshot, admit

    # 100 unreserved, 50 in use: no contention, a hot function may take more.
    assert admit(LimitSnapshot(100, 0, 50, 50, None, 2)) is None
    # 95 in use (contended): the hot function holds 90, above its share of 100/2.
    assert admit(LimitSnapshot(100, 0, 95, 90, None, 2)) == ACCOUNT_EXCEEDED
    # ...while a function holding 5 (below its share) still gets a slot.
    assert admit(LimitSnapshot(100, 0, 95, 5, None, 2)) is None
    # A single active function is never limited by fair share, only by the pool.
    assert admit(LimitSnapshot(100, 0, 95, 95, None, 1)) is None
    assert admit(LimitSnapshot(100, 0, 100, 100, None, 1)) == ACCOUNT_EXCEEDED


def test_limiter_keeps_room_for_a_second_function() -> None:
    from contextlib import ExitStack

    from stratus.errors import TooManyRequests
    from stratus.invoke.limits import Limiter

    limiter = Limiter(10)
    with ExitStack() as stack:
        stack.enter_context(limiter.lease(east("other"), None, 0))
        taken = 1
        for _ in range(20):
            try:
                stack.enter_context(limiter.lease(east("hot"), None, 0))
                taken += 1
            except TooManyRequests:
                break
        assert limiter.in_use(east("hot")) < 9  # the hot function stopped short of the whole pool
        stack.enter_context(limiter.lease(east("other"), None, 0))  # the other still gets in


# -- each region its own account limit ------------------------------------------------------------


def test_a_full_region_does_not_throttle_another() -> None:
    """Lambda's account concurrency limit is per region: us-east-1 at its limit leaves
    eu-west-1's whole limit free, and the same name in two regions is counted twice."""
    limiter = Limiter(2)
    with limiter.lease(east("a"), None, 0), limiter.lease(east("b"), None, 0):
        with pytest.raises(TooManyRequests) as info, limiter.lease(east("c"), None, 0):
            pass
        assert info.value.extra["Reason"] == ACCOUNT_EXCEEDED
        with limiter.lease(west("a"), None, 0), limiter.lease(west("c"), None, 0):
            assert limiter.in_use(west("a")) == 1 and limiter.in_use(east("a")) == 1
            assert limiter.region_in_use("eu-west-1") == 2 and limiter.region_in_use("us-east-1") == 2
            assert limiter.total_in_use == 4
            assert limiter.running() == {
                "us-east-1:a": 1,
                "us-east-1:b": 1,
                "eu-west-1:a": 1,
                "eu-west-1:c": 1,
            }
        assert limiter.unreserved_in_use("eu-west-1") == 0 and limiter.unreserved_in_use("us-east-1") == 2
    assert limiter.total_in_use == 0 and limiter.region_in_use("us-east-1") == 0


def test_a_regions_reservations_shrink_only_its_own_pool() -> None:
    limiter = Limiter(3)
    # us-east-1 reserves 2 of its 3: one unreserved slot left there, eu-west-1's 3 untouched.
    with limiter.lease(east("a"), None, 2):
        with pytest.raises(TooManyRequests), limiter.lease(east("b"), None, 2):
            pass
        with (
            limiter.lease(west("a"), None, 0),
            limiter.lease(west("b"), None, 0),
            limiter.lease(west("c"), None, 0),
        ):
            assert limiter.unreserved_in_use("eu-west-1") == 3
