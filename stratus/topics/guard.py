"""Holding HTTP(S) subscription endpoints to endpoints.py's rules, where the kernel and the
resolver must be asked: at Subscribe (InvalidParameter) and for each delivery, through a
resolver that refuses a name resolving to a forbidden address, so that the address checked is
the address connected to (no window for the name to change between the two)."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import socket

from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver

from stratus.topics import endpoints
from stratus.topics.errors import InvalidParameter

RESOLVE_TIMEOUT_S = 5.0


def host_local(address: endpoints.Address) -> bool:
    """Whether `address` is one of this host's own: the kernel lets a socket bind only to
    those (no IP_FREEBIND), which covers every interface without listing them."""
    family = socket.AF_INET if address.version == 4 else socket.AF_INET6
    with socket.socket(family, socket.SOCK_DGRAM) as probe:
        try:
            probe.bind((str(address), 0))
        except OSError:
            return False
    return True


def refusal(address: endpoints.Address, allow_loopback: bool) -> str | None:
    address = endpoints.unmapped(address)
    return endpoints.refusal(
        address,
        allow_loopback=allow_loopback,
        host_local=not allow_loopback and host_local(address),
    )


class Refused(OSError):
    """A delivery's endpoint resolves to an address SNS may not reach (a failed attempt)."""

    def __init__(self, reason: str) -> None:
        # With an errno, so that aiohttp's connection error carries the reason as strerror.
        super().__init__(errno.EACCES, reason)


def check_literal(url: str, allow_loopback: bool) -> None:
    """Refused if the URL names a forbidden address literally (aiohttp connects to a literal
    without asking the resolver); a name is left to the resolver."""
    try:
        host = endpoints.host_of(url)
    except ValueError as e:
        raise Refused(str(e)) from None
    address = endpoints.literal(host)
    if address is not None:
        reason = refusal(address, allow_loopback)
        if reason is not None:
            raise Refused(f"{host} is {reason}")


async def check_subscription(url: str, allow_loopback: bool) -> None:
    """InvalidParameter if an HTTP(S) endpoint names or resolves to a forbidden address. A name
    that does not resolve now is accepted, as SNS accepts it: its deliveries will fail."""
    try:
        host = endpoints.host_of(url)
    except ValueError:
        raise InvalidParameter("Invalid parameter: Endpoint") from None
    address = endpoints.literal(host)
    if address is not None:
        found = [address]
    else:
        found = []
        with contextlib.suppress(OSError, TimeoutError, UnicodeError):
            async with asyncio.timeout(RESOLVE_TIMEOUT_S):
                infos = await asyncio.get_running_loop().getaddrinfo(host, None, type=socket.SOCK_STREAM)
            found = [a for a in (endpoints.literal(str(info[4][0])) for info in infos) if a is not None]
    for each in found:
        reason = refusal(each, allow_loopback)
        if reason is not None:
            raise InvalidParameter(endpoints.message(url, reason))


class GuardedResolver(AbstractResolver):
    """The default resolver, refusing a name if any address it resolves to is forbidden."""

    def __init__(self, allow_loopback: bool) -> None:
        self._inner = DefaultResolver()
        self._allow_loopback = allow_loopback

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        results = await self._inner.resolve(host, port, family)
        for result in results:
            address = endpoints.literal(result["host"])
            reason = "not an address" if address is None else refusal(address, self._allow_loopback)
            if reason is not None:
                raise Refused(f"{host} resolves to {result['host']}, {reason}")
        return results

    async def close(self) -> None:
        await self._inner.close()
