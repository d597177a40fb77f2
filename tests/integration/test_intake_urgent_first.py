"""Urgent mail first (issue 22, item 3), against a real Dovecot: when intake finds more new mail than one
batch, it reads the recipient headers of the whole backlog first and files what goes to an urgent address
before the rest, without giving up exactly-once: the watermark moves only past what is filed."""
from __future__ import annotations

import threading

import pytest

from console.clock import SystemClock
from console.config import load
from console.intake import watch
from tests.integration.helpers import DESK_PASSWORD, PASSWORD_ENV, mail, query, scalar, write_config

pytestmark = pytest.mark.integration

N = 30


def _first_sync(cfg) -> None:
    """The desk reads the mailbox once while it is empty: what lands later is a backlog of new mail, not the
    mailbox's history (which a first sync files without pages)."""
    watch.Intake(cfg, SystemClock(), threading.Event()).once()


def _backlog(dovecot) -> None:
    raws = []
    for i in range(1, N + 1):
        to = "urgent@example.com" if i in (17, N) else "support@example.com"
        raws.append(mail(i, to=to, subject=f"mail {i}", msgid=f"<m{i}@c.example>"))
    dovecot.deliver_files(raws)


def test_a_backlog_longer_than_a_batch_files_its_urgent_mail_first(dovecot, tmp_path, monkeypatch):
    monkeypatch.setenv(PASSWORD_ENV, DESK_PASSWORD)
    cfg = load(write_config(tmp_path, port=dovecot.port, imap_extra="batch_size = 5"))
    _first_sync(cfg)
    _backlog(dovecot)
    db = cfg.store_path
    stop = threading.Event()
    commits: list[int] = []

    def on_commit(n: int) -> None:
        commits.append(n)
        if len(commits) == 1:
            # After the first commit (the urgent mail): nothing below it is filed, so the watermark has not
            # moved. Stop here, as a SIGTERM or a crash would.
            assert scalar(db, "SELECT coalesce(max(last_uid), 0) FROM mailboxes") == 0
            stop.set()

    watch.Intake(cfg, SystemClock(), stop, on_commit=on_commit).once()
    assert [s for (s,) in query(db, "SELECT subject FROM tickets ORDER BY id")] == ["mail 17", f"mail {N}"]
    assert query(db, "SELECT class FROM tickets") == [("III",), ("III",)]
    assert scalar(db, "SELECT count(*) FROM alerts WHERE step != 'intake-stale'") >= 2  # their pages are due

    # The next sync files the rest, in order, each once, and the watermark reaches the end.
    watch.Intake(cfg, SystemClock(), threading.Event()).once()
    subjects = [s for (s,) in query(db, "SELECT subject FROM tickets ORDER BY id")]
    assert len(subjects) == N and len(set(subjects)) == N
    assert subjects[2:] == [f"mail {i}" for i in range(1, N + 1) if i not in (17, N)]
    assert scalar(db, "SELECT last_uid FROM mailboxes") == N
    assert scalar(db, "SELECT count(*) FROM message_sources") == N


def test_in_one_sync_the_urgent_mail_is_first_and_all_is_filed_once(dovecot, tmp_path, monkeypatch):
    monkeypatch.setenv(PASSWORD_ENV, DESK_PASSWORD)
    cfg = load(write_config(tmp_path, port=dovecot.port, imap_extra="batch_size = 5"))
    _first_sync(cfg)
    _backlog(dovecot)
    watch.Intake(cfg, SystemClock(), threading.Event()).once()
    subjects = [s for (s,) in query(cfg.store_path, "SELECT subject FROM tickets ORDER BY id")]
    assert subjects[:2] == ["mail 17", f"mail {N}"] and len(subjects) == N == len(set(subjects))
    assert scalar(cfg.store_path, "SELECT last_uid FROM mailboxes") == N


def test_urgent_mail_that_lands_while_a_backlog_is_filed_is_not_left_behind_it(dovecot, tmp_path, monkeypatch):
    monkeypatch.setenv(PASSWORD_ENV, DESK_PASSWORD)
    monkeypatch.setattr(watch, "RECHECK_SECONDS", 0.0)  # look at every batch (the clock here is not the point)
    cfg = load(write_config(tmp_path, port=dovecot.port, imap_extra="batch_size = 5"))
    _first_sync(cfg)
    dovecot.deliver_files([mail(i, subject=f"mail {i}", msgid=f"<b{i}@c.example>") for i in range(1, 41)])
    commits: list[int] = []

    def on_commit(n: int) -> None:
        commits.append(n)
        if len(commits) == 2:  # early in the backlog: urgent mail lands
            dovecot.append(mail("late", to="urgent@example.com", subject="late urgent", msgid="<late@c.example>"))

    watch.Intake(cfg, SystemClock(), threading.Event(), on_commit=on_commit).once()
    subjects = [s for (s,) in query(cfg.store_path, "SELECT subject FROM tickets ORDER BY id")]
    assert len(subjects) == 41 == len(set(subjects))
    assert subjects.index("late urgent") <= 15, subjects  # filed at the next batch, not after the 40
    assert scalar(cfg.store_path, "SELECT last_uid FROM mailboxes") == 41
