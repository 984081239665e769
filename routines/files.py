"""File store: downloaded files and generated reports under dated paths, written atomically.

Plain Python (the CLI and tests use it directly); `routines.lib.resources.FileStoreResource` exposes it to Dagster.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
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
