"""The pool of one function configuration's environments.

Contract:
1. The pool owns its idle and busy sets; only its methods change them, on the event loop.
2. `acquire` hands out one environment per invoke: the warmest idle one, or a new one. It never
   waits for a busy environment; the concurrency limiter bounds how many exist.
3. `checkin` returns an environment after its invoke; a dead one is dropped, and every one is
   stopped once the pool is retired (its configuration changed or the function was deleted).
4. `reap` stops idle environments older than the idle timeout, so a quiet function scales to 0.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from stratus.control.models import FunctionConfig
from stratus.invoke.placement import IdleView, select_expired
from stratus.invoke.sandbox import Sandbox, State


class Pool:
    def __init__(
        self,
        config: FunctionConfig,
        region: str,
        make_sandbox: Callable[[FunctionConfig, str, Callable[[Sandbox], None]], Sandbox],
        tasks: asyncio.TaskGroup,
    ) -> None:
        self.config = config
        self.region = region
        self._make = make_sandbox
        self._tasks = tasks
        self._idle: dict[str, Sandbox] = {}
        self._busy: dict[str, Sandbox] = {}
        self.retired = False
        self.cold_starts = 0
        self.provisioned = 0  # environments to keep initialized, whatever the load
        self.provisioning_failure: str | None = None
        self._warming = 0

    @property
    def size(self) -> int:
        return len(self._idle) + len(self._busy)

    @property
    def initialized(self) -> int:
        """Environments that have finished init (idle or busy)."""
        return len(self._idle) + sum(1 for s in self._busy.values() if s.state is not State.STARTING)

    def maintain(self, init_timeout: float) -> None:
        """Start what provisioned concurrency still lacks; each start runs in the task group."""
        if self.retired:
            return
        missing = self.provisioned - self.size - self._warming
        for _ in range(max(0, missing)):
            self._warming += 1
            self._tasks.create_task(self._prewarm(init_timeout))

    async def _prewarm(self, init_timeout: float) -> None:
        sandbox = self._make(self.config, self.region, self._on_exit)
        sandbox.provisioned = True
        try:
            await sandbox.start(self._tasks)
            await sandbox.initialize(init_timeout)
        except Exception as e:  # the status API reports it; the next pass tries again
            self.provisioning_failure = str(e)
            sandbox.stop()
            return
        finally:
            self._warming -= 1
        self.provisioning_failure = None
        if self.retired or not sandbox.usable:
            sandbox.stop()
            return
        self._idle[sandbox.sandbox_id] = sandbox

    def provisioned_busy(self) -> int:
        """Provisioned environments running an invocation (scans the busy set: callers use it
        only for pools that have provisioned concurrency)."""
        return sum(1 for s in self._busy.values() if s.provisioned)

    async def acquire(self) -> Sandbox:
        """An environment for one invoke; the caller must hand it back with `checkin`."""
        while self._idle:
            # The most recently used idle environment: it is the warmest, and preferring it lets
            # the others age out and be reaped when load falls. `_idle` is kept in release
            # order, so that is its last entry, found without scanning.
            chosen = next(reversed(self._idle))
            sandbox = self._idle.pop(chosen)
            if not sandbox.reusable():  # its session is in its last quarter: a new one
                sandbox.stop()
                continue
            self._busy[chosen] = sandbox
            return sandbox
        sandbox = self._make(self.config, self.region, self._on_exit)
        self._busy[sandbox.sandbox_id] = sandbox
        self.cold_starts += 1
        try:
            await sandbox.start(self._tasks)
        except BaseException:
            self._busy.pop(sandbox.sandbox_id, None)
            raise
        return sandbox

    def checkin(self, sandbox: Sandbox) -> None:
        self._busy.pop(sandbox.sandbox_id, None)
        if not sandbox.usable:
            return
        if self.retired or not sandbox.reusable():
            sandbox.stop()
            return
        sandbox.release()
        self._idle[sandbox.sandbox_id] = sandbox

    def _on_exit(self, sandbox: Sandbox) -> None:
        self._idle.pop(sandbox.sandbox_id, None)

    def reap(self, now: float, idle_timeout: float) -> int:
        expired = select_expired(
            [IdleView(s.sandbox_id, s.idle_since) for s in self._idle.values()], now, idle_timeout
        )
        keep = max(0, self.provisioned - len(self._busy))  # provisioned environments stay
        expired = expired[: max(0, len(self._idle) - keep)]
        for sandbox_id in expired:
            self._idle.pop(sandbox_id).stop()
        return len(expired)

    def retire(self) -> None:
        self.retired = True
        for sandbox in list(self._idle.values()):
            sandbox.stop()
        self._idle.clear()

    def stop_all(self) -> None:
        self.retire()
        for sandbox in list(self._busy.values()):
            sandbox.stop()


def monotonic() -> float:
    return time.monotonic()
