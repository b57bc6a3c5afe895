"""What `stratus dev` prints: each invocation's log lines as they happen, read through the
CloudWatch Logs API as `stratus logs --follow` reads them, with paths in stack traces mapped
from the environment's (/var/task, /opt) to the developer's files, coloured with rich."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# A path inside an environment: the function's code at /var/task, its merged layers at /opt.
# Not when it continues a longer path or name (`/x/var/task`, `a.var`); `file:///var/task/...`
# (Node's ES module traces) is mapped, and keeps its scheme.
REMOTE_PATH = re.compile(r"(?<![\w.-])(/var/task|/opt)/([^\s\"'`,:()\[\]<>]+)")


def map_paths(
    text: str,
    task_dir: Path,
    layer_dirs: Sequence[Path] = (),
    exists: Callable[[Path], bool] = Path.exists,
) -> str:
    """`text` with /var/task/REL as TASK_DIR/REL, and /opt/REL as the local layer directory
    that holds REL (the last of them: later layers win the merge at /opt, as on Lambda).
    A path under /opt that no local layer holds is left as it is."""

    def local(match: re.Match[str]) -> str:
        root, rel = match.group(1), match.group(2)
        if root == "/var/task":
            return str(task_dir / rel)
        for layer in reversed(layer_dirs):
            if exists(layer / rel):
                return str(layer / rel)
        return match.group(0)

    return REMOTE_PATH.sub(local, text)


def style_of(line: str) -> str | None:
    """The colour of one log line: the platform's lines dimmed, REPORT in cyan (red when the
    invocation failed or timed out), errors and tracebacks red."""
    if line.startswith(("START RequestId:", "END RequestId:", "INIT_")):
        return "dim"
    if line.startswith("REPORT RequestId:"):
        return "red" if "Status:" in line or "timed out" in line else "cyan"
    if (
        "[ERROR]" in line
        or line.startswith(("Traceback", "  File ", "ERROR"))
        or '"level":"ERROR"' in line.replace(" ", "")
        or "Task timed out" in line
    ):
        return "red"
    if "[WARNING]" in line or "[WARN]" in line:
        return "yellow"
    return None


def split_message(message: str) -> list[str]:
    """A log event's lines: awslambdaric writes a traceback as one event whose lines are
    separated by carriage returns (so that CloudWatch keeps them together)."""
    return message.replace("\r\n", "\n").replace("\r", "\n").rstrip("\n").split("\n")


_PREFIX_COLOURS = ("magenta", "blue", "green", "yellow", "cyan")


class Printer:
    """One rich console shared by the watcher and the log tails (rich serialises its writes),
    flushed after each line so a pipe sees every line as it happens."""

    def __init__(self, prefix_names: bool) -> None:
        import sys

        from rich.console import Console

        self._console = Console(file=sys.stdout, highlight=False, soft_wrap=True)
        self._prefix_names = prefix_names
        self._colours: dict[str, str] = {}

    def _emit(self, text: Any) -> None:
        self._console.print(text)
        self._console.file.flush()

    def log(self, name: str, line: str) -> None:
        from rich.text import Text

        text = Text()
        if self._prefix_names:
            colour = self._colours.setdefault(
                name, _PREFIX_COLOURS[len(self._colours) % len(_PREFIX_COLOURS)]
            )
            text.append(f"{name} | ", style=colour)
        text.append(line, style=style_of(line) or "")
        self._emit(text)

    def say(self, message: str, style: str = "") -> None:
        from rich.text import Text

        self._emit(Text(f"{time.strftime('%H:%M:%S')} {message}", style=style))


@dataclass(frozen=True)
class TailTarget:
    """One function's log group, and where its stack traces' paths lead locally."""

    name: str
    group: str
    task_dir: Path
    layer_dirs: tuple[Path, ...]


def tail(
    logs: Any,
    target: TailTarget,
    since_ms: int,
    stop: threading.Event,
    printer: Printer,
    interval: float = 0.2,
) -> None:
    """Print `target`'s new log events until `stop` is set (a thread's body). The group may not
    exist before the first invocation; an unreachable server is said once, then retried."""
    from botocore.exceptions import BotoCoreError, ClientError

    kwargs: dict[str, Any] = {"logGroupName": target.group, "startTime": since_ms}
    complained = False
    while not stop.is_set():
        try:
            response = logs.filter_log_events(**kwargs)
            complained = False
        except ClientError as e:
            if e.response.get("Error", {}).get("Code") != "ResourceNotFoundException" and not complained:
                printer.say(f"{target.name}: cannot read logs: {e}", "yellow")
                complained = True
            response = {"events": []}
        except BotoCoreError as e:
            if not complained:
                printer.say(f"{target.name}: cannot read logs: {e}", "yellow")
                complained = True
            response = {"events": []}
        for event in response["events"]:
            for line in split_message(event["message"]):
                printer.log(target.name, map_paths(line, target.task_dir, target.layer_dirs))
        # The server's token is the last event id read: the next call starts after it.
        if "nextToken" in response:
            kwargs["nextToken"] = response["nextToken"]
            continue
        if response["events"]:
            kwargs["nextToken"] = response["events"][-1]["eventId"]
        stop.wait(interval)
