"""Cgroups for environments: memory, pids and CPU (share and quota), on cgroup v2 or v1.

Each server instance owns one parent group per controller, named after its pid, so instances
side by side never touch each other's groups; each environment gets a child group in each,
removed with it. Groups left by an instance that died are removed at start.

All instances' parents sit under one shared `stratus` group. Its pids limit bounds every
environment of every instance on the host together (each environment's own 1,024 times the
concurrency limit would exceed the host's pid space); it is never removed, since another
instance may be using it, and each instance's parent carries its own, possibly lower, limit.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path("/sys/fs/cgroup")
SHARED = "stratus"
# Lambda gives one vCPU at 1,769 MB; CPU weight and quota follow memory in the same proportion.
MB_PER_VCPU = 1769
# The quota's floor, in vCPUs. Lambda's 0.072 vCPU at 128 MB would stretch a cold start many
# times over. Measured on a 2-core host, a 128 MB Python function creating a boto3 client on
# its first invoke: about 165 ms uncapped, 240 ms at 0.5 vCPU, 370 ms at 0.25; a hog still gets
# at most half a core.
MIN_VCPUS = 0.5
# What an environment gets at least while its init runs (see cpu_quota_us).
INIT_VCPUS = 1.0
CFS_PERIOD_US = 100_000  # the kernel's default period, which new groups already have
PIDS_MAX = 1024
# A blank (or parked) environment's memory limit until it is given its function's.
BLANK_MEMORY_MB = 128
# Environments of all instances together may hold at most this share of the host's pid (and
# thread) space; the rest stays for the host.
HOST_PIDS_SHARE = 0.5


@dataclass(frozen=True)
class CgroupLayout:
    version: int  # 1 or 2
    # controller -> the hierarchy root holding it (v2: the same path for all)
    roots: dict[str, Path]


def detect(root: Path = ROOT) -> CgroupLayout | None:
    controllers = root / "cgroup.controllers"
    if controllers.exists():
        available = controllers.read_text().split()
        if "memory" in available:
            wanted = [c for c in ("memory", "pids", "cpu") if c in available]
            return CgroupLayout(2, {c: root for c in wanted})
    roots = {}
    for name, probe in (("memory", "memory.limit_in_bytes"), ("pids", "cgroup.procs"), ("cpu", "cpu.shares")):
        if (root / name / probe).exists():
            roots[name] = root / name
    if "memory" in roots:
        return CgroupLayout(1, roots)
    return None


@dataclass(frozen=True)
class EnvironmentGroup:
    name: str
    dirs: tuple[Path, ...]  # one per hierarchy
    memory: Path

    @property
    def procs_files(self) -> list[str]:
        return [str(d / "cgroup.procs") for d in self.dirs]


def host_pids_limit(pid_max: int, threads_max: int) -> int:
    """Processes and threads that all environments on the host may hold together."""
    return max(PIDS_MAX, int(min(pid_max, threads_max) * HOST_PIDS_SHARE))


def instance_pids_limit(setting: int | None, host_limit: int) -> int:
    """This instance's share: the setting (STRATUS_MAX_PIDS), never above the host's."""
    return host_limit if setting is None else min(setting, host_limit)


def cpu_quota_us(memory_mb: int, period_us: int = CFS_PERIOD_US, *, initializing: bool = False) -> int:
    """CPU time per period in proportion to memory as on Lambda, never below the floor. While
    an environment initializes it gets at least a whole vCPU, as Lambda gives an on-demand init
    a full, unthrottled vCPU (its "init boost"); the proportion applies once init is over."""
    vcpus = max(MIN_VCPUS, memory_mb / MB_PER_VCPU)
    if initializing:
        vcpus = max(INIT_VCPUS, vcpus)
    return int(period_us * vcpus)


def read_host_pids_limit() -> int:
    values = []
    for name in ("pid_max", "threads-max"):
        try:
            values.append(int(Path(f"/proc/sys/kernel/{name}").read_text()))
        except (OSError, ValueError):
            values.append(32768)  # the kernel's default pid_max
    return host_pids_limit(values[0], values[1])


class EnvironmentGroups:
    def __init__(self, layout: CgroupLayout, instance: str, max_pids: int | None = None) -> None:
        self.layout = layout
        self._instance = instance
        self._parents = sorted({root / SHARED / instance for root in layout.roots.values()})
        for parent in self._parents:
            parent.mkdir(parents=True, exist_ok=True)
            _remove_stale(parent.parent, keep=instance)
        if layout.version == 2:
            enable = " ".join("+" + c for c in layout.roots)
            for group in (self._parents[0].parent, self._parents[0]):
                with contextlib.suppress(OSError):
                    (group / "cgroup.subtree_control").write_text(enable)
        self.host_max_pids = read_host_pids_limit()
        self.max_pids = instance_pids_limit(max_pids, self.host_max_pids)
        pids = layout.roots.get("pids")
        if pids is not None:
            # Every instance writes the same host-derived value, so whichever starts last
            # changes nothing; a smaller setting of one instance applies to its own parent only.
            (pids / SHARED / "pids.max").write_text(str(self.host_max_pids))
            (pids / SHARED / instance / "pids.max").write_text(str(self.max_pids))

    @property
    def controllers(self) -> list[str]:
        return sorted(self.layout.roots)

    def create(self, name: str, memory_mb: int) -> EnvironmentGroup:
        dirs: list[Path] = []
        for root in sorted(set(self.layout.roots.values())):
            group = root / SHARED / self._instance / name
            group.mkdir(exist_ok=True)
            dirs.append(group)
        memory = self.layout.roots["memory"] / SHARED / self._instance / name
        created = EnvironmentGroup(name, tuple(dirs), memory)
        self.set_limits(created, memory_mb)
        return created

    def set_limits(self, created: EnvironmentGroup, memory_mb: int, *, initializing: bool = False) -> None:
        limit = memory_mb * 1024 * 1024
        v2 = self.layout.version == 2
        for controller, root in self.layout.roots.items():
            group = root / SHARED / self._instance / created.name
            if controller == "memory":
                if v2:
                    (group / "memory.max").write_text(str(limit))
                    with contextlib.suppress(OSError):
                        (group / "memory.swap.max").write_text("0")
                else:
                    _set_v1_memory(group, limit)
            elif controller == "pids":
                (group / "pids.max").write_text(str(PIDS_MAX))
            elif controller == "cpu":
                # The weight shares contended CPU; the quota caps it even when the host is
                # idle, so an environment's hog cannot take the cores from its neighbours.
                quota = cpu_quota_us(memory_mb, initializing=initializing)
                if v2:
                    weight = max(1, min(10000, memory_mb * 100 // MB_PER_VCPU))
                    (group / "cpu.weight").write_text(str(weight))
                    (group / "cpu.max").write_text(f"{quota} {CFS_PERIOD_US}")
                else:
                    shares = max(2, memory_mb * 1024 // MB_PER_VCPU)
                    (group / "cpu.shares").write_text(str(shares))
                    (group / "cpu.cfs_quota_us").write_text(str(quota))

    def end_init_boost(self, created: EnvironmentGroup, memory_mb: int) -> None:
        """The proportional quota, once the environment's init is over."""
        quota = cpu_quota_us(memory_mb)
        root = self.layout.roots.get("cpu")
        if root is None:
            return
        group = root / SHARED / self._instance / created.name
        with contextlib.suppress(OSError):  # the environment may be gone already
            if self.layout.version == 2:
                (group / "cpu.max").write_text(f"{quota} {CFS_PERIOD_US}")
            else:
                (group / "cpu.cfs_quota_us").write_text(str(quota))

    def peak_file(self, group: EnvironmentGroup) -> Path:
        v2 = self.layout.version == 2
        return group.memory / ("memory.peak" if v2 else "memory.max_usage_in_bytes")

    def oom_killed(self, group: EnvironmentGroup) -> bool:
        name = "memory.events" if self.layout.version == 2 else "memory.oom_control"
        try:
            for line in (group.memory / name).read_text().splitlines():
                key, _, value = line.partition(" ")
                if key == "oom_kill" and int(value) > 0:
                    return True
        except (OSError, ValueError):
            pass
        return False

    def destroy(self, group: EnvironmentGroup) -> None:
        for directory in group.dirs:
            _destroy(directory)

    def close(self) -> None:
        for parent in self._parents:
            for child in list(parent.glob("*")):
                if child.is_dir():
                    _destroy(child)
            with contextlib.suppress(OSError):
                parent.rmdir()


def open_readonly(path: Path) -> int | None:
    """An fd for repeated preads of a cgroup file (cheaper than opening it on every invoke)."""
    try:
        return os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None


def _set_v1_memory(group: Path, limit: int) -> None:
    """memory+swap may never be below memory: raise it first when growing, after when shrinking."""
    memory, memsw = group / "memory.limit_in_bytes", group / "memory.memsw.limit_in_bytes"
    try:
        memory.write_text(str(limit))
    except OSError:
        memsw.write_text(str(limit))
        memory.write_text(str(limit))
        return
    with contextlib.suppress(OSError):
        memsw.write_text(str(limit))


def _destroy(directory: Path) -> None:
    """Kill whatever is left in the group and remove it."""
    for _ in range(100):
        for pid in _pids(directory):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        try:
            directory.rmdir()
            return
        except FileNotFoundError:
            return
        except OSError:
            time.sleep(0.01)


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
                _destroy(child)
        with contextlib.suppress(OSError):
            parent.rmdir()
