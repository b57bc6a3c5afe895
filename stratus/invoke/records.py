"""Wire shapes of the invoke path: what goes into an environment and what comes out."""

from __future__ import annotations

import json
import signal
from dataclasses import dataclass

MAX_SYNC_PAYLOAD = 6 * 1024 * 1024
MAX_ASYNC_PAYLOAD = 1024 * 1024  # Lambda's current limit for InvocationType=Event
# Lambda's limit on a response as the runtime posts it (6 MB plus a small allowance).
MAX_RESPONSE_PAYLOAD = 6291556
TAIL_BYTES = 4096


@dataclass(frozen=True)
class Invocation:
    request_id: str
    payload: bytes
    invoked_arn: str
    client_context: str | None = None
    trace_id: str | None = None


@dataclass(frozen=True)
class InvocationResult:
    payload: bytes
    executed_version: str
    function_error: str | None = None  # "Unhandled" when the function failed
    log_tail: str = ""  # the invocation's log text; the API encodes the tail
    duration_ms: float = 0.0
    billed_ms: int = 0
    init_ms: float | None = None
    max_memory_mb: int = 0
    error_type: str | None = None


def error_payload(error_type: str, message: str) -> bytes:
    return json.dumps({"errorType": error_type, "errorMessage": message}).encode()


def timeout_message(request_id: str, timeout_s: float) -> str:
    return f"RequestId: {request_id} Error: Task timed out after {timeout_s:.2f} seconds"


# Lambda reports exits as Go's os/exec formats them.
_SIGNAL_NAMES = {
    signal.SIGKILL: "killed",
    signal.SIGSEGV: "segmentation fault",
    signal.SIGABRT: "aborted",
    signal.SIGTERM: "terminated",
    signal.SIGBUS: "bus error",
    signal.SIGILL: "illegal instruction",
    signal.SIGFPE: "floating point exception",
    signal.SIGINT: "interrupt",
}


def exit_description(returncode: int) -> str:
    if returncode < 0:
        try:
            sig = signal.Signals(-returncode)
        except ValueError:
            return f"signal: {-returncode}"
        return f"signal: {_SIGNAL_NAMES.get(sig, sig.name.lower())}"
    return f"exit status {returncode}"


def exit_message(request_id: str, returncode: int) -> str:
    return f"RequestId: {request_id} Error: Runtime exited with error: {exit_description(returncode)}"


def error_document(body: bytes, error_type: str | None) -> bytes:
    """The runtime's error document, made well-formed if the runtime sent something else."""
    try:
        parsed = json.loads(body)
        if isinstance(parsed, dict):
            return body
    except ValueError:
        pass
    return error_payload(error_type or "Unhandled", body.decode("utf-8", "replace"))
