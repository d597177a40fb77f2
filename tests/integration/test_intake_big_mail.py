"""Batches bounded by bytes (issue 21, item 2), against a real Dovecot: a backlog of big mail is fetched in
batches that hold at most watch.BATCH_BYTES of mail (by the sizes the server gives first), whatever
batch_size says, and every message is filed."""
from __future__ import annotations

import threading

import pytest

from console.clock import SystemClock
from console.config import load
from console.intake import imap, watch
from tests.integration.helpers import DESK_PASSWORD, PASSWORD_ENV, scalar, write_config

pytestmark = pytest.mark.integration

MB = 1024 * 1024


def _big(i: int, size: int) -> bytes:
    head = (f"From: Customer {i} <c{i}@customer.example>\r\nTo: support@example.com\r\nSubject: big {i}\r\n"
            f"Message-ID: <big{i}@customer.example>\r\n\r\n").encode()
    return head + (b"x" * 998 + b"\r\n") * (size // 1000)


def test_a_backlog_of_big_mail_is_fetched_in_batches_bounded_by_bytes(dovecot, tmp_path, monkeypatch):
    dovecot.deliver_files([_big(i, 3 * MB) for i in range(7)] + [_big(7, 9 * MB)])
    monkeypatch.setenv(PASSWORD_ENV, DESK_PASSWORD)
    monkeypatch.setattr(watch, "BATCH_BYTES", 7 * MB)
    cfg = load(write_config(tmp_path, port=dovecot.port, max_message_size="25MB"))
    assert cfg.imap is not None and cfg.imap.batch_size >= 8  # the count alone would take all eight at once
    fetched: list[int] = []  # bytes of mail each FETCH of bodies returned

    def connect(icfg, password):
        client = imap.connect(icfg, password)
        real = client.fetch

        def fetch(uids, keys):
            data = real(uids, keys)
            if b"BODY.PEEK[]" in keys:
                fetched.append(sum(len(d[b"BODY[]"]) for d in data.values()))
            return data

        client.fetch = fetch
        return client

    watch.Intake(cfg, SystemClock(), threading.Event(), connect=connect).once()
    assert scalar(cfg.store_path, "SELECT count(*) FROM tickets") == 8
    assert sum(fetched) > 29 * MB
    # two 3 MB mails a batch; the 9 MB one alone
    assert len(fetched) == 5 and max(fetched[:-1]) <= 7 * MB and fetched[-1] > 9 * MB - 100_000, fetched
