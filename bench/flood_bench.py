"""What a function flooding its log costs the others: a quiet function's warm invoke throughput
alone, next to a function printing as fast as it can, and next to a function that only burns
CPU for as long. On a 2-core machine any busy neighbour takes CPU; the flood's extra cost is
what log handling adds on top of that, so the figure to read is flood / burn (1.0: none)."""

from __future__ import annotations

import json
import threading
import uuid
from pathlib import Path
from typing import Any

from bench.common import NOOP, ROLE, machine, stratus_server, zip_of
from bench.load import drive
from bench.signed_http import SignedInvoker

NEIGHBOUR = {
    "app.py": (
        "import sys, time\n"
        "BLOCK = ('x' * 1023 + '\\n') * 1024\n"
        "def handler(event, context):\n"
        "    end = time.time() + event['seconds']\n"
        "    while time.time() < end:\n"
        "        if event['print']:\n"
        "            sys.stdout.write(BLOCK)\n"
        "        else:\n"
        "            sum(range(20000))\n"
        "    return 'done'\n"
    )
}
SECONDS = 6.0


def main() -> None:
    with stratus_server() as srv:
        lam = srv.client()
        quiet, busy = f"quiet-{uuid.uuid4().hex[:6]}", f"busy-{uuid.uuid4().hex[:6]}"
        for name, files, settings in (
            (quiet, NOOP, {}),
            (busy, NEIGHBOUR, {"Timeout": 30, "MemorySize": 1024}),
        ):
            lam.create_function(
                FunctionName=name,
                Runtime="python3.11",
                Role=ROLE,
                Handler="app.handler",
                Code={"ZipFile": zip_of(files)},
                **settings,
            )
        signed = SignedInvoker(srv.endpoint, quiet)
        url = f"{srv.endpoint}/2015-03-31/functions/{quiet}/invocations"
        headers = signed.headers(b"{}")
        drive(url, headers, b"{}", 8, 2.0)  # warm

        def beside(print_output: bool | None) -> int:
            if print_output is None:
                return drive(url, headers, b"{}", 8, SECONDS - 2).rate
            payload = json.dumps({"seconds": SECONDS, "print": print_output}).encode()
            neighbour = threading.Thread(target=lambda: lam.invoke(FunctionName=busy, Payload=payload))
            neighbour.start()
            rate = drive(url, headers, b"{}", 8, SECONDS - 2).rate
            neighbour.join()
            return rate

        rows: dict[str, list[int]] = {"alone": [], "burn": [], "flood": []}
        for _ in range(2):  # alternated, so a drift of the machine hits each alike
            rows["alone"].append(beside(None))
            rows["burn"].append(beside(False))
            rows["flood"].append(beside(True))
    results: dict[str, Any] = {k: v for k, v in rows.items()}
    alone, burn, flood = (sum(rows[k]) for k in ("alone", "burn", "flood"))
    results["flood_over_burn"] = flood / burn
    results["flood_over_alone"] = flood / alone
    print(f"machine: {machine()}")
    print(
        f"quiet function, c8 invokes/s: alone {rows['alone']}, beside a CPU burner {rows['burn']}, "
        f"beside a log flood {rows['flood']}"
    )
    print(
        f"flood/burn = {flood / burn:.2f}, flood/alone = {flood / alone:.2f}, burn/alone = {burn / alone:.2f}"
    )
    out = Path(__file__).parent / "results"
    out.mkdir(exist_ok=True)
    (out / "flood.json").write_text(json.dumps({"machine": machine(), **results}, indent=2))


if __name__ == "__main__":
    main()
