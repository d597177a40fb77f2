"""IDLE against a real Dovecot: mail that lands just before the liveness DONE is not stranded."""
from __future__ import annotations

import threading
import time

import pytest

from console.clock import SystemClock
from console.config import load
from console.intake import imap, watch
from tests.integration.helpers import DESK_PASSWORD, PASSWORD_ENV, mail, scalar, wait_until, write_config

pytestmark = pytest.mark.integration

LIVENESS = 4.0


def timing(times: list[float], method: str):
    """intake's connect, with each call of the client's `method` ("idle", "noop") timed into `times`."""

    def connect(icfg, password):
        client = imap.connect(icfg, password)
        real = getattr(client, method)

        def timed(*args, **kwargs):
            times.append(time.monotonic())
            return real(*args, **kwargs)

        setattr(client, method, timed)
        return client

    return connect


def test_mail_appended_just_before_the_liveness_done_becomes_a_ticket_promptly(dovecot, tmp_path, monkeypatch):
    # Dovecot announces an APPEND ~0.5 s later; inside that window before DONE the EXISTS comes in the reply
    # to DONE. Before the fix such mail waited for the next mail or a reconnect (minutes).
    monkeypatch.setenv(PASSWORD_ENV, DESK_PASSWORD)
    cfg = load(write_config(tmp_path, port=dovecot.port))
    idle_started: list[float] = []
    connect = timing(idle_started, "idle")
    stop = threading.Event()
    intake = watch.Intake(cfg, SystemClock(), stop, liveness_seconds=LIVENESS, connect=connect)
    t = threading.Thread(target=intake.run, name="intake", daemon=True)
    t.start()
    try:
        for i in range(3):
            wait_until(lambda i=i: len(idle_started) > i, 20, "intake to enter IDLE", alive=t.is_alive)
            done_at = idle_started[-1] + LIVENESS
            time.sleep(max(0.0, done_at - 0.3 - time.monotonic()))  # aim at 0.3 s before the liveness DONE
            dovecot.append(mail(f"race{i}", msgid=f"<race{i}@x.example>"))
            appended = time.monotonic()
            wait_until(lambda i=i: scalar(cfg.store_path, "SELECT count(*) FROM messages m JOIN tickets t"
                                                          " ON t.id = m.ticket_id WHERE m.message_id = ?",
                                          [f"race{i}@x.example"]), 3.0, f"race{i} as a ticket", interval=0.02)
            # promptly: at that DONE, not at the next liveness check LIVENESS later
            assert time.monotonic() - appended < LIVENESS - 1.0
    finally:
        stop.set()
        t.join(timeout=10)
    assert not t.is_alive()


def test_intake_asks_often_until_dovecot_shows_it_pushes_then_only_at_the_liveness_check(dovecot, tmp_path,
                                                                                          monkeypatch):
    # Issue 21, item 4: a server not known to push is asked every ASK_SECONDS (Cyrus without idled would
    # otherwise leave new mail unannounced for 30 s); Dovecot pushes, and once it has, the asking stops.
    monkeypatch.setenv(PASSWORD_ENV, DESK_PASSWORD)
    cfg = load(write_config(tmp_path, port=dovecot.port))
    noops: list[float] = []
    connect = timing(noops, "noop")
    stop = threading.Event()
    intake = watch.Intake(cfg, SystemClock(), stop, liveness_seconds=30.0, ask_seconds=1.0, connect=connect)
    t = threading.Thread(target=intake.run, name="intake", daemon=True)
    t.start()
    try:
        wait_until(lambda: len(noops) >= 3, 20, "intake to ask a server it does not know to push",
                   alive=t.is_alive)
        assert not intake.pushes
        for i in range(5):  # an ask may catch a mail before Dovecot's push (~0.5 s): then another one
            dovecot.append(mail(f"pushed{i}", msgid=f"<pushed{i}@x.example>"))
            wait_until(lambda i=i: scalar(cfg.store_path, "SELECT count(*) FROM messages WHERE message_id = ?",
                                          [f"pushed{i}@x.example"]), 10, f"pushed{i}", alive=t.is_alive)
            if intake.pushes:
                break
        assert intake.pushes
        settled = time.monotonic() + 1.0
        time.sleep(5.0)  # five ask intervals: a server that pushes is not asked
        assert [n for n in noops if n > settled] == []
    finally:
        stop.set()
        t.join(timeout=10)
    assert not t.is_alive()
