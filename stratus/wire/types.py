"""The shapes every protocol module shares: a request as the gateway received it, and the
answer a serializer makes. Nothing here knows HTTP servers; the gateway converts to and from
them at its edge."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from botocore.model import OperationModel, ServiceModel


@dataclass(frozen=True)
class WireRequest:
    """A request as received. `raw_path` is the path as sent (percent-encoded, no query);
    `query` holds the decoded query pairs in order; `headers` has lower-case names."""

    method: str
    raw_path: str
    query: tuple[tuple[str, str], ...] = ()
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


@dataclass(frozen=True)
class WireResponse:
    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes


@dataclass(frozen=True)
class WireError:
    """An error as a protocol writes it: AWS's code, its message, the HTTP status and whether
    the sender (4xx) or the receiver (5xx) is at fault. Extra members (Lambda's `Type`, say)
    go in `fields`."""

    code: str
    message: str
    status: int
    sender_fault: bool = True
    fields: Mapping[str, Any] = field(default_factory=dict)


class BadRequest(Exception):
    """The request cannot be read as any operation of the service (malformed body, unknown
    target or action, no route). The dispatcher maps it to the service's own error."""

    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status


class WireProtocol(Protocol):
    """One AWS protocol, server side."""

    @property
    def name(self) -> str:
        """botocore's protocol name: "json", "query", "rest-json", "rest-xml". Read-only, so
        that frozen dataclasses (the REST protocols) satisfy it."""
        ...

    def operation(
        self, service: ServiceModel, request: WireRequest
    ) -> tuple[OperationModel, dict[str, str]]:
        """Which operation the request calls, and (REST protocols) the URI labels it matched.
        Raises BadRequest when none."""
        ...

    def parse(
        self, operation: OperationModel, request: WireRequest, labels: dict[str, str]
    ) -> dict[str, Any]:
        """The operation's input as botocore's client would have built it (the same dict a
        boto3 call takes). Raises BadRequest for a body that cannot be read."""
        ...

    def serialize(
        self, operation: OperationModel, result: Mapping[str, Any], request_id: str
    ) -> WireResponse:
        """The answer botocore's parser turns back into `result`."""
        ...

    def error(self, service: ServiceModel, error: WireError, request_id: str) -> WireResponse:
        """The error answer from which botocore's parser reads `error.code` and message."""
        ...
