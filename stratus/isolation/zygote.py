"""The server's side of one zygote: its process and its control socket.

The zygote (`runtimes/pyboot/stratus_zygote.py`) forks environments on request. This object
starts it, sends spawn requests (JSON over a SOCK_SEQPACKET socket, one message each) and routes
the zygote's answers and exit reports through its `Forker` base (`forker.py`), which owns the
socket's reader; if the zygote dies, every waiter is failed or told its environment is gone.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import socket
from pathlib import Path
from typing import Any

from stratus.errors import ServiceError
from stratus.isolation.forker import Forker
from stratus.runtimes.node import BOOT_DIR as NODE_BOOT_DIR
from stratus.runtimes.python import BOOT_DIR, PythonRuntime

log = logging.getLogger("stratus.zygote")
READY_TIMEOUT = 30.0


class ZygoteError(ServiceError):
    """An environment could not be created: the client gets a ServiceException."""


class Zygote(Forker):
    def __init__(self, runtime: PythonRuntime, root: Path) -> None:
        super().__init__()
        self.runtime = runtime
        self._root = root
        self._proc: asyncio.subprocess.Process | None = None
        self._ready: asyncio.Future[int] | None = None
        self._output: _OutputLog | None = None

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
        self._ready = loop.create_future()
        self._listen(ours)
        try:
            await asyncio.wait_for(asyncio.shield(self._ready), READY_TIMEOUT)
        except (TimeoutError, ZygoteError):
            self.close()
            raise ZygoteError(f"the {self.runtime.name} zygote did not start") from None

    async def spawn(self, request: dict[str, Any], fds: list[int]) -> int:
        """Fork an environment; returns its pid (in the server's PID namespace)."""
        if not self.alive or self._sock is None:
            raise ZygoteError(f"the {self.runtime.name} zygote is not running")
        return await self._fork(lambda request_id: json.dumps({**request, "id": request_id}).encode(), fds)

    def _on_data(self, data: bytes) -> None:
        message = json.loads(data)
        if "ready" in message and self._ready is not None and not self._ready.done():
            self._ready.set_result(int(message["ready"]))
        elif "exit" in message:
            self._exited(int(message["exit"]), int(message["code"]))
        elif "id" in message:
            if "error" in message:
                self._forked(int(message["id"]), None, ZygoteError(str(message["error"])))
            else:
                self._forked(int(message["id"]), int(message["pid"]), None)

    def _unreachable(self, error: OSError) -> Exception:
        return ZygoteError(f"cannot reach the {self.runtime.name} zygote: {error}")

    def _died(self) -> Exception:
        log.warning("the %s zygote exited", self.runtime.name)
        error = ZygoteError(f"the {self.runtime.name} zygote exited")
        if self._ready is not None and not self._ready.done():
            self._ready.set_exception(error)
        return error

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
