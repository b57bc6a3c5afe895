from __future__ import annotations

import base64
import errno
import hashlib
import io
import os
import stat
import struct
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
    real_open = os.open

    def full_disk_open(path: str | os.PathLike[str], flags: int, *args: int, **kw: object) -> int:
        if os.fspath(path).endswith("__init__.py"):  # the package's second file
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_open(path, flags, *args, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "open", full_disk_open)
    with pytest.raises(Exception) as info:
        store.put(data)
    # A full disk is the server's condition, not a bad package.
    assert not isinstance(info.value, InvalidParameterValue)
    key = hashlib.sha256(data).hexdigest()
    assert not store.tree(key).exists()
    assert os.listdir(root / "trees") == []
    assert os.listdir(root / "zips") == []

    monkeypatch.setattr(os, "open", real_open)
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


# -- hostile packages (issue 12, item 13) ------------------------------------------------------


def raw_entry(name: str, data: bytes, mode: int = stat.S_IFREG | 0o644) -> tuple[zipfile.ZipInfo, bytes]:
    info = zipfile.ZipInfo(name)
    info.external_attr = mode << 16
    return info, data


def zeros_zip(total: int, *, entries: int = 1) -> bytes:
    """A small zip that inflates to `total` bytes of zeros, declared honestly."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        for i in range(entries):
            with zf.open(f"zero{i}.bin", "w", force_zip64=True) as dst:
                left = total // entries
                while left:
                    n = min(left, 8 * 1024 * 1024)
                    dst.write(bytes(n))
                    left -= n
    return buf.getvalue()


def lying_sizes_zip() -> bytes:
    """One entry of 4 MB of zeros whose headers claim 10 bytes: declared sizes are not trusted."""
    data = bytearray(make_zip([("zeros.bin", bytes(4 * 1024 * 1024))]))
    real = struct.pack("<I", 4 * 1024 * 1024)
    for header, offset in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
        at = data.index(header)
        assert data[at + offset : at + offset + 4] == real
        data[at + offset : at + offset + 4] = struct.pack("<I", 10)
    return bytes(data)


def many_entries_zip(count: int) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as zf:
        for i in range(count):
            zf.writestr(zipfile.ZipInfo(f"{i:x}"), b"")
    return buf.getvalue()


def non_utf8_name_zip() -> bytes:
    """An entry flagged as UTF-8 whose name is not."""
    data = bytearray(make_zip([("app.py", b"x"), ("nameXX.py", b"y")]))
    for header, flags_at in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        start = 0
        while (at := data.find(header, start)) >= 0:
            flags = struct.unpack_from("<H", data, at + flags_at)[0]
            struct.pack_into("<H", data, at + flags_at, flags | 0x800)
            start = at + 4
    at = data.find(b"nameXX")
    while at >= 0:
        data[at + 4 : at + 6] = b"\xff\xfe"
        at = data.find(b"nameXX", at + 1)
    return bytes(data)


HOSTILE_PACKAGES = {
    "file-then-dir-of-same-name": lambda: make_zip(
        [("app.py", b"x"), ("lib", b"file"), ("lib/mod.py", b"y")]
    ),
    "dir-then-file-of-same-name": lambda: make_zip([("lib/mod.py", b"y"), ("lib", b"file")]),
    "dir-entry-and-file-of-same-name": lambda: make_zip(
        [(entry("lib/", stat.S_IFDIR | 0o755), b""), ("lib", b"f")]
    ),
    "entry-named-dot": lambda: make_zip([("app.py", b"x"), (".", b"dot")]),
    "entry-named-dot-slash-dot": lambda: make_zip([("app.py", b"x"), ("./.", b"dot")]),
    "300-character-name": lambda: make_zip([("app.py", b"x"), ("a" * 300 + ".py", b"long")]),
    "300-character-dir-name": lambda: make_zip([("d" * 300 + "/app.py", b"long")]),
    "too-long-path": lambda: make_zip([("/".join(["abcdefgh"] * 300) + "/x.py", b"deep")]),
    "duplicate-names": lambda: make_zip([("app.py", b"first"), ("app.py", b"second")]),
    "duplicate-after-normalising": lambda: make_zip([("lib/app.py", b"first"), ("lib//./app.py", b"second")]),
    "fifo": lambda: make_zip([("app.py", b"x"), raw_entry("pipe", b"", stat.S_IFIFO | 0o644)]),
    "char-device": lambda: make_zip([("app.py", b"x"), raw_entry("null", b"", stat.S_IFCHR | 0o666)]),
    "block-device": lambda: make_zip([("app.py", b"x"), raw_entry("sda", b"", stat.S_IFBLK | 0o660)]),
    "socket": lambda: make_zip([("app.py", b"x"), raw_entry("sock", b"", stat.S_IFSOCK | 0o644)]),
    "bomb-declared": lambda: zeros_zip(251 * 1024 * 1024),
    "bomb-declared-in-many-entries": lambda: zeros_zip(260 * 1024 * 1024, entries=4),
    "lying-sizes": lying_sizes_zip,
    "too-many-entries": lambda: many_entries_zip(100_001),
    "non-utf8-name": non_utf8_name_zip,
}


@pytest.mark.filterwarnings("ignore:Duplicate name")
@pytest.mark.parametrize("name", sorted(HOSTILE_PACKAGES))
def test_hostile_package_is_refused_without_leftovers(name: str, tmp_path: Path) -> None:
    root = tmp_path / "data" / "code"
    store = CodeStore(root)
    with pytest.raises(InvalidParameterValue) as info:
        store.put(HOSTILE_PACKAGES[name]())
    assert info.value.message.startswith(("Could not unzip", "Unzipped size")), info.value.message
    assert everything_under(root) == ["opt", "trees", "zips"]


def test_a_plain_dot_slash_prefix_and_doubled_slashes_are_accepted(root: Path) -> None:
    stored = CodeStore(root).put(make_zip([("./", b""), ("./app.py", b"x"), ("lib//m.py", b"m")]))
    assert (stored.root / "app.py").read_bytes() == b"x"
    assert (stored.root / "lib" / "m.py").read_bytes() == b"m"


def test_names_up_to_255_bytes_are_accepted(root: Path) -> None:
    name = "a" * 252 + ".py"
    stored = CodeStore(root).put(make_zip([(name, b"x")]))
    assert (stored.root / name).read_bytes() == b"x"


def test_temp_files_left_by_a_crash_are_swept_when_the_store_opens(root: Path) -> None:
    store = CodeStore(root)
    kept = store.put(good_zip())
    (root / "zips" / ".upload-abc123").write_bytes(b"\0" * 1024)
    half = root / "trees" / ".extract-xyz"
    (half / "pkg").mkdir(parents=True)
    (half / "pkg" / "a.py").write_bytes(b"x")
    (half / "pkg" / "a.py").chmod(0o444)
    (root / "opt" / ".merge-q1").mkdir()
    CodeStore(root)
    assert everything_under(root / "zips") == [f"{kept.key}.zip"]
    assert [p.name for p in (root / "trees").iterdir()] == [kept.key]
    assert list((root / "opt").iterdir()) == []
    assert (kept.root / "app.py").is_file()
