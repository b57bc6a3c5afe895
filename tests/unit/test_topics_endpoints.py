"""Which addresses SNS may POST HTTP(S) subscriptions to (stratus/topics/endpoints.py), and the
checks around it that ask the kernel and the resolver (stratus/topics/guard.py)."""

from __future__ import annotations

import asyncio
import ipaddress

import pytest

from stratus.topics import endpoints, guard
from stratus.topics.errors import InvalidParameter


def refused(address: str, allow_loopback: bool = False, host_local: bool = False) -> str | None:
    return endpoints.refusal(
        ipaddress.ip_address(address), allow_loopback=allow_loopback, host_local=host_local
    )


@pytest.mark.parametrize(
    "address",
    ["127.0.0.1", "127.8.9.10", "::1", "::ffff:127.0.0.1", "169.254.1.1", "fe80::1", "169.254.169.254"],
)
def test_loopback_and_link_local_are_refused_by_default(address: str) -> None:
    assert refused(address) is not None


@pytest.mark.parametrize("address", ["127.0.0.1", "::1", "::ffff:127.0.0.1", "169.254.1.1", "fe80::1"])
def test_the_setting_allows_loopback_and_link_local(address: str) -> None:
    assert refused(address, allow_loopback=True) is None


@pytest.mark.parametrize(
    "address",
    [
        "169.254.169.254",  # AWS, Azure, GCP instance metadata
        "fd00:ec2::254",  # AWS's IPv6 metadata
        "169.254.170.2",  # ECS task credentials
        "100.100.100.200",  # Alibaba
        "::ffff:169.254.169.254",
        "0.0.0.0",
        "0.1.2.3",
        "::",
        "198.18.0.2",  # an environment's veth: another function's sandbox
        "198.19.255.254",
        "224.0.0.1",
        "255.255.255.255",
        "ff02::1",
    ],
)
def test_metadata_unspecified_environments_and_multicast_are_refused_even_with_the_setting(
    address: str,
) -> None:
    assert refused(address, allow_loopback=True) is not None
    assert refused(address) is not None


@pytest.mark.parametrize(
    "address", ["10.1.2.3", "172.16.0.9", "192.168.1.20", "fd12:3456::1", "203.0.113.2", "93.184.216.34"]
)
def test_private_and_public_addresses_are_allowed(address: str) -> None:
    assert refused(address) is None


def test_the_hosts_own_address_is_refused_unless_the_setting_allows_it() -> None:
    assert refused("10.0.0.5", host_local=True) == "an address of the Stratus host itself"
    assert refused("10.0.0.5", allow_loopback=True, host_local=True) is None


def test_host_of_and_literal() -> None:
    assert endpoints.host_of("http://[::1]:8080/x") == "::1"
    assert endpoints.host_of("https://User@Example.COM/x") == "example.com"
    assert endpoints.literal("::ffff:7f00:1") == ipaddress.ip_address("127.0.0.1")
    assert endpoints.literal("localhost") is None
    assert endpoints.literal("2130706433") is None  # a name to the resolver, which refuses it
    for bad in ("ftp://x/", "http:///path", "http://x:99999/", "http://x:port/"):
        with pytest.raises(ValueError):
            endpoints.host_of(bad)


def test_message_names_the_endpoint_and_the_setting() -> None:
    text = endpoints.message("http://127.0.0.1:9/", "a loopback address of the Stratus host")
    assert "http://127.0.0.1:9/" in text and endpoints.SETTING in text


def test_host_local_asks_the_kernel() -> None:
    assert guard.host_local(ipaddress.ip_address("127.0.0.1"))
    assert not guard.host_local(ipaddress.ip_address("192.0.2.77"))  # TEST-NET-1: nobody's


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/hook",
        "http://[::1]/",
        "http://[::ffff:127.0.0.1]/",
        "http://localhost:8080/",  # a name: resolved (from /etc/hosts)
        "http://2130706433/",  # 127.0.0.1 in one number: getaddrinfo resolves it
        "http://127.1/",
        "http://169.254.169.254/latest/meta-data/",
        "http://0.0.0.0:9000/",
    ],
)
def test_subscribe_refuses_host_only_endpoints(url: str) -> None:
    with pytest.raises(InvalidParameter) as err:
        asyncio.run(guard.check_subscription(url, allow_loopback=False))
    assert endpoints.SETTING in err.value.message


def test_subscribe_with_the_setting_allows_loopback_not_metadata() -> None:
    asyncio.run(guard.check_subscription("http://127.0.0.1:8080/hook", allow_loopback=True))
    asyncio.run(guard.check_subscription("http://localhost:8080/hook", allow_loopback=True))
    with pytest.raises(InvalidParameter):
        asyncio.run(guard.check_subscription("http://169.254.169.254/", allow_loopback=True))


def test_subscribe_allows_private_addresses() -> None:
    asyncio.run(guard.check_subscription("http://10.20.30.40:8080/hook", allow_loopback=False))
    asyncio.run(guard.check_subscription("https://[fd12::1]/hook", allow_loopback=False))


def test_each_delivery_refuses_a_literal_and_a_name_resolving_to_loopback() -> None:
    with pytest.raises(guard.Refused):
        guard.check_literal("http://[::1]:80/", allow_loopback=False)
    guard.check_literal("http://localhost/", allow_loopback=False)  # a name: the resolver's
    guard.check_literal("http://[::1]:80/", allow_loopback=True)

    async def resolve(allow: bool) -> list[str]:
        resolver = guard.GuardedResolver(allow)
        try:
            return [r["host"] for r in await resolver.resolve("localhost", 80)]
        finally:
            await resolver.close()

    with pytest.raises(guard.Refused):
        asyncio.run(resolve(False))
    assert "127.0.0.1" in asyncio.run(resolve(True))
