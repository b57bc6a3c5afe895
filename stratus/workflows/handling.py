"""Retry and Catch: which retrier or catcher an error matches, and how long to wait before the
next attempt. Pure; the jitter's randomness is an injected Random.

Matching follows AWS's documented rules: an error matches a name it equals; States.ALL matches
every error except States.Runtime and States.DataLimitExceeded (which only their own names
catch); States.TaskFailed matches every error except States.Timeout. The first retrier (or
catcher) in list order whose ErrorEquals matches decides; a retrier that is exhausted does not
hand the error on to a later one.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping

from stratus.workflows.definition import Catcher, Retrier
from stratus.workflows.errors import NOT_MATCHED_BY_ALL, STATES_ALL, TASK_FAILED, TIMEOUT, StatesError


def matches(error_equals: Iterable[str], error: str) -> bool:
    for name in error_equals:
        if name == error:
            return True
        if name == STATES_ALL and error not in NOT_MATCHED_BY_ALL:
            return True
        if name == TASK_FAILED and error != TIMEOUT and error not in NOT_MATCHED_BY_ALL:
            return True
    return False


def retry_delay(
    retriers: tuple[Retrier, ...],
    error: StatesError,
    attempts: Mapping[int, int],
    rand: random.Random,
) -> tuple[int, float] | None:
    """(index of the retrier that matched, seconds to wait before the next attempt), or None
    when no retrier matches or the one that matches has used its MaxAttempts.

    The wait is IntervalSeconds x BackoffRate^(retries this retrier has made), capped by
    MaxDelaySeconds; JitterStrategy FULL draws it uniformly from [0, that wait]."""
    for index, retrier in enumerate(retriers):
        if not matches(retrier.error_equals, error.error):
            continue
        used = attempts.get(index, 0)
        if used >= retrier.max_attempts:
            return None
        delay = retrier.interval_seconds * retrier.backoff_rate**used
        if retrier.max_delay_seconds is not None:
            delay = min(delay, retrier.max_delay_seconds)
        if retrier.jitter == "FULL":
            delay = rand.uniform(0.0, delay)
        return index, delay
    return None


def catcher_for(catchers: tuple[Catcher, ...], error: StatesError) -> Catcher | None:
    """The first catcher whose ErrorEquals matches the error, if any."""
    for catcher in catchers:
        if matches(catcher.error_equals, error.error):
            return catcher
    return None
