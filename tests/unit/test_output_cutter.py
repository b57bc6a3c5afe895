"""Cutting an environment's output into bounded log events."""

from __future__ import annotations

from stratus.observe.output import OutputCutter


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_lines_split_across_reads_are_joined() -> None:
    cutter = OutputCutter(Clock())
    assert cutter.feed(b"hel") == []
    assert cutter.feed(b"lo\nwor") == ["hello"]
    assert cutter.feed(b"ld\r\n\n") == ["world", ""]


def test_an_overlong_line_is_cut_and_its_rest_dropped() -> None:
    cutter = OutputCutter(Clock(), max_event=10)
    assert cutter.feed(b"0123456") == []
    assert cutter.feed(b"789abcdef") == ["0123456789"]  # cut at the limit, once
    assert cutter.feed(b"ghij" * 1000) == []  # the rest of that line goes nowhere
    assert cutter.feed(b"klm\nnext\n") == ["next"]


def test_invalid_utf8_is_replaced_not_fatal() -> None:
    assert OutputCutter(Clock()).feed(b"caf\xc3\n\xff\n") == ["caf\ufffd", "\ufffd"]


def test_the_rate_limit_drops_and_notes_then_recovers() -> None:
    clock = Clock()
    cutter = OutputCutter(clock, rate=100, burst=200)
    lines: list[str] = []
    for _ in range(4):
        lines += cutter.feed(b"y" * 49 + b"\n")  # 4 x 50 bytes: the whole burst
    assert len(lines) == 4
    assert cutter.feed(b"z" * 49 + b"\n") == []  # over budget: dropped
    assert cutter.dropped_bytes == 50
    (note,) = cutter.flush()
    assert "50 bytes of log output were dropped" in note
    assert cutter.flush() == []  # noted once
    clock.now = 1.0  # a second refills 100 bytes
    assert cutter.feed(b"a\n") == ["a"]


def test_once_starved_a_read_drops_its_complete_lines_at_once_and_keeps_its_tail() -> None:
    cutter = OutputCutter(Clock(), rate=0, burst=10)
    assert cutter.feed(b"12345678\nabc\ndef\nghi\npar") == ["12345678"]  # 9 bytes: the burst
    assert cutter.dropped_bytes == len(b"abc\ndef\nghi\n")
    assert cutter.feed(b"tial\n") == []  # the kept tail is a line of its own, dropped too
    assert cutter.dropped_bytes == len(b"abc\ndef\nghi\npartial\n")
