"""SnapStart on the Linux backend: the templates of snapshot configurations, and the
environments parked from them ahead of time.

Contract:
1. `Snapshots` owns every template (`templates.Template`, at most MAX_TEMPLATES; the oldest is
   dropped) and the environments parked from each (PARKED_PER_TEMPLATE, refilled by `park_all`,
   which the backend's `run()` calls whenever it is woken); the backend owns the blanks, and a
   template is a blank assigned with `template=True`.
2. A configuration's template is started once, however many callers ask for it at once
   (`prepare` at publish, or the first `spawn`); its init's output goes to the function's log.
3. `spawn` hands out a parked environment of the live template (or parks one on the spot),
   assigns it its region's variables, limits and network, and returns at once. If the
   template's init fails, it falls back to an ordinary environment, whose init fails the same
   way and is reported as Lambda reports it.
4. `close` kills every template and parked environment and releases what they held.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
import uuid
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

from stratus.errors import ServiceError
from stratus.isolation.backend import DEFAULT_TMP_MB, RUNTIME_API_ENV, SandboxSpec
from stratus.isolation.cgroups import BLANK_MEMORY_MB, EnvironmentGroups
from stratus.isolation.forker import kill_quietly, pid_alive
from stratus.isolation.network import RUNTIME_API_ADDRESS, Networks
from stratus.isolation.templates import (
    ASSIGN,
    UIDS_PER_TEMPLATE,
    Parked,
    SnapshotSandbox,
    Template,
    TemplateInitFailed,
    hello,
)
from stratus.isolation.uids import UidAllocator
from stratus.isolation.zygote import ZygoteError
from stratus.observe.output import OutputCutter
from stratus.runtimes.pyboot import stratus_channel as channel

if TYPE_CHECKING:
    from stratus.isolation.linux import Blank, LinuxSandbox

MAX_TEMPLATES = 16
PARKED_PER_TEMPLATE = 1
TEMPLATE_INIT_TIMEOUT = 30.0
log = logging.getLogger("stratus.isolation")


class Blanks(Protocol):
    """What templates need of the backend: blank environments (a template is one)."""

    async def spawn_blank(self, spec: SandboxSpec, template: bool = False) -> LinuxSandbox: ...

    def discard(self, blank: Blank) -> None: ...


class Snapshots:
    def __init__(
        self,
        blanks: Blanks,
        groups: EnvironmentGroups,
        networks: Networks,
        uids: UidAllocator,
        refill: asyncio.Event,
        *,
        fast_channel: bool,
        log_sink: Callable[[str, str, str, str], None] | None,
    ) -> None:
        self._blanks = blanks
        self._groups = groups
        self._networks = networks
        self._uids = uids
        self._refill = refill  # wakes the backend's run(), which calls park_all
        self._fast_channel = fast_channel
        # Where a template's own output (its init's prints) goes: (region, log group, stream, line).
        self._log_sink = log_sink
        self._templates: dict[str, tuple[Template, Blank, int]] = {}  # key -> (template, blank, uid block)
        self._templates_starting: dict[str, asyncio.Future[Template]] = {}
        self._parked: dict[str, deque[Parked]] = {}

    async def park_all(self) -> None:
        """Park environments for every live template, up to PARKED_PER_TEMPLATE each."""
        for key, (template, _blank, _base) in list(self._templates.items()):
            waiting = self._parked.setdefault(key, deque())
            while template.alive and len(waiting) < PARKED_PER_TEMPLATE:
                try:
                    waiting.append(await self._park(template))
                except ServiceError as e:
                    log.warning("cannot park an environment: %s", e)
                    break

    async def prepare(self, spec: SandboxSpec, key: str) -> None:
        """Run a snapshot configuration's init now (at publish), as Lambda does."""
        with contextlib.suppress(TemplateInitFailed, ZygoteError):
            await self._template(spec, key)

    def close(self) -> None:
        for key in list(self._templates):
            self._drop_template(key)

    async def _template(self, spec: SandboxSpec, key: str) -> Template:
        entry = self._templates.get(key)
        if entry is not None and entry[0].alive:
            return entry[0]
        pending = self._templates_starting.get(key)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[Template] = asyncio.get_running_loop().create_future()
        self._templates_starting[key] = future
        try:
            template = await self._start_template(spec, key)
            future.set_result(template)
            return template
        except BaseException as e:
            future.set_exception(e)
            future.exception()
            raise
        finally:
            del self._templates_starting[key]

    async def _start_template(self, spec: SandboxSpec, key: str) -> Template:
        if not self._fast_channel:
            raise ZygoteError("snapshot templates need the private channel (STRATUS_FAST_CHANNEL=1)")
        blank = (await self._blanks.spawn_blank(spec, template=True)).blank
        assert blank.channel is not None
        base = self._uids.take_block(UIDS_PER_TEMPLATE)
        template = Template(blank.pid, blank.channel, base)
        group = spec.env.get("AWS_LAMBDA_LOG_GROUP_NAME", "")
        region = spec.env.get("AWS_REGION", "")  # log groups are regional: the function's
        stream = spec.env.get("AWS_LAMBDA_LOG_STREAM_NAME", "").rsplit("]", 1)[0] + f"]template-{key[:12]}"
        reader = _LineReader(blank.output_fd, lambda line: self._sink(region, group, stream, line))
        asyncio.get_running_loop().add_reader(blank.output_fd, reader.read)
        try:
            await template.ready(TEMPLATE_INIT_TIMEOUT)
        except BaseException:
            template.close()
            self._release_template(blank, base)
            raise
        self._templates[key] = (template, blank, base)
        self._refill.set()  # park an environment for it
        while len(self._templates) > MAX_TEMPLATES:  # the oldest goes
            self._drop_template(next(iter(self._templates)))
        return template

    def _drop_template(self, key: str) -> None:
        for parked in self._parked.pop(key, deque()):
            self._discard_parked(parked)
        template, blank, base = self._templates.pop(key)
        template.close()
        self._release_template(blank, base)

    def _release_template(self, blank: Blank, base: int) -> None:
        with contextlib.suppress(Exception):
            asyncio.get_running_loop().remove_reader(blank.output_fd)
        self._blanks.discard(blank)
        self._uids.release(base)

    async def _park(self, template: Template, tmp_mb: int = DEFAULT_TMP_MB) -> Parked:
        """Fork an environment from `template` and place it in its cgroups; it then waits for its
        assignment. Done ahead of time, this keeps the fork and the cgroup moves (which wait for
        an RCU grace period on cgroup v1) off a cold start's path."""
        uid_index = template.take_uid()
        group = self._groups.create(uuid.uuid4().hex, BLANK_MEMORY_MB)
        out_r, out_w = os.pipe()
        os.set_blocking(out_r, False)
        ours, theirs = socket.socketpair()
        ours.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
        host_pid = None
        try:
            ns_pid = await template.fork({"uid": uid_index, "tmp_mb": tmp_mb}, [out_w, theirs.fileno()])
            ours.setblocking(False)
            host_pid = await hello(ours, TEMPLATE_INIT_TIMEOUT)
            await asyncio.gather(*(asyncio.to_thread(_join_cgroup, p, host_pid) for p in group.procs_files))
            net = await self._networks.attach(host_pid)
        except BaseException:
            if host_pid is not None:
                kill_quietly(host_pid)
            os.close(out_r)
            ours.close()
            self._groups.destroy(group)
            template.release_uid(uid_index)
            raise
        finally:
            os.close(out_w)
            theirs.close()
        return Parked(template, ns_pid, host_pid, uid_index, out_r, net, ours, group, tmp_mb)

    async def spawn(self, spec: SandboxSpec, key: str) -> SnapshotSandbox:
        """An environment of `spec` forked from its template (made now if there is none), or,
        if the template's init fails, an ordinary one, which reports the failure as Lambda does."""
        try:
            template = await self._template(spec, key)
        except TemplateInitFailed:
            # Init fails the same way in an ordinary environment, which reports it properly.
            return await self._blanks.spawn_blank(spec)  # type: ignore[return-value]
        waiting = self._parked.setdefault(key, deque())
        parked = None
        while waiting:
            candidate = waiting.popleft()
            if candidate.template is template and template.alive and pid_alive(candidate.host_pid):
                parked = candidate
                break
            self._discard_parked(candidate)
        self._refill.set()
        if parked is None:
            parked = await self._park(template, spec.tmp_mb)
        own = (
            "AWS_LAMBDA_LOG_STREAM_NAME",
            "AWS_REGION",
            "AWS_DEFAULT_REGION",
            # Each environment's own session (a client made during the template's init keeps
            # the template's, a session of the same role).
            "AWS_ACCESS_KEY_ID",
            "AWS_SECRET_ACCESS_KEY",
            "AWS_SESSION_TOKEN",
        )
        env = {k: spec.env[k] for k in own if k in spec.env}
        env.update({"AWS_LAMBDA_INITIALIZATION_TYPE": "snap-start", RUNTIME_API_ENV: RUNTIME_API_ADDRESS})
        try:
            if spec.network == "none":
                await self._networks.isolate(parked.net)
            self._groups.set_limits(parked.group, spec.memory_mb)
            parked.channel.sendall(channel.encode(ASSIGN, {"env": env, "tmp_mb": spec.tmp_mb}))
        except BaseException:
            self._discard_parked(parked)
            raise
        return SnapshotSandbox(
            self._groups,
            template,
            parked.ns_pid,
            parked.host_pid,
            parked.uid_index,
            parked.output_fd,
            parked.net,
            self._networks,
            parked.channel,
            parked.group,
        )

    def _discard_parked(self, parked: Parked) -> None:
        kill_quietly(parked.host_pid)
        with contextlib.suppress(OSError):
            os.close(parked.output_fd)
        self._networks.release(parked.net)
        parked.channel.close()
        self._groups.destroy(parked.group)
        parked.template.release_uid(parked.uid_index)

    def _sink(self, region: str, group: str, stream: str, line: str) -> None:
        if self._log_sink is not None and group:
            self._log_sink(region, group, stream, line)


class _LineReader:
    """Reads a template's output (its init's prints) line by line, for its function's log."""

    def __init__(self, fd: int, emit: Callable[[str], None]) -> None:
        self._fd = fd
        self._emit = emit
        self._cutter = OutputCutter(time.monotonic)  # bounded as an environment's output is

    def read(self) -> None:
        try:
            data = os.read(self._fd, 65536)
        except OSError:
            return
        for line in self._cutter.feed(data):
            self._emit(line)


def _join_cgroup(procs: str, pid: int) -> None:
    """Move a process into a cgroup from outside. Blocking: a v1 move waits for an RCU grace
    period, so the moves into each hierarchy run in threads at once."""
    with open(procs, "w") as f:
        f.write(str(pid))
