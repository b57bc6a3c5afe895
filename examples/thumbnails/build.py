"""Builds thumbnails.zip: app.py plus Pillow from PyPI, vendored with `pip install --target`
for the Python the function will run under (by default the one running this script, which
should be the server's: the function's runtime must be the same minor version).

    python examples/thumbnails/build.py [-o thumbnails.zip] [--python-version 3.11]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent


def build(output: Path, python_version: str) -> Path:
    with tempfile.TemporaryDirectory() as tmp:
        target = Path(tmp) / "package"
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "--target",
                str(target),
                # A wheel built for that Python on this platform: nothing is compiled here.
                "--only-binary=:all:",
                "--python-version",
                python_version,
                "Pillow",
            ],
            check=True,
        )
        output.parent.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(output, "w", zipfile.ZIP_DEFLATED) as zf:
            zf.write(HERE / "app.py", "app.py")
            for path in sorted(target.rglob("*")):
                if path.is_file() and "__pycache__" not in path.parts:
                    zf.write(path, path.relative_to(target).as_posix())
    return output


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("-o", "--output", type=Path, default=Path("thumbnails.zip"))
    here = f"{sys.version_info.major}.{sys.version_info.minor}"
    parser.add_argument("--python-version", default=here, help=f"the function's Python (default {here})")
    args = parser.parse_args()
    out = build(args.output, args.python_version)
    print(f"{out} ({out.stat().st_size // 1024} KiB): deploy it with --runtime python{args.python_version}")


if __name__ == "__main__":
    main()
