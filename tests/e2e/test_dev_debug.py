"""`stratus dev --debug` (issue 20): while the dev loop runs, every invocation of the watched
function, whoever sends it, waits on the session's printed port for a debugger; a DAP client
attaches there as VS Code does, stops at a breakpoint and reads a local variable, and the
invocation's own caller (here a function URL's) gets the result."""

from __future__ import annotations

import json
import re
import socket
import threading
import time
import urllib.request
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.e2e.conftest import ROLE
from tests.e2e.devtools import DEADLINE, HANDLER, Dap, Dev, attach_and_stop
from tests.e2e.test_dev_loop import invoke, write

SESSION_LINE = re.compile(r"debugger \(debugpy\) on 127\.0\.0\.1:(\d+)")
URL_LINE = re.compile(r"(http://\S+/)")


def session_port(dev: Dev) -> int:
    found = SESSION_LINE.search(dev.wait_for("each invocation waits"))
    assert found, dev.output()
    return int(found.group(1))


def test_a_url_request_stops_at_a_breakpoint_and_answers_after_continue(
    start_dev: Callable[..., Dev], tmp_path: Path, dap_clients: list[Dap]
) -> None:
    name = f"devdbg-{uuid.uuid4().hex[:8]}"
    code = tmp_path / "fn"
    write(code / "app.py", HANDLER.replace('event["n"]', 'int(event["queryStringParameters"]["n"])'))
    dev = start_dev(str(code), "--name", name, "--role", ROLE, "--url", "--debug", "--wait-timeout", "120")
    port = session_port(dev)
    url_found = URL_LINE.search(dev.wait_for("watching"))
    assert url_found, dev.output()
    # Attached before the request exists: the connection waits in the session port's backlog.
    dap = Dap(port)
    dap_clients.append(dap)
    answers: list[Any] = []

    def request() -> None:
        with urllib.request.urlopen(url_found.group(1) + "?n=6", timeout=120) as response:
            answers.append(json.loads(response.read()))

    caller = threading.Thread(target=request)
    caller.start()
    stopped = attach_and_stop(dap)
    thread = stopped["body"]["threadId"]
    frame = dap.request("stackTrace", threadId=thread)["body"]["stackFrames"][0]
    scope = dap.request("scopes", frameId=frame["id"])["body"]["scopes"][0]
    variables = dap.request("variables", variablesReference=scope["variablesReference"])["body"]["variables"]
    assert {v["name"]: v["value"] for v in variables}["secret"] == "42"
    assert not answers  # the caller is still waiting while the program is paused
    dap.send("continue", threadId=thread)
    caller.join(120)
    assert answers == [{"answer": 43}]
    out = dev.wait_for(" ended")
    assert "waits for a debugger on 127.0.0.1:" in out


def test_without_an_attach_invocations_run_after_the_wait_and_the_session_ends_with_dev(
    lam: Any, start_dev: Callable[..., Dev], tmp_path: Path
) -> None:
    name = f"devdbg-{uuid.uuid4().hex[:8]}"
    code = tmp_path / "fn"
    write(code / "app.py", "def handler(event, context):\n    raise ValueError('boom')\n")
    dev = start_dev(str(code), "--name", name, "--role", ROLE, "--debug", "--wait-timeout", "0.5")
    port = session_port(dev)
    dev.wait_for("watching")
    answer = lam.invoke(FunctionName=name, Payload=b"{}")
    assert answer["FunctionError"] == "Unhandled"
    assert json.loads(answer["Payload"].read())["errorType"] == "ValueError"
    out = dev.wait_for("ended with Unhandled")
    assert out.count("waits for a debugger") == 1

    # One session per function: a second `stratus dev --debug` of it is told so.
    second = start_dev(str(code), "--name", name, "--role", ROLE, "--debug")
    assert "ResourceConflictException" in second.wait_for("no debug session")
    second.interrupt()

    # Versions run as usual while the session is open: no wait, nothing printed.
    version = lam.publish_version(FunctionName=name)["Version"]
    plain = lam.invoke(FunctionName=name, Qualifier=version, Payload=b"{}")
    assert plain["FunctionError"] == "Unhandled"
    assert dev.output().count("waits for a debugger") == 1

    assert dev.interrupt() == 0
    # The session, and its port, end with the dev loop (the server looks once a second).
    deadline = time.monotonic() + DEADLINE
    while listening(port):
        assert time.monotonic() < deadline, "the session's port is still open"
        time.sleep(0.1)
    write(code / "app.py", "def handler(event, context):\n    return 'plain'\n")
    lam.update_function_code(FunctionName=name, ZipFile=_zip(code))
    lam.get_waiter("function_updated_v2").wait(FunctionName=name)
    assert invoke(lam, name) == "plain"


def listening(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=5).close()
    except OSError:
        return False
    return True


def _zip(directory: Path) -> bytes:
    from stratus.cli.functions import zip_directory

    return zip_directory(directory)
