"""The dashboard login's back-off (stratus/dashboard/throttle.py) on a virtual clock."""

from __future__ import annotations

from stratus.dashboard.throttle import (
    Backoff,
    Failures,
    LoginThrottle,
    after_failure,
    client_key,
    retry_after_header,
    wait_s,
)

POLICY = Backoff(free=5, base_s=1.0, cap_s=300.0, forget_s=3600.0)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_five_failures_are_free_then_each_one_doubles_the_wait() -> None:
    failures = None
    for _ in range(4):
        failures = after_failure(failures, 10.0, POLICY)
        assert wait_s(failures, 10.0, POLICY) == 0.0
    waits = []
    for _ in range(6):
        failures = after_failure(failures, 10.0, POLICY)
        waits.append(wait_s(failures, 10.0, POLICY))
    assert waits == [1.0, 2.0, 4.0, 8.0, 16.0, 32.0]
    assert wait_s(failures, 30.0, POLICY) == 12.0  # the wait runs from the last failure
    assert wait_s(failures, 42.0, POLICY) == 0.0


def test_the_wait_is_capped_and_a_count_is_forgotten() -> None:
    many = Failures(count=10_000, last=0.0)  # no overflow, however many
    assert wait_s(many, 0.0, POLICY) == 300.0
    assert wait_s(many, 3599.0, POLICY) == 0.0
    assert after_failure(many, 3600.0, POLICY) == Failures(1, 3600.0)  # forgotten: starts again
    assert after_failure(many, 100.0, POLICY) == Failures(10_001, 100.0)


def test_the_throttle_counts_per_client_and_for_everyone() -> None:
    clock = Clock()
    everyone = Backoff(free=8, base_s=10.0, cap_s=60.0, forget_s=600.0)
    throttle = LoginThrottle(clock, per_client=POLICY, everyone=everyone)
    for _ in range(5):
        throttle.failed("192.0.2.7")
    assert throttle.wait_s("192.0.2.7") == 1.0
    assert throttle.wait_s("192.0.2.8") == 0.0  # another client is not held up by this one
    clock.now += 1.0
    assert throttle.wait_s("192.0.2.7") == 0.0
    throttle.succeeded("192.0.2.7")
    throttle.failed("192.0.2.7")
    assert throttle.wait_s("192.0.2.7") == 0.0  # a success cleared its count
    # Guesses spread over addresses: the global count holds them all up.
    for i in range(2):
        throttle.failed(f"198.51.100.{i}")
    assert throttle.wait_s("203.0.113.1") == 10.0
    clock.now += 10.0
    assert throttle.wait_s("203.0.113.1") == 0.0


def test_the_throttle_remembers_a_bounded_number_of_clients() -> None:
    clock = Clock()
    throttle = LoginThrottle(clock, per_client=POLICY, max_clients=2)
    for address in ("192.0.2.1", "192.0.2.2", "192.0.2.3"):
        for _ in range(5):
            throttle.failed(address)
    assert throttle.wait_s("192.0.2.1") == 0.0  # the oldest was dropped
    assert throttle.wait_s("192.0.2.3") == 1.0


def test_clients_are_counted_by_address_and_ipv6_by_their_64() -> None:
    assert client_key("192.0.2.1") == "192.0.2.1"
    assert client_key("::ffff:192.0.2.1") == "192.0.2.1"
    assert client_key("2001:db8:1:2::1") == client_key("2001:db8:1:2:ffff::9") == "2001:db8:1:2::/64"
    assert client_key("2001:db8:1:3::1") != client_key("2001:db8:1:2::1")
    assert client_key(None) == "?" and client_key("weird") == "weird"


def test_retry_after_rounds_up_to_whole_seconds() -> None:
    assert retry_after_header(0.2) == "1" and retry_after_header(1.0) == "1"
    assert retry_after_header(1.01) == "2" and retry_after_header(299.5) == "300"
