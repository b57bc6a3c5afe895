"""Custom runtimes (`provided.al2023`, `provided.al2`): the function's own `bootstrap`, found in
its code or in a layer, speaks the Runtime API.

On the Linux backend such environments are prepared like a Python runtime's (a blank
environment forked from that runtime's zygote, confined ahead of time); once assigned, the
blank execs the bootstrap instead of starting awslambdaric. Elsewhere the runtime's interpreter
runs `stratus_exec`, which does the same. Either way a missing or unusable bootstrap is reported
as `Runtime.InvalidEntrypoint`, through the Runtime API, before the process exits.
"""

from __future__ import annotations

from dataclasses import dataclass

from stratus.runtimes.python import NO_HOST, PythonRuntime, host_runtime

PROVIDED = ("provided.al2023", "provided.al2")


@dataclass(frozen=True)
class CustomRuntime:
    name: str
    host: PythonRuntime  # whose zygote prepares the environments and whose interpreter execs

    def bootstraps(self, task_root: str) -> tuple[str, ...]:
        """Where Lambda looks for the bootstrap, in order."""
        return (f"{task_root}/bootstrap", "/opt/bootstrap")

    def argv(self, task_root: str) -> tuple[str, ...]:
        return (str(self.host.interpreter), "-S", "-m", "stratus_exec", *self.bootstraps(task_root))


def discover(python: dict[str, PythonRuntime | str]) -> dict[str, CustomRuntime | str]:
    host = host_runtime(python)
    if host is None:
        return {name: NO_HOST for name in PROVIDED}
    return {name: CustomRuntime(name, host) for name in PROVIDED}
