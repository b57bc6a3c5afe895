"""Limits that protect the host and the neighbours, attacked from inside functions.

- Fork bombs in several environments at once: each environment may hold 1,024 processes, but
  all of an instance's environments together stay under its pids limit (STRATUS_MAX_PIDS), and
  all instances together under the shared `stratus` group's host-wide limit.
- A CPU hog: a 128 MB function running eight busy processes gets its CFS quota, not the cores.
- /tmp is memory-backed: filling it past the function's memory ends that invocation with
  Runtime.OutOfMemory (or ENOSPC), and nobody else notices.
"""

from __future__ import annotations

import contextlib
import errno
import os
import signal
import threading
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import pytest

from stratus.isolation.cgroups import CFS_PERIOD_US, cpu_quota_us, read_host_pids_limit
from tests.e2e.conftest import Server, runtime_names_in_tmp
from tests.e2e.test_invoke import deploy, invoke, ok, run_concurrently
from tests.e2e.test_isolation import cgroup_dirs, env_host_pid

BOMB_APP = r"""
import ctypes, os, signal, time

TOKEN = os.urandom(8).hex()  # one per environment: a later one may be given this one's uid


def handler(event, context):
    if event.get("warm"):
        return {"env": "%d:%d:%s" % (os.getuid(), os.getpid(), TOKEN)}
    released = []
    signal.signal(signal.SIGUSR1, lambda *_: released.append(1))  # sent by the test, from the host
    r, w = os.pipe()
    children, error = [], None
    while len(children) < event["limit"]:
        try:
            pid = os.fork()
        except OSError as e:
            error = e.errno
            break
        if pid == 0:
            os.close(w)
            os.read(r, 1)  # held until the parent closes its end
            os._exit(0)
        children.append(pid)
    # Tell the host (through this process's name) and hold every child until it releases us,
    # so that all bombs hold their children at the same time.
    ctypes.CDLL(None).prctl(15, b"held %d" % len(children), 0, 0, 0)  # PR_SET_NAME
    deadline = time.monotonic() + 120
    while not released and time.monotonic() < deadline:
        time.sleep(0.05)
    os.close(w)
    for pid in children:
        os.waitpid(pid, 0)
    return {"forked": len(children), "errno": error, "released": bool(released)}
"""


def linux_only(server: Server) -> None:
    if "isolation:         linux" not in server.output():
        pytest.skip("cgroup limits are part of full isolation")


def instance_pids_group(server: Server) -> Path:
    assert server.proc is not None
    for base in (Path("/sys/fs/cgroup/pids"), Path("/sys/fs/cgroup")):
        group = base / "stratus" / str(server.proc.pid)
        if (group / "pids.max").exists():
            return group
    raise AssertionError("no pids cgroup for the server instance")


def wait_until_held(pids: list[int], runner: threading.Thread) -> list[int]:
    """The counts the bombs report in their process names once they hold their children."""
    names: list[str] = []
    while runner.is_alive():  # an invoke that fails ends the wait
        names = [Path(f"/proc/{pid}/comm").read_text().strip() for pid in pids]
        if all(n.startswith("held ") for n in names):
            return [int(n.split()[1]) for n in names]
        time.sleep(0.1)
    raise AssertionError(f"the bombs ended before all held their children: {names}")


def test_fork_bombs_together_stay_under_the_instance_pids_limit(fresh_server: Any) -> None:
    limit, bombs = 300, 4
    server = fresh_server(STRATUS_MAX_PIDS=str(limit))
    linux_only(server)
    group = instance_pids_group(server)
    assert group.joinpath("pids.max").read_text().strip() == str(limit)
    # The shared parent of every instance carries the host-wide limit.
    shared = group.parent.joinpath("pids.max").read_text().strip()
    assert shared == str(read_host_pids_limit()), shared

    lam = server.client("lambda")
    names = [f"bomb{i}-{uuid.uuid4().hex[:6]}" for i in range(bombs)]
    envs = []
    for fn in names:
        deploy(lam, fn, {"app.py": BOMB_APP}, MemorySize=512, Timeout=150)
        envs.append(env_host_pid(ok(*invoke(lam, fn, {"warm": True}))["env"]))  # exists before any bomb

    index = iter(range(bombs))
    lock = threading.Lock()

    def bomb(client: Any) -> Any:
        with lock:
            fn = names[next(index)]
        return ok(*invoke(client, fn, {"limit": 1100}))

    results: list[Any] = []
    runner = threading.Thread(target=lambda: results.extend(run_concurrently(server, bombs, bomb)))
    runner.start()
    try:
        counted = wait_until_held(envs, runner)
        # Every bomb holds its children now: the instance's count is at most its limit.
        current = int(group.joinpath("pids.current").read_text())
    finally:
        for pid in envs:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGUSR1)
        runner.join(timeout=180)

    # The kernel checks forks against pids.max but not moves into a group: a blank environment
    # the server prepares (and moves in) while the bombs hold the group full may pass the limit
    # by one process each, at most the blanks it keeps (3 per Python runtime). Forks from inside
    # environments never pass it.
    slack = 3 * 3
    assert current <= limit + slack, current
    # All the children together (plus the environments themselves) fit in the limit, though
    # each environment's own group would have let it fork 1,023.
    assert sum(counted) + bombs <= limit, counted
    peak = group / "pids.peak"
    if peak.exists():
        assert int(peak.read_text()) <= limit + slack
    assert len(results) == bombs
    for result in results:
        assert not isinstance(result, BaseException), result
        assert result["errno"] == errno.EAGAIN and result["released"], result  # stopped by a limit

    # Once the bombs are over, the host and the server work: a new function starts and runs.
    with urllib.request.urlopen(f"{server.endpoint}/_stratus/health", timeout=10) as r:
        assert r.status == 200
    after = f"after-{uuid.uuid4().hex[:6]}"
    deploy(lam, after, {"app.py": BOMB_APP})
    assert ok(*invoke(lam, after, {"warm": True}))["env"]


HOG_APP = r'''
import os, resource, time

TOKEN = os.urandom(8).hex()  # one per environment


def handler(event, context):
    if event.get("warm"):
        return {"env": "%d:%d:%s" % (os.getuid(), os.getpid(), TOKEN)}
    start = time.monotonic()
    children = []
    for _ in range(event["procs"]):
        pid = os.fork()
        if pid == 0:
            end = time.monotonic() + event["seconds"]
            while time.monotonic() < end:
                pass
            os._exit(0)
        children.append(pid)
    for pid in children:
        os.waitpid(pid, 0)
    wall = time.monotonic() - start
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return {"cpu": usage.ru_utime + usage.ru_stime, "wall": wall}
'''


def cpu_stat(cpu_group: Path) -> dict[str, int]:
    pairs = (line.split() for line in cpu_group.joinpath("cpu.stat").read_text().splitlines())
    return {key: int(value) for key, value in pairs}


def test_cpu_hog_is_capped_by_its_quota(server: Server, lam: Any) -> None:
    linux_only(server)
    fn = f"hog-{uuid.uuid4().hex[:6]}"
    deploy(lam, fn, {"app.py": HOG_APP}, MemorySize=128, Timeout=60)
    env = ok(*invoke(lam, fn, {"warm": True}))["env"]
    cpu_group = cgroup_dirs(env_host_pid(env))["cpu"]
    quota_file = cpu_group / "cpu.cfs_quota_us"
    expected = cpu_quota_us(128)
    if quota_file.exists():
        assert int(quota_file.read_text()) == expected
    else:
        assert cpu_group.joinpath("cpu.max").read_text().split() == [str(expected), str(CFS_PERIOD_US)]
    before = cpu_stat(cpu_group)

    out = ok(*invoke(lam, fn, {"procs": 8, "seconds": 2}))
    quota = expected / CFS_PERIOD_US  # in CPUs
    # The kernel's own accounting of the children's CPU time over the wall time they ran:
    # eight busy processes uncapped would take every core (2.0 on two cores).
    assert out["cpu"] / out["wall"] <= quota * 1.5, (out, quota)
    after = cpu_stat(cpu_group)
    assert after["nr_throttled"] > before.get("nr_throttled", 0), (before, after)


def test_cpu_quota_follows_memory(server: Server, lam: Any) -> None:
    linux_only(server)
    fn = f"cpu1769-{uuid.uuid4().hex[:6]}"
    deploy(lam, fn, {"app.py": HOG_APP}, MemorySize=1769)
    cpu_group = cgroup_dirs(env_host_pid(ok(*invoke(lam, fn, {"warm": True}))["env"]))["cpu"]
    quota_file = cpu_group / "cpu.cfs_quota_us"
    text = quota_file.read_text() if quota_file.exists() else cpu_group.joinpath("cpu.max").read_text()
    assert int(text.split()[0]) == CFS_PERIOD_US  # one vCPU at 1,769 MB, as on Lambda


TMP_APP = r'''
import errno, os

INSTANCE = os.urandom(8).hex()  # uids are reused, and every environment is pid 1: this is not


def handler(event, context):
    if event.get("read"):
        return {"files": os.listdir("/tmp"), "env": INSTANCE}
    written = 0
    chunk = b"x" * (1 << 20)
    try:
        with open("/tmp/fill", "wb") as f:
            while written < event["mb"]:
                f.write(chunk)
                f.flush()
                written += 1
    except OSError as e:
        return {"written_mb": written, "errno": e.errno}
    return {"written_mb": written, "errno": None}
'''


def test_filling_tmp_past_memory_ends_only_that_invocation(server: Server, lam: Any) -> None:
    """/tmp is a tmpfs whose pages count against the function's memory (README: "/tmp")."""
    linux_only(server)
    fn = f"tmpfill-{uuid.uuid4().hex[:6]}"
    bystander = f"tmpby-{uuid.uuid4().hex[:6]}"
    deploy(lam, fn, {"app.py": TMP_APP}, MemorySize=128, Timeout=60, EphemeralStorage={"Size": 1024})
    deploy(lam, bystander, {"app.py": TMP_APP}, MemorySize=128)
    first = ok(*invoke(lam, fn, {"read": True}))["env"]
    neighbour = ok(*invoke(lam, bystander, {"read": True}))["env"]

    resp, payload = invoke(lam, fn, {"mb": 600})
    if resp.get("FunctionError"):
        assert payload["errorType"] == "Runtime.OutOfMemory", payload
    else:
        assert payload["errno"] == errno.ENOSPC and payload["written_mb"] < 128, payload

    # The neighbour's environment is untouched; the function's next invoke runs in a fresh
    # environment with an empty /tmp; the server is fine.
    assert ok(*invoke(lam, bystander, {"read": True}))["env"] == neighbour
    again = ok(*invoke(lam, fn, {"read": True}))
    # A checkout or runtime cache under the host's /tmp is bound back (read-only) into it.
    assert set(again["files"]) <= runtime_names_in_tmp() and again["env"] != first, again
    with urllib.request.urlopen(f"{server.endpoint}/_stratus/health", timeout=10) as r:
        assert r.status == 200



INIT_APP = r'''
import time

open("/tmp/in-init", "w").write("yes")
time.sleep(3)  # the init phase, long enough for the host to look at its cgroup


def handler(event, context):
    return {"ok": True}
'''


def init_group(instance_cpu: Path, deadline: float) -> Path:
    """The cpu cgroup of the environment whose init wrote its marker."""
    while time.monotonic() < deadline:
        for procs in instance_cpu.glob("*/cgroup.procs"):
            for pid in procs.read_text().split():
                with contextlib.suppress(OSError):
                    if Path(f"/proc/{pid}/root/tmp/in-init").exists():
                        return procs.parent
        time.sleep(0.05)
    raise AssertionError("no environment in its init phase was found")


def quota_of(cpu_group: Path) -> int:
    quota_file = cpu_group / "cpu.cfs_quota_us"
    text = quota_file.read_text() if quota_file.exists() else cpu_group.joinpath("cpu.max").read_text()
    return int(text.split()[0])


def test_init_gets_a_whole_vcpu_then_the_proportional_quota(server: Server, lam: Any) -> None:
    """As on Lambda, an on-demand init runs with a full vCPU; the invokes after it with the
    128 MB function's share (the floor, half a vCPU). Read from the host's cgroup files."""
    linux_only(server)
    instance_cpu = Path(f"/sys/fs/cgroup/cpu/stratus/{server.proc.pid}")  # type: ignore[union-attr]
    if not instance_cpu.exists():
        pytest.skip("needs the cgroup v1 cpu controller")
    fn = f"initcpu-{uuid.uuid4().hex[:6]}"
    deploy(lam, fn, {"app.py": INIT_APP}, MemorySize=128, Timeout=30)
    result: list[Any] = []
    caller = threading.Thread(target=lambda: result.append(invoke(lam, fn, {})))
    caller.start()
    try:
        group = init_group(instance_cpu, time.monotonic() + 20)
        during = quota_of(group)
    finally:
        caller.join(timeout=60)
    ok(*result[0])
    assert during == cpu_quota_us(128, initializing=True) == CFS_PERIOD_US  # a whole vCPU
    assert quota_of(group) == cpu_quota_us(128) == CFS_PERIOD_US // 2  # then the proportion
