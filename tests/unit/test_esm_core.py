"""The event source mapping machine's pure core: batching, retry decisions for queue and
stream semantics (partial batch responses, bisecting, retries running out), scaling, and
FilterCriteria over SQS records."""

from __future__ import annotations

import json

from stratus.eventsources import batching, retrying, scaling
from stratus.eventsources.filtering import Filters, body_view, check
from stratus.eventsources.retrying import Outcome, decide_queue, decide_stream, reported_failures

IDS = ["a", "b", "c", "d"]


# -- batching -------------------------------------------------------------------------------------


def test_a_batch_is_complete_at_its_size_or_when_the_window_has_passed() -> None:
    assert batching.complete(10, 10, started=0.0, now=0.0, window_s=5)
    assert not batching.complete(3, 10, started=0.0, now=4.9, window_s=5)
    assert batching.complete(3, 10, started=0.0, now=5.0, window_s=5)
    assert batching.complete(1, 10, started=0.0, now=0.0, window_s=0)  # no window: what one read gave
    assert not batching.complete(0, 10, started=0.0, now=99.0, window_s=0)  # nothing to invoke with


def test_reads_ask_for_at_most_ten_and_what_the_batch_still_lacks() -> None:
    assert batching.read_size(0, 10_000) == 10
    assert batching.read_size(7, 10) == 3
    assert batching.read_size(10, 10) == 0


def test_an_empty_batch_long_polls_and_a_started_one_waits_out_its_window() -> None:
    assert batching.read_wait(0, started=0.0, now=0.0, window_s=0) == batching.IDLE_WAIT_S
    assert batching.read_wait(2, started=10.0, now=12.5, window_s=5) == 2.5
    assert batching.read_wait(2, started=10.0, now=20.0, window_s=5) == 0.0


def test_the_payload_limit_keeps_the_batch_under_six_megabytes() -> None:
    assert batching.fits(0, 0, 7 * 1024 * 1024)  # the first record always goes in
    assert batching.fits(1000, 1, 1000)
    assert not batching.fits(batching.MAX_PAYLOAD - 100, 3, 200)


# -- queue semantics ------------------------------------------------------------------------------


def test_a_success_deletes_the_batch_and_an_error_deletes_nothing() -> None:
    assert decide_queue(Outcome("ok"), IDS, report_failures=False).ack == (0, 1, 2, 3)
    failed = decide_queue(Outcome("error"), IDS, report_failures=False)
    assert failed.ack == () and failed.release == (0, 1, 2, 3)
    # Without ReportBatchItemFailures a response naming failures is just a result.
    body = json.dumps({"batchItemFailures": [{"itemIdentifier": "b"}]}).encode()
    assert decide_queue(Outcome("ok", body), IDS, report_failures=False).ack == (0, 1, 2, 3)


def test_reported_failures_stay_and_the_rest_are_deleted() -> None:
    body = json.dumps({"batchItemFailures": [{"itemIdentifier": "b"}, {"itemIdentifier": "d"}]}).encode()
    decision = decide_queue(Outcome("ok", body), IDS, report_failures=True)
    assert decision.ack == (0, 2) and decision.release == (1, 3)


def test_responses_lambda_takes_as_complete_success() -> None:
    for body in (b"", b"null", b"{}", b'{"batchItemFailures": []}', b'{"batchItemFailures": null}'):
        assert reported_failures(body, IDS) == (), body


def test_responses_lambda_takes_as_complete_failure() -> None:
    for body in (
        b"not json",
        b'{"batchItemFailures": [{"itemIdentifier": ""}]}',
        b'{"batchItemFailures": [{"itemIdentifier": null}]}',
        b'{"batchItemFailures": [{"itemId": "a"}]}',
        b'{"batchItemFailures": [{"itemIdentifier": "zzz"}]}',
        b'{"batchItemFailures": "a"}',
        b"[1]",
    ):
        assert reported_failures(body, IDS) is None, body
        decision = decide_queue(Outcome("ok", body), IDS, report_failures=True)
        assert decision.ack == () and decision.release == (0, 1, 2, 3), body


# -- stream semantics -----------------------------------------------------------------------------


def _stream(outcome: Outcome, attempts: int = 0, **kw: object) -> retrying.StreamDecision:
    settings: dict[str, object] = {"max_retries": 2, "bisect": False, "report_failures": False, **kw}
    return decide_stream(outcome, 0, 4, IDS, attempts, **settings)  # type: ignore[arg-type]


def test_a_stream_batch_that_fails_is_retried_until_its_retries_run_out() -> None:
    first = _stream(Outcome("error"))
    assert first.retry == (0, 4) and first.attempts == 1 and first.checkpoint == 0
    last = _stream(Outcome("error"), attempts=2)
    assert last.retry is None and last.on_failure == (0, 4) and last.checkpoint == 4
    forever = _stream(Outcome("error"), attempts=500, max_retries=-1)
    assert forever.retry == (0, 4)


def test_throttles_retry_without_spending_an_attempt() -> None:
    assert _stream(Outcome("throttled"), attempts=1).attempts == 1


def test_bisecting_splits_a_failed_batch_before_retrying_it() -> None:
    decision = _stream(Outcome("error"), bisect=True)
    assert decision.retry == (0, 2) and decision.halves == ((2, 4),) and decision.attempts == 0
    one = decide_stream(Outcome("error"), 3, 4, ["d"], 0, max_retries=0, bisect=True, report_failures=False)
    assert one.on_failure == (3, 4)  # a single record cannot be split: it is given up


def test_a_stream_partial_response_checkpoints_before_the_lowest_failure() -> None:
    body = json.dumps({"batchItemFailures": [{"itemIdentifier": "d"}, {"itemIdentifier": "c"}]}).encode()
    decision = _stream(Outcome("ok", body), report_failures=True)
    assert decision.checkpoint == 2 and decision.retry == (2, 4)
    done = _stream(Outcome("ok", b'{"batchItemFailures": []}'), report_failures=True)
    assert done.checkpoint == 4 and done.retry is None


def test_record_age() -> None:
    assert not retrying.too_old(0, 10_000_000, -1)
    assert retrying.too_old(0, 61_000, 60)
    assert not retrying.too_old(0, 60_000, 60)


# -- scaling --------------------------------------------------------------------------------------


def test_scaling_starts_at_five_within_the_caps() -> None:
    assert scaling.initial(None, None) == 5
    assert scaling.initial(3, None) == 3
    assert scaling.initial(None, 1) == 1  # reserved concurrency of one


def test_full_batches_add_pollers_up_to_300_a_minute_and_the_cap() -> None:
    busy = scaling.Recent(full=5, backlog=10_000)
    assert scaling.target(5, busy, 1.0, None, None) == 10
    assert scaling.target(5, busy, 60.0, None, None) == 305
    assert scaling.target(990, busy, 60.0, None, None) == 1000
    assert scaling.target(5, busy, 60.0, 20, None) == 20  # MaximumConcurrency
    assert scaling.target(5, busy, 60.0, None, 8) == 8  # reserved concurrency / account limit
    # Never more pollers than batches waiting.
    assert scaling.target(5, scaling.Recent(full=5, backlog=2), 60.0, None, None) == 7


def test_quiet_queues_scale_back_to_five_then_two() -> None:
    quiet = scaling.Recent(empty=5)
    assert scaling.target(100, quiet, 1.0, None, None) == 50
    assert scaling.target(6, quiet, 1.0, None, None) == 5
    assert scaling.target(5, quiet, 1.0, None, None) == 3
    assert scaling.target(3, quiet, 1.0, None, None) == 2
    assert scaling.target(2, quiet, 1.0, None, None) == 2
    # With MaximumConcurrency Lambda keeps five.
    assert scaling.target(5, quiet, 1.0, 50, None) == 5


def test_throttles_give_concurrency_back() -> None:
    assert scaling.target(40, scaling.Recent(full=3, throttled=2), 1.0, None, None) == 30
    assert scaling.target(2, scaling.Recent(throttled=1), 1.0, None, None) == 2


# -- filters --------------------------------------------------------------------------------------


def _view(body: str, **attributes: str) -> dict[str, object]:
    return {"body": body_view(body), "attributes": attributes, "eventSource": "aws:sqs"}


def test_filters_match_a_json_body_by_its_fields() -> None:
    filters = Filters(['{"body": {"kind": ["order"], "total": [{"numeric": [">", 10]}]}}'])
    assert filters.matches(_view('{"kind": "order", "total": 12}'))
    assert not filters.matches(_view('{"kind": "order", "total": 3}'))
    assert not filters.matches(_view('{"kind": "refund", "total": 12}'))


def test_a_plain_text_body_is_matched_as_a_string_and_any_pattern_may_match() -> None:
    filters = Filters(['{"body": [{"prefix": "urgent"}]}', '{"attributes": {"SenderId": ["me"]}}'])
    assert filters.matches(_view("urgent: call back"))
    assert filters.matches(_view("later", SenderId="me"))
    assert not filters.matches(_view("later", SenderId="you"))


def test_no_filters_match_everything_and_bad_ones_are_refused() -> None:
    assert Filters([]).matches(_view("x"))
    assert check(['{"body": ["a"]}']) is None
    assert check(["not json"]) is not None
    assert check(['{"body": "a"}']) is not None  # leaves must be arrays
    assert check(['{"a": ["b"]}'] * 6) is not None  # over the quota of five filters
