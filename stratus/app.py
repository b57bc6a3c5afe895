"""Assembling the platform and running it under one task group until SIGTERM or Ctrl-C."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import gc
import logging
import os
import signal
import socket
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from stratus.buckets import notifications as bucket_notifications
from stratus.buckets import webhook as bucket_webhook
from stratus.buckets.context import S3Context
from stratus.buckets.objects import Buckets
from stratus.buckets.relay import Relay
from stratus.buckets.targets import deliverer
from stratus.config import Config, Credentials, load_credentials
from stratus.control.arns import arn_function, message_target
from stratus.control.code_signing import SigningConfigs
from stratus.control.codestore import CodeStore
from stratus.control.keys import FunctionKey
from stratus.control.layers import Layers
from stratus.control.registry import Registry
from stratus.dashboard import pages as dashboard_pages
from stratus.dashboard import site as dashboard_site
from stratus.dashboard.auth import Sessions
from stratus.errors import InvalidParameterValue
from stratus.events.buses import EventBuses
from stratus.events.delivery import Deliveries
from stratus.events.retries import RetryRows
from stratus.events.rules import Rules
from stratus.events.scheduler import Scheduler
from stratus.eventsources.mappings import Mappings
from stratus.eventsources.pollers import Pollers
from stratus.eventsources.source import SourceKind
from stratus.eventsources.streaming import Checkpoints
from stratus.frontend.context import ApiContext
from stratus.gateway import connections as client_connections
from stratus.gateway.declared import declared
from stratus.gateway.doors import EnvironmentDoors
from stratus.gateway.lean_json import json_targets
from stratus.gateway.server import Bound, build_app
from stratus.gateway.switchboard import Switchboard
from stratus.http_types import HttpReply, Incoming, StreamedReply
from stratus.httpapi.apis import HttpApis
from stratus.httpapi.front import Front
from stratus.identity.authorizer import Authorizer
from stratus.identity.directory import Directory
from stratus.identity.environments import FunctionCredentials, LambdaRoles
from stratus.identity.guard import caller_may
from stratus.identity.iam_api import IamContext
from stratus.identity.keyring import Keyring
from stratus.identity.sessions import Sessions as TokenSessions
from stratus.identity.sessions import load_key
from stratus.identity.sts_api import StsContext
from stratus.invoke.async_queue import AsyncInvoker
from stratus.invoke.retries import RetryPolicy
from stratus.invoke.service import InvokeService
from stratus.isolation import linux
from stratus.isolation.backend import IsolationBackend
from stratus.isolation.network import Networks
from stratus.isolation.process import ProcessBackend
from stratus.lambda_api import debug as lambda_debug
from stratus.lambda_api import functions as lambda_functions
from stratus.lambda_api.context import LambdaContext
from stratus.lambda_api.invoke import invoke_incoming, is_invoke
from stratus.lambda_api.streaming import PREFIX as STREAMING_PREFIX
from stratus.lambda_api.streaming import invoke_streaming
from stratus.lean_routes import ROUTES, Claim, Operation, RouteTable
from stratus.observe import placing, spans
from stratus.observe.custom_metrics import CustomMetrics
from stratus.observe.loggroups import LogGroups
from stratus.observe.logstore import LogStore
from stratus.observe.metrics import Metrics
from stratus.observe.recordings import Recordings
from stratus.queues.context import SqsContext
from stratus.queues.metrics import QueueMetrics
from stratus.queues.queues import Queues
from stratus.queues.source import SqsSource
from stratus.runtimes import custom as custom_runtimes
from stratus.runtimes import java as java_runtimes
from stratus.runtimes import node as node_runtimes
from stratus.runtimes import python as python_runtimes
from stratus.runtimes.kinds import Runtimes
from stratus.runtimes.python import PythonRuntime
from stratus.services import invocations as recorded_invocations
from stratus.services import metering
from stratus.services.apigatewayv2 import ApiGatewayContext
from stratus.services.cloudwatch import CloudWatchContext
from stratus.services.events import EventsContext
from stratus.services.logs import LogsContext
from stratus.store import datadir
from stratus.store.blobs import FileBlobs
from stratus.store.diskfull import writing
from stratus.store.queue import EventQueue
from stratus.store.sqlite import Store
from stratus.tables.context import TablesContext
from stratus.tables.source import DynamoDBStreamSource
from stratus.tables.streams import Streams
from stratus.tables.streams_api import StreamsContext
from stratus.tables.tables import Tables
from stratus.tables.ttl import Sweeper
from stratus.topics import callbacks as sns_callbacks
from stratus.topics.context import SnsContext
from stratus.topics.topics import Topics
from stratus.workflows.api import SfnContext
from stratus.workflows.executor import Executions
from stratus.workflows.store import WorkflowStore
from stratus.workflows.tasks import Functions

log = logging.getLogger("stratus")


@dataclass(frozen=True)
class Started:
    endpoint: str
    credentials: Credentials
    limitations: list[str]
    isolation: str
    runtimes: dict[str, str]  # runtime -> "ok" or the reason it is unavailable
    dashboard_token: str  # logs in to the dashboard; new at every start, shown only in the banner
    dashboard_port: int  # the dashboard's own port, so that it has an origin of its own


def seal_inherited_fds() -> None:
    """Mark every descriptor this process inherited (a launching shell's strays, say) close-on-
    exec. Python opens its own that way already; these would otherwise reach every process the
    server starts, environments included."""
    for name in os.listdir("/proc/self/fd"):
        fd = int(name)
        if fd > 2:
            with contextlib.suppress(OSError):
                os.set_inheritable(fd, False)


async def serve(config: Config, on_started: Callable[[Started], None] | None = None) -> None:
    seal_inherited_fds()
    # First, so that a port already taken stops the start before anything else is opened.
    dashboard_socket = dashboard_site.bind(config.host, config.dashboard_port)
    # Opening an existing data dir writes nothing, so a full disk does not stop a start; one
    # that must first be created (or given credentials) on a full disk stops it with DiskFull.
    with writing():
        datadir.prepare(config.data_dir)  # 0700, state files 0600; an existing one is tightened
        credentials = load_credentials(config.data_dir)
        store = Store(config.db_path)
        logs = LogStore(config.logs_db_path, enabled=config.telemetry)
        # Recent invocations' payloads, for replay (off with the rest of telemetry).
        recordings = Recordings(config.data_dir / "recordings.db", config.record_limits)
        metrics = Metrics(config.metrics_db_path)
        published = CustomMetrics(config.data_dir / "custom_metrics.db", config.metrics_retention_days)
        events = EventQueue(config.events_db_path)
        identity_key = load_key(config.data_dir)
        # The relay (made below, once the async queue exists) is woken after each change that
        # put a notification in the outbox; until then there is nothing to wake.
        relay: list[Relay] = []
        # Opening sweeps what a crash left half-written (temp files, blobs no row names).
        buckets = Buckets(
            config.buckets_db_path,
            FileBlobs(config.blobs_dir),
            route=functools.partial(bucket_notifications.route, account_id=config.account_id),
            wake=lambda: relay[0].wake() if relay else None,
        )
        queues = Queues(
            config.queues_db_path,
            config.account_id,
            # SQS's AWS/SQS metrics, kept with the metrics code publishes.
            metrics=QueueMetrics(published.record) if config.telemetry else None,
        )
        tables = Tables(config.data_dir / "tables.db", config.account_id)
        workflow_store = WorkflowStore(config.data_dir / "workflows.db", owner=str(os.getpid()))
        # DynamoDB Streams read the table store's stream records; its commits wake the readers.
        streams = Streams(tables.database, tables.streams)
        tables.on_stream_records = streams.wake
        webhook_token = bucket_webhook.webhook_token(config.data_dir, config.s3_webhook_token)
    python = python_runtimes.discover(config.runtime_cache)
    runtimes: Runtimes = {
        **python,
        **node_runtimes.discover(python),
        **java_runtimes.discover(config.runtime_cache, python),
        **custom_runtimes.discover(python),
    }
    doors = EnvironmentDoors()
    backend = choose_backend(config, python, logs, doors)
    span_export, spans_off = spans.from_environment()
    try:
        directory = Directory(store, config.account_id)
        token_sessions = TokenSessions(identity_key)
        keyring = Keyring(credentials, config.account_id, directory, token_sessions, strict=config.iam)
        authorizer = Authorizer(directory, config.account_id, enabled=config.iam)
        # Destinations, dead-letter targets and bucket notifications that are queues or topics;
        # the topics are bound once made (they deliver through the async queue made below).
        targets = MessageTargets(queues, authorizer, config.account_id)
        registry = Registry(store)
        log_groups = LogGroups(store)
        with writing():
            place_log_groups(registry, logs, log_groups)
            place_metrics(registry, metrics)
        layers = Layers(store)
        code = CodeStore(config.code_dir)
        invoker = InvokeService(
            registry,
            code,
            backend,
            logs,
            runtimes,
            account_limit=config.concurrency_limit,
            idle_timeout=config.idle_timeout,
            init_timeout=config.init_timeout,
            metrics=metrics if config.telemetry else None,
            spans=span_export,
            published=published if config.telemetry else None,
            credentials=FunctionCredentials(
                directory,
                token_sessions,
                environment_endpoint(config, backend),
                config.env_credential_seconds,
            ),
            recordings=recordings if config.telemetry else None,
        )
        async_invoker = AsyncInvoker(
            events,
            invoker,
            registry,
            config.account_id,
            RetryPolicy(function_error_delay_s=config.async_retry_delay, backoff_s=config.async_backoff),
            may_send=role_may_send(authorizer, registry),
            send_message=targets.send,
        )
        # EventBridge: rules (regional, per bus), their targets' deliveries, and the buses.
        rules_changed = asyncio.Event()  # set by the rules, waited on by the scheduler
        rules = Rules(store, on_change=rules_changed.set)
        event_buses = EventBuses(
            store,
            rules,
            Deliveries(
                pending=RetryRows(store),  # retries that wait are rows: a crash keeps them
                accept=async_invoker.accept,
                send_message=targets.send,
                function_exists=function_exists(registry),
                may_invoke=service_may_invoke(
                    authorizer, registry, "events.amazonaws.com", config.account_id
                ),
                may_send=functools.partial(targets.service_may_send, "events.amazonaws.com"),
                message_target_exists=targets.exists,
                role_may=lambda role, action, resource, region: authorizer.role_may(
                    role, "events", action, resource, region=region
                ),
            ),
            config.account_id,
        )
        # Bucket notifications leave the outbox (the relay) or arrive by webhook through one path.
        bucket_deliver = deliverer(
            async_invoker.accept, targets.send, targets.s3_may_send, publish=event_buses.publish
        )
        relay.append(Relay(buckets, bucket_deliver))
        topics = Topics(
            config.topics_db_path,
            config.account_id,
            invoke_async=async_invoker.accept,
            send_to_queue=queues.send,
            may_invoke=sns_may_invoke(authorizer, registry, config.account_id),
            queue_exists=lambda arn: queues.find(arn) is not None,
            may_send_to_queue=functools.partial(targets.service_may_send, "sns.amazonaws.com"),
            endpoint=environment_endpoint(config, backend),
            allow_loopback=config.sns_allow_loopback,
        )
        targets.topics = topics
        scheduler = Scheduler(
            rules, event_buses, config.account_id, changed=rules_changed, speedup=config.schedule_speedup
        )
        apis = HttpApis(store)
        front = Front(registry, apis, invoker, keyring, authorizer, config.account_id)
        sessions = Sessions(credentials)  # the dashboard's logins
        # The dashboard's, the metering endpoints' and the signature check's.
        context = ApiContext(
            config=config,
            keyring=keyring,
            authorizer=authorizer,
            registry=registry,
            invoker=invoker,
            logs=logs,
            async_invoker=async_invoker,
            metrics=metrics,
        )
        # Event source mappings: their owner, the source kinds they read, and their pollers.
        mappings = Mappings(store, config.account_id)
        sources: dict[str, SourceKind] = {"sqs": SqsSource(queues), "dynamodb": DynamoDBStreamSource(streams)}
        # Step Functions: state machines and durable executions whose tasks invoke functions as
        # the state machine's role (lambda:InvokeFunction checked unless STRATUS_IAM=off).
        workflows = Executions(
            workflow_store,
            Functions(
                invoker.invoke_target,
                lambda role, session, arn, region: authorizer.role_may(
                    role, session, "lambda:InvokeFunction", arn, region=region
                ),
                config.account_id,
            ),
            config.account_id,
            publish=event_buses.publish,
        )
        # EventBridge rules' Step Functions targets start executions here.
        event_buses.deliveries.start_execution = workflows.start_from_event
        pollers = Pollers(
            mappings,
            sources,
            invoker.invoke_target,
            function_limit=function_limit(registry, config.concurrency_limit),
            checkpoints=Checkpoints(store),
            send_failure=lambda arn, body, region: targets.send(arn, body, {}, region),
            iterator_age=metrics.iterator_age if config.telemetry else None,
        )
        # Each declared service's own (the lean Invoke path and code links read Lambda's).
        lambda_context = LambdaContext(
            config=config,
            credentials=credentials,
            keyring=keyring,
            authorizer=authorizer,
            roles=LambdaRoles(directory) if config.iam else None,
            registry=registry,
            code=code,
            invoker=invoker,
            runtimes=runtimes,
            async_invoker=async_invoker,
            layers=layers,
            signing_configs=SigningConfigs(store, config.account_id),
            message_target_exists=targets.exists,
            mappings=mappings,
            sources=sources,
        )
        services = declared(
            lambda_context,
            LogsContext(
                logs=logs,
                groups=log_groups,
                account_id=config.account_id,
            ),
            EventsContext(
                buses=event_buses, function_exists=function_exists(registry), account_id=config.account_id
            ),
            CloudWatchContext(metrics=metrics, custom=published),
            ApiGatewayContext(apis=apis, configured_host=lambda_context.configured_host),
            StsContext(
                directory=directory, sessions=token_sessions, account_id=config.account_id, enforce=config.iam
            ),
            IamContext(directory=directory, account_id=config.account_id),
            S3Context(
                buckets=buckets,
                account_id=config.account_id,
                function_exists=function_exists(registry),
                s3_may_invoke=s3_may_invoke(authorizer, registry, config.account_id),
                caller_may=caller_may(authorizer),
                s3_may_send=targets.s3_may_send,
            ),
            SnsContext(topics=topics, account_id=config.account_id),
            SqsContext(queues=queues, account_id=config.account_id, endpoint=public_endpoint(config)),
            TablesContext(tables=tables, account_id=config.account_id),
            StreamsContext(streams=streams, account_id=config.account_id),
            SfnContext(executions=workflows, account_id=config.account_id),
        )
        limitations = backend.limitations() + ([spans_off] if spans_off else [])
        app = build_app(
            context,
            [
                lambda_functions.downloads(lambda_context),
                lambda_debug.routes(lambda_context, config.data_dir / "debug"),
                metering.register,
                recorded_invocations.register,
                dashboard_pages.pointer(dashboard_site.port_of(dashboard_socket)),
                bucket_webhook.routes(buckets, webhook_token, bucket_deliver),
                sns_callbacks.routes(topics),
            ],
            services,
        )
        app[ROUTES] = lean_routes(front, lambda_context, services, context)
        started = Started(
            endpoint=f"http://{config.host}:{config.port}",
            credentials=credentials,
            limitations=limitations,
            isolation=backend.name,
            runtimes={k: v if isinstance(v, str) else "ok" for k, v in runtimes.items()},
            dashboard_token=sessions.start_token,
            dashboard_port=dashboard_site.port_of(dashboard_socket),
        )
        dashboard = (
            dashboard_pages.build_app(context, lambda_context, sessions, workflows),
            dashboard_socket,
        )
        await _run(
            app,
            front,
            context,
            config,
            invoker,
            async_invoker,
            scheduler,
            backend,
            logs,
            started,
            on_started,
            dashboard,
            doors,
            relay[0],
            published,
            topics,
            queues,
            pollers,
            Sweeper(tables, streams),
            workflows,
        )
    finally:
        dashboard_socket.close()
        if span_export is not None:
            span_export.close()
        backend.close()
        events.close()
        logs.close()
        recordings.close()
        metrics.close()
        published.close()
        buckets.close()
        queues.close()
        tables.close()
        workflow_store.close()
        if targets.topics is not None:  # made once the async queue exists
            targets.topics.close()
        store.close()


def role_may_send(authorizer: Authorizer, registry: Registry) -> Callable[[str, str, str], bool]:
    """Whether a function's execution role may send to a destination: lambda:InvokeFunction on
    a function (with that function's resource policy), sqs:SendMessage on a queue, sns:Publish
    on a topic."""

    def may(source: str, destination_arn: str, region: str) -> bool:
        record = registry.find(FunctionKey(region, source))  # the sender is of the event's region
        if record is None:
            return False
        kind = message_target(destination_arn)
        if kind is not None:
            action = "sqs:SendMessage" if kind[0] == "sqs" else "sns:Publish"
            return authorizer.role_may(record.latest.role, source, action, destination_arn, region=region)
        target = arn_function(destination_arn)
        return target is not None and authorizer.role_may(
            record.latest.role,
            source,
            "lambda:InvokeFunction",
            destination_arn,
            region=region,
            resource_policy_text=registry.policy_document(target[0]),
        )

    return may


class MessageTargets:
    """Queues and topics as targets of the rest of the platform (async-invoke destinations and
    dead-letter targets, bucket notifications): whether one exists, and sending to it."""

    def __init__(self, queues: Queues, authorizer: Authorizer, account_id: str) -> None:
        self.queues = queues
        self.topics: Topics | None = None  # bound once made, before the server serves
        self._authorizer = authorizer
        self._account_id = account_id

    def exists(self, arn: str) -> bool:
        kind = message_target(arn)
        if kind is None:
            return False
        if kind[0] == "sqs":
            return self.queues.find(arn) is not None
        return self.topics is not None and self.topics.find(arn) is not None

    def s3_may_send(self, arn: str, bucket_arn: str) -> bool:
        """Whether a bucket's notifications may go to a queue or topic: it exists and its
        access policy lets s3.amazonaws.com send or publish to it for the bucket."""
        return self.exists(arn) and self.service_may_send("s3.amazonaws.com", arn, bucket_arn)

    def service_may_send(self, service: str, arn: str, source_arn: str) -> bool:
        """Whether an AWS service ("sns.amazonaws.com", "s3.amazonaws.com") may send to a queue
        or publish to a topic for a source (a topic, a bucket): as SQS and SNS decide, only by
        the queue's or topic's access policy (identity/authorizer.py's `service_may`). A target
        that does not exist is not refused here: sending to it fails as not found."""
        kind = message_target(arn)
        if kind is None:
            return False
        if kind[0] == "sqs":
            queue = self.queues.find(arn)
            if queue is None:
                return True
            action, policy = "sqs:SendMessage", queue.attributes.get("Policy")
        else:
            topic = self.topics.find(arn) if self.topics is not None else None
            if topic is None:
                return True
            action, policy = "sns:Publish", topic.attributes.get("Policy")
        return self._authorizer.service_may(
            service,
            action,
            arn,
            policy or None,
            source_arn=source_arn,
            source_account=self._account_id,
            region=kind[1],
        )

    async def send(
        self,
        arn: str,
        body: bytes,
        attributes: Mapping[str, Mapping[str, str]],
        region: str,
        *,
        subject: str | None = None,
    ) -> None:
        kind = message_target(arn)
        text = body.decode("utf-8", "replace")
        if kind is not None and kind[0] == "sqs":
            await self.queues.send(arn, text, message_attributes=attributes or None)
        elif kind is not None and self.topics is not None:
            await self.topics.publish(arn, text, subject=subject, message_attributes=attributes or None)
        else:
            raise InvalidParameterValue(f"{arn} is not a queue or topic here.")


def service_may_invoke(
    authorizer: Authorizer, registry: Registry, service: str, account_id: str
) -> Callable[[str, str, str, str], bool]:
    """Whether an AWS service may invoke a function for a source: by the function's resource
    policy, when it has one (identity/authorizer.py's `service_may`)."""

    def may(name: str, target_arn: str, source_arn: str, region: str) -> bool:
        target = arn_function(target_arn)  # the function of the ARN's region
        key = target[0] if target is not None else FunctionKey(region, name)
        return authorizer.service_may(
            service,
            "lambda:InvokeFunction",
            target_arn,
            registry.policy_document(key),
            source_arn=source_arn,
            source_account=account_id,
            region=region,
        )

    return may


def sns_may_invoke(
    authorizer: Authorizer, registry: Registry, account_id: str
) -> Callable[[str, str, str], bool]:
    """Whether a function's resource policy lets SNS invoke it for a topic: (function ARN,
    topic ARN, region)."""
    may = service_may_invoke(authorizer, registry, "sns.amazonaws.com", account_id)
    exists = function_exists(registry)

    def check(function_arn: str, topic_arn: str, region: str) -> bool:
        # A function that is gone cannot be invoked either (SNS's client-side error), IAM or not.
        target = arn_function(function_arn)
        if target is None or not exists(function_arn):
            return False
        return may(target[0].name, function_arn, topic_arn, region)

    return check


def place_log_groups(registry: Registry, logs: LogStore, groups: LogGroups) -> None:
    """Log groups kept before they were regional go to the region of the function that logs to
    them (a function's key says it), else to us-east-1 (a group CreateLogGroup made, no
    function's): once, at start, with the functions known."""
    names = set(logs.unplaced()) | set(groups.unplaced())
    if not names:
        return
    homes = [
        (config.log_group_name, record.key.region)
        for record in registry.records()
        for config in (record.latest, *record.versions.values())
    ]
    regions = placing.place(names, homes)
    logs.place_regions(regions)
    groups.place_regions(regions)


def place_metrics(registry: Registry, metrics: Metrics) -> None:
    """Lambda's metrics kept before they were regional go to their function's region (by name),
    else to us-east-1 (the account's gauges, and functions since deleted)."""
    names = metrics.unplaced()
    if names:
        metrics.place_regions(placing.place(names, [(r.name, r.key.region) for r in registry.records()]))


def public_endpoint(config: Config) -> str:
    """The base of the URLs the server hands out (SQS's QueueUrls): its address, with a
    wildcard listening address replaced by loopback."""
    host = "127.0.0.1" if config.host in ("0.0.0.0", "::", "") else config.host
    return f"http://{host}:{config.port}"


def function_limit(registry: Registry, account_limit: int) -> Callable[[str], int | None]:
    """The most concurrency a function can get (its reserved concurrency, else the account's
    limit): event source pollers scale no further."""

    def limit(function_arn: str) -> int | None:
        target = arn_function(function_arn)
        record = registry.find(target[0]) if target is not None else None
        reserved = record.reserved_concurrency if record is not None else None
        return reserved if reserved is not None else account_limit

    return limit


def function_exists(registry: Registry) -> Callable[[str], bool]:
    """Whether a function ARN (qualified or not) names a function, version or alias that exists
    (a bucket notification's target)."""

    def exists(arn: str) -> bool:
        target = arn_function(arn)  # a function of the ARN's region
        if target is None:
            return False
        key, qualifier = target
        try:
            registry.version(key, qualifier)
        except Exception:  # ResourceNotFound: no such function or qualifier
            return False
        return True

    return exists


def s3_may_invoke(
    authorizer: Authorizer, registry: Registry, account_id: str
) -> Callable[[str, str, str], bool]:
    """Whether a function's resource policy lets S3 invoke it for a bucket: (function ARN,
    bucket ARN, region)."""
    may = service_may_invoke(authorizer, registry, "s3.amazonaws.com", account_id)

    def check(function_arn: str, bucket_arn: str, region: str) -> bool:
        target = arn_function(function_arn)
        return target is not None and may(target[0].name, function_arn, bucket_arn, region)

    return check


def environment_endpoint(config: Config, backend: IsolationBackend) -> str:
    """The URL an environment's SDK reaches this server at (AWS_ENDPOINT_URL): 127.0.0.1 inside
    an environment's own network namespace (gateway/doors.py), else the host's address."""
    host = "127.0.0.1" if backend.name == "linux" or config.host in ("0.0.0.0", "::", "") else config.host
    return f"http://{host}:{config.port}"


def choose_backend(
    config: Config, runtimes: dict[str, PythonRuntime | str], logs: LogStore, doors: EnvironmentDoors
) -> IsolationBackend:
    """Full isolation where the host allows it; otherwise the process backend, which says at
    start what it cannot enforce. `STRATUS_ISOLATION=process` forces the latter."""
    instance = str(os.getpid())
    wanted = os.environ.get("STRATUS_ISOLATION", "auto")
    reason = linux.available() if wanted != "process" else "STRATUS_ISOLATION=process"
    if reason is None:
        ready = {k: v for k, v in runtimes.items() if isinstance(v, PythonRuntime)}
        fast = os.environ.get("STRATUS_FAST_CHANNEL", "1") != "0"

        def log_line(region: str, group: str, stream: str, line: str) -> None:
            logs.append(region, group, stream, int(time.time() * 1000), line)

        networks = Networks(instance, config.port, doors)
        return linux.LinuxBackend(
            config.run_dir,
            instance,
            ready,
            networks,
            fast_channel=fast,
            max_pids=config.max_pids,
            log_sink=log_line,
        )
    if wanted == "linux":
        raise RuntimeError(f"STRATUS_ISOLATION=linux, but this host cannot: {reason}")
    return ProcessBackend(config.run_dir, instance, reason=reason)


# Each request allocates a few hundred short-lived objects. With CPython's default threshold the
# young generation is collected every 700 allocations, and older generations walk the whole
# long-lived heap (aiohttp, botocore models, registries); measured, that was about a fifth of the
# server's CPU per invoke. Everything alive once serving starts is frozen out of collection.
GC_THRESHOLDS = (20000, 50, 1000)


def tune_gc() -> None:
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


def lean_routes(
    front: Front, context: LambdaContext, services: Iterable[Bound[Any]], api_context: ApiContext
) -> RouteTable:
    """The requests answered without aiohttp's web layer: the data path, Invoke and the JSON
    services. The same table routes function URLs and HTTP APIs on connections aiohttp serves."""

    async def invoke(request: Incoming) -> HttpReply:
        return await invoke_incoming(context, request)

    async def invoke_stream(request: Incoming) -> HttpReply | StreamedReply:
        return await invoke_streaming(context, request)

    return RouteTable(
        # InvokeWithResponseStream is claimed by path on both servers: it answers as it goes.
        claims=(front.claim(), Claim(invoke_stream, (STREAMING_PREFIX,), ())),
        operations=(Operation(invoke, is_invoke),),
        targets=json_targets(services, api_context),
    )


async def _run(
    app: web.Application,
    front: Front,
    context: ApiContext,
    config: Config,
    invoker: InvokeService,
    async_invoker: AsyncInvoker,
    scheduler: Scheduler,
    backend: IsolationBackend,
    logs: LogStore,
    started: Started,
    on_started: Callable[[Started], None] | None,
    dashboard: tuple[web.Application, socket.socket],
    doors: EnvironmentDoors,
    relay: Relay,
    published: CustomMetrics,
    topics: Topics,
    queues: Queues,
    pollers: Pollers,
    ttl: Sweeper,
    workflows: Executions,
) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    connections = client_connections.for_config(config)  # slow clients: deadlines and a cap
    app[client_connections.CONNECTIONS] = connections
    runner = web.AppRunner(app, access_log=None, handler_cancellation=False)
    await runner.setup()
    dashboard_runner: web.AppRunner | None = None
    try:
        async with asyncio.TaskGroup() as tasks:
            invoker_ready = asyncio.Event()
            invoker_task = tasks.create_task(invoker.run(invoker_ready))
            flusher = tasks.create_task(logs.run_flusher())
            recordings_flusher = (
                None if invoker.recordings is None else tasks.create_task(invoker.recordings.run_flusher())
            )
            metrics_flusher = tasks.create_task(
                context.metrics.run_flusher(config.metrics_retention_days * 86400)
            )
            backend_task = tasks.create_task(backend.run())
            async_task = tasks.create_task(async_invoker.run())
            scheduler_task = tasks.create_task(scheduler.run())
            relay_task = tasks.create_task(relay.run())  # bucket notifications -> async queue
            pollers_task = tasks.create_task(pollers.run())  # event source mappings -> invoke
            published_flusher = tasks.create_task(published.run_flusher())  # EMF from function logs
            topics_task = tasks.create_task(topics.run())  # HTTP deliveries from the SNS outbox
            queues_task = tasks.create_task(queues.run())  # SQS retention expiry, message move tasks
            ttl_task = tasks.create_task(ttl.run())  # TTL expiry, stream records' 24 hours
            workflows_task = tasks.create_task(workflows.run())  # Step Functions executions due
            await invoker_ready.wait()
            sweeper = tasks.create_task(connections.run())
            aiohttp_protocol = runner.server
            assert aiohttp_protocol is not None
            routes = app[ROUTES].route

            def front_protocol() -> Switchboard:
                return Switchboard(routes, aiohttp_protocol, connections)

            site = await loop.create_server(
                front_protocol, config.host, config.port, reuse_address=True, backlog=1024
            )
            await doors.serve(front_protocol)  # the same endpoint, inside each environment
            dashboard_runner = await dashboard_site.start(*dashboard)
            tune_gc()
            if on_started is not None:
                on_started(started)
            await stop.wait()
            log.info("stopping")
            site.close()  # no new connections; requests on open ones are refused below
            doors.close_all()
            sweeper.cancel()
            for connection in connections:
                connection.close()
            invoker.begin_shutdown()
            scheduler_task.cancel()
            pollers_task.cancel()  # messages read, not deleted, return after their visibility timeout
            relay_task.cancel()  # what it had not queued stays in the outbox for the next start
            topics_task.cancel()  # undelivered HTTP notifications stay in their outbox
            queues_task.cancel()  # messages are durable; move tasks stop where they are
            ttl_task.cancel()  # expired items not yet deleted are found by the next sweep
            workflows_task.cancel()  # running executions resume from their last checkpoint
            await asyncio.wait([workflows_task])
            async_task.cancel()  # events in flight keep their lease and run again after restart
            await asyncio.wait([async_task])
            invoker_task.cancel()
            await asyncio.wait([invoker_task])  # environments exit while the zygotes still run
            backend_task.cancel()
            flusher.cancel()
            if recordings_flusher is not None:
                recordings_flusher.cancel()
            metrics_flusher.cancel()
            published_flusher.cancel()
    finally:
        if dashboard_runner is not None:
            await dashboard_runner.cleanup()
        await runner.cleanup()
        for sig in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(Exception):
                loop.remove_signal_handler(sig)
