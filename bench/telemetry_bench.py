"""What logs and metrics cost on the hot path: warm invoke throughput with them on and off, in
one run (`STRATUS_TELEMETRY=0` turns both off). Monitoring's target: within 10%."""

from __future__ import annotations

import json
import statistics
import uuid
from pathlib import Path
from typing import Any

from bench.common import NOOP, ROLE, machine, stratus_server, zip_of
from bench.load import drive
from bench.signed_http import SignedInvoker


def throughput(env: dict[str, str], duration: float) -> dict[int, int]:
    with stratus_server(**env) as srv:
        lam = srv.client()
        name = f"tel-{uuid.uuid4().hex[:6]}"
        lam.create_function(
            FunctionName=name,
            Runtime="python3.11",
            Role=ROLE,
            Handler="app.handler",
            Code={"ZipFile": zip_of(NOOP)},
        )
        signed = SignedInvoker(srv.endpoint, name)
        url = f"{srv.endpoint}/2015-03-31/functions/{name}/invocations"
        headers = signed.headers(b"{}")
        out = {}
        for c in (8, 64):
            drive(url, headers, b"{}", c, 2.0)
            out[c] = drive(url, headers, b"{}", c, duration).rate
        return out


def main() -> None:
    results: dict[str, Any] = {}
    # Alternate on and off three times, so a drift of the machine hits both alike; the ratio is
    # of medians, so one disturbed run does not decide it.
    runs = [("on", {}), ("off", {"STRATUS_TELEMETRY": "0"})] * 3
    totals: dict[str, dict[int, list[int]]] = {"on": {8: [], 64: []}, "off": {8: [], 64: []}}
    for label, env in runs:
        for c, rate in throughput(env, 5.0).items():
            totals[label][c].append(rate)
    print(f"machine: {machine()}")
    for c in (8, 64):
        on, off = statistics.median(totals["on"][c]), statistics.median(totals["off"][c])
        print(
            f"c{c}: telemetry on {totals['on'][c]} invokes/s, off {totals['off'][c]}: "
            f"median on/off = {on / off:.2f}"
        )
        results[f"c{c}"] = {"on": totals["on"][c], "off": totals["off"][c], "ratio": on / off}
    out = Path(__file__).parent / "results"
    out.mkdir(exist_ok=True)
    (out / "telemetry.json").write_text(json.dumps({"machine": machine(), **results}, indent=2))


if __name__ == "__main__":
    main()
