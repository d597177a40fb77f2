"""fetch_batch against a real Dovecot, and imaplib's debug text."""
from __future__ import annotations

import logging
import re
from datetime import datetime, timedelta, timezone, UTC

import pytest

from console.config import load
from console.intake import imap
from tests.corpus import corpus
from tests.integration.helpers import DESK_PASSWORD, mail, server_flags, server_raws, write_config

pytestmark = pytest.mark.integration

ZONES = [UTC, timezone(timedelta(hours=5, minutes=30)), timezone(timedelta(hours=-8)),
         timezone(timedelta(hours=13, minutes=45))]


def _connect(tmp_path, dovecot):
    cfg = load(write_config(tmp_path, port=dovecot.port))
    return imap.connect(cfg.imap, DESK_PASSWORD)


def test_fetch_batch_returns_the_bytes_and_arrival_times_in_utc(dovecot, tmp_path):
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
    served = server_raws(dovecot)
    client = _connect(tmp_path, dovecot)
    try:
        imap.select(client, load(write_config(tmp_path, port=dovecot.port)).imap)
        uids = sorted(times)
        got = [(f.uid, f.raw, f.internaldate) for f in imap.fetch_batch(client, uids + [max(uids) + 50])]
    finally:
        client.logout()
    assert [(u, d) for u, _, d in got] == [(u, times[u].astimezone(UTC)) for u in uids]
    assert [(u, raw) for u, raw, _ in got] == [(u, served[u]) for u in uids]  # an unknown UID is left out
    assert not [u for u, f in server_flags(dovecot).items() if b"\\Seen" in f]  # BODY.PEEK[]


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
