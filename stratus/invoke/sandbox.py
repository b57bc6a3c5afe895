"""One execution environment: its process, its Runtime API endpoint and its in-flight invoke.

Contract:
1. A sandbox runs one invocation at a time; `invoke` is called only when it is STARTING or IDLE,
   by the pool that owns it.
2. The invoke's deadline starts when the runtime receives the event from `/next`; before that,
   on a cold start, the init timeout applies.
3. Every invoke ends with exactly one `InvocationResult`: the response, the function's error, a
   timeout (the environment is killed), or the runtime's exit (crash, init failure, OOM).
   An answer (result, error or init error) past Lambda's 6 MB limit is refused while it is read,
   on the channel and over HTTP alike: the caller gets `Function.ResponseSizeTooLarge`, and the
   environment is killed and replaced (`invoke/result_limit.py`).
4. Once DEAD a sandbox never runs again; the pool drops it and a later invoke gets a fresh one.
5. All its state is touched only on the event loop, by its own methods.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import enum
import math
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from stratus.control.models import FunctionConfig
from stratus.errors import ServiceError
from stratus.identity.environments import EnvironmentCredentials
from stratus.invoke.channel import RuntimeChannel
from stratus.invoke.envlog import EnvironmentLog, Tail, stamp
from stratus.invoke.launch import LaunchPlan, Placement, environment, sandbox_spec
from stratus.invoke.records import (
    Invocation,
    InvocationResult,
    error_document,
    error_payload,
    exit_message,
    timeout_message,
)
from stratus.invoke.result_limit import (
    TOO_LARGE_DOCUMENT,
    TOO_LARGE_MESSAGE,
    TOO_LARGE_TYPE,
    over_limit,
)
from stratus.invoke.runtime_api import RuntimeApiError, RuntimeEndpoint, event_headers
from stratus.invoke.streaming import ResponseStream
from stratus.isolation.backend import ExitStatus, IsolationBackend, SandboxProcess, SandboxSpec
from stratus.observe.custom_metrics import CustomMetrics
from stratus.observe.logstore import LogStore
from stratus.observe.platform_lines import PlatformLines, Report


class State(enum.Enum):
    STARTING = "starting"
    IDLE = "idle"
    BUSY = "busy"
    DEAD = "dead"


_TRANSITIONS = {
    State.STARTING: {State.BUSY, State.IDLE, State.DEAD},
    State.IDLE: {State.BUSY, State.DEAD},
    State.BUSY: {State.IDLE, State.DEAD},
    State.DEAD: set(),
}


class IllegalTransition(RuntimeError):
    pass


class StratusShuttingDown(ServiceError):
    pass


READY_GRACE_S = 0.05


class EnvironmentLost(Exception):
    """A warm environment died (or had to be stopped) before the invocation handed to it was
    delivered: the invocation never ran, and the caller runs it in another environment."""


@dataclass(slots=True)
class _Inflight:
    invocation: Invocation
    done: asyncio.Future[InvocationResult]
    tail: Tail = field(default_factory=Tail)  # its last log lines, for LogType=Tail
    delivered_at: float = 0.0
    deadline_ms: int = 0
    # Response streaming: the caller's stream (None: the caller takes the result whole), and
    # what a streaming runtime posted for a caller who takes it whole.
    stream: ResponseStream | None = None
    streaming: bool = False
    buffered: bytearray = field(default_factory=bytearray)


class Sandbox:
    def __init__(
        self,
        config: FunctionConfig,
        region: str,
        plan: LaunchPlan,
        backend: IsolationBackend,
        logs: LogStore,
        *,
        init_timeout: float,
        code_dir: str,
        opt_dir: str | None = None,
        on_exit: Callable[[Sandbox], None],
        clock: Callable[[], float] = time.monotonic,
        provisioned: bool = False,
        credentials: EnvironmentCredentials | None = None,
        reuse_for: float = math.inf,
        published: CustomMetrics | None = None,
    ) -> None:
        self.sandbox_id = uuid.uuid4().hex
        self.config = config
        self.region = region
        self.state = State.STARTING
        self._clock = clock
        self.idle_since = clock()
        self._credentials = credentials
        # Its session is fresh for this long (identity/environments.py): after that it finishes
        # what it runs and takes no more, and a new environment gets a new session.
        self.reuse_until = self.idle_since + reuse_for
        self.log_group = config.log_group_name
        self._platform = PlatformLines(config.log_format == "JSON", config.system_log_level or "INFO")
        day = datetime.now(UTC).strftime("%Y/%m/%d")
        self.log_stream = f"{day}/[{config.version}]{self.sandbox_id}"
        self._plan = plan
        self._backend = backend
        self._log = EnvironmentLog(logs, region, self.log_group, self.log_stream, published)
        self._init_timeout = init_timeout
        self._code_dir = code_dir
        self._opt_dir = opt_dir
        self._on_exit = on_exit
        self._endpoint = RuntimeEndpoint(self)
        self._proc: SandboxProcess | None = None
        self._spawned_at = 0.0
        self._init_ms: float | None = None  # reported once, on the first invoke
        self._ready = False
        self._served = False  # whether an invocation has been delivered here
        self._last_deadline = 0.0  # epoch seconds: the last delivered invocation's deadline
        self._init_error: bytes | None = None
        self._current: _Inflight | None = None
        self._waiter: asyncio.Future[Invocation] | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._exit_task: asyncio.Task[None] | None = None
        self._stopping = False
        self.provisioned = provisioned
        self._initialized: asyncio.Future[None] | None = None
        self._channel: RuntimeChannel | None = None
        # The loop it runs on, kept once started: on Python 3.11 each get_running_loop() is a
        # getpid() syscall, and the invoke path would make two per invoke.
        self._loop: asyncio.AbstractEventLoop | None = None

    # -- lifecycle -------------------------------------------------------------------------

    def _move(self, to: State) -> None:
        # Enum members hash in Python: the two moves of every invoke are checked by identity.
        state = self.state
        if (state is State.IDLE and to is State.BUSY) or (state is State.BUSY and to is State.IDLE):
            self.state = to
            return
        if to not in _TRANSITIONS[state]:
            raise IllegalTransition(f"sandbox {self.sandbox_id}: {self.state.name} -> {to.name}")
        self.state = to

    def spec(self) -> SandboxSpec:
        return sandbox_spec(
            self.sandbox_id, self.config, self._plan, self._environment(), self._code_dir, self._opt_dir
        )

    async def start(self, tasks: asyncio.TaskGroup) -> None:
        spec = self.spec()
        self._spawned_at = time.monotonic()
        try:
            self._proc = await self._backend.spawn(spec)
            await self._endpoint.serve(self._proc.runtime_listener)
        except BaseException:
            if self._proc is not None:
                self._proc.cleanup()
            await self._endpoint.close()
            self.state = State.DEAD
            self._on_exit(self)
            raise
        loop = self._loop = asyncio.get_running_loop()
        loop.add_reader(self._proc.output_fd, self._read_output)
        # Custom runtimes and Java speak HTTP; the channel is for awslambdaric and Stratus's Node client.
        sock = None if self._plan.speaks_http else getattr(self._proc, "channel", None)
        if sock is not None:
            self._channel = RuntimeChannel(sock, self)
        self._log_line(f"INIT_START Runtime Version: {self.config.runtime}")
        watcher = self._watch_exit(self._proc)
        try:
            self._exit_task = tasks.create_task(watcher)
        except RuntimeError:  # the task group is shutting down: this environment never runs
            watcher.close()
            self.stop()
            self._finish_exit(self._proc, ExitStatus(-9))
            raise StratusShuttingDown("The server is shutting down and takes no new invocations.") from None

    def _environment(self) -> dict[str, str]:
        task_root = self._backend.task_root(Path(self._code_dir))
        credentials = self._credentials.variables if self._credentials else ()
        where = Placement(
            self.region, self.log_group, self.log_stream, self.provisioned, task_root, credentials
        )
        return environment(self.config, self._plan, where)

    async def wait_exit(self) -> None:
        if self._exit_task is not None:
            await asyncio.shield(self._exit_task)

    def reusable(self) -> bool:
        """Whether it may take another invocation: alive, and its session still fresh."""
        return self.usable and self._clock() < self.reuse_until

    @property
    def usable(self) -> bool:
        """False once the environment is dead or has been told to stop."""
        return self.state is not State.DEAD and not self._stopping

    def stop(self) -> None:
        """Kill the environment; the exit watcher finishes the bookkeeping."""
        self._stopping = True
        if self._proc is not None:
            self._proc.kill()

    async def _watch_exit(self, proc: SandboxProcess) -> None:
        try:
            status = await proc.wait()
        except asyncio.CancelledError:
            proc.kill()
            status = ExitStatus(-9)
            self._finish_exit(proc, status)
            await self._endpoint.close()
            raise
        self._finish_exit(proc, status)
        await self._endpoint.close()

    def _finish_exit(self, proc: SandboxProcess, status: ExitStatus) -> None:
        self._read_output()
        loop = asyncio.get_running_loop()
        loop.remove_reader(proc.output_fd)
        if (
            self._current is not None
            and not self._current.done.done()
            and self._served
            and not self._current.delivered_at
        ):
            self._cancel_timer()
            self._current.done.set_exception(EnvironmentLost())
        if self._current is not None and not self._current.done.done():
            request_id = self._current.invocation.request_id
            if self._init_error is not None:
                self._finish(self._init_error, "Unhandled")
            elif status.oom_killed:
                self._finish(
                    error_payload("Runtime.OutOfMemory", exit_message(request_id, status.returncode)),
                    "Unhandled",
                    error_type="Runtime.OutOfMemory",
                )
            else:
                self._finish(
                    error_payload("Runtime.ExitError", exit_message(request_id, status.returncode)),
                    "Unhandled",
                    error_type="Runtime.ExitError",
                )
        if self._waiter is not None and not self._waiter.done():
            self._waiter.cancel()
        if self._initialized is not None and not self._initialized.done():
            reason = self._init_error.decode(errors="replace") if self._init_error else "it exited"
            self._initialized.set_exception(RuntimeError(f"init failed: {reason}"))
            self._initialized.exception()
        self._cancel_timer()
        if self._channel is not None:
            self._channel.close()
            self._channel = None
        self._endpoint.stop_listening()  # before the backend releases the listening socket
        proc.cleanup()
        self.state = State.DEAD
        self._on_exit(self)

    async def initialize(self, timeout: float) -> None:
        """Provisioned concurrency: run the init phase now, without an invocation; then IDLE.
        Raises RuntimeError with the init error if the environment does not come up."""
        self._initialized = asyncio.get_running_loop().create_future()
        try:
            await asyncio.wait_for(asyncio.shield(self._initialized), timeout)
        except TimeoutError:
            self.stop()
            raise RuntimeError(f"init did not finish within {timeout:.0f} s") from None
        init_ms, self._init_ms = self._init_ms, None  # reported now, not on the first invoke
        self._log_line(f"INIT_REPORT Init Duration: {init_ms or 0:.2f} ms\tPhase: init\tStatus: success")
        self._move(State.IDLE)
        self.idle_since = self._clock()

    # -- the invoke path ----------------------------------------------------------------------

    async def invoke(self, invocation: Invocation, stream: ResponseStream | None = None) -> InvocationResult:
        self._move(State.BUSY)
        loop = self._loop or asyncio.get_running_loop()
        self._current = _Inflight(invocation, loop.create_future(), stream=stream)
        if self._ready:
            self._deliver()
            if not self._current.delivered_at:
                # The runtime has not asked for its next event yet: it may still be working after
                # its last answer. That invocation's timeout bounds the wait, as on Lambda.
                delay = max(0.0, self._last_deadline - time.time()) + READY_GRACE_S
                self._timer = loop.call_later(delay, self._on_not_ready)
        else:
            self._timer = loop.call_later(self._init_timeout, self._on_timeout)
        try:
            return await self._current.done
        finally:
            self._current = None

    def release(self) -> None:
        """Back to IDLE after an invoke, unless the environment died meanwhile."""
        if self.state is State.BUSY:
            self._move(State.IDLE)
            self.idle_since = self._clock()

    def _deliver(self) -> None:
        current = self._current
        waiter = self._waiter
        http_waiting = waiter is not None and not waiter.done()
        chan = self._channel if self._channel is not None and self._channel.waiting else None
        if current is None or current.delivered_at or not (http_waiting or chan is not None):
            return
        self._cancel_timer()
        current.delivered_at = time.monotonic()
        current.deadline_ms = int(time.time() * 1000) + self.config.timeout * 1000
        self._last_deadline = current.deadline_ms / 1000
        self._served = True
        self._log.platform_lines(
            self._platform.start(current.invocation.request_id, self.config.version), current.tail
        )
        loop = self._loop or asyncio.get_running_loop()
        self._timer = loop.call_at(loop.time() + self.config.timeout, self._on_timeout)
        if chan is not None:
            invocation = current.invocation
            chan.send_event(event_headers(invocation, current.deadline_ms), invocation.payload)
            return
        assert waiter is not None
        self._waiter = None
        waiter.set_result(current.invocation)

    # -- the private channel's side (called by RuntimeChannel) ---------------------------------

    def channel_next(self) -> None:
        """The runtime asked for its next event over the private channel."""
        self._runtime_ready()
        self._deliver()

    def refuse_too_large(
        self, message: str = TOO_LARGE_MESSAGE, document: bytes = TOO_LARGE_DOCUMENT
    ) -> None:
        """The runtime answers with more than Lambda allows: the invocation it runs gets
        Lambda's error, and the environment is replaced, since it may still be writing the rest
        (and Lambda's runtime clients exit when the Runtime API refuses an answer)."""
        current = self._current
        if current is not None and current.delivered_at and not current.done.done():
            request_id = current.invocation.request_id
            self._log_line(f"{stamp()} {request_id} {TOO_LARGE_TYPE}: {message}")
            self._finish(document, "Unhandled", error_type=TOO_LARGE_TYPE)
        self.stop()

    def _on_not_ready(self) -> None:
        """The runtime outlived its last invocation's timeout without asking for more: stop it.
        The invocation waiting here never ran, so it goes to another environment."""
        self._timer = None
        current = self._current
        if current is not None and not current.done.done() and not current.delivered_at:
            current.done.set_exception(EnvironmentLost())
            self._log_line(
                f"{stamp()} Runtime did not ask for "
                "its next event within its invocation's timeout; the environment is stopped"
            )
        self.stop()

    def _on_timeout(self) -> None:
        current = self._current
        self._timer = None
        if current is None or current.done.done():
            return
        request_id = current.invocation.request_id
        seconds = float(self.config.timeout) if current.delivered_at else self._init_timeout
        message = timeout_message(request_id, seconds)
        self._log_line(f"{stamp()} {request_id} Task timed out after {seconds:.2f} seconds")
        self._finish(error_payload("Sandbox.Timedout", message), "Unhandled", error_type="Sandbox.Timedout")
        self.stop()

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _finish(self, payload: bytes, function_error: str | None, error_type: str | None = None) -> None:
        current = self._current
        if current is None or current.done.done():
            return
        self._cancel_timer()
        self._read_output()
        self._log.flush_output(current.tail)
        now = time.monotonic()
        duration = (now - current.delivered_at) * 1000 if current.delivered_at else 0.0
        memory_mb = self._max_memory_mb()
        request_id = current.invocation.request_id
        if not current.delivered_at:
            for line in self._platform.start(request_id, self.config.version):
                self._log_line(line)
        init_ms, self._init_ms = self._init_ms, None
        # Lambda bills the init phase of on-demand environments too, in the first invoke's
        # Billed Duration, rounded up to the millisecond.
        billed_ms = max(1, math.ceil(duration + (init_ms or 0.0)))
        status = "timeout" if error_type == "Sandbox.Timedout" else "error" if function_error else "success"
        report = Report(request_id, duration, billed_ms, self.config.memory_size, memory_mb, init_ms, status)
        self._log.platform_lines(self._platform.finish(report), current.tail)
        if current.stream is not None:
            current.stream.close()  # the result says how it ended
        current.done.set_result(
            InvocationResult(
                payload=payload,
                executed_version=self.config.version,
                function_error=function_error,
                log_tail=current.tail.text(),
                duration_ms=duration,
                billed_ms=billed_ms,
                init_ms=init_ms,
                max_memory_mb=memory_mb,
                error_type=error_type,
            )
        )

    def _max_memory_mb(self) -> int:
        if self._proc is None:
            return 0
        return self._proc.max_memory_bytes() // (1024 * 1024)

    # -- the runtime's side (called by the Runtime API endpoint) ------------------------------

    def _runtime_ready(self) -> None:
        """The runtime asked for its first event: init is over."""
        if not self._ready:
            self._ready = True
            self._init_ms = (time.monotonic() - self._spawned_at) * 1000
            if self._proc is not None:
                self._proc.initialized()
            if self._initialized is not None and not self._initialized.done():
                self._initialized.set_result(None)

    async def next_invocation(self) -> tuple[Invocation, int]:
        if self.state is State.DEAD:
            raise RuntimeApiError(500, "Runtime.Dead", "This environment has stopped.")
        self._runtime_ready()
        if self._waiter is not None and not self._waiter.done():
            raise RuntimeApiError(400, "InvalidStateTransition", "A /next request is already open.")
        self._waiter = asyncio.get_running_loop().create_future()
        waiter = self._waiter
        self._deliver()
        invocation = await waiter
        current = self._current
        deadline = current.deadline_ms if current is not None else 0
        return invocation, deadline

    def _check_request(self, request_id: str) -> _Inflight:
        current = self._current
        if current is None or current.invocation.request_id != request_id or not current.delivered_at:
            raise RuntimeApiError(400, "InvalidRequestID", f"Invalid request ID: {request_id}")
        if current.done.done():
            raise RuntimeApiError(400, "InvalidStateTransition", "The invocation has already ended.")
        return current

    def post_response(self, request_id: str, body: bytes) -> None:
        self._check_request(request_id)
        self._finish(body, None)

    def post_error(self, request_id: str, body: bytes, error_type: str | None) -> None:
        self._check_request(request_id)
        self._finish(error_document(body, error_type), "Unhandled", error_type=error_type)

    # -- response streaming (the Runtime API's chunked responses) ------------------------------

    def begin_stream(self, request_id: str, content_type: str | None) -> None:
        """The runtime answers in streaming mode: its chunks go on to a streaming caller as they
        come, or are gathered for a caller who takes the result whole."""
        current = self._check_request(request_id)
        if current.streaming:
            raise RuntimeApiError(400, "InvalidStateTransition", "The response is already being sent.")
        current.streaming = True
        if current.stream is not None:
            current.stream.begin(content_type, self.config.version)

    async def stream_chunk(self, request_id: str, data: bytes) -> bool:
        """One chunk of a streamed response; False once the invocation takes no more (it passed
        its limit, timed out or its caller's stream is over)."""
        current = self._check_request(request_id)
        stream = current.stream
        if stream is None:
            current.buffered += data
            if over_limit(len(current.buffered)):
                current.buffered.clear()
                self.refuse_too_large()
                return False
            return True
        if not stream.write(data):
            message = f"Response payload size exceeded maximum allowed payload size ({stream.limit} bytes)."
            document = error_payload(TOO_LARGE_TYPE, message)
            self.refuse_too_large(message, document)
            return False
        await stream.drained()  # a slow reader holds the runtime's upload, not the server's memory
        return not current.done.done()

    def end_stream(self, request_id: str, error_type: str | None, error_body: str | None) -> None:
        """The streamed response is complete; an error the function met after it began comes in
        the trailers (its type, and its document base64-encoded)."""
        current = self._check_request(request_id)
        if error_type is None and error_body is None:
            self._finish(bytes(current.buffered), None)
            return
        document = b""
        if error_body:
            try:
                document = base64.b64decode(error_body, validate=True)
            except (binascii.Error, ValueError):
                document = error_body.encode()
        payload = (
            error_document(document, error_type) if document else error_payload(error_type or "Unhandled", "")
        )
        self._finish(payload, "Unhandled", error_type=error_type or "Unhandled")

    def post_too_large(self, request_id: str | None) -> None:
        """The runtime posted a result or error (`request_id`), or an init error (None), larger
        than Lambda allows; none of it was kept."""
        if request_id is None:
            if self._ready:
                raise RuntimeApiError(403, "InvalidStateTransition", "Init has already completed.")
            self._init_error = TOO_LARGE_DOCUMENT
            self._init_ms = (time.monotonic() - self._spawned_at) * 1000
            self.stop()
            return
        self._check_request(request_id)
        self.refuse_too_large()

    def post_init_error(self, body: bytes, error_type: str | None) -> None:
        if self._ready:
            raise RuntimeApiError(403, "InvalidStateTransition", "Init has already completed.")
        self._init_error = error_document(body, error_type)
        self._init_ms = (time.monotonic() - self._spawned_at) * 1000

    # -- logs ----------------------------------------------------------------------------------

    def _read_output(self) -> None:
        if self._proc is not None:
            self._log.read_output(self._proc.output_fd, self._tail())

    def _log_line(self, line: str) -> None:
        self._log.line(line, self._tail())

    def _tail(self) -> Tail | None:
        return self._current.tail if self._current is not None else None
