"""Storage faults are loud: a database deleted, replaced or missing, a deleted WAL, a lock held too long.

Real SQLite files in a temp dir; the faults are made the way an operator's bad day makes them (rm, mv,
another process holding the lock).
"""
import os
import sqlite3

import pytest

from console import cli
from store import open_db, write
from store import db as store_db
from store.db import DatabaseMissing, DatabaseUnavailable
from store.fileguard import Guard, set_aside


def _rows(db) -> int:
    return db.execute("SELECT count(*) FROM heartbeats").fetchone()[0]


def _add(db, name: str) -> None:
    with write(db):
        db.execute("INSERT INTO heartbeats (name, at, pid, host, detail) VALUES (?, '2026-01-01T00:00:00Z', 1, 'h', "
                   "'{}')", [name])


def test_a_new_desk_gets_a_database_but_a_missing_one_beside_the_desks_files_is_refused(tmp_path):
    path = tmp_path / "support.db"
    open_db(path).close()  # first run of a new desk: nothing here yet
    assert path.exists()
    (tmp_path / "support.db.ackkey").write_text("k")
    for p in tmp_path.glob("support.db*"):
        if p.name != "support.db.ackkey":
            p.unlink()
    with pytest.raises(DatabaseMissing, match=r"support.db is missing.*support.db.ackkey.*restore --from URL.*"
                                              r"init --database"):
        open_db(path)
    assert not path.exists()  # nothing was created
    open_db(path, create=True).close()  # starting afresh is explicit
    assert path.exists()


@pytest.mark.parametrize("leftover", ["support.db-wal", "support.db.outbox.lock", "support.db.poller-abc.lock",
                                      ".support.db-litestream"])
def test_any_of_the_desks_files_counts_as_a_sign_a_database_was_here(tmp_path, leftover):
    (tmp_path / leftover).write_text("")
    with pytest.raises(DatabaseMissing):
        open_db(tmp_path / "support.db")
    (tmp_path / "other.db.ackkey").write_text("")  # another desk's files are not this one's
    open_db(tmp_path / "fresh.db").close()


def test_set_aside_moves_the_old_state_but_keeps_the_locks(tmp_path):
    for n in ("support.db-wal", "support.db.ackkey", "support.db.outbox.lock"):
        (tmp_path / n).write_text("x")
    moved = set_aside(tmp_path / "support.db", "STAMP")
    assert sorted(p.name for p in moved) == ["support.db-wal.old-STAMP", "support.db.ackkey.old-STAMP"]
    assert (tmp_path / "support.db.outbox.lock").exists()  # a lock carries no state (and may be held)


def test_a_lock_held_past_the_busy_timeout_is_database_unavailable_naming_the_file(tmp_path, monkeypatch):
    path = tmp_path / "support.db"
    db = open_db(path)
    db.conn.execute("PRAGMA busy_timeout = 100")
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(DatabaseUnavailable, match=rf"database {path} is locked.*try again") as info:
            _add(db, "x")
        assert isinstance(info.value, sqlite3.OperationalError)  # retry code that catches SQLite's errors still does
        assert info.value.sqlite_errorcode & 0xFF == 5
    finally:
        holder.execute("ROLLBACK")
    _add(db, "x")


def test_a_deleted_wal_is_named_to_the_next_command_and_the_guard_saves_its_changes(tmp_path):
    path = tmp_path / "support.db"
    poller = open_db(path)
    poller.conn.execute("PRAGMA wal_autocheckpoint = 0")  # keep the commits in the WAL, as between checkpoints
    guard = Guard(path)
    _add(poller, "a")
    _add(poller, "b")
    os.unlink(f"{path}-wal")
    with pytest.raises(DatabaseUnavailable, match=r"write-ahead log .*support.db-wal was deleted.*stop every"):
        other = open_db(path)
        _rows(other)
    assert "write-ahead log" in guard.check()
    assert "copied into the database" in guard.rescue()
    poller.close()
    guard.close()
    for p in tmp_path.glob("support.db-*"):
        p.unlink()
    assert _rows(open_db(path)) == 2  # nothing the poller committed was lost


def test_the_guard_sees_a_deleted_database_and_saves_its_last_state(tmp_path):
    path = tmp_path / "support.db"
    db = open_db(path)
    guard = Guard(path)
    assert guard.check() is None
    _add(db, "a")
    path.unlink()
    _add(db, "b")  # SQLite goes on writing to the unlinked file
    assert guard.check() == f"database {path} was deleted while in use"
    how = guard.rescue()
    saved = next(tmp_path.glob("support.db.saved-*"))
    assert f"saved as {saved}" in how and f"mv {saved} {path}" in how
    assert oct(saved.stat().st_mode & 0o777) == "0o600"  # it holds mail
    db.close()
    guard.close()
    assert not path.exists()  # closing a moved database leaves the path alone
    check = sqlite3.connect(saved)
    assert check.execute("SELECT count(*) FROM heartbeats").fetchone()[0] == 2


def test_the_guard_sees_a_database_replaced_by_another_file(tmp_path):
    path = tmp_path / "support.db"
    open_db(path).close()
    guard = Guard(path)
    other = tmp_path / "other.db"
    open_db(other).close()
    os.rename(other, path)
    assert "replaced by another file" in guard.check()
    assert "find out which file" in guard.rescue()
    guard.close()


def test_cli_a_locked_database_is_one_line_and_exit_75(tmp_path, monkeypatch, capsys):
    conf = tmp_path / "config.toml"
    conf.write_text('[store]\npath = "support.db"\n[[staff]]\nhandle = "ann"\nrole = "supervisor"\n')
    assert cli.main(["--config", str(conf), "--as", "ann", "tickets"]) == 0
    monkeypatch.setattr(store_db, "BUSY_TIMEOUT_S", 0.2)
    holder = sqlite3.connect(tmp_path / "support.db", isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another process writing for longer than the busy timeout
    try:
        capsys.readouterr()
        code = cli.main(["--config", str(conf), "--as", "ann", "ack", "1"])
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    err = capsys.readouterr().err
    assert code == 75, err
    assert len(err.strip().splitlines()) == 1 and "is locked" in err and "internal error" not in err


def test_status_says_a_missing_database_was_deleted_rather_than_never_run(tmp_path, capsys):
    conf = tmp_path / "config.toml"
    conf.write_text('[store]\npath = "support.db"\n[[staff]]\nhandle = "ann"\nrole = "supervisor"\n')
    assert cli.main(["--config", str(conf), "status"]) == 1
    assert "no poller has run" in capsys.readouterr().out
    (tmp_path / "support.db.ackkey").write_text("k")
    assert cli.main(["--config", str(conf), "status"]) == 1
    out = capsys.readouterr().out
    assert "support.db is missing" in out and "restore" in out and not (tmp_path / "support.db").exists()
