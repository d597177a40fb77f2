"""A reply that came first (issue 21, item 6), against a real Dovecot: a reply-all that reaches the desk
before the original opens a ticket; when the original arrives it joins that ticket (one ticket, with an
audit event), on the same terms as header threading: a stranger's "original" does not."""
from __future__ import annotations

import json

import pytest

from tests.integration.helpers import mail, query, run_cli, scalar, write_config

pytestmark = pytest.mark.integration


def test_an_original_that_arrives_after_its_reply_joins_the_reply_ticket(dovecot, tmp_path):
    config = write_config(tmp_path, port=dovecot.port)
    db = tmp_path / "support.db"
    # Bea answers Al's mail to the desk (reply-all); her copy is delivered first.
    dovecot.append(mail("reply", frm="bea@customer.example", name="Bea", to="al@customer.example",
                        subject="Re: export fails", msgid="<reply@customer.example>",
                        extra="Cc: support@example.com\nIn-Reply-To: <orig@customer.example>\n"
                              "References: <orig@customer.example>"))
    assert run_cli(config, "poll", "--once").returncode == 0
    (ticket,), = query(db, "SELECT id FROM tickets")
    dovecot.append(mail("orig", frm="al@customer.example", name="Al", to="support@example.com",
                        subject="export fails", msgid="<orig@customer.example>",
                        extra="Cc: bea@customer.example"))
    # A stranger's mail that claims the same reply is its answer does not join.
    dovecot.append(mail("other", frm="eve@elsewhere.example", to="support@example.com", subject="hello",
                        msgid="<other@elsewhere.example>"))
    assert run_cli(config, "poll", "--once").returncode == 0

    assert scalar(db, "SELECT count(*) FROM messages WHERE ticket_id = ?", [ticket]) == 2
    assert scalar(db, "SELECT count(*) FROM tickets") == 2  # the joined thread, and Eve's own ticket
    shown = json.loads(run_cli(config, "show", str(ticket), "--json", check=True).stdout)
    assert shown["subject"] == "export fails" and shown["requester"] == "al@customer.example"
    joined = [e for e in shown["events"] if e["kind"] == "original_joined"]
    assert len(joined) == 1 and joined[0]["detail"]["previous_subject"] == "Re: export fails"


def test_an_original_from_someone_the_reply_did_not_name_stays_apart(dovecot, tmp_path):
    config = write_config(tmp_path, port=dovecot.port)
    db = tmp_path / "support.db"
    dovecot.append(mail("reply", frm="bea@customer.example", to="support@example.com", subject="Re: x",
                        msgid="<r2@customer.example>", extra="In-Reply-To: <o2@customer.example>"))
    assert run_cli(config, "poll", "--once").returncode == 0
    dovecot.append(mail("orig", frm="mallory@elsewhere.example", to="support@example.com", subject="x",
                        msgid="<o2@customer.example>"))
    assert run_cli(config, "poll", "--once").returncode == 0
    assert scalar(db, "SELECT count(*) FROM tickets") == 2
    assert scalar(db, "SELECT count(*) FROM events WHERE kind = 'original_joined'") == 0
