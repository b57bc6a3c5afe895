"""A debug invocation (`stratus invoke NAME --debug`): one invocation in an environment of its
own, with a debugger in it that the caller attaches to through a host loopback port.

Contract:
1. The environment is fresh, runs this invocation only and is stopped after it
   (`InvokeService.invoke_alone`); it never forks from a SnapStart template.
2. Python: debugpy listens inside it (its adapter in-process), on the environment's own loopback
   (runtimes/pyboot/stratus_debug.py); debugpy comes from the server's installation, copied once
   under the data dir and bound read-only into the environment's /opt/python with its layers
   (the Linux backend), or put on its path (the process backend). Node.js: `node --inspect`.
3. The caller is told the port first (`announce`); the invocation waits until a client has
   attached or `wait_timeout` has passed, then runs either way. debugpy waits itself, inside
   the environment's init, until the client's configurationDone (its breakpoints applied:
   `debugpy.wait_for_client`); for Node the event is held at a gate here until a client sends
   Runtime.runIfWaitingForDebugger in an inspector session (its breakpoints are set by then).
4. Paused time does not count against the function's timeout: the invocation's deadline moves
   later by every second the program spent paused (debugpy: from a `stopped` event to the next
   continue, step or `continued`; Node: from a Debugger.paused event to the next
   Debugger.resumed; either: at most until the client disconnects), and if the deadline passes
   while paused it is checked again when the program resumes. The init timeout gets the same
   treatment, and is lengthened by `wait_timeout`. The deadline the function itself reads
   (`context.get_remaining_time_in_millis()`) is the one it was given, and is not moved.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import dataclasses
import json
import os
import shutil
import socket
import threading
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stratus.control.keys import FunctionKey
from stratus.errors import ClientError, ServiceError
from stratus.invoke.debug_relay import LOOPBACK, Relay
from stratus.invoke.launch import LaunchPlan
from stratus.invoke.records import InvocationResult
from stratus.invoke.sandbox import Sandbox
from stratus.invoke.target import Target

ENV_PORT = {"dap": 5678, "inspector": 9229}  # inside the environment's own namespace
MAX_WAIT_S = 3600.0
CONNECT_RETRY_S = 0.05
CALLER_CHECK_S = 1.0  # how often a running debug invocation looks whether its caller is still there
CLONE_NEWNET = 0x40000000


class NotDebuggable(ClientError):
    code = "InvalidParameterValueException"


@dataclass(frozen=True)
class DebugRequest:
    wait_timeout: float  # seconds to wait for an attach before the event runs anyway
    owner_uid: int  # the local user whose connections may attach
    host_port: int = 0  # the host loopback port to listen on (0: any free one)


@dataclass(frozen=True)
class Listening:
    """What the caller is told before the invocation runs."""

    port: int
    protocol: str  # "dap" or "inspector"
    runtime: str
    remote_root: str  # the handler's directory as the debugger sees it (pathMappings)
    wait_timeout: float
    request_id: str


def protocol_for(runtime: str) -> str | None:
    """The debugger a runtime gets: debugpy's DAP for Python, the inspector for Node.js."""
    if runtime.startswith("python"):
        return "dap"
    if runtime.startswith("nodejs"):
        return "inspector"
    return None


def debug_plan(
    plan: LaunchPlan, protocol: str, port: int, debugpy_path: str | None, wait: float = 0.0
) -> LaunchPlan:
    """The launch plan of a debug environment: debugpy marked for the Python boot (which waits
    up to `wait` seconds for a client), or node with its inspector on `port` of the
    environment's loopback."""
    if protocol == "dap":
        settings: dict[str, Any] = {"port": port, "wait": wait}
        if debugpy_path is not None:
            settings["path"] = debugpy_path
        return dataclasses.replace(plan, env={**plan.env, "_STRATUS_DEBUG": json.dumps(settings)})

    def inspecting(argv: tuple[str, ...]) -> tuple[str, ...]:
        return (argv[0], f"--inspect={LOOPBACK}:{port}", *argv[1:]) if argv else argv

    return dataclasses.replace(plan, argv=inspecting(plan.argv), exec_argv=inspecting(plan.exec_argv))


def not_debuggable(runtime: str) -> NotDebuggable:
    return NotDebuggable(f"The runtime {runtime} has no debugger here; Python and Node.js runtimes do.")


EXPIRED = -1.0


def deadline_step(due: float, paused: bool, held_total: float, credited: float) -> float | None:
    """What to do when a debug invocation's timer runs out at `due` (loop time): None while the
    program is paused (decide again when it resumes, from the same `due`), EXPIRED when no paused
    time is owed to it, else the later time its deadline moves to: `due` plus the paused seconds
    not yet credited (`held_total - credited`)."""
    if paused:
        return None
    owed = held_total - credited
    return due + owed if owed > 0 else EXPIRED


class DebugSandbox(Sandbox):
    """An environment whose event waits at a gate, and whose deadlines skip paused time."""

    def __init__(self, *args: Any, gated: bool, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._gate_open = not gated
        self._held_since: float | None = None
        self._held_total = 0.0
        self._credited = 0.0
        self._overdue_at: float | None = None
        self.attached_once = False

    # -- what the relay reports ----------------------------------------------------------------

    def attached(self) -> None:
        self.attached_once = True
        self.open_gate()

    def paused(self) -> None:
        if self._held_since is None:
            self._held_since = asyncio.get_running_loop().time()

    def resumed(self) -> None:
        if self._held_since is None:
            return
        self._held_total += asyncio.get_running_loop().time() - self._held_since
        self._held_since = None
        if self._overdue_at is not None:
            base, self._overdue_at = self._overdue_at, None
            self._on_timeout(base)

    def open_gate(self) -> None:
        if not self._gate_open:
            self._gate_open = True
            if self.usable:
                self._deliver()

    # -- the sandbox's hooks ------------------------------------------------------------------

    def _deliver(self) -> None:
        if not self._gate_open:
            return
        current = self._current
        before = current.delivered_at if current is not None else 0.0
        super()._deliver()
        if current is not None and current.delivered_at and not before:
            self._credited = self._held_total  # the function's timeout starts afresh here

    def _on_not_ready(self) -> None:
        if self._gate_open:  # before, the event waits at the gate, not for the runtime
            super()._on_not_ready()

    def _on_timeout(self, base: float | None = None) -> None:
        current = self._current
        self._timer = None
        if current is None or current.done.done():
            return
        loop = asyncio.get_running_loop()
        base = loop.time() if base is None else base
        step = deadline_step(base, self._held_since is not None, self._held_total, self._credited)
        if step is None:
            self._overdue_at = base  # looked at again when the program resumes
        elif step == EXPIRED:
            super()._on_timeout()
        else:
            self._credited = self._held_total
            self._timer = loop.call_at(step, self._on_timeout)

    # -- reaching the debugger inside -----------------------------------------------------------

    async def connect_debugger(self, port: int, patience: float) -> socket.socket:
        """A socket connected to the debugger in the environment, retried while the environment
        is still starting it. Raises OSError."""
        loop = asyncio.get_running_loop()
        give_up = loop.time() + patience
        while True:
            proc: Any = self._proc
            net = getattr(getattr(proc, "blank", None), "net", None)
            if proc is not None:
                sock = _socket_in(net.netns_fd) if net is not None else _plain_socket()
                sock.setblocking(False)
                try:
                    await loop.sock_connect(sock, (LOOPBACK, port))
                    return sock
                except OSError:
                    sock.close()
            if (self._proc is not None and not self.usable) or loop.time() > give_up:
                raise OSError("the environment's debugger is not listening")
            await asyncio.sleep(CONNECT_RETRY_S)


def _plain_socket() -> socket.socket:
    return socket.socket(socket.AF_INET, socket.SOCK_STREAM)


_libc = ctypes.CDLL(None, use_errno=True)


def _setns(fd: int) -> None:
    if _libc.setns(fd, CLONE_NEWNET) != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"setns: {os.strerror(errno)}")


def _socket_in(netns_fd: int) -> socket.socket:
    """A TCP socket of the environment's network namespace (a socket stays in the namespace it
    was made in), made by a thread of its own: setns moves only the calling thread, and a thread
    that could not move back ends with it."""
    made: list[socket.socket] = []
    failed: list[OSError] = []

    def inside() -> None:
        try:
            home = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
            try:
                _setns(netns_fd)
                try:
                    made.append(_plain_socket())
                finally:
                    _setns(home)
            finally:
                os.close(home)
        except OSError as e:
            failed.append(e)

    thread = threading.Thread(target=inside, name="stratus-debug-netns")
    thread.start()
    thread.join()
    if failed or not made:
        for sock in made:
            sock.close()
        raise failed[0] if failed else OSError("no socket")
    return made[0]


# -- debugpy for the environment -------------------------------------------------------------------


def debugpy_tree(scratch: Path) -> Path:
    """A directory holding the server's debugpy package, copied once under `scratch` (readable
    by every environment's user). Blocking."""
    import debugpy

    source = Path(debugpy.__file__).resolve().parent
    target = scratch / f"debugpy-{debugpy.__version__}"
    if (target / "python" / "debugpy").is_dir():
        return target / "python"
    scratch.mkdir(parents=True, exist_ok=True)
    tmp = scratch / f".copy-{uuid.uuid4().hex}"
    try:
        shutil.copytree(source, tmp / "python" / "debugpy", ignore=shutil.ignore_patterns("__pycache__"))
        _readable(tmp)
        try:
            os.rename(tmp, target)
        except OSError:
            if not target.is_dir():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target / "python"


def opt_with_debugpy(layers: str | None, tree: Path, scratch: Path) -> Path:
    """A per-invocation /opt: the function's layers with debugpy in python/, made of hard links
    where it can (the same file system), copies otherwise. Blocking."""
    target = scratch / f"opt-{uuid.uuid4().hex}"
    copy = _link_or_copy
    if layers:
        shutil.copytree(layers, target, copy_function=copy, symlinks=True)
    shutil.copytree(tree, target / "python", dirs_exist_ok=True, copy_function=copy)
    _readable(target)
    return target


def _link_or_copy(source: str, target: str) -> None:
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


def _readable(root: Path) -> None:
    for dirpath, _, _ in os.walk(root):
        os.chmod(dirpath, 0o755)


# -- the invocation ---------------------------------------------------------------------------------


async def debug_invoke(
    invoker: Any,  # InvokeService (resolve, invoke_alone): Any keeps this module below it
    target: Target,
    payload: bytes,
    request: DebugRequest,
    scratch: Path,
    announce: Callable[[Listening], Awaitable[None]],
    gone: Callable[[], bool] = lambda: False,
    *,
    listener: socket.socket | None = None,
    request_id: str | None = None,
) -> InvocationResult:
    """Run one debug invocation; `announce` is awaited once the port is listening (if it
    raises, the invocation is stopped), and the invocation is stopped too once `gone()` says
    the caller went away (a debugger could otherwise hold it paused with nobody to see it end).
    With a `listener` (a debug session's), the debugger is reached through it rather than
    through a port of the invocation's own. Raises StratusError for what is refused, and
    OSError when the requested port is taken."""
    config = invoker.resolve(FunctionKey(target.region, target.name), target.qualifier)
    protocol = protocol_for(config.runtime)
    if protocol is None:
        raise not_debuggable(config.runtime)
    wait = max(0.0, min(request.wait_timeout, MAX_WAIT_S))
    request_id = request_id or str(uuid.uuid4())
    loop = asyncio.get_running_loop()
    made: list[DebugSandbox] = []
    own_opt: list[Path] = []
    where = _Where(ENV_PORT[protocol], "", wait)
    tree = await asyncio.to_thread(debugpy_tree, scratch) if protocol == "dap" else None

    def make(config: Any, region: str, plan: LaunchPlan, backend: Any, logs: Any, **kw: Any) -> Sandbox:
        path = None
        if backend.name == "linux":
            if tree is not None:
                # Hard links of about 500 files, on the loop: a few milliseconds, once per debug
                # invocation, never on the normal path.
                own_opt.append(opt_with_debugpy(kw.get("opt_dir"), tree, scratch))
                kw["opt_dir"] = str(own_opt[0])
        else:  # the environment shares the host's network and files
            where.port = _free_port()
            path = str(tree) if tree is not None else None
        kw["init_timeout"] = kw["init_timeout"] + wait
        where.patience = kw["init_timeout"]
        where.root = backend.task_root(Path(kw["code_dir"]))
        plain = dataclasses.replace(config, snap_start="None", snap_latest=False)
        launch = debug_plan(plan, protocol, where.port, path, wait)
        # debugpy waits for its client itself, in the environment's init, until its breakpoints
        # are applied (a gate here, opened when its answer to configurationDone passes, let the
        # event run past breakpoints it had answered but not yet applied); node does not wait:
        # its event waits at the gate until the client's Runtime.runIfWaitingForDebugger.
        sandbox = DebugSandbox(plain, region, launch, backend, logs, gated=protocol != "dap", **kw)
        made.append(sandbox)
        return sandbox

    class _Watch:  # a client may connect before the environment exists
        def attached(self) -> None:
            if made:
                made[0].attached()

        def paused(self) -> None:
            if made:
                made[0].paused()

        def resumed(self) -> None:
            if made:
                made[0].resumed()

    async def connect() -> socket.socket:
        while not made:
            await asyncio.sleep(CONNECT_RETRY_S)
        return await made[0].connect_debugger(where.port, where.patience)

    relay = Relay(protocol, request.owner_uid, connect, _Watch(), request.host_port, listener)
    outcome: list[InvocationResult] = []
    failure: list[BaseException] = []
    gate: asyncio.TimerHandle | None = None
    try:
        async with asyncio.TaskGroup() as tasks:
            relay_task = tasks.create_task(relay.run())
            work = invoker.invoke_alone(target, payload, make, request_id=request_id)
            running = tasks.create_task(_kept(work, outcome, failure))
            await asyncio.sleep(0)  # `make` runs in the task's first step, before it awaits
            if made:
                gate = loop.call_later(wait, made[0].open_gate)
                told = Listening(relay.port, protocol, config.runtime, where.root, wait, request_id)
                try:
                    await announce(told)
                except Exception as e:  # the caller is gone: nobody will attach or read the result
                    failure.append(e)
                    running.cancel()
            while not running.done():
                await asyncio.wait([running], timeout=CALLER_CHECK_S)
                if not running.done() and gone():
                    failure.append(ServiceError("The caller of the debug invocation went away."))
                    running.cancel()
                    await asyncio.wait([running])
            relay_task.cancel()
    finally:
        relay.close()
        if gate is not None:
            gate.cancel()
        for path in own_opt:
            await asyncio.to_thread(shutil.rmtree, path, True)
    if failure:
        raise failure[0]
    return outcome[0]


@dataclass
class _Where:
    """Where the environment's debugger listens, known once the environment is made."""

    port: int
    root: str
    patience: float


async def _kept(
    work: Awaitable[InvocationResult], outcome: list[InvocationResult], failure: list[BaseException]
) -> None:
    """Its result or its error kept, so that a refusal leaves the task group as itself."""
    try:
        outcome.append(await work)
    except Exception as e:
        failure.append(e)


def _free_port() -> int:
    with contextlib.closing(socket.socket()) as s:
        s.bind((LOOPBACK, 0))
        return int(s.getsockname()[1])
