"""`stratus dev`: deploy a directory (or a project's functions), then watch it. Each save
updates the function's code through UpdateFunctionCode, which retires the warm environments of
the old code, so the next invoke runs the new code; invocations' logs are printed as they
happen. A Python file that does not compile is reported and not uploaded: the previous code
keeps serving."""

from __future__ import annotations

import hashlib
import re
import signal
import threading
import time
import traceback
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import click

from stratus.cli.client import client, endpoint_option, fail_on_client_error
from stratus.cli.devdebug import DEBUGGABLE, DebugSessions, SessionSpec, session_ports
from stratus.cli.devlogs import Printer, TailTarget, tail
from stratus.cli.devproject import (
    DEFAULT_HANDLER,
    DEFAULT_RUNTIME,
    FunctionSpec,
    ProjectError,
    find_project,
    layer_ref,
    read_project,
)
from stratus.cli.functions import default_role, zip_directory

# watchfiles ends a batch of changes once nothing has changed for STEP_MS: an editor's save (a
# write, or a write to a temporary file and a rename) is one batch, and a save reaches the
# server a few milliseconds after it. DEBOUNCE_MS caps a batch during a long burst (a
# `git checkout`), so that updates still go out.
STEP_MS = 10
DEBOUNCE_MS = 300
LOG_POLL_SECONDS = 0.1
REPEAT_AFTER_SECONDS = 1.0


@dataclass(frozen=True)
class SyntaxProblem:
    path: Path
    text: str  # the compiler's own report: file, line, the line's text with a caret, message


def check_python(paths: Iterable[Path]) -> list[SyntaxProblem]:
    """The files among `paths` that this interpreter cannot compile, with why. Checked before
    an upload, so that a half-typed save never replaces code that works."""
    problems = []
    for path in sorted(paths):
        try:
            source = path.read_bytes()
        except OSError:
            continue  # deleted since the change was seen: nothing to compile
        try:
            compile(source, str(path), "exec", dont_inherit=True)
        except (SyntaxError, ValueError) as e:  # ValueError: a null byte in the source
            problems.append(SyntaxProblem(path, "".join(traceback.format_exception_only(e)).rstrip()))
    return problems


def is_under(path: Path, root: Path) -> bool:
    return path == root or root in path.parents


def owners(paths: Iterable[Path], roots: Mapping[str, Path]) -> set[str]:
    """The keys of `roots` whose directory holds at least one of `paths`."""
    paths = list(paths)
    return {key for key, root in roots.items() if any(is_under(p, root) for p in paths)}


def watch_roots(directories: Iterable[Path]) -> list[Path]:
    """The directories to watch: each once, and none inside another (watching is recursive)."""
    unique = sorted(set(directories), key=lambda p: (len(p.parts), p))
    kept: list[Path] = []
    for d in unique:
        if not any(is_under(d, k) for k in kept):
            kept.append(d)
    return kept


def layer_name(directory: Path) -> str:
    """A layer name (letters, digits, - and _) from a directory's name."""
    return (re.sub(r"[^a-zA-Z0-9_-]", "-", directory.name).strip("-") or "layer")[:100]


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class DevSession:
    """The functions being developed, and what was last deployed of each: its code's hash and
    the layer versions published from local directories. Used by one thread (the watcher)."""

    def __init__(
        self, lam: Any, specs: list[FunctionSpec], printer: Printer, role: str | None, role_source: Any
    ) -> None:
        self._lam = lam
        self.specs = specs
        self._printer = printer
        self._role = role
        self._role_source = role_source  # makes the default role when a function is created
        self._code_sha: dict[str, str] = {}
        self._layer_sha: dict[Path, str] = {}
        self._layer_arn: dict[Path, str] = {}
        self._fn_layers: dict[str, list[str]] = {}  # the layer ARNs each function was given
        self.published: list[str] = []  # layer version ARNs this session published
        self._broken: set[Path] = set()  # files that did not compile: checked again on any save
        self._reported: dict[tuple[Path, str], float] = {}  # when each compile error was printed
        self._held: dict[str, float] = {}  # when each function was last said to be held back

    # -- the first deploy ------------------------------------------------------------------------

    def deploy_all(self) -> None:
        for spec in self.specs:
            started = time.perf_counter()
            arn = self._ensure(spec)
            ms = (time.perf_counter() - started) * 1000
            self._printer.say(
                f"{spec.name}: deployed {spec.directory} ({spec.runtime}, {spec.handler}) "
                f"in {ms:.0f} ms: {arn}",
                "green",
            )
            if spec.url:
                self._printer.say(f"{spec.name}: url {self._url(spec.name)}", "bold")

    def _ensure(self, spec: FunctionSpec) -> str:
        from botocore.exceptions import ClientError

        code = zip_directory(spec.directory)
        config: dict[str, Any] = {"Runtime": spec.runtime, "Handler": spec.handler}
        if spec.memory is not None:
            config["MemorySize"] = spec.memory
        if spec.timeout is not None:
            config["Timeout"] = spec.timeout
        if spec.env:
            config["Environment"] = {"Variables": dict(spec.env)}
        if spec.layers:
            config["Layers"] = self._layer_arns(spec)
        try:
            self._lam.get_function_configuration(FunctionName=spec.name)
            exists = True
        except ClientError as e:
            if e.response["Error"]["Code"] != "ResourceNotFoundException":
                raise
            exists = False
        if exists:
            self._lam.update_function_code(FunctionName=spec.name, ZipFile=code)
            self._wait(spec.name)
            result = self._lam.update_function_configuration(FunctionName=spec.name, **config)
            self._wait(spec.name)
        else:
            role = spec.role or self._role or self._role_source()
            result = self._lam.create_function(
                FunctionName=spec.name, Role=role, Code={"ZipFile": code}, **config
            )
            self._lam.get_waiter("function_active_v2").wait(FunctionName=spec.name, WaiterConfig={"Delay": 1})
        self._code_sha[spec.name] = sha(code)
        self._fn_layers[spec.name] = config.get("Layers", [])
        return str(result["FunctionArn"])

    def _wait(self, name: str) -> None:
        self._lam.get_waiter("function_updated_v2").wait(FunctionName=name, WaiterConfig={"Delay": 1})

    def _url(self, name: str) -> str:
        from botocore.exceptions import ClientError

        try:
            return str(self._lam.get_function_url_config(FunctionName=name)["FunctionUrl"])
        except ClientError as e:
            if e.response["Error"]["Code"] != "ResourceNotFoundException":
                raise
        return str(self._lam.create_function_url_config(FunctionName=name, AuthType="NONE")["FunctionUrl"])

    def _layer_arns(self, spec: FunctionSpec) -> list[str]:
        return [self._publish(layer) if isinstance(layer, Path) else layer for layer in spec.layers]

    def _publish(self, directory: Path) -> str:
        """The layer version of `directory`'s current contents, published if they changed."""
        code = zip_directory(directory)
        digest = sha(code)
        if self._layer_sha.get(directory) == digest:
            return self._layer_arn[directory]
        runtimes = sorted({s.runtime for s in self.specs if directory in s.layers})
        arn = str(
            self._lam.publish_layer_version(
                LayerName=layer_name(directory),
                Description=f"stratus dev: {directory.name}",
                Content={"ZipFile": code},
                CompatibleRuntimes=runtimes[:15],
            )["LayerVersionArn"]
        )
        self._layer_sha[directory], self._layer_arn[directory] = digest, arn
        self.published.append(arn)
        return arn

    # -- each save -------------------------------------------------------------------------------

    def apply(self, changed: set[Path]) -> None:
        """Update every function whose code or local layer `changed` touches."""
        python_roots: dict[str, Path] = {}
        for spec in self.specs:
            if spec.runtime.startswith("python"):
                python_roots[f"f:{spec.name}"] = spec.directory
                for layer in spec.layers:
                    if isinstance(layer, Path):
                        python_roots[f"l:{layer}"] = layer
        sources = {p for p in changed if p.suffix == ".py" and owners([p], python_roots)}
        self._broken = {p for p in self._broken if p.exists()}
        problems = check_python(sources | self._broken)
        self._broken = {problem.path for problem in problems}
        now = time.monotonic()
        for problem in problems:
            # One save can reach us as two batches (the truncate, then the write): the same
            # report twice within a moment says nothing new.
            key = (problem.path, problem.text)
            if now - self._reported.get(key, -REPEAT_AFTER_SECONDS) >= REPEAT_AFTER_SECONDS:
                self._printer.say(f"cannot compile {problem.path}:\n{problem.text}", "bold red")
            self._reported[key] = now

        layer_roots = {
            layer: layer for spec in self.specs for layer in spec.layers if isinstance(layer, Path)
        }
        changed_layers = owners(changed, {str(k): v for k, v in layer_roots.items()})
        for spec in self.specs:
            ours = [p for p in changed if is_under(p, spec.directory)]
            layers = [x for x in spec.layers if isinstance(x, Path) and str(x) in changed_layers]
            if not ours and not layers:
                continue
            blocking = [p.path for p in problems if is_under(p.path, spec.directory)] + [
                p.path for p in problems for x in layers if is_under(p.path, x)
            ]
            if blocking:
                if now - self._held.get(spec.name, -REPEAT_AFTER_SECONDS) >= REPEAT_AFTER_SECONDS:
                    self._printer.say(f"{spec.name}: not updated: the previous code keeps serving", "red")
                self._held[spec.name] = now
                continue
            self._update(spec, code_changed=bool(ours), layers_changed=bool(layers))

    def _update(self, spec: FunctionSpec, code_changed: bool, layers_changed: bool) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        started = time.perf_counter()
        what = []
        try:
            if layers_changed:
                # Compared with what this function has, not with what was last published: a
                # layer shared by two functions is published once, and both move to it.
                arns = self._layer_arns(spec)
                if arns != self._fn_layers.get(spec.name):
                    self._lam.update_function_configuration(FunctionName=spec.name, Layers=arns)
                    self._fn_layers[spec.name] = arns
                    what.append("layers")
            if code_changed:
                code = zip_directory(spec.directory)
                digest = sha(code)
                if digest != self._code_sha.get(spec.name):
                    self._lam.update_function_code(FunctionName=spec.name, ZipFile=code)
                    self._code_sha[spec.name] = digest
                    what.append("code")
        except (ClientError, BotoCoreError) as e:
            self._printer.say(f"{spec.name}: update failed, the previous code keeps serving: {e}", "bold red")
            return
        if what:
            ms = (time.perf_counter() - started) * 1000
            self._printer.say(f"{spec.name}: updated {' and '.join(what)} in {ms:.0f} ms", "green")

    # -- the end ---------------------------------------------------------------------------------

    def remove_all(self) -> None:
        from botocore.exceptions import ClientError

        for spec in self.specs:
            try:
                self._lam.delete_function(FunctionName=spec.name)
                self._printer.say(f"{spec.name}: removed")
            except ClientError as e:
                self._printer.say(f"{spec.name}: not removed: {e}", "red")
        for arn in self.published:
            name, _, version = arn.rpartition(":")
            try:
                self._lam.delete_layer_version(LayerName=name, VersionNumber=int(version))
            except ClientError:
                pass  # already gone: nothing to clean


def _stop_on_signals() -> None:
    """Ctrl-C (SIGINT) stops watching even where it was ignored when we started (a shell's
    background job), and SIGTERM does the same, so `--rm` holds for a supervisor's stop too."""

    def interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, interrupt)
    signal.signal(signal.SIGTERM, interrupt)


def single_spec(
    directory: Path,
    name: str,
    runtime: str,
    handler: str,
    memory: int | None,
    timeout: int | None,
    env: dict[str, str],
    layers: tuple[str, ...],
    url: bool,
) -> FunctionSpec:
    return FunctionSpec(
        name=name,
        directory=directory.resolve(),
        runtime=runtime,
        handler=handler,
        memory=memory,
        timeout=timeout,
        env=env,
        url=url,
        layers=tuple(layer_ref(x, Path.cwd()) for x in layers),
    )


@click.command()
@click.argument("directory", default=".", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option(
    "--name",
    default=None,
    help="Deploy DIRECTORY as this one function (else: its stratus.toml or template.yaml).",
)
@click.option("--runtime", default=DEFAULT_RUNTIME, show_default=True)
@click.option("--handler", default=DEFAULT_HANDLER, show_default=True)
@click.option("--memory", type=int, default=None, help="MemorySize in MB (default 128).")
@click.option("--timeout", type=int, default=None, help="Timeout in seconds (default 3).")
@click.option("--env", "env", multiple=True, help="KEY=VALUE; repeatable.")
@click.option(
    "--layer",
    "layers",
    multiple=True,
    help="A layer: a local directory (published again on each save) or a layer version ARN; repeatable.",
)
@click.option("--url", is_flag=True, help="Give the function a URL (AuthType NONE) and print it.")
@click.option(
    "--role", default=None, help="Execution role ARN [default: stratus-function, created if missing]."
)
@click.option(
    "--rm", "remove", is_flag=True, help="Delete the functions when stopped (default: they stay deployed)."
)
@click.option(
    "--debug",
    is_flag=True,
    help="Run every invocation of the functions with a debugger (debugpy, or node --inspect) "
    "waiting on a loopback port this prints.",
)
@click.option(
    "--debug-port",
    type=click.IntRange(0, 65535),
    default=0,
    help="With --debug: the first function's port (the next ones count up) [default: any free one].",
)
@click.option(
    "--wait-timeout",
    type=click.FloatRange(0, 3600),
    default=60.0,
    show_default=True,
    help="With --debug: seconds each invocation waits for a debugger before it runs anyway.",
)
@endpoint_option
@fail_on_client_error
def dev(
    directory: Path,
    name: str | None,
    runtime: str,
    handler: str,
    memory: int | None,
    timeout: int | None,
    env: tuple[str, ...],
    layers: tuple[str, ...],
    url: bool,
    role: str | None,
    remove: bool,
    debug: bool,
    debug_port: int,
    wait_timeout: float,
    endpoint: str,
    data_dir: Path | None,
) -> None:
    """Deploy DIRECTORY and watch it: on each save the function's code is updated, and the next
    invoke runs it. Prints each invocation's logs. Ctrl-C stops watching; the functions stay
    deployed unless --rm."""
    from stratus.cli.functions import _env_pairs

    if name is not None:
        specs = [
            single_spec(directory, name, runtime, handler, memory, timeout, _env_pairs(env), layers, url)
        ]
        for layer in specs[0].layers:
            if isinstance(layer, Path) and not layer.is_dir():
                raise click.BadParameter(
                    f"{layer} is not a directory or a layer version ARN", param_hint="--layer"
                )
    else:
        project = find_project(directory.resolve())
        if project is None:
            raise ProjectError(
                f"{directory} has no stratus.toml or SAM template (template.yaml): "
                "give --name to deploy it as one function"
            )
        specs = read_project(project)
        if url:
            specs = [replace(s, url=True) for s in specs]
    sessions: list[SessionSpec] = []
    if debug:
        debuggable = [s.name for s in specs if s.runtime.startswith(DEBUGGABLE)]
        if not debuggable:
            raise click.BadParameter("none of the functions is Python or Node.js", param_hint="--debug")
        ports = session_ports(debuggable, debug_port)
        sessions = [SessionSpec(n, p, wait_timeout) for n, p in zip(debuggable, ports, strict=True)]
    _stop_on_signals()
    run(specs, endpoint, data_dir, role, remove, sessions)


def run(
    specs: list[FunctionSpec],
    endpoint: str,
    data_dir: Path | None,
    role: str | None,
    remove: bool,
    debug: list[SessionSpec] | None = None,
) -> None:
    """Deploy, tail the logs (and hold the debug sessions) and watch until Ctrl-C (or SIGTERM);
    then stop every thread."""
    import watchfiles

    printer = Printer(prefix_names=len(specs) > 1)
    lam = client("lambda", endpoint, data_dir)
    session = DevSession(lam, specs, printer, role, lambda: default_role(endpoint, data_dir))
    debugging = DebugSessions(endpoint, data_dir, printer)
    stop = threading.Event()
    tails: list[threading.Thread] = []
    deployed = False
    try:
        since_ms = int(time.time() * 1000)
        session.deploy_all()
        deployed = True
        for wanted in debug or []:
            debugging.open(wanted)
        for spec in specs:
            config = lam.get_function_configuration(FunctionName=spec.name)
            group = config.get("LoggingConfig", {}).get("LogGroup") or f"/aws/lambda/{spec.name}"
            target = TailTarget(
                spec.name, group, spec.directory, tuple(x for x in spec.layers if isinstance(x, Path))
            )
            thread = threading.Thread(
                target=tail,
                args=(client("logs", endpoint, data_dir), target, since_ms, stop, printer, LOG_POLL_SECONDS),
                name=f"logs-{spec.name}",
                daemon=True,  # joined below; daemon only so a second Ctrl-C can always exit
            )
            thread.start()
            tails.append(thread)
        roots = watch_roots(
            [s.directory for s in specs] + [x for s in specs for x in s.layers if isinstance(x, Path)]
        )
        after = "removed" if remove else "left deployed"
        printer.say(
            f"watching {', '.join(map(str, roots))}: save to update; "
            f"Ctrl-C stops (the functions are {after})",
            "bold",
        )
        for changes in watchfiles.watch(*roots, step=STEP_MS, debounce=DEBOUNCE_MS, stop_event=stop):
            session.apply({Path(path) for _, path in changes})
    except KeyboardInterrupt:
        pass
    finally:
        stop.set()
        debugging.close()
        for thread in tails:
            thread.join(timeout=5)
        if remove and deployed:
            session.remove_all()
        elif deployed:
            printer.say(f"stopped watching; {', '.join(s.name for s in specs)} left deployed")


def register(cli: click.Group) -> None:
    cli.add_command(dev)
