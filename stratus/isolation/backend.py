"""The isolation backend: how an execution environment's process is created and torn down.

The invoke path sees only this interface, so the process backend here and the namespaced,
zygote-forked backend can replace each other; component tests use the fake.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol


@dataclass(frozen=True)
class SandboxSpec:
    sandbox_id: str
    argv: tuple[str, ...]
    env: dict[str, str]
    code_dir: Path
    memory_mb: int
    runtime: str = ""
    handler: str = ""
    tmp_mb: int = 512
    network: str = "default"  # or "none": a network namespace with no interfaces


@dataclass(frozen=True)
class ExitStatus:
    returncode: int  # negative: killed by that signal
    oom_killed: bool = False


class SandboxProcess(Protocol):
    """A running environment. `output_fd` is the read end of its stdout+stderr, non-blocking."""

    @property
    def pid(self) -> int: ...

    @property
    def output_fd(self) -> int: ...

    async def wait(self) -> ExitStatus: ...

    def kill(self) -> None: ...

    def max_memory_bytes(self) -> int: ...

    def cleanup(self) -> None: ...


class IsolationBackend(Protocol):
    name: str

    async def spawn(self, spec: SandboxSpec) -> SandboxProcess: ...

    def limitations(self) -> list[str]:
        """What this backend could not enforce on this host, said plainly at start."""
        ...

    def task_root(self, code_dir: Path) -> str:
        """Where the function's code appears inside its environment."""
        ...

    async def warm(self) -> None:
        """Prepare what the first spawn would otherwise wait for (templates, zygotes)."""
        ...

    def close(self) -> None: ...
