"""The file store: atomic writes under dated keys, size and sha256, no escape from the root."""

from __future__ import annotations

import hashlib
from datetime import date

import pytest

from routines.files import FileStore, dated_key, sha256_of


def test_write_returns_size_and_sha256_and_leaves_no_temp_file(tmp_path):
    store = FileStore(tmp_path)
    key = dated_key("market/b3", date(2021, 6, 25), "COTAHIST_D25062021.ZIP")
    assert key == "market/b3/2021/06/25/COTAHIST_D25062021.ZIP"
    stored = store.write_chunks(key, [b"abc", b"def"])
    assert stored.size == 6
    assert stored.sha256 == hashlib.sha256(b"abcdef").hexdigest() == sha256_of(stored.path)
    assert store.read_bytes(key) == b"abcdef"
    assert [p.name for p in stored.path.parent.iterdir()] == ["COTAHIST_D25062021.ZIP"]
    assert store.describe(key) == stored


def test_failed_write_keeps_the_previous_file_whole(tmp_path):
    store = FileStore(tmp_path)
    store.write_bytes("a/file.txt", b"old content")

    def chunks():
        yield b"new "
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        store.write_chunks("a/file.txt", chunks())
    assert store.read_bytes("a/file.txt") == b"old content"
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == ["file.txt"]


@pytest.mark.parametrize("key", ["../outside.txt", "/etc/passwd", "a/../../b", ""])
def test_keys_cannot_escape_the_root(tmp_path, key):
    with pytest.raises(ValueError, match="invalid file store key"):
        FileStore(tmp_path).path(key)


def test_dated_key_refuses_paths_as_names():
    with pytest.raises(ValueError):
        dated_key("x", date(2024, 1, 2), "../evil")
