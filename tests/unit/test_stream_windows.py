"""Tumbling windows' decisions (eventsources/windows.py) and one shard's window session
(eventsources/tumbling.py), on explicit (virtual) times: alignment, closing, late records, the
event's fields, the answer's state, the 1 MB early end."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from stratus.eventsources import windows
from stratus.eventsources.retrying import Outcome
from stratus.eventsources.tumbling import Session
from stratus.eventsources.windows import SETTLE_MS, Window

T0 = int(datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC).timestamp() * 1000)  # a multiple of every size


def test_windows_are_aligned_to_wall_clock_multiples_of_their_length() -> None:
    assert windows.window_for(T0, 60) == Window(T0, T0 + 60_000)
    assert windows.window_for(T0 + 59_999, 60) == Window(T0, T0 + 60_000)
    assert windows.window_for(T0 + 60_000, 60) == Window(T0 + 60_000, T0 + 120_000)
    assert windows.window_for(T0 + 4_321, 5) == Window(T0, T0 + 5_000)
    # 7 s windows are aligned to the epoch, not to the hour.
    w = windows.window_for(T0, 7)
    assert w.start_ms % 7000 == 0 and w.start_ms <= T0 < w.end_ms


def test_a_late_record_joins_the_window_after_the_last_closed_one() -> None:
    closed_end = T0 + 10_000
    assert windows.window_for(T0 + 3_000, 5, closed_end) == Window(T0 + 10_000, T0 + 15_000)
    assert windows.window_for(T0 + 12_000, 5, closed_end) == Window(T0 + 10_000, T0 + 15_000)
    assert windows.window_for(T0 + 16_000, 5, closed_end) == Window(T0 + 15_000, T0 + 20_000)


def test_a_window_closes_when_a_later_record_waits() -> None:
    w = Window(T0, T0 + 5_000)
    assert not windows.closed(w, Window(T0, T0 + 5_000), None)
    assert not windows.closed(w, Window(T0, T0 + 5_000), T0 + 60_000)  # its own records still wait
    assert windows.closed(w, Window(T0 + 5_000, T0 + 10_000), None)
    assert windows.closed(w, Window(T0 + 20_000, T0 + 25_000), T0)


def test_a_window_closes_once_the_reader_was_caught_up_past_its_end() -> None:
    w = Window(T0, T0 + 5_000)
    assert not windows.closed(w, None, None)  # never caught up
    assert not windows.closed(w, None, T0 + 4_000)
    assert not windows.closed(w, None, T0 + 5_000)  # a write stamped before the end may still commit
    assert not windows.closed(w, None, T0 + 5_000 + SETTLE_MS - 1)
    assert windows.closed(w, None, T0 + 5_000 + SETTLE_MS)


def test_the_event_carries_the_window_fields_lambda_documents() -> None:
    w = Window(T0, T0 + 300_000)
    event = windows.event({"Records": [{"eventID": "1"}]}, w, {"n": 3}, "shardId-1", "arn:s", final=False)
    assert event == {
        "Records": [{"eventID": "1"}],
        "window": {"start": "2024-05-01T12:00:00Z", "end": "2024-05-01T12:05:00Z"},
        "state": {"n": 3},
        "shardId": "shardId-1",
        "eventSourceARN": "arn:s",
        "isFinalInvokeForWindow": False,
        "isWindowTerminatedEarly": False,
    }


@pytest.mark.parametrize(
    ("answer", "state"),
    [
        (b'{"state": {"1": 282, "2": 715}, "batchItemFailures": []}', {"1": 282, "2": 715}),
        (b'{"state": {}}', {}),
        (b"{}", None),
        (b"null", None),
        (b"", None),
        (b'{"state": null}', None),
        (b'{"state": [1, 2]}', None),
        (b'{"state": 3}', None),
        (b"[1]", None),
        (b"not json", None),
    ],
)
def test_only_an_object_state_is_a_state(answer: bytes, state: dict[str, object] | None) -> None:
    assert windows.answered_state(answer) == state


def test_a_state_over_one_megabyte_ends_the_window_early() -> None:
    small = {"k": "x" * 1000}
    assert not windows.too_big(small)
    edge = {"k": "x" * (windows.MAX_STATE - len('{"k":""}'))}
    assert windows.state_size(edge) == windows.MAX_STATE and not windows.too_big(edge)
    assert windows.too_big({"k": "x" * windows.MAX_STATE})
    # The final invocation still carries it, unless it could not fit the payload limit.
    assert windows.final_state(edge) == edge
    assert windows.final_state({"k": "x" * (7 * 1024 * 1024)}) == {}


def test_a_session_carries_state_from_batch_to_batch_and_judges_answers() -> None:
    session = Session(Window(T0, T0 + 5_000), "shardId-1", "arn:s")
    first = session.wrap({"Records": [1]})
    assert first["state"] == {} and not first["isFinalInvokeForWindow"]

    # No state in the answer: a failed invocation, and the state stays.
    assert session.judge(Outcome("ok", b'{"batchItemFailures": []}')).kind == "error"
    assert session.judge(Outcome("error", b'{"state": {}}')).kind == "error"
    ok = Outcome("ok", b'{"state": {"sum": 5}}')
    assert session.judge(ok) == ok
    session.accept(ok.payload)
    assert session.invoked and session.wrap({"Records": [2]})["state"] == {"sum": 5}

    final = session.wrap({"Records": []}, final=True)
    assert final["isFinalInvokeForWindow"] and not final["isWindowTerminatedEarly"]
    assert final["Records"] == [] and final["state"] == {"sum": 5}


def test_an_oversized_state_is_flushed_by_an_early_final_invoke_then_starts_fresh() -> None:
    session = Session(Window(T0, T0 + 5_000), "shardId-1", "arn:s")
    big = {"blob": "x" * (windows.MAX_STATE + 1)}
    session.accept(json.dumps({"state": big}).encode())
    assert session.early
    final = session.wrap({"Records": []}, final=True)
    assert final["isFinalInvokeForWindow"] and final["isWindowTerminatedEarly"]
    assert final["state"] == big
    session.restart()
    assert session.window == Window(T0, T0 + 5_000)  # the same window goes on
    again = session.wrap({"Records": [3]})
    assert again["state"] == {} and not again["isWindowTerminatedEarly"] and not session.invoked
