"""Retry and Catch: which retrier or catcher matches (States.ALL never matches States.Runtime,
the first match decides), the backoff, MaxDelaySeconds, MaxAttempts 0 and FULL jitter."""

from __future__ import annotations

import random

import pytest

from stratus.workflows.definition import Catcher, Retrier
from stratus.workflows.errors import StatesError
from stratus.workflows.handling import catcher_for, matches, retry_delay

MATCHING = [
    (["States.ALL"], "Lambda.ServiceException", True),
    (["States.ALL"], "States.TaskFailed", True),
    (["States.ALL"], "States.Timeout", True),
    (["States.ALL"], "States.Runtime", False),
    (["States.ALL"], "States.DataLimitExceeded", False),
    (["States.Runtime"], "States.Runtime", True),
    (["States.TaskFailed"], "CustomError", True),
    (["States.TaskFailed"], "States.Timeout", False),
    (["States.TaskFailed"], "States.Runtime", False),
    (["A", "B"], "B", True),
    (["A", "B"], "b", False),  # error names are case-sensitive
    (["States.Timeout"], "States.TaskFailed", False),
]


@pytest.mark.parametrize(("names", "error", "expected"), MATCHING)
def test_matches(names: list[str], error: str, expected: bool) -> None:
    assert matches(names, error) is expected


RAND = random.Random(0)


def test_backoff_grows_by_the_rate_per_retry_of_that_retrier() -> None:
    retriers = (Retrier(("E",), interval_seconds=3, max_attempts=3, backoff_rate=2.0),)
    error = StatesError("E")
    assert retry_delay(retriers, error, {}, RAND) == (0, 3.0)
    assert retry_delay(retriers, error, {0: 1}, RAND) == (0, 6.0)
    assert retry_delay(retriers, error, {0: 2}, RAND) == (0, 12.0)
    assert retry_delay(retriers, error, {0: 3}, RAND) is None


def test_defaults_are_one_second_three_attempts_rate_two() -> None:
    retriers = (Retrier(("States.ALL",)),)
    delays = []
    attempts: dict[int, int] = {}
    while (decided := retry_delay(retriers, StatesError("X"), attempts, RAND)) is not None:
        delays.append(decided[1])
        attempts[decided[0]] = attempts.get(decided[0], 0) + 1
    assert delays == [1.0, 2.0, 4.0]


def test_max_delay_caps_the_wait() -> None:
    retriers = (Retrier(("E",), interval_seconds=10, max_attempts=5, backoff_rate=3.0, max_delay_seconds=50),)
    assert [retry_delay(retriers, StatesError("E"), {0: n}, RAND) for n in range(3)] == [
        (0, 10.0),
        (0, 30.0),
        (0, 50.0),
    ]


def test_max_attempts_zero_never_retries() -> None:
    assert retry_delay((Retrier(("E",), max_attempts=0),), StatesError("E"), {}, RAND) is None


def test_the_first_matching_retrier_decides_even_when_exhausted() -> None:
    retriers = (Retrier(("E",), max_attempts=1), Retrier(("States.ALL",), max_attempts=5))
    assert retry_delay(retriers, StatesError("E"), {}, RAND) == (0, 1.0)
    assert retry_delay(retriers, StatesError("E"), {0: 1}, RAND) is None
    assert retry_delay(retriers, StatesError("Other"), {0: 1}, RAND) == (1, 1.0)


def test_states_runtime_is_not_retried_by_states_all() -> None:
    assert retry_delay((Retrier(("States.ALL",)),), StatesError("States.Runtime"), {}, RAND) is None


def test_full_jitter_draws_from_zero_to_the_delay_with_the_injected_random() -> None:
    retriers = (Retrier(("E",), interval_seconds=8, max_attempts=10, backoff_rate=2.0, jitter="FULL"),)
    draws = [retry_delay(retriers, StatesError("E"), {0: 2}, random.Random(seed)) for seed in range(200)]
    seconds = [d[1] for d in draws if d is not None]
    assert len(seconds) == 200 and all(0.0 <= s <= 32.0 for s in seconds)
    assert min(seconds) < 8.0 and max(seconds) > 24.0  # spread over the range, not the fixed 32
    assert retry_delay(retriers, StatesError("E"), {0: 2}, random.Random(5)) == retry_delay(
        retriers, StatesError("E"), {0: 2}, random.Random(5)
    )


def test_catcher_for_takes_the_first_match() -> None:
    catchers = (
        Catcher(("A",), "HandleA"),
        Catcher(("States.TaskFailed",), "HandleTask"),
        Catcher(("States.ALL",), "HandleAll", None),
    )
    assert catcher_for(catchers, StatesError("A")).next == "HandleA"  # type: ignore[union-attr]
    assert catcher_for(catchers, StatesError("B")).next == "HandleTask"  # type: ignore[union-attr]
    assert catcher_for(catchers, StatesError("States.Timeout")).next == "HandleAll"  # type: ignore[union-attr]
    assert catcher_for(catchers, StatesError("States.Runtime")) is None
    assert catcher_for((), StatesError("A")) is None
