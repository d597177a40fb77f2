"""What the console reads from the shared SQLite file, and noticing what other processes changed.

Every method blocks, so the app calls them from thread workers (the first load excepted: nothing
ticks before the first paint). One read connection, guarded by a lock, serves the change checks;
ticket details open a connection of their own, so a slow read of a huge message never delays a
change check. Writes do not happen here: actions run in thread workers through `console.actions`.

Change detection: `PRAGMA data_version` changes when another connection commits. Only then are the
tickets that may have changed read (store.console_reads.changed_ticket_rows) and diffed against the
cache by value, with any new pages and the heartbeat rows, and any mail of the desk's that failed (5xx)
or was cut short since the last look (store.outgoing.failures_since), for the console's toasts. Tickets
open in a detail screen are watched: their history and pages are compared by key at the same check, so
a page the poller sends (which changes no ticket row) reaches the open detail without `R`.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import store
from console import status
from console.clock import Clock
from console.config import Config
from store import audit, console_reads, outbox, outgoing, silences, staff as store_staff
from store.rows import Event, LatestMessage, ListedTicket, MessagePreview, StaffRow
from store.times import iso, parse_iso

if TYPE_CHECKING:
    from store.db import Database

    from console.alerts.oncall import OnCall

# store.console_reads returns plain dicts of the shapes in store.rows; the casts below say which.

SLACK = timedelta(seconds=5)  # rows committed a little late with an older updated_at are still seen
PREVIEW_CHARS = 10_000        # of each message body, shown before "more"
RESOLVED_SHOWN = 500          # the newest resolved tickets, in the resolved view


@dataclass
class Changes:
    upserts: dict[int, ListedTicket] = field(default_factory=dict)    # open tickets, new or changed
    removed: set[int] = field(default_factory=set)                     # resolved (or gone)
    new_ids: set[int] = field(default_factory=set)                     # ids never seen before
    alerts: list[dict[str, Any]] = field(default_factory=list)         # outbox rows written since the last look
    beats: list[dict[str, Any]] = field(default_factory=list)
    outbox: dict[str, int] = field(default_factory=dict)
    mail_failures: list[dict[str, Any]] = field(default_factory=list)  # mail_outbox rows, failed or expired
    details: set[int] = field(default_factory=set)  # watched tickets whose history or pages changed
    silences: tuple[int, int] = (0, 0)  # active silences, and the unacknowledged tickets whose pages they hold

    def __bool__(self) -> bool:
        return bool(self.upserts or self.removed)


@dataclass
class Detail:
    ticket: ListedTicket
    messages: list[MessagePreview]
    events: list[Event]
    alerts: list[dict[str, Any]]
    chars: int = PREVIEW_CHARS
    start: int = 0  # where the shown part of long bodies begins (`m` moves it on)
    deliveries: dict[int, dict[str, Any]] = field(default_factory=dict)  # message row -> its mail_outbox row

    def failed_mail(self) -> list[dict[str, Any]]:
        """The ticket's mail that failed or was cut short (a person may send it again), newest first."""
        return sorted((d for d in self.deliveries.values() if d["state"] in ("failed", "expired")),
                      key=lambda d: d["id"], reverse=True)


class TicketData:
    def __init__(self, db_path: Path, clock: Clock):
        """Mail that failed before the console opened is not news (it is shown on its ticket)."""
        self.db_path = Path(db_path)
        self._clock = clock
        self._db = store.open_db(self.db_path)
        self._lock = threading.Lock()
        self.cache: dict[int, ListedTicket] = {}
        self.marks: dict[str, Any] = {"ticket": 0, "updated_at": "", "message": 0, "event": 0, "alert": 0}
        self._dv: int | None = None
        self.closed = False
        self._mail_since = clock.now()
        self._mail_seen: dict[tuple[int, str], datetime] = {}
        # Tickets open in a detail screen: their history and pages are compared at each change check, by
        # key, so a page the poller sends (no change to the ticket row) reaches the open detail too.
        self._watched: dict[int, tuple | None] = {}

    def watch(self, ticket_id: int) -> None:
        with self._lock:
            self._watched.setdefault(ticket_id, None)

    def unwatch(self, ticket_id: int) -> None:
        with self._lock:
            self._watched.pop(ticket_id, None)

    def close(self) -> None:
        with self._lock:
            self.closed = True
            self._db.conn.close()

    def _reader(self) -> Database:
        return store.open_db(self.db_path, migrate=False)

    # -- tickets ---------------------------------------------------------------------------------
    def load_all(self) -> dict[int, ListedTicket]:
        """Every open ticket (the first paint); pages already in the outbox are not news."""
        with self._lock:
            self._dv = store.data_version(self._db)
            self.marks = console_reads.watermarks(self._db)
            rows = cast(list[ListedTicket], console_reads.open_ticket_rows(self._db))
        self.cache = {r["id"]: r for r in rows}
        return dict(self.cache)

    def changed(self) -> bool:
        with self._lock:
            return store.data_version(self._db) != self._dv

    def poll(self, force: bool = False) -> Changes | None:
        """None when nothing was committed since the last look; else what changed."""
        with self._lock:
            if self.closed:
                return None
            dv = store.data_version(self._db)
            if dv == self._dv and not force:
                return None
            self._dv = dv
            old = self.marks
            marks = console_reads.watermarks(self._db)  # before the reads: a later commit is seen next time
            last = parse_iso(old["updated_at"])
            since = iso(last - SLACK) if last is not None else ""
            rows = cast(list[ListedTicket], console_reads.changed_ticket_rows(self._db, old, since))
            alerts = console_reads.alerts_after(self._db, old["alert"])
            beats, counts = status.health_inputs(self._db, self._clock.now(), sent_total=False)
            failures = outgoing.failures_since(self._db, self._mail_since - SLACK)
            # The diff too, under the lock: two checks (the timer's, one after an action) never interleave.
            self.marks = marks
            ch = Changes(alerts=alerts, beats=beats, outbox=counts, mail_failures=self._new_failures(failures),
                         silences=silences.quiet(self._db, self._clock.now()))
            if alerts:
                self.marks["alert"] = max(self.marks["alert"], alerts[-1]["id"])
            for tid, before_stamp in list(self._watched.items()):
                stamp = self._stamp(tid)
                if stamp != before_stamp:
                    self._watched[tid] = stamp
                    ch.details.add(tid)  # the first look too: the detail may have been read before this commit
            for r in rows:
                tid = r["id"]
                if tid > old["ticket"]:
                    ch.new_ids.add(tid)
                before = self.cache.get(tid)
                if r["status"] == "resolved":
                    if before is not None:
                        del self.cache[tid]
                        ch.removed.add(tid)
                elif before != r:
                    self.cache[tid] = r
                    ch.upserts[tid] = r
            return ch

    def _stamp(self, ticket_id: int) -> tuple:
        """What the detail's history and pages sections show of a ticket, as a key to compare."""
        events = audit.events_for(self._db, ticket_id)
        pages = outbox.list_alerts(self._db, ticket_id=ticket_id)
        return (len(events), events[-1]["id"] if events else 0,
                tuple((a["id"], a["state"], a.get("attempts"), a.get("last_error")) for a in pages))

    def _new_failures(self, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Each failure once: rows are read again within SLACK of the last one seen."""
        new = []
        for r in rows:
            key, at = (r["id"], r["updated_at"]), parse_iso(r["updated_at"])
            assert at is not None  # updated_at is NOT NULL
            if key not in self._mail_seen:
                self._mail_seen[key] = at
                new.append(r)
            self._mail_since = max(self._mail_since, at)
        floor = self._mail_since - 2 * SLACK
        self._mail_seen = {k: at for k, at in self._mail_seen.items() if at >= floor}
        return new

    def health_inputs(self) -> tuple[list[dict[str, Any]], dict[str, int]]:
        with self._lock:
            return status.health_inputs(self._db, self._clock.now(), sent_total=False)

    def silences(self) -> tuple[int, int]:
        """(active silences, unacknowledged tickets whose pages they hold): the header's "1 silence, 41 tickets
        quiet"."""
        with self._lock:
            return silences.quiet(self._db, self._clock.now())

    # -- everything else (own connections: callers are workers) ---------------------------------------
    def detail(self, ticket_id: int, chars: int = PREVIEW_CHARS, start: int = 0) -> Detail:
        from store import tickets

        db = self._reader()
        try:
            t = cast(ListedTicket | None, console_reads.ticket_row(db, ticket_id))
            if t is None:
                tickets.get_ticket(db, ticket_id)  # raises NoSuchTicket with the usual words
                raise tickets.NoSuchTicket(f"no ticket #{ticket_id}")  # filed between the two reads: not yet
            msgs = cast(list[MessagePreview], console_reads.message_previews(db, ticket_id, chars, start))
            mail = outgoing.delivery_by_message(db, [m["id"] for m in msgs if m["kind"] == "outgoing"])
            return Detail(ticket=t, messages=msgs, events=audit.events_for(db, ticket_id),
                          alerts=outbox.list_alerts(db, ticket_id=ticket_id), chars=chars, start=start,
                          deliveries=mail)
        finally:
            db.conn.close()

    def preview(self, ticket_id: int, chars: int = 2000) -> LatestMessage | None:
        db = self._reader()
        try:
            return cast(LatestMessage | None, console_reads.latest_message_preview(db, ticket_id, chars))
        finally:
            db.conn.close()

    def resolved(self, limit: int = RESOLVED_SHOWN) -> dict[int, dict[str, Any]]:
        db = self._reader()
        try:
            return {r["id"]: r for r in console_reads.resolved_ticket_rows(db, limit)}
        finally:
            db.conn.close()

    def search_bodies(self, text: str) -> set[int]:
        """The tickets either view shows (open, and the newest resolved) with a message whose subject, sender
        or body holds every word of `text`, ignoring case and accents (the last word may be only begun)."""
        with self._lock:
            within = set(self.cache)
        db = self._reader()
        try:
            within.update(console_reads.resolved_ticket_ids(db, RESOLVED_SHOWN))
            return console_reads.tickets_with_text(db, text, within)
        finally:
            db.conn.close()

    def recent_pages(self, limit: int = 200) -> list[dict[str, Any]]:
        db = self._reader()
        try:
            return console_reads.recent_alerts(db, limit)
        finally:
            db.conn.close()

    def raw(self, message_id: int) -> bytes:
        from store import messages

        db = self._reader()
        try:
            return messages.raw_message(db, message_id)
        finally:
            db.conn.close()

    def staff(self) -> list[StaffRow]:
        with self._lock:
            return store_staff.all_staff(self._db)

    def oncall(self, cfg: Config, now: datetime) -> OnCall | None:
        from console.alerts import audience

        with self._lock:
            return audience.current(self._db, cfg, now)
