"""Every environment has a network namespace of its own: egress to the outside world (NATed
through a veth), the Stratus endpoint at the server's own address, and nothing of the host's
loopback, the host's other addresses, its sockets, or any other environment.

"The outside world" is a host in a network namespace this test makes, at a TEST-NET-3
address (conftest.OUTSIDE_HOST), routed from the host through a veth of its own; nothing leaves the machine.
"""

from __future__ import annotations

import json
import socket
import subprocess
import threading
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.conftest import (
    ACCESS_KEY,
    OUTSIDE_GATEWAY,
    OUTSIDE_HOST,
    REGION,
    SECRET_KEY,
    OutsideWorld,
    Server,
    create,
)

OUTSIDE_PORT = 8080

PROBE = r"""
import json, os, socket, threading, urllib.request

def connect(host, port, timeout=1.5):
    try:
        with socket.create_connection((host, port), timeout=timeout) as s:
            s.sendall(b"GET / HTTP/1.0\r\n\r\n")
            return {"ok": True, "got": s.recv(200).decode(errors="replace")}
    except OSError as e:
        return {"ok": False, "error": repr(e)}

def listen_forever(port):
    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("0.0.0.0", port))
    server.listen()
    def serve():
        while True:
            conn, _ = server.accept()
            conn.sendall(b"hello from an environment")
            conn.close()
    threading.Thread(target=serve, daemon=True).start()

def my_address():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("203.0.113.2", 9))
            return s.getsockname()[0]
        except OSError:
            return None

def gateway():  # the host's side of this environment's veth: its default route
    with open("/proc/net/route") as f:
        for line in f.readlines()[1:]:
            fields = line.split()
            if fields[1] == "00000000":
                return socket.inet_ntoa(bytes.fromhex(fields[2])[::-1])
    return "0.0.0.0"

def handler(event, context):
    action = event["action"]
    if action == "connect":  # at once: a dropped packet costs the whole timeout
        from concurrent.futures import ThreadPoolExecutor
        with ThreadPoolExecutor(16) as pool:
            return list(pool.map(lambda t: connect(gateway() if t[0] == "gateway" else t[0], t[1]),
                                 event["targets"]))
    if action == "listen":
        listen_forever(event["port"])
        return {"address": my_address()}
    if action == "http":
        try:
            with urllib.request.urlopen(event["url"], timeout=5) as r:
                return {"status": r.status, "body": r.read().decode()}
        except Exception as e:
            return {"error": repr(e)}
    if action == "look":
        with open("/proc/net/tcp") as f:
            tcp = f.read()
        with open("/proc/net/unix") as f:
            unix = f.read()
        with open("/proc/net/dev") as f:
            interfaces = sorted(line.split(":")[0].strip() for line in f.readlines()[2:])
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            s.connect("\0" + event["abstract"])
            abstract = "connected"
        except OSError as e:
            abstract = repr(e)
        return {"tcp": tcp, "unix": unix, "interfaces": interfaces, "abstract": abstract}
    if action == "stratus":
        import boto3
        lam = boto3.client("lambda", endpoint_url=event["endpoint"], region_name=event["region"],
                           aws_access_key_id=event["key"], aws_secret_access_key=event["secret"])
        return lam.get_function(FunctionName=event["name"])["Configuration"]["FunctionName"]
    raise ValueError(action)
"""

@pytest.fixture(scope="module")
def outside(outside_world: OutsideWorld) -> Iterator[str]:
    """An HTTP service on "the internet" that tells each client the address it came from."""
    listener = outside_world.listen(OUTSIDE_PORT)

    def serve() -> None:
        while True:
            try:
                conn, peer = listener.accept()
            except OSError:
                return
            with conn:
                conn.recv(4096)
                body = f"seen from {peer[0]}".encode()
                conn.sendall(b"HTTP/1.0 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))

    threading.Thread(target=serve, daemon=True).start()
    yield f"http://{OUTSIDE_HOST}:{OUTSIDE_PORT}/"
    listener.close()


@pytest.fixture(scope="module")
def probe(server: Server, mlam: Any) -> str:
    if "isolation:         linux" not in server.output():
        pytest.skip("needs full isolation")
    name = f"net-probe-{uuid.uuid4().hex[:8]}"
    create(mlam, name, {"app.py": PROBE}, Timeout=30)
    return name


def call(lam: Any, name: str, event: dict[str, Any]) -> Any:
    out = lam.invoke(FunctionName=name, Payload=json.dumps(event))
    body = json.loads(out["Payload"].read())
    assert "FunctionError" not in out, body
    return body


def host_addresses() -> list[str]:
    """Every IPv4 address of the host (its own namespace), loopback excluded."""
    out = subprocess.run(["ip", "-4", "-o", "addr", "show"], capture_output=True, text=True).stdout
    addresses = [line.split()[3].split("/")[0] for line in out.splitlines()]
    # Other environments' veths (198.18.0.0/15) are the host too, but one of them stands for all:
    # the function's own gateway, which the probe adds.
    return [a for a in addresses if not a.startswith(("127.", "198.18.", "198.19."))]


class HostService:
    """A TCP service on the host that counts who connects to it."""

    def __init__(self, address: str) -> None:
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((address, 0))
        self.sock.listen()
        self.port = self.sock.getsockname()[1]
        self.accepted = 0
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted += 1
            conn.sendall(b"host secret service")
            conn.close()

    def close(self) -> None:
        self.sock.close()


def test_egress_to_the_outside_world_is_nated(lam: Any, probe: str, outside: str) -> None:
    out = call(lam, probe, {"action": "http", "url": outside})
    assert out.get("status") == 200, out
    # The outside host sees the host's address on its link, not the environment's own.
    assert out["body"] == f"seen from {OUTSIDE_GATEWAY}", out


def test_host_loopback_and_host_addresses_are_unreachable(lam: Any, probe: str) -> None:
    loopback = HostService("127.0.0.1")
    anywhere = HostService("0.0.0.0")
    try:
        targets = [["127.0.0.1", loopback.port], ["127.0.0.1", anywhere.port]]
        targets += [[address, anywhere.port] for address in host_addresses()]
        targets += [["gateway", anywhere.port], ["gateway", loopback.port]]
        results = call(lam, probe, {"action": "connect", "targets": targets})
        reached = [t for t, r in zip(targets, results, strict=True) if r["ok"]]
        assert reached == [], (reached, results)
        assert loopback.accepted == 0 and anywhere.accepted == 0
        # The same service is there for a host client: the refusals above are the isolation.
        with socket.create_connection(("127.0.0.1", anywhere.port), timeout=5) as s:
            assert s.recv(100) == b"host secret service"
    finally:
        loopback.close()
        anywhere.close()


def test_host_sockets_are_invisible(lam: Any, probe: str) -> None:
    service = HostService("127.0.0.1")
    abstract_name = f"stratus-test-{uuid.uuid4().hex}"
    abstract = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    abstract.bind("\0" + abstract_name)
    abstract.listen()
    try:
        out = call(lam, probe, {"action": "look", "abstract": abstract_name})
        assert f":{service.port:04X} " not in out["tcp"], out["tcp"]
        assert abstract_name not in out["unix"]
        assert out["abstract"] != "connected", out
        assert out["interfaces"] == ["eth0", "lo"], out
    finally:
        service.close()
        abstract.close()


def test_a_function_listening_is_not_exposed_on_the_host(lam: Any, probe: str) -> None:
    port = 47123
    call(lam, probe, {"action": "listen", "port": port})
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=2).close()


def test_environments_cannot_reach_each_other(server: Server, lam: Any, probe: str) -> None:
    victim = f"net-victim-{uuid.uuid4().hex[:8]}"
    create(lam, victim, {"app.py": PROBE}, Timeout=30)
    port = 47555
    address = call(lam, victim, {"action": "listen", "port": port})["address"]
    assert address and address.startswith("198.1"), address
    # The victim's listener is real: the victim reaches it on its own address...
    own = call(lam, victim, {"action": "connect", "targets": [[address, port]]})
    assert own[0]["ok"] and "hello from an environment" in own[0]["got"], own
    # ...another function's environment does not, nor the victim's gateway side.
    gateway = address.rsplit(".", 1)[0] + "." + str(int(address.rsplit(".", 1)[1]) - 1)
    results = call(lam, probe, {"action": "connect", "targets": [[address, port], [gateway, port]]})
    assert not any(r["ok"] for r in results), results


def test_the_stratus_endpoint_is_reachable_from_a_function(server: Server, lam: Any, probe: str) -> None:
    port = int(server.endpoint.rsplit(":", 1)[1])
    health = call(lam, probe, {"action": "http", "url": f"http://127.0.0.1:{port}/_stratus/health"})
    assert health.get("status") == 200, health
    seen = call(
        lam,
        probe,
        {
            "action": "stratus",
            "endpoint": f"http://127.0.0.1:{port}",
            "region": REGION,
            "key": ACCESS_KEY,
            "secret": SECRET_KEY,
            "name": probe,
        },
    )
    assert seen == probe  # a signed GetFunction from inside the function, answered by Stratus


def test_network_none_reaches_neither_outside_nor_stratus(server: Server, lam: Any, outside: str) -> None:
    if "isolation:         linux" not in server.output():
        pytest.skip("needs full isolation")
    name = f"net-none-{uuid.uuid4().hex[:8]}"
    create(lam, name, {"app.py": PROBE}, Timeout=30, Tags={"stratus:network": "none"})
    port = int(server.endpoint.rsplit(":", 1)[1])
    results = call(
        lam, name, {"action": "connect", "targets": [[OUTSIDE_HOST, OUTSIDE_PORT], ["127.0.0.1", port]]}
    )
    assert not any(r["ok"] for r in results), results


NODE_INTERFACES = """
const fs = require("fs");
exports.handler = async () => fs.readFileSync("/proc/net/dev", "utf8").split("\\n").slice(2)
  .filter((line) => line.includes(":")).map((line) => line.split(":")[0].trim()).sort();
"""


def test_network_none_serves_runtimes_that_speak_http(server: Server, lam: Any) -> None:
    """The Runtime API lives inside the namespace, so Node (HTTP, no private channel) runs with
    no network at all."""
    if "isolation:         linux" not in server.output():
        pytest.skip("needs full isolation")
    name = f"net-none-node-{uuid.uuid4().hex[:8]}"
    create(
        lam,
        name,
        {"index.js": NODE_INTERFACES},
        Runtime="nodejs20.x",
        Handler="index.handler",
        Tags={"stratus:network": "none"},
    )
    assert call(lam, name, {}) == ["lo"]
