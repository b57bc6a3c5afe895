"""A fake isolation backend for component tests.

Each environment is an asyncio task in the caller's event loop that speaks the Lambda Runtime
API over real HTTP, like a runtime client would, and calls a Python handler that the test
registers by name (the function's `_HANDLER`). A handler is `async (event, request_id) -> dict`;
it may raise (the invoke fails with that error), sleep, `log(...)` a line to the environment's
output, or `crash(code)` to end the environment with that return code (negative: a signal).
A handler name missing from the registry is an init failure: the fake posts
`/runtime/init/error` with a `Runtime.ImportModuleError` and exits 1, as awslambdaric does.
"""

from __future__ import annotations

import asyncio
import contextvars
import dataclasses
import itertools
import json
import os
import socket
import traceback
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, NoReturn

import aiohttp

from stratus.isolation.backend import RUNTIME_API_ENV, ExitStatus, SandboxSpec, listen_loopback

Handler = Callable[[dict[str, Any], str], Awaitable[dict[str, Any]]]

_pids = itertools.count(900_000)
_current: contextvars.ContextVar[FakeProcess] = contextvars.ContextVar("fake_process")


class Crash(BaseException):
    """Ends the fake runtime with `code`; a BaseException so handlers' `except Exception`
    cannot swallow it."""

    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


def crash(code: int) -> NoReturn:
    raise Crash(code)


def log(line: str) -> None:
    """Write a line to the output of the environment running the calling handler."""
    _current.get().write(line)


class FakeProcess:
    def __init__(self, spec: SandboxSpec, handlers: dict[str, Handler]) -> None:
        self._listener, address = listen_loopback()
        spec = dataclasses.replace(spec, env={**spec.env, RUNTIME_API_ENV: address})
        self.spec = spec
        self.handled: list[str] = []  # request ids, in order
        self.events: list[Any] = []  # the events, in the same order
        self._handlers = handlers
        self._pid = next(_pids)
        self._read_fd, self._write_fd = os.pipe()
        os.set_blocking(self._read_fd, False)
        os.set_blocking(self._write_fd, False)
        self._killed = False
        self._closed = False
        loop = asyncio.get_running_loop()
        self._exit: asyncio.Future[ExitStatus] = loop.create_future()
        self._task = loop.create_task(self._main(), name=f"fake-runtime-{spec.sandbox_id}")
        self._task.add_done_callback(self._ended)

    @property
    def pid(self) -> int:
        return self._pid

    @property
    def output_fd(self) -> int:
        return self._read_fd

    @property
    def runtime_listener(self) -> socket.socket:
        return self._listener

    @property
    def exited(self) -> bool:
        return self._exit.done()

    async def wait(self) -> ExitStatus:
        return await asyncio.shield(self._exit)

    def kill(self) -> None:
        if not self._task.done():
            self._killed = True
            self._task.cancel()

    def initialized(self) -> None:
        pass  # no init boost here

    def max_memory_bytes(self) -> int:
        return 0

    def cleanup(self) -> None:
        self.kill()
        if self._closed:
            return
        self._closed = True
        self._listener.close()
        for fd in (self._read_fd, self._write_fd):
            try:
                os.close(fd)
            except OSError:
                pass

    def write(self, line: str) -> None:
        if self._closed:
            return
        try:
            os.write(self._write_fd, (line + "\n").encode())
        except OSError:  # a full pipe or a reader that went away: the line is lost
            pass

    def _ended(self, task: asyncio.Task[int]) -> None:
        if task.cancelled() or self._killed:
            status = ExitStatus(-9)
        elif (error := task.exception()) is not None:
            self.write("".join(traceback.format_exception(error)).rstrip())
            status = ExitStatus(1)
        else:
            status = ExitStatus(task.result())
        if not self._exit.done():
            self._exit.set_result(status)

    async def _main(self) -> int:
        _current.set(self)
        base = f"http://{self.spec.env['AWS_LAMBDA_RUNTIME_API']}/2018-06-01/runtime"
        name = self.spec.env.get("_HANDLER", "")
        timeout = aiohttp.ClientTimeout(total=None)
        async with aiohttp.ClientSession(timeout=timeout) as http:
            handler = self._handlers.get(name)
            if handler is None:
                module = name.rpartition(".")[0] or name
                error = {
                    "errorMessage": f"Unable to import module '{module}': No module named '{module}'",
                    "errorType": "Runtime.ImportModuleError",
                    "requestId": "",
                    "stackTrace": [],
                }
                self.write(f"[ERROR] Runtime.ImportModuleError: {error['errorMessage']}")
                await self._post(http, f"{base}/init/error", error, "Runtime.ImportModuleError")
                return 1
            while True:
                async with http.get(f"{base}/invocation/next") as resp:
                    if resp.status != 200:
                        return 1
                    request_id = resp.headers["Lambda-Runtime-Aws-Request-Id"]
                    event = json.loads(await resp.read() or b"null")
                self.handled.append(request_id)
                self.events.append(event)
                try:
                    result = await handler(event, request_id)
                except Crash as stop:
                    return stop.code
                except Exception as e:
                    error = {
                        "errorMessage": str(e),
                        "errorType": type(e).__name__,
                        "requestId": request_id,
                        "stackTrace": traceback.format_tb(e.__traceback__),
                    }
                    self.write(f"[ERROR] {type(e).__name__}: {e}")
                    await self._post(http, f"{base}/invocation/{request_id}/error", error, type(e).__name__)
                    continue
                await self._post(http, f"{base}/invocation/{request_id}/response", result, None)

    @staticmethod
    async def _post(http: aiohttp.ClientSession, url: str, body: Any, error_type: str | None) -> None:
        headers = {"Lambda-Runtime-Function-Error-Type": error_type} if error_type else {}
        async with http.post(url, data=json.dumps(body).encode(), headers=headers) as resp:
            await resp.read()


class FakeBackend:
    name = "fake"

    def __init__(self, handlers: dict[str, Handler]) -> None:
        self.handlers = handlers
        self.processes: list[FakeProcess] = []

    async def spawn(self, spec: SandboxSpec) -> FakeProcess:
        process = FakeProcess(spec, self.handlers)
        self.processes.append(process)
        return process

    def limitations(self) -> list[str]:
        return []

    def task_root(self, code_dir: Path) -> str:
        return str(code_dir)

    async def run(self) -> None:
        return None

    async def prepare(self, spec: SandboxSpec) -> None:
        return None  # no snapshots here: environments of snapshot configurations start cold

    def close(self) -> None:
        for process in self.processes:
            process.kill()

    def live(self) -> list[FakeProcess]:
        return [p for p in self.processes if not p.exited]
