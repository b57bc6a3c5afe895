"""The Linux backend: environments forked from per-runtime zygotes, fully isolated.

Each environment gets its own PID, mount, IPC, UTS and network namespaces (the latter with
loopback, the Runtime API, the Stratus endpoint and NATed egress: see network.py), cgroups for
memory, pids and CPU, a read-only root with the code at /var/task and a private tmpfs /tmp, an
unprivileged uid of its own, `no_new_privs`, no capabilities, and a seccomp filter. It needs
root; `available()` says why it cannot run.

This module holds the blanks (environments forked and confined ahead of time, `Blank`), the
environments made from them (`LinuxSandbox`) and the backend's contract (`LinuxBackend`); the
zygotes' client is `zygote.py`, and SnapStart's templates and parked environments are
`snapshots.py`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import socket
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from stratus.isolation.backend import DEFAULT_TMP_MB, RUNTIME_API_ENV, ExitStatus, SandboxSpec
from stratus.isolation.cgroups import BLANK_MEMORY_MB, EnvironmentGroup, EnvironmentGroups, detect
from stratus.isolation.forker import kill_quietly, pid_alive
from stratus.isolation.memory import MemoryPeak
from stratus.isolation.network import RUNTIME_API_ADDRESS, EnvironmentNet, Networks
from stratus.isolation.snapshots import Snapshots
from stratus.isolation.templates import SnapshotSandbox
from stratus.isolation.uids import UidAllocator
from stratus.isolation.zygote import Zygote, ZygoteError
from stratus.runtimes.python import PythonRuntime

log = logging.getLogger("stratus.isolation")


def available() -> str | None:
    """None if this host can run the Linux backend, else the reason it cannot."""
    if os.geteuid() != 0:
        return "not running as root"
    if not hasattr(os, "pidfd_open") or os.uname().machine not in ("x86_64",):
        return f"unsupported platform {os.uname().machine}"
    if detect() is None:
        return "no memory cgroup controller"
    return None


@dataclass
class Blank:
    """An environment forked and confined ahead of time, waiting for its function."""

    runtime: str
    zygote: Zygote
    pid: int
    output_fd: int  # read end of its stdout+stderr
    assign_fd: int  # write end of its assignment pipe
    group: EnvironmentGroup
    uid: int
    net: EnvironmentNet
    tmp_mb: int
    channel: socket.socket | None  # the server's end of the private channel, if any
    released: bool = False


class LinuxSandbox:
    def __init__(self, backend: LinuxBackend, blank: Blank, memory_mb: int) -> None:
        self._backend = backend
        self._blank = blank
        self._memory_mb = memory_mb
        self._memory = MemoryPeak(backend.groups.peak_file(blank.group), blank.pid)
        self._cleaned = False

    @property
    def blank(self) -> Blank:
        return self._blank

    @property
    def pid(self) -> int:
        return self._blank.pid

    @property
    def output_fd(self) -> int:
        return self._blank.output_fd

    @property
    def runtime_listener(self) -> socket.socket:
        return self._blank.net.runtime_listener

    @property
    def channel(self) -> socket.socket | None:
        return self._blank.channel

    async def wait(self) -> ExitStatus:
        code = await self._blank.zygote.wait(self._blank.pid)
        return ExitStatus(code, oom_killed=self._backend.groups.oom_killed(self._blank.group))

    def kill(self) -> None:
        # SIGKILL from outside reaches even PID 1 of the environment's namespace.
        kill_quietly(self._blank.pid)

    def initialized(self) -> None:
        self._backend.groups.end_init_boost(self._blank.group, self._memory_mb)

    def max_memory_bytes(self) -> int:
        return self._memory.bytes()  # pages shared with its zygote count (memory.py)

    def cleanup(self) -> None:
        self._memory.close()
        self._backend.discard(self._blank)


class LinuxBackend:
    """Contract: `run()` starts the zygotes and keeps `blanks_per_runtime` blank environments
    ready per runtime; `spawn` takes one (or makes one on the spot when none is ready), gives it
    its limits and its assignment, and returns at once. Cancelling `run()` kills the blanks."""

    name = "linux"

    def __init__(
        self,
        run_dir: Path,
        instance: str,
        runtimes: dict[str, PythonRuntime],
        networks: Networks,
        *,
        blanks_per_runtime: int = 3,
        fast_channel: bool = True,
        max_pids: int | None = None,
        log_sink: Callable[[str, str, str, str], None] | None = None,
    ) -> None:
        layout = detect()
        if layout is None:
            raise RuntimeError("no memory cgroup controller")
        self.groups = EnvironmentGroups(layout, instance, max_pids=max_pids)
        self._networks = networks
        networks.start()
        self._run_dir = run_dir
        self._runtimes = runtimes
        self._zygotes: dict[str, Zygote] = {}
        self._starting: dict[str, asyncio.Future[Zygote]] = {}
        self._uids = UidAllocator(start=int(instance) * 977 if instance.isdigit() else 0)
        self._blanks_per_runtime = blanks_per_runtime
        self._fast_channel = fast_channel
        self._ready: dict[str, deque[Blank]] = {name: deque() for name in runtimes}
        self._refill = asyncio.Event()
        self._snapshots = Snapshots(
            self, self.groups, networks, self._uids, self._refill,
            fast_channel=fast_channel, log_sink=log_sink,
        )

    def limitations(self) -> list[str]:
        notes = []
        missing = {"memory", "pids", "cpu"} - set(self.groups.controllers)
        if missing:
            notes.append(f"cgroup controllers missing: {', '.join(sorted(missing))}")
        return notes + self._networks.limitations()

    def task_root(self, code_dir: Path) -> str:
        return "/var/task"

    async def run(self) -> None:
        try:
            while True:
                for runtime, ready in self._ready.items():
                    while len(ready) < self._blanks_per_runtime:
                        try:
                            ready.append(await self._make_blank(runtime))
                        except ZygoteError as e:
                            log.warning("cannot prepare a %s environment: %s", runtime, e)
                            break
                await self._snapshots.park_all()
                self._refill.clear()
                await self._refill.wait()
        finally:
            for ready in self._ready.values():
                while ready:
                    self.discard(ready.popleft())

    async def _zygote(self, runtime: str) -> Zygote:
        zygote = self._zygotes.get(runtime)
        if zygote is not None and zygote.alive:
            return zygote
        pending = self._starting.get(runtime)
        if pending is not None:
            return await asyncio.shield(pending)
        if runtime not in self._runtimes:
            raise ZygoteError(f"no zygote for runtime {runtime}")
        future: asyncio.Future[Zygote] = asyncio.get_running_loop().create_future()
        self._starting[runtime] = future
        try:
            zygote = Zygote(self._runtimes[runtime], self._run_dir / f"root-{runtime}")
            await zygote.start()
            self._zygotes[runtime] = zygote
            future.set_result(zygote)
            return zygote
        except BaseException as e:
            future.set_exception(e)
            future.exception()  # retrieved: later waiters get it through the shield
            raise
        finally:
            del self._starting[runtime]

    async def _make_blank(self, runtime: str, tmp_mb: int = DEFAULT_TMP_MB) -> Blank:
        zygote = await self._zygote(runtime)
        uid = self._uids.take()
        group = self.groups.create(uuid.uuid4().hex, BLANK_MEMORY_MB)
        out_r, out_w = os.pipe()
        assign_r, assign_w = os.pipe()
        os.set_blocking(out_r, False)
        ours, theirs = socket.socketpair() if self._fast_channel else (None, None)
        fds = [out_w, assign_r] + ([theirs.fileno()] if theirs is not None else [])
        request = {
            "cgroups": group.procs_files, "uid": uid, "runtime_api": RUNTIME_API_ADDRESS, "tmp_mb": tmp_mb
        }
        pid = None
        try:
            pid = await zygote.spawn(request, fds)
            net = await self._networks.attach(pid)
        except BaseException:
            if pid is not None:
                kill_quietly(pid)
            for fd in (out_r, assign_w):
                os.close(fd)
            if ours is not None:
                ours.close()
            self.groups.destroy(group)
            self._uids.release(uid)
            raise
        finally:
            os.close(out_w)
            os.close(assign_r)
            if theirs is not None:
                theirs.close()
        if ours is not None:
            ours.setblocking(False)
        return Blank(runtime, zygote, pid, out_r, assign_w, group, uid, net, tmp_mb, ours)

    async def spawn(self, spec: SandboxSpec) -> LinuxSandbox | SnapshotSandbox:
        if spec.snapshot_key is not None:
            return await self._snapshots.spawn(spec, spec.snapshot_key)
        return await self.spawn_blank(spec)

    async def spawn_blank(self, spec: SandboxSpec, template: bool = False) -> LinuxSandbox:
        """Assign a blank of the spec's runtime (made now if none is ready); a template is a
        blank that runs its init and then waits to fork (`snapshots.py`)."""
        zygote = spec.zygote or spec.runtime
        ready = self._ready.get(zygote)
        blank = None
        while ready:
            candidate = ready.popleft()
            if candidate.zygote.alive and pid_alive(candidate.pid):
                blank = candidate
                break
            self.discard(candidate)
        self._refill.set()
        if blank is None:
            blank = await self._make_blank(zygote, spec.tmp_mb)
        try:
            if spec.network == "none":
                await self._networks.isolate(blank.net)
            self.groups.set_limits(blank.group, spec.memory_mb, initializing=True)
            assignment = {
                "env": {**spec.env, RUNTIME_API_ENV: RUNTIME_API_ADDRESS},
                "code_dir": str(spec.code_dir),
                "handler": spec.handler,
                "tmp_mb": spec.tmp_mb,
                "hostname": "stratus",
                "template": template,
                "bootstraps": list(spec.bootstraps),
                "exec_argv": list(spec.exec_argv),
                "exec_channel": spec.exec_channel,
                "opt_dir": str(spec.opt_dir) if spec.opt_dir else None,
                "app_dir": str(spec.app_dir) if spec.app_dir else None,
            }
            _write_all(blank.assign_fd, json.dumps(assignment).encode())
        except BaseException:
            self.discard(blank)
            raise
        finally:
            with contextlib.suppress(OSError):
                os.close(blank.assign_fd)
            blank.assign_fd = -1
        return LinuxSandbox(self, blank, spec.memory_mb)

    async def prepare(self, spec: SandboxSpec) -> None:
        """Run a snapshot configuration's init now (at publish), as Lambda does."""
        if spec.snapshot_key is not None:
            await self._snapshots.prepare(spec, spec.snapshot_key)

    def discard(self, blank: Blank) -> None:
        """Kill a blank (or a finished environment) and release everything it held."""
        kill_quietly(blank.pid)
        if blank.released:
            return
        blank.released = True
        for fd in (blank.assign_fd, blank.output_fd):
            if fd >= 0:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self._networks.release(blank.net)
        if blank.channel is not None:
            blank.channel.close()
        self.groups.destroy(blank.group)
        self._uids.release(blank.uid)

    def close(self) -> None:
        self._snapshots.close()
        for ready in self._ready.values():
            while ready:
                self.discard(ready.popleft())
        for zygote in self._zygotes.values():
            zygote.close()
        self._networks.close()
        self.groups.close()
        self._uids.close()


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]
