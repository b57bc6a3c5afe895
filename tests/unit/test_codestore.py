from __future__ import annotations

import base64
import hashlib
import io
import os
import shutil
import stat
import zipfile
from pathlib import Path

import pytest

from stratus.control.codestore import CodeStore
from stratus.errors import InvalidParameterValue


def make_zip(entries: list[tuple[str | zipfile.ZipInfo, bytes]]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in entries:
            zf.writestr(name, data)
    return buf.getvalue()


def entry(name: str, mode: int) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name)
    info.external_attr = mode << 16
    return info


def good_zip() -> bytes:
    return make_zip(
        [
            (entry("app.py", stat.S_IFREG | 0o644), b"def handler(event, context):\n    return event\n"),
            (entry("pkg/", stat.S_IFDIR | 0o755), b""),
            (entry("pkg/__init__.py", stat.S_IFREG | 0o600), b""),
            (entry("pkg/deep/data.txt", stat.S_IFREG | 0o644), b"payload"),
            (entry("bootstrap", stat.S_IFREG | 0o755), b"#!/bin/sh\necho hi\n"),
        ]
    )


def everything_under(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path / "data" / "code"


def test_put_stores_and_extracts_read_only(root: Path) -> None:
    store = CodeStore(root)
    data = good_zip()
    stored = store.put(data)

    digest = hashlib.sha256(data)
    assert stored.key == digest.hexdigest()
    assert stored.sha256_b64 == base64.b64encode(digest.digest()).decode()
    assert stored.size == len(data)
    assert stored.root == store.tree(stored.key) == root / "trees" / stored.key
    assert store.zip_path(stored.key).read_bytes() == data

    tree = stored.root
    assert (tree / "app.py").read_text().startswith("def handler")
    assert (tree / "pkg" / "deep" / "data.txt").read_bytes() == b"payload"
    assert stat.S_IMODE((tree / "app.py").stat().st_mode) == 0o444
    assert stat.S_IMODE((tree / "pkg" / "__init__.py").stat().st_mode) == 0o444
    assert stat.S_IMODE((tree / "bootstrap").stat().st_mode) == 0o555
    for directory in (tree, tree / "pkg", tree / "pkg" / "deep"):
        assert stat.S_IMODE(directory.stat().st_mode) == 0o755
    assert not any(name.startswith((".upload-", ".extract-")) for name in everything_under(root))


def test_put_same_bytes_is_idempotent(root: Path) -> None:
    store = CodeStore(root)
    data = good_zip()
    first = store.put(data)
    inode = (first.root / "app.py").stat().st_ino
    zip_inode = store.zip_path(first.key).stat().st_ino
    before = everything_under(root)

    second = store.put(data)
    assert second == first
    assert (second.root / "app.py").stat().st_ino == inode
    assert store.zip_path(first.key).stat().st_ino == zip_inode
    assert everything_under(root) == before


def test_different_packages_live_side_by_side(root: Path) -> None:
    store = CodeStore(root)
    a = store.put(make_zip([("a.py", b"A")]))
    b = store.put(make_zip([("b.py", b"B")]))
    assert a.key != b.key
    assert (a.root / "a.py").read_bytes() == b"A"
    assert (b.root / "b.py").read_bytes() == b"B"


def test_a_reopened_store_finds_stored_code(root: Path) -> None:
    data = good_zip()
    key = CodeStore(root).put(data).key
    again = CodeStore(root)
    assert again.tree(key).is_dir()
    assert again.put(data).key == key


def test_empty_zip_is_accepted(root: Path) -> None:
    stored = CodeStore(root).put(make_zip([]))
    assert stored.root.is_dir()
    assert list(stored.root.iterdir()) == []


def _symlink_zip() -> bytes:
    return make_zip([("app.py", b"x"), (entry("link", stat.S_IFLNK | 0o777), b"/etc/passwd")])


def _corrupt_zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr("app.py", b"A" * 64)
    data = buf.getvalue()
    at = data.index(b"A" * 64)
    return data[:at] + b"B" + data[at + 1 :]  # the stored CRC no longer matches


BAD_PACKAGES = {
    "not-a-zip": b"this is not a zip file",
    "empty-bytes": b"",
    "dot-dot": make_zip([("app.py", b"x"), ("../evil.py", b"evil")]),
    "deep-dot-dot": make_zip([("app.py", b"x"), ("a/../../../../evil.py", b"evil")]),
    "absolute": make_zip([("app.py", b"x"), ("/tmp/stratus-evil.py", b"evil")]),
    "backslash": make_zip([("app.py", b"x"), ("..\\evil.py", b"evil")]),
    "symlink": _symlink_zip(),
    "corrupt": _corrupt_zip(),
}


@pytest.mark.parametrize("name", sorted(BAD_PACKAGES))
def test_bad_package_is_refused_without_leftovers(name: str, tmp_path: Path) -> None:
    root = tmp_path / "data" / "code"
    store = CodeStore(root)
    with pytest.raises(InvalidParameterValue) as info:
        store.put(BAD_PACKAGES[name])
    assert info.value.message.startswith(("Could not unzip", "Unzipped size"))
    # Nothing written: no package, no temporary upload or extraction, nothing outside the dir.
    assert everything_under(root) == ["opt", "trees", "zips"]
    assert everything_under(tmp_path) == [
        "data",
        "data/code",
        "data/code/opt",
        "data/code/trees",
        "data/code/zips",
    ]
    assert not Path("/tmp/stratus-evil.py").exists()


def test_failed_extraction_leaves_no_partial_tree(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = CodeStore(root)
    data = good_zip()
    calls = 0
    real_copy = shutil.copyfileobj

    def failing_copy(src: object, dst: object, *args: object) -> None:
        nonlocal calls
        calls += 1
        if calls == 2:
            raise OSError("disk full")
        real_copy(src, dst)  # type: ignore[arg-type]

    monkeypatch.setattr(shutil, "copyfileobj", failing_copy)
    with pytest.raises(OSError, match="disk full"):
        store.put(data)
    key = hashlib.sha256(data).hexdigest()
    assert not store.tree(key).exists()
    assert os.listdir(root / "trees") == []
    assert not any(name.startswith(".upload-") for name in os.listdir(root / "zips"))

    monkeypatch.setattr(shutil, "copyfileobj", real_copy)
    stored = store.put(data)  # a retry completes the package
    assert (stored.root / "pkg" / "deep" / "data.txt").read_bytes() == b"payload"


def test_layers_merge_in_order_once(root: Path) -> None:
    store = CodeStore(root)
    base = store.put(
        make_zip([("python/shared.py", b"base"), ("python/base_only.py", b"b"), ("bin/tool", b"t")])
    )
    top = store.put(make_zip([("python/shared.py", b"top")]))
    merged = store.layered((base.key, top.key))
    assert (merged / "python/shared.py").read_bytes() == b"top"  # the later layer wins
    assert (merged / "python/base_only.py").read_bytes() == b"b"
    assert not os.access(merged / "python/shared.py", os.W_OK) or os.geteuid() == 0
    assert store.layered((base.key, top.key)) == merged  # built once per combination
    reverse = store.layered((top.key, base.key))
    assert reverse != merged and (reverse / "python/shared.py").read_bytes() == b"base"
    assert not [p for p in (root / "opt").iterdir() if p.name.startswith(".")]  # no leftovers
