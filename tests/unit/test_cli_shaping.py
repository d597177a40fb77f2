"""`merge`, `unmerge` and `split` on the command line: exit codes (77 refused, 75 busy, 64 usage, 1 bad input
in one line saying what to do) and what `tickets` and `show` say of a merged ticket. In-process CLI on a real
SQLite file (the desk of test_cli_exit_codes: #1 assigned to ann, #2 resolved; bob is staff)."""
from __future__ import annotations

import json
import sqlite3

import pytest

from console import cli
from console.config import load
from console.intake.pipeline import Incoming, file_messages
from store import open_db
from tests.factories import T0, mail
from tests.unit.test_cli_exit_codes import desk, run, short_busy_timeout  # noqa: F401 - fixtures


@pytest.mark.parametrize(("args", "message"), [
    (["merge", "1", "2"], "only a supervisor may merge tickets"),
    (["unmerge", "2"], "only a supervisor may unmerge tickets"),
    (["split", "1", "1"], "#1 is assigned to ann; only they or a supervisor may split it"),
])
def test_refusals_of_permission_exit_77(desk, args, message, capsys):  # noqa: F811
    code, err = run(desk, "--as", "bob", *args, capsys=capsys)
    assert (code, message in err) == (77, True), err


@pytest.mark.parametrize(("args", "code", "message"), [
    (["merge", "1", "1"], 1, "cannot merge #1 into itself"),
    (["merge", "1", "99"], 1, "no ticket #99"),
    (["merge", "2", "1"], 1, "#2 is resolved; reopen it first"),
    (["merge", "1", "x"], 64, "not a ticket id"),
    (["unmerge", "1"], 1, "#1 is not merged into another ticket"),
    (["split", "1", "abc"], 64, "not a message id"),
    (["split", "1", "999"], 1, "no message 999; `show 1 --json` lists"),
    (["split", "1", "2"], 1, "message 2 belongs to #2, not #1"),
    (["split", "1", "1"], 1, "message 1 is the one #1 was opened with"),
])
def test_bad_input_is_one_line_saying_what_to_do(desk, args, code, message, capsys):  # noqa: F811
    got, err = run(desk, "--as", "ann", *args, capsys=capsys)
    assert (got, message in err) == (code, True), err


@pytest.mark.parametrize("args", [["merge", "1", "2", "--yes"], ["unmerge", "2"], ["split", "1", "1"]])
def test_a_busy_database_exits_75(desk, args, short_busy_timeout, capsys):  # noqa: F811
    holder = sqlite3.connect(desk.parent / "support.db", isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        code, err = run(desk, "--as", "ann", *args, capsys=capsys)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert (code, "is locked" in err and "try again" in err) == (75, True), err


def test_merge_with_yes_then_unmerge(desk, capsys):  # noqa: F811
    assert cli.main(["--config", str(desk), "--as", "ann", "merge", "1", "2", "--yes"]) == 0
    assert "#2 merged into #1" in capsys.readouterr().out
    assert cli.main(["--config", str(desk), "show", "2", "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert (shown["merged_into"], shown["messages"]) == (1, [])
    assert cli.main(["--config", str(desk), "show", "1", "--json"]) == 0
    target = json.loads(capsys.readouterr().out)
    assert target["merged"] == [2] and len(target["messages"]) == 2
    assert cli.main(["--config", str(desk), "tickets"]) == 0
    assert "merged into #1" in capsys.readouterr().out
    assert cli.main(["--config", str(desk), "show", "2"]) == 0
    assert "merged into #1" in capsys.readouterr().out
    assert cli.main(["--config", str(desk), "--as", "ann", "unmerge", "2"]) == 0
    assert "#2 unmerged" in capsys.readouterr().out
    assert cli.main(["--config", str(desk), "show", "2", "--json"]) == 0
    back = json.loads(capsys.readouterr().out)
    assert (back["merged_into"], back["status"], len(back["messages"])) == (None, "resolved", 1)


def test_a_merge_across_requesters_needs_yes(desk, capsys):  # noqa: F811
    cfg = load(desk)
    db = open_db(cfg.store_path)
    for who in ("dora@other.example", "erin@else.example"):  # tickets #3 and #4
        file_messages(db, cfg, [Incoming(raw=mail(frm=who, message_id=f"<{who}>"))], T0)
    db.close()
    code, err = run(desk, "--as", "ann", "merge", "3", "4", capsys=capsys)
    assert code == 1 and "come from 2 requesters" in err and "say --yes" in err, err
    assert cli.main(["--config", str(desk), "--as", "ann", "merge", "3", "4", "--yes"]) == 0
