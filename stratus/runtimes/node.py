"""Node.js runtimes (`nodejs20.x`, `nodejs22.x`), served by a node binary of that major version
found on the host; a runtime without one is refused with the reason.

The runtime client is Stratus's own (`nodeboot/index.mjs`), written against the Runtime API:
it starts in about the time node itself takes, where npm's `aws-lambda-ric` needs a native
addon built per host. On the Linux backend the environment is prepared like a Python
runtime's, then the blank execs node, which keeps the environment's private channel and takes
its events and gives its answers there (one write each way per invoke); init errors and
streamed responses still use the Runtime API.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from stratus.runtimes.python import NO_HOST, PythonRuntime, host_runtime

NODE_RUNTIMES = {"nodejs20.x": 20, "nodejs22.x": 22}
BOOT_DIR = Path(__file__).resolve().parent / "nodeboot"


@dataclass(frozen=True)
class NodeRuntime:
    name: str
    node: Path
    host: PythonRuntime  # whose zygote prepares the environments

    @property
    def major(self) -> int:
        return NODE_RUNTIMES[self.name]

    def argv(self) -> tuple[str, ...]:
        return (str(self.node), str(BOOT_DIR / "index.mjs"))

    def node_path(self) -> str:
        # Where Lambda's Node runtimes look for packages: layers first, then the runtime's own.
        return ":".join(
            [
                f"/opt/nodejs/node{self.major}/node_modules",
                "/opt/nodejs/node_modules",
                "/var/runtime/node_modules",
                "/var/runtime",
                "/var/task",
            ]
        )


def _major(node: Path) -> int | None:
    try:
        out = subprocess.run([str(node), "--version"], capture_output=True, text=True, timeout=10).stdout
        return int(out.strip().lstrip("v").split(".")[0])
    except (OSError, ValueError, subprocess.SubprocessError):
        return None


def _candidates() -> list[Path]:
    found = [Path(p) for p in (shutil.which("node"), "/usr/local/bin/node", "/usr/bin/node") if p]
    nvm = Path(os.environ.get("NVM_DIR", "~/.nvm")).expanduser() / "versions" / "node"
    if nvm.is_dir():
        found.extend(sorted(nvm.glob("v*/bin/node"), reverse=True))
    seen: list[Path] = []
    for path in found:
        real = path.resolve()
        if real.is_file() and real not in seen:
            seen.append(real)
    return seen


def discover(python: dict[str, PythonRuntime | str]) -> dict[str, NodeRuntime | str]:
    host = host_runtime(python)
    majors = {path: _major(path) for path in _candidates()}
    result: dict[str, NodeRuntime | str] = {}
    for name, major in NODE_RUNTIMES.items():
        node = next((p for p, m in majors.items() if m == major), None)
        if host is None:
            result[name] = NO_HOST
        elif node is None:
            seen = ", ".join(f"v{m}" for m in majors.values() if m) or "none"
            result[name] = f"no node {major} on this host (found: {seen})"
        else:
            result[name] = NodeRuntime(name, node, host)
    return result
