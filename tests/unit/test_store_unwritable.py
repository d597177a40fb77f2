"""The deferral message for a database file this account cannot write names the real problem (issue 21,
item 6): the mode when the owner or group is already right, else the owner."""
import os
from pathlib import Path

from store.db import unwritable

DB = Path("/var/lib/desk/support.db")


def st(uid: int, gid: int, mode: int) -> os.stat_result:
    return os.stat_result((0o100000 | mode, 0, 0, 1, uid, gid, 0, 0, 0, 0))


def test_right_owner_wrong_mode_says_chmod_not_chown():
    msg = unwritable(DB, DB, st(65534, 65534, 0o440), 65534, {65534}, "nobody", "nobody", "nogroup")
    assert "owned by nobody, but its mode 0440" in msg and "chmod u+rw" in msg and "chown" not in msg


def test_right_group_wrong_mode_says_chmod_g():
    msg = unwritable(DB, DB, st(0, 1000, 0o640), 65534, {65534, 1000}, "nobody", "root", "desk")
    assert "group desk, which nobody is in" in msg and "0640" in msg and "chmod g+rw" in msg
    assert "chown" not in msg


def test_wrong_owner_and_group_names_the_owner():
    msg = unwritable(DB, DB, st(0, 0, 0o600), 65534, {65534}, "nobody", "root", "root")
    assert "owned by root:root (mode 0600)" in msg and "neither its owner nor in its group" in msg
    assert "chown nobody" in msg
