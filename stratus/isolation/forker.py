"""The server's side of a forking parent: what a zygote's client and a template's share.

Contract:
1. A `Forker` owns one control socket to a process that forks environments on request (a
   zygote, `zygote.py`, or a snapshot template, `templates.py`). Its messages are read by a
   reader callback on the event loop, so no task is needed; the subclass decodes them
   (`_on_data`) and hands each answer to `_forked` and each exit report to `_exited`.
2. `_fork` sends one request with the descriptors the child inherits and returns the child's
   pid once the parent answers; from then on `wait(pid)` returns its exit code, once. When the
   socket's buffer is full (a burst of a thousand new environments), requests wait their turn
   in order, and are sent as the parent reads; one cancelled meanwhile is never sent (its
   descriptors are closed by then).
3. When the parent dies (its socket reads end-of-file) or is closed, `alive` becomes False,
   every pending fork fails with the subclass's error, and every child it had is reported
   killed (they die with it: PDEATHSIG).
4. All of it runs on the event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
from collections import deque
from collections.abc import Callable

from stratus.isolation.exits import ExitReports


class Forker:
    def __init__(self) -> None:
        self._sock: socket.socket | None = None
        self._forks: dict[int, asyncio.Future[int]] = {}  # by request id, oldest first
        self._next_id = 0
        self._exits = ExitReports()
        # Requests the full socket did not take yet, in order: (message, fds, sent).
        self._outbox: deque[tuple[bytes, list[int], asyncio.Future[None]]] = deque()
        self.alive = False

    # -- what subclasses provide -------------------------------------------------------------

    def _on_data(self, data: bytes) -> None:
        """Decode what the parent wrote and act on it."""
        raise NotImplementedError

    def _unreachable(self, error: OSError) -> Exception:
        """The error a fork request gets when the socket refuses it."""
        raise NotImplementedError

    def _died(self) -> Exception:
        """The parent is gone: settle the subclass's own waiters; returns the error pending
        forks get."""
        raise NotImplementedError

    # -- the shared client -----------------------------------------------------------------------

    def _listen(self, sock: socket.socket) -> None:
        self._sock = sock
        self.alive = True
        asyncio.get_running_loop().add_reader(sock.fileno(), self._on_readable)

    async def _fork(self, encode: Callable[[int], bytes], fds: list[int]) -> int:
        """Send the request `encode` makes from its id, passing `fds`; the child's pid."""
        assert self._sock is not None
        self._next_id += 1
        request_id = self._next_id
        future: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._forks[request_id] = future
        try:
            await self._send(encode(request_id), fds)
        except OSError as e:
            self._forks.pop(request_id, None)
            raise self._unreachable(e) from None
        except BaseException:
            self._forks.pop(request_id, None)
            raise
        pid = await future
        self._exits.expect(pid)
        return pid

    async def _send(self, message: bytes, fds: list[int]) -> None:
        """Send at once if nothing waits and the socket takes it; else wait in line."""
        assert self._sock is not None
        if not self._outbox:
            try:
                socket.send_fds(self._sock, [message], fds)
                return
            except (BlockingIOError, InterruptedError):
                pass
        if not self.alive:
            raise ConnectionError("the parent is gone")
        loop = asyncio.get_running_loop()
        sent: asyncio.Future[None] = loop.create_future()
        self._outbox.append((message, fds, sent))
        if len(self._outbox) == 1:
            loop.add_writer(self._sock.fileno(), self._drain)
        await sent

    def _drain(self) -> None:
        sock = self._sock
        while self._outbox and sock is not None:
            message, fds, sent = self._outbox[0]
            if sent.done():  # cancelled: its descriptors may be closed, or reused, by now
                self._outbox.popleft()
                continue
            try:
                socket.send_fds(sock, [message], fds)
            except (BlockingIOError, InterruptedError):
                return  # called again when the socket is writable
            except OSError as e:
                sent.set_exception(e)
            else:
                sent.set_result(None)
            self._outbox.popleft()
        self._stop_draining()

    def _stop_draining(self) -> None:
        if self._sock is not None:
            with contextlib.suppress(Exception):
                asyncio.get_running_loop().remove_writer(self._sock.fileno())

    async def wait(self, pid: int) -> int:
        """The exit code of a child this parent forked (-SIGKILL if the parent died first)."""
        return await self._exits.wait(pid)

    def _forked(self, request_id: int | None, pid: int | None, error: Exception | None) -> None:
        """The parent answered a fork request (`request_id`, or the oldest when its answers
        carry none, since it answers in order): the child's pid, or why it could not fork."""
        if request_id is None:
            if not self._forks:
                return
            request_id = next(iter(self._forks))
        waiter = self._forks.pop(request_id, None)
        if waiter is None or waiter.done():
            return
        if error is not None:
            waiter.set_exception(error)
        else:
            assert pid is not None
            waiter.set_result(pid)

    def _exited(self, pid: int, code: int) -> None:
        self._exits.report(pid, code)

    def _on_readable(self) -> None:
        assert self._sock is not None
        try:
            data = self._sock.recv(1 << 16)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            self._on_death()
            return
        self._on_data(data)

    def _on_death(self) -> None:
        if not self.alive:
            return
        self.alive = False
        if self._sock is not None:
            with contextlib.suppress(Exception):
                asyncio.get_running_loop().remove_reader(self._sock.fileno())
        error = self._died()
        self._stop_draining()
        while self._outbox:
            _, _, sent = self._outbox.popleft()
            if not sent.done():
                sent.set_exception(ConnectionError("the parent is gone"))
        for waiter in self._forks.values():
            if not waiter.done():
                waiter.set_exception(error)
        self._forks.clear()
        self._exits.parent_died()


def kill_quietly(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(pid, signal.SIGKILL)


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
