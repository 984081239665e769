"""File store: downloaded files and generated reports under dated paths, written atomically.

Plain Python (the CLI and tests use it directly); `routines.lib.resources.FileStoreResource` exposes it to Dagster.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path, PurePosixPath

CHUNK = 1024 * 1024


@dataclass(frozen=True)
class StoredFile:
    path: Path
    key: str
    size: int
    sha256: str

    def metadata(self) -> dict[str, object]:
        """What a user wants to see about a stored file in the Dagster UI (plain values Dagster accepts)."""
        return {"path": str(self.path), "size_bytes": self.size, "sha256": self.sha256}


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def dated_key(domain: str, day: date, filename: str) -> str:
    """`domain/YYYY/MM/DD/filename`: the layout every domain stores its files under."""
    if "/" in filename or "\\" in filename or filename in {"", ".", ".."}:
        raise ValueError(f"invalid file name {filename!r}")
    return f"{domain}/{day:%Y/%m/%d}/{filename}"


class FileStore:
    """A folder of files addressed by relative keys (`market/b3/2021/06/25/COTAHIST_D25062021.ZIP`)."""

    def __init__(self, root: Path | str):
        self.root = Path(root).resolve()

    def path(self, key: str) -> Path:
        relative = PurePosixPath(key)
        if relative.is_absolute() or ".." in relative.parts or not relative.parts:
            raise ValueError(f"invalid file store key {key!r}")
        return self.root.joinpath(*relative.parts)

    def write_bytes(self, key: str, data: bytes) -> StoredFile:
        return self.write_chunks(key, [data])

    def write_chunks(self, key: str, chunks: Iterable[bytes]) -> StoredFile:
        """Write atomically (temp file in the same folder, fsync, rename): readers never see half a file."""
        target = self.path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha256()
        size = 0
        fd, temp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
        try:
            with os.fdopen(fd, "wb") as handle:
                for chunk in chunks:
                    handle.write(chunk)
                    digest.update(chunk)
                    size += len(chunk)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temp_name, target)
        except BaseException:
            Path(temp_name).unlink(missing_ok=True)
            raise
        return StoredFile(path=target, key=key, size=size, sha256=digest.hexdigest())

    def read_bytes(self, key: str) -> bytes:
        return self.path(key).read_bytes()

    def exists(self, key: str) -> bool:
        return self.path(key).is_file()

    def describe(self, key: str) -> StoredFile:
        target = self.path(key)
        return StoredFile(path=target, key=key, size=target.stat().st_size, sha256=sha256_of(target))


# -- watched drop folders: a file that arrived ends in processed/, rejected/ (with <name>.error.txt) or
# duplicates/ (with <name>.note.txt) beside it, never left behind and never overwritten -----------------------
PROCESSED, REJECTED, DUPLICATES = "processed", "rejected", "duplicates"


def _free_name(folder: Path, name: str) -> Path:
    target = folder / name
    if not target.exists():
        return target
    stamp = datetime.now().strftime("%Y%m%dT%H%M%S%f")
    return folder / f"{Path(name).stem}.{stamp}{Path(name).suffix}"


def _move_into(path: Path, folder_name: str) -> Path:
    folder = path.parent / folder_name
    folder.mkdir(parents=True, exist_ok=True)
    target = _free_name(folder, path.name)
    shutil.move(str(path), target)
    return target


def move_processed(path: Path) -> Path:
    return _move_into(path, PROCESSED)


def move_rejected(path: Path, reason: str) -> Path:
    """Move the file to rejected/ and write `<name>.error.txt` beside it with the reason."""
    target = _move_into(path, REJECTED)
    target.with_name(f"{target.name}.error.txt").write_text(reason + "\n", encoding="utf-8")
    return target


def move_duplicate(path: Path, note: str) -> Path:
    """Move a file whose content is already loaded to duplicates/, with `<name>.note.txt` saying so."""
    target = _move_into(path, DUPLICATES)
    target.with_name(f"{target.name}.note.txt").write_text(note + "\n", encoding="utf-8")
    return target
