"""Packages from PyPI (and npm) for the e2e tests that run real libraries, as a user packages them:
`pip install --target` with wheels for the server's Python and this machine's platform only,
into a function's zip or under a layer's `python/`. Installs are cached outside the repository
(keyed by Python version, platform and the requirement list) so reruns skip the download; a
test is skipped, saying why, only where the registry cannot be reached."""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "stratus" / "tests"

# The Python runtime the wheels are for: the interpreter running the tests is the server's, and
# the server serves `python3.X` with the host's interpreter of that version.
PYTHON_RUNTIME = f"python{sys.version_info.major}.{sys.version_info.minor}"

# What pip and npm print when the registry cannot be reached (resolution, connection, TLS,
# proxy): only then is a test skipped; any other failure (no wheel for this platform, a bad
# requirement) fails it.
UNREACHABLE = (
    "NewConnectionError", "Temporary failure in name resolution", "Name or service not known",
    "Network is unreachable", "ConnectTimeoutError", "ReadTimeoutError", "ProxyError", "SSLError",
    "Max retries exceeded", "Could not fetch URL", "ENOTFOUND", "EAI_AGAIN", "ECONNREFUSED",
    "ECONNRESET", "ETIMEDOUT", "ENETUNREACH", "EHOSTUNREACH",
)  # fmt: skip


def _refused(registry: str, packages: tuple[str, ...], output: str) -> None:
    """Skip (the registry is unreachable) or fail (anything else), saying why."""
    why = f"{', '.join(packages)} could not be installed from {registry}: {output[-600:]}"
    if any(sign in output for sign in UNREACHABLE):
        pytest.skip(why)
    pytest.fail(why)


def _cached(kind: str, key: str, install: Callable[[Path], None]) -> Path:
    """The folder `install` fills, made once per key; built beside it and renamed into place so
    that an interrupted (or skipped, or failed) install never counts as cached."""
    digest = hashlib.sha256(key.encode()).hexdigest()[:16]
    folder = CACHE / kind / digest
    if folder.is_dir():
        return folder
    folder.parent.mkdir(parents=True, exist_ok=True)
    building = Path(tempfile.mkdtemp(prefix=f".{digest}-", dir=folder.parent))
    try:
        install(building)
        try:
            building.rename(folder)
        except OSError:  # another run finished the same install first
            if not folder.is_dir():
                raise
    finally:
        shutil.rmtree(building, ignore_errors=True)
    return folder


def site_packages(*packages: str) -> Path:
    """A folder holding `packages` as `pip install --target` lays them out, for the Python that
    serves the `python3.X` runtime of this interpreter's version (the host's, on this platform)."""
    version = PYTHON_RUNTIME.removeprefix("python")

    def install(target: Path) -> None:
        installed = subprocess.run(
            [
                sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                "--no-compile", "--target", str(target), "--only-binary=:all:",
                "--python-version", version, *packages,
            ],
            capture_output=True,
            text=True,
            timeout=600,
        )  # fmt: skip
        if installed.returncode != 0:
            _refused("PyPI", packages, installed.stderr)

    return _cached("pypi", "\n".join((version, sysconfig.get_platform(), *packages)), install)


def node_modules(*packages: str) -> Path:
    """A folder with `node_modules/` holding `packages` as `npm install` lays them out."""
    npm = shutil.which("npm")
    if npm is None:
        pytest.skip("npm is not installed")

    def install(target: Path) -> None:
        (target / "package.json").write_text('{"name": "stratus-e2e", "version": "1.0.0", "private": true}\n')
        installed = subprocess.run(
            [npm, "install", "--no-audit", "--no-fund", "--omit=dev", *packages],
            cwd=target,
            capture_output=True,
            text=True,
            timeout=600,
        )
        if installed.returncode != 0:
            _refused("npm", packages, installed.stderr)

    return _cached("npm", "\n".join(packages), install)


def zip_folder(files: dict[str, str], folder: Path | None = None, prefix: str = "") -> bytes:
    """A zip of `files` ({path: text}) and of every file under `folder`, placed under `prefix`."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, text in files.items():
            zf.writestr(name, text)
        if folder is not None:
            for path in sorted(folder.rglob("*")):
                if path.is_file() and "__pycache__" not in path.parts:
                    zf.write(path, prefix + path.relative_to(folder).as_posix())
    return buffer.getvalue()


def vendored_zip(workdir: Path, app: str, *packages: str) -> bytes:
    """A function's zip: `app` as app.py beside `packages` (from the cache; `workdir` is no longer
    needed and kept for the callers that pass one)."""
    del workdir
    return zip_folder({"app.py": app}, site_packages(*packages))


def layer_zip(*packages: str) -> bytes:
    """A layer's zip with `packages` under python/, where the Python runtimes look (/opt/python)."""
    return zip_folder({}, site_packages(*packages), prefix="python/")
