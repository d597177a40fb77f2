"""Search through the full-text index (issue 22): case and accents ignored as console.fold ignores them,
every word of the search, the last one possibly only begun; kept in step with filing; built by a migration
for mail stored before it."""
from __future__ import annotations

from datetime import timedelta

from console.fold import fold
from console.intake.pipeline import Incoming, file_messages
from store import console_reads, messages, open_db, write
from store.schema import migrations
from tests.factories import T0, mail


def _file(db, cfg, n, **kw):
    item = Incoming(mail(message_id=f"<s{n}@cust.example>", **kw))
    [filed] = file_messages(db, cfg, [item], T0 + timedelta(minutes=n))
    return filed.ticket_id


def test_search_folds_case_accents_and_compatibility_forms_like_the_list(db, cfg):
    es = _file(db, cfg, 1, subject="Exportación PDF", frm="jose@muñoz.example",
               body="Grüße aus München. Die ﬁle ist kaputt.")
    en = _file(db, cfg, 2, subject="Printer jammed", frm="carl@cust.example", body="The printer in room 12 jams.")
    find = lambda q: console_reads.tickets_with_text(db, q)  # noqa: E731
    for q in ("EXPORTACION", "exportación", "munoz", "GRUSSE aus munchen", "grüße", "file", "MÜNCH", "muñoz.example"):
        assert find(q) == {es}, q
    assert find("printer room 12") == {en}       # every word, anywhere in the message
    assert find("print") == {en}                 # the last word may be only begun
    assert find("printer zebra") == set()
    assert find("rinter") == set()               # words, not the middle of one
    assert find("  ") == set() and find("@@") == set()
    assert fold("Grüße ﬁle") == messages.search_fold("Grüße ﬁle")  # the store folds as the console does


def test_search_sees_mail_in_the_transaction_that_files_it(db, cfg):
    with write(db):
        tid = _file(db, cfg, 1, subject="Kangaroo", body="The kangaroo keeps squinting.")
        assert console_reads.tickets_with_text(db, "squinting") == {tid}
    assert console_reads.tickets_with_text(db, "kangaroo squint") == {tid}


def test_the_migration_builds_the_index_for_mail_stored_before_it(tmp_path, cfg):
    """A database from before m2202: its mail is found once the migration has run."""
    path = tmp_path / "old.db"
    db = open_db(path, migrate=False)
    migrations.apply(db, stop_before="m2202_message_search")
    raw = mail(subject="Überweisung fehlt", body="Straße und Hausnummer fehlen")
    cols = messages.message_columns({"subject": "Überweisung fehlt", "body_text": "Straße und Hausnummer fehlen",
                                     "from_addr": "carl@cust.example"}, messages.sha256(raw), len(raw))
    db.execute("INSERT INTO tickets (class, received_at, due_at, created_at, updated_at)"
               " VALUES ('I', 'x', 'x', 'x', 'x')")
    db.execute("INSERT INTO messages (ticket_id, kind, received_at, stored_at, source, raw, message_id, sha256,"
               " dedup_key, size, oversize, unparseable, defects, from_addr, from_name, recipients, subject, sent_date,"
               " body_text, attachments, in_reply_to, refs) VALUES (1, 'new', 'x', 'x', 'test', ?, ?, ?, ?, ?, ?, ?, ?,"
               " ?, ?, ?, ?, ?, ?, ?, ?, ?)", [raw, *cols[:-1]])
    db.conn.commit()
    db.conn.close()
    db = open_db(path)
    assert console_reads.tickets_with_text(db, "strasse hausnummer") == {1}
    assert console_reads.tickets_with_text(db, "uberweisung") == {1}


def test_every_migration_leaves_the_index_kept_in_step(db):
    """A later migration that rebuilds the messages table (SQLite's 12 steps drop it) must put the index's
    triggers back, or new mail would silently stop being found."""
    triggers = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'"
                                         " AND tbl_name = 'messages'")}
    assert {"messages_ai", "messages_ad", "messages_au"} <= triggers
    assert db.execute("SELECT count(*) FROM messages_fts_docsize").fetchone()[0] == \
        db.execute("SELECT count(*) FROM messages").fetchone()[0]


def test_a_search_within_the_listed_tickets_finds_only_those(db, cfg):
    """The console searches what its views show (open tickets, the newest resolved); an old ticket on the
    list is found as well as a new one."""
    ids = [_file(db, cfg, n, subject=f"Printer {n}", body="The printer is broken.") for n in range(1, 6)]
    assert console_reads.tickets_with_text(db, "printer broken", [ids[0], ids[3]]) == {ids[0], ids[3]}
    assert console_reads.tickets_with_text(db, "printer", []) == set()
    assert console_reads.tickets_with_text(db, "printer 5", ids) == {ids[4]}
    assert console_reads.tickets_with_text(db, "printer broken") == set(ids)
