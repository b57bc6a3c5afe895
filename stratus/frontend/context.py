"""The context a front-end's handlers get: the owners they call, and the request's host."""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass

from aiohttp import web

from stratus.config import Config, Credentials
from stratus.control.codestore import CodeStore
from stratus.control.layers import Layers
from stratus.control.registry import Registry
from stratus.events.rules import Rules
from stratus.httpapi.apis import HttpApis
from stratus.invoke.async_queue import AsyncInvoker
from stratus.invoke.service import InvokeService
from stratus.observe.logstore import LogStore
from stratus.observe.metrics import Metrics
from stratus.runtimes.kinds import Runtimes


@dataclass
class ApiContext:
    config: Config
    credentials: Credentials
    registry: Registry
    code: CodeStore
    invoker: InvokeService
    logs: LogStore
    runtimes: Runtimes
    async_invoker: AsyncInvoker
    rules: Rules
    apis: HttpApis
    layers: Layers
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


def request_host(context: ApiContext) -> str:
    """The host (and port) the current request was sent to; the configured one outside a
    request or when the client sent no Host."""
    return HOST.get() or f"{context.config.host}:{context.config.port}"
