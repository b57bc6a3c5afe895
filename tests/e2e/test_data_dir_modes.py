"""Issue 12 item 7: no other user of the machine reads the data dir.

The attack as reported: user `nobody` read a function's environment secret out of
`stratus.db-wal`. Here a real server stores a function with a secret in a data dir whose parent
any user may enter, and then uid 65534 tries to read every file under it. The same attack is
made against a data dir left open by an older version, which the server must tighten at start;
and the function still runs, since environments (uids of their own) read their code where the
isolation backend binds it.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.conftest import Server, create

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="reading as another uid needs root")

NOBODY = 65534
SECRET = "s3cr3t-" + os.urandom(8).hex()
HANDLER = """
import os

def handler(event, context):
    print("logged", os.environ["SECRET"][:3])
    return {"ok": os.environ["SECRET"] == event["expect"]}
"""


@pytest.fixture
def open_parent() -> Iterator[Path]:
    """A directory any user may enter (pytest's own tmp dirs are private to root, which would
    hide the data dir whatever its mode, and the test could not fail)."""
    base = Path(tempfile.mkdtemp(prefix="stratus-modes-"))
    os.chmod(base, 0o755)
    yield base
    shutil.rmtree(base, ignore_errors=True)


def as_nobody(paths: list[Path]) -> dict[str, list[str]]:
    """Try to read each path as uid 65534 (with `cat`, which any user may run): what could be
    read, and where the secret was found."""
    readable, found = [], []
    for path in paths:
        out = subprocess.run(
            ["cat", "--", str(path)],
            capture_output=True,
            user=NOBODY,
            group=NOBODY,
            extra_groups=[],
            timeout=60,
        )
        if out.returncode == 0:
            readable.append(str(path))
            if SECRET.encode() in out.stdout:
                found.append(str(path))
    return {"readable": readable, "found": found}


def every_file(data_dir: Path) -> list[Path]:
    return [p for p in data_dir.rglob("*") if p.is_file() and not p.is_symlink()]


def holding_the_secret(paths: list[Path]) -> list[Path]:
    return [p for p in paths if SECRET.encode() in p.read_bytes()]


def loosen(data_dir: Path) -> None:
    """What an older version left: the default umask's modes (and tmpfs-like open dirs)."""
    os.chmod(data_dir, 0o755)
    for path in data_dir.rglob("*"):
        if path.is_symlink():
            continue
        os.chmod(path, 0o755 if path.is_dir() else 0o644)


def test_nobody_reads_the_data_dir(open_parent: Path) -> None:
    # The attacker harness itself works: nobody reads an open file next to the data dir.
    bait = open_parent / "bait.txt"
    bait.write_text(SECRET)
    os.chmod(bait, 0o644)
    assert as_nobody([bait])["found"] == [str(bait)]

    data_dir = open_parent / "data"
    srv = Server(data_dir).start()
    try:
        lam = srv.client("lambda")
        create(lam, "holder", {"app.py": HANDLER}, Environment={"Variables": {"SECRET": SECRET}})
        out = lam.invoke(FunctionName="holder", Payload=json.dumps({"expect": SECRET}).encode())
        assert json.loads(out["Payload"].read()) == {"ok": True}
        files = every_file(data_dir)
        assert holding_the_secret(files), "the secret should be stored somewhere to be stolen"
        stolen = as_nobody(files)
        assert stolen == {"readable": [], "found": []}, stolen
        assert stat.S_IMODE(data_dir.stat().st_mode) == 0o700
        for name in ("stratus.db", "stratus.db-wal", "events.db", "logs.db", "metrics.db"):
            path = data_dir / name
            if path.exists():
                assert stat.S_IMODE(path.stat().st_mode) == 0o600, name
    finally:
        assert srv.stop() == 0

    # A data dir an older version left open is tightened at start, and says so.
    loosen(data_dir)
    assert as_nobody(every_file(data_dir))["found"], "loosened, the secret is readable again"
    srv = Server(data_dir).start()
    try:
        assert "tightened" in srv.output()
        stolen = as_nobody(every_file(data_dir))
        assert stolen == {"readable": [], "found": []}, stolen
        # Even with the directory opened up again by hand, the state files themselves are 0600.
        os.chmod(data_dir, 0o755)
        try:
            state = [p for p in data_dir.iterdir() if p.is_file()]
            assert state and holding_the_secret(state)
            assert as_nobody(state)["found"] == []
        finally:
            os.chmod(data_dir, 0o700)
        # Environments still read their code: a cold start after the restart runs.
        lam = srv.client("lambda")
        out = lam.invoke(FunctionName="holder", Payload=json.dumps({"expect": SECRET}).encode())
        assert json.loads(out["Payload"].read()) == {"ok": True}
    finally:
        assert srv.stop() == 0
