"""The result limit's decisions and the channel decoder that enforces it, without processes."""

from __future__ import annotations

import json
import struct

import pytest

from stratus.invoke.result_limit import (
    REFUSAL_DOCUMENT,
    RESULT_LIMIT,
    TOO_LARGE_DOCUMENT,
    declared_over_limit,
    over_limit,
)
from stratus.runtimes.pyboot import stratus_channel as channel


def test_the_limit_and_the_error_are_lambdas() -> None:
    assert RESULT_LIMIT == 6291556
    assert json.loads(TOO_LARGE_DOCUMENT) == {
        "errorMessage": "Response payload size exceeded maximum allowed payload size (6291556 bytes).",
        "errorType": "Function.ResponseSizeTooLarge",
    }
    assert REFUSAL_DOCUMENT["errorType"] == "RequestEntityTooLarge"


def test_exactly_the_limit_passes() -> None:
    assert not over_limit(RESULT_LIMIT)
    assert over_limit(RESULT_LIMIT + 1)
    assert not declared_over_limit(None)  # chunked: counted as it arrives instead
    assert not declared_over_limit(RESULT_LIMIT)
    assert declared_over_limit(RESULT_LIMIT + 1)


def test_a_frame_at_the_limit_is_decoded() -> None:
    decoder = channel.Decoder(body_limit=RESULT_LIMIT)
    body = b"x" * RESULT_LIMIT
    decoder.feed(channel.encode(channel.RESPONSE, {"id": "r1"}, body))
    [(kind, header, got)] = decoder.frames()
    assert (kind, header, got) == (channel.RESPONSE, {"id": "r1"}, body)
    assert decoder.frames() == []


def test_a_frame_past_the_limit_is_refused_on_its_declared_size() -> None:
    decoder = channel.Decoder(body_limit=RESULT_LIMIT)
    head = b'{"id":"r1"}'
    # Only the 7-byte prefix and the header: the 1 GB body it declares is never needed.
    decoder.feed(struct.pack("!IBH", 3 + len(head) + (1 << 30), channel.RESPONSE, len(head)) + head)
    with pytest.raises(channel.FrameTooLarge) as refused:
        decoder.frames()
    assert refused.value.body_size == 1 << 30


def test_one_byte_past_the_limit_is_refused() -> None:
    decoder = channel.Decoder(body_limit=RESULT_LIMIT)
    decoder.feed(channel.encode(channel.ERROR, {"id": "r1"}, b"e" * (RESULT_LIMIT + 1))[:1024])
    with pytest.raises(channel.FrameTooLarge):
        decoder.frames()


def test_whole_frames_before_a_refused_one_come_out_first() -> None:
    decoder = channel.Decoder(body_limit=16)
    decoder.feed(channel.encode(channel.NEXT, {}) + channel.encode(channel.RESPONSE, {"id": "r"}, b"y" * 17))
    assert [kind for kind, _, _ in decoder.frames()] == [channel.NEXT]
    with pytest.raises(channel.FrameTooLarge):
        decoder.frames()


def test_without_a_limit_nothing_is_refused() -> None:
    decoder = channel.Decoder()
    decoder.feed(channel.encode(channel.EVENT, {"a": "b"}, b"z" * (RESULT_LIMIT + 1)))
    [(_, _, body)] = decoder.frames()
    assert len(body) == RESULT_LIMIT + 1


@pytest.mark.parametrize(
    "frame",
    [
        struct.pack("!IBH", 3, channel.RESPONSE, 10) + b"0123456789",  # header longer than the frame
        channel.encode(channel.RESPONSE, [1, 2], b""),  # type: ignore[arg-type]  # not an object
    ],
)
def test_malformed_frames_stop_the_stream(frame: bytes) -> None:
    decoder = channel.Decoder(body_limit=RESULT_LIMIT)
    decoder.feed(frame)
    with pytest.raises(channel.FrameError):
        decoder.frames()
