"""The data dir's modes: decided per entry (pure), applied at start to a new or an old dir."""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path, PurePosixPath

import pytest

from stratus.store.datadir import prepare, wanted_mode
from stratus.store.sqlite import Store

DIR = stat.S_IFDIR
FILE = stat.S_IFREG


def test_wanted_modes() -> None:
    assert wanted_mode(PurePosixPath("."), DIR | 0o755) == 0o700
    assert wanted_mode(PurePosixPath("."), DIR | 0o700) is None
    assert wanted_mode(PurePosixPath("code"), DIR | 0o755) == 0o700
    assert wanted_mode(PurePosixPath("run"), DIR | 0o711) == 0o700
    assert wanted_mode(PurePosixPath("stratus.db"), FILE | 0o644) == 0o600
    assert wanted_mode(PurePosixPath("stratus.db-wal"), FILE | 0o666) == 0o600
    assert wanted_mode(PurePosixPath("credentials.json"), FILE | 0o600) is None
    assert wanted_mode(PurePosixPath("logs.db"), FILE | 0o400) is None
    assert wanted_mode(PurePosixPath("code/zips/abc.zip"), FILE | 0o644) == 0o600
    # What environments read where they are bound: left alone.
    assert wanted_mode(PurePosixPath("code/trees/abc/app.py"), FILE | 0o444) is None
    assert wanted_mode(PurePosixPath("code/trees/abc"), DIR | 0o755) is None
    assert wanted_mode(PurePosixPath("code/opt/abc/python/x.py"), FILE | 0o444) is None
    assert wanted_mode(PurePosixPath("code/artifacts/k/app.jar"), FILE | 0o444) is None
    assert wanted_mode(PurePosixPath("stratus.db-link"), stat.S_IFLNK | 0o777) is None


def test_a_new_data_dir_is_private(tmp_path: Path) -> None:
    data = tmp_path / "data"
    assert prepare(data) == []
    assert stat.S_IMODE(data.stat().st_mode) == 0o700
    store = Store(data / "stratus.db")
    store.put_function("us-east-1", "f", {"env": "secret"})
    for path in data.iterdir():
        if path.is_file():
            assert stat.S_IMODE(path.stat().st_mode) == 0o600, path.name  # the -wal too
    store.close()


def test_an_open_data_dir_is_tightened_and_logged(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    data = tmp_path / "data"
    (data / "code" / "zips").mkdir(parents=True)
    (data / "code" / "trees" / "k").mkdir(parents=True)
    for name in ("stratus.db", "stratus.db-wal", "credentials.json", "code/zips/k.zip"):
        (data / name).write_text("secret")
        os.chmod(data / name, 0o644)
    (data / "code" / "trees" / "k" / "app.py").write_text("code")
    os.chmod(data / "code" / "trees" / "k" / "app.py", 0o444)
    for d in (data, data / "code", data / "code" / "zips"):
        os.chmod(d, 0o755)
    with caplog.at_level(logging.WARNING, "stratus"):
        tightened = prepare(data)
    assert len(tightened) == 7 and any("stratus.db-wal 0644 -> 0600" in t for t in tightened)
    assert "tightened 7 entries" in caplog.text
    assert stat.S_IMODE(data.stat().st_mode) == 0o700
    assert stat.S_IMODE((data / "code").stat().st_mode) == 0o700
    for name in ("stratus.db", "stratus.db-wal", "credentials.json", "code/zips/k.zip"):
        assert stat.S_IMODE((data / name).stat().st_mode) == 0o600
    assert stat.S_IMODE((data / "code" / "trees" / "k" / "app.py").stat().st_mode) == 0o444
    assert prepare(data) == []  # nothing left to do
