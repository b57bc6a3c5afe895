"""Exit codes reported by a forking parent (a zygote or a template), awaited by pid.

A report may arrive before anyone waits for it, or after; either way the waiter gets it once.
"""

from __future__ import annotations

import asyncio
import signal


class ExitReports:
    def __init__(self) -> None:
        self._futures: dict[int, asyncio.Future[int]] = {}

    def _future(self, pid: int) -> asyncio.Future[int]:
        return self._futures.setdefault(pid, asyncio.get_running_loop().create_future())

    def expect(self, pid: int) -> None:
        self._future(pid)

    def report(self, pid: int, code: int) -> None:
        future = self._future(pid)
        if not future.done():
            future.set_result(code)

    async def wait(self, pid: int) -> int:
        future = self._future(pid)
        try:
            return await asyncio.shield(future)
        finally:
            if future.done():
                self._futures.pop(pid, None)

    def parent_died(self) -> None:
        """Every child dies with its parent (PDEATHSIG): report them all as killed."""
        for future in self._futures.values():
            if not future.done():
                future.set_result(-signal.SIGKILL)
