"""The process backend: one OS process per environment, in its own session and memory cgroup.

Inside the process, the boot shim (`runtimes/pyboot`) joins the cgroup before anything else
runs and, as root, gives itself a private mount namespace with its own size-limited `/tmp`.
Namespaces for PID/IPC/UTS, seccomp and an unprivileged uid come with the isolation issue.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import socket
import subprocess
from pathlib import Path

from stratus.errors import ServiceError
from stratus.isolation.backend import RUNTIME_API_ENV, ExitStatus, SandboxSpec, listen_loopback
from stratus.isolation.cgroups import EnvironmentGroup, EnvironmentGroups, detect
from stratus.isolation.memory import MemoryPeak

ROOT_ONLY = "private /tmp and memory limits need root"


class ProcessSandbox:
    def __init__(
        self,
        proc: asyncio.subprocess.Process,
        output_fd: int,
        listener: socket.socket,
        groups: EnvironmentGroups | None,
        group: EnvironmentGroup | None,
        scratch: Path | None,
    ) -> None:
        self._proc = proc
        self._output_fd = output_fd
        self._listener = listener
        self._groups = groups
        self._group = group
        self._scratch = scratch
        self._cleaned = False
        self._memory = MemoryPeak(groups.peak_file(group) if groups and group else None, proc.pid)

    @property
    def pid(self) -> int:
        return self._proc.pid

    @property
    def output_fd(self) -> int:
        return self._output_fd

    @property
    def runtime_listener(self) -> socket.socket:
        return self._listener

    async def wait(self) -> ExitStatus:
        code = await self._proc.wait()
        oom = bool(self._groups and self._group and self._groups.oom_killed(self._group))
        return ExitStatus(code, oom_killed=oom)

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self._proc.pid, signal.SIGKILL)
        with contextlib.suppress(ProcessLookupError):
            self._proc.kill()

    def initialized(self) -> None:
        pass  # no init boost here

    def max_memory_bytes(self) -> int:
        # The cgroup counts only what was charged after the runtime joined it (memory.py).
        return self._memory.bytes()

    def cleanup(self) -> None:
        if self._cleaned:
            return
        self._cleaned = True
        self.kill()
        self._listener.close()
        with contextlib.suppress(OSError):
            os.close(self._output_fd)
        self._memory.close()
        if self._groups and self._group:
            self._groups.destroy(self._group)
        if self._scratch:
            shutil.rmtree(self._scratch, ignore_errors=True)


class ProcessBackend:
    name = "process"

    def __init__(self, run_dir: Path, instance: str, *, reason: str = "") -> None:
        self.reason = reason  # why full isolation is not in use
        self._run_dir = run_dir
        self._root = os.geteuid() == 0
        layout = detect() if self._root else None
        self._groups = EnvironmentGroups(layout, instance) if layout else None

    def limitations(self) -> list[str]:
        why = f" ({self.reason})" if self.reason else ""
        notes = [
            f"full isolation{why}: environments share the host's PID namespace, network and "
            "root filesystem, run as the server's user, and have no seccomp filter"
        ]
        if not self._root:
            notes.append(f"not running as root: {ROOT_ONLY}; /tmp is a per-environment TMPDIR")
        elif self._groups is None:
            notes.append("no memory cgroup controller found: MemorySize is not enforced")
        return notes

    async def spawn(self, spec: SandboxSpec) -> ProcessSandbox:
        if spec.network == "none":
            raise ServiceError("stratus:network=none needs full isolation, which this host lacks")
        env = dict(spec.env)
        listener, address = listen_loopback()
        env[RUNTIME_API_ENV] = address
        env["_STRATUS_SERVER_PID"] = str(os.getpid())
        group = None
        scratch = None
        if self._groups is not None:
            group = self._groups.create(spec.sandbox_id, spec.memory_mb)
            env["_STRATUS_CGROUP_PROCS"] = ":".join(group.procs_files)
        if self._root:
            env["_STRATUS_PRIVATE_TMP_MB"] = str(spec.tmp_mb)
        else:
            scratch = self._run_dir / "tmp" / spec.sandbox_id
            scratch.mkdir(parents=True, exist_ok=True)
            env["TMPDIR"] = str(scratch)
        read_fd, write_fd = os.pipe()
        os.set_blocking(read_fd, False)
        try:
            proc = await asyncio.create_subprocess_exec(
                *spec.argv,
                stdin=subprocess.DEVNULL,
                stdout=write_fd,
                stderr=write_fd,
                cwd=str(spec.code_dir),
                env=env,
                start_new_session=True,
                close_fds=True,
            )
        except BaseException:
            os.close(read_fd)
            listener.close()
            if group is not None and self._groups is not None:
                self._groups.destroy(group)
            raise
        finally:
            os.close(write_fd)
        return ProcessSandbox(proc, read_fd, listener, self._groups, group, scratch)

    def task_root(self, code_dir: Path) -> str:
        return str(code_dir)

    async def run(self) -> None:
        return None

    async def prepare(self, spec: SandboxSpec) -> None:
        return None  # no snapshots here: environments of snapshot configurations start cold

    def close(self) -> None:
        if self._groups is not None:
            self._groups.close()
