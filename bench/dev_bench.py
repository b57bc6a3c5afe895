"""`stratus dev`'s loop: from a save to the first invoke that runs the new code, against a
redeploy with `stratus deploy` measured in the same run.

`stratus dev DIR --name N` runs as a subprocess against a real server. Each round invokes the
function once (so the old code is warm, as it is for a developer who just tried it), saves its
app.py with a new return value, and invokes in a loop (signed HTTP on one kept-alive
connection) until the new value comes back: the time from just before the write to that
answer is one sample. The deploy side: `stratus deploy DIR --name M` after the same kind of
edit, then the first invoke returning the new value; its whole time (the CLI's start
included, as a developer waits for it) is one sample. After each new answer a few more invokes
must all run the new code (the update retires the old code's warm environments), or the run
fails.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import tempfile
import time
from pathlib import Path

from bench.common import BIN, ROLE, Running, Stats, machine, stratus_server
from bench.signed_http import SignedInvoker

STALE_PROBES = 3
POLL_PAUSE_S = 0.002
SOURCE = "def handler(event, context):\n    return {value}\n"


def save(path: Path, value: int) -> None:
    """An editor's plain save: the file rewritten in place."""
    path.write_text(SOURCE.format(value=value))


def until(invoker: SignedInvoker, expected: bytes, deadline_s: float = 30) -> None:
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        if invoker.invoke() == expected:
            return
        # A breath between polls: on a small machine a loop of back-to-back invokes would
        # take the CPU from the watcher it is waiting for (and measure that, not the loop).
        time.sleep(POLL_PAUSE_S)
    raise RuntimeError(f"the new code ({expected!r}) never answered")


def wait_for_line(log: Path, text: str, proc: subprocess.Popen[bytes], deadline_s: float = 60) -> None:
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        if text in log.read_text(errors="replace"):
            return
        if proc.poll() is not None:
            raise RuntimeError(f"stratus dev exited:\n{log.read_text(errors='replace')}")
        time.sleep(0.05)
    raise RuntimeError(f"stratus dev did not print {text!r}:\n{log.read_text(errors='replace')}")


def dev_loop(running: Running, work: Path, rounds: int) -> tuple[list[float], list[float]]:
    """(save -> new answer, the zip and UpdateFunctionCode that `stratus dev` reports) in ms."""
    code = work / "dev"
    code.mkdir()
    app = code / "app.py"
    save(app, 0)
    log = work / "dev.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [str(BIN / "stratus"), "dev", str(code), "--name", "dev-bench", "--role", ROLE],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=running.env(),
        )
    try:
        wait_for_line(log, "watching", proc)
        invoker = SignedInvoker(running.endpoint, "dev-bench")
        until(invoker, b"0")
        samples, stale = [], 0
        for value in range(1, rounds + 1):
            invoker.invoke()  # the old code, warm
            time.sleep(0.05)  # the watcher and the log tail at rest, as between a developer's saves
            started = time.perf_counter()
            save(app, value)
            until(invoker, str(value).encode())
            samples.append((time.perf_counter() - started) * 1000)
            # Once the new code has answered, the old code's warm environments must be gone:
            # any later answer from them would be stale code served after a save.
            stale += sum(invoker.invoke() != str(value).encode() for _ in range(STALE_PROBES))
        if stale:
            raise RuntimeError(f"{stale} invokes ran the old code after the new code had answered")
        updates = [float(ms) for ms in re.findall(r"updated code in (\d+) ms", log.read_text())]
        return samples, updates
    finally:
        proc.send_signal(2)  # Ctrl-C: stops watching, leaves the function deployed
        proc.wait(timeout=30)


def deploy_loop(running: Running, work: Path, rounds: int) -> list[float]:
    code = work / "deploy"
    code.mkdir()
    app = code / "app.py"

    def deploy() -> None:
        subprocess.run(
            [str(BIN / "stratus"), "deploy", str(code), "--name", "deploy-bench", "--role", ROLE],
            env=running.env(),
            check=True,
            capture_output=True,
        )

    save(app, 0)
    deploy()
    invoker = SignedInvoker(running.endpoint, "deploy-bench")
    until(invoker, b"0")
    samples = []
    for value in range(1, rounds + 1):
        invoker.invoke()
        started = time.perf_counter()
        save(app, value)
        deploy()
        until(invoker, str(value).encode())
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=50, help="saves measured with stratus dev")
    parser.add_argument("--deploys", type=int, default=10, help="redeploys measured with stratus deploy")
    args = parser.parse_args()
    with stratus_server() as running, tempfile.TemporaryDirectory(prefix="stratus-dev-bench-") as tmp:
        work = Path(tmp)
        dev_samples, update_samples = dev_loop(running, work, args.rounds)
        dev, update = Stats.of(dev_samples), Stats.of(update_samples)
        deploy = Stats.of(deploy_loop(running, work, args.deploys))
    print(f"machine: {machine()}; load average at the end: {os.getloadavg()[0]:.1f}")
    print(f"stratus dev, save -> first invoke running the new code: {dev.row()}")
    print(f"  of which stratus dev's zip + UpdateFunctionCode: {update.row()}")
    print(f"stratus deploy, save -> deploy -> first invoke running the new code: {deploy.row()}")
    print(f"p50 ratio: {deploy.p50 / dev.p50:.1f}x quicker with stratus dev")
    out = Path(__file__).parent / "results"
    out.mkdir(exist_ok=True)
    (out / "dev.json").write_text(
        json.dumps(
            {
                "machine": machine(),
                "load_average": os.getloadavg()[0],  # the machine is shared: a busy run says so
                "dev": vars(dev),
                "dev_update": vars(update),
                "deploy": vars(deploy),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
