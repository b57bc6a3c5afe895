"""Content-addressed code: each deployment package is stored once, under its SHA-256.

A package becomes visible only after it is complete: the zip and its extracted tree are written
under temporary names, synced, and renamed into place. Packages that would escape their
directory (absolute paths, `..`, symlinks) are refused before anything is written.
"""

from __future__ import annotations

import base64
import hashlib
import io
import os
import shutil
import stat
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from stratus.errors import InvalidParameterValue
from stratus.store.diskfull import writing

MAX_UNZIPPED = 250 * 1024 * 1024


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

    def _extract(self, key: str, data: bytes, members: list[zipfile.ZipInfo]) -> None:
        tmp = Path(tempfile.mkdtemp(dir=self._trees, prefix=".extract-"))
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as zf:
                for info in members:
                    target = tmp / info.filename
                    if info.is_dir():
                        target.mkdir(parents=True, exist_ok=True)
                        continue
                    target.parent.mkdir(parents=True, exist_ok=True)
                    with zf.open(info) as src, open(target, "wb") as dst:
                        shutil.copyfileobj(src, dst)
                    mode = (info.external_attr >> 16) & 0o777
                    # Code is read-only; keep the executable bit a `bootstrap` needs.
                    target.chmod(0o555 if mode & 0o111 else 0o444)
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


def _validated_members(data: bytes) -> list[zipfile.ZipInfo]:
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, ValueError):
        raise InvalidParameterValue(
            "Could not unzip uploaded file. Please check your file, then try to upload again."
        ) from None
    with zf:
        members = zf.infolist()
        total = 0
        for info in members:
            _check_member(info)
            total += info.file_size
        if total > MAX_UNZIPPED:
            raise InvalidParameterValue(f"Unzipped size must be smaller than {MAX_UNZIPPED} bytes")
        bad = zf.testzip() if members else None
        if bad is not None:
            raise InvalidParameterValue(f"Could not unzip uploaded file: {bad} is corrupt.")
    return members


def _check_member(info: zipfile.ZipInfo) -> None:
    name = info.filename
    path = PurePosixPath(name)
    if name.startswith("/") or "\\" in name or path.is_absolute() or ".." in path.parts:
        raise InvalidParameterValue(
            f"Could not unzip uploaded file: the entry {name!r} points outside the package."
        )
    mode = info.external_attr >> 16
    if stat.S_ISLNK(mode):
        raise InvalidParameterValue(f"Could not unzip uploaded file: the entry {name!r} is a symbolic link.")
