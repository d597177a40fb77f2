"""The store's database handle (store.db.Database): SQLite's autocommit mode with write() opening every
transaction, sqlite-utils imported only when something of its own is used, and the migrations' "anything
pending?" read without it. Real SQLite files throughout."""
from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from store import open_db, write
from store import schema
from tests.factories import mail

REPO = Path(__file__).resolve().parents[2]


def other(path) -> sqlite3.Connection:
    return sqlite3.connect(path)


def test_a_write_outside_write_is_committed_at_once(db, cfg):
    db.execute("INSERT INTO heartbeats (name, at, pid, host) VALUES ('x', 'now', 1, 'h')")
    assert not db.conn.in_transaction  # no transaction left open to hold the write lock
    assert other(cfg.store_path).execute("SELECT count(*) FROM heartbeats WHERE name = 'x'").fetchone()[0] == 1


def test_write_commits_together_or_not_at_all_and_a_nested_one_rolls_back_alone(db, cfg):
    with pytest.raises(RuntimeError), write(db):
        db.execute("INSERT INTO heartbeats (name, at, pid, host) VALUES ('a', 'now', 1, 'h')")
        raise RuntimeError
    with write(db):
        db.execute("INSERT INTO heartbeats (name, at, pid, host) VALUES ('b', 'now', 1, 'h')")
        with pytest.raises(RuntimeError), write(db):
            db.execute("INSERT INTO heartbeats (name, at, pid, host) VALUES ('c', 'now', 1, 'h')")
            raise RuntimeError
        assert other(cfg.store_path).execute("SELECT count(*) FROM heartbeats").fetchone()[0] == 0  # not yet
    names = [r[0] for r in other(cfg.store_path).execute("SELECT name FROM heartbeats ORDER BY name")]
    assert names == ["b"]


def test_sqlite_utils_is_there_for_what_it_does(db):
    assert "tickets" in db.table_names()
    assert db["messages"].detect_fts() == "messages_fts"
    assert db.utils.conn is db.conn  # one connection, one transaction state


def test_what_is_pending_is_read_as_sqlite_utils_reads_it(tmp_path):
    fresh = open_db(tmp_path / "new.db", migrate=False)
    assert schema.pending(fresh.conn) == [m.name for m in schema.migrations.pending(fresh.utils)]
    assert len(schema.pending(fresh.conn)) > 20
    schema.migrations.apply(fresh.utils, stop_before="m2203_raw_apart")
    assert schema.pending(fresh.conn) == [m.name for m in schema.migrations.pending(fresh.utils)]
    assert schema.pending(fresh.conn)[0] == "m2203_raw_apart"
    fresh.close()
    done = open_db(tmp_path / "new.db")  # opening migrates the rest
    assert schema.pending(done.conn) == [] == schema.migrations.pending(done.utils)


@pytest.mark.parametrize("to", ["support@desk.example", "urgent@desk.example"])
def test_ingest_into_an_up_to_date_desk_never_imports_sqlite_utils(db, cfg, tmp_path, to):
    conf = tmp_path / "config.toml"
    conf.write_text(f'[store]\npath = "{cfg.store_path}"\n[routing]\nsupport = ["support@desk.example"]\n'
                    'urgent = ["urgent@desk.example"]\n'
                    '[[staff]]\nhandle = "ann"\nrole = "supervisor"\nnotify = ["json://127.0.0.1:9/ann"]\n'
                    '[oncall]\nrotation = ["ann"]\n')
    # Nor dataclasses (a dataclass writes and compiles its methods in every process that defines it), nor
    # logging for a mail that logs nothing (console.log_later). A Class III is filed and paged (its pages
    # queued in the outbox) the same way: it is the mail whose seconds count.
    probe = ("import sys; from console.cli import main; code = main(sys.argv[1:]);"
             " print(*(m in sys.modules for m in ('sqlite_utils', 'click', 'dataclasses', 'logging')));"
             " sys.exit(code)")
    r = subprocess.run([sys.executable, "-c", probe, "--config", str(conf), "ingest"],
                       input=mail(to=to, subject="hello"), capture_output=True, cwd=REPO, timeout=60)
    assert r.returncode == 0, r.stderr.decode()
    assert r.stdout.decode().split() == ["new", "(ticket", "#1)", "False", "False", "False", "False"]
    urgent = to.startswith("urgent")
    assert db.execute("SELECT class FROM tickets").fetchone()[0] == ("III" if urgent else "I")
    assert (db.execute("SELECT count(*) FROM alerts").fetchone()[0] > 0) == urgent
    # What it filed is there, in the full-text index too.
    assert db.execute("SELECT count(*) FROM messages_fts WHERE messages_fts MATCH 'hello'").fetchone()[0] == 1
