"""The leak/stress scenario, shared by `bench/stress.py` (full size) and `tests/e2e/test_leaks.py`
(small size): the functions, the mix of invokes, how a result is classified, and the checks for
what a stopped server must not leave behind.

Everything here looks at the host from outside the server: the process table, the cgroup tree,
the mount table, the data dir and the uid lock files.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.common import BIN, ROLE, Running, ensure_role, free_port, wait_http, zip_of

# Environments run as uids from this range (stratus/isolation/linux.py); read-only copies here,
# so the checks do not depend on the code they check.
UID_BASE = 200000
UID_END = 300000
UID_LOCKS = Path("/run/stratus/uids")
CGROUP_ROOT = Path("/sys/fs/cgroup")

# One source for every function; the event says what to do.
APP = """\
import ctypes
import os
import time
import uuid

ENV_ID = uuid.uuid4().hex


def handler(event, context):
    action = event.get("action", "ok")
    if action == "error":
        raise ValueError("stress: handler exception")
    if action == "exit":
        os._exit(1)
    if action == "segv":
        ctypes.string_at(0)
    if action == "sleep":
        time.sleep(event["seconds"])
    if action == "alloc":
        block = bytearray(event["mb"] * 1024 * 1024)
        for i in range(0, len(block), 4096):
            block[i] = 1
    return {"ok": True, "env": ENV_ID}
"""

# name -> extra CreateFunction parameters
FUNCTIONS: dict[str, dict[str, Any]] = {
    "stress-noop": {},
    "stress-faulty": {},  # handler exceptions, exits and segfaults
    "stress-slow": {"Timeout": 1},  # sleeps past its timeout
    "stress-hungry": {"MemorySize": 128},  # allocates past its memory limit
}

# kind -> (function, event) of an invoke that should end as that kind
FAILURES: dict[str, tuple[str, dict[str, Any]]] = {
    "error": ("stress-faulty", {"action": "error"}),
    "crash": ("stress-faulty", {"action": "exit"}),
    "segv": ("stress-faulty", {"action": "segv"}),
    "timeout": ("stress-slow", {"action": "sleep", "seconds": 2}),
    "oom": ("stress-hungry", {"action": "alloc", "mb": 300}),
}
# Normal invokes go mostly to the no-op function, and some to the others, so environments that
# survived (or replaced) failures serve normal work too.
NORMAL: list[tuple[str, dict[str, Any]]] = [
    ("stress-noop", {}),
    ("stress-noop", {}),
    ("stress-noop", {}),
    ("stress-noop", {}),
    ("stress-faulty", {}),
    ("stress-slow", {"action": "sleep", "seconds": 0.01}),
    ("stress-hungry", {"action": "alloc", "mb": 16}),
]

# kind -> weight (percent)
MIX_FULL = {"ok": 70, "error": 8, "crash": 6, "segv": 4, "timeout": 6, "oom": 6}
MIX_SMALL = {"ok": 74, "error": 8, "crash": 6, "segv": 4, "timeout": 2, "oom": 6}
KINDS = tuple(MIX_FULL)


@dataclass(frozen=True)
class Call:
    kind: str  # what it should end as
    function: str
    event: dict[str, Any]


def plan(n: int, mix: dict[str, int], seed: int) -> list[Call]:
    rng = random.Random(seed)
    kinds = rng.choices(list(mix), weights=list(mix.values()), k=n)
    calls = []
    for kind in kinds:
        function, event = rng.choice(NORMAL) if kind == "ok" else FAILURES[kind]
        calls.append(Call(kind, function, event))
    return calls


def deploy(lam: Any) -> None:
    ensure_role(lam, ROLE.rpartition("/")[2])
    code = zip_of({"app.py": APP})
    for name, extra in FUNCTIONS.items():
        lam.create_function(FunctionName=name, Runtime="python3.11", Role=ROLE, Handler="app.handler",
                            Code={"ZipFile": code}, **extra)
    for name in FUNCTIONS:
        lam.get_waiter("function_active_v2").wait(FunctionName=name, WaiterConfig={"Delay": 1})


# -- results -------------------------------------------------------------------------------------


def classify(function_error: str | None, payload: bytes) -> tuple[str, str]:
    """(kind, detail) of one invoke's result."""
    try:
        body = json.loads(payload) if payload else None
    except ValueError:
        return "unexpected", f"not JSON: {payload[:200]!r}"
    if not function_error:
        if isinstance(body, dict) and body.get("ok") is True:
            return "ok", str(body.get("env", ""))
        return "unexpected", f"success with {payload[:200]!r}"
    if not isinstance(body, dict):
        return "unexpected", f"{function_error} with {payload[:200]!r}"
    error_type = str(body.get("errorType", ""))
    message = str(body.get("errorMessage", ""))
    if error_type == "ValueError" and "stress: handler exception" in message:
        return "error", ""
    if error_type == "Runtime.ExitError" and message.endswith("exit status 1"):
        return "crash", ""
    if error_type == "Runtime.ExitError" and "segmentation fault" in message:
        return "segv", ""
    if error_type == "Sandbox.Timedout":
        return "timeout", ""
    if error_type == "Runtime.OutOfMemory":
        return "oom", ""
    return "unexpected", f"{error_type}: {message[:200]}"


@dataclass(frozen=True)
class Outcome:
    call: Call
    kind: str  # what it ended as; "exception" if the client raised
    detail: str
    ms: float


def invoke_one(lam: Any, call: Call) -> Outcome:
    t0 = time.perf_counter()
    try:
        resp = lam.invoke(FunctionName=call.function, Payload=json.dumps(call.event).encode())
        payload = resp["Payload"].read()
        kind, detail = classify(resp.get("FunctionError"), payload)
    except Exception as e:  # the client's error is the finding; the run goes on
        kind, detail = "exception", f"{type(e).__name__}: {str(e)[:200]}"
    return Outcome(call, kind, detail, (time.perf_counter() - t0) * 1000)


def drive(make_client: Callable[[], Any], calls: list[Call], concurrency: int,
          progress: Callable[[int], None] | None = None) -> list[Outcome]:
    """Run the calls from `concurrency` threads, each with its own client."""
    local = threading.local()
    create_lock = threading.Lock()  # creating boto3 clients is not thread-safe
    done = 0
    done_lock = threading.Lock()

    def run(call: Call) -> Outcome:
        nonlocal done
        lam = getattr(local, "lam", None)
        if lam is None:
            with create_lock:
                lam = local.lam = make_client()
        outcome = invoke_one(lam, call)
        if progress is not None:
            with done_lock:
                done += 1
                count = done
            progress(count)
        return outcome

    with ThreadPoolExecutor(concurrency) as pool:
        return list(pool.map(run, calls))


@dataclass
class Summary:
    outcomes: list[Outcome]
    seconds: float

    @property
    def expected(self) -> Counter[str]:
        return Counter(o.call.kind for o in self.outcomes)

    @property
    def actual(self) -> Counter[str]:
        return Counter(o.kind for o in self.outcomes)

    @property
    def mismatches(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.kind != o.call.kind]

    @property
    def exceptions(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.kind == "exception"]

    @property
    def environments_seen(self) -> int:
        return len({o.detail for o in self.outcomes if o.kind == "ok"})

    def lines(self) -> list[str]:
        n = len(self.outcomes)
        rate = n / self.seconds if self.seconds else 0.0
        out = [f"invokes: {n} in {self.seconds:.1f} s ({rate:.1f} invokes/s)"]
        expected, actual = self.expected, self.actual
        for kind in (*KINDS, "unexpected", "exception"):
            if expected[kind] or actual[kind]:
                matched = sum(1 for o in self.outcomes if o.call.kind == kind and o.kind == kind)
                out.append(f"  {kind:10s} expected {expected[kind]:6d}  got {actual[kind]:6d}  "
                           f"matched {matched:6d}")
        for kind in KINDS:
            ms = sorted(o.ms for o in self.outcomes if o.call.kind == kind and o.kind == kind)
            if ms:
                out.append(f"  latency {kind:10s} p50 {ms[len(ms) // 2]:8.1f} ms  "
                           f"p99 {ms[min(len(ms) - 1, int(0.99 * len(ms)))]:8.1f} ms")
        out.append(f"distinct environments that served a normal invoke: {self.environments_seen}")
        out.append(f"mismatches: {len(self.mismatches)} (client exceptions: {len(self.exceptions)})")
        by_kind = Counter((o.call.kind, o.kind, o.detail[:120]) for o in self.mismatches)
        for (want, got, detail), count in by_kind.most_common(10):
            out.append(f"  {count:5d} x expected {want}, got {got}: {detail}")
        return out


# -- the host's process table ---------------------------------------------------------------------


@dataclass(frozen=True)
class Proc:
    pid: int
    ppid: int
    uid: int
    start: int  # start time in clock ticks, so a reused pid is not the same process
    cmdline: str


def processes() -> dict[int, Proc]:
    table: dict[int, Proc] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        pid = int(entry.name)
        try:
            status = Path(f"/proc/{pid}/status").read_text()
            stat = Path(f"/proc/{pid}/stat").read_text()
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue  # gone meanwhile
        fields: dict[str, str] = {}
        for line in status.splitlines():
            key, _, value = line.partition(":")
            fields[key] = value.strip()
        try:
            ppid = int(fields["PPid"])
            uid = int(fields["Uid"].split()[0])
            start = int(stat.rsplit(")", 1)[1].split()[19])
        except (KeyError, ValueError, IndexError):
            continue
        text = cmdline.replace(b"\0", b" ").decode(errors="replace").strip()
        table[pid] = Proc(pid, ppid, uid, start, text)
    return table


def in_uid_range(uid: int) -> bool:
    return UID_BASE <= uid < UID_END


def descends_from(table: dict[int, Proc], pid: int, ancestor: int) -> bool:
    seen = set()
    while pid in table and pid not in seen:
        seen.add(pid)
        pid = table[pid].ppid
        if pid == ancestor:
            return True
    return False


def environment_pids(server_pid: int, table: dict[int, Proc] | None = None) -> list[int]:
    """Host pids of the server's environments: processes of an environment uid under the server."""
    table = processes() if table is None else table
    return sorted(p.pid for p in table.values()
                  if in_uid_range(p.uid) and descends_from(table, p.pid, server_pid))


def zygote_pids(server_pid: int, table: dict[int, Proc] | None = None) -> list[int]:
    table = processes() if table is None else table
    return sorted(p.pid for p in table.values() if p.ppid == server_pid and "stratus_zygote" in p.cmdline)


def blank_pids(server_pid: int, table: dict[int, Proc] | None = None) -> list[int]:
    """Environments forked ahead of time and not yet given a function: children of a zygote
    that still run as root (an environment takes its uid when it is assigned)."""
    table = processes() if table is None else table
    zygotes = set(zygote_pids(server_pid, table))
    return sorted(p.pid for p in table.values() if p.ppid in zygotes and not in_uid_range(p.uid))


def wait_for_no_environments(server_pid: int, timeout: float) -> tuple[float, int]:
    """Poll until the server has no environment processes left: (seconds waited, how many remain)."""
    t0 = time.monotonic()
    while True:
        left = len(environment_pids(server_pid))
        waited = time.monotonic() - t0
        if left == 0 or waited >= timeout:
            return waited, left
        time.sleep(0.25)


def wait_for_zygotes(server_pid: int, runtimes: int, timeout: float = 30) -> None:
    """The server starts one zygote per available runtime in the background; wait for them, so
    that what they hold is part of a baseline taken next."""
    deadline = time.monotonic() + timeout
    while len(zygote_pids(server_pid)) < runtimes and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(0.5)


def is_stratus_child(p: Proc) -> bool:
    """A zygote, a blank environment or an environment (by uid)."""
    return in_uid_range(p.uid) or "stratus_zygote" in p.cmdline


def baseline() -> set[tuple[int, int]]:
    """Zygotes and environments that exist before a server starts: never its leaks."""
    return {(p.pid, p.start) for p in processes().values() if is_stratus_child(p)}


# -- the live server's descriptors ---------------------------------------------------------------------


def server_fds(pid: int) -> Counter[str]:
    """The server's open descriptors by kind: file, pipe, socket, anon_inode, and `listen` for
    its listening TCP sockets (the API's and each environment's Runtime API)."""
    kinds: Counter[str] = Counter()
    sockets = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        kind = "file" if target.startswith("/") else target.split(":", 1)[0]
        kinds[kind] += 1
        if kind == "socket":
            sockets.add(target[len("socket:["):-1])
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            parts = line.split()
            if len(parts) > 9 and parts[3] == "0A" and parts[9] in sockets:
                kinds["listen"] += 1
    return kinds


def steady_fds(pid: int, quiet: float = 1.0, timeout: float = 15.0) -> Counter[str]:
    """The server's descriptors once they stop changing for `quiet` seconds: the server keeps
    blank environments ready in the background, and each holds a listener and two pipes."""
    deadline = time.monotonic() + timeout
    last, since = server_fds(pid), time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.1)
        now = server_fds(pid)
        if now != last:
            last, since = now, time.monotonic()
        elif time.monotonic() - since >= quiet:
            break
    return last


def fd_growth(before: Counter[str], after: Counter[str]) -> list[str]:
    """Descriptors a server holds after its environments are gone that it did not hold before
    they existed. Plain sockets are left out: those include the clients' kept-alive connections."""
    return [f"{kind}: {before[kind]} -> {after[kind]}" for kind in ("file", "pipe", "anon_inode", "listen")
            if after[kind] > before[kind]]


# -- leak checks --------------------------------------------------------------------------------------


@dataclass
class LeakReport:
    processes: list[str] = field(default_factory=list)
    cgroups: list[str] = field(default_factory=list)
    mounts: list[str] = field(default_factory=list)
    run_leftovers: list[str] = field(default_factory=list)  # what in run/ is a leak
    run_entries: list[str] = field(default_factory=list)  # everything left in run/
    code_temp: list[str] = field(default_factory=list)  # half-written uploads or extractions
    uid_lock_files: int = 0
    uid_locks_held_by_dead: list[str] = field(default_factory=list)
    settled_after: float = 0.0

    @property
    def leaks(self) -> list[str]:
        found = []
        for label, items in (
            ("process", self.processes), ("cgroup", self.cgroups), ("mount", self.mounts),
            ("run/ leftover", self.run_leftovers), ("code temp", self.code_temp),
            ("uid lock held by a dead process", self.uid_locks_held_by_dead),
        ):
            found += [f"{label}: {item}" for item in items]
        return found

    def lines(self) -> list[str]:
        def show(items: list[str]) -> str:
            return "none" if not items else f"{len(items)}: " + "; ".join(items[:10])

        return [
            f"(a) processes left (zygotes, environments of uid {UID_BASE}-{UID_END - 1}, in its "
            "cgroups or naming the data dir): "
            f"{show(self.processes)}",
            f"(b) cgroup dirs left: {show(self.cgroups)}",
            f"(c) mounts naming the data dir: {show(self.mounts)}",
            f"(d) run/ entries left: {', '.join(self.run_entries) or 'none'}; "
            f"leftover per-environment dirs: {show(self.run_leftovers)}; "
            f"code temp files: {show(self.code_temp)}",
            f"(e) {UID_LOCKS} files: {self.uid_lock_files}; "
            f"locks held by dead processes: {show(self.uid_locks_held_by_dead)}",
            f"leak checks settled after {self.settled_after:.2f} s",
        ]


def _in_cgroup_of(pid: int, server_pid: int) -> bool:
    """Whether the process is in one of the server's groups (paths as seen from the host)."""
    try:
        text = Path(f"/proc/{pid}/cgroup").read_text()
    except OSError:
        return False
    return f"/stratus/{server_pid}/" in text


def _leaked_processes(data_dir: Path, server_pid: int, before: set[tuple[int, int]]) -> list[str]:
    """Processes the stopped server left: any naming its data dir or in its cgroups, and any
    zygote, blank environment or environment (by uid) that is new since `before` and does not
    belong to another live server (say the test session's shared one)."""
    table = processes()
    me = os.getpid()
    needle = str(data_dir)
    others = {p.pid for p in table.values()
              if p.pid != me and "stratus" in p.cmdline and " serve " in f"{p.cmdline} "
              and needle not in p.cmdline}
    found = []
    for p in table.values():
        if p.pid == me or (p.pid, p.start) in before:
            continue
        ours = needle in p.cmdline or _in_cgroup_of(p.pid, server_pid)
        if is_stratus_child(p) and not any(descends_from(table, p.pid, o) for o in others):
            ours = True
        if ours:
            found.append(f"pid {p.pid} uid {p.uid} ppid {p.ppid}: {p.cmdline[:160]}")
    return found


def _leaked_cgroups(server_pid: int) -> list[str]:
    found: set[str] = set()
    for parent in [CGROUP_ROOT / "stratus" / str(server_pid),
                   *CGROUP_ROOT.glob(f"*/stratus/{server_pid}")]:
        if not parent.is_dir():
            continue
        real = parent.resolve()
        found.add(str(real))
        found.update(str(child) for child in real.iterdir() if child.is_dir())
    return sorted(found)


def _leaked_mounts(data_dir: Path) -> list[str]:
    needle = str(data_dir)
    return [line for line in Path("/proc/self/mountinfo").read_text().splitlines() if needle in line]


def _run_dir(data_dir: Path) -> tuple[list[str], list[str]]:
    """(every entry left in run/, the ones that are leaks). The template roots (root-<runtime>)
    are mount points of the zygotes' own namespaces: once those are gone they must be empty."""
    run = data_dir / "run"
    if not run.is_dir():
        return [], []
    entries, leaks = [], []
    for entry in sorted(run.iterdir()):
        entries.append(entry.name + ("/" if entry.is_dir() else ""))
        if entry.name.startswith("root-") and entry.is_dir():
            inside = sorted(p.name for p in entry.iterdir())
            if inside:
                leaks.append(f"{entry.name}/ not empty: {', '.join(inside[:10])}")
        elif entry.name == "tmp" and entry.is_dir():
            leaks += [f"tmp/{p.name}" for p in sorted(entry.iterdir())]
        else:
            leaks.append(entry.name)
    return entries, leaks


def _code_temp(data_dir: Path) -> list[str]:
    code = data_dir / "code"
    if not code.is_dir():
        return []
    return sorted(str(p.relative_to(data_dir)) for p in code.rglob(".*")
                  if p.name.startswith((".upload-", ".extract-")))


def _uid_locks(server_pid: int) -> tuple[int, list[str]]:
    """(lock files, flock locks on them whose holder is dead or is the stopped server)."""
    files: dict[str, str] = {}  # "major:minor:inode" as /proc/locks spells it -> uid
    try:
        for entry in os.scandir(UID_LOCKS):
            st = os.stat(entry.path)
            files[f"{os.major(st.st_dev):02x}:{os.minor(st.st_dev):02x}:{st.st_ino}"] = entry.name
    except FileNotFoundError:
        return 0, []
    dead = []
    for line in Path("/proc/locks").read_text().splitlines():
        # "1: FLOCK  ADVISORY  WRITE 1234 00:1a:5678 0 EOF"; blocked waiters ("1: -> FLOCK") hold none
        parts = line.split()
        if len(parts) < 6 or parts[1] != "FLOCK":
            continue
        try:
            pid = int(parts[4])
        except ValueError:
            continue
        uid = files.get(parts[5])
        if uid is not None and (pid == server_pid or not Path(f"/proc/{pid}").exists()):
            dead.append(f"uid {uid} by pid {pid}")
    return len(files), dead


def check_leaks(data_dir: Path, server_pid: int, before: set[tuple[int, int]],
                settle: float = 5.0) -> LeakReport:
    """What the stopped server left behind. Processes and cgroups get `settle` seconds to go
    (a SIGKILLed process is reaped asynchronously); the time it took is reported."""
    t0 = time.monotonic()
    while True:
        report = LeakReport(
            processes=_leaked_processes(data_dir, server_pid, before),
            cgroups=_leaked_cgroups(server_pid),
            mounts=_leaked_mounts(data_dir),
        )
        report.run_entries, report.run_leftovers = _run_dir(data_dir)
        report.code_temp = _code_temp(data_dir)
        report.uid_lock_files, report.uid_locks_held_by_dead = _uid_locks(server_pid)
        report.settled_after = time.monotonic() - t0
        if not report.leaks or report.settled_after >= settle:
            return report
        time.sleep(0.1)


# -- a server whose pid we know ---------------------------------------------------------------------


@dataclass
class OwnServer:
    running: Running
    proc: subprocess.Popen[bytes]
    log_path: Path
    keep_log: bool = False  # set to keep the log after the server's context ends

    @property
    def pid(self) -> int:
        return self.proc.pid

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self, timeout: float = 30) -> int:
        """SIGTERM and wait; a server that does not stop in time is killed and reported as -9."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            return -signal.SIGKILL


@contextmanager
def own_server(**env: str) -> Iterator[OwnServer]:
    """As bench.common.stratus_server, but the caller gets the process (for its pid and its exit
    code) and the log, and can stop the server itself to check what it left in the data dir;
    the data dir (and the log, unless `keep_log` is set) are removed when the context ends."""
    data_dir = Path(tempfile.mkdtemp(prefix="stratus-bench-"))
    port = free_port()
    running = Running(f"http://127.0.0.1:{port}", data_dir)
    log_path = Path(tempfile.mkstemp(prefix="stratus-bench-", suffix=".log")[1])
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [str(BIN / "stratus"), "serve", "--port", str(port), "--data-dir", str(data_dir)],
            stdout=log, stderr=subprocess.STDOUT, env={**running.env(), **env},
        )
    server = OwnServer(running, proc, log_path)
    try:
        wait_http(f"{running.endpoint}/_stratus/health")
        ensure_role(running.client("lambda"), ROLE.rpartition("/")[2])  # what CreateFunction checks
        yield server
    finally:
        if proc.poll() is None:
            server.stop()
        shutil.rmtree(data_dir, ignore_errors=True)
        if not server.keep_log:
            log_path.unlink(missing_ok=True)
