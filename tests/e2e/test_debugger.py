"""`stratus invoke NAME --debug` (issue 20): a debugger attaches to one invocation's own
environment through a host loopback port.

The DAP client here is a small one of the test's own (Content-Length framed JSON over the
printed port), doing what VS Code's "attach" does: initialize, attach, setBreakpoints,
configurationDone; then it waits for the stopped event, reads a local variable and continues.
The CDP client (JSON over aiohttp's WebSocket) does what VS Code's js-debug and Chrome DevTools
do with node's inspector: Runtime.enable, Debugger.enable, setBreakpointByUrl, then
Runtime.runIfWaitingForDebugger.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import socket
import subprocess
import threading
import time
import urllib.parse
import urllib.request
from typing import Any

import aiohttp
import pytest

from tests.e2e.conftest import STRATUS, Server, create
from tests.e2e.devtools import BREAK_LINE, HANDLER, Dap, attach_and_stop

PORT_LINE = re.compile(r"listening on 127\.0\.0\.1:(\d+)")


class DebugInvoke:
    """`stratus invoke NAME --debug` running as a subprocess, its stderr read as it comes."""

    def __init__(self, server: Server, *args: str) -> None:
        env = server.env()
        env["STRATUS_ENDPOINT"] = server.endpoint
        self.proc = subprocess.Popen(
            [STRATUS, "invoke", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        self.err_lines: list[str] = []
        self._port: int | None = None
        self._seen = threading.Event()
        self._reader = threading.Thread(target=self._read_err, daemon=True)
        self._reader.start()

    def _read_err(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.err_lines.append(line)
            found = PORT_LINE.search(line)
            if found and self._port is None:
                self._port = int(found.group(1))
                self._seen.set()
        self._seen.set()

    def port(self) -> int:
        assert self._seen.wait(60), "no port was printed"
        assert self._port is not None, "".join(self.err_lines)
        return self._port

    def finish(self) -> tuple[int, str, str]:
        assert self.proc.stdout is not None
        out = self.proc.stdout.read()
        code = self.proc.wait(timeout=120)
        self._reader.join(10)
        return code, out, "".join(self.err_lines)


NOBODY = 65534


def other_user_attach(port: int) -> str:
    """What a DAP client running as another uid (nobody) gets from the port: a forked child
    that drops to that uid, connects and sends `initialize`."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: only socket calls, then _exit
        outcome = b"error"
        try:
            os.setgid(NOBODY)
            os.setuid(NOBODY)
            with socket.create_connection(("127.0.0.1", port), timeout=60) as sock:
                body = json.dumps({"seq": 1, "type": "request", "command": "initialize"}).encode()
                sock.sendall(b"Content-Length: %d\r\n\r\n" % len(body) + body)
                try:
                    outcome = b"closed" if sock.recv(65536) == b"" else b"answered"
                except ConnectionResetError:
                    outcome = b"closed"
        finally:
            os.write(write_end, outcome)
            os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as f:
        answer = f.read().decode()
    os.waitpid(pid, 0)
    return answer


def test_attach_breakpoint_reads_local_and_result_prints(
    server: Server, lam: Any, fn_name: str, dap_clients: list[Dap]
) -> None:
    create(lam, fn_name, {"app.py": HANDLER}, Timeout=3)
    run = DebugInvoke(server, fn_name, '{"n": 6}', "--debug", "--wait-timeout", "120")
    port = run.port()
    # Another local user cannot attach: the relay closes its connection unanswered.
    assert other_user_attach(port) == "closed"
    dap = Dap(port)
    dap_clients.append(dap)
    dap.request(
        "initialize",
        adapterID="python",
        clientID="stratus-test",
        pathFormat="path",
        linesStartAt1=True,
        columnsStartAt1=True,
    )
    attach = dap.send("attach", justMyCode=True)
    dap.event("initialized")
    answer = dap.request(
        "setBreakpoints", source={"path": "/var/task/app.py"}, breakpoints=[{"line": BREAK_LINE}]
    )
    assert answer["body"]["breakpoints"][0]["verified"], answer
    dap.request("configurationDone")
    dap.response(attach)

    stopped = dap.event("stopped")
    assert stopped["body"]["reason"] == "breakpoint"
    # Paused past the function's 3 s timeout: the paused time is not counted against it.
    time.sleep(4)
    thread = stopped["body"]["threadId"]
    frame = dap.request("stackTrace", threadId=thread)["body"]["stackFrames"][0]
    assert frame["source"]["path"] == "/var/task/app.py" and frame["line"] == BREAK_LINE
    scope = dap.request("scopes", frameId=frame["id"])["body"]["scopes"][0]
    variables = dap.request("variables", variablesReference=scope["variablesReference"])["body"]["variables"]
    assert {v["name"]: v["value"] for v in variables}["secret"] == "42"
    # Not waiting for the answer: the invocation may end, and its environment with the
    # connection, before debugpy writes it.
    dap.send("continue", threadId=thread)

    code, out, err = run.finish()
    assert code == 0, err
    assert json.loads(out) == {"answer": 43}


def test_a_paused_invocation_ends_when_its_caller_goes(
    server: Server, lam: Any, fn_name: str, dap_clients: list[Dap]
) -> None:
    create(lam, fn_name, {"app.py": HANDLER})
    run = DebugInvoke(server, fn_name, '{"n": 1}', "--debug", "--wait-timeout", "120")
    dap = Dap(run.port())
    dap_clients.append(dap)
    attach_and_stop(dap)
    run.proc.kill()  # Ctrl-C, say: nobody is left to see the result
    run.finish()
    # The environment is stopped, and the debugger's connection with it, though the program was
    # paused (without this it would stay paused, its deadline held, until the socket timed out).
    with pytest.raises(EOFError):
        while True:
            dap.read()


def test_without_an_attach_it_runs_after_the_wait(server: Server, lam: Any, fn_name: str) -> None:
    create(lam, fn_name, {"app.py": HANDLER})
    run = DebugInvoke(server, fn_name, '{"n": 1}', "--debug", "--wait-timeout", "1")
    port = run.port()
    code, out, err = run.finish()
    assert code == 0, err
    assert json.loads(out) == {"answer": 8}
    with pytest.raises(OSError):  # the port lives only as long as its invocation
        socket.create_connection(("127.0.0.1", port), timeout=5).close()
    # Its environment was its own and is gone; the function's normal invokes are unaffected.
    normal = lam.invoke(FunctionName=fn_name, Payload=b'{"n": 2}')
    assert json.loads(normal["Payload"].read()) == {"answer": 15}


def test_an_iam_user_without_the_debug_permission_is_refused(server: Server, lam: Any, fn_name: str) -> None:
    create(lam, fn_name, {"app.py": HANDLER})
    iam = server.client("iam")
    user = f"dev-{fn_name}"
    iam.create_user(UserName=user)
    iam.put_user_policy(
        UserName=user,
        PolicyName="invoke",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": "lambda:*", "Resource": "*"}],
            }
        ),
    )
    keys = iam.create_access_key(UserName=user)["AccessKey"]
    env = {
        "AWS_ACCESS_KEY_ID": keys["AccessKeyId"],
        "AWS_SECRET_ACCESS_KEY": keys["SecretAccessKey"],
        "STRATUS_ENDPOINT": server.endpoint,
    }
    base = {k: v for k, v in server.env().items() if not k.startswith("STRATUS_")}

    def as_user(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [STRATUS, "invoke", fn_name, '{"n": 1}', *args],
            capture_output=True,
            text=True,
            env={**base, **env},
            timeout=120,
        )

    assert as_user().returncode == 0  # it may invoke the function...
    refused = as_user("--debug", "--wait-timeout", "0")
    assert refused.returncode != 0
    assert "AccessDenied" in refused.stderr and "stratus:DebugFunction" in refused.stderr
    assert "listening" not in refused.stderr
    # ...and with stratus:DebugFunction on the function too, it may debug it.
    iam.put_user_policy(
        UserName=user,
        PolicyName="debug",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Action": "stratus:DebugFunction",
                        "Resource": f"arn:aws:lambda:us-east-1:*:function:{fn_name}",
                    }
                ],
            }
        ),
    )
    allowed = as_user("--debug", "--wait-timeout", "0")
    assert allowed.returncode == 0, allowed.stderr
    assert "listening on 127.0.0.1:" in allowed.stderr


def test_bad_input_is_a_clear_message(server: Server, lam: Any, fn_name: str) -> None:
    missing = server.cli("invoke", "no-such-function", "{}", "--debug", "--wait-timeout", "0")
    assert missing.returncode != 0 and "ResourceNotFoundException" in missing.stderr
    assert "Traceback" not in missing.stderr
    create(lam, fn_name, {"bootstrap": "#!/bin/sh\n"}, Runtime="provided.al2023", Handler="x")
    custom = server.cli("invoke", fn_name, "{}", "--debug", "--wait-timeout", "0")
    assert custom.returncode != 0 and "has no debugger here" in custom.stderr
    assert "Traceback" not in custom.stderr
    port = server.cli("invoke", fn_name, "{}", "--debug-port", "9999")
    assert port.returncode != 0 and "needs --debug" in port.stderr
    create(lam, f"{fn_name}-py", {"app.py": HANDLER})
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        busy = str(taken.getsockname()[1])
        clash = server.cli("invoke", f"{fn_name}-py", '{"n": 1}', "--debug", "--debug-port", busy)
    assert clash.returncode != 0 and f"Cannot listen on port {busy}" in clash.stderr
    assert "Traceback" not in clash.stderr


NODE_HANDLER = """\
export const handler = async (event) => ({ answer: event.n + 1 });
"""
NODE_LOCAL_HANDLER = """\
export const handler = async (event) => {
  const secret = event.n * 7;
  const result = { answer: secret + 1 };
  return result;
};
"""
NODE_BREAK_LINE = 2  # 0-based, as CDP counts: `const result = ...`, where `secret` is set


def inspector_targets(port: int) -> list[dict[str, Any]]:
    """Node's /json/list through the printed port, asked until node's inspector answers (it
    starts as node starts)."""
    for _ in range(200):
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as r:
                return json.loads(r.read())  # type: ignore[no-any-return]
        except OSError:
            time.sleep(0.05)
    return []


class Cdp:
    """A minimal CDP client on an inspector WebSocket: commands by id, events kept until asked."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self._last_id = 0
        self._events: list[dict[str, Any]] = []

    async def send(self, method: str, **params: Any) -> int:
        self._last_id += 1
        await self.ws.send_json({"id": self._last_id, "method": method, "params": params})
        return self._last_id

    async def call(self, method: str, **params: Any) -> dict[str, Any]:
        sent = await self.send(method, **params)
        while True:
            message = await self._read()
            if message.get("id") == sent:
                assert "error" not in message, message
                return message["result"]  # type: ignore[no-any-return]

    async def event(self, method: str) -> dict[str, Any]:
        while True:
            for event in self._events:
                if event["method"] == method:
                    self._events.remove(event)
                    return event
            await self._read()

    async def _read(self) -> dict[str, Any]:
        frame = await asyncio.wait_for(self.ws.receive(), 60)
        if frame.type != aiohttp.WSMsgType.TEXT:
            raise EOFError(frame)
        message: dict[str, Any] = json.loads(frame.data)
        if "id" not in message:
            self._events.append(message)
        return message


async def break_in_node(port: int) -> tuple[int, dict[str, Any]]:
    """Attach as js-debug does, stop at NODE_BREAK_LINE, read `secret` there, stay paused past
    the function's 3 s timeout, resume: `secret`'s value and where it stopped."""
    targets = inspector_targets(port)
    assert targets and targets[0]["type"] == "node"
    # The URL names node's own address in the environment; the printed port leads there.
    path = urllib.parse.urlsplit(targets[0]["webSocketDebuggerUrl"]).path
    async with (
        aiohttp.ClientSession() as http,
        http.ws_connect(f"ws://127.0.0.1:{port}{path}", max_msg_size=0) as ws,
    ):
        cdp = Cdp(ws)
        await cdp.call("Runtime.enable")
        await cdp.call("Debugger.enable")
        placed = await cdp.call(
            "Debugger.setBreakpointByUrl", urlRegex=r"index\.mjs$", lineNumber=NODE_BREAK_LINE
        )
        assert placed["breakpointId"]
        await cdp.call("Runtime.runIfWaitingForDebugger")
        paused = (await cdp.event("Debugger.paused"))["params"]
        assert paused["hitBreakpoints"] == [placed["breakpointId"]]
        top = paused["callFrames"][0]
        # Paused past the function's 3 s timeout: the paused time is not counted against it.
        await asyncio.sleep(4)
        secret = await cdp.call(
            "Debugger.evaluateOnCallFrame", callFrameId=top["callFrameId"], expression="secret"
        )
        # Not waiting for the answer: the invocation may end, and its environment with the
        # connection, before node writes it.
        await cdp.send("Debugger.resume")
        return secret["result"]["value"], top


def test_node_breakpoint_set_before_the_event_runs_reads_a_local(
    server: Server, lam: Any, fn_name: str
) -> None:
    create(
        lam,
        fn_name,
        {"index.mjs": NODE_LOCAL_HANDLER},
        Runtime="nodejs20.x",
        Handler="index.handler",
        Timeout=3,
    )
    run = DebugInvoke(server, fn_name, '{"n": 6}', "--debug", "--wait-timeout", "120")
    try:
        secret, top = asyncio.run(break_in_node(run.port()))
    finally:
        code, out, err = run.finish()
    assert secret == 42
    assert top["functionName"] == "handler" and top["location"]["lineNumber"] == NODE_BREAK_LINE
    assert code == 0, err
    assert json.loads(out) == {"answer": 43}


def test_node_inspector_answers_json_on_the_printed_port(server: Server, lam: Any, fn_name: str) -> None:
    create(lam, fn_name, {"index.mjs": NODE_HANDLER}, Runtime="nodejs20.x", Handler="index.handler")
    run = DebugInvoke(server, fn_name, '{"n": 1}', "--debug", "--wait-timeout", "30")
    port = run.port()
    targets = inspector_targets(port)
    assert targets and targets[0]["type"] == "node"
    assert targets[0]["webSocketDebuggerUrl"].startswith("ws://127.0.0.1:")
    code, out, err = run.finish()  # nobody attached: it runs after the wait
    assert code == 0, err
    assert json.loads(out) == {"answer": 2}
