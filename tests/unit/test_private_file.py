"""console/private_file.py: the one writer (and reader) of the desk's secret files, on a real directory."""
from __future__ import annotations

import os
import stat

import pytest

from console.private_file import read_private, write_private


class Refused(Exception):
    pass


def leftovers(directory) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.startswith("."))


def test_replace_puts_the_whole_file_in_place_unreadable_by_others(tmp_path):
    path = tmp_path / "secret"
    path.write_bytes(b"old")
    os.chmod(path, 0o644)
    old_umask = os.umask(0)
    try:
        assert write_private(path, b"new" * 10_000, "the secret", Refused, replace=True)
    finally:
        os.umask(old_umask)
    assert read_private(path, "the secret", Refused) == b"new" * 10_000
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert leftovers(tmp_path) == []


def test_without_replace_a_file_already_there_stands(tmp_path):
    path = tmp_path / "key"
    assert write_private(path, b"first", "the key", Refused, replace=False)
    assert not write_private(path, b"second", "the key", Refused, replace=False)
    assert path.read_bytes() == b"first" and leftovers(tmp_path) == []


def test_a_refusal_while_writing_leaves_nothing_behind(tmp_path):
    path = tmp_path / "tokens"

    def refuse(fd: int) -> None:
        raise Refused("must belong to the poller's account")

    with pytest.raises(Refused, match="poller's account"):
        write_private(path, b"x", "the token file", Refused, replace=True, prepare=refuse)
    assert not path.exists() and leftovers(tmp_path) == []


def test_a_directory_that_is_not_there_is_one_line(tmp_path):
    with pytest.raises(Refused, match=r"^cannot create the key in .*/gone: No such file or directory$"):
        write_private(tmp_path / "gone" / "key", b"x", "the key", Refused, replace=False, doing="create")
