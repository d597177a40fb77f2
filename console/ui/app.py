"""The operator console: a Textual app over the shared SQLite file.

Reads happen on the UI thread through one connection (`TicketData`); every write goes through
`console.actions` in a thread worker with its own connection, and the result comes back as a
message. A 0.5 s timer asks SQLite whether anyone committed (`PRAGMA data_version`) and, only
then, loads the tickets that changed; it is re-armed after each check finishes. A 1 s timer
updates the countdown cells of the rows on screen.
"""
from __future__ import annotations

import bisect
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from rich.text import Text
from textual import work
from textual.app import App
from textual.message import Message

from console import actions
from console.clock import Clock
from console.config import Config
from console.safe_text import clean_block, clean_line
from console.ui import keys
from console.ui.data import Stats, TicketData
from console.ui.screens.dashboard import DashboardScreen
from console.ui.screens.detail import DetailScreen
from console.ui.screens.dialogs import ReclassifyDialog, ReclassifyResult, ResolveDialog, StaffPicker
from console.ui.screens.help import HelpScreen
from console.ui.widgets.status import StatusBar, status_text
from console.ui.widgets.tickets import badge_text, fast_time
from store.db import StoreError

POLL_SECONDS = 0.5
TICK_SECONDS = 1.0
VERBS = {"acknowledge": "Acknowledged", "take": "Took", "assign": "Assigned", "reclassify": "Reclassified",
         "resolve": "Resolved"}


@dataclass
class ActionDone(Message):
    kind: str
    done: list[int]
    refused: list[tuple[int, str]]
    params: dict[str, Any]


@dataclass
class PageArrived(Message):
    title: str
    body: str
    to: str = ""


class ConsoleApp(App):
    CSS_PATH = "app.tcss"
    TITLE = "support-console"
    BINDINGS = keys.bindings(keys.APP)
    COMMANDS = App.COMMANDS | {keys.KeyCommands}
    ENABLE_COMMAND_PALETTE = True

    def __init__(self, db_path: Path, cfg: Config, operator: str, clock: Clock, *,
                 page_sink: Any = None, live: bool = True):
        super().__init__()
        self.db_path = Path(db_path)
        self.cfg = cfg
        self.operator = operator
        self.clock = clock
        self.page_sink = page_sink
        self.live = live  # timers on; tests may turn them off and drive tick()/refresh_now() themselves
        self.warn_fraction = cfg.sla.warn_fraction
        self.data: TicketData | None = None
        self.tickets: dict[int, dict[str, Any]] = {}
        self.marked: set[int] = set()
        self.stats: Stats | None = None
        self.oncall = None
        self._oncall_at: datetime | None = None
        self.role: str | None = None
        self.pages: list[tuple[str, str, str]] = []
        self._last_toast = ""
        self._dashboard: DashboardScreen | None = None
        self.first_paint_at: float | None = None  # perf_counter() of the first frame (for bench/)
        self._counts: dict[str, int] | None = None  # per class, and unacknowledged due times: rebuilt on change
        self._dues: list[datetime] = []

    # -- start-up ------------------------------------------------------------------------------------
    def get_default_screen(self) -> DashboardScreen:
        self._dashboard = DashboardScreen()
        return self._dashboard

    def ensure_loaded(self) -> None:
        """The first load (called by whichever of app and dashboard mounts first)."""
        if self.data is not None:
            return
        self.data = TicketData(self.db_path)
        self.tickets = {tid: _prep(r) for tid, r in self.data.load_all().items()}
        person = next((p for p in self.data.staff() if p["handle"] == self.operator), None)
        self.role = person["role"] if person else None
        self.stats = self.data.stats()

    def on_mount(self) -> None:
        self.ensure_loaded()
        person = self.role is not None
        if self.page_sink is not None:
            self.page_sink.attach(lambda title, body, to: self.post_message(PageArrived(title, body, to)))
        if not person:
            self.notify(f"{self.operator!r} is not on the staff list: actions will be refused",
                        severity="warning", markup=False)
        if self.live:
            self.set_interval(TICK_SECONDS, self.tick)
            self.set_timer(POLL_SECONDS, self._poll_timer)

    def on_unmount(self) -> None:
        if self.data is not None:
            self.data.close()

    @property
    def dashboard(self) -> DashboardScreen:
        # Kept, not looked up in screen_stack: that is empty while the app shuts down and a timer fires.
        return self._dashboard

    # -- clocks --------------------------------------------------------------------------------------
    def tick(self) -> None:
        """Once a second: visible countdowns, the status line, the open detail's header."""
        if self._dashboard is None or not self._dashboard.is_attached:  # a tick can race the teardown
            return
        now = self.clock.now()
        self.dashboard.refresh_visible(now)
        self.update_status(now)
        if isinstance(self.screen, DetailScreen):
            self.screen.tick()

    def _poll_timer(self) -> None:
        if self._dashboard is None or not self._dashboard.is_attached:  # shutting down: let it lapse
            return
        try:
            self.refresh_now()
        finally:
            if self.live and self.data is not None and not self.data.closed:
                self.set_timer(POLL_SECONDS, self._poll_timer)  # re-armed only after the check finished

    def refresh_now(self, force: bool = False) -> None:
        """Load what other processes committed, if anything (cheap when nothing changed)."""
        if self.data is None or self.data.closed:
            return
        ch = self.data.poll(force=force)
        if ch is None:
            return
        self.stats = self.data.stats()
        if ch:
            self._counts = None
            for tid in ch.removed:
                self.tickets.pop(tid, None)
                self.marked.discard(tid)
            for tid, r in ch.upserts.items():
                self.tickets[tid] = _prep(r)
            self.dashboard.sync(set(ch.upserts) | ch.removed)
            for tid in sorted(ch.new_ids):
                t = self.tickets.get(tid)
                if t and t["class"] == "III" and t["status"] == "new":
                    self.notify(f"#{tid} {clean_line(t['subject'], 80)} from {clean_line(t['requester'], 60)}",
                                title="New Class III ticket", severity="error", timeout=10, markup=False)
                    self.bell()
            if isinstance(self.screen, DetailScreen) and (
                    self.screen.ticket_id in ch.upserts or self.screen.ticket_id in ch.removed):
                self.screen.reload()
        self.update_status()

    def update_status(self, now: datetime | None = None) -> None:
        now = now or self.clock.now()
        if self._oncall_at is None or abs((now - self._oncall_at).total_seconds()) >= 10:
            try:
                self.oncall = self.data.oncall(self.cfg, now)
            except Exception:  # a broken rotation must not take the console down
                self.oncall = None
            self._oncall_at = now
        if self._counts is None:
            self._counts = {"I": 0, "II": 0, "III": 0}
            for t in self.tickets.values():
                self._counts[t["class"]] = self._counts.get(t["class"], 0) + 1
            self._dues = sorted(t["_due"] for t in self.tickets.values() if not t["acknowledged_at"])
        counts = self._counts
        breached = bisect.bisect_left(self._dues, now)  # due strictly before now: breached
        text = status_text(operator=self.operator, counts=counts, breached=breached, oncall=self.oncall,
                           stats=self.stats, now=now, tz=self.cfg.timezone, role=self.role)
        for bar in self.screen.query(StatusBar):
            bar.set_status(text)

    # -- actions ---------------------------------------------------------------------------------------
    def start_action(self, kind: str, ids: list[int], **params: Any) -> None:
        versions = {}
        for tid in ids:
            t = self.tickets.get(tid)
            if t is None:
                self.notify(f"#{tid} is no longer open", severity="warning")
            else:
                versions[tid] = t["version"]  # the version the operator saw: a stale write is refused
        if versions:
            self._run_action(kind, versions, params)

    @work(thread=True, group="actions", exit_on_error=False)
    def _run_action(self, kind: str, versions: dict[int, int], params: dict[str, Any]) -> None:
        import store

        done, refused = [], []
        try:
            db = store.open_db(self.db_path)
        except StoreError as exc:
            self.post_message(ActionDone(kind, [], [(tid, str(exc)) for tid in versions], params))
            return
        try:
            for tid, version in versions.items():
                now = self.clock.now()
                try:
                    if kind == "acknowledge":
                        actions.acknowledge(db, self.cfg, tid, self.operator, now, expected_version=version)
                    elif kind == "take":
                        actions.take(db, self.cfg, tid, self.operator, now, expected_version=version)
                    elif kind == "assign":
                        actions.assign(db, self.cfg, tid, params["handle"], self.operator, now,
                                       expected_version=version)
                    elif kind == "reclassify":
                        actions.reclassify(db, self.cfg, tid, params["cls"], self.operator, now,
                                           reason=params.get("reason") or None, panic=params.get("panic", False),
                                           expected_version=version)
                    elif kind == "resolve":
                        actions.resolve(db, self.cfg, tid, self.operator, now, note=params.get("note") or None,
                                        expected_version=version)
                    else:
                        raise actions.ActionRefused(f"unknown action {kind}")
                    done.append(tid)
                except StoreError as exc:
                    refused.append((tid, str(exc)))
                except Exception as exc:  # never take the console down; say what happened
                    refused.append((tid, f"internal error: {type(exc).__name__}: {exc}"))
        finally:
            db.conn.close()
        self.post_message(ActionDone(kind, done, refused, params))

    def on_action_done(self, msg: ActionDone) -> None:
        if msg.done:
            ids = ", ".join(f"#{t}" for t in msg.done)
            extra = ""
            if msg.kind == "assign":
                extra = f" to {msg.params['handle']}"
            elif msg.kind == "reclassify":
                extra = f" as Class {msg.params['cls']}" + (" (panic mode)" if msg.params.get("panic") else "")
            self.notify(f"{VERBS.get(msg.kind, msg.kind)} {ids}{extra}", markup=False, timeout=4)
            self.marked.difference_update(msg.done if msg.kind == "assign" else ())
        for tid, why in msg.refused:
            self.notify(why, title=f"Refused: {msg.kind} #{tid}", severity="error", markup=False, timeout=8)
        self.refresh_now(force=True)
        self.dashboard.show_viewbar()

    def _title(self, verb: str, tid: int) -> Text:
        t = self.tickets.get(tid)
        out = Text(f"{verb} ", style="bold")
        if t is None:
            return out + Text(f"#{tid}")
        out.append_text(badge_text(t["class"]))
        out.append(f" #{tid} ", style="bold")
        out.append(clean_line(t["subject"], 50))
        return out

    def open_assign(self, ids: list[int]) -> None:
        if len(ids) == 1:
            title = self._title("Assign", ids[0])
            current = (self.tickets.get(ids[0]) or {}).get("assignee")
        else:
            title = Text(f"Reassign {len(ids)} marked tickets to", style="bold")
            current = None

        def chosen(handle: str | None) -> None:
            if handle:
                self.start_action("assign", ids, handle=handle)

        self.push_screen(StaffPicker(title, self.data.staff(), self.oncall, current), chosen)

    def open_reclassify(self, tid: int) -> None:
        t = self.tickets.get(tid)
        if t is None:
            self.notify(f"#{tid} is no longer open", severity="warning")
            return

        def chosen(r: ReclassifyResult | None) -> None:
            if r is not None:
                self.start_action("reclassify", [tid], cls=r.cls, reason=r.reason, panic=r.panic)

        self.push_screen(ReclassifyDialog(self._title("Reclassify", tid), t["class"]), chosen)

    def open_resolve(self, tid: int) -> None:
        def chosen(note: str | None) -> None:
            if note is not None:
                self.start_action("resolve", [tid], note=note)

        self.push_screen(ResolveDialog(self._title("Resolve", tid)), chosen)

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    # -- pages (demo) ----------------------------------------------------------------------------------
    def on_page_arrived(self, msg: PageArrived) -> None:
        at = self.clock.now().astimezone(self.cfg.timezone).strftime("%H:%M:%S")
        self.pages.append((at, msg.title, msg.body))
        # One page goes to several people at once: one toast per page, one log line per person.
        if msg.title != self._last_toast:
            self._last_toast = msg.title
            self.notify(clean_line(msg.body, 160), title=clean_line(msg.title, 80), severity="warning",
                        markup=False, timeout=6)
        who = f"-> {clean_line(msg.to, 12)}  " if msg.to else ""
        self.dashboard.add_page(who + clean_line(msg.title, 120), clean_block(msg.body), at)


def _prep(row: dict[str, Any]) -> dict[str, Any]:
    t = dict(row)
    t["_due"] = fast_time(t["due_at"])
    t["_received"] = fast_time(t["received_at"])
    return t


def run_console(db_path: Path, cfg: Config, operator: str, clock: Clock) -> int:
    app = ConsoleApp(db_path, cfg, operator, clock)
    app.run()
    return app.return_code or 0
