"""fetch_batch against a real Dovecot: its replies are read as imapclient's own fetch() reads them."""
from __future__ import annotations

import logging
import re
from datetime import datetime, timedelta, timezone

import pytest

from console.config import load
from console.intake import fetch_reply, imap
from tests.corpus import corpus
from tests.integration.helpers import DESK_PASSWORD, mail, write_config

pytestmark = pytest.mark.integration

ZONES = [timezone.utc, timezone(timedelta(hours=5, minutes=30)), timezone(timedelta(hours=-8)),
         timezone(timedelta(hours=13, minutes=45))]


def _connect(tmp_path, dovecot):
    cfg = load(write_config(tmp_path, port=dovecot.port))
    return imap.connect(cfg.imap, DESK_PASSWORD)


def _as_imapclient_reads_it(client, uids):
    """fetch_batch's result built from client.fetch(), imapclient's own parser."""
    data = client.fetch(uids, imap.FETCH_KEYS)
    return [(u, bytes(data[u][b"BODY[]"]), data[u][b"INTERNALDATE"].astimezone(timezone.utc)) for u in uids]


def test_dovecots_replies_skip_imapclients_parser_and_read_the_same(dovecot, tmp_path, monkeypatch):
    raws = [raw for _, raw in corpus() if raw] + [mail(i) for i in range(20)]
    times = {}
    c = dovecot.client()
    try:
        for i, raw in enumerate(raws):
            # INTERNALDATEs in several zones, days below 10 (sent space-padded), all in the past: Dovecot
            # puts the time of APPEND in place of a date in the future
            when = datetime(2025, 1 + i % 12, 1 + i % 28, i % 24, i % 60, (7 * i) % 60, tzinfo=ZONES[i % len(ZONES)])
            uid = dovecot._appenduid(c.append("INBOX", raw, msg_time=when))
            times[uid] = when
    finally:
        c.logout()
    client = _connect(tmp_path, dovecot)
    try:
        imap.select(client, load(write_config(tmp_path, port=dovecot.port)).imap)
        uids = sorted(times)
        expected = _as_imapclient_reads_it(client, uids)

        def refuse(*a, **k):
            raise AssertionError("Dovecot's reply went through imapclient's fetch() or parser")

        monkeypatch.setattr(fetch_reply, "parse_fetch_response", refuse)
        monkeypatch.setattr(client, "fetch", refuse)
        got = [(f.uid, f.raw, f.internaldate) for f in imap.fetch_batch(client, uids)]
    finally:
        client.logout()
    assert got == expected
    assert [(u, d) for u, _, d in got] == [(u, times[u].astimezone(timezone.utc)) for u in uids]
    assert len(got) == len(raws) and all(raw for _, raw, _ in got)


def test_an_unsolicited_flag_update_in_the_reply_is_read_by_imapclient(dovecot, tmp_path, monkeypatch):
    for i in range(3):
        dovecot.append(mail(i))
    client = _connect(tmp_path, dovecot)
    try:
        client.select_folder("INBOX")  # read-write, so that Dovecot reports other sessions' flag changes
        uids = client.search(["ALL"])
        expected = _as_imapclient_reads_it(client, uids)
        other = dovecot.client()
        other.select_folder("INBOX")
        other.add_flags([uids[1]], [b"\\Flagged"])
        other.logout()
        replies = []
        real = fetch_reply.parse_fetch_response
        monkeypatch.setattr(fetch_reply, "parse_fetch_response",
                            lambda data, *a: replies.append(data) or real(data, *a))
        got = [(f.uid, f.raw, f.internaldate) for f in imap.fetch_batch(client, uids)]
    finally:
        client.logout()
    assert got == expected
    assert len(replies) == 1 and any(b"FLAGS" in e for e in replies[0] if isinstance(e, bytes))


def test_imaplib_formats_no_debug_text_unless_its_logger_is_on(dovecot, tmp_path, caplog):
    # imapclient sets imaplib's debug level to 5: imaplib then formats the repr of every line and message
    # it reads for the "imapclient.imaplib" logger, which drops it unless someone turned it on.
    client = _connect(tmp_path, dovecot)
    try:
        assert client._imap.debug == 0
    finally:
        client.logout()
    caplog.set_level(logging.DEBUG, logger="imapclient.imaplib")
    client = _connect(tmp_path, dovecot)
    try:
        assert client._imap.debug == 5
        dovecot.append(mail(1))
        client.select_folder("INBOX", readonly=True)
        imap.fetch_batch(client, client.search(["ALL"]))
    finally:
        client.logout()
    text = "\n".join(r.getMessage() for r in caplog.records if r.name == "imapclient.imaplib")
    assert "FETCH" in text  # whoever turned the logger on gets the exchange...
    assert DESK_PASSWORD not in text and "**REDACTED**" in text  # ...and never the password


def test_imaplib_keeps_no_copy_of_the_login_line(dovecot, tmp_path):
    # Below level 4 imaplib keeps its last ten lines in memory: the level drops only after LOGIN.
    client = _connect(tmp_path, dovecot)
    try:
        kept = " ".join(str(line) for line, _ in client._imap._cmd_log.values())
        client.noop()
        assert "NOOP" in " ".join(str(line) for line, _ in client._imap._cmd_log.values())
    finally:
        client.logout()
    assert "CAPABILITY" in kept  # what imaplib kept before imapclient raised the level, and nothing after
    assert DESK_PASSWORD not in kept and not re.search(r"\S+ LOGIN ", kept)
