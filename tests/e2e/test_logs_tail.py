"""`aws logs tail /aws/lambda/NAME --follow` (AWS CLI version 2, Debian's package) against the
real server: earlier lines first, then lines of invocations made while it follows."""

from __future__ import annotations

import queue
import subprocess
import threading
import time
from typing import Any

from tests.e2e.conftest import AWS_V2, Server, create

APP: dict[str, str | bytes] = {
    "app.py": """
        def handler(event, context):
            print("tail-me", event["n"])
            return event["n"]
        """
}


def test_logs_tail_follow(server: Server, lam: Any, fn_name: str) -> None:
    version = subprocess.run([AWS_V2, "--version"], capture_output=True, text=True, check=True).stdout
    assert version.startswith("aws-cli/2."), version
    create(lam, fn_name, APP)
    lam.invoke(FunctionName=fn_name, Payload=b'{"n": 1}')
    tail = subprocess.Popen(
        [
            AWS_V2,
            "--endpoint-url",
            server.endpoint,
            "logs",
            "tail",
            f"/aws/lambda/{fn_name}",
            "--follow",
            "--since",
            "10m",
            "--format",
            "short",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=server.aws_env(),
    )
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in tail.stdout or []], daemon=True).start()

    def wait_for(text: str, timeout: float = 30) -> list[str]:
        seen = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = lines.get(timeout=0.5)
            except queue.Empty:
                assert tail.poll() is None, tail.stderr.read() if tail.stderr else ""
                continue
            seen.append(line)
            if text in line:
                return seen
        raise AssertionError(f"{text!r} never arrived; saw {seen}")

    try:
        before = wait_for("tail-me 1")
        assert any("START RequestId" in line for line in before)
        lam.invoke(FunctionName=fn_name, Payload=b'{"n": 2}')  # made while following
        after = wait_for("tail-me 2")
        assert not any("tail-me 1" in line for line in after)  # each event once
        assert wait_for("REPORT RequestId")
    finally:
        tail.terminate()
        tail.wait(timeout=10)
