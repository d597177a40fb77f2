"""A message the server will not give (issue 21, item 1), against a real Dovecot: a Maildir file left owned
by root with mode 0600 (as after an admin's restore) makes Dovecot answer its FETCH with NO. It is set aside
as an unreadable placeholder ticket, everything around it is filed, the watermark moves past it, and once
the file is fixed it is filed normally, once."""
from __future__ import annotations

import json
import os
import threading
from datetime import timedelta

import pytest

from console.clock import FrozenClock, SystemClock
from console.config import load
from console.intake import watch
from tests.integration.helpers import DESK_PASSWORD, PASSWORD_ENV, mail, query, run_cli, scalar, write_config
from tests.servers.dovecot import MAIL_GID, MAIL_UID

pytestmark = pytest.mark.integration


def _deliver_unreadable(dovecot, raws: list[bytes], bad: int) -> os.PathLike:
    """Deliver raws in order; the one at index `bad` is left owned by root, mode 0600. Returns its path."""
    before = set((dovecot.maildir / "new").glob("*")) if (dovecot.maildir / "new").exists() else set()
    dovecot.deliver_files(raws)
    files = sorted(set((dovecot.maildir / "new").glob("*")) - before,
                   key=lambda p: int(p.name.split("Q")[1].split(".")[0]))  # delivery order
    path = files[bad]
    os.chown(path, 0, 0)
    os.chmod(path, 0o600)
    return path


def _uid_of(dovecot, msgid: str) -> int:
    c = dovecot.client()
    try:
        c.select_folder("INBOX", readonly=True)
        uids = c.search(["HEADER", "Message-ID", msgid])
        return uids[0]
    finally:
        c.logout()


def test_an_unreadable_message_is_set_aside_and_filed_once_when_fixed(dovecot, tmp_path, monkeypatch):
    raws = [mail("before", to="urgent@example.com", subject="checkout down", msgid="<before@c.example>"),
            mail("bad", to="urgent@example.com", subject="restored by root", msgid="<bad@c.example>"),
            mail("after", to="urgent@example.com", subject="payments down", msgid="<after@c.example>")]
    path = _deliver_unreadable(dovecot, raws, 1)
    config = write_config(tmp_path, port=dovecot.port)
    db = tmp_path / "support.db"

    r = run_cli(config, "poll", "--once")
    assert r.returncode == 0, r.stderr
    assert "Traceback" not in r.stderr
    # Both Class III mails are tickets; the unreadable one is a flagged placeholder with the server's answer.
    classes = dict(query(db, "SELECT subject, class FROM tickets"))
    assert classes["checkout down"] == "III" and classes["payments down"] == "III"
    (placeholder, subject, quarantined), = query(db, "SELECT id, subject, quarantined FROM tickets"
                                                     " WHERE subject LIKE '(unreadable message%'")
    assert quarantined == 1 and "UID 2" in subject
    shown = json.loads(run_cli(config, "show", str(placeholder), "--json", check=True).stdout)
    assert any("would not give" in d for m in shown["messages"] for d in m.get("defects", [])), shown
    # The watermark moved past it: the next poll does not stall or refetch it.
    assert scalar(db, "SELECT last_uid FROM mailboxes") == 3
    assert scalar(db, "SELECT state FROM unreadable WHERE uid = 2") == "waiting"

    # Still unreadable: a second poll files nothing new and makes no second placeholder.
    assert run_cli(config, "poll", "--once").returncode == 0
    assert scalar(db, "SELECT count(*) FROM tickets") == 3

    # The admin fixes the file; at the next try the message is filed normally, once, and the placeholder
    # is resolved pointing at it.
    os.chown(path, MAIL_UID, MAIL_GID)
    monkeypatch.setenv(PASSWORD_ENV, DESK_PASSWORD)
    cfg = load(config)
    later = FrozenClock(SystemClock().now() + timedelta(hours=2))
    for _ in range(2):  # a second sync finds nothing more to do
        watch.Intake(cfg, later, threading.Event()).once()
    (real, cls), = query(db, "SELECT id, class FROM tickets WHERE subject = 'restored by root'")
    assert cls == "III"
    assert scalar(db, "SELECT count(*) FROM messages WHERE message_id = 'bad@c.example'") == 1
    assert scalar(db, "SELECT status FROM tickets WHERE id = ?", [placeholder]) == "resolved"
    assert scalar(db, "SELECT state FROM unreadable WHERE uid = 2") == "filed"
    events = [e["kind"] for e in json.loads(run_cli(config, "show", str(placeholder), "--json",
                                                    check=True).stdout)["events"]]
    assert "unreadable_recovered" in events
    assert scalar(db, "SELECT uid FROM message_sources m JOIN messages g ON g.id = m.message_row"
                      " WHERE g.message_id = 'bad@c.example'") == _uid_of(dovecot, "<bad@c.example>")
