"""Exit codes by class (console/cli/errors.py): every refusal of permission exits 77, for every command
that acts (issue 25 item 5); a database that is busy or unavailable for a moment exits 75 with one line
(issue 26). The CLI runs in-process on a real SQLite file; the deleted write-ahead log needs a second
process, so that case runs the CLI as one."""
from __future__ import annotations

import gc
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from console import cli, identity
from console.config import load
from console.intake.pipeline import Incoming, file_messages
from console.poller import sync_staff
from store import db as store_db, open_db
from tests.factories import T0, mail
from tests.integration.alerts_helpers import to_toml

ROOT = Path(__file__).resolve().parents[2]
NOBODY_UID = 65534  # a real account with no [[staff]] entry: it may only read


def write_desk(tmp_path: Path, *, logins: bool) -> Path:
    login = {"ann": "daemon", "bob": "bin"} if logins else {}
    staff = [{"handle": h, "role": role, "notify": [f"json://127.0.0.1:9/{h}"], "email": f"{h}@desk.example",
              **({"login": login[h]} if h in login else {})}
             for h, role in (("ann", "supervisor"), ("bob", "staff"), ("cy", "staff"))]
    conf = tmp_path / "config.toml"
    conf.write_text(to_toml({
        "store": {"path": str(tmp_path / "support.db")}, "staff": staff,
        "routing": {"urgent": ["urgent@desk.example"], "support": ["support@desk.example"]},
        "oncall": {"rotation": ["ann", "bob", "cy"]},
        "smtp": {"host": "127.0.0.1", "port": 9, "security": "none", "from": "support@desk.example"},
    }))
    return conf


@pytest.fixture
def desk(tmp_path):
    """Ticket #1 assigned to ann, ticket #2 resolved by ann; bob is staff, not a supervisor."""
    conf = write_desk(tmp_path, logins=False)
    cfg = load(conf)
    sync_staff(cfg)
    db = open_db(cfg.store_path)
    for i in (1, 2):
        file_messages(db, cfg, [Incoming(raw=mail(i))], T0)
    db.close()
    assert cli.main(["--config", str(conf), "--as", "ann", "take", "1"]) == 0
    assert cli.main(["--config", str(conf), "--as", "ann", "resolve", "2"]) == 0
    gc.collect()  # the commands' connections: a test below takes the file's exclusive lock
    (tmp_path / "body.txt").write_text("Looking into it.\n")
    return conf


def run(conf: Path, *args: str, capsys) -> tuple[int, str]:
    capsys.readouterr()
    code = cli.main(["--config", str(conf), *args])
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("support-console: "), err  # one line
    return code, err


REFUSED_BY_ROLE_OR_ASSIGNMENT = [
    (["ack", "1"], "#1 is assigned to ann; only they or a supervisor may acknowledge it"),
    (["take", "1"], "#1 is assigned to ann; ask a supervisor"),
    (["assign", "1", "cy"], "only a supervisor may assign"),
    (["reclassify", "1", "III", "--panic"], "only a supervisor may record panic mode"),
    (["resolve", "1"], "#1 is assigned to ann; only they or a supervisor may resolve it"),
    (["reopen", "2"], "#2 is assigned to ann; only they or a supervisor may reopen it"),
    (["reply", "1", "--body-file", "BODY"], "#1 is assigned to ann; only they or a supervisor may reply to it"),
    (["oncall", "--set", "primary", "bob", "--until", "8h"], "only a supervisor may change who is on call"),
]


@pytest.mark.parametrize(("args", "message"), REFUSED_BY_ROLE_OR_ASSIGNMENT, ids=lambda v: str(v)[:30])
def test_a_refusal_of_permission_exits_77(desk, args, message, capsys):
    args = [str(desk.parent / "body.txt") if a == "BODY" else a for a in args]
    code, err = run(desk, "--as", "bob", *args, capsys=capsys)
    assert (code, message in err) == (77, True), err


ACTING_COMMANDS = [["ack", "1"], ["take", "1"], ["assign", "1", "cy"], ["reclassify", "1", "II"],
                   ["resolve", "1"], ["reopen", "2"], ["reply", "1", "--body-file", "BODY"],
                   ["note", "1", "--body-file", "BODY"], ["alerts", "--resend", "1"], ["test-page", "ann"],
                   ["oncall", "--set", "primary", "bob", "--until", "8h"]]


@pytest.mark.parametrize("args", ACTING_COMMANDS, ids=lambda v: v[0] + " " + v[1])
def test_an_account_that_may_only_read_exits_77_for_every_acting_command(desk, args, monkeypatch, capsys):
    conf = write_desk(desk.parent, logins=True)
    monkeypatch.setattr(identity, "real_uid", lambda: NOBODY_UID)
    args = [str(desk.parent / "body.txt") if a == "BODY" else a for a in args]
    code, err = run(conf, *args, capsys=capsys)
    assert (code, "it may only read" in err) == (77, True), err


@pytest.mark.parametrize("args", [["ack", "1"], ["note", "1", "--body-file", "BODY"], ["test-page", "ann"]])
def test_someone_not_on_the_staff_list_exits_77(desk, args, capsys):
    args = [str(desk.parent / "body.txt") if a == "BODY" else a for a in args]
    code, err = run(desk, "--as", "zed", *args, capsys=capsys)
    assert (code, "'zed' is not on the staff list" in err) == (77, True), err


def test_a_refusal_that_is_not_about_permission_keeps_exit_1(desk, capsys):
    code, err = run(desk, "--as", "ann", "resolve", "2", capsys=capsys)
    assert (code, err) == (1, "support-console: #2 is already resolved\n")


@pytest.fixture
def short_busy_timeout(monkeypatch):
    monkeypatch.setattr(store_db, "BUSY_TIMEOUT_S", 0.2)  # the commands' own wait, not the test's


BUSY_COMMANDS = [["--as", "ann", "ack", "1"], ["--as", "ann", "take", "2"], ["--as", "ann", "resolve", "1"],
                 ["--as", "ann", "note", "1", "--body-file", "BODY"], ["--as", "ann", "alerts", "--resend", "1"],
                 ["--as", "ann", "oncall", "--set", "primary", "bob", "--until", "8h"]]


@pytest.mark.parametrize("args", BUSY_COMMANDS, ids=lambda v: v[2])
def test_a_database_another_process_writes_to_exits_75(desk, args, short_busy_timeout, capsys):
    holder = sqlite3.connect(desk.parent / "support.db", isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # a console or the poller in a long write transaction
    try:
        args = [str(desk.parent / "body.txt") if a == "BODY" else a for a in args]
        code, err = run(desk, *args, capsys=capsys)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert (code, "is locked" in err and "try again" in err) == (75, True), err


@pytest.mark.parametrize("args", [["tickets"], ["show", "1"], ["status"], ["unfiled"], ["alerts"],
                                  ["--as", "ann", "ack", "1"], ["--as", "ann", "reply", "1", "--body-file", "BODY"]])
def test_a_database_held_exclusively_exits_75_for_every_command(desk, args, short_busy_timeout, capsys):
    holder = sqlite3.connect(desk.parent / "support.db", isolation_level=None)
    holder.execute("PRAGMA locking_mode = EXCLUSIVE")
    holder.execute("BEGIN EXCLUSIVE")
    holder.execute("UPDATE settings SET value = value")  # takes the file's exclusive lock: nobody else reads
    try:
        args = [str(desk.parent / "body.txt") if a == "BODY" else a for a in args]
        code, err = run(desk, *args, capsys=capsys)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert (code, "is locked" in err and "try again" in err) == (75, True), err


def test_a_deleted_write_ahead_log_is_said_in_one_line_and_exits_75(desk, capsys):
    path = desk.parent / "support.db"
    holder = sqlite3.connect(path, isolation_level=None)  # the poller, holding the database open
    holder.execute("PRAGMA wal_autocheckpoint = 0")
    holder.execute("UPDATE tickets SET subject = subject || ' (edited)'")  # frames only in the -wal file
    Path(f"{path}-wal").unlink()
    try:
        out = subprocess.run([sys.executable, "-m", "console.cli", "--config", str(desk), "tickets"], cwd=ROOT,
                             capture_output=True, text=True, timeout=60)
    finally:
        holder.close()  # the last connection writes the log back
    assert out.returncode == 75, out.stderr
    assert out.stderr.count("\n") == 1 and out.stderr.startswith(f"support-console: database {path}"), out.stderr
    assert f"its write-ahead log {path}-wal was deleted while another process" in out.stderr
    capsys.readouterr()
    assert cli.main(["--config", str(desk), "tickets"]) == 0  # and after that, nothing was lost
    assert "Help (edited)" in capsys.readouterr().out
