"""The invoke service: qualifier -> concurrency lease -> the version's pool -> an environment.

It owns the pools (keyed by everything an environment is built from, plus the region) and the
task group in which every environment's exit watcher runs. A synchronous invoke writes nothing
to the store: configuration comes from the registry's memory, results go back to the caller,
and logs go to the log store's buffer.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
import uuid
from collections.abc import Callable
from typing import Any

from stratus.control.codestore import CodeStore
from stratus.control.keys import FunctionKey
from stratus.control.models import LATEST, FunctionConfig, FunctionRecord
from stratus.control.registry import Registry
from stratus.errors import ServiceError, StratusError, TooManyRequests
from stratus.identity.environments import FunctionCredentials
from stratus.invoke.debug_sessions import DebugSessions
from stratus.invoke.launch import LaunchPlan
from stratus.invoke.limits import Limiter
from stratus.invoke.placement import pick_version
from stratus.invoke.pool import Pool
from stratus.invoke.records import Invocation, InvocationResult
from stratus.invoke.sandbox import EnvironmentLost, Sandbox
from stratus.invoke.streaming import ResponseStream
from stratus.invoke.target import Invoked, Target
from stratus.isolation.backend import IsolationBackend
from stratus.observe import tracing
from stratus.observe.custom_metrics import CustomMetrics
from stratus.observe.logstore import LogStore
from stratus.observe.metrics import Metrics
from stratus.observe.recordings import Recordings
from stratus.observe.spans import SpanExport
from stratus.runtimes.custom import CustomRuntime
from stratus.runtimes.java import JavaRuntime
from stratus.runtimes.java import app_key as java_app_key
from stratus.runtimes.kinds import Runtimes
from stratus.runtimes.node import NodeRuntime
from stratus.runtimes.python import BOOT_DIR

REAP_INTERVAL = 1.0
# An invocation handed to a warm environment that dies before taking it never ran; it is given
# to another environment this many times.
LOST_ENVIRONMENT_RETRIES = 2
DEFAULT_REGION = "us-east-1"  # for work done before any request names a region
PoolKey = tuple[Any, ...]
# What an unaliased target runs, found once: (region, name, qualifier) -> the record it was
# resolved from, its key, the configuration and that configuration's pool (None until the first
# invoke makes it). Valid while the registry holds that same record and the pool is not retired.
Plan = tuple[FunctionRecord, FunctionKey, FunctionConfig, "Pool | None"]


class InvalidRuntime(StratusError):
    code = "InvalidRuntimeException"
    status = 502


class InvokeService:
    def __init__(
        self,
        registry: Registry,
        code: CodeStore,
        backend: IsolationBackend,
        logs: LogStore,
        runtimes: Runtimes,
        *,
        account_limit: int,
        idle_timeout: float,
        init_timeout: float,
        clock: Callable[[], float] = time.monotonic,
        draw: Callable[[], float] = random.random,
        metrics: Metrics | None = None,
        spans: SpanExport | None = None,
        published: CustomMetrics | None = None,
        credentials: FunctionCredentials | None = None,
        recordings: Recordings | None = None,
    ) -> None:
        self._registry = registry
        self._credentials = credentials  # each environment's session of its role
        self._code = code
        self._backend = backend
        self._logs = logs
        self._runtimes = runtimes
        self.limiter = Limiter(account_limit)
        self.idle_timeout = idle_timeout
        self._init_timeout = init_timeout
        self._clock = clock
        self._draw = draw
        self._pools: dict[PoolKey, Pool] = {}
        # The invoke path's one lookup per request: building and hashing a configuration's
        # runtime key per invoke cost more than the rest of the resolution (see `_planned`).
        self._plans: dict[tuple[str, str, str | None], Plan] = {}
        self._retired: list[Pool] = []
        self._sandboxes: set[Sandbox] = set()
        self._reserved: dict[FunctionKey, int] = {}
        # Each region's sum of reservations: the unreserved pool is carved out of each region's
        # own account limit, as on Lambda.
        self._reserved_totals: dict[str, int] = {}
        self._tasks: asyncio.TaskGroup | None = None
        self._snapshots_prepared: set[Any] = set()
        self._closing = False
        self.metrics = metrics  # metering is off without it
        # Where the metrics functions print in CloudWatch's embedded format go (None: nowhere).
        self._published = published
        self.spans = spans  # when an OTLP endpoint is configured
        self.recordings = recordings  # recent invocations, for replay (off without it)
        self.debugging = DebugSessions()  # functions whose invocations run under a debugger
        registry.subscribe(self._on_registry_change)
        for record in registry.records():
            self._on_registry_change(record.key)

    # -- lifecycle -----------------------------------------------------------------------------

    async def run(self, started: asyncio.Event | None = None) -> None:
        """Run until cancelled; on the way out, stop every environment and wait for it."""
        async with asyncio.TaskGroup() as tasks:
            self._tasks = tasks
            for record in list(self._registry.records()):
                self._apply_provisioned(record.key)
                self._prepare_snapshots(record.key)
            if started is not None:
                started.set()
            try:
                while True:
                    await asyncio.sleep(REAP_INTERVAL)
                    self.reap()
            except asyncio.CancelledError:
                await self._shutdown()
                raise

    def begin_shutdown(self) -> None:
        """From now on invokes are refused; those in flight finish or fail with their environment."""
        self._closing = True

    async def _shutdown(self) -> None:
        self._closing = True
        for pool in [*self._pools.values(), *self._retired]:
            pool.stop_all()
        for sandbox in list(self._sandboxes):
            sandbox.stop()
        waits = [s.wait_exit() for s in list(self._sandboxes)]
        if waits:
            await asyncio.gather(*waits, return_exceptions=True)

    def reap(self) -> int:
        now = self._clock()
        stopped = sum(pool.reap(now, self.idle_timeout) for pool in self._pools.values())
        if self._tasks is not None:
            for pool in self._pools.values():
                pool.maintain(self._init_timeout)
        self._retired = [p for p in self._retired if p.size]
        return stopped

    # -- invoke ----------------------------------------------------------------------------------

    def resolve(self, key: FunctionKey, qualifier: str | None) -> FunctionConfig:
        """The configuration that runs: an alias's weights are drawn here, per invoke."""
        record = self._registry.get(key)
        if qualifier and qualifier != LATEST and qualifier in record.aliases:
            alias = record.aliases[qualifier]
            version = pick_version(alias.function_version, alias.routing, self._draw())
            return self._registry.version(key, version)
        return self._registry.version(key, qualifier)

    async def invoke_target(
        self,
        target: Target,
        payload: bytes,
        *,
        request_id: str | None = None,
        client_context: str | None = None,
        caller_trace: tracing.TraceHeader | None = None,
        stream: ResponseStream | None = None,
    ) -> Invoked:
        """The one way in: resolve the target (an alias's weights drawn here), run it under the
        caller's trace when it sent one (or a trace of its own), and meter it by the qualifier
        the caller named. Raises StratusError for what is refused; function faults are results.
        With a `stream`, a runtime that answers in streaming mode writes to it as it goes
        (invoke/streaming.py); it is closed when this returns or raises."""
        try:
            if self.debugging.sessions:
                debugged = await self._debugged(target, payload, request_id, caller_trace)
                if debugged is not None:
                    return debugged
            record, key, config, pool = self._planned(target)
            trace = tracing.for_function(caller_trace, config.tracing_mode == "Active")
            result = await self._run(
                config,
                payload,
                target.region,
                target.arn,
                target.qualifier,
                client_context,
                request_id,
                trace,
                stream,
                record,
                key,
                pool,
            )
        finally:
            if stream is not None:
                stream.close()
        return Invoked(result, trace)

    async def _debugged(
        self,
        target: Target,
        payload: bytes,
        request_id: str | None,
        caller_trace: tracing.TraceHeader | None,
    ) -> Invoked | None:
        """The invocation run under its function's debug session, if one is open and takes it
        (invoke/debug_sessions.py); None to run it as usual."""
        session = self.debugging.find(FunctionKey(target.region, target.name), target.qualifier)
        if session is None:
            return None
        result = await session.invoke(self, target, payload, request_id)
        if result is None:
            return None
        return Invoked(result, tracing.for_function(caller_trace, False))

    def _planned(self, target: Target) -> Plan:
        """The record, configuration and pool (if made yet) an invoke of `target` runs: from the
        plan of an unaliased target when the registry still holds the record it was made from,
        else resolved (an alias's weights are drawn per invoke, so its targets have no plan)."""
        where = (target.region, target.name, target.qualifier)
        plan = self._plans.get(where)
        if plan is not None:
            record, key, config, pool = plan
            if self._registry.find(key) is record:
                return record, key, config, pool if pool is not None and not pool.retired else None
            del self._plans[where]
        qualifier = target.qualifier
        record = self._registry.get(FunctionKey(target.region, target.name))
        config = self.resolve(record.key, qualifier)
        key = config.key  # what the limiter and metrics count by, as `_run` takes it
        if not qualifier or qualifier == LATEST or qualifier not in record.aliases:
            self._plans[where] = (record, key, config, None)
        return record, key, config, None

    async def _run(
        self,
        config: FunctionConfig,
        payload: bytes,
        region: str,
        invoked_arn: str,
        qualifier: str | None,
        client_context: str | None,
        request_id: str | None,
        trace: tracing.TraceHeader,
        stream: ResponseStream | None = None,
        record: FunctionRecord | None = None,
        function: FunctionKey | None = None,
        pool: Pool | None = None,
    ) -> InvocationResult:
        if self._tasks is None or self._closing:
            raise ServiceError("The server is shutting down and takes no new invocations.")
        if function is None:
            function = config.key  # the limiter counts per function (its region and name) and region
        if record is None:
            record = self._registry.get(function)
        invocation = Invocation(
            request_id=request_id or str(uuid.uuid4()),
            payload=payload,
            invoked_arn=invoked_arn,
            client_context=client_context,
            trace_id=trace.render(),
        )
        started_ns = time.time_ns() if self.spans is not None else 0
        reserved = record.reserved_concurrency
        try:
            self.limiter.acquire(function, reserved, self.reserved_total(function.region))
        except TooManyRequests:
            if self.metrics is not None:
                self.metrics.throttled(function)
            raise
        try:
            if pool is None:
                pool = self._pool(config, region)
                self._remember_pool((region, function.name, qualifier), record, config, pool)
            if self.metrics is not None:
                limiter = self.limiter
                self.metrics.running(
                    function,
                    config.version,
                    limiter.in_use(function),
                    limiter.region_in_use(function.region),
                    limiter.unreserved_in_use(function.region),
                )
            for attempt in range(LOST_ENVIRONMENT_RETRIES + 1):
                sandbox = await pool.acquire()
                if pool.provisioned and self.metrics is not None:
                    self.metrics.provisioned(
                        function,
                        config.version,
                        pool.provisioned_busy(),
                        pool.provisioned,
                        not sandbox.provisioned,
                    )
                try:
                    result = await sandbox.invoke(invocation, stream)
                    if self.metrics is not None:
                        self._meter(config, qualifier, result, function)
                    if self.spans is not None:
                        self.spans.invocation(
                            config, trace, invocation.request_id, result, started_ns, time.time_ns()
                        )
                    if self.recordings is not None:  # an append; written by its flusher
                        self.recordings.note(
                            function, config.version, record.tags, qualifier, invocation, result
                        )
                    return result
                except EnvironmentLost:
                    if attempt == LOST_ENVIRONMENT_RETRIES:
                        raise ServiceError(
                            "The function's environments kept failing before it ran."
                        ) from None
                finally:
                    pool.checkin(sandbox)
            raise AssertionError("unreachable")
        finally:
            self.limiter.release(function, reserved)

    def _remember_pool(
        self, where: tuple[str, str, str | None], record: FunctionRecord, config: FunctionConfig, pool: Pool
    ) -> None:
        """Keep `pool` in the plan this invoke was resolved by, if it has one."""
        plan = self._plans.get(where)
        if plan is not None and plan[0] is record and plan[2] is config:
            self._plans[where] = (record, plan[1], config, pool)

    def _meter(
        self, config: FunctionConfig, qualifier: str | None, result: InvocationResult, function: FunctionKey
    ) -> None:
        assert self.metrics is not None
        dimensions = [config.version]
        if qualifier and qualifier != config.version and qualifier != LATEST:
            dimensions.append(f"alias:{qualifier}")
        self.metrics.record(
            function,
            dimensions,
            result.duration_ms,
            result.billed_ms,
            config.memory_size,
            result.init_ms,
            result.function_error is not None,
        )

    def _pool(self, config: FunctionConfig, region: str) -> Pool:
        pool = self._existing_pool(config, region)
        if pool is None:
            self._plan(config)  # refuse an unavailable runtime before building anything
            assert self._tasks is not None
            pool = Pool(config, region, self._make_sandbox, self._tasks)
            self._pools[(config.runtime_key(), region)] = pool
        return pool

    def _existing_pool(self, config: FunctionConfig, region: str) -> Pool | None:
        return self._pools.get((config.runtime_key(), region))

    def _plan(self, config: FunctionConfig) -> LaunchPlan:
        runtime = self._runtimes.get(config.runtime)
        if runtime is None or isinstance(runtime, str):
            reason = runtime or f"runtime {config.runtime} is not supported"
            raise InvalidRuntime(f"The runtime {config.runtime} is unavailable: {reason}.")
        if isinstance(runtime, CustomRuntime):
            task_root = self._backend.task_root(self._code.tree(config.code_key))
            return LaunchPlan(
                argv=runtime.argv(task_root),
                env={"PYTHONPATH": str(BOOT_DIR)},
                execution_env="",
                bootstraps=runtime.bootstraps(task_root),
                zygote=runtime.host.name,
            )
        if isinstance(runtime, JavaRuntime):
            # The version's own class archive, made at deploy, where the backend can mount it.
            app = self._code.artifact_path(java_app_key(config.code_key, config.handler, runtime.name))
            use_app = self._backend.name == "linux" and (app / "app.jsa").is_file()
            argv = runtime.argv(config.memory_size, app_archive=use_app)
            return LaunchPlan(
                argv=argv,
                env={},
                execution_env=f"AWS_Lambda_{runtime.name}",
                zygote=runtime.host.name,
                exec_argv=argv,
                app_dir=str(app) if use_app else None,
            )
        if isinstance(runtime, NodeRuntime):
            return LaunchPlan(
                argv=runtime.argv(),
                env={"NODE_PATH": runtime.node_path()},
                execution_env=f"AWS_Lambda_{runtime.name}",
                zygote=runtime.host.name,
                exec_argv=runtime.argv(),
                exec_channel=True,
            )
        return LaunchPlan(
            argv=runtime.argv(config.handler),
            env={"PYTHONPATH": runtime.python_path()},
            execution_env=f"AWS_Lambda_{runtime.name}",
        )

    def _make_sandbox(
        self, config: FunctionConfig, region: str, on_exit: Callable[[Sandbox], None]
    ) -> Sandbox:
        def exited(sandbox: Sandbox) -> None:
            self._sandboxes.discard(sandbox)
            on_exit(sandbox)

        layer_keys = tuple(key for _, _, key in config.layers)
        sandbox = Sandbox(
            config,
            region,
            self._plan(config),
            self._backend,
            self._logs,
            init_timeout=self._init_timeout,
            code_dir=str(self._code.tree(config.code_key)),
            opt_dir=str(self._code.layered(layer_keys)) if layer_keys else None,
            on_exit=exited,
            clock=self._clock,
            published=self._published,
            **self._session(config),
        )
        self._sandboxes.add(sandbox)
        return sandbox

    def _session(self, config: FunctionConfig) -> dict[str, Any]:
        """A new environment's credentials, and how long it may take invocations with them."""
        if self._credentials is None:
            return {}
        issued = self._credentials.issue(config.role, config.name)
        return {"credentials": issued, "reuse_for": self._credentials.reuse_for}

    # -- configuration changes -------------------------------------------------------------------

    def _on_registry_change(self, key: FunctionKey) -> None:
        for where in [w for w in self._plans if w[0] == key.region and w[1] == key.name]:
            del self._plans[where]
        record = self._registry.find(key)
        if record is None or record.reserved_concurrency is None:
            self._reserved.pop(key, None)
        else:
            self._reserved[key] = record.reserved_concurrency
        region = key.region
        self._reserved_totals[region] = sum(n for k, n in self._reserved.items() if k.region == region)
        live: set[Any] = set()
        if record is not None:
            live.add(record.latest.runtime_key())
            live.update(v.runtime_key() for v in record.versions.values())
        for pool_key, pool in list(self._pools.items()):
            if pool.config.key == key and pool_key[0] not in live:
                pool.retire()
                del self._pools[pool_key]
                if pool.size:
                    self._retired.append(pool)
        self._apply_provisioned(key)
        self._prepare_snapshots(key)

    def _prepare_snapshots(self, key: FunctionKey) -> None:
        """A published version with SnapStart gets its template right away, not on first use."""
        record = self._registry.find(key)
        if record is None or self._tasks is None:
            return
        for config in [record.latest, *record.versions.values()]:
            if config.uses_snapshot() and config.runtime_key() not in self._snapshots_prepared:
                self._snapshots_prepared.add(config.runtime_key())
                with contextlib.suppress(StratusError):
                    sandbox = self._make_sandbox(config, key.region, lambda _: None)
                    self._sandboxes.discard(sandbox)
                    self._tasks.create_task(self._backend.prepare(sandbox.spec()))

    def _apply_provisioned(self, key: FunctionKey) -> None:
        """Point each pool of the function at the provisioned concurrency now configured for it."""
        record = self._registry.find(key)
        wanted: dict[tuple[Any, ...], int] = {}
        if record is not None:
            for qualifier, provisioned in record.provisioned.items():
                config = self._registry.version(key, qualifier)
                pool_key = (config.runtime_key(), provisioned.region)
                wanted[pool_key] = wanted.get(pool_key, 0) + provisioned.requested
                if pool_key not in self._pools and self._tasks is not None:
                    with contextlib.suppress(StratusError):
                        self._pool(config, provisioned.region)
        for pool_key, pool in self._pools.items():
            if pool.config.key == key:
                pool.provisioned = wanted.get(pool_key, 0)
                if self._tasks is not None:
                    pool.maintain(self._init_timeout)

    def provisioned_status(self, key: FunctionKey, qualifier: str) -> tuple[int, str | None]:
        """(environments initialized for that configuration, the last provisioning failure)."""
        record = self._registry.get(key)
        provisioned = record.provisioned.get(qualifier)
        if provisioned is None:
            return 0, None
        config = self._registry.version(key, qualifier)
        pool = self._existing_pool(config, provisioned.region)
        if pool is None:
            return 0, None
        return min(pool.initialized, provisioned.requested), pool.provisioning_failure

    # -- introspection ---------------------------------------------------------------------------

    def reserved_total(self, region: str) -> int:
        """The sum of the reserved concurrency of one region's functions."""
        return self._reserved_totals.get(region, 0)

    def environments(self) -> dict[str, int]:
        """Live execution environments by function."""
        counts: dict[str, int] = {}
        for pool in self._pools.values():
            if pool.size:
                counts[pool.config.name] = counts.get(pool.config.name, 0) + pool.size
        return counts

    def environment_count(self, name: str | None = None) -> int:
        return sum(pool.size for pool in self._pools.values() if name is None or pool.config.name == name)

    # -- an invocation in an environment of its own (invoke/debugging.py) ----------------------

    async def invoke_alone(
        self,
        target: Target,
        payload: bytes,
        make: Callable[..., Sandbox],
        *,
        request_id: str | None = None,
    ) -> InvocationResult:
        """Run one invocation in a fresh environment that `make` builds (called with the
        arguments a pooled environment of the configuration gets) and that is stopped when it
        ends: no pool holds it, so no other invocation runs there. It holds a concurrency lease
        like any invocation; it is not metered. Raises StratusError for what is refused."""
        if self._tasks is None or self._closing:
            raise ServiceError("The server is shutting down and takes no new invocations.")
        config = self.resolve(FunctionKey(target.region, target.name), target.qualifier)
        reserved = self._registry.get(config.key).reserved_concurrency
        plan = self._plan(config)
        self.limiter.acquire(config.key, reserved, self.reserved_total(config.key.region))
        try:
            layer_keys = tuple(key for _, _, key in config.layers)
            sandbox = make(
                config,
                target.region,
                plan,
                self._backend,
                self._logs,
                init_timeout=self._init_timeout,
                code_dir=str(self._code.tree(config.code_key)),
                opt_dir=str(self._code.layered(layer_keys)) if layer_keys else None,
                on_exit=self._sandboxes.discard,
                clock=self._clock,
                published=self._published,
                **self._session(config),
            )
            self._sandboxes.add(sandbox)
            trace = tracing.for_function(None, config.tracing_mode == "Active")
            invocation = Invocation(
                request_id=request_id or str(uuid.uuid4()),
                payload=payload,
                invoked_arn=target.arn,
                trace_id=trace.render(),
            )
            try:
                await sandbox.start(self._tasks)
                return await sandbox.invoke(invocation)
            finally:
                sandbox.stop()
                await sandbox.wait_exit()
        finally:
            self.limiter.release(config.key, reserved)
