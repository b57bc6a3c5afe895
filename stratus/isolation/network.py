"""Each environment's own network namespace: loopback, a routed veth with NAT to the outside
world, and listening sockets the server serves from inside it.

An environment is cloned into a new network namespace (its zygote or template passes
CLONE_NEWNET). The server then enters that namespace from one worker thread (`setns` affects
only the calling thread) and, before the environment is given any function:
- brings `lo` up and opens two listening sockets there: the Runtime API at 127.0.0.1:9001 (as
  on Lambda) and the Stratus endpoint at 127.0.0.1:PORT, the server's own port. A socket stays
  in the namespace it was created in, so only that environment can connect to either, and the
  server accepts on them like on any other socket;
- when egress is on, creates a veth pair: `sxN` on the host and `eth0` inside, a /30 of
  198.18.0.0/15 (the benchmarking range, which no real network routes) taken with a host-wide
  lock so instances side by side never share one, and a default route through the host.

A netfilter table per instance (`nft`) masquerades the environments' traffic to the outside and
drops anything from an `sx*` interface addressed to the host itself or to another environment:
the host's loopback is not reachable by construction (127.0.0.1 is the environment's own), its
other addresses by that rule. IPv6 is off on both ends of every veth. Without `nft` (the
nftables package) environments still get their namespace, loopback and the Stratus endpoint, but
no egress, and `limitations()` says so.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import ctypes
import fcntl
import ipaddress
import logging
import os
import shutil
import socket
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from stratus.isolation.hostlocks import try_lock
from stratus.isolation.netlink import Netlink

log = logging.getLogger("stratus.network")

RUNTIME_API_PORT = 9001
RUNTIME_API_ADDRESS = f"127.0.0.1:{RUNTIME_API_PORT}"
SUBNET = ipaddress.IPv4Network("198.18.0.0/15")
SLOTS = SUBNET.num_addresses // 4  # a /30 each: host side .1, environment .2
SLOT_LOCKS = Path("/run/stratus/net")
HOST_PREFIX = "sx"  # host-side interface names; the netfilter rules match on it
CLONE_NEWNET = 0x40000000

_libc = ctypes.CDLL(None, use_errno=True)


class EndpointDoors(Protocol):
    """Serves the Stratus endpoint on a listening socket that lives in an environment's
    namespace; provided by the application, which owns the HTTP front."""

    async def open(self, listener: socket.socket) -> None: ...

    def close(self, listener: socket.socket) -> None: ...


@dataclass
class EnvironmentNet:
    """What one environment's namespace holds on the server's side."""

    netns_fd: int
    runtime_listener: socket.socket
    endpoint_listener: socket.socket | None
    slot: int | None = None  # its /30, while it has a veth


def slot_addresses(slot: int) -> tuple[str, str]:
    """(host side, environment side) of a slot's /30."""
    base = int(SUBNET.network_address) + 4 * slot
    return str(ipaddress.IPv4Address(base + 1)), str(ipaddress.IPv4Address(base + 2))


def ruleset(table: str) -> str:
    """The per-instance netfilter table (nft syntax). Pure, so it is tested as text."""
    sx = f'"{HOST_PREFIX}*"'
    return f"""
table inet {table} {{
  chain input {{
    type filter hook input priority -10; policy accept;
    iifname {sx} drop
  }}
  chain forward {{
    type filter hook forward priority -10; policy accept;
    iifname {sx} oifname {sx} drop
    iifname {sx} accept
    oifname {sx} ct state established,related accept
    oifname {sx} drop
  }}
  chain postrouting {{
    type nat hook postrouting priority 100; policy accept;
    ip saddr {SUBNET} oifname != {sx} masquerade
  }}
}}
"""


class _SlotLocks:
    """Slots taken host-wide: a slot is held by an advisory lock on its file, which the kernel
    drops if this instance dies."""

    def __init__(self, start: int) -> None:
        SLOT_LOCKS.mkdir(parents=True, exist_ok=True)
        self._next = start % SLOTS
        self._held: dict[int, int] = {}

    def take(self) -> int:
        for _ in range(SLOTS):
            slot = self._next
            self._next = (self._next + 1) % SLOTS
            if slot in self._held:
                continue
            fd = try_lock(SLOT_LOCKS / str(slot))
            if fd is None:
                continue
            self._held[slot] = fd
            return slot
        raise OSError("no free network slot for an environment")

    def release(self, slot: int) -> None:
        fd = self._held.pop(slot, None)
        if fd is not None:
            os.close(fd)

    def close(self) -> None:
        for slot in list(self._held):
            self.release(slot)


class Networks:
    """Contract: `attach(pid)` gives the namespace of a freshly cloned environment its loopback,
    listeners and (with egress) veth, and returns what the server keeps of it; `isolate` takes
    the veth and the Stratus endpoint away again (`stratus:network=none`); `release` undoes
    everything. Namespace work runs on a worker thread (`setns` moves only the calling thread),
    which returns to the host's namespace before it takes its next job. One worker is the
    fastest measured: the kernel serialises these requests (RTNL), and more threads only
    contended (59 set-ups took 143 ms on one, 172 to 186 ms on two to four). Owns the netfilter
    table and slot locks."""

    def __init__(self, instance: str, endpoint_port: int, doors: EndpointDoors) -> None:
        self._table = f"stratus_{instance}"
        self._endpoint_port = endpoint_port
        self._doors = doors
        self._host_ns = os.open("/proc/self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
        # One worker thread does all namespace work and owns the slot locks' use.
        self._worker = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="stratus-netns")
        self._slots = _SlotLocks(start=int(instance) * 61 if instance.isdigit() else 0)
        self._host_link: Netlink | None = None  # the worker's netlink socket, in the host namespace
        self.egress_problem: str | None = None

    def start(self) -> None:
        """Install the netfilter table and turn on forwarding; on failure, run without egress.
        The worker starts now, with its netlink socket, so the server's own descriptors are the
        same from the start as under load."""
        self.egress_problem = self._install_rules()
        if self.egress_problem is not None:
            log.warning("functions get no outbound network: %s", self.egress_problem)
        self._worker.submit(self._host_route).result(timeout=60)

    def _install_rules(self) -> str | None:
        nft = shutil.which("nft") or next(
            (p for p in ("/usr/sbin/nft", "/sbin/nft") if os.path.exists(p)), None
        )
        if nft is None:
            return "nft (the nftables package) is not installed"
        _sweep_tables(nft)
        text = f"table inet {self._table}\ndelete table inet {self._table}\n" + ruleset(self._table)
        done = subprocess.run([nft, "-f", "-"], input=text, capture_output=True, text=True, timeout=30)
        if done.returncode != 0:
            return f"nft refused the rules: {done.stderr.strip()[:300]}"
        try:
            Path("/proc/sys/net/ipv4/ip_forward").write_text("1\n")
        except OSError as e:
            return f"cannot turn on IPv4 forwarding: {e}"
        return None

    def limitations(self) -> list[str]:
        if self.egress_problem is None:
            return []
        return [f"functions have no outbound network: {self.egress_problem}"]

    async def attach(self, pid: int, *, egress: bool = True) -> EnvironmentNet:
        """Set up the namespace of `pid` (just cloned with CLONE_NEWNET)."""
        loop = asyncio.get_running_loop()
        netns_fd = os.open(f"/proc/{pid}/ns/net", os.O_RDONLY | os.O_CLOEXEC)
        try:
            runtime, endpoint = await loop.run_in_executor(self._worker, self._listeners, netns_fd)
        except BaseException:
            os.close(netns_fd)
            raise
        net = EnvironmentNet(netns_fd, runtime, endpoint)
        try:
            if egress and self.egress_problem is None:
                net.slot = await loop.run_in_executor(self._worker, self._plug, netns_fd)
            await self._doors.open(endpoint)
        except BaseException:
            self.release(net)
            raise
        return net

    async def isolate(self, net: EnvironmentNet) -> None:
        """No network but loopback (and the Runtime API) from now on."""
        self._shut_door(net)
        if net.slot is not None:
            slot, net.slot = net.slot, None
            await asyncio.get_running_loop().run_in_executor(self._worker, self._unplug, slot)

    def release(self, net: EnvironmentNet) -> None:
        net.runtime_listener.close()
        self._shut_door(net)
        if net.slot is not None:
            # The worker deletes the veth, then frees the slot; close() waits for it.
            slot, net.slot = net.slot, None
            with contextlib.suppress(RuntimeError):  # the worker is already shut down
                self._worker.submit(self._unplug, slot)
        with contextlib.suppress(OSError):
            os.close(net.netns_fd)

    def _shut_door(self, net: EnvironmentNet) -> None:
        if net.endpoint_listener is not None:
            self._doors.close(net.endpoint_listener)
            net.endpoint_listener.close()
            net.endpoint_listener = None

    def close(self) -> None:
        self._worker.shutdown(wait=True)
        if self._host_link is not None:
            self._host_link.close()
        self._slots.close()
        nft = shutil.which("nft")
        if nft is not None and self.egress_problem is None:
            subprocess.run(
                [nft, "delete", "table", "inet", self._table], capture_output=True, timeout=30, check=False
            )
        os.close(self._host_ns)

    # -- on the worker thread ------------------------------------------------------------------

    @contextlib.contextmanager
    def _inside(self, netns_fd: int) -> Iterator[None]:
        _setns(netns_fd)
        try:
            yield
        finally:
            _setns(self._host_ns)  # if this failed the thread would be lost: it raises

    def _listeners(self, netns_fd: int) -> tuple[socket.socket, socket.socket]:
        with self._inside(netns_fd):
            _interface_up("lo")
            runtime = _listen(RUNTIME_API_PORT)
            endpoint = _listen(self._endpoint_port)
        return runtime, endpoint

    def _host_route(self) -> Netlink:
        if self._host_link is None:
            self._host_link = Netlink()  # made by the worker at home: the host's netlink
        return self._host_link

    def _plug(self, netns_fd: int) -> int:
        slot = self._slots.take()
        host_if = f"{HOST_PREFIX}{slot}"
        host_ip, env_ip = slot_addresses(slot)
        host = self._host_route()
        try:
            host.delete_link(host_if)  # a veth left by a crashed instance
            host.create_veth(host_if, "eth0", netns_fd)
            _no_ipv6(host_if)
            host.add_address(host_if, host_ip, 30)
            host.set_up(host_if)
            with self._inside(netns_fd):
                _no_ipv6("eth0")
                with Netlink() as inner:  # made inside: the environment's netlink
                    inner.add_address("eth0", env_ip, 30)
                    inner.set_up("eth0")
                    inner.add_default_route(host_ip)
        except BaseException:
            self._unplug(slot)
            raise
        return slot

    def _unplug(self, slot: int) -> None:
        try:
            with contextlib.suppress(OSError):
                self._host_route().delete_link(f"{HOST_PREFIX}{slot}")
        finally:
            self._slots.release(slot)


def _sweep_tables(nft: str) -> None:
    """Delete the tables of instances that died without removing theirs (SIGKILL, say): each is
    named for its server's pid, and their rules would otherwise pile up."""
    listing = subprocess.run([nft, "list", "tables", "inet"], capture_output=True, text=True, timeout=30)
    for line in listing.stdout.splitlines():
        name = line.split()[-1] if line.startswith("table inet ") else ""
        pid = name.removeprefix("stratus_")
        if not (name.startswith("stratus_") and pid.isdigit()) or _is_stratus(int(pid)):
            continue
        subprocess.run([nft, "delete", "table", "inet", name], capture_output=True, timeout=30, check=False)


def _is_stratus(pid: int) -> bool:
    try:
        return b"stratus" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


def _setns(fd: int) -> None:
    if _libc.setns(fd, CLONE_NEWNET) != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"setns: {os.strerror(errno)}")


def _listen(port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    sock.listen(64)
    sock.setblocking(False)
    return sock


def _interface_up(name: str) -> None:
    """A new namespace starts with its interfaces down (an ioctl: cheaper than netlink here)."""
    import struct

    siocgifflags, siocsifflags, iff_up = 0x8913, 0x8914, 0x1
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        request = struct.pack("16sH14s", name.encode(), 0, b"")
        flags = struct.unpack("16sH14s", fcntl.ioctl(sock, siocgifflags, request))[1]
        fcntl.ioctl(sock, siocsifflags, struct.pack("16sH14s", name.encode(), flags | iff_up, b""))


def _no_ipv6(interface: str) -> None:
    """No IPv6 (not even link-local) on a veth end: the rules are written for IPv4 traffic."""
    with contextlib.suppress(OSError):
        Path(f"/proc/sys/net/ipv6/conf/{interface}/disable_ipv6").write_text("1\n")

