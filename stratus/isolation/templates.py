"""The server's side of snapshot-style templates (see `runtimes/pyboot/stratus_template.py`).

A `Template` owns one template environment and its channel: it writes the template's user
namespace maps when asked, waits for its init to finish, and forks environments from it, each
reported back with its PID-namespace-local pid and, later, its exit (the socket's reader, the
pending forks and the exit reports are its `Forker` base's, `forker.py`, as a zygote's are).
Environments forked from it talk to the server over channels of their own; `hello` reads an
environment's host pid from its first frame (SO_PASSCRED), which is how the server can signal
it and place it in its cgroups. `SnapshotSandbox` is such an environment once assigned.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import struct
from dataclasses import dataclass
from typing import Any

from stratus.errors import ServiceError
from stratus.isolation.backend import ExitStatus
from stratus.isolation.cgroups import EnvironmentGroup, EnvironmentGroups
from stratus.isolation.forker import Forker, kill_quietly
from stratus.isolation.memory import MemoryPeak
from stratus.isolation.network import EnvironmentNet, Networks
from stratus.runtimes.pyboot import stratus_channel as channel

log = logging.getLogger("stratus.isolation")
MAPME, MAPPED, READY, INIT_FAILED, FORK, FORKED, EXITED, HELLO, ASSIGN = range(10, 19)
# Host uids per template: the template is uid 0 of its namespace; environments take 1..N-1.
UIDS_PER_TEMPLATE = 256
_UCRED = struct.Struct("iII")
HELLO_SIZE = len(channel.encode(HELLO, {}))  # read exactly it: the runtime's frames follow


class TemplateInitFailed(Exception):
    """The template's init raised; `document` is the error in awslambdaric's format."""

    def __init__(self, document: bytes) -> None:
        super().__init__(document.decode(errors="replace"))
        self.document = document


class Template(Forker):
    def __init__(self, pid: int, sock: socket.socket, uid_base: int) -> None:
        super().__init__()
        self.pid = pid  # host pid of the template
        self.uid_base = uid_base
        self._decoder = channel.Decoder()
        self._ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._free = list(range(UIDS_PER_TEMPLATE - 1, 0, -1))
        self._listen(sock)

    async def ready(self, timeout: float) -> None:
        await asyncio.wait_for(asyncio.shield(self._ready), timeout)

    def take_uid(self) -> int:
        if not self._free:
            raise ServiceError("this template has no environment uid left")
        return self._free.pop()

    def release_uid(self, index: int) -> None:
        self._free.append(index)

    async def fork(self, request: dict[str, Any], fds: list[int]) -> int:
        """Fork an environment; returns its pid inside the template's PID namespace."""
        if not self.alive:
            raise ServiceError("the template has exited")
        # The template answers in order, so a request needs no id.
        return await self._fork(lambda _request_id: channel.encode(FORK, request), fds)

    def _on_data(self, data: bytes) -> None:
        assert self._sock is not None
        self._decoder.feed(data)
        for kind, header, body in self._decoder.frames():
            if kind == MAPME:
                self._write_maps()
                self._sock.sendall(channel.encode(MAPPED, {}))
            elif kind == READY and not self._ready.done():
                self._ready.set_result(None)
            elif kind == INIT_FAILED and not self._ready.done():
                self._ready.set_exception(TemplateInitFailed(body))
            elif kind == FORKED:
                if header.get("error"):
                    self._forked(None, None, ServiceError(f"fork from template failed: {header['error']}"))
                else:
                    self._forked(None, int(header["ns_pid"]), None)
            elif kind == EXITED:
                self._exited(int(header["ns_pid"]), int(header["code"]))

    def _write_maps(self) -> None:
        mapping = f"0 {self.uid_base} {UIDS_PER_TEMPLATE}\n"
        with open(f"/proc/{self.pid}/uid_map", "w") as f:
            f.write(mapping)
        with open(f"/proc/{self.pid}/gid_map", "w") as f:
            f.write(mapping)

    def _unreachable(self, error: OSError) -> Exception:
        return ServiceError(f"cannot reach the template: {error}")

    def _died(self) -> Exception:
        if not self._ready.done():
            self._ready.set_exception(ServiceError("the template exited during init"))
            self._ready.exception()
        return ServiceError("the template exited")

    def close(self) -> None:
        self._on_death()
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGKILL)


async def hello(sock: socket.socket, timeout: float) -> int:
    """The host pid of the process that sends the first frame on `sock` (SO_PASSCRED set)."""
    loop = asyncio.get_running_loop()
    done: asyncio.Future[int] = loop.create_future()

    def readable() -> None:
        try:
            data, ancillary, _flags, _addr = sock.recvmsg(HELLO_SIZE, socket.CMSG_SPACE(_UCRED.size))
        except BlockingIOError:
            return
        except OSError as e:
            data, ancillary = b"", []
            log.debug("hello failed: %s", e)
        loop.remove_reader(sock.fileno())
        for level, kind, raw in ancillary:
            if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
                pid, _uid, _gid = _UCRED.unpack(raw[: _UCRED.size])
                if not done.done():
                    done.set_result(pid)
                return
        if not done.done():
            done.set_exception(ServiceError(f"the environment did not say hello ({data[:20]!r})"))

    loop.add_reader(sock.fileno(), readable)
    try:
        return await asyncio.wait_for(done, timeout)
    finally:
        with contextlib.suppress(Exception):
            loop.remove_reader(sock.fileno())


@dataclass
class Parked:
    """An environment forked from a template, in its cgroups, waiting for its assignment."""

    template: Template
    ns_pid: int
    host_pid: int
    uid_index: int
    output_fd: int
    net: EnvironmentNet
    channel: socket.socket
    group: EnvironmentGroup
    tmp_mb: int


class SnapshotSandbox:
    """An environment forked from a template: the template is its parent and reports its exit."""

    def __init__(
        self,
        groups: EnvironmentGroups,
        template: Template,
        ns_pid: int,
        host_pid: int,
        uid_index: int,
        output_fd: int,
        net: EnvironmentNet,
        networks: Networks,
        chan: socket.socket,
        group: EnvironmentGroup,
    ) -> None:
        self._groups = groups
        self._template = template
        self._ns_pid = ns_pid
        self._pid = host_pid
        self._uid_index = uid_index
        self._output_fd = output_fd
        self._net = net
        self._networks = networks
        self._channel = chan
        self._group = group
        self._memory = MemoryPeak(groups.peak_file(group), host_pid)
        self._cleaned = False

    @property
    def pid(self) -> int:
        return self._pid

    @property
    def output_fd(self) -> int:
        return self._output_fd

    @property
    def runtime_listener(self) -> socket.socket:
        return self._net.runtime_listener

    @property
    def channel(self) -> socket.socket | None:
        return self._channel

    async def wait(self) -> ExitStatus:
        code = await self._template.wait(self._ns_pid)
        return ExitStatus(code, oom_killed=self._groups.oom_killed(self._group))

    def kill(self) -> None:
        kill_quietly(self._pid)

    def initialized(self) -> None:
        pass  # its init ran in the template; its quota was the proportional one from the start

    def max_memory_bytes(self) -> int:
        # The pages it shares with its template are charged to the template's cgroup, yet the
        # function uses them: read as every environment is (memory.py).
        return self._memory.bytes()

    def cleanup(self) -> None:
        if self._cleaned:
            return
        self._cleaned = True
        self.kill()
        with contextlib.suppress(OSError):
            os.close(self._output_fd)
        self._memory.close()
        self._networks.release(self._net)
        self._channel.close()
        self._groups.destroy(self._group)
        self._template.release_uid(self._uid_index)
