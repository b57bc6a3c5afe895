"""Debug sessions' bookkeeping (invoke/debug_sessions.py) and the dev loop's printing of them
(cli/devdebug.py); the sessions themselves run end to end in tests/e2e/test_dev_debug.py."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import pytest

from stratus.cli.devdebug import describe, session_ports
from stratus.control.keys import FunctionKey
from stratus.invoke.debug_sessions import DebugSessions, SessionConflict, runs_in_session
from stratus.invoke.debugging import DebugRequest

KEY = FunctionKey("us-east-1", "fn")


async def _nothing(news: object) -> None:
    return None


def test_only_latest_runs_in_a_session() -> None:
    assert runs_in_session(None) and runs_in_session("") and runs_in_session("$LATEST")
    assert not runs_in_session("1") and not runs_in_session("live")


def test_ports_count_up_from_the_first_or_are_each_any_free_one() -> None:
    assert session_ports(["a", "b", "c"], 5678) == [5678, 5679, 5680]
    assert session_ports(["a", "b"], 0) == [0, 0]


def test_the_lines_dev_prints() -> None:
    start = describe("fn", {"event": "session", "protocol": "dap", "port": 4000, "waitTimeout": 60})
    assert (
        start
        == "fn: debugger (debugpy) on 127.0.0.1:4000: each invocation waits 60 s for an attach, then runs"
    )
    waits = describe("fn", {"event": "listening", "port": 4000, "requestId": "r1", "remoteRoot": "/var/task"})
    assert waits is not None and "r1 waits for a debugger on 127.0.0.1:4000" in waits
    assert describe("fn", {"event": "ended", "requestId": "r1"}) == "fn: request r1 ended"
    failed = describe("fn", {"event": "ended", "requestId": "r1", "functionError": "Unhandled"})
    assert failed == "fn: request r1 ended with Unhandled"
    assert describe("fn", {"event": "other"}) is None


def test_a_session_is_found_for_latest_while_open_and_holds_its_port(tmp_path: Path) -> None:
    async def scenario() -> None:
        sessions = DebugSessions()
        assert sessions.find(KEY, None) is None
        async with sessions.open(KEY, DebugRequest(5, 0, 0), tmp_path, _nothing) as session:
            assert sessions.find(KEY, None) is session
            assert sessions.find(KEY, "$LATEST") is session
            assert sessions.find(KEY, "3") is None
            assert sessions.find(FunctionKey("eu-west-1", "fn"), None) is None
            # The port listens for the whole session, before any invocation.
            with socket.create_connection(("127.0.0.1", session.port), timeout=5):
                pass
            with pytest.raises(SessionConflict):
                async with sessions.open(KEY, DebugRequest(5, 0, 0), tmp_path, _nothing):
                    pass
            port = session.port
        assert sessions.find(KEY, None) is None and not sessions.sessions
        with pytest.raises(OSError):
            socket.create_connection(("127.0.0.1", port), timeout=5).close()
        # Closed, it takes no invocation: the caller runs it as usual.
        assert await session.invoke(None, None, b"{}", None) is None  # type: ignore[arg-type]

    asyncio.run(scenario())


def test_a_taken_port_is_an_os_error_and_leaves_no_session(tmp_path: Path) -> None:
    async def scenario() -> None:
        sessions = DebugSessions()
        with socket.socket() as taken:
            taken.bind(("127.0.0.1", 0))
            taken.listen(1)
            port = taken.getsockname()[1]
            with pytest.raises(OSError):
                async with sessions.open(KEY, DebugRequest(5, 0, port), tmp_path, _nothing):
                    pass
        assert not sessions.sessions

    asyncio.run(scenario())
