"""What the e2e tests of the developer loop share: a running `stratus dev`, and a minimal DAP
client doing what VS Code's "attach" does (the fixtures `start_dev` and `dap_clients` are in
conftest.py)."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

from tests.e2e.conftest import STRATUS, Server

DEADLINE = 60.0  # generous: a bound on waiting, not a measurement
HANDLER = """\
def handler(event, context):
    secret = event["n"] * 7
    result = {"answer": secret + 1}
    return result
"""
BREAK_LINE = 3  # `result = ...`: `secret` is set when it stops there


class Dev:
    """A running `stratus dev` whose output goes to a file the test reads."""

    def __init__(self, server: Server, args: list[str], log: Path) -> None:
        self.log = log
        env = server.env()
        env["STRATUS_ENDPOINT"] = server.endpoint
        with open(log, "wb") as out:
            self.proc = subprocess.Popen(
                [STRATUS, "dev", *args], stdout=out, stderr=subprocess.STDOUT, env=env
            )

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_for(self, text: str) -> str:
        deadline = time.monotonic() + DEADLINE
        while time.monotonic() < deadline:
            out = self.output()
            if text in out:
                return out
            if self.proc.poll() is not None:
                raise AssertionError(f"stratus dev exited ({self.proc.returncode}) before {text!r}:\n{out}")
            time.sleep(0.05)
        raise AssertionError(f"stratus dev never printed {text!r}:\n{self.output()}")

    def interrupt(self) -> int:
        self.proc.send_signal(signal.SIGINT)
        return self.proc.wait(timeout=30)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=30)


class Dap:
    """A minimal DAP client: requests by seq, events kept in order of arrival."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=60)
        self.file = self.sock.makefile("rb")
        self.seq = 0
        self.events: list[dict[str, Any]] = []
        self.responses: dict[int, dict[str, Any]] = {}

    def close(self) -> None:
        self.file.close()
        self.sock.close()

    def send(self, command: str, **arguments: Any) -> int:
        self.seq += 1
        body = json.dumps({"seq": self.seq, "type": "request", "command": command, "arguments": arguments})
        data = body.encode()
        self.sock.sendall(b"Content-Length: %d\r\n\r\n" % len(data) + data)
        return self.seq

    def read(self) -> dict[str, Any]:
        length = 0
        while True:
            line = self.file.readline()
            if not line:
                raise EOFError("the debugger closed the connection")
            if line in (b"\r\n", b"\n"):
                break
            name, _, value = line.decode().partition(":")
            if name.strip().lower() == "content-length":
                length = int(value.strip())
        message: dict[str, Any] = json.loads(self.file.read(length))
        return message

    def response(self, seq: int) -> dict[str, Any]:
        while seq not in self.responses:
            self._keep(self.read())
        message = self.responses.pop(seq)
        assert message.get("success"), message
        return message

    def _keep(self, message: dict[str, Any]) -> None:
        if message.get("type") == "response":
            self.responses[message["request_seq"]] = message
        elif message.get("type") == "event":
            self.events.append(message)

    def request(self, command: str, **arguments: Any) -> dict[str, Any]:
        return self.response(self.send(command, **arguments))

    def event(self, name: str) -> dict[str, Any]:
        for i, message in enumerate(self.events):
            if message.get("event") == name:
                return self.events.pop(i)
        while True:
            message = self.read()
            if message.get("type") == "event" and message.get("event") == name:
                return message
            self._keep(message)


def attach_and_stop(dap: Dap) -> dict[str, Any]:
    """Attach as VS Code does, with a breakpoint in the handler; the stopped event."""
    dap.request("initialize", adapterID="python", clientID="stratus-test", pathFormat="path")
    attach = dap.send("attach", justMyCode=True)
    dap.event("initialized")
    dap.request("setBreakpoints", source={"path": "/var/task/app.py"}, breakpoints=[{"line": BREAK_LINE}])
    dap.request("configurationDone")
    dap.response(attach)
    return dap.event("stopped")
