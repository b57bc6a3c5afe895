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
import os
from pathlib import Path

from stratus.isolation.backend import ExitStatus, SandboxSpec
from stratus.isolation.cgroups import EnvironmentGroup, EnvironmentGroups, detect
from stratus.isolation.zygote import Zygote, ZygoteError, kill_quietly
from stratus.runtimes.python import PythonRuntime

# Environments run as uids from this range, one each, so they cannot signal or read each
# other's processes even where they share a kernel object.
UID_BASE = 200000
UID_COUNT = 100000
UID_LOCKS = Path("/run/stratus/uids")


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


class LinuxSandbox:
    def __init__(
        self, backend: LinuxBackend, zygote: Zygote, pid: int, output_fd: int,
        group: EnvironmentGroup, uid: int,
    ) -> None:
        self._backend = backend
        self._zygote = zygote
        self._pid = pid
        self._output_fd = output_fd
        self._group = group
        self._uid = uid
        self._peak_fd: int | None = None
        self._status_fd: int | None = None
        self._cleaned = False

    @property
    def pid(self) -> int:
        return self._pid

    @property
    def output_fd(self) -> int:
        return self._output_fd

    async def wait(self) -> ExitStatus:
        code = await self._zygote.wait(self._pid)
        return ExitStatus(code, oom_killed=self._backend.groups.oom_killed(self._group))

    def kill(self) -> None:
        # SIGKILL from outside reaches even PID 1 of the environment's namespace.
        kill_quietly(self._pid)

    def max_memory_bytes(self) -> int:
        if self._peak_fd is None:
            self._peak_fd = _open(self._backend.groups.peak_file(self._group))
        peak = 0
        if self._peak_fd is not None:
            with contextlib.suppress(OSError, ValueError):
                peak = int(os.pread(self._peak_fd, 64, 0))
        return peak

    def cleanup(self) -> None:
        if self._cleaned:
            return
        self._cleaned = True
        self.kill()
        for fd in (self._output_fd, self._peak_fd, self._status_fd):
            if fd is not None:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self._backend.groups.destroy(self._group)
        self._backend.release_uid(self._uid)


def _open(path: Path) -> int | None:
    try:
        return os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None


class LinuxBackend:
    name = "linux"

    def __init__(self, run_dir: Path, instance: str, runtimes: dict[str, PythonRuntime]) -> None:
        layout = detect()
        if layout is None:
            raise RuntimeError("no memory cgroup controller")
        self.groups = EnvironmentGroups(layout, instance)
        self._run_dir = run_dir
        self._runtimes = runtimes
        self._zygotes: dict[str, Zygote] = {}
        self._starting: dict[str, asyncio.Future[Zygote]] = {}
        self._uids = UidAllocator(start=int(instance) * 977 if instance.isdigit() else 0)

    def limitations(self) -> list[str]:
        notes = []
        missing = {"memory", "pids", "cpu"} - set(self.groups.controllers)
        if missing:
            notes.append(f"cgroup controllers missing: {', '.join(sorted(missing))}")
        return notes

    def release_uid(self, uid: int) -> None:
        self._uids.release(uid)

    def task_root(self, code_dir: Path) -> str:
        return "/var/task"

    async def warm(self) -> None:
        """Start every runtime's zygote now, so the first cold start does not pay for it."""
        for name in self._runtimes:
            with contextlib.suppress(ZygoteError):
                await self._zygote(name)

    async def _zygote(self, runtime: str) -> Zygote:
        zygote = self._zygotes.get(runtime)
        if zygote is not None and zygote.alive:
            return zygote
        pending = self._starting.get(runtime)
        if pending is not None:
            return await asyncio.shield(pending)
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

    async def spawn(self, spec: SandboxSpec) -> LinuxSandbox:
        zygote = await self._zygote(spec.runtime)
        uid = self._uids.take()
        group = self.groups.create(spec.sandbox_id, spec.memory_mb)
        read_fd, write_fd = os.pipe()
        os.set_blocking(read_fd, False)
        try:
            pid = await zygote.spawn(
                {
                    "env": spec.env,
                    "code_dir": str(spec.code_dir),
                    "handler": spec.handler,
                    "tmp_mb": spec.tmp_mb,
                    "cgroups": group.procs_files,
                    "uid": uid,
                    "hostname": "stratus",
                    "new_net": spec.network == "none",
                },
                write_fd,
            )
        except BaseException:
            os.close(read_fd)
            self.groups.destroy(group)
            self.release_uid(uid)
            raise
        finally:
            os.close(write_fd)
        return LinuxSandbox(self, zygote, pid, read_fd, group, uid)

    def close(self) -> None:
        for zygote in self._zygotes.values():
            zygote.close()
        self.groups.close()
        self._uids.close()

