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
import subprocess
from pathlib import Path

from stratus.isolation.backend import ExitStatus, SandboxSpec
from stratus.isolation.cgroups import MemoryGroups, detect

# Python and the runtime client need some room beyond the handler's own allocations; Lambda's
# MemorySize covers the whole environment, so this is kept small.
ROOT_ONLY = "private /tmp and memory limits need root"


class ProcessSandbox:
    def __init__(
        self,
        proc: asyncio.subprocess.Process,
        output_fd: int,
        groups: MemoryGroups | None,
        group: Path | None,
        scratch: Path | None,
    ) -> None:
        self._proc = proc
        self._output_fd = output_fd
        self._groups = groups
        self._group = group
        self._scratch = scratch
        self._cleaned = False

    @property
    def pid(self) -> int:
        return self._proc.pid

    @property
    def output_fd(self) -> int:
        return self._output_fd

    async def wait(self) -> ExitStatus:
        code = await self._proc.wait()
        oom = bool(self._groups and self._group and self._groups.oom_killed(self._group))
        return ExitStatus(code, oom_killed=oom)

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self._proc.pid, signal.SIGKILL)
        with contextlib.suppress(ProcessLookupError):
            self._proc.kill()

    def max_memory_bytes(self) -> int:
        if self._groups and self._group:
            return self._groups.peak_bytes(self._group)
        try:
            with open(f"/proc/{self._proc.pid}/status") as f:
                for line in f:
                    if line.startswith("VmHWM:"):
                        return int(line.split()[1]) * 1024
        except OSError:
            pass
        return 0

    def cleanup(self) -> None:
        if self._cleaned:
            return
        self._cleaned = True
        self.kill()
        with contextlib.suppress(OSError):
            os.close(self._output_fd)
        if self._groups and self._group:
            self._groups.destroy(self._group)
        if self._scratch:
            shutil.rmtree(self._scratch, ignore_errors=True)


class ProcessBackend:
    name = "process"

    def __init__(self, run_dir: Path, instance: str) -> None:
        self._run_dir = run_dir
        self._root = os.geteuid() == 0
        layout = detect() if self._root else None
        self._groups = MemoryGroups(layout, instance) if layout else None

    def limitations(self) -> list[str]:
        notes = [
            "environments share the host's PID, network and user namespaces "
            "(full isolation is not enabled in this backend)"
        ]
        if not self._root:
            notes.append(f"not running as root: {ROOT_ONLY}; /tmp is a per-environment TMPDIR")
        elif self._groups is None:
            notes.append("no memory cgroup controller found: MemorySize is not enforced")
        return notes

    async def spawn(self, spec: SandboxSpec) -> ProcessSandbox:
        env = dict(spec.env)
        group = None
        scratch = None
        if self._groups is not None:
            group = self._groups.create(spec.sandbox_id, spec.memory_mb * 1024 * 1024)
            env["_STRATUS_CGROUP_PROCS"] = str(self._groups.procs_file(group))
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
            if group is not None and self._groups is not None:
                self._groups.destroy(group)
            raise
        finally:
            os.close(write_fd)
        return ProcessSandbox(proc, read_fd, self._groups, group, scratch)

    def close(self) -> None:
        if self._groups is not None:
            self._groups.close()
