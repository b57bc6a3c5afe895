"""X-Ray trace headers: what a caller sends in `X-Amzn-Trace-Id`, and what the function sees.

Lambda keeps the caller's trace (its `Root`), makes its own segment the function's parent, and
samples as the caller decided; with no caller header it starts a trace of its own, sampled only
under `TracingConfig.Mode=Active`. The function gets the result in the `Lambda-Runtime-Trace-Id`
header of `/next`, and its runtime client puts it in `_X_AMZN_TRACE_ID`. These are pure
functions; `observe.spans` exports the same ids to OpenTelemetry.
"""

from __future__ import annotations

import random
import re
import time
from dataclasses import dataclass

ROOT = re.compile(r"1-[0-9a-f]{8}-[0-9a-f]{24}")
SPAN_ID = re.compile(r"[0-9a-f]{16}")
MAX_HEADER = 256  # X-Ray's own limit on the header is well under this


@dataclass(frozen=True)
class TraceHeader:
    root: str
    parent: str | None = None
    sampled: str | None = None  # "1", "0", or "?" (the caller left the decision to us)
    lineage: str | None = None
    caller: str | None = None  # the caller's Parent, kept for spans; the function never sees it

    def render(self) -> str:
        parts = [f"Root={self.root}"]
        if self.parent is not None:
            parts.append(f"Parent={self.parent}")
        if self.sampled is not None:
            parts.append(f"Sampled={self.sampled}")
        if self.lineage is not None:
            parts.append(f"Lineage={self.lineage}")
        return ";".join(parts)

    @property
    def otel_trace_id(self) -> int:
        """The 128-bit trace id OpenTelemetry's X-Ray propagator maps this root to."""
        return int(self.root[2:10] + self.root[11:], 16)


def parse(value: str | None) -> TraceHeader | None:
    """The caller's header, or None when it is absent or unusable (a new trace is started then,
    as X-Ray does; a malformed header never fails an invoke)."""
    if not value or len(value) > MAX_HEADER:
        return None
    fields: dict[str, str] = {}
    for part in value.split(";"):
        key, sep, val = part.strip().partition("=")
        if sep:
            fields[key.strip()] = val.strip()
    root = fields.get("Root", "").lower()
    if not ROOT.fullmatch(root):
        return None
    parent = fields.get("Parent", "").lower()
    sampled = fields.get("Sampled")
    return TraceHeader(
        root=root,
        parent=parent if SPAN_ID.fullmatch(parent) else None,
        sampled=sampled if sampled in ("0", "1", "?") else None,
        lineage=fields.get("Lineage") or None,
    )


def new_root(now: float | None = None) -> str:
    # Trace ids need to be unique, not secret: the PRNG spares urandom calls per invoke.
    return f"1-{int(time.time() if now is None else now):08x}-{random.getrandbits(96):024x}"


def new_span_id() -> str:
    return f"{random.getrandbits(64) or 1:016x}"


def for_function(incoming: TraceHeader | None, active: bool) -> TraceHeader:
    """The header the function runs under: the caller's trace continued under a new segment
    (Lambda's), or a new trace."""
    segment = new_span_id()
    if incoming is None:
        return TraceHeader(new_root(), segment, "1" if active else "0")
    sampled = incoming.sampled
    if sampled not in ("0", "1"):
        sampled = "1" if active else "0"
    return TraceHeader(incoming.root, segment, sampled, incoming.lineage, incoming.parent)
