"""A function's identity: the region it lives in and its name.

On Lambda each region is its own namespace: the same name in two regions is two functions, and
a function is listed, read, invoked and deleted only in its own region. Every owner that keeps
something per function (the registry, the invoke service's pools and counters, logs, metrics)
keys it by `FunctionKey`, never by a bare name. Pure.
"""

from __future__ import annotations

from dataclasses import dataclass

from stratus.errors import ResourceNotFound

# Where records written before regions were kept go (their `home_region` was empty), and the
# region work is done in when no request names one: Lambda's and the AWS tools' default.
DEFAULT_REGION = "us-east-1"


@dataclass(frozen=True, order=True)
class FunctionKey:
    region: str
    name: str

    # The invoke path looks a function up by its key about 25 times per request (registry,
    # limiter, pools, metrics): the hash is computed once, and the same key object (the
    # registry's) compares by identity before comparing its fields.
    def __post_init__(self) -> None:
        object.__setattr__(self, "_hash", hash((self.region, self.name)))

    def __hash__(self) -> int:
        return self._hash  # type: ignore[attr-defined, no-any-return]

    def __eq__(self, other: object) -> bool:
        if self is other:
            return True
        if other.__class__ is not FunctionKey:
            return NotImplemented
        assert isinstance(other, FunctionKey)
        return self._hash == other._hash and self.region == other.region and self.name == other.name  # type: ignore[attr-defined]

    def __getstate__(self) -> tuple[str, str]:
        # A hash is only good in the process that made it (str hashes are salted per process).
        return self.region, self.name

    def __setstate__(self, state: tuple[str, str]) -> None:
        object.__setattr__(self, "region", state[0])
        object.__setattr__(self, "name", state[1])
        self.__post_init__()

    def arn(self, account: str, qualifier: str | None = None) -> str:
        arn = f"arn:aws:lambda:{self.region}:{account}:function:{self.name}"
        return f"{arn}:{qualifier}" if qualifier else arn

    def __str__(self) -> str:
        return f"{self.region}:{self.name}"


def not_reachable(arn_region: str, region: str) -> ResourceNotFound:
    """What Lambda answers for a function ARN of another region than the request's."""
    return ResourceNotFound(f"Functions from '{arn_region}' are not reachable in this region ('{region}')")


def check_region(arn_region: str | None, region: str) -> None:
    """An ARN (or partial ARN) naming a region other than the request's is refused, as Lambda
    refuses it: a function is reachable only in its own region."""
    if arn_region is not None and arn_region != region:
        raise not_reachable(arn_region, region)
