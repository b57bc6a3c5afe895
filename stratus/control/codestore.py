"""Content-addressed code: each deployment package is stored once, under its SHA-256.

A package becomes visible only after it is complete: the zip and its extracted tree are written
under temporary names, synced, and renamed into place; what a crash leaves under those names is
swept when the store opens. A package is planned before anything is written (`_plan`, pure):
entries that would escape the directory (absolute paths, `..`, symlinks), that are not plain
files or directories, that clash (a file and a directory of one name, a name twice), or whose
names no filesystem takes are refused, as are more entries or more declared bytes than allowed.
Extraction then counts the bytes it actually inflates, since declared sizes are the sender's
word. Every failure to unzip is the client's InvalidParameterValueException.
"""

from __future__ import annotations

import base64
import errno
import hashlib
import io
import os
import shutil
import stat
import struct
import tempfile
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from stratus.errors import InvalidParameterValue
from stratus.store.diskfull import writing

MAX_UNZIPPED = 250 * 1024 * 1024  # Lambda's quota for a function's unzipped code and layers
# Stratus's own bound: parsing a central directory costs about 500 bytes of memory per entry,
# and each entry is an inode. Real packages (node_modules included) stay far below it.
MAX_ENTRIES = 100_000
NAME_MAX = 255  # bytes in one path component, as Linux filesystems allow
PATH_MAX = 2048  # bytes in an entry's whole name: well inside PATH_MAX with the data dir in front
UNZIP_FAILED = "Could not unzip uploaded file. Please check your file, then try to upload again."
TEMP_PREFIXES = (".upload-", ".extract-", ".merge-")
CHUNK = 1024 * 1024


@dataclass(frozen=True)
class StoredCode:
    key: str  # hex SHA-256
    sha256_b64: str
    size: int
    root: Path  # the extracted, read-only tree


class CodeStore:
    def __init__(self, root: Path) -> None:
        self._zips = root / "zips"
        self._trees = root / "trees"
        self._root = root
        self._opt = root / "opt"
        for directory in (self._zips, self._trees, self._opt):
            directory.mkdir(parents=True, exist_ok=True)
        self._sweep()

    def _sweep(self) -> None:
        """Remove what an upload or merge cut short by a crash left under temporary names. A
        data dir has one server, and this runs before it serves, so none is in progress."""
        for directory in (self._zips, self._trees, self._opt):
            for entry in os.scandir(directory):
                if not entry.name.startswith(TEMP_PREFIXES):
                    continue
                if entry.is_dir(follow_symlinks=False):
                    shutil.rmtree(entry.path, ignore_errors=True)
                else:
                    Path(entry.path).unlink(missing_ok=True)

    def tree(self, key: str) -> Path:
        return self._trees / key

    def artifact_path(self, name: str) -> Path:
        """Where something derived from packages at deploy lives (a Java function's archive)."""
        return self._root / "artifacts" / name

    def layered_path(self, keys: tuple[str, ...]) -> Path:
        return self._opt / hashlib.sha256("\n".join(keys).encode()).hexdigest()

    def layered(self, keys: tuple[str, ...]) -> Path:
        """The /opt of a function: its layers' trees merged in order, a later layer's files
        replacing an earlier one's. Built once per combination. Blocking: call it from a worker
        thread where it may have to build."""
        target = self.layered_path(keys)
        if target.is_dir():
            return target
        tmp = Path(tempfile.mkdtemp(dir=self._opt, prefix=".merge-"))
        try:
            for key in keys:
                shutil.copytree(self.tree(key), tmp, dirs_exist_ok=True, copy_function=_replace_copy)
            for dirpath, _, _ in os.walk(tmp):
                os.chmod(dirpath, 0o755)
            try:
                os.rename(tmp, target)
            except OSError:
                if not target.is_dir():
                    raise
                shutil.rmtree(tmp, ignore_errors=True)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return target

    def zip_path(self, key: str) -> Path:
        return self._zips / f"{key}.zip"

    def put(self, data: bytes) -> StoredCode:
        """Validate, store and extract a zip. Blocking: call it from a worker thread."""
        digest = hashlib.sha256(data)
        key = digest.hexdigest()
        stored = StoredCode(key, base64.b64encode(digest.digest()).decode(), len(data), self.tree(key))
        if self.tree(key).is_dir() and self.zip_path(key).is_file():
            return stored
        members = _validated_members(data)
        new_zip = not self.zip_path(key).is_file()
        try:
            with writing():  # a full disk answers DiskFull, not an incident
                self._write_zip(key, data)
                self._extract(key, data, members)
        except BaseException:
            if new_zip:  # no zip without its tree: a failed upload leaves nothing behind
                self.zip_path(key).unlink(missing_ok=True)
            raise
        return stored

    def _write_zip(self, key: str, data: bytes) -> None:
        fd, tmp = tempfile.mkstemp(dir=self._zips, prefix=".upload-")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.zip_path(key))
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def _extract(self, key: str, data: bytes, members: list[Entry]) -> None:
        tmp = Path(tempfile.mkdtemp(dir=self._trees, prefix=".extract-"))
        try:
            try:
                _unpack(data, members, tmp)
            except InvalidParameterValue:
                raise
            except OSError as e:
                if e.errno in (errno.ENOSPC, errno.EDQUOT):
                    raise  # the disk, not the package: mapped as a full disk
                raise InvalidParameterValue(UNZIP_FAILED) from None
            except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError, ValueError):
                # Corrupt data, a bad CRC, an unknown compression method, an encrypted entry.
                raise InvalidParameterValue(UNZIP_FAILED) from None
            for dirpath, _, _ in os.walk(tmp):
                os.chmod(dirpath, 0o755)
            try:
                os.rename(tmp, self.tree(key))
            except OSError:
                if not self.tree(key).is_dir():  # not a concurrent upload of the same package
                    raise
                shutil.rmtree(tmp, ignore_errors=True)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise


def _replace_copy(src: str, dst: str) -> None:
    """Copy over a read-only file that an earlier layer put there."""
    if os.path.lexists(dst):
        os.unlink(dst)
    shutil.copy2(src, dst)


@dataclass(frozen=True)
class Entry:
    """One member of a planned package: where it goes, and whether it is a directory."""

    info: zipfile.ZipInfo
    path: str  # normalised, relative, "/"-separated; "" for the package's root
    is_dir: bool


def _refuse(detail: str) -> InvalidParameterValue:
    return InvalidParameterValue(f"Could not unzip uploaded file: {detail}")


def _too_big() -> InvalidParameterValue:
    return InvalidParameterValue(f"Unzipped size must be smaller than {MAX_UNZIPPED} bytes")


def _validated_members(data: bytes) -> list[Entry]:
    _check_entry_count(data)
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, ValueError, EOFError, NotImplementedError):
        raise InvalidParameterValue(UNZIP_FAILED) from None
    with zf:
        return _plan(zf.infolist())


def _check_entry_count(data: bytes) -> None:
    """Refuse a package of too many entries before zipfile parses its central directory into
    objects. The directory's records are counted by their signature: an upper bound, whatever
    the end record claims."""
    tail = max(0, len(data) - (22 + 0xFFFF))
    end = data.rfind(b"PK\x05\x06", tail)
    if end < 0 or end + 22 > len(data):
        return  # not a zip: zipfile says so
    size = struct.unpack_from("<I", data, end + 12)[0]
    start = 0 if size == 0xFFFFFFFF else max(0, end - size - 76)  # 76: zip64 records, if any
    if data.count(b"PK\x01\x02", start, end) > MAX_ENTRIES:
        raise _refuse(f"it has more than {MAX_ENTRIES} entries.")


def _plan(members: list[zipfile.ZipInfo]) -> list[Entry]:
    """Where each member goes, or the reason the package is refused. Pure."""
    if len(members) > MAX_ENTRIES:
        raise _refuse(f"it has more than {MAX_ENTRIES} entries.")
    plan: list[Entry] = []
    files: set[str] = set()
    dirs: set[str] = {""}
    declared = 0
    for info in members:
        entry = _entry(info)
        if entry is None:
            continue
        if entry.is_dir:
            dirs.add(entry.path)
        elif entry.path in files:
            raise _refuse(f"the entry {info.filename!r} appears more than once.")
        else:
            files.add(entry.path)
            declared += info.file_size
        parts = entry.path.split("/")
        dirs.update("/".join(parts[:i]) for i in range(1, len(parts)))
        plan.append(entry)
    clash = files & dirs
    if clash:
        raise _refuse(f"{min(clash)!r} is both a file and a directory.")
    if declared > MAX_UNZIPPED:
        raise _too_big()
    return plan


def _entry(info: zipfile.ZipInfo) -> Entry | None:
    """One member's place in the tree; None for the package's root directory itself."""
    name = info.filename
    if name.startswith("/") or "\\" in name or PurePosixPath(name).is_absolute():
        raise _refuse(f"the entry {name!r} points outside the package.")
    parts = [part for part in name.split("/") if part not in ("", ".")]
    if ".." in parts:
        raise _refuse(f"the entry {name!r} points outside the package.")
    mode = info.external_attr >> 16
    kind = stat.S_IFMT(mode)
    if stat.S_ISLNK(mode):
        raise _refuse(f"the entry {name!r} is a symbolic link.")
    if kind not in (0, stat.S_IFREG, stat.S_IFDIR):
        raise _refuse(f"the entry {name!r} is not a regular file or a directory.")
    is_dir = name.endswith("/") or kind == stat.S_IFDIR
    if not parts:
        if is_dir:
            return None
        raise _refuse(f"the entry {name!r} has no file name.")
    path = "/".join(parts)
    encoded = [part.encode("utf-8", "surrogateescape") for part in parts]
    if max(map(len, encoded)) > NAME_MAX or sum(map(len, encoded)) + len(encoded) - 1 > PATH_MAX:
        raise _refuse(
            f"the entry name {name[:64]!r}... is too long (at most {NAME_MAX} bytes per name, "
            f"{PATH_MAX} in all)."
        )
    if "\x00" in path:
        raise _refuse(f"the entry {name!r} has a NUL character in its name.")
    return Entry(info, path, is_dir)


def _unpack(data: bytes, plan: list[Entry], root: Path) -> None:
    """Write the planned entries under `root`, counting the bytes actually inflated."""
    total = 0
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        for entry in plan:
            target = root / entry.path
            if entry.is_dir:
                target.mkdir(parents=True, exist_ok=True)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            # O_EXCL | O_NOFOLLOW: the plan has no duplicates and no links; never follow one.
            fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
            with zf.open(entry.info) as src, os.fdopen(fd, "wb") as dst:
                while chunk := src.read(CHUNK):
                    total += len(chunk)
                    if total > MAX_UNZIPPED:
                        raise _too_big()
                    dst.write(chunk)
            mode = (entry.info.external_attr >> 16) & 0o777
            # Code is read-only; keep the executable bit a `bootstrap` needs.
            target.chmod(0o555 if mode & 0o111 else 0o444)
