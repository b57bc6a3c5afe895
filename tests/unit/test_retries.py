"""The retry decisions of asynchronous invocation."""

from stratus.invoke.retries import Action, Outcome, RetryPolicy, decide

POLICY = RetryPolicy()


def test_success_is_done() -> None:
    assert decide(Outcome.SUCCESS, 0, 0, 1.0, POLICY).action is Action.DONE


def test_function_errors_retry_twice_one_then_two_minutes_later() -> None:
    first = decide(Outcome.FUNCTION_ERROR, 0, 0, 0.0, POLICY)
    assert (first.action, first.attempts, first.delay_s) == (Action.RETRY, 1, 60.0)
    second = decide(Outcome.FUNCTION_ERROR, 1, 0, 60.0, POLICY)
    assert (second.action, second.attempts, second.delay_s) == (Action.RETRY, 2, 120.0)
    third = decide(Outcome.FUNCTION_ERROR, 2, 0, 180.0, POLICY)
    assert (third.action, third.reason) == (Action.DROP, "RetriesExhausted")


def test_zero_retries_drops_after_the_first_failure() -> None:
    policy = RetryPolicy(max_retries=0)
    assert decide(Outcome.FUNCTION_ERROR, 0, 0, 0.0, policy).action is Action.DROP


def test_throttles_back_off_without_using_attempts() -> None:
    decisions = [decide(Outcome.THROTTLED, 0, n, 0.0, POLICY) for n in range(12)]
    assert all(d.action is Action.RETRY and d.attempts == 0 for d in decisions)
    delays = [d.delay_s for d in decisions]
    assert delays[:4] == [1.0, 2.0, 4.0, 8.0]
    assert max(delays) == POLICY.backoff_cap_s


def test_events_past_their_age_are_dropped() -> None:
    policy = RetryPolicy(max_age_s=60)
    throttled = decide(Outcome.THROTTLED, 0, 0, 59.5, policy)
    assert (throttled.action, throttled.reason) == (Action.DROP, "EventAgeExceeded")
    failed = decide(Outcome.FUNCTION_ERROR, 0, 0, 30.0, policy)
    assert (failed.action, failed.reason) == (Action.DROP, "EventAgeExceeded")
    assert decide(Outcome.SYSTEM_ERROR, 0, 3, 10.0, policy).action is Action.RETRY
