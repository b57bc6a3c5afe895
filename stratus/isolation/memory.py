"""Max Memory Used, read the same way for every kind of environment.

An environment's memory cgroup counts only the pages charged after its runtime joined it:
pages it shares with the process it was forked from (a zygote, or a SnapStart template) are
charged to that process's cgroup, yet the function uses them. So Max Memory Used is the larger
of the cgroup's peak and the runtime's own peak resident set (VmHWM). Both files stay open,
since this is read on every invoke and a pread is far cheaper than an open.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from stratus.isolation.cgroups import open_readonly


def resident_peak(status_fd: int | None) -> int:
    """A process's peak resident set (VmHWM) in bytes, from its open `/proc/PID/status`; 0 when
    unreadable."""
    if status_fd is None:
        return 0
    try:
        status = os.pread(status_fd, 4096, 0)
        start = status.index(b"VmHWM:") + 6
        return int(status[start : status.index(b"kB", start)]) * 1024
    except (OSError, ValueError):
        return 0


class MemoryPeak:
    """The peak memory of one environment: its cgroup's `peak_file` (None without one) and the
    peak resident set of its runtime process `pid` (a pid in the server's PID namespace)."""

    def __init__(self, peak_file: Path | None, pid: int) -> None:
        self._peak_file = peak_file
        self._pid = pid
        self._opened = False
        self._peak_fd: int | None = None
        self._status_fd: int | None = None
        self._reads = self._last_peak = self._resident = 0

    def bytes(self) -> int:
        if not self._opened:
            self._opened = True
            self._peak_fd = open_readonly(self._peak_file) if self._peak_file is not None else None
            self._status_fd = open_readonly(Path(f"/proc/{self._pid}/status"))
        peak = 0
        if self._peak_fd is not None:
            with contextlib.suppress(OSError, ValueError):
                peak = int(os.pread(self._peak_fd, 64, 0))
        # /proc/PID/status costs about 8 us to produce; with a cgroup to watch it is read again
        # only when the cgroup's peak moved, early on (shared pages are faulted in by the first
        # invokes), or now and then; without one, every time.
        self._reads += 1
        if self._peak_fd is None or peak != self._last_peak or self._reads <= 4 or self._reads % 64 == 0:
            self._resident = resident_peak(self._status_fd)
            self._last_peak = peak
        return max(peak, self._resident)

    def close(self) -> None:
        for fd in (self._peak_fd, self._status_fd):
            if fd is not None:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self._peak_fd = self._status_fd = None
