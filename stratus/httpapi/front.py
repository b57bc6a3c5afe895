"""The HTTP data path: a request to a function URL or an HTTP API -> an event -> the function ->
the HTTP response, with each failure mapped to the status AWS gives it.

Endpoints are reachable two ways on the one port:
- by path, which works with every HTTP client: `/_stratus/url/<url-id>/...` and
  `/_stratus/api/<api-id>/...` (these are the URLs the APIs return);
- by host name, as on AWS, for clients that resolve `*.localhost`:
  `<url-id>.lambda-url.<region>.localhost` and `<api-id>.execute-api.<region>.localhost`.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import AsyncGenerator, Awaitable, Callable
from dataclasses import dataclass, field
from urllib.parse import parse_qsl

import orjson

from stratus.control.arns import function_arn
from stratus.control.keys import FunctionKey
from stratus.control.models import FunctionUrl
from stratus.control.registry import Registry
from stratus.errors import (
    AccessDenied,
    MissingAuthenticationToken,
    ResourceNotFound,
    StratusError,
    TooManyRequests,
)
from stratus.http_types import HttpReply, Incoming, StreamedReply, json_reply
from stratus.httpapi import cors, events, prelude, replies
from stratus.httpapi.apis import HttpApis, Landing, target_of
from stratus.httpapi.replies import MalformedResponse
from stratus.identity.authorizer import Authorizer
from stratus.identity.keyring import Caller, Keyring
from stratus.invoke.records import MAX_SYNC_PAYLOAD
from stratus.invoke.service import InvokeService
from stratus.invoke.streaming import ResponseStream, StreamedInvoke
from stratus.invoke.target import Invoked, Target
from stratus.lean_routes import Claim
from stratus.observe import tracing
from stratus.observe.tracing import TraceHeader
from stratus.wire import authn, sigv4
from stratus.wire.signing import Signing, always

URL_PREFIX = "/_stratus/url/"
API_PREFIX = "/_stratus/api/"
log = logging.getLogger("stratus.httpapi")

# Host names that reach a function URL or an HTTP API as on AWS.
HOST_MARKERS = (".lambda-url.", ".execute-api.")
# AWS_IAM function URLs take signatures made for Lambda, in a header or presigned (Lambda
# accepts query-string SigV4 there; the body's SHA-256 is signed either way).
URL_SIGNING = Signing("lambda", presigned=always)
# Headers a function may not set on the wire; like Lambda, they are passed on renamed.
REMAPPED = {"connection", "content-length", "date", "keep-alive", "server", "transfer-encoding", "upgrade"}


def url_path(host: str, url_id: str) -> str:
    return f"http://{host}{URL_PREFIX}{url_id}/"


def api_endpoint(host: str, api_id: str) -> str:
    return f"http://{host}{API_PREFIX}{api_id}"


@dataclass
class Front:
    registry: Registry
    apis: HttpApis
    invoker: InvokeService
    keyring: Keyring
    authorizer: Authorizer
    account_id: str
    # Invokes whose HTTP API answered 503 before the function finished; each ends with its
    # function's own timeout at the latest.
    _overdue: set[asyncio.Task[HttpReply]] = field(default_factory=set)
    # url id -> what its requests share, made once per configuration of the URL (`_url_plan`).
    _url_plans: dict[str, _UrlPlan] = field(default_factory=dict)

    # -- dispatch --------------------------------------------------------------------------

    def claim(self) -> Claim:
        """Where this front's requests are sent: its path prefixes and its host names."""
        return Claim(self.respond, (URL_PREFIX, API_PREFIX), HOST_MARKERS)

    def respond(self, request: Incoming) -> Awaitable[HttpReply | StreamedReply]:
        """The answer to one request (a plain function handing back the endpoint's coroutine:
        one coroutine less per request)."""
        path, query = request.path, request.query
        if path.startswith(URL_PREFIX):
            endpoint_id, rest = _split_id(path[len(URL_PREFIX) :])
            return self._function_url(request, endpoint_id, rest, query, None)
        if path.startswith(API_PREFIX):
            endpoint_id, rest = _split_id(path[len(API_PREFIX) :])
            return self._http_api(request, endpoint_id, rest, query, None)
        host = (request.header("host") or "").split(":", 1)[0]
        if ".lambda-url." in host:
            return self._function_url(request, host.split(".", 1)[0], path, query, host)
        return self._http_api(request, host.split(".", 1)[0], path, query, host)

    # -- function URLs ---------------------------------------------------------------------

    async def _function_url(
        self, request: Incoming, url_id: str, path: str, query: str, host: str | None
    ) -> HttpReply | StreamedReply:
        found = self.registry.url_target(url_id)
        if found is None:
            return json_reply(403, {"Message": "Forbidden"})
        key, url = found  # the URL's function, in the region the URL belongs to
        plan = self._url_plans.get(url_id)
        if plan is None or plan.url is not url or plan.key != key:
            plan = self._url_plans[url_id] = _UrlPlan.of(url_id, key, url, self.account_id)
        name = key.name
        body = request.body
        if body is None:
            return json_reply(
                413,
                {"Message": "Request must be smaller than 6291456 bytes for the InvokeFunction operation"},
            )
        request_id = _request_id()
        authorizer = None
        if url.auth_type == "AWS_IAM":
            identity = self._verify(request, body)
            if isinstance(identity, HttpReply):
                return identity
            if not self._may_invoke_url(identity, name, url.qualifier, key.region, request.peer):
                return json_reply(403, {"Message": "Forbidden"})
            authorizer = {"iam": self._iam(identity)}
        rules = plan.rules
        origin = request.header("origin")
        if rules is not None and cors.is_preflight(
            request.method, origin, request.header("access-control-request-method")
        ):
            assert origin is not None
            return HttpReply(200, tuple(cors.preflight_headers(rules, origin)), b"")
        http = _snapshot(request, path, query, body)
        target_info = events.Target(
            account_id=self.account_id,
            api_id=url_id,
            domain_name=host or plan.domain_name,
            request_id=request_id,
            authorizer=authorizer,
        )
        event = events.v2_event(http, target_info)
        trace_in = tracing.parse(request.header("x-amzn-trace-id"))
        if url.invoke_mode == "RESPONSE_STREAM":
            return await self._stream_url(plan.target, event, request_id, trace_in, rules, origin)
        reply = await self._invoke_target(
            plan.target, event, request_id, replies.from_v2, trace_in, function_url=True
        )
        return _finish(reply, rules, origin, request_id)

    async def _stream_url(
        self,
        target: Target,
        event: dict[str, object],
        request_id: str,
        trace_in: TraceHeader | None,
        rules: cors.Cors | None,
        origin: str | None,
    ) -> HttpReply | StreamedReply:
        """A function URL in RESPONSE_STREAM mode: the answer's head goes out with the function's
        first bytes (its prelude's status and headers, else 200), and each chunk as it is
        written. A function that fails before its first byte gets the 502 of a buffered URL."""
        payload = orjson.dumps(event)
        if len(payload) > MAX_SYNC_PAYLOAD:
            return json_reply(413, {"Message": "Request Entity Too Large"})

        def run(stream: ResponseStream) -> Awaitable[Invoked]:
            return self.invoker.invoke_target(
                target, payload, request_id=request_id, caller_trace=trace_in, stream=stream
            )

        try:
            streamed = await StreamedInvoke.start(run)
        except TooManyRequests:
            return json_reply(429, {"Message": "Too Many Requests"})
        except StratusError:
            return _failed(True)
        try:
            head, first = await _stream_head(streamed)
        except (StratusError, prelude.MalformedPrelude):
            await streamed.close()
            return _failed(True)
        if head is None:  # the function failed before its first byte
            await streamed.close()
            return _failed(True)
        if isinstance(first, HttpReply):  # it answered the ordinary way: one chunk
            await streamed.close()
            return _finish(first, rules, origin, request_id)

        async def body(first: bytes) -> AsyncGenerator[bytes, None]:
            if first:
                yield first
            while chunk := await streamed.read():
                yield chunk

        headers = _finish(HttpReply(head.status, head.headers, b""), rules, origin, request_id).headers
        return StreamedReply(head.status, headers, body(first), streamed.close)

    def _verify(self, request: Incoming, body: bytes) -> sigv4.Identity | HttpReply:
        """The signer of a request to an AWS_IAM function URL, or the 403 Lambda answers:
        `Forbidden` when it carries no signature, the reason when its signature fails."""
        query = parse_qsl(request.query, keep_blank_values=True)
        try:
            return authn.verify_parts(
                request.method,
                request.path,
                query,
                request.headers,
                body,
                self.keyring.resolve,
                expect=URL_SIGNING,
            )
        except MissingAuthenticationToken:
            return json_reply(403, {"Message": "Forbidden"})
        except StratusError as e:
            return json_reply(403, {"message": e.message}, ("x-amzn-ErrorType", e.code))

    def _may_invoke_url(
        self, identity: sigv4.Identity, name: str, qualifier: str, region: str, peer: str
    ) -> bool:
        """lambda:InvokeFunctionUrl on the function (or its alias), by the caller's policies
        and the function's resource policy, as Lambda authorizes an AWS_IAM function URL."""
        caller = identity.caller
        if not isinstance(caller, Caller):  # the keyring names every signer (a Caller)
            return False
        resource = function_arn(region, self.account_id, name, None if qualifier == "$LATEST" else qualifier)
        try:
            self.authorizer.check(
                caller,
                "lambda:InvokeFunctionUrl",
                resource,
                region=region,
                resource_policy_text=self.registry.policy_document(FunctionKey(region, name)),
                extra={"lambda:functionurlauthtype": ("AWS_IAM",)},
                source_ip=peer,
            )
        except AccessDenied:
            return False
        return True

    def _iam(self, identity: sigv4.Identity) -> dict[str, object]:
        caller = identity.caller
        assert isinstance(caller, Caller)
        return {
            "accessKey": identity.access_key_id,
            "accountId": self.account_id,
            "callerId": caller.user_id,
            "cognitoIdentity": None,
            "principalOrgId": None,
            "userArn": caller.principal.arn,
            "userId": caller.user_id,
        }

    # -- HTTP APIs -------------------------------------------------------------------------

    async def _http_api(
        self, request: Incoming, api_id: str, path: str, query: str, host: str | None
    ) -> HttpReply:
        # A host naming another region than the API's reaches no API there, as on AWS (a
        # wrong host); the path form names no region and reaches an API of any.
        region = host_region(host) if host else None
        landing = self.apis.land(api_id, request.method, path, region)
        api = landing.api if landing else self.apis.find(api_id)
        if api is not None and region not in (None, api.region):
            api = None
        rules = cors.Cors.from_pascal(api.corsConfiguration) if api else None
        origin = request.header("origin")
        if rules is not None and cors.is_preflight(
            request.method, origin, request.header("access-control-request-method")
        ):
            assert origin is not None
            return HttpReply(204, tuple(cors.preflight_headers(rules, origin)), b"")
        if landing is None:
            return _finish(json_reply(404, {"message": "Not Found"}), rules, origin, None)
        body = request.body
        if body is None:
            return json_reply(413, {"message": "Request Entity Too Large"})
        request_id = _request_id()
        http = _snapshot(request, path, query, body)
        event = self._api_event(landing, http, request_id, host)
        reply = await self._api_invoke(
            landing, event, request_id, tracing.parse(request.header("x-amzn-trace-id"))
        )
        return _finish(reply, rules, origin, request_id)

    def _api_event(
        self, landing: Landing, http: events.HttpRequest, request_id: str, host: str | None
    ) -> dict[str, object]:
        api = landing.api
        target = events.Target(
            account_id=self.account_id,
            api_id=api.apiId,
            domain_name=host or f"{api.apiId}.execute-api.{api.region}.amazonaws.com",
            request_id=request_id,
            route_key=landing.route.routeKey,
            stage=landing.stage.stageName,
            resource_path=landing.route.routeKey
            if landing.route_key.is_default
            else landing.route_key.path(),
            path_parameters=landing.path_parameters or None,
            stage_variables=dict(landing.stage.stageVariables) or None,
        )
        if landing.integration.payloadFormatVersion == "1.0":
            return events.v1_event(http, target)
        return events.v2_event(http, target)

    async def _api_invoke(
        self, landing: Landing, event: dict[str, object], request_id: str, trace_in: TraceHeader | None
    ) -> HttpReply:
        target = target_of(landing.integration)
        if not self._gateway_may_invoke(landing, target.name, target.qualifier, target.region):
            # AWS answers a missing permission with a 500 and logs why in the API's logs.
            log.warning(
                "HTTP API %s may not invoke %s: its policy does not allow apigateway.amazonaws.com",
                landing.api.apiId,
                target.name,
            )
            return json_reply(500, {"message": "Internal Server Error"})
        mapper = replies.from_v1 if landing.integration.payloadFormatVersion == "1.0" else replies.from_v2
        invoke = self._invoke(
            target.name,
            target.qualifier,
            target.region,
            event,
            request_id,
            mapper,
            trace_in,
            function_url=False,
        )
        limit = landing.integration.timeoutInMillis / 1000
        record = self.registry.find(FunctionKey(target.region, target.name))
        if record is None or record.latest.timeout <= limit:
            return await invoke  # the function's own timeout comes first
        task = asyncio.ensure_future(invoke)
        try:
            return await asyncio.wait_for(asyncio.shield(task), limit)
        except TimeoutError:
            # The function runs on to its own timeout, as on AWS; the client is answered now.
            self._overdue.add(task)
            task.add_done_callback(self._overdue.discard)
            return json_reply(503, {"message": "Service Unavailable"})

    def _gateway_may_invoke(self, landing: Landing, name: str, qualifier: str | None, region: str) -> bool:
        """Whether the function's policy lets API Gateway invoke it for this API and route, as
        Lambda requires of an HTTP API's integration (SourceArn
        arn:aws:execute-api:REGION:ACCOUNT:API/STAGE/METHOD/PATH, or .../$default). REGION is
        the API's own; `region` is the function's (its ARN's), which may differ."""
        key = landing.route.routeKey
        method, _, path = key.partition(" ")
        route = "$default" if key == "$default" else f"{'*' if method == 'ANY' else method}{path}"
        api = landing.api
        stage = landing.stage.stageName
        source = f"arn:aws:execute-api:{api.region}:{self.account_id}:{api.apiId}/{stage}/{route}"
        return self.authorizer.service_may(
            "apigateway.amazonaws.com",
            "lambda:InvokeFunction",
            function_arn(region, self.account_id, name, qualifier),
            self.registry.policy_document(FunctionKey(region, name)),
            source_arn=source,
            source_account=self.account_id,
            region=region,
        )

    # -- the invoke shared by both ---------------------------------------------------------

    async def _invoke(
        self,
        name: str,
        qualifier: str | None,
        region: str,
        event: dict[str, object],
        request_id: str,
        mapper: Callable[[bytes], HttpReply],
        trace_in: TraceHeader | None,
        *,
        function_url: bool,
    ) -> HttpReply:
        target = Target(name, qualifier, region, self.account_id)
        return await self._invoke_target(
            target, event, request_id, mapper, trace_in, function_url=function_url
        )

    async def _invoke_target(
        self,
        target: Target,
        event: dict[str, object],
        request_id: str,
        mapper: Callable[[bytes], HttpReply],
        trace_in: TraceHeader | None,
        *,
        function_url: bool,
    ) -> HttpReply:
        payload = orjson.dumps(event)
        if len(payload) > MAX_SYNC_PAYLOAD:
            key = "Message" if function_url else "message"
            return json_reply(413, {key: "Request Entity Too Large"})
        try:
            invoked = await self.invoker.invoke_target(
                target,
                payload,
                request_id=request_id,
                caller_trace=trace_in,
            )
        except TooManyRequests:
            key = "Message" if function_url else "message"
            return json_reply(429, {key: "Too Many Requests"})
        except (ResourceNotFound, StratusError):
            return _failed(function_url)
        if invoked.result.function_error:
            return _failed(function_url)
        try:
            return mapper(invoked.result.payload)
        except MalformedResponse:
            return _failed(function_url)


@dataclass(frozen=True)
class _UrlPlan:
    """What every request to one function URL configuration shares: its CORS rules, the
    function it invokes (an immutable Target, ARN included) and its default domain name."""

    url: FunctionUrl
    key: FunctionKey
    rules: cors.Cors | None
    target: Target
    domain_name: str

    @classmethod
    def of(cls, url_id: str, key: FunctionKey, url: FunctionUrl, account_id: str) -> _UrlPlan:
        qualifier = None if url.qualifier == "$LATEST" else url.qualifier
        return cls(
            url,
            key,
            cors.Cors.from_pascal(url.cors),
            Target(key.name, qualifier, key.region, account_id),
            f"{url_id}.lambda-url.{url.region}.on.aws",
        )


async def _stream_head(streamed: StreamedInvoke) -> tuple[prelude.Prelude | None, bytes | HttpReply]:
    """The status and headers of a streamed URL answer and the body's first bytes; or, for a
    runtime that answered whole, that answer (200, application/octet-stream, its bytes). None:
    the function failed before writing anything."""
    if not streamed.streaming:
        result = (await streamed.result()).result
        if result.function_error:
            return None, b""
        return prelude.Prelude(200, ()), HttpReply(
            200, (("content-type", "application/octet-stream"),), result.payload
        )
    stream = streamed.stream
    framed = prelude.has_prelude(stream.content_type)
    buffer = b""
    while True:
        chunk = await streamed.read()
        if not chunk:  # it ended: a failure, or a whole prelude with no delimiter or body
            if (await streamed.result()).result.function_error:
                return None, b""
            if not framed:
                return prelude.Prelude(200, (("content-type", stream.content_type),)), buffer
            whole = prelude.split(buffer) or (buffer, b"")
            return prelude.parse(whole[0]), whole[1]
        buffer += chunk
        if not framed:
            return prelude.Prelude(200, (("content-type", stream.content_type),)), buffer
        parts = prelude.split(buffer)
        if parts is not None:
            return prelude.parse(parts[0]), parts[1]


def _failed(function_url: bool) -> HttpReply:
    # Function URLs answer function faults with 502, HTTP APIs with 500; both as AWS does.
    if function_url:
        return json_reply(502, {"Message": "Internal Server Error"})
    return json_reply(500, {"message": "Internal Server Error"})


def _request_id() -> str:
    # Unique, not secret: the PRNG spares a getrandom call per request.
    h = f"{random.getrandbits(128):032x}"
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{h[16:20]}-{h[20:]}"


def host_region(host: str) -> str | None:
    """The region an endpoint's host name names (`<id>.execute-api.<region>.localhost`, or
    `.amazonaws.com`), or None for a host that names none (`<id>.execute-api.localhost`)."""
    _, marker, rest = host.partition(".execute-api.")
    region, dot, _ = rest.partition(".")
    return region if marker and dot and region else None


def _split_id(rest: str) -> tuple[str, str]:
    endpoint_id, slash, path = rest.partition("/")
    return endpoint_id, "/" + path if slash else "/"


def _snapshot(request: Incoming, path: str, query: str, body: bytes) -> events.HttpRequest:
    peer = request.peer
    headers = [(k, v if v.isascii() else _text(v)) for k, v in request.headers]
    headers.append(("x-forwarded-for", peer))
    headers.append(("x-forwarded-proto", "http"))
    return events.HttpRequest(
        method=request.method,
        raw_path=path,
        raw_query=query,
        headers=tuple(headers),
        body=body,
        source_ip=peer,
        protocol=request.protocol,
    )


def _text(value: str) -> str:
    """A header value as the event can carry it: bytes that are not UTF-8 (which the parser
    kept as surrogates) are read as Latin-1, the charset HTTP/1.1 historically assumed."""
    try:
        value.encode()
    except UnicodeEncodeError:
        return value.encode("utf-8", "surrogateescape").decode("latin-1")
    return value


def _finish(
    reply: HttpReply, rules: cors.Cors | None, origin: str | None, request_id: str | None
) -> HttpReply:
    headers = [(f"x-amzn-Remapped-{k}" if k.lower() in REMAPPED else k, v) for k, v in reply.headers]
    if request_id is not None:
        headers.append(("x-amzn-RequestId", request_id))
    return HttpReply(reply.status, cors.apply(rules, origin, tuple(headers)), reply.body)
