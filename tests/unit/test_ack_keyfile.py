"""The acknowledge links' key file (console/ack/keyfile.py): made once, mode 0600, refused when exposed."""
from __future__ import annotations

import os
import stat
import threading

import pytest

from console.ack import keyfile


def test_made_once_with_mode_0600_whatever_the_umask(tmp_path):
    path = keyfile.key_path(tmp_path / "support.db")
    assert path == tmp_path / "support.db.ackkey"
    assert keyfile.load(path) is None
    old = os.umask(0)
    try:
        key = keyfile.load_or_create(path)
    finally:
        os.umask(old)
    assert len(key) == keyfile.KEY_BYTES
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert keyfile.load_or_create(path) == key == keyfile.load(path)
    assert [p.name for p in tmp_path.iterdir()] == ["support.db.ackkey"]  # no temporary file left


def test_racing_creators_agree_on_one_key(tmp_path):
    path = tmp_path / "k.ackkey"
    keys, barrier = [], threading.Barrier(8)

    def make():
        barrier.wait()
        keys.append(keyfile.load_or_create(path))

    threads = [threading.Thread(target=make) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(keys) == 8 and len(set(keys)) == 1


def test_a_key_file_others_can_read_is_refused(tmp_path):
    path = tmp_path / "k.ackkey"
    keyfile.load_or_create(path)
    path.chmod(0o640)
    with pytest.raises(keyfile.KeyFileError, match="chmod 600"):
        keyfile.load(path)
    with pytest.raises(keyfile.KeyFileError):
        keyfile.load_or_create(path)


def test_a_damaged_key_file_is_refused_not_replaced(tmp_path):
    path = tmp_path / "k.ackkey"
    path.write_text("not hex\n")
    path.chmod(0o600)
    with pytest.raises(keyfile.KeyFileError, match="damaged"):
        keyfile.load_or_create(path)
    assert path.read_text() == "not hex\n"


def test_a_symlink_is_not_followed(tmp_path):
    real = tmp_path / "real"
    keyfile.load_or_create(real)
    link = tmp_path / "k.ackkey"
    link.symlink_to(real)
    with pytest.raises(keyfile.KeyFileError):
        keyfile.load(link)
