"""The replies' storage: the widened message kinds (the upgrade itself is tested in test_store.py), and
the mail outbox's own rules."""
from datetime import timedelta

import pytest

from store import open_db, outgoing, write
from store.db import StoreError
from tests.factories import T0


def test_the_kind_migration_does_nothing_when_the_check_already_admits_them(tmp_path):
    from store.schema import m102_message_kinds

    db = open_db(tmp_path / "new.db")
    before = db.execute("SELECT sql FROM sqlite_master WHERE name = 'messages'").fetchone()[0]
    m102_message_kinds(db)  # a second run (another migration widened it, or a crash before its record)
    assert db.execute("SELECT sql FROM sqlite_master WHERE name = 'messages'").fetchone()[0] == before


def _queued(db, now=T0, to="carl@cust.example", automatic=False):
    with write(db):
        db.execute("INSERT OR IGNORE INTO tickets (id, class, received_at, due_at, created_at, updated_at)"
                   " VALUES (1, 'I', 'a', 'b', 'c', 'd')")
        row = outgoing.add_message(db, ticket_id=1, kind="outgoing", raw=b"mail", message_id=None, from_addr="d@x",
                                   from_name="", recipients=[to], subject="s", body_text="b", in_reply_to=None, refs=(),
                                   now=now, source="desk:x")
        return outgoing.add_send(db, message_row=row, ticket_id=1, purpose="receipt" if automatic else "reply",
                                 actor="x", automatic=automatic, mail_from="d@x", to_addr=to, rcpt_to=[to], now=now)


def test_a_claimed_row_is_claimed_once(db):
    sid = _queued(db)
    with write(db):
        assert [r["id"] for r in outgoing.claim(db, T0, claimed_by="a", send_deadline=T0)] == [sid]
        assert outgoing.claim(db, T0, claimed_by="b", send_deadline=T0) == []
        assert outgoing.claim(db, T0, claimed_by="b", send_deadline=T0, send_id=sid) == []
    with write(db):  # only the claimer finishes it
        assert not outgoing.mark_sent(db, sid, "b", T0, reply="250")
        assert outgoing.mark_sent(db, sid, "a", T0, reply="250")
    assert outgoing.get_send(db, sid)["state"] == "sent"


def test_requeue_only_what_is_expired_or_failed_and_failures_are_listed(db):
    sid = _queued(db)
    with pytest.raises(StoreError, match="only expired or failed"), write(db):
        outgoing.requeue(db, sid, T0)
    with write(db):
        outgoing.claim(db, T0, claimed_by="a", send_deadline=T0)
        outgoing.mark_failed(db, sid, "a", T0 + timedelta(minutes=1), error="550 no")
    assert [r["id"] for r in outgoing.failures_since(db, T0)] == [sid]
    assert outgoing.failures_since(db, T0 + timedelta(minutes=2)) == []
    with write(db):
        assert outgoing.requeue(db, sid, T0)["state"] == "pending"


def test_automatic_mail_window_and_desk_ids(db):
    _queued(db, to="Carl@Cust.example", automatic=True)
    _queued(db, to="dora@cust.example")
    assert outgoing.automatic_since(db, "carl@cust.example", T0)
    assert not outgoing.automatic_since(db, "carl@cust.example", T0 + timedelta(seconds=1))
    assert not outgoing.automatic_since(db, "dora@cust.example", T0 - timedelta(hours=1))  # a person's reply
