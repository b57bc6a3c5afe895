"""What happens to an asynchronous event after an attempt: pure decisions, as Lambda documents
them. A function error is retried up to MaximumRetryAttempts times (default 2), about one
minute and then two minutes later; a throttle or a platform error is retried with exponential
backoff, without using up an attempt, until the event is MaximumEventAgeInSeconds old (default
six hours). An event past its age is dropped without another attempt."""

from __future__ import annotations

import enum
from dataclasses import dataclass

DEFAULT_MAX_RETRIES = 2
DEFAULT_MAX_AGE_S = 6 * 3600


class Outcome(enum.Enum):
    SUCCESS = "success"
    FUNCTION_ERROR = "function_error"
    THROTTLED = "throttled"
    SYSTEM_ERROR = "system_error"


class Action(enum.Enum):
    DONE = "done"
    RETRY = "retry"
    DROP = "drop"


@dataclass(frozen=True)
class RetryPolicy:
    max_retries: int = DEFAULT_MAX_RETRIES
    max_age_s: int = DEFAULT_MAX_AGE_S
    # The delay before the first retry of a function error; the second waits twice as long.
    function_error_delay_s: float = 60.0
    # Throttles and platform errors: the first backoff, doubling up to the cap.
    backoff_s: float = 1.0
    backoff_cap_s: float = 300.0


@dataclass(frozen=True)
class Decision:
    action: Action
    attempts: int  # function attempts used so far (throttles do not count)
    delay_s: float = 0.0
    reason: str = ""  # why it was dropped: RetriesExhausted or EventAgeExceeded


def decide(outcome: Outcome, attempts: int, backoffs: int, age_s: float, policy: RetryPolicy) -> Decision:
    """`attempts`: function attempts before this one; `backoffs`: throttles and platform errors
    so far (they set the backoff); `age_s`: the event's age now."""
    if outcome is Outcome.SUCCESS:
        return Decision(Action.DONE, attempts + 1)
    if outcome is Outcome.FUNCTION_ERROR:
        used = attempts + 1
        if used > policy.max_retries:
            return Decision(Action.DROP, used, reason="RetriesExhausted")
        delay = policy.function_error_delay_s * (2 ** (used - 1))
        if age_s + delay > policy.max_age_s:
            return Decision(Action.DROP, used, reason="EventAgeExceeded")
        return Decision(Action.RETRY, used, delay)
    delay = min(policy.backoff_cap_s, policy.backoff_s * (2**backoffs))
    if age_s + delay > policy.max_age_s:
        return Decision(Action.DROP, attempts, reason="EventAgeExceeded")
    return Decision(Action.RETRY, attempts, delay)


def expired(age_s: float, policy: RetryPolicy) -> bool:
    return age_s > policy.max_age_s
