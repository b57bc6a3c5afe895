"""The Linux backend: environments forked from per-runtime zygotes, fully isolated.

Each environment gets its own PID, mount, IPC and UTS namespaces (and a network namespace for
functions that ask for none), cgroups for memory, pids and CPU share, a read-only root with the
code at /var/task and a private tmpfs /tmp, an unprivileged uid of its own, `no_new_privs`,
no capabilities, and a seccomp filter. It needs root; `available()` says why it cannot run.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import logging
import os
import socket
import uuid
from collections import deque
from dataclasses import dataclass
from pathlib import Path

from stratus.isolation.backend import RUNTIME_API_ENV, ExitStatus, SandboxSpec, listen_loopback
from stratus.isolation.cgroups import EnvironmentGroup, EnvironmentGroups, detect
from stratus.isolation.zygote import Zygote, ZygoteError, kill_quietly
from stratus.runtimes.python import PythonRuntime

# Environments run as uids from this range, one each, so they cannot signal or read each
# other's processes even where they share a kernel object.
UID_BASE = 200000
UID_COUNT = 100000
UID_LOCKS = Path("/run/stratus/uids")
DEFAULT_TMP_MB = 512
# A blank environment's memory limit until it is given its function's.
BLANK_MEMORY_MB = 128
log = logging.getLogger("stratus.isolation")


class UidAllocator:
    """Unique uids across every Stratus instance on the host: a uid is taken by holding an
    advisory lock on its file, and the kernel drops the lock if the instance dies."""

    def __init__(self, start: int) -> None:
        UID_LOCKS.mkdir(parents=True, exist_ok=True)
        self._next = start % UID_COUNT
        self._held: dict[int, int] = {}

    def take(self) -> int:
        for _ in range(UID_COUNT):
            uid = UID_BASE + self._next
            self._next = (self._next + 1) % UID_COUNT
            if uid in self._held:
                continue
            fd = os.open(UID_LOCKS / str(uid), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                os.close(fd)
                continue
            self._held[uid] = fd
            return uid
        raise ZygoteError("no free environment uid")

    def release(self, uid: int) -> None:
        fd = self._held.pop(uid, None)
        if fd is not None:
            os.close(fd)

    def close(self) -> None:
        for uid in list(self._held):
            self.release(uid)


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
    listener: socket.socket
    address: str
    tmp_mb: int
    channel: socket.socket | None  # the server's end of the private channel, if any
    released: bool = False


class LinuxSandbox:
    def __init__(self, backend: LinuxBackend, blank: Blank) -> None:
        self._backend = backend
        self._blank = blank
        self._peak_fd: int | None = None
        self._cleaned = False

    @property
    def pid(self) -> int:
        return self._blank.pid

    @property
    def output_fd(self) -> int:
        return self._blank.output_fd

    @property
    def runtime_listener(self) -> socket.socket:
        return self._blank.listener

    @property
    def peer_uid(self) -> int | None:
        return self._blank.uid

    @property
    def channel(self) -> socket.socket | None:
        return self._blank.channel

    async def wait(self) -> ExitStatus:
        code = await self._blank.zygote.wait(self._blank.pid)
        return ExitStatus(code, oom_killed=self._backend.groups.oom_killed(self._blank.group))

    def kill(self) -> None:
        # SIGKILL from outside reaches even PID 1 of the environment's namespace.
        kill_quietly(self._blank.pid)

    def max_memory_bytes(self) -> int:
        if self._peak_fd is None:
            self._peak_fd = _open(self._backend.groups.peak_file(self._blank.group))
        if self._peak_fd is not None:
            with contextlib.suppress(OSError, ValueError):
                return int(os.pread(self._peak_fd, 64, 0))
        return 0

    def cleanup(self) -> None:
        if self._peak_fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._peak_fd)
            self._peak_fd = None
        self._backend.discard(self._blank)


def _open(path: Path) -> int | None:
    try:
        return os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None


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
        *,
        blanks_per_runtime: int = 2,
        fast_channel: bool = True,
    ) -> None:
        layout = detect()
        if layout is None:
            raise RuntimeError("no memory cgroup controller")
        self.groups = EnvironmentGroups(layout, instance)
        self._run_dir = run_dir
        self._runtimes = runtimes
        self._zygotes: dict[str, Zygote] = {}
        self._starting: dict[str, asyncio.Future[Zygote]] = {}
        self._uids = UidAllocator(start=int(instance) * 977 if instance.isdigit() else 0)
        self._blanks_per_runtime = blanks_per_runtime
        self._fast_channel = fast_channel
        self._ready: dict[str, deque[Blank]] = {name: deque() for name in runtimes}
        self._refill = asyncio.Event()

    def limitations(self) -> list[str]:
        notes = []
        missing = {"memory", "pids", "cpu"} - set(self.groups.controllers)
        if missing:
            notes.append(f"cgroup controllers missing: {', '.join(sorted(missing))}")
        return notes

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
        listener, address = listen_loopback()
        out_r, out_w = os.pipe()
        assign_r, assign_w = os.pipe()
        os.set_blocking(out_r, False)
        ours, theirs = socket.socketpair() if self._fast_channel else (None, None)
        fds = [out_w, assign_r] + ([theirs.fileno()] if theirs is not None else [])
        try:
            pid = await zygote.spawn(
                {"cgroups": group.procs_files, "uid": uid, "runtime_api": address, "tmp_mb": tmp_mb},
                fds,
            )
        except BaseException:
            for fd in (out_r, assign_w):
                os.close(fd)
            listener.close()
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
        return Blank(runtime, zygote, pid, out_r, assign_w, group, uid, listener, address, tmp_mb, ours)

    async def spawn(self, spec: SandboxSpec) -> LinuxSandbox:
        ready = self._ready.get(spec.runtime)
        blank = None
        while ready:
            candidate = ready.popleft()
            if candidate.zygote.alive and _alive(candidate.pid):
                blank = candidate
                break
            self.discard(candidate)
        self._refill.set()
        if blank is None:
            blank = await self._make_blank(spec.runtime, spec.tmp_mb)
        if spec.network == "none" and blank.channel is None:
            self.discard(blank)
            raise ZygoteError("stratus:network=none needs the private channel (STRATUS_FAST_CHANNEL=1)")
        try:
            self.groups.set_limits(blank.group, spec.memory_mb)
            assignment = {
                "env": {**spec.env, RUNTIME_API_ENV: blank.address},
                "code_dir": str(spec.code_dir),
                "handler": spec.handler,
                "tmp_mb": spec.tmp_mb,
                "hostname": "stratus",
                "new_net": spec.network == "none",
            }
            _write_all(blank.assign_fd, json.dumps(assignment).encode())
        except BaseException:
            self.discard(blank)
            raise
        finally:
            with contextlib.suppress(OSError):
                os.close(blank.assign_fd)
            blank.assign_fd = -1
        return LinuxSandbox(self, blank)

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
        blank.listener.close()
        if blank.channel is not None:
            blank.channel.close()
        self.groups.destroy(blank.group)
        self._uids.release(blank.uid)

    def close(self) -> None:
        for ready in self._ready.values():
            while ready:
                self.discard(ready.popleft())
        for zygote in self._zygotes.values():
            zygote.close()
        self.groups.close()
        self._uids.close()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]
