"""Memory cgroups for environments, on cgroup v2 or v1.

Each server instance owns one parent group named after its pid, so that instances side by side
never touch each other's groups; each environment gets a child group that is removed with it.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path("/sys/fs/cgroup")


@dataclass(frozen=True)
class CgroupLayout:
    version: int  # 1 or 2
    memory_root: Path


def detect(root: Path = ROOT) -> CgroupLayout | None:
    controllers = root / "cgroup.controllers"
    if controllers.exists() and "memory" in controllers.read_text().split():
        return CgroupLayout(2, root)
    v1 = root / "memory"
    if (v1 / "memory.limit_in_bytes").exists():
        return CgroupLayout(1, v1)
    return None


class MemoryGroups:
    def __init__(self, layout: CgroupLayout, instance: str) -> None:
        self.layout = layout
        self.parent = layout.memory_root / "stratus" / instance
        self.parent.mkdir(parents=True, exist_ok=True)
        if layout.version == 2:
            # Children of this group need the memory controller delegated to them.
            for group in (layout.memory_root / "stratus", self.parent):
                with contextlib.suppress(OSError):
                    (group / "cgroup.subtree_control").write_text("+memory")
        _remove_stale(layout.memory_root / "stratus", keep=instance)

    def create(self, name: str, limit_bytes: int) -> Path:
        group = self.parent / name
        group.mkdir(exist_ok=True)
        if self.layout.version == 2:
            (group / "memory.max").write_text(str(limit_bytes))
            with contextlib.suppress(OSError):
                (group / "memory.swap.max").write_text("0")
        else:
            (group / "memory.limit_in_bytes").write_text(str(limit_bytes))
            with contextlib.suppress(OSError):
                (group / "memory.memsw.limit_in_bytes").write_text(str(limit_bytes))
        return group

    def procs_file(self, group: Path) -> Path:
        return group / "cgroup.procs"

    def peak_file(self, group: Path) -> Path:
        return group / ("memory.peak" if self.layout.version == 2 else "memory.max_usage_in_bytes")

    def oom_killed(self, group: Path) -> bool:
        name = "memory.events" if self.layout.version == 2 else "memory.oom_control"
        try:
            for line in (group / name).read_text().splitlines():
                key, _, value = line.partition(" ")
                if key == "oom_kill" and int(value) > 0:
                    return True
        except (OSError, ValueError):
            pass
        return False

    def destroy(self, group: Path) -> None:
        """Kill whatever is left in the group and remove it."""
        for _ in range(50):
            pids = _pids(group)
            for pid in pids:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            try:
                group.rmdir()
                return
            except FileNotFoundError:
                return
            except OSError:
                time.sleep(0.01)

    def close(self) -> None:
        for child in list(self.parent.glob("*")):
            if child.is_dir():
                self.destroy(child)
        with contextlib.suppress(OSError):
            self.parent.rmdir()


def _pids(group: Path) -> list[int]:
    try:
        return [int(p) for p in (group / "cgroup.procs").read_text().split()]
    except (OSError, ValueError):
        return []


def _remove_stale(base: Path, keep: str) -> None:
    """Groups left by instances that died without cleaning up (their pid is gone)."""
    for parent in base.glob("*"):
        if parent.name == keep or not parent.is_dir():
            continue
        pid = parent.name.split("-")[0]
        if pid.isdigit() and Path(f"/proc/{pid}").exists():
            continue
        for child in parent.glob("*"):
            if child.is_dir():
                with contextlib.suppress(OSError):
                    child.rmdir()
        with contextlib.suppress(OSError):
            parent.rmdir()
