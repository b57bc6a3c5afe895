"""The per-function network option: `stratus:network=none` gives an environment a network
namespace with no interfaces; the default shares the host's network, as Lambda functions have."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.e2e.conftest import Server, create

APP = """
import socket

def handler(event, context):
    with open("/proc/net/dev") as f:
        interfaces = sorted(line.split(":")[0].strip() for line in f.readlines()[2:])
    try:
        s = socket.create_connection(("127.0.0.1", event["port"]), timeout=2)
        s.close()
        reached = True
    except OSError as e:
        reached = str(e)
    return {"interfaces": interfaces, "reached": reached}
"""


def test_network_none_has_no_interfaces(server: Server, lam: Any) -> None:
    if "isolation:         linux" not in server.output():
        pytest.skip("needs full isolation")
    port = int(server.endpoint.rsplit(":", 1)[1])
    isolated = f"net-none-{uuid.uuid4().hex[:8]}"
    create(lam, isolated, {"app.py": APP}, Tags={"stratus:network": "none"})
    out = json.loads(lam.invoke(FunctionName=isolated, Payload=json.dumps({"port": port}))["Payload"].read())
    assert out["interfaces"] == ["lo"], out
    assert out["reached"] is not True, out  # not even the host's loopback

    shared = f"net-default-{uuid.uuid4().hex[:8]}"
    create(lam, shared, {"app.py": APP})
    out = json.loads(lam.invoke(FunctionName=shared, Payload=json.dumps({"port": port}))["Payload"].read())
    assert out["reached"] is True, out


def test_network_tag_changes_and_bad_values(server: Server, lam: Any) -> None:
    if "isolation:         linux" not in server.output():
        pytest.skip("needs full isolation")
    port = int(server.endpoint.rsplit(":", 1)[1])
    name = f"net-tag-{uuid.uuid4().hex[:8]}"
    arn = create(lam, name, {"app.py": APP})["FunctionArn"]
    payload = json.dumps({"port": port})
    assert json.loads(lam.invoke(FunctionName=name, Payload=payload)["Payload"].read())["reached"] is True
    lam.tag_resource(Resource=arn, Tags={"stratus:network": "none"})
    out = json.loads(lam.invoke(FunctionName=name, Payload=payload)["Payload"].read())
    assert out["reached"] is not True, out  # the tag retired the old environment
    with pytest.raises(ClientError) as err:
        lam.tag_resource(Resource=arn, Tags={"stratus:network": "bridge"})
    assert err.value.response["Error"]["Code"] == "InvalidParameterValueException"
    lam.untag_resource(Resource=arn, TagKeys=["stratus:network"])
    assert json.loads(lam.invoke(FunctionName=name, Payload=payload)["Payload"].read())["reached"] is True


LOOPBACK_APP = """
import socket

def handler(event, context):
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    client = socket.create_connection(server.getsockname(), timeout=2)
    conn, _ = server.accept()
    client.sendall(b"ping")
    return {"got": conn.recv(4).decode()}
"""


def test_network_none_keeps_loopback_for_the_function_itself(server: Server, lam: Any) -> None:
    if "isolation:         linux" not in server.output():
        pytest.skip("needs full isolation")
    name = f"net-lo-{uuid.uuid4().hex[:8]}"
    create(lam, name, {"app.py": LOOPBACK_APP}, Tags={"stratus:network": "none"})
    out = json.loads(lam.invoke(FunctionName=name)["Payload"].read())
    assert out == {"got": "ping"}, out
