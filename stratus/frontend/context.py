"""The wide context of the pages and endpoints that read across services (the dashboard, the
cost report and Prometheus scrape, the gateway's signature check), and the request's host.

Each declared service gets a context of its own with only what its handlers read (declared next
to its handlers: `LogsContext`, `LambdaContext`...), paired with it by `gateway/declared.py`.
"""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass
from typing import Protocol

from aiohttp import web

from stratus.config import Config
from stratus.control.registry import Registry
from stratus.identity.authorizer import Authorizer
from stratus.identity.keyring import Keyring
from stratus.invoke.async_queue import AsyncInvoker
from stratus.invoke.service import InvokeService
from stratus.observe.logstore import LogStore
from stratus.observe.metrics import Metrics


@dataclass(frozen=True)
class ApiContext:
    """What the dashboard's pages and `services/metering.py` read (and the gateway's keyring
    and authorizer, for SigV4 and policies): no declared service's handlers get it."""

    config: Config
    keyring: Keyring
    authorizer: Authorizer
    registry: Registry
    invoker: InvokeService
    logs: LogStore
    async_invoker: AsyncInvoker
    metrics: Metrics

    @property
    def account_id(self) -> str:
        return self.config.account_id


CTX = web.AppKey("ctx", ApiContext)
# The Host a declared service's request was sent to, for the handlers whose answers carry a URL
# of this server (an HTTP API's ApiEndpoint, a function URL): it must work for the client that
# asked, which may have reached the server by another name than its configured host. Set by the
# gateway around each dispatch, in the task serving the request.
HOST: ContextVar[str | None] = ContextVar("host", default=None)


def ctx(request: web.Request) -> ApiContext:
    return request.app[CTX]


class Hosted(Protocol):
    """A context that knows the host (and port) this server is configured to answer on."""

    @property
    def configured_host(self) -> str: ...


def request_host(context: Hosted) -> str:
    """The host (and port) the current request was sent to; the configured one outside a
    request or when the client sent no Host."""
    return HOST.get() or context.configured_host
