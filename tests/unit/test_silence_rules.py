"""What a silence matches and what it refuses (console/outbox/silences.py): pure."""
from __future__ import annotations

from datetime import timedelta

import pytest

from console.outbox.silences import first_match, matches, validate
from store.errors import UsageError


def s(kind: str, pattern: str, id_: int = 1) -> dict:
    return {"id": id_, "kind": kind, "pattern": pattern}


@pytest.mark.parametrize(("silence", "requester", "subject", "held"), [
    (s("sender", "Nagios@Monitor.example"), "nagios@monitor.example", "x", True),
    (s("sender", "nagios@monitor.example"), "zabbix@monitor.example", "x", False),
    (s("domain", "monitor.example"), "nagios@monitor.example", "x", True),
    (s("domain", "monitor.example"), "nagios@eu.monitor.example", "x", True),  # below the domain
    (s("domain", "monitor.example"), "nagios@badmonitor.example", "x", False),  # not a suffix of a label
    (s("subject", "PROBLEM host1"), "a@b.example", "** PROBLEM Host1 DOWN **", True),
    (s("subject", "problem host1 *"), "a@b.example", "PROBLEM host1 DOWN", True),
    (s("subject", "problem host1 *"), "a@b.example", "RE: PROBLEM host1 DOWN", False),  # a pattern is anchored
    (s("subject", "problem"), "a@b.example", None, False),
])
def test_matches(silence, requester, subject, held):
    assert matches(silence, requester, subject) is held


def test_the_oldest_matching_silence_holds():
    assert first_match([s("domain", "x.example", 3), s("sender", "a@x.example", 4)], "a@x.example", "") == 3
    assert first_match([s("domain", "y.example", 3)], "a@x.example", "") is None


@pytest.mark.parametrize(("kind", "pattern", "length", "reason", "words"), [
    ("domain", "cust.example", timedelta(hours=25), "work", "at most 24h"),
    ("domain", "cust.example", timedelta(0), "work", "some time"),
    ("domain", "cust.example", timedelta(hours=1), "  ", "needs a reason"),
    ("sender", "cust.example", timedelta(hours=1), "work", "not an address"),
    ("domain", "localhost", timedelta(hours=1), "work", "not a domain"),
    ("subject", "\x1b[2J", timedelta(hours=1), "work", "empty"),
])
def test_refusals_are_one_line(kind, pattern, length, reason, words):
    with pytest.raises(UsageError, match=words) as e:
        validate(kind, pattern, length, reason)
    assert "\n" not in str(e.value)


def test_a_day_is_allowed_and_a_domain_is_kept_lower_case():
    assert validate("domain", "@Cust.Example", timedelta(hours=24), "work") == "cust.example"


def test_a_page_says_what_carried_or_held_it():
    from console.ui.format import page_words

    base = {"step": "arrival", "target": "bob", "attempts": 0, "last_error": None}
    assert page_words({**base, "state": "bundled", "carried_by": 7}) == "arrival page to bob: carried by page 7"
    assert page_words({**base, "state": "silenced", "silenced_by": 3}) == "arrival page to bob: held by silence 3"
    assert page_words({**base, "state": "sent", "silenced_by": 3}) == \
        "arrival page to bob: delivered (released by silence 3)"
    assert page_words({**base, "state": "sent"}) == "arrival page to bob: delivered"


def test_the_silences_migration_keeps_every_page_and_allows_silenced(tmp_path):
    import sqlite3

    from sqlite_utils import Database

    from store import open_db, write
    from store.schema import migrations

    path = tmp_path / "old.db"
    old = Database(sqlite3.connect(path))
    migrations.apply(old, stop_before="m1951_silences")
    with write(old):
        for i, state in enumerate(("sent", "bundled", "pending"), 1):
            old.execute("INSERT INTO alerts (dedup_key, step, target, title, body, state, due_at, created_at,"
                        " next_attempt_at, updated_at, carried_by) VALUES (?, 'arrival', 'bob', 't', 'b', ?, 'x', 'x',"
                        " 'x', 'x', ?)", [f"k{i}", state, 1 if state == "bundled" else None])
    with pytest.raises(sqlite3.IntegrityError), write(old):
        old.execute("UPDATE alerts SET state = 'silenced' WHERE id = 3")
    indexes = {r[0] for r in old.execute("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'alerts'")}
    old.conn.close()
    db = open_db(path)
    assert [m.name for m in migrations.pending(db)] == []
    assert [tuple(r) for r in db.execute("SELECT id, state, carried_by, silenced_by FROM alerts ORDER BY id")] == [
        (1, "sent", None, None), (2, "bundled", 1, None), (3, "pending", None, None)]
    now = db.execute("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'alerts'").fetchall()
    assert indexes | {"alerts_silenced", "alerts_person_recent"} == {r[0] for r in now}  # and m1804's, after it
    with write(db):
        db.execute("INSERT INTO silences (kind, pattern, reason, created_by, created_at, ends_at)"
                   " VALUES ('domain', 'x.example', 'r', 'ann', 'x', 'y')")
        db.execute("UPDATE alerts SET state = 'silenced', silenced_by = 1 WHERE id = 3")
