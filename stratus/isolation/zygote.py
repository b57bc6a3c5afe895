"""The server's side of one zygote: its process and its control socket.

The zygote (`runtimes/pyboot/stratus_zygote.py`) forks environments on request. This object
owns the socket: it sends spawn requests, and routes the zygote's answers and exit reports to
the futures that wait for them. Messages are read by a reader callback on the event loop, so no
task is needed; if the zygote dies, every waiter is failed or told its environment is gone.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
import socket
from pathlib import Path
from typing import Any

from stratus.errors import ServiceError
from stratus.isolation.exits import ExitReports
from stratus.runtimes.node import BOOT_DIR as NODE_BOOT_DIR
from stratus.runtimes.python import BOOT_DIR, PythonRuntime

log = logging.getLogger("stratus.zygote")
READY_TIMEOUT = 30.0


class ZygoteError(ServiceError):
    """An environment could not be created: the client gets a ServiceException."""


class Zygote:
    def __init__(self, runtime: PythonRuntime, root: Path) -> None:
        self.runtime = runtime
        self._root = root
        self._sock: socket.socket | None = None
        self._proc: asyncio.subprocess.Process | None = None
        self._ready: asyncio.Future[int] | None = None
        self._spawns: dict[int, asyncio.Future[int]] = {}
        self._exits = ExitReports()
        self._next_id = 0
        self._output: _OutputLog | None = None
        self.alive = False

    def extra_paths(self) -> list[str]:
        """Host paths every environment of this runtime needs, bound read-only into its root."""
        prefix = self.runtime.interpreter.parent.parent
        # The whole runtime cache: this interpreter's client and the other runtimes' (Java's).
        cache = self.runtime.client_dir.parent
        return [str(prefix), str(cache), str(BOOT_DIR), str(NODE_BOOT_DIR)]

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self._root.mkdir(parents=True, exist_ok=True)
        env = {
            "PATH": "/usr/local/bin:/usr/bin:/bin",
            "LANG": "en_US.UTF-8",
            "PYTHONPATH": self.runtime.python_path(),
            "PYTHONDONTWRITEBYTECODE": "1",
        }
        # Its output goes to a pipe the server reads, never to the server's own stdout: every
        # environment is forked from this process, and must not find the server's log there.
        out_r, out_w = os.pipe()
        os.set_blocking(out_r, False)
        try:
            self._proc = await asyncio.create_subprocess_exec(
                str(self.runtime.interpreter), "-S", "-m", "stratus_zygote", str(theirs.fileno()),
                pass_fds=[theirs.fileno()], env=env, cwd="/", stdin=asyncio.subprocess.DEVNULL,
                stdout=out_w, stderr=out_w,
            )
        except BaseException:
            os.close(out_r)
            raise
        finally:
            theirs.close()
            os.close(out_w)
        self._output = _OutputLog(out_r, f"zygote {self.runtime.name}")
        loop.add_reader(out_r, self._output.read)
        ours.send(json.dumps({"root": str(self._root), "extra_paths": self.extra_paths()}).encode())
        self._sock = ours
        self._ready = loop.create_future()
        self.alive = True
        loop.add_reader(ours.fileno(), self._on_readable)
        try:
            await asyncio.wait_for(asyncio.shield(self._ready), READY_TIMEOUT)
        except (TimeoutError, ZygoteError):
            self.close()
            raise ZygoteError(f"the {self.runtime.name} zygote did not start") from None

    async def spawn(self, request: dict[str, Any], fds: list[int]) -> int:
        """Fork an environment; returns its pid (in the server's PID namespace)."""
        if not self.alive or self._sock is None:
            raise ZygoteError(f"the {self.runtime.name} zygote is not running")
        self._next_id += 1
        request_id = self._next_id
        future: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._spawns[request_id] = future
        payload = json.dumps({**request, "id": request_id}).encode()
        try:
            socket.send_fds(self._sock, [payload], fds)
        except OSError as e:
            self._spawns.pop(request_id, None)
            raise ZygoteError(f"cannot reach the {self.runtime.name} zygote: {e}") from None
        pid = await future
        self._exits.expect(pid)
        return pid

    async def wait(self, pid: int) -> int:
        return await self._exits.wait(pid)

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
        message = json.loads(data)
        if "ready" in message and self._ready is not None and not self._ready.done():
            self._ready.set_result(int(message["ready"]))
        elif "exit" in message:
            pid = int(message["exit"])
            self._exits.report(pid, int(message["code"]))
        elif "id" in message:
            waiter = self._spawns.pop(int(message["id"]), None)
            if waiter is not None and not waiter.done():
                if "error" in message:
                    waiter.set_exception(ZygoteError(str(message["error"])))
                else:
                    waiter.set_result(int(message["pid"]))

    def _on_death(self) -> None:
        if not self.alive:
            return
        self.alive = False
        log.warning("the %s zygote exited", self.runtime.name)
        if self._sock is not None:
            with contextlib.suppress(Exception):
                asyncio.get_running_loop().remove_reader(self._sock.fileno())
        error = ZygoteError(f"the {self.runtime.name} zygote exited")
        if self._ready is not None and not self._ready.done():
            self._ready.set_exception(error)
        for waiter in self._spawns.values():
            if not waiter.done():
                waiter.set_exception(error)
        self._spawns.clear()
        self._exits.parent_died()

    def close(self) -> None:
        self._on_death()
        if self._output is not None:
            with contextlib.suppress(Exception):
                asyncio.get_running_loop().remove_reader(self._output.fd)
            self._output.close()
            self._output = None
        if self._proc is not None and self._proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self._proc.kill()
        if self._sock is not None:
            self._sock.close()
            self._sock = None


def kill_quietly(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(pid, signal.SIGKILL)


class _OutputLog:
    """A zygote's own output (preload warnings, tracebacks), read from its pipe into the
    server's log, a bounded line at a time."""

    MAX_LINE = 4096

    def __init__(self, fd: int, who: str) -> None:
        self.fd = fd
        self._who = who
        self._partial = b""

    def read(self) -> None:
        try:
            data = os.read(self.fd, 65536)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            with contextlib.suppress(Exception):
                asyncio.get_running_loop().remove_reader(self.fd)
            return
        *lines, self._partial = (self._partial + data).split(b"\n")
        if len(self._partial) > self.MAX_LINE:
            lines.append(self._partial)
            self._partial = b""
        for line in lines:
            if line.strip():
                log.warning("%s: %s", self._who, line[: self.MAX_LINE].decode(errors="replace"))

    def close(self) -> None:
        with contextlib.suppress(OSError):
            os.close(self.fd)
