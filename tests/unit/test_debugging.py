"""The pure parts of `stratus invoke --debug` (invoke/debugging.py, invoke/debug_relay.py,
lambda_api/debug.py): who a loopback connection belongs to, what DAP and inspector (WebSocket,
CDP) traffic says of the session, how a debug environment is launched, and how paused time
moves the deadline."""

from __future__ import annotations

import json

import pytest

from stratus.errors import AccessDenied, InvalidParameterValue
from stratus.invoke.debug_protocols import (
    MAX_WATCHED_MESSAGE,
    DapFrames,
    InspectorStream,
    WebSocketFrames,
    cdp_transition,
    dap_transition,
    inspector_attach,
)
from stratus.invoke.debug_relay import owner_uid
from stratus.invoke.debugging import EXPIRED, deadline_step, debug_plan, protocol_for
from stratus.invoke.launch import LaunchPlan
from stratus.lambda_api.debug import local_owner, parse_port, parse_wait

# /proc/net/tcp as the kernel writes it: a listener on 127.0.0.1:8000 (0x1F40), a client of
# uid 1000 at port 0xA1B2 connected to it, the server's side of that connection (uid 0), and a
# closing (TIME_WAIT) socket of uid 7 with the same ports.
TCP = """\
  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:1F40 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 11 1
   1: 0100007F:A1B2 0100007F:1F40 01 00000000:00000000 00:00000000 00000000  1000        0 12 1
   2: 0100007F:1F40 0100007F:A1B2 01 00000000:00000000 00:00000000 00000000     0        0 13 1
   3: 0100007F:C000 0100007F:1F40 06 00000000:00000000 00:00000000 00000000     7        0 14 1
"""


def test_the_connections_owner_is_its_client_sockets_uid() -> None:
    assert owner_uid(TCP, 0xA1B2, 0x1F40) == 1000
    assert owner_uid(TCP, 0x1F40, 0xA1B2) == 0  # the other end is the server's own socket
    assert owner_uid(TCP, 0xC000, 0x1F40) is None  # not established
    assert owner_uid(TCP, 0xA1B2, 0x1F41) is None
    assert owner_uid("header only\n", 1, 2) is None


def test_dap_messages_that_change_the_session() -> None:
    # Attached once debugpy has answered configurationDone (the request alone is too early).
    request = {"type": "request", "command": "configurationDone"}
    answer = {"type": "response", "command": "configurationDone", "success": True}
    assert dap_transition(request, from_client=True) is None
    assert dap_transition(answer, from_client=False) == "attached"
    assert dap_transition({**answer, "success": False}, from_client=False) is None
    assert dap_transition(answer, from_client=True) is None  # only debugpy answers
    for command in ("continue", "next", "stepIn", "stepOut", "disconnect"):
        assert dap_transition({"type": "request", "command": command}, True) == "resumed"
    assert dap_transition({"type": "request", "command": "variables"}, True) is None
    assert dap_transition({"type": "event", "event": "stopped"}, False) == "paused"
    assert dap_transition({"type": "event", "event": "continued"}, False) == "resumed"
    assert dap_transition({"type": "event", "event": "stopped"}, True) is None
    assert dap_transition({"type": "event", "event": "output"}, False) is None


def test_an_inspector_session_is_a_websocket_upgrade() -> None:
    assert not inspector_attach(b"GET /json/list HTTP/1.1\r\nHost: 127.0.0.1:9229\r\n\r\n")
    upgrade = b"GET /0f2c HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n"
    assert inspector_attach(upgrade)
    assert not inspector_attach(b"GET /upgrade:websocket HTTP/1.1\r\n\r\n")  # in the path only


def frame(message: dict[str, object]) -> bytes:
    body = json.dumps(message).encode()
    return b"Content-Length: %d\r\n\r\n" % len(body) + body


def test_dap_frames_split_and_joined() -> None:
    frames = DapFrames()
    one, two = frame({"seq": 1}), frame({"seq": 2, "body": "x" * 100})
    data = one + two
    seen = []
    for i in range(0, len(data), 7):  # in pieces that cut headers and bodies
        seen += frames.feed(data[i : i + 7])
    assert seen == [{"seq": 1}, {"seq": 2, "body": "x" * 100}]
    assert DapFrames().feed(one + one) == [{"seq": 1}, {"seq": 1}]


def test_dap_frames_give_up_on_what_is_not_dap() -> None:
    frames = DapFrames()
    assert frames.feed(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n") == []
    assert frames.broken
    assert frames.feed(frame({"seq": 1})) == []  # it stops watching; the relay still relays


def test_cdp_messages_that_change_the_session() -> None:
    run = {"id": 7, "method": "Runtime.runIfWaitingForDebugger"}
    assert cdp_transition(run, from_client=True) == "attached"
    assert cdp_transition(run, from_client=False) is None
    paused = {"method": "Debugger.paused", "params": {"reason": "other", "callFrames": []}}
    assert cdp_transition(paused, from_client=False) == "paused"
    assert cdp_transition(paused, from_client=True) is None  # only node sends events
    assert cdp_transition({"method": "Debugger.resumed", "params": {}}, False) == "resumed"
    assert cdp_transition({"id": 8, "method": "Debugger.resume"}, True) is None  # node's event says it
    assert cdp_transition({"id": 7, "result": {}}, False) is None
    assert cdp_transition({"method": ["Debugger.paused"]}, False) is None


def ws(payload: bytes, opcode: int = 0x1, fin: bool = True, mask: bytes | None = None) -> bytes:
    """One WebSocket frame as RFC 6455 lays it out (masked, as a client's are, given a key)."""
    n = len(payload)
    if n < 126:
        size = bytes([n])
    elif n < 65536:
        size = bytes([126]) + n.to_bytes(2, "big")
    else:
        size = bytes([127]) + n.to_bytes(8, "big")
    head = bytes([(0x80 if fin else 0) | opcode, size[0] | (0x80 if mask else 0)]) + size[1:]
    if mask is None:
        return head + payload
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


KEY = b"\x9a\x01\xff\x3c"


def test_websocket_frames_masked_and_unmasked_of_every_length() -> None:
    for text in ("{}", "x" * 300, "y" * 70000):  # 7-bit, 16-bit and 64-bit lengths
        assert WebSocketFrames().feed(ws(text.encode())) == [text]
        assert WebSocketFrames().feed(ws(text.encode(), mask=KEY)) == [text]
    two = ws(b'{"id": 1}', mask=KEY) + ws(b'{"id": 2}', mask=KEY)
    assert WebSocketFrames().feed(two) == ['{"id": 1}', '{"id": 2}']


def test_websocket_frames_split_fragmented_and_pinged() -> None:
    data = (
        ws(b'{"method": ', fin=False, mask=KEY)
        + ws(b"are you there", opcode=0x9, mask=KEY)  # a ping between two fragments
        + ws(b'"Debugger.', opcode=0x0, fin=False, mask=KEY)
        + ws(b'paused"}', opcode=0x0, mask=KEY)
        + ws(b"\x00\x01", opcode=0x2)  # a binary message: not CDP
        + ws(b"z" * 1000)
    )
    frames, seen = WebSocketFrames(), []
    for i in range(0, len(data), 5):  # in pieces that cut headers, keys and payloads
        seen += frames.feed(data[i : i + 5])
    assert seen == ['{"method": "Debugger.paused"}', "z" * 1000]
    assert not frames.broken


def test_websocket_frames_give_up_on_what_they_cannot_follow() -> None:
    huge = bytes([0x81, 127]) + (MAX_WATCHED_MESSAGE + 1).to_bytes(8, "big")
    for data in (huge, ws(b"x", opcode=0x0), bytes([0xC1, 1]) + b"x"):  # too big, orphan, RSV1
        frames = WebSocketFrames()
        assert frames.feed(data) == []
        assert frames.broken
        assert frames.feed(ws(b"{}")) == []  # it stops watching; the relay still relays
    frames = WebSocketFrames(limit=100)  # fragments that add up past the cap
    assert frames.feed(ws(b"x" * 60, fin=False) + ws(b"x" * 40, opcode=0x0, fin=False)) == []
    assert not frames.broken
    assert frames.feed(ws(b"x", opcode=0x0)) == [] and frames.broken


def test_an_inspector_connection_is_http_then_a_websocket_session() -> None:
    client, node = InspectorStream(from_client=True), InspectorStream(from_client=False)
    assert client.feed(b"GET /json/list HTTP/1.1\r\nHost: 127.0.0.1:9229\r\n\r\n") == []
    body = b'[{"description": "Debugger.paused"}]'  # in a /json answer it says nothing
    assert node.feed(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body) + body) == []
    upgrade = b"GET /0f2c HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n"
    run = b'{"id": 3, "method": "Runtime.runIfWaitingForDebugger"}'
    assert client.feed(upgrade + ws(b'{"id": 1, "method": "Runtime.enable"}', mask=KEY)) == []
    assert client.feed(ws(run, mask=KEY)) == [json.loads(run)]
    switching = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: WebSocket\r\n\r\n"
    paused = ws(b'{"method": "Debugger.paused", "params": {}}')
    assert node.feed(switching + ws(b'{"id": 1, "result": {}}') + paused) == [
        {"method": "Debugger.paused", "params": {}}
    ]
    refused = InspectorStream(from_client=False)
    assert refused.feed(b"HTTP/1.1 400 Bad Request\r\n\r\n" + paused) == []


def test_debug_plans() -> None:
    python = LaunchPlan(
        argv=("/usr/bin/python3.11", "-S", "-m", "stratus_pyboot", "app.h"),
        env={"A": "1"},
        execution_env="AWS_Lambda_python3.11",
    )
    plan = debug_plan(python, "dap", 5678, None)
    assert plan.argv == python.argv
    assert plan.env["A"] == "1" and json.loads(plan.env["_STRATUS_DEBUG"]) == {"port": 5678, "wait": 0.0}
    on_host = debug_plan(python, "dap", 4000, "/d", wait=30)  # the process backend: a host path
    assert json.loads(on_host.env["_STRATUS_DEBUG"]) == {"port": 4000, "wait": 30, "path": "/d"}
    node = LaunchPlan(
        argv=("/usr/bin/node", "/boot/index.mjs"),
        env={},
        execution_env="x",
        exec_argv=("/usr/bin/node", "/boot/index.mjs"),
    )
    inspected = debug_plan(node, "inspector", 9229, None)
    assert inspected.exec_argv == ("/usr/bin/node", "--inspect=127.0.0.1:9229", "/boot/index.mjs")
    assert inspected.argv == inspected.exec_argv
    assert "_STRATUS_DEBUG" not in inspected.env


def test_which_runtimes_have_a_debugger() -> None:
    assert protocol_for("python3.12") == "dap"
    assert protocol_for("nodejs22.x") == "inspector"
    assert protocol_for("java21") is None and protocol_for("provided.al2023") is None


def test_paused_time_moves_the_deadline() -> None:
    # Timeout 3 s from t=0: the timer runs out at 3.
    assert deadline_step(3.0, paused=False, held_total=0.0, credited=0.0) == EXPIRED
    # Paused 5 s before that: the deadline moves to 8, and those 5 s are then credited.
    assert deadline_step(3.0, paused=False, held_total=5.0, credited=0.0) == 8.0
    assert deadline_step(8.0, paused=False, held_total=5.0, credited=5.0) == EXPIRED
    # Paused when it runs out: decided again when the program resumes, from the same time.
    assert deadline_step(3.0, paused=True, held_total=1.0, credited=0.0) is None
    # Resumed at 10 after pausing from 1 (9 s paused in all): the deadline is 3 + 9 = 12.
    assert deadline_step(3.0, paused=False, held_total=9.0, credited=0.0) == 12.0


def test_request_settings_and_their_refusals() -> None:
    assert parse_wait(None) == 60.0 and parse_wait("2.5") == 2.5 and parse_wait("0") == 0.0
    for bad in ("-1", "soon", "3601"):
        with pytest.raises(InvalidParameterValue):
            parse_wait(bad)
    assert parse_port(None) == 0 and parse_port("9229") == 9229
    for bad in ("-1", "65536", "x"):
        with pytest.raises(InvalidParameterValue):
            parse_port(bad)


def test_a_debug_invoke_from_another_machine_is_refused() -> None:
    with pytest.raises(AccessDenied, match="from this machine"):
        local_owner(("192.0.2.7", 40000), ("192.0.2.1", 9000))
    with pytest.raises(AccessDenied):
        local_owner(None, ("127.0.0.1", 9000))
