"""Who is on the other end of a loopback TCP connection: the owner uid of the peer's socket,
asked of the kernel through sock_diag (NETLINK_SOCK_DIAG, an exact 4-tuple lookup).

Environments share the host's network namespace, so any of them could connect to another's
Runtime API port. Each environment runs as a uid of its own; the Runtime API endpoint accepts a
connection only when the peer socket belongs to its environment's uid.
"""

from __future__ import annotations

import contextlib
import ipaddress
import socket
import struct

NETLINK_SOCK_DIAG = 4
SOCK_DIAG_BY_FAMILY = 20
NLM_F_REQUEST = 1
NLMSG_ERROR = 2
INET_DIAG_NOCOOKIE = 0xFFFFFFFF
ALL_STATES = 0xFFFFFFFF

_NLMSGHDR = struct.Struct("=IHHII")
# family, protocol, ext, pad, states; then inet_diag_sockid: sport, dport (big-endian),
# src[16], dst[16], interface, cookie[2]
_REQ = struct.Struct("=BBBBI")
_SOCKID = struct.Struct(">HH16s16s")
_SOCKID_TAIL = struct.Struct("=III")
_MSG_UID_OFFSET = 4 + 48 + 12  # inet_diag_msg: header bytes, sockid, expires/rqueue/wqueue


def _address(host: str, family: int) -> bytes:
    packed = ipaddress.ip_address(host).packed
    return packed.ljust(16, b"\0") if family == socket.AF_INET else packed


def tcp_peer_uid(local: tuple[str, int], peer: tuple[str, int]) -> int | None:
    """The uid owning the socket at `peer` that is connected to `local`; None if unknown."""
    family = socket.AF_INET6 if ":" in peer[0] else socket.AF_INET
    sockid = _SOCKID.pack(peer[1], local[1], _address(peer[0], family), _address(local[0], family))
    body = (
        _REQ.pack(family, socket.IPPROTO_TCP, 0, 0, ALL_STATES)
        + sockid
        + _SOCKID_TAIL.pack(0, INET_DIAG_NOCOOKIE, INET_DIAG_NOCOOKIE)
    )
    header = _NLMSGHDR.pack(_NLMSGHDR.size + len(body), SOCK_DIAG_BY_FAMILY, NLM_F_REQUEST, 1, 0)
    with contextlib.closing(socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM, NETLINK_SOCK_DIAG)) as nl:
        nl.settimeout(1.0)
        try:
            nl.send(header + body)
            reply = nl.recv(8192)
        except OSError:
            return None
    if len(reply) < _NLMSGHDR.size:
        return None
    _length, kind, _flags, _seq, _pid = _NLMSGHDR.unpack_from(reply)
    offset = _NLMSGHDR.size + _MSG_UID_OFFSET
    if kind == NLMSG_ERROR or len(reply) < offset + 4:
        return None
    return int(struct.unpack_from("=I", reply, offset)[0])
