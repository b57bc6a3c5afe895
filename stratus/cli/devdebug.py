"""`stratus dev --debug`: a debug session held open for each watched Python or Node.js function
(the server's side: invoke/debug_sessions.py). While it is open, every invocation of the
function's $LATEST, whoever sends it, runs with a debugger waiting on the session's port; the
port and each invocation's wait are printed with the rest of the dev loop's output.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from stratus.cli.debug import KINDS, EventStream, debug_path
from stratus.cli.devlogs import Printer

DEBUGGABLE = ("python", "nodejs")


@dataclass(frozen=True)
class SessionSpec:
    name: str
    port: int  # 0: any free one
    wait_timeout: float


def session_ports(names: list[str], first: int) -> list[int]:
    """A port per function: consecutive from `first`, or each any free one when `first` is 0."""
    return [first + i if first else 0 for i in range(len(names))]


def describe(name: str, event: dict[str, Any]) -> str | None:
    """The line printed for one event of a session, or None for one not shown."""
    kind = event.get("event")
    if kind == "session":
        what = KINDS.get(str(event.get("protocol")), str(event.get("protocol")))
        return (
            f"{name}: debugger ({what}) on 127.0.0.1:{event['port']}: each invocation waits "
            f"{float(event['waitTimeout']):g} s for an attach, then runs"
        )
    if kind == "listening":
        return (
            f"{name}: request {event.get('requestId')} waits for a debugger on "
            f"127.0.0.1:{event['port']} (handler files at {event.get('remoteRoot')})"
        )
    if kind == "ended":
        error = event.get("functionError")
        return f"{name}: request {event.get('requestId')} ended" + (f" with {error}" if error else "")
    return None


class DebugSessions:
    """One thread per session, each reading its stream until `close`."""

    def __init__(self, endpoint: str, data_dir: Path | None, printer: Printer) -> None:
        self._endpoint = endpoint
        self._data_dir = data_dir
        self._printer = printer
        self._streams: list[EventStream] = []
        self._threads: list[threading.Thread] = []
        self._closing = threading.Event()

    def open(self, spec: SessionSpec) -> None:
        query = {"waitTimeout": f"{spec.wait_timeout:g}", "port": str(spec.port)}
        stream = EventStream(self._endpoint, self._data_dir, debug_path(spec.name, "sessions", query), "")
        thread = threading.Thread(
            target=self._follow,
            args=(spec.name, stream),
            name=f"debug-{spec.name}",
            daemon=True,  # joined in close; daemon only so a second Ctrl-C can always exit
        )
        self._streams.append(stream)
        self._threads.append(thread)
        thread.start()

    def _follow(self, name: str, stream: EventStream) -> None:
        try:
            for event in stream.events():
                line = describe(name, event)
                if line is not None:
                    self._printer.say(line, "magenta")
        except click.ClickException as e:
            if not self._closing.is_set():
                self._printer.say(f"{name}: no debug session: {e.message}", "red")
            return
        if not self._closing.is_set():
            self._printer.say(f"{name}: the server ended the debug session", "red")

    def close(self) -> None:
        self._closing.set()
        for stream in self._streams:
            stream.close()
        for thread in self._threads:
            thread.join(timeout=5)
