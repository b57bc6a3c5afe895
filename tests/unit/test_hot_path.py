"""The invoke data path's shortcuts decide exactly what the general code decides (issue 21)."""

from __future__ import annotations

import copy
import itertools
import pickle
from pathlib import Path

import pytest

from stratus.control.keys import FunctionKey
from stratus.errors import TooManyRequests
from stratus.gateway.switchboard import encode
from stratus.http_types import HttpReply
from stratus.httpapi import replies
from stratus.invoke.limits import Limiter, LimitSnapshot, admit
from stratus.observe.logstore import LogStore


def test_function_key_hash_and_equality_follow_its_fields() -> None:
    a, b = FunctionKey("us-east-1", "f"), FunctionKey("us-east-1", "f")
    assert a is not b and a == b and hash(a) == hash(b) and {a: 1}[b] == 1
    assert a != FunctionKey("eu-west-1", "f") and a != FunctionKey("us-east-1", "g")
    assert a != ("us-east-1", "f")
    assert sorted([FunctionKey("b", "a"), FunctionKey("a", "z")])[0] == FunctionKey("a", "z")
    for clone in (pickle.loads(pickle.dumps(a)), copy.deepcopy(a), copy.copy(a)):
        assert clone == a and hash(clone) == hash(a) and {clone: 1}[a] == 1
    assert repr(a) == "FunctionKey(region='us-east-1', name='f')" and str(a) == "us-east-1:f"


@pytest.mark.parametrize("reserved", [None, 0, 1, 3])
def test_limiter_admits_exactly_what_admit_decides(reserved: int | None) -> None:
    """Every fill of a small account, with and without reservations elsewhere in the region:
    the limiter's shortcut below the contended mark refuses and admits as `admit` does."""
    me, other = FunctionKey("r", "me"), FunctionKey("r", "other")
    for limit, reserved_total, mine, others in itertools.product(
        range(1, 12), (0, 2, 5), range(0, 6), range(0, 12)
    ):
        limiter = Limiter(limit)
        admitted_others = 0
        for _ in range(others):
            try:
                limiter.acquire(other, None, reserved_total)
                admitted_others += 1
            except TooManyRequests:
                break
        admitted_mine = 0
        for _ in range(mine):
            try:
                limiter.acquire(me, reserved, reserved_total)
                admitted_mine += 1
            except TooManyRequests:
                break
        active = int(admitted_others > 0) + int(admitted_mine > 0 and reserved is None)
        unreserved = admitted_others + (admitted_mine if reserved is None else 0)
        expected = admit(
            LimitSnapshot(
                limit,
                reserved_total,
                unreserved,
                admitted_mine,
                reserved,
                active + int(reserved is None and admitted_mine == 0),
            )
        )
        try:
            limiter.acquire(me, reserved, reserved_total)
            admitted = True
        except TooManyRequests:
            admitted = False
        assert admitted == (expected is None), (limit, reserved_total, mine, others)


def test_structured_reply_headers() -> None:
    reply = replies.from_v2(b'{"statusCode": 201, "body": "ok"}')
    assert reply == HttpReply(201, (("content-type", "application/json"),), b"ok")
    reply = replies.from_v2(
        b'{"statusCode": 200, "headers": {"Content-Type": "text/plain", "X-A": "1"},'
        b' "multiValueHeaders": {"x-a": ["2", "3"]}, "cookies": ["a=1", "stratus_dashboard=x"]}'
    )
    assert reply.headers == (
        ("Content-Type", "text/plain"),
        ("x-a", "2"),
        ("x-a", "3"),
        ("set-cookie", "a=1"),
    )


def test_encode_writes_the_status_line_headers_and_body() -> None:
    data = encode(HttpReply(404, (("a", "b"),), b"body"), keep_alive=False)
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    assert lines[0] == b"HTTP/1.1 404 Not Found" and lines[1] == b"a: b"
    assert lines[2] == b"Content-Length: 4" and lines[3].startswith(b"Date: ")
    assert lines[4] == b"Connection: close" and body == b"body"
    assert encode(HttpReply(200, (), b"x"), keep_alive=True, head=True).endswith(b"GMT\r\n\r\n")


def test_append_lines_keeps_order_with_single_appends(tmp_path: Path) -> None:
    store = LogStore(tmp_path / "logs.db")
    store.append("r", "g", "s", 1, "START")
    store.append("r", "g", "s", 2, "out")
    store.append_lines("r", "g", "s", 3, ["END", "REPORT"])
    store.flush()
    assert [e.message for e in store.events("r", "g", streams=["s"])] == ["START", "out", "END", "REPORT"]
    store.close()
