"""The invoke service end to end in one event loop: real registry, code store, log store, sandboxes
and Runtime API endpoints, with the fake isolation backend in place of processes.

Every test drives `InvokeService.run()` in a task, then cancels it and checks that every fake
environment ended and no concurrency lease is left. Waits are bounded polls on state, never
assertions about elapsed time. The service's clock and alias draws are injected.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import sys
import zipfile
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from stratus.control.codestore import CodeStore, StoredCode
from stratus.control.keys import FunctionKey
from stratus.control.models import FunctionConfig
from stratus.control.registry import Registry, new_revision, now_iso
from stratus.errors import ResourceNotFound, TooManyRequests
from stratus.invoke.limits import ACCOUNT_EXCEEDED, RESERVED_EXCEEDED
from stratus.invoke.records import InvocationResult
from stratus.invoke.service import InvalidRuntime, InvokeService
from stratus.invoke.target import Target
from stratus.isolation.backend import SandboxSpec
from stratus.isolation.fake import FakeBackend, FakeProcess, Handler, crash, log
from stratus.observe.logstore import LogStore
from stratus.runtimes.python import PythonRuntime
from stratus.store.sqlite import Store

REGION = "us-east-1"
F = FunctionKey(REGION, "f")  # the tests' usual function
ACCOUNT = "000000000000"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/test-role"
IDLE_TIMEOUT = 60.0


class Clock:
    """A virtual monotonic clock the test moves by hand."""

    def __init__(self, start: float = 0.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class World:
    tmp: Path
    store: Store
    registry: Registry
    code: CodeStore
    stored: StoredCode
    logs: LogStore
    backend: FakeBackend
    service: InvokeService
    clock: Clock
    draws: list[float]
    handlers: dict[str, Handler]
    gates: dict[str, asyncio.Event] = field(default_factory=dict)
    entered: list[str] = field(default_factory=list)

    def gate(self, key: str) -> asyncio.Event:
        return self.gates.setdefault(key, asyncio.Event())


def tiny_zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("app.py", "def handler(event, context):\n    return event\n")
    return buf.getvalue()


def install_handlers(world: World) -> None:
    async def echo(event: dict[str, Any], request_id: str) -> dict[str, Any]:
        log(f"echo {request_id}")
        return {"echo": event}

    async def gated(event: dict[str, Any], request_id: str) -> dict[str, Any]:
        world.entered.append(event["gate"])
        await world.gate(event["gate"]).wait()
        return {"gate": event["gate"]}

    async def fail(event: dict[str, Any], request_id: str) -> dict[str, Any]:
        raise ValueError(f"bad input {event.get('n')}")

    async def crashing(event: dict[str, Any], request_id: str) -> dict[str, Any]:
        if event.get("crash") is not None:
            log("about to crash")
            crash(int(event["crash"]))
        return {"ok": True}

    async def forever(event: dict[str, Any], request_id: str) -> dict[str, Any]:
        await asyncio.Event().wait()
        return {}

    async def v1(event: dict[str, Any], request_id: str) -> dict[str, Any]:
        return {"v": 1}

    async def v2(event: dict[str, Any], request_id: str) -> dict[str, Any]:
        return {"v": 2}

    world.handlers.update(
        {
            "app.echo": echo,
            "app.gated": gated,
            "app.fail": fail,
            "app.crashing": crashing,
            "app.forever": forever,
            "app.v1": v1,
            "app.v2": v2,
        }
    )


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    store = Store(tmp_path / "state" / "stratus.db")
    registry = Registry(store)
    code = CodeStore(tmp_path / "code")
    stored = code.put(tiny_zip())
    logs = LogStore(tmp_path / "logs.db")
    handlers: dict[str, Handler] = {}
    backend = FakeBackend(handlers)
    clock = Clock()
    draws: list[float] = []
    service = InvokeService(
        registry,
        code,
        backend,
        logs,
        {"python3.11": PythonRuntime("python3.11", Path(sys.executable), tmp_path)},
        account_limit=10,
        idle_timeout=IDLE_TIMEOUT,
        init_timeout=30.0,
        clock=clock,
        draw=lambda: draws.pop(0),
    )
    w = World(tmp_path, store, registry, code, stored, logs, backend, service, clock, draws, handlers)
    install_handlers(w)
    yield w
    backend.close()
    logs.close()
    store.close()


def run(world: World, body: Callable[[World], Awaitable[None]]) -> None:
    async def main() -> None:
        started = asyncio.Event()
        runner = asyncio.create_task(world.service.run(started))
        await started.wait()
        try:
            await body(world)
        finally:
            runner.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await runner
        assert runner.cancelled()
        assert world.backend.processes, "the scenario started no environment"
        assert world.backend.live() == [], "an environment outlived the service"
        assert world.service.limiter.total_in_use == 0

    asyncio.run(main())


async def until(condition: Callable[[], bool], what: str) -> None:
    """Wait for a state the test cannot await directly (bounded, so a bug fails, not hangs)."""
    for _ in range(2000):
        if condition():
            return
        await asyncio.sleep(0.005)
    raise AssertionError(f"never happened: {what}")


def create(world: World, name: str = "f", handler: str = "app.echo", **changes: Any) -> FunctionConfig:
    config = FunctionConfig(
        name=name,
        runtime="python3.11",
        handler=handler,
        role=ROLE,
        code_sha256=world.stored.sha256_b64,
        code_size=world.stored.size,
        code_key=world.stored.key,
        revision_id=new_revision(),
        last_modified=now_iso(),
        timeout=60,
        home_region=REGION,
    ).replace(**changes)
    return world.registry.create_function(config, tags={}, publish=False)


async def invoke(
    world: World, name: str = "f", payload: Any = None, qualifier: str | None = None
) -> InvocationResult:
    invoked = await world.service.invoke_target(
        Target(name, qualifier, REGION, ACCOUNT), json.dumps({} if payload is None else payload).encode()
    )
    return invoked.result


def body_of(result: InvocationResult) -> Any:
    return json.loads(result.payload)


def process_for(world: World, match: Callable[[FakeProcess], bool]) -> FakeProcess:
    found = [p for p in world.backend.processes if match(p)]
    assert len(found) == 1
    return found[0]


# -- warm and cold ---------------------------------------------------------------------------


def test_warm_environment_is_reused(world: World) -> None:
    async def body(w: World) -> None:
        create(w)
        results = [await invoke(w, payload={"n": i}) for i in range(5)]
        assert [body_of(r) for r in results] == [{"echo": {"n": i}} for i in range(5)]
        assert all(r.function_error is None and r.executed_version == "$LATEST" for r in results)
        assert len(w.backend.processes) == 1
        assert len(w.backend.processes[0].handled) == 5
        assert w.service.environment_count("f") == 1
        assert results[0].init_ms is not None
        assert all(r.init_ms is None for r in results[1:])
        assert "echo " in results[0].log_tail
        assert "REPORT RequestId:" in results[-1].log_tail

    run(world, body)


def test_environment_gets_the_lambda_variables(world: World) -> None:
    async def body(w: World) -> None:
        create(w, memory_size=256, environment={"STAGE": "test"})
        await invoke(w)
        spec = w.backend.processes[0].spec
        assert spec.memory_mb == 256
        assert spec.code_dir == w.code.tree(w.stored.key)
        assert spec.env["STAGE"] == "test"
        assert spec.env["_HANDLER"] == "app.echo"
        assert spec.env["AWS_LAMBDA_FUNCTION_NAME"] == "f"
        assert spec.env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "256"
        assert spec.env["AWS_REGION"] == REGION
        assert spec.env["AWS_LAMBDA_RUNTIME_API"].startswith("127.0.0.1:")

    run(world, body)


def test_concurrent_slow_invokes_spawn_one_environment_each(world: World) -> None:
    n = 4

    async def body(w: World) -> None:
        create(w, handler="app.gated")
        calls = [asyncio.create_task(invoke(w, payload={"gate": f"g{i}"})) for i in range(n)]
        await until(lambda: len(w.entered) == n, "every invoke reached its handler")
        assert len(w.backend.processes) == n
        assert w.service.environment_count("f") == n
        assert w.service.limiter.in_use(F) == n
        for i in range(n):
            w.gate(f"g{i}").set()
        results = await asyncio.gather(*calls)
        assert sorted(body_of(r)["gate"] for r in results) == [f"g{i}" for i in range(n)]
        assert w.service.limiter.in_use(F) == 0
        # All are warm now: more invokes, one at a time, spawn nothing.
        w.gate("again").set()
        for _ in range(3):
            await invoke(w, payload={"gate": "again"})
        assert len(w.backend.processes) == n

    run(world, body)


# -- concurrency limits ----------------------------------------------------------------------


def test_reserved_concurrency_throttles_and_leases_are_released(world: World) -> None:
    async def body(w: World) -> None:
        create(w, handler="app.gated")
        w.registry.put_reserved_concurrency(F, 2)
        calls = [asyncio.create_task(invoke(w, payload={"gate": f"r{i}"})) for i in range(2)]
        await until(lambda: len(w.entered) == 2, "both invokes running")

        with pytest.raises(TooManyRequests) as info:
            await invoke(w, payload={"gate": "r2"})
        assert info.value.extra["Reason"] == RESERVED_EXCEEDED
        assert w.service.limiter.in_use(F) == 2
        assert len(w.backend.processes) == 2  # a throttled invoke starts nothing

        for key in ("r0", "r1"):
            w.gate(key).set()
        await asyncio.gather(*calls)
        assert w.service.limiter.in_use(F) == 0

        # Function errors and failures of the platform both give the lease back.
        w.registry.update_config(F, {"handler": "app.fail"}, revision_id=None)
        for _ in range(3):
            assert (await invoke(w, payload={"n": 1})).function_error == "Unhandled"
        assert w.service.limiter.in_use(F) == 0
        w.registry.update_config(F, {"runtime": "python3.99"}, revision_id=None)
        for _ in range(3):
            with pytest.raises(InvalidRuntime):
                await invoke(w)
        assert w.service.limiter.in_use(F) == 0

        w.registry.update_config(F, {"runtime": "python3.11", "handler": "app.gated"}, revision_id=None)
        again = [asyncio.create_task(invoke(w, payload={"gate": f"s{i}"})) for i in range(2)]
        await until(lambda: len(w.entered) == 4, "the reservation is whole again")
        for key in ("s0", "s1"):
            w.gate(key).set()
        await asyncio.gather(*again)

    run(world, body)


def test_account_limit_leaves_room_for_reservations(world: World) -> None:
    async def body(w: World) -> None:
        create(w, "free", handler="app.gated")
        create(w, "reserved", handler="app.gated")
        # Account limit 10: 2 unreserved.
        w.registry.put_reserved_concurrency(FunctionKey(REGION, "reserved"), 8)
        calls = [asyncio.create_task(invoke(w, "free", {"gate": f"a{i}"})) for i in range(2)]
        await until(lambda: len(w.entered) == 2, "two unreserved invokes running")
        with pytest.raises(TooManyRequests) as info:
            await invoke(w, "free", {"gate": "a2"})
        assert info.value.extra["Reason"] == ACCOUNT_EXCEEDED
        w.gate("b").set()
        assert body_of(await invoke(w, "reserved", {"gate": "b"})) == {"gate": "b"}
        for i in range(2):
            w.gate(f"a{i}").set()
        await asyncio.gather(*calls)

    run(world, body)


# -- scaling to zero -------------------------------------------------------------------------


def test_reap_uses_the_injected_clock(world: World) -> None:
    async def body(w: World) -> None:
        create(w)
        await invoke(w)  # idle since virtual t=0
        w.clock.advance(IDLE_TIMEOUT - 1)
        assert w.service.reap() == 0
        assert w.service.environment_count("f") == 1
        w.clock.advance(2)
        assert w.service.reap() == 1
        assert w.service.environment_count("f") == 0
        await until(lambda: not w.backend.live(), "the idle environment stopped")

    run(world, body)


def test_reap_stops_idle_environments_but_not_busy_ones(world: World) -> None:
    async def body(w: World) -> None:
        create(w, handler="app.gated")
        busy = asyncio.create_task(invoke(w, payload={"gate": "busy"}))
        idle = asyncio.create_task(invoke(w, payload={"gate": "idle"}))
        await until(lambda: len(w.entered) == 2, "two environments running")
        w.gate("idle").set()
        await idle
        assert w.service.environment_count("f") == 2

        w.clock.advance(1e9)  # far past the idle timeout, whatever the sandboxes' clock
        assert w.service.reap() == 1
        assert w.service.environment_count("f") == 1
        await until(lambda: len(w.backend.live()) == 1, "the idle environment stopped")
        assert not busy.done()

        w.gate("busy").set()
        assert body_of(await busy) == {"gate": "busy"}
        w.clock.advance(1e9)
        assert w.service.reap() == 1
        assert w.service.environment_count("f") == 0
        await until(lambda: not w.backend.live(), "every environment stopped")
        # Scaled to zero, the next invoke starts a fresh environment.
        w.gate("later").set()
        assert body_of(await invoke(w, payload={"gate": "later"})) == {"gate": "later"}
        assert len(w.backend.processes) == 3

    run(world, body)


# -- configuration changes -------------------------------------------------------------------


def test_config_update_retires_the_old_pool(world: World) -> None:
    async def body(w: World) -> None:
        create(w, handler="app.gated", memory_size=128)
        busy = asyncio.create_task(invoke(w, payload={"gate": "busy"}))
        idle = asyncio.create_task(invoke(w, payload={"gate": "idle"}))
        await until(lambda: len(w.entered) == 2, "two environments running")
        w.gate("idle").set()
        await idle
        old = list(w.backend.processes)
        busy_proc = process_for(w, lambda p: p.events == [{"gate": "busy"}])
        assert len(old) == 2

        w.registry.update_config(F, {"memory_size": 256}, revision_id=None)
        await until(lambda: len(w.backend.live()) == 1, "the idle environment of the old pool stopped")
        assert w.backend.live() == [busy_proc]
        assert not busy.done()

        w.gate("busy").set()
        assert body_of(await busy) == {"gate": "busy"}  # the in-flight invoke completes
        await until(lambda: all(p.exited for p in old), "the busy environment stopped after its invoke")

        w.gate("new").set()
        result = await invoke(w, payload={"gate": "new"})
        assert body_of(result) == {"gate": "new"}
        assert len(w.backend.processes) == 3
        fresh = w.backend.processes[-1]
        assert fresh.spec.memory_mb == 256
        assert fresh.spec.env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "256"
        assert w.service.environment_count("f") == 1
        w.service.reap()  # drops the emptied retired pool
        assert w.service.environment_count("f") == 1

    run(world, body)


def test_code_update_is_picked_up_by_the_next_invoke(world: World) -> None:
    async def body(w: World) -> None:
        create(w, handler="app.v1")
        assert body_of(await invoke(w)) == {"v": 1}
        w.registry.update_config(F, {"handler": "app.v2"}, revision_id=None)
        await until(lambda: not w.backend.live(), "the old environment stopped")
        assert body_of(await invoke(w)) == {"v": 2}
        assert len(w.backend.processes) == 2

    run(world, body)


def test_change_outside_the_environment_keeps_it_warm(world: World) -> None:
    async def body(w: World) -> None:
        create(w)
        await invoke(w)
        w.registry.update_config(F, {"description": "new words"}, revision_id=None)
        w.registry.tag(F, {"team": "x"})
        await invoke(w)
        assert len(w.backend.processes) == 1

    run(world, body)


def test_log_format_change_reaches_new_invokes(world: World) -> None:
    async def body(w: World) -> None:
        create(w)
        await invoke(w)
        assert "AWS_LAMBDA_LOG_FORMAT" not in w.backend.processes[0].spec.env
        w.registry.update_config(F, {"log_format": "JSON"}, revision_id=None)
        before = {p.pid: len(p.handled) for p in w.backend.processes}
        await invoke(w)
        # The environment that ran the second invoke was built with the new configuration.
        ran = process_for(w, lambda p: len(p.handled) > before.get(p.pid, 0))
        assert ran.spec.env.get("AWS_LAMBDA_LOG_FORMAT") == "JSON"

    run(world, body)


def test_delete_function_stops_its_environments(world: World) -> None:
    async def body(w: World) -> None:
        create(w)
        create(w, "other")
        await invoke(w)
        await invoke(w, "other")
        w.registry.delete_function(F, None)
        await until(lambda: len(w.backend.live()) == 1, "the deleted function's environment stopped")
        assert w.service.environment_count("f") == 0
        assert w.service.environment_count("other") == 1
        with pytest.raises(ResourceNotFound):
            await invoke(w)

    run(world, body)


def test_spawn_failure_releases_the_lease(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    async def body(w: World) -> None:
        create(w)
        w.registry.put_reserved_concurrency(F, 1)
        real_spawn = w.backend.spawn

        async def no_fork(spec: SandboxSpec) -> FakeProcess:
            raise OSError("Resource temporarily unavailable")

        monkeypatch.setattr(w.backend, "spawn", no_fork)
        for _ in range(3):
            with pytest.raises(OSError):
                await invoke(w)
        assert w.service.limiter.in_use(F) == 0
        assert w.service.environment_count("f") == 0
        monkeypatch.setattr(w.backend, "spawn", real_spawn)
        assert body_of(await invoke(w, payload={"n": 1})) == {"echo": {"n": 1}}

    run(world, body)


def test_shutdown_ends_in_flight_invokes(world: World) -> None:
    async def main() -> None:
        started = asyncio.Event()
        runner = asyncio.create_task(world.service.run(started))
        await started.wait()
        create(world, handler="app.gated")
        call = asyncio.create_task(invoke(world, payload={"gate": "never"}))
        await until(lambda: world.entered == ["never"], "the invoke is running")
        runner.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await runner
        assert world.backend.live() == []
        result = await call
        assert result.error_type == "Runtime.ExitError"
        assert body_of(result)["errorMessage"].endswith("Runtime exited with error: signal: killed")
        assert world.service.limiter.total_in_use == 0

    asyncio.run(main())


# -- function faults -------------------------------------------------------------------------


def test_handler_error_is_unhandled(world: World) -> None:
    async def body(w: World) -> None:
        create(w, handler="app.fail")
        result = await invoke(w, payload={"n": 7})
        assert result.function_error == "Unhandled"
        error = body_of(result)
        assert error["errorType"] == "ValueError"
        assert error["errorMessage"] == "bad input 7"
        assert "[ERROR] ValueError: bad input 7" in result.log_tail
        # A handled error leaves the environment warm.
        await invoke(w, payload={"n": 8})
        assert len(w.backend.processes) == 1

    run(world, body)


@pytest.mark.parametrize(
    ("code", "description"),
    [(-11, "signal: segmentation fault"), (1, "exit status 1"), (-9, "signal: killed")],
)
def test_crash_mid_invoke(world: World, code: int, description: str) -> None:
    async def body(w: World) -> None:
        create(w, handler="app.crashing")
        assert body_of(await invoke(w)) == {"ok": True}
        result = await invoke(w, payload={"crash": code})
        first = w.backend.processes[0]
        request_id = first.handled[-1]
        assert result.function_error == "Unhandled"
        assert result.error_type == "Runtime.ExitError"
        assert body_of(result) == {
            "errorType": "Runtime.ExitError",
            "errorMessage": f"RequestId: {request_id} Error: Runtime exited with error: {description}",
        }
        assert "about to crash" in result.log_tail
        await until(lambda: first.exited, "the crashed environment is gone")
        assert w.service.environment_count("f") == 0

        assert body_of(await invoke(w)) == {"ok": True}
        assert len(w.backend.processes) == 2
        assert w.backend.processes[1] is not first

    run(world, body)


def test_init_failure(world: World) -> None:
    async def body(w: World) -> None:
        create(w, handler="missing.handler")
        result = await invoke(w)
        assert result.function_error == "Unhandled"
        error = body_of(result)
        assert error["errorType"] == "Runtime.ImportModuleError"
        assert error["errorMessage"] == "Unable to import module 'missing': No module named 'missing'"
        assert "Runtime.ImportModuleError" in result.log_tail
        assert w.backend.processes[0].handled == []
        assert (await w.backend.processes[0].wait()).returncode == 1
        # Every invoke retries the init in a new environment.
        again = await invoke(w)
        assert body_of(again)["errorType"] == "Runtime.ImportModuleError"
        assert len(w.backend.processes) == 2
        assert w.service.environment_count("f") == 0

    run(world, body)


def test_timeout_kills_the_environment(world: World) -> None:
    async def body(w: World) -> None:
        create(w, handler="app.forever", timeout=1)
        result = await invoke(w)
        assert result.function_error == "Unhandled"
        assert result.error_type == "Sandbox.Timedout"
        assert body_of(result)["errorMessage"].endswith("Task timed out after 1.00 seconds")
        await until(lambda: not w.backend.live(), "the timed-out environment was killed")
        assert (await w.backend.processes[0].wait()).returncode == -9

    run(world, body)


# -- aliases ---------------------------------------------------------------------------------


def test_alias_routing_uses_the_injected_draw(world: World) -> None:
    async def body(w: World) -> None:
        create(w, handler="app.v1")
        v1 = w.registry.publish_version(F, code_sha256=None, description="", revision_id=None)
        w.registry.update_config(F, {"handler": "app.v2"}, revision_id=None)
        v2 = w.registry.publish_version(F, code_sha256=None, description="", revision_id=None)
        assert (v1.version, v2.version) == ("1", "2")
        w.registry.create_alias(F, "live", "1", "", {"2": 0.3})

        w.draws.extend([0.0, 0.29, 0.3, 0.99, 0.1])
        results = [await invoke(w, qualifier="live") for _ in range(5)]
        assert [r.executed_version for r in results] == ["2", "2", "1", "1", "2"]
        assert [body_of(r)["v"] for r in results] == [2, 2, 1, 1, 2]
        assert w.draws == []
        # One warm environment per version.
        assert len(w.backend.processes) == 2
        assert sorted(p.spec.env["AWS_LAMBDA_FUNCTION_VERSION"] for p in w.backend.processes) == ["1", "2"]

        # A plain version or $LATEST draws nothing.
        assert (await invoke(w, qualifier="1")).executed_version == "1"
        assert (await invoke(w)).executed_version == "$LATEST"

    run(world, body)
