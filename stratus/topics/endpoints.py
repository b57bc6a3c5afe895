"""Which addresses SNS may POST an HTTP(S) subscription's messages to (pure).

The server makes those requests itself, from the host's network namespace, on behalf of
whoever could call Subscribe (a function's role that allows sns:Subscribe, for one). Left
unchecked, that is a request forgery into the host: its loopback services (the server's own
port among them), link-local and cloud metadata addresses, the host's other addresses, and the
environments' veths (another function's sandbox). So those are refused, at Subscribe and again
for each delivery after its name is resolved (the name may have changed since).

Private ranges (10/8, 172.16/12, 192.168/16, fc00::/7) stay allowed: they are where on-premises
endpoints live. `STRATUS_SNS_ALLOW_LOOPBACK=1` (an operator's setting, for local development)
allows loopback, link-local and the host's own addresses; never the metadata services, the
unspecified address or the environments' range.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from stratus.isolation.network import SUBNET as ENVIRONMENTS

SETTING = "STRATUS_SNS_ALLOW_LOOPBACK"

Address = ipaddress.IPv4Address | ipaddress.IPv6Address

# Instance metadata and credential services that clouds serve at fixed addresses: AWS's IMDS
# (IPv4 and IPv6) and ECS task credentials, Azure's and GCP's (169.254.169.254 too), Alibaba's,
# Oracle's. Refused even when link-local is allowed: no local development needs them.
METADATA = frozenset(
    ipaddress.ip_address(a)
    for a in ("169.254.169.254", "169.254.170.2", "fd00:ec2::254", "100.100.100.200", "192.0.0.192")
)
# "This network": Linux connects 0.0.0.0/8 (and ::) to the host itself.
THIS_NETWORK = ipaddress.ip_network("0.0.0.0/8")


def host_of(url: str) -> str:
    """The host part of an http(s) URL, brackets stripped, lower case; ValueError if none."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise ValueError(f"not an http or https URL: {url}")
    host = parts.hostname
    parts.port  # noqa: B018 - raises ValueError on a port that is not a number in range
    if not host:
        raise ValueError(f"no host in {url}")
    return host


def literal(host: str) -> Address | None:
    """The address a host names literally (an IPv4-mapped IPv6 address as its IPv4 one), or
    None for a name that needs resolving."""
    try:
        address = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return None
    return unmapped(address)


def unmapped(address: Address) -> Address:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def refusal(address: Address, *, allow_loopback: bool, host_local: bool = False) -> str | None:
    """Why SNS may not deliver to `address` (a phrase), or None if it may. `host_local`: the
    address is one of the host's own (found by the caller, which can ask the kernel)."""
    address = unmapped(address)
    if address in METADATA:
        return "a cloud instance metadata address"
    if address.is_unspecified or (isinstance(address, ipaddress.IPv4Address) and address in THIS_NETWORK):
        return "the unspecified address (the host itself)"
    if isinstance(address, ipaddress.IPv4Address) and address in ENVIRONMENTS:
        return "in the range of the function environments' networks"
    if address.is_multicast or (
        isinstance(address, ipaddress.IPv4Address) and address == ipaddress.IPv4Address("255.255.255.255")
    ):
        return "not a unicast address"
    if allow_loopback:
        return None
    if address.is_loopback:
        return "a loopback address of the Stratus host"
    if address.is_link_local:
        return "a link-local address"
    if host_local:
        return "an address of the Stratus host itself"
    return None


def message(endpoint: str, reason: str) -> str:
    """The InvalidParameter message for a refused endpoint: what and why, and the setting."""
    return (
        f"Invalid parameter: Endpoint Reason: {endpoint} resolves to {reason}; SNS does not deliver "
        f"to the host's own or internal addresses (an operator may set {SETTING}=1 to allow "
        "loopback and link-local endpoints for local development)"
    )
