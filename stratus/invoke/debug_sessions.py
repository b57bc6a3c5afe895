"""Debug sessions (`stratus dev --debug`): while one is open for a function, every invocation of
its $LATEST, whatever sends it (Invoke, a function URL, an HTTP API, an event source), runs as a
debug invocation (invoke/debugging.py) on the session's host port.

Contract:
1. A session belongs to one function ($LATEST, which `stratus dev` updates on each save); a
   second session for the same function is refused while the first is open. Versions and
   aliases other than $LATEST run as usual.
2. The session holds its host loopback port for its whole life, so a debugger may attach before
   the invocation it wants arrives: the connection waits in the port's backlog and the next
   debug invocation's relay takes it (the relay checks the connecting user as for a single
   debug invocation).
3. Its invocations run one at a time, in arrival order (they share the port); each waits for an
   attach as a single debug invocation does, then runs either way.
4. The holder is told of each invocation when its debugger listens and when it ends (`tell`);
   once the holder is gone (`tell` raises, or the session is closed), invocations that were
   waiting, and later ones, run as usual.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stratus.control.keys import FunctionKey
from stratus.control.models import LATEST
from stratus.errors import ClientError
from stratus.invoke.debug_relay import host_listener
from stratus.invoke.debugging import DebugRequest, Listening, debug_invoke
from stratus.invoke.records import InvocationResult
from stratus.invoke.target import Target


class SessionConflict(ClientError):
    code = "ResourceConflictException"
    status = 409


@dataclass(frozen=True)
class Ended:
    """What the holder is told when one of the session's invocations ends."""

    request_id: str
    function_error: str | None


Tell = Callable[[Listening | Ended], Awaitable[None]]


def runs_in_session(qualifier: str | None) -> bool:
    """Whether an invocation with this qualifier runs $LATEST, the code a session debugs."""
    return not qualifier or qualifier == LATEST


class Session:
    def __init__(
        self, wait_timeout: float, owner_uid: int, listener: socket.socket, scratch: Path, tell: Tell
    ) -> None:
        self.wait_timeout = wait_timeout
        self.owner_uid = owner_uid
        self.listener = listener
        self.port: int = listener.getsockname()[1]
        self._scratch = scratch
        self._tell = tell
        self._turn = asyncio.Lock()
        self.closed = False

    async def invoke(
        self, invoker: Any, target: Target, payload: bytes, request_id: str | None
    ) -> InvocationResult | None:
        """Run one invocation under the debugger, after those before it; None when the session
        closed before its turn came (the caller then runs it as usual)."""
        async with self._turn:
            if self.closed:
                return None
            request = DebugRequest(self.wait_timeout, self.owner_uid, self.port)
            told: list[str] = []

            async def announce(listening: Listening) -> None:
                told.append(listening.request_id)
                try:
                    await self._tell(listening)
                except Exception:
                    self.closed = True  # nobody will attach: this one runs on without waiting

            result = await debug_invoke(
                invoker,
                target,
                payload,
                request,
                self._scratch,
                announce,
                # A session closed while its invocation is paused stops it, as a single debug
                # invocation's caller going away does: nobody would see it end.
                lambda: self.closed,
                listener=self.listener,
                request_id=request_id,
            )
            if told and not self.closed:
                try:
                    await self._tell(Ended(told[0], result.function_error))
                except Exception:
                    self.closed = True
            return result

    async def finish(self) -> None:
        """Wait until the invocation running under the session, told to stop by `closed`, is
        gone, so its relay no longer uses the port when it closes."""
        async with self._turn:
            pass


class DebugSessions:
    """The open sessions, by function; owned by the invoke service, which asks `find` on every
    invocation (a dict lookup while any session is open, one truth test otherwise)."""

    def __init__(self) -> None:
        self.sessions: dict[FunctionKey, Session] = {}

    def find(self, key: FunctionKey, qualifier: str | None) -> Session | None:
        session = self.sessions.get(key)
        if session is None or session.closed or not runs_in_session(qualifier):
            return None
        return session

    @contextlib.asynccontextmanager
    async def open(
        self, key: FunctionKey, request: DebugRequest, scratch: Path, tell: Tell
    ) -> AsyncIterator[Session]:
        """A session for the function while the block runs. Raises SessionConflict when one is
        open already, OSError when the port is taken."""
        held = self.sessions.get(key)
        if held is not None and not held.closed:
            raise SessionConflict(
                f"Function {key.name} is already being debugged by another session "
                f"(port {held.port}); stop that one first."
            )
        listener = host_listener(request.host_port)
        session = Session(request.wait_timeout, request.owner_uid, listener, scratch, tell)
        self.sessions[key] = session
        try:
            yield session
        finally:
            session.closed = True
            if self.sessions.get(key) is session:
                del self.sessions[key]
            await session.finish()
            listener.close()
