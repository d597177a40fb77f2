"""`support-console demo`: the console over a bundled sample mailbox, with live deadlines.

`build_demo` files the .eml files in `mailbox/` through the real intake pipeline into a fresh
SQLite file, with arrival times shifted so that, within the first minute, one Class III ticket
escalates (10 min) and another breaches (15 min). `run_demo` opens the console on it as "ann"
(a supervisor; `--as` picks another of the demo's staff) while a background thread runs the escalation
scheduler and the dispatcher every second. Pages go to an in-app apprise channel (`desk://`): they show
up as toasts and in the "pages" panel. Replies (`r`) go through the real outbox to `DemoMailbox`, which
keeps them in this process and says so: the demo has no mail server and nothing leaves the machine. No
server and no config file are needed.

This module does not import Textual until `run_demo` runs.
"""
from __future__ import annotations

import logging
import os
import socket
import tempfile
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from store.db import Database

    from console.clock import Clock
    from console.config import Config, SmtpConfig
    from console.outbox.mail import Outcome
    from console.replies.smtp import Result

MAILBOX = Path(__file__).parent / "mailbox"
OPERATOR = "ann"
DESK_FROM = "Example Support <support@example.com>"
DEMO_REPLY = "250 demo mailbox: kept on this machine (the demo has no mail server)"

# How long before "now" each sample mail arrived. Class III: 01 escalates 20 s after start and
# breaches after 5 m 20 s; 02 breaches 30 s after start; 03 is a trivial question sent to urgent@.
ARRIVED_AGO = {
    "01-urgent-checkout-down.eml": timedelta(minutes=9, seconds=40),
    "02-urgent-payments-500.eml": timedelta(minutes=14, seconds=30),
    "03-urgent-profile-picture.eml": timedelta(minutes=2),
    "04-support-class-ii-invoices.eml": timedelta(hours=1),
    "05-reply-invoices.eml": timedelta(minutes=40),
    "06-support-csv-import.eml": timedelta(hours=5),
    "07-reply-csv-import.eml": timedelta(hours=1, minutes=30),
    "08-autoreply-out-of-office.eml": timedelta(minutes=8),
    "09-support-call-me.eml": timedelta(minutes=20),
    "10-support-dark-mode.eml": timedelta(days=2),
    "11-support-class-2-sso.eml": timedelta(hours=3),
    "12-support-utf8-export.eml": timedelta(minutes=30),
}


def demo_config_dict(db_path: Path) -> dict[str, Any]:
    return {
        "timezone": "America/Phoenix",
        "store": {"path": str(db_path)},
        "routing": {"urgent": ["urgent@example.com"], "support": ["support@example.com"]},
        "staff": [
            {"handle": "ann", "name": "Ann Alvarez", "role": "supervisor", "notify": ["desk://ann"],
             "signature": "Ann Alvarez\nExample Support"},
            {"handle": "bob", "name": "Bob Brennan", "role": "staff", "notify": ["desk://bob"],
             "signature": "Bob Brennan\nExample Support"},
            {"handle": "cy", "name": "Cy Castillo", "role": "staff", "notify": ["desk://cy"],
             "signature": "Cy Castillo\nExample Support"},
            {"handle": "dee", "name": "Dee Dawson", "role": "staff", "notify": ["desk://dee"],
             "signature": "Dee Dawson\nExample Support"},
        ],
        # Replies are composed, stored and queued for real; DemoMailbox stands in for the server (the
        # console is given it instead of SMTP), so this host and port are never contacted.
        "smtp": {"host": "127.0.0.1", "security": "none", "from": DESK_FROM},
        "oncall": {"rotation": ["ann", "bob", "cy", "dee"], "handoff": "mon 09:00"},
        "alerts": {"max_attempts": 3, "send_timeout_seconds": 5.0},
        "console": {"operator": OPERATOR},
    }


def build_demo(tmpdir: Path, clock: Clock) -> tuple[Path, Config]:
    """A fresh demo database in `tmpdir`, filled through the real intake pipeline."""
    import store
    from console.config import from_dict
    from console.intake.pipeline import Incoming, file_messages
    from store import staff as store_staff

    tmpdir = Path(tmpdir)
    db_path = tmpdir / "demo.db"
    cfg = from_dict(demo_config_dict(db_path))
    db = store.open_db(db_path)
    try:
        with store.write(db):
            store_staff.sync_staff(db, [(s.handle, s.name or s.handle, s.role) for s in cfg.staff])
        now = clock.now()
        items = []
        for path in sorted(MAILBOX.glob("*.eml")):
            ago = ARRIVED_AGO.get(path.name, timedelta(hours=1))
            items.append(Incoming(raw=path.read_bytes(), received_at=(now - ago).replace(microsecond=0)))
        items.sort(key=lambda i: i.received_at or now)  # originals before their replies (every one has a time)
        file_messages(db, cfg, items, now, source="demo")
        with store.write(db):
            beat_healthy(db, now)
    finally:
        db.conn.close()
    return db_path, cfg


class DemoMailbox:
    """Where the demo's replies go instead of an SMTP server: kept in this process (a list of
    (envelope sender, recipients, bytes)), never sent anywhere. It answers like a server that took
    the mail, in words that say what happened, and the outbox records that answer."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.mail: list[tuple[str, list[str], bytes]] = []

    def __call__(self, smtp_cfg: SmtpConfig, password: str | None, mail_from: str, rcpt_to: list[str],
                 raw: bytes) -> Result:
        from console.replies.smtp import Result

        with self._lock:
            self.mail.append((mail_from, list(rcpt_to), raw))
        return Result(reply=DEMO_REPLY)

    def send_now(self, db: Database, cfg: Config, send_id: int, clock: Clock) -> Outcome:
        """The console's `send_mail`: the real outbox step (claim, send, record), into this mailbox. What
        went in is "kept", not "sent": the console says it stayed on this machine."""
        import dataclasses

        from console.outbox import mail as delivery

        outcome = delivery.send_now(db, cfg, send_id, clock, transport=self)
        return dataclasses.replace(outcome, state="kept") if outcome.state == "sent" else outcome


class PageSink:
    """Where desk:// pages go: buffered until the console attaches, then handed over (any thread)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._callback: Callable[[str, str, str], object] | None = None
        self._buffer: list[tuple[str, str, str]] = []

    def attach(self, callback: Callable[[str, str, str], object]) -> None:
        with self._lock:
            self._callback = callback
            pending, self._buffer = self._buffer, []
        for title, body, to in pending:
            callback(title, body, to)

    def __call__(self, title: str, body: str, to: str = "") -> None:
        with self._lock:
            cb = self._callback
            if cb is None:
                self._buffer.append((title, body, to))
                return
        cb(title, body, to)


_SINK: PageSink | None = None
_REGISTERED = False


def register_desk_channel(sink: PageSink) -> None:
    """Make apprise's desk:// URLs call `sink(title, body)` (registered once per process)."""
    global _SINK, _REGISTERED
    _SINK = sink
    if _REGISTERED:
        return
    from apprise.decorators import notify

    @notify(on="desk", name="support-console desk channel")
    def _desk(body: str, title: str, notify_type: object, *args: object, meta: dict[str, Any] | None = None,
              **kwargs: object) -> bool:
        if _SINK is not None:
            # desk://ann -> the page was for ann
            _SINK(title or "", body or "", str((meta or {}).get("host") or ""))
        return True

    _REGISTERED = True


INTAKE_ROW = "intake:demo/INBOX"


def beat_healthy(db: Database, now: datetime) -> None:
    """The rows a healthy poller writes (console.health reads them): the scheduler's, and intake's
    for the demo mailbox, idle and synced just now (the demo's mail is filed at start-up)."""
    from console.health import SCHEDULER
    from store import heartbeat
    from store.times import iso

    host, pid = socket.gethostname(), os.getpid()
    heartbeat.beat(db, SCHEDULER, now, pid=pid, host=host)
    heartbeat.beat(db, INTAKE_ROW, now, pid=pid, host=host, state="idle", ever_connected=True,
                   last_sync_at=iso(now), last_error=None, last_error_at=None, waiting=0)


class Escalator:
    """The demo's poller: escalation scheduler + dispatcher + heartbeat, once a second, in a thread."""

    def __init__(self, db_path: Path, cfg: Config, clock: Clock, interval: float = 1.0) -> None:
        self.db_path, self.cfg, self.clock, self.interval = db_path, cfg, clock, interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._db: Database | None = None

    def cycle(self) -> int:
        import store
        from console.alerts import escalation
        from console.outbox import pages as dispatch

        if self._db is None:
            self._db = store.open_db(self.db_path)
        db, now = self._db, self.clock.now()
        with store.write(db):
            escalation.run_due(db, self.cfg, now)
            beat_healthy(db, now)
        return dispatch.dispatch_due(db, self.cfg, now)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.cycle()
            except Exception:  # keep the demo alive; the console shows a stale heartbeat if this persists
                logging.getLogger("support_console.demo").exception("demo escalation cycle failed")
            self._stop.wait(self.interval)
        if self._db is not None:
            self._db.conn.close()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="demo-escalator", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)


def demo_staff() -> list[str]:
    return [s["handle"] for s in demo_config_dict(Path("demo.db"))["staff"]]


def _with_history(db_path: Path, cfg: Config, clock: Clock) -> None:
    """Eight weeks of answered tickets before today, so that the SLA report (W) has weeks to show."""
    import store
    from console.demo.history import seed_history

    db = store.open_db(db_path)
    try:
        seed_history(db, cfg, clock.now())
    finally:
        db.conn.close()


def run_demo(operator: str | None = None) -> int:
    """The demo as `operator` (one of the demo's staff; default ann, a supervisor)."""
    import sys

    operator = operator or OPERATOR
    if operator not in demo_staff():
        print(f"support-console: demo: {operator!r} is not on the demo's staff; use --as with one of "
              f"{', '.join(demo_staff())}", file=sys.stderr)
        return 64
    from console.clock import SystemClock
    from console.ui.app import ConsoleApp, quiet_mail_log

    logging.getLogger("support_console").setLevel(logging.WARNING)
    quiet_mail_log()
    clock = SystemClock()
    with tempfile.TemporaryDirectory(prefix="support-console-demo-") as tmp:
        db_path, cfg = build_demo(Path(tmp), clock)
        _with_history(db_path, cfg, clock)
        sink = PageSink()
        register_desk_channel(sink)
        escalator = Escalator(db_path, cfg, clock)
        app = ConsoleApp(db_path, cfg, operator, clock, page_sink=sink, send_mail=DemoMailbox().send_now)
        escalator.start()
        try:
            app.run()
        finally:
            escalator.stop()
        return app.return_code or 0

