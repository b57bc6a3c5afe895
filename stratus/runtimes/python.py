"""Python runtimes: finding each interpreter and the runtime client it runs.

Each `python3.X` runtime is served by that interpreter where the host has one, resolved to its
real binary (a pyenv shim costs about 70 ms per start). The runtime client is the official
`awslambdaric`, with boto3 as Lambda provides it, installed once per interpreter version into a
cache shared by all data dirs (`stratus runtimes install`).
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

SUPPORTED = ("python3.11", "python3.12", "python3.13")
RIC_VERSION = "4.2.2"
RUNTIME_PACKAGES = (f"awslambdaric=={RIC_VERSION}", "boto3")
BOOT_DIR = Path(__file__).resolve().parent / "pyboot"
COMPLETE_MARKER = ".complete"


@dataclass(frozen=True)
class PythonRuntime:
    name: str  # e.g. python3.12
    interpreter: Path
    client_dir: Path

    @property
    def version(self) -> str:
        return self.name.removeprefix("python")

    def argv(self, handler: str) -> tuple[str, ...]:
        # -S: no site module; functions see only their code, layers and the runtime's packages,
        # and start faster. -u is unnecessary: awslambdaric unbuffers stdout itself.
        return (str(self.interpreter), "-S", "-m", "stratus_pyboot", handler)

    def python_path(self) -> str:
        return os.pathsep.join([str(BOOT_DIR), str(self.client_dir)])


def _candidates(name: str) -> list[Path]:
    version = name.removeprefix("python")
    found: list[Path] = []
    exe = Path(sys.executable)
    if f"{sys.version_info.major}.{sys.version_info.minor}" == version:
        found.append(exe)
    for directory in ("/usr/local/bin", "/usr/bin"):
        found.append(Path(directory) / name)
    pyenv_root = Path(os.environ.get("PYENV_ROOT", "~/.pyenv")).expanduser()
    for match in sorted(
        glob.glob(str(pyenv_root / "versions" / f"{version}.*" / "bin" / name)), reverse=True
    ):
        found.append(Path(match))
    for directory in os.environ.get("PATH", "").split(os.pathsep):
        if directory:
            found.append(Path(directory) / name)
    return found


def find_interpreter(name: str) -> Path | None:
    """The real binary for `name`, skipping shell-script shims."""
    for candidate in _candidates(name):
        try:
            real = candidate.resolve(strict=True)
        except (OSError, RuntimeError):
            continue
        if not real.is_file() or not os.access(real, os.X_OK):
            continue
        with open(real, "rb") as f:
            if f.read(2) == b"#!":
                continue  # a shim script, such as pyenv's
        return real
    return None


def client_dir(cache: Path, name: str) -> Path:
    return cache / f"{name}-awslambdaric-{RIC_VERSION}"


def discover(cache: Path) -> dict[str, PythonRuntime | str]:
    """Each supported runtime, or the reason it is unavailable."""
    result: dict[str, PythonRuntime | str] = {}
    for name in SUPPORTED:
        interpreter = find_interpreter(name)
        if interpreter is None:
            result[name] = f"no {name} interpreter was found on this host"
            continue
        directory = client_dir(cache, name)
        if directory.is_dir() and directory.stat().st_mode & 0o005 != 0o005:
            directory.chmod(0o755)  # installed by an earlier version that left it private
        if not (directory / COMPLETE_MARKER).exists():
            result[name] = f"the runtime client for {name} is not installed; run `stratus runtimes install`"
            continue
        result[name] = PythonRuntime(name, interpreter, directory)
    return result


def install(cache: Path, name: str, *, quiet: bool = True) -> Path:
    """Install awslambdaric and boto3 for `name` with pip, atomically."""
    target = client_dir(cache, name)
    if (target / COMPLETE_MARKER).exists():
        return target
    cache.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=cache, prefix=f".{name}-"))
    try:
        cmd = [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--disable-pip-version-check",
            "--target",
            str(tmp),
            "--only-binary=:all:",
            "--implementation",
            "cp",
            "--python-version",
            name.removeprefix("python"),
            *RUNTIME_PACKAGES,
        ]
        if quiet:
            cmd.append("--quiet")
        subprocess.run(cmd, check=True)
        (tmp / COMPLETE_MARKER).write_text(RIC_VERSION)
        # mkdtemp made it private; environments run as other uids and must read it.
        tmp.chmod(0o755)
        if target.exists():
            shutil.rmtree(target)
        os.rename(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target


NO_HOST = "no Python runtime is available to prepare its environments"


def host_runtime(python: dict[str, PythonRuntime | str]) -> PythonRuntime | None:
    """The Python runtime whose zygote prepares the environments of the other runtimes (they
    exec their own program once the blank is confined)."""
    return next((r for r in python.values() if isinstance(r, PythonRuntime)), None)
