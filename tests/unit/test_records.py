from __future__ import annotations

import json
import signal

import pytest

from stratus.invoke.records import error_payload, exit_description, exit_message, timeout_message


@pytest.mark.parametrize(
    ("returncode", "text"),
    [
        (0, "exit status 0"),
        (1, "exit status 1"),
        (2, "exit status 2"),
        (137, "exit status 137"),
        (255, "exit status 255"),
    ],
)
def test_exit_codes(returncode: int, text: str) -> None:
    assert exit_description(returncode) == text


@pytest.mark.parametrize(
    ("sig", "text"),
    [
        (signal.SIGSEGV, "signal: segmentation fault"),
        (signal.SIGKILL, "signal: killed"),
        (signal.SIGABRT, "signal: aborted"),
        (signal.SIGTERM, "signal: terminated"),
        (signal.SIGBUS, "signal: bus error"),
        (signal.SIGILL, "signal: illegal instruction"),
        (signal.SIGFPE, "signal: floating point exception"),
        (signal.SIGINT, "signal: interrupt"),
    ],
)
def test_signals(sig: signal.Signals, text: str) -> None:
    assert exit_description(-int(sig)) == text


def test_other_signal_uses_its_name() -> None:
    assert exit_description(-int(signal.SIGUSR1)) == "signal: sigusr1"


def test_unknown_signal_number() -> None:
    assert exit_description(-200) == "signal: 200"


def test_exit_message() -> None:
    assert exit_message("req-1", -int(signal.SIGSEGV)) == (
        "RequestId: req-1 Error: Runtime exited with error: signal: segmentation fault"
    )
    assert exit_message("req-2", 1) == "RequestId: req-2 Error: Runtime exited with error: exit status 1"


def test_timeout_message() -> None:
    assert timeout_message("r", 3) == "RequestId: r Error: Task timed out after 3.00 seconds"


def test_error_payload() -> None:
    assert json.loads(error_payload("Runtime.ExitError", "boom")) == {
        "errorType": "Runtime.ExitError",
        "errorMessage": "boom",
    }
