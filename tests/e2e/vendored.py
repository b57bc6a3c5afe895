"""A function's zip with packages from PyPI vendored into it, as a user builds one
(`pip install --target`, wheels for the server's Python only); the test is skipped, saying why,
where PyPI cannot be reached."""

from __future__ import annotations

import io
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest


def vendored_zip(workdir: Path, app: str, *packages: str) -> bytes:
    target = workdir / "package"
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    installed = subprocess.run(
        [
            sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
            "--target", str(target), "--only-binary=:all:", "--python-version", version, *packages,
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )  # fmt: skip
    if installed.returncode != 0:
        pytest.skip(f"{', '.join(packages)} could not be installed from PyPI: {installed.stderr[-400:]}")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("app.py", app)
        for path in sorted(target.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                zf.write(path, path.relative_to(target).as_posix())
    return buffer.getvalue()
