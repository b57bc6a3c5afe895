"""The isolation backend: how an execution environment's process is created and torn down.

The invoke path sees only this interface, so the process backend here and the namespaced,
zygote-forked backend can replace each other; component tests use the fake.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

RUNTIME_API_ENV = "AWS_LAMBDA_RUNTIME_API"
DEFAULT_TMP_MB = 512  # an environment's /tmp when its function does not say


@dataclass(frozen=True)
class SandboxSpec:
    sandbox_id: str
    argv: tuple[str, ...]
    env: dict[str, str]
    code_dir: Path
    memory_mb: int
    runtime: str = ""
    handler: str = ""
    tmp_mb: int = DEFAULT_TMP_MB
    network: str = "default"  # or "none": a network namespace with no interfaces
    # Fork from an initialized environment of this configuration (snapshot-style), if set.
    snapshot_key: str | None = None
    # Custom runtimes: the Python runtime whose zygote prepares the environment, and the
    # bootstrap paths the environment execs (the first that exists).
    zygote: str = ""
    bootstraps: tuple[str, ...] = ()
    exec_argv: tuple[str, ...] = ()  # a runtime client to exec (Node.js), once confined
    exec_channel: bool = False  # that client keeps the private channel (its fd in _STRATUS_CHANNEL_FD)
    opt_dir: Path | None = None  # the function's layers, merged, to appear at /opt
    app_dir: Path | None = None  # its runtime artifacts, to appear at /var/runtime/app


@dataclass(frozen=True)
class ExitStatus:
    returncode: int  # negative: killed by that signal
    oom_killed: bool = False


def listen_loopback() -> tuple[socket.socket, str]:
    """A listening socket on a free loopback port, for one environment's Runtime API."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    sock.setblocking(False)
    host, port = sock.getsockname()
    return sock, f"{host}:{port}"


class SandboxProcess(Protocol):
    """A running environment.

    `output_fd` is the read end of its stdout+stderr, non-blocking. `runtime_listener` is the
    listening socket its runtime connects to (the address is in its AWS_LAMBDA_RUNTIME_API)."""

    @property
    def pid(self) -> int: ...

    @property
    def output_fd(self) -> int: ...

    @property
    def runtime_listener(self) -> socket.socket: ...

    async def wait(self) -> ExitStatus: ...

    def kill(self) -> None: ...

    def max_memory_bytes(self) -> int: ...

    def initialized(self) -> None:
        """Its init is over (the runtime asked for its first event): end the init's CPU boost."""
        ...

    def cleanup(self) -> None: ...


class IsolationBackend(Protocol):
    name: str

    async def spawn(self, spec: SandboxSpec) -> SandboxProcess:
        """Start an environment; the backend adds AWS_LAMBDA_RUNTIME_API to `spec.env`."""
        ...

    def limitations(self) -> list[str]:
        """What this backend could not enforce on this host, said plainly at start."""
        ...

    async def prepare(self, spec: SandboxSpec) -> None:
        """Do ahead of time what the first spawn of `spec` would do (a snapshot's init)."""
        ...

    def task_root(self, code_dir: Path) -> str:
        """Where the function's code appears inside its environment."""
        ...

    async def run(self) -> None:
        """Background work until cancelled (starting zygotes, keeping blank environments
        ready); it may return at once if there is none. Cancelling it releases them."""
        ...

    def close(self) -> None: ...
