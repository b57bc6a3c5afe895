"""An environment holds exactly its own descriptors: stdin (/dev/null), stdout and stderr (one
pipe the platform reads), and its channel or Runtime API socket. Nothing of the server's (its
log file, its sockets), of a zygote's, or of the shell that launched the server.

The server here is started the way the attack run found the hole: its stdout is a log file that
holds the startup banner, and it inherits a stray descriptor of a "launching shell" (a canary
file). Each runtime family lists /proc/self/fd from inside a function and reports what every
entry is (its link text, and its inode); the Python probes also reopen each entry and read from
it. The test compares those inodes with every descriptor the server and its zygotes hold.
"""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from stratus.config import default_runtime_cache
from tests.e2e.conftest import ROLE, SECRET_KEY, Server, make_zip
from tests.e2e.test_java_runtime import API_SOURCES, compile_java, zip_dir

CANARY = "canary-of-the-launching-shell-" + uuid.uuid4().hex

# Lists the descriptors, then reopens each one and reads what it can without blocking.
PY_PROBE = r"""
import json, os

def probe(read=True):
    fds = {}
    for name in os.listdir("/proc/self/fd"):
        path = "/proc/self/fd/" + name
        try:
            target = os.readlink(path)
            st = os.stat(path)
        except OSError:
            continue  # the directory listing's own descriptor, closed by now
        entry = {"target": target, "ino": st.st_ino, "dev": st.st_dev, "mode": st.st_mode}
        if read:
            try:
                fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
                try:
                    entry["read"] = os.read(fd, 65536).decode(errors="replace")
                finally:
                    os.close(fd)
            except OSError as e:
                entry["read_error"] = e.errno
        fds[name] = entry
    return fds

def handler(event, context):
    return probe()
"""

NODE_PROBE = r"""
const fs = require("fs");
exports.handler = async () => {
  const fds = {};
  for (const name of fs.readdirSync("/proc/self/fd")) {
    const path = "/proc/self/fd/" + name;
    try {
      const st = fs.statSync(path);
      fds[name] = { target: fs.readlinkSync(path), ino: st.ino, dev: st.dev, mode: st.mode };
    } catch (e) {}
  }
  return fds;
};
"""

JAVA_PROBE = r"""
package probe;

import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.LinkedHashMap;
import java.util.Map;

public class Fds {
    public Map<String, Object> handle(Map<String, Object> input) {
        Map<String, Object> fds = new LinkedHashMap<>();
        String[] names = new File("/proc/self/fd").list();
        if (names == null) return fds;
        for (String name : names) {
            Path path = Paths.get("/proc/self/fd/" + name);
            try {
                Map<String, Object> entry = new LinkedHashMap<>();
                entry.put("target", Files.readSymbolicLink(path).toString());
                entry.put("ino", ((Number) Files.getAttribute(path, "unix:ino")).longValue());
                entry.put("dev", ((Number) Files.getAttribute(path, "unix:dev")).longValue());
                entry.put("mode", ((Number) Files.getAttribute(path, "unix:mode")).intValue());
                fds.put(name, entry);
            } catch (Exception e) {
                // the listing's own descriptor, closed by now
            }
        }
        return fds;
    }
}
"""

# A custom runtime's bootstrap, in Python: it lists its descriptors first thing, before it
# opens anything of its own, then serves every invoke with that listing.
BOOTSTRAP = (
    r"""#!/usr/bin/python3 -S
import http.client, json, os
"""
    + PY_PROBE.replace("def handler(event, context):\n    return probe()\n", "")
    + r"""
at_start = probe()
api = os.environ["AWS_LAMBDA_RUNTIME_API"]
while True:
    conn = http.client.HTTPConnection(api)
    conn.request("GET", "/2018-06-01/runtime/invocation/next")
    response = conn.getresponse()
    request_id = response.getheader("Lambda-Runtime-Aws-Request-Id")
    response.read()
    body = json.dumps(at_start).encode()
    conn.request("POST", f"/2018-06-01/runtime/invocation/{request_id}/response", body=body)
    conn.getresponse().read()
    conn.close()
"""
)

# Files a runtime may open: its root's own paths, and the runtime cache bound read-only into it
# (the Java client's jar lives there).
ALLOWED_FILE_PREFIXES = (
    "/usr/",
    "/var/task/",
    "/var/runtime/",
    "/opt/",
    "/proc/",
    "/tmp/",
    "/etc/",
    str(default_runtime_cache()) + "/",
)


@pytest.fixture(scope="module")
def leaky_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Path]]:
    """A server whose stdout is a log file and which inherited a stray descriptor."""
    base = tmp_path_factory.mktemp("fds")
    canary = base / "canary.txt"
    canary.write_text(CANARY)
    stray = os.open(canary, os.O_RDWR)
    try:
        srv = Server(base / "data", pass_fds=(stray,)).start()
    finally:
        os.close(stray)
    if "isolation:         linux" not in srv.output():
        srv.stop()
        pytest.skip("needs full isolation")
    yield srv, canary
    srv.stop()


def host_held_inodes(pid: int) -> dict[tuple[int, int], str]:
    """(dev, inode) -> link text of every descriptor held by `pid` and its descendants that are
    not environments (the server, its zygotes)."""
    pids = [pid]
    children = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split()
    pids += [int(c) for c in children if "stratus_zygote" in Path(f"/proc/{c}/cmdline").read_text()]
    held = {}
    for p in pids:
        fd_dir = Path(f"/proc/{p}/fd")
        for entry in fd_dir.iterdir():
            try:
                st = os.stat(entry)
                held[(st.st_dev, st.st_ino)] = os.readlink(entry)
            except OSError:
                continue
    return held


def check_descriptors(
    fds: dict[str, dict[str, Any]], server: Server, canary: Path, *, runtime_owns_extra: bool
) -> None:
    """The shared verdict: nothing the host holds, except the environment's own output pipe
    (whose read end the server keeps), is reachable from the environment."""
    assert fds["0"]["target"] == "/dev/null", fds
    assert fds["1"]["target"].startswith("pipe:") and fds["1"]["ino"] == fds["2"]["ino"], fds
    own_output = (fds["1"]["dev"], fds["1"]["ino"])
    held = host_held_inodes(server.proc.pid)  # type: ignore[union-attr]
    canary_st = os.stat(canary)
    log_st = os.stat(server.log_path)  # type: ignore[arg-type]
    for name, entry in fds.items():
        key = (entry["dev"], entry["ino"])
        assert key != (canary_st.st_dev, canary_st.st_ino), f"fd {name} is the launching shell's file"
        assert key != (log_st.st_dev, log_st.st_ino), f"fd {name} is the server's log"
        # Device nodes and anonymous inodes (epoll, eventfd) share one inode across processes;
        # those are judged by the exact sets below (Python, custom) rather than by inode.
        shared_inode = entry["target"] == "/dev/null" or entry["target"].startswith("anon_inode:")
        if key != own_output and not shared_inode:
            assert key not in held, f"fd {name} ({entry['target']}) is held by the server: {held[key]}"
        target = entry["target"]
        if target.startswith("/") and target != "/dev/null":
            assert target.startswith(ALLOWED_FILE_PREFIXES), f"fd {name} opens {target}"
        text = entry.get("read", "")
        for secret in (CANARY, SECRET_KEY, "serving on", "dashboard:"):
            assert secret not in text, f"fd {name} read {secret!r}"
    if not runtime_owns_extra:
        # Python's official client over the private channel: stdio and exactly one socket.
        extra = sorted(entry["target"].split(":")[0] for name, entry in fds.items() if int(name) > 2)
        assert extra == ["socket"], fds


def deploy(lam: Any, name: str, **kwargs: Any) -> dict[str, Any]:
    lam.create_function(FunctionName=name, Role=ROLE, **kwargs)
    lam.get_waiter("function_active_v2").wait(FunctionName=name)
    out = lam.invoke(FunctionName=name, Payload=b"{}")
    body = json.loads(out["Payload"].read())
    assert "FunctionError" not in out, body
    return body  # type: ignore[no-any-return]


def test_python_environment_holds_only_its_own_descriptors(leaky_server: tuple[Server, Path]) -> None:
    server, canary = leaky_server
    fds = deploy(
        server.client(),
        f"fds-py-{uuid.uuid4().hex[:8]}",
        Runtime="python3.11",
        Handler="app.handler",
        Code={"ZipFile": make_zip({"app.py": PY_PROBE})},
    )
    check_descriptors(fds, server, canary, runtime_owns_extra=False)


def test_snapstart_environment_holds_only_its_own_descriptors(leaky_server: tuple[Server, Path]) -> None:
    """Environments forked from a snapshot template: the template's and the other parked
    environments' descriptors stay out too."""
    server, canary = leaky_server
    lam = server.client()
    name = f"fds-snap-{uuid.uuid4().hex[:8]}"
    lam.create_function(
        FunctionName=name,
        Role=ROLE,
        Runtime="python3.11",
        Handler="app.handler",
        Code={"ZipFile": make_zip({"app.py": PY_PROBE})},
        SnapStart={"ApplyOn": "PublishedVersions"},
    )
    lam.get_waiter("function_active_v2").wait(FunctionName=name)
    version = lam.publish_version(FunctionName=name)["Version"]
    out = lam.invoke(FunctionName=name, Qualifier=version, Payload=b"{}")
    fds = json.loads(out["Payload"].read())
    assert "FunctionError" not in out, fds
    check_descriptors(fds, server, canary, runtime_owns_extra=False)


def test_node_environment_holds_only_its_own_descriptors(leaky_server: tuple[Server, Path]) -> None:
    server, canary = leaky_server
    fds = deploy(
        server.client(),
        f"fds-node-{uuid.uuid4().hex[:8]}",
        Runtime="nodejs20.x",
        Handler="index.handler",
        Code={"ZipFile": make_zip({"index.js": NODE_PROBE})},
    )
    check_descriptors(fds, server, canary, runtime_owns_extra=True)


def test_java_environment_holds_only_its_own_descriptors(
    leaky_server: tuple[Server, Path], tmp_path: Path
) -> None:
    server, canary = leaky_server
    classes = compile_java(tmp_path, {"probe/Fds.java": JAVA_PROBE}, [], extra=API_SOURCES)
    fds = deploy(
        server.client(),
        f"fds-java-{uuid.uuid4().hex[:8]}",
        Runtime="java17",
        Handler="probe.Fds::handle",
        Code={"ZipFile": zip_dir(classes)},
        MemorySize=512,
    )
    check_descriptors(fds, server, canary, runtime_owns_extra=True)


def test_custom_runtime_starts_with_stdio_only(leaky_server: tuple[Server, Path]) -> None:
    """A bootstrap's first look: fds 0-2 and nothing else, before it opens anything itself."""
    server, canary = leaky_server
    fds = deploy(
        server.client(),
        f"fds-custom-{uuid.uuid4().hex[:8]}",
        Runtime="provided.al2023",
        Handler="unused",
        Code={"ZipFile": make_zip({"bootstrap": BOOTSTRAP}, mode=0o755)},
    )
    assert sorted(fds, key=int) == ["0", "1", "2"], fds
    check_descriptors(fds, server, canary, runtime_owns_extra=True)


@pytest.mark.parametrize("settings", [{"STRATUS_FAST_CHANNEL": "0"}, {"STRATUS_ISOLATION": "process"}])
def test_other_paths_hold_only_their_own_descriptors(
    fresh_server: Any, tmp_path: Path, settings: dict[str, str]
) -> None:
    """The HTTP Runtime API path (no private channel) and the process backend."""
    canary = tmp_path / "canary.txt"
    canary.write_text(CANARY)
    stray = os.open(canary, os.O_RDWR)
    try:
        server = Server(tmp_path / "data", extra_env=settings, pass_fds=(stray,)).start()
    finally:
        os.close(stray)
    try:
        lam = server.client()
        for runtime, handler, files in (
            ("python3.11", "app.handler", {"app.py": PY_PROBE}),
            ("nodejs20.x", "index.handler", {"index.js": NODE_PROBE}),
        ):
            fds = deploy(
                lam,
                f"fds-{runtime[:4]}-{uuid.uuid4().hex[:8]}",
                Runtime=runtime,
                Handler=handler,
                Code={"ZipFile": make_zip(files)},
            )
            check_descriptors(fds, server, canary, runtime_owns_extra=True)
        fds = deploy(
            lam,
            f"fds-custom-{uuid.uuid4().hex[:8]}",
            Runtime="provided.al2023",
            Handler="unused",
            Code={"ZipFile": make_zip({"bootstrap": BOOTSTRAP}, mode=0o755)},
        )
        assert sorted(fds, key=int) == ["0", "1", "2"], fds
    finally:
        server.stop()


LIMITS_PROBE = """
def handler(event, context):
    with open("/proc/self/limits") as f:
        line = next(line for line in f if line.startswith("Max open files"))
    return line.split()[3:5]
"""


@pytest.mark.parametrize("settings", [{}, {"STRATUS_ISOLATION": "process"}])
def test_open_file_limit_is_lambdas(fresh_server: Any, settings: dict[str, str]) -> None:
    """The server raises its own open-file limit for client connections; environments get
    Lambda's 1,024 whatever the server has."""
    server = fresh_server(**settings)
    fds = deploy(
        server.client(),
        f"fds-limit-{uuid.uuid4().hex[:8]}",
        Runtime="python3.11",
        Handler="app.handler",
        Code={"ZipFile": make_zip({"app.py": LIMITS_PROBE})},
    )
    assert fds == ["1024", "1024"]
