"""End-to-end fixtures: the real `stratus serve` on a free port with a temporary data dir,
driven by real clients (boto3, the AWS CLI, HTTP)."""

from __future__ import annotations

import io
import os
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
import urllib.request
import uuid
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from stratus.identity.environments import LAMBDA_TRUST

ACCESS_KEY = "AKSTTESTKEY000000001"
SECRET_KEY = "test-secret-key-0123456789abcdefghijklmn"
REGION = "us-east-1"
ROLE = "arn:aws:iam::000000000000:role/test-role"
STRATUS = str(Path(sys.executable).parent / "stratus")
AWS_V2 = "/usr/bin/aws"  # Debian's AWS CLI version 2; `make test` installs it (Makefile: test-tools)


def runtime_names_in_tmp() -> set[str]:
    """Top-level names that Stratus binds back (read-only) into every environment's /tmp: its own
    runtime files, when they live under the host's /tmp (a checkout or runtime cache there)."""
    import stratus
    from stratus.config import default_runtime_cache

    names = set()
    for path in (Path(stratus.__file__).resolve(), default_runtime_cache().resolve()):
        if path.parts[:2] == ("/", "tmp") and len(path.parts) > 2:
            names.add(path.parts[2])
    return names


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    data_dir: Path
    port: int = field(default_factory=free_port)
    extra_env: dict[str, str] = field(default_factory=dict)
    host: str = "127.0.0.1"  # where it listens; tests reach it on 127.0.0.1 either way
    proc: subprocess.Popen[bytes] | None = None
    log_path: Path | None = None
    # Descriptors the server inherits, as strays from a launching shell would be.
    pass_fds: tuple[int, ...] = ()

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            STRATUS_ACCESS_KEY_ID=ACCESS_KEY,
            STRATUS_SECRET_ACCESS_KEY=SECRET_KEY,
            **self.extra_env,
        )
        return env

    def start(self) -> Server:
        self.log_path = self.data_dir.parent / f"server-{self.port}-{uuid.uuid4().hex[:6]}.log"
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                [
                    STRATUS,
                    "serve",
                    "--host",
                    self.host,
                    "--port",
                    str(self.port),
                    "--data-dir",
                    str(self.data_dir),
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=self.env(),
                pass_fds=self.pass_fds,
            )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited early:\n{self.output()}")
            try:
                with urllib.request.urlopen(f"{self.endpoint}/_stratus/health", timeout=1) as r:
                    if r.status == 200:
                        self.ensure_role()
                        return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"server did not start:\n{self.output()}")

    def ensure_role(self, name: str = ROLE.rpartition("/")[2]) -> None:
        """The execution role the tests' functions name (ROLE), trusting Lambda, as CreateFunction
        requires with IAM on; kept across restarts of the same data dir. Only for a server
        that takes the test keys (not one that generates its own)."""
        if self.env().get("STRATUS_ACCESS_KEY_ID") != ACCESS_KEY:
            return
        iam = self.client("iam")
        try:
            iam.create_role(RoleName=name, AssumeRolePolicyDocument=LAMBDA_TRUST)
        except ClientError as e:
            if e.response["Error"]["Code"] != "EntityAlreadyExists":
                raise

    def output(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path else ""

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20) -> int:
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        code = self.proc.wait(timeout=timeout)
        return code

    def client(self, service: str = "lambda", **config: Any) -> Any:
        return boto3.client(
            service,
            endpoint_url=self.endpoint,
            region_name=REGION,
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET_KEY,
            config=Config(retries={"max_attempts": 1}, read_timeout=120, **config),
        )

    @staticmethod
    def aws_env() -> dict[str, str]:
        """The environment in which an AWS CLI signs for this server, without retries or pager."""
        env = dict(os.environ)
        env.update(
            AWS_ACCESS_KEY_ID=ACCESS_KEY,
            AWS_SECRET_ACCESS_KEY=SECRET_KEY,
            AWS_DEFAULT_REGION=REGION,
            AWS_MAX_ATTEMPTS="1",
            AWS_PAGER="",
        )
        return env

    def aws(self, *args: str, check: bool = True, cli: str | None = None) -> subprocess.CompletedProcess[str]:
        """Run the real AWS CLI against this server: the venv's version 1, or `cli` (such as
        Debian's version 2, AWS_V2)."""
        env = self.aws_env()
        aws = cli or str(Path(sys.executable).parent / "aws")
        return subprocess.run(
            [aws, "--endpoint-url", self.endpoint, *args],
            capture_output=True,
            text=True,
            env=env,
            check=check,
            timeout=120,
        )

    def cli(
        self, *args: str, input: str | None = None, check: bool = False
    ) -> subprocess.CompletedProcess[str]:
        """Run the `stratus` CLI against this server."""
        env = self.env()
        env["STRATUS_ENDPOINT"] = self.endpoint
        return subprocess.run(
            [STRATUS, *args],
            capture_output=True,
            text=True,
            env=env,
            input=input,
            check=check,
            timeout=120,
        )


def make_zip(files: dict[str, str | bytes], *, mode: int = 0o644) -> bytes:
    """A zip of {path: source}; sources are dedented."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, content in files.items():
            info = zipfile.ZipInfo(name, (2024, 1, 1, 0, 0, 0))
            info.external_attr = mode << 16
            data = textwrap.dedent(content).encode() if isinstance(content, str) else content
            zf.writestr(info, data)
    return buf.getvalue()


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One server shared by the tests that need no special settings."""
    srv = Server(tmp_path_factory.mktemp("stratus") / "data").start()
    yield srv
    srv.stop()


@pytest.fixture
def fresh_server(tmp_path: Path) -> Iterator[Any]:
    """A factory for servers of a test's own, with extra environment settings."""
    started: list[Server] = []

    def start(**env: str) -> Server:
        srv = Server(tmp_path / f"data{len(started)}", extra_env=env).start()
        started.append(srv)
        return srv

    yield start
    for srv in started:
        if srv.proc and srv.proc.poll() is None:
            srv.stop(signal.SIGKILL)
    shutil.rmtree(tmp_path, ignore_errors=True)


@pytest.fixture
def lam(server: Server) -> Any:
    return server.client("lambda")


@pytest.fixture(scope="module")
def mlam(server: Server) -> Any:
    """A Lambda client for a module's own module-scoped fixtures."""
    return server.client("lambda")


@pytest.fixture
def fn_name() -> str:
    return f"fn-{uuid.uuid4().hex[:10]}"


def create(lam: Any, name: str, files: dict[str, str | bytes], **kwargs: Any) -> dict[str, Any]:
    params: dict[str, Any] = {
        "FunctionName": name,
        "Runtime": "python3.11",
        "Role": ROLE,
        "Handler": "app.handler",
        "Code": {"ZipFile": make_zip(files)},
    }
    params.update(kwargs)
    return lam.create_function(**params)  # type: ignore[no-any-return]


def allow_api_gateway(lam: Any, name: str, qualifier: str | None = None) -> None:
    """The statement that lets API Gateway (any HTTP API of the account) invoke a function, as
    an HTTP API's integration needs on AWS (`aws lambda add-permission --principal
    apigateway.amazonaws.com`)."""
    lam.add_permission(
        FunctionName=name,
        StatementId=f"apigateway-{qualifier or 'function'}",
        Action="lambda:InvokeFunction",
        Principal="apigateway.amazonaws.com",
        SourceArn=f"arn:aws:execute-api:{REGION}:000000000000:*",
        **({"Qualifier": qualifier} if qualifier else {}),
    )


def error_code(err: pytest.ExceptionInfo[ClientError]) -> str:
    """The AWS error code of a refused boto3 call."""
    return str(err.value.response["Error"]["Code"])


# -- "the outside world": a host in a network namespace of the test run's own ------------------
#
# Environments have a network namespace each, from which the host's own addresses (its loopback
# included) are unreachable by design. A test server that functions must reach (a collector of
# what they report, an HTTP service standing in for the internet) therefore listens in a
# namespace the test run makes, behind a veth from the host, at a TEST-NET-3 address. Nothing
# leaves the machine. The sockets are created inside that namespace from a helper thread and
# served by the test process as usual.


def _outside_subnet() -> int:
    """The first address of a /30 in TEST-NET-3 no other test run on this machine holds: two
    runs at once (a CI run beside a developer's, or xdist workers) would otherwise both route
    the same subnet, and one run's functions would reach the other's outside world."""
    try:
        held = subprocess.run(
            ["ip", "-o", "-4", "addr", "show"], capture_output=True, text=True, timeout=10
        ).stdout
    except (OSError, subprocess.SubprocessError):
        held = ""
    start = os.getpid() % 64
    for k in range(64):
        base = ((start + k) % 64) * 4
        if f" 203.0.113.{base + 1}/30 " not in held:
            return base
    return start * 4


_SUBNET = _outside_subnet()
OUTSIDE_HOST = f"203.0.113.{_SUBNET + 2}"
OUTSIDE_GATEWAY = f"203.0.113.{_SUBNET + 1}"
CLONE_NEWNET = 0x40000000


@dataclass
class OutsideWorld:
    namespace: str
    netns_fd: int

    def listen(self, port: int = 0) -> socket.socket:
        """A TCP socket listening on OUTSIDE_HOST:port, inside the outside world's namespace."""
        made: list[socket.socket | BaseException] = []

        def inside() -> None:
            import ctypes

            libc = ctypes.CDLL(None, use_errno=True)
            if libc.setns(self.netns_fd, CLONE_NEWNET) != 0:
                made.append(OSError(ctypes.get_errno(), "cannot enter the outside world's namespace"))
                return
            try:  # this thread never returns to the host's namespace: it ends here
                sock = socket.socket()
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                sock.bind((OUTSIDE_HOST, port))
                sock.listen(128)
                made.append(sock)
            except OSError as e:
                made.append(e)

        thread = threading.Thread(target=inside)
        thread.start()
        thread.join()
        if isinstance(made[0], BaseException):
            raise made[0]
        return made[0]


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, timeout=30)


@pytest.fixture(scope="session")
def outside_world() -> Iterator[OutsideWorld]:
    if os.geteuid() != 0 or shutil.which("ip") is None:
        pytest.skip("the outside world needs root and iproute2")
    tag = uuid.uuid4().hex[:6]
    namespace, host_if = f"stratus-test-{tag}", f"stout{tag}"
    _ip("netns", "add", namespace)
    try:
        _ip("link", "add", host_if, "type", "veth", "peer", "name", "eth0", "netns", namespace)
        _ip("addr", "add", f"{OUTSIDE_GATEWAY}/30", "dev", host_if)
        _ip("link", "set", host_if, "up")
        _ip("-n", namespace, "addr", "add", f"{OUTSIDE_HOST}/30", "dev", "eth0")
        _ip("-n", namespace, "link", "set", "eth0", "up")
        _ip("-n", namespace, "link", "set", "lo", "up")
        fd = os.open(f"/run/netns/{namespace}", os.O_RDONLY)
        try:
            yield OutsideWorld(namespace, fd)
        finally:
            os.close(fd)
    finally:
        subprocess.run(["ip", "link", "del", host_if], capture_output=True, timeout=30)
        subprocess.run(["ip", "netns", "del", namespace], capture_output=True, timeout=30)


@pytest.fixture
def start_dev(server: Server, tmp_path: Path) -> Iterator[Any]:
    """Starts `stratus dev` with the arguments given (tests/e2e/devtools.py `Dev`); each is
    killed at the end if still running."""
    from tests.e2e.devtools import Dev

    started: list[Dev] = []

    def start(*args: str) -> Dev:
        dev = Dev(server, list(args), tmp_path / f"dev-{len(started)}.log")
        started.append(dev)
        return dev

    yield start
    for dev in started:
        dev.kill()


@pytest.fixture
def dap_clients() -> Iterator[list[Any]]:
    """Where a test puts its DAP clients (tests/e2e/devtools.py `Dap`), closed at the end."""
    clients: list[Any] = []
    yield clients
    for client in clients:
        client.close()
