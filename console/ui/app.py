"""The operator console: a Textual app over the shared SQLite file.

Nothing slow runs on the UI thread. A 0.5 s timer starts a thread worker that asks SQLite whether
anyone committed (`PRAGMA data_version`) and only then reads what changed; its result comes back
to the UI thread, which applies it and re-arms the timer (checks never overlap). A 1 s timer
redraws the visible countdowns and the header. Ticket details, searches, the pages panel and every
write (through `console.actions`, each worker with its own connection) run in thread workers too.
Worker errors are reported in one place, `on_worker_state_changed`. Replies and notes (`r`, `n`) are
a `console.ui.replying.Replies` the app owns (`app.replies`).
"""
from __future__ import annotations

import bisect
import time
from collections.abc import Callable, Iterable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, cast

from store.db import Database
from textual import work
from textual.app import App, SystemCommand
from textual.content import Content
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import TextArea
from textual.worker import Worker, WorkerState

from console import actions, health as desk_health, logs, status
from store.fileguard import FileWatch
from console.clock import Clock
from console.config import Config
from console.safe_text import clean_line
from console.ui import format as fmt
from console.ui import keys
from console.ui import styles as st
from console.ui.data import Changes, TicketData
from console.ui.replying import Replies, SendMail, Severity
from console.ui.shown import ShownTicket, prep
from console.ui.screens.dashboard import DashboardScreen
from console.ui.screens.detail import DetailScreen, FileRef, default_save_dir, file_words
from console.ui.screens.dialogs import (GotoDialog, Person, ReclassifyDialog, ReclassifyResult, ResolveDialog,
                                        SaveChoice, SaveDialog, StaffPicker)
from console.ui.screens.help import HelpScreen
from console.ui.theme import THEME
from console.ui.widgets.status import StatusBar, status_text
from store.errors import KNOWN_ERRORS
from store.rows import ListedTicket

if TYPE_CHECKING:
    from console.alerts.oncall import OnCall

POLL_SECONDS = 0.5
TICK_SECONDS = 1.0
STARTUP_QUIET = 2.0     # toasts raised in the first seconds are gathered into one
COALESCE_SECONDS = 0.3  # later ones that come together, too
MAX_TOAST_LINES = 6
VERBS = {"acknowledge": "Acknowledged", "take": "Took", "assign": "Assigned", "reclassify": "Reclassified",
         "resolve": "Resolved", "reopen": "Reopened"}
# Pages that every console announces with a toast and the bell (a Class III arrival has its own toast).
STEP_NEWS = {"escalate": ("ESCALATED", "to the whole team"), "breach": ("BREACHED", "first contact is overdue"),
             "repeat": ("STILL BREACHED", "nobody has acknowledged it")}


class PageSink(Protocol):
    """Where the demo's desk:// pages arrive (console.demo.PageSink): `attach(callback)` has each one
    handed over as callback(title, body, to), from any thread."""

    def attach(self, callback: Callable[[str, str, str], object]) -> None: ...


class ConsoleApp(App[None]):
    CSS_PATH = "app.tcss"
    TITLE = "support-console"
    BINDINGS = keys.bindings(keys.APP)
    COMMANDS = App.COMMANDS | {keys.KeyCommands}
    ENABLE_COMMAND_PALETTE = True

    def __init__(self, db_path: Path, cfg: Config, operator: str, clock: Clock, *,
                 page_sink: PageSink | None = None, live: bool = True, send_mail: SendMail | None = None) -> None:
        """`send_mail(db, cfg, send_id, clock) -> delivery.Outcome` tries a queued reply at once
        (default console.outbox.mail.send_now; the demo gives its in-process mailbox)."""
        super().__init__()
        self.register_theme(THEME)
        self.theme = THEME.name
        self.db_path = Path(db_path)
        self.cfg = cfg
        self.operator = operator
        self.clock = clock
        self.page_sink = page_sink
        self.live = live  # timers on; tests may turn them off and drive tick()/refresh_now() themselves
        self.warn_fraction = cfg.sla.warn_fraction
        self.data: TicketData | None = None
        self.tickets: dict[int, ShownTicket] = {}
        self.resolved: dict[int, ShownTicket] = {}
        self.marked: set[int] = set()
        self.people: list[Person] = []
        self.health: desk_health.Health | None = None
        self._beats: list[dict[str, Any]] = []
        self._outbox: dict[str, int] = {}
        self._silences: tuple[int, int] = (0, 0)
        self.oncall: OnCall | None = None
        self._oncall_at: datetime | None = None
        self.role: str | None = None
        self.pages: list[tuple[str, str, str]] = []  # demo: what reached the desk:// channel
        self._dashboard: DashboardScreen | None = None
        self.first_paint_at: float | None = None   # perf_counter() of the first frame (for bench/)
        self.detail_painted_at: float | None = None
        self._counts: dict[str, int] | None = None  # per class, and unacknowledged due times: rebuilt on change
        self._dues: list[datetime] = []
        self._news: list[tuple[str, str, Severity, bool]] = []
        self._news_timer: Timer | None = None
        self._started = time.monotonic()
        if send_mail is None:
            from console.outbox.mail import send_now

            send_mail = send_now
        self.replies = Replies(self, self, cfg=cfg, operator=operator, clock=clock, db_path=self.db_path,
                               send_mail=send_mail)
        self._file_watch: FileWatch | None = None

    # -- start-up ------------------------------------------------------------------------------------
    def get_default_screen(self) -> DashboardScreen:
        self._dashboard = DashboardScreen()
        return self._dashboard

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        # Quit and help are in the key registry already: the palette lists each entry once.
        for cmd in super().get_system_commands(screen):
            if cmd.title not in ("Quit", "Keys"):
                yield cmd

    def ensure_loaded(self) -> None:
        """The first load (called by whichever of app and dashboard mounts first)."""
        if self.data is not None:
            return
        self.data = TicketData(self.db_path, self.clock)
        self.tickets = {tid: prep(r) for tid, r in self.data.load_all().items()}
        self.people = [Person.clean(p) for p in self.data.staff()]
        person = next((p for p in self.people if p.handle == self.operator), None)
        self.role = person.role if person else None
        self._beats, self._outbox = self.data.health_inputs()
        self._silences = self.data.silences()
        # Is the database still the file we opened? A deleted or replaced one is said once, loudly.
        self._file_watch = FileWatch(self.db_path)

    @property
    def remap(self) -> dict[str, str]:
        """The desk's [console.keys]: binding id -> keys (checked when the config loaded)."""
        return dict(self.cfg.console.keys)

    def on_mount(self) -> None:
        if self.cfg.console.keys:
            self.set_keymap(self.remap)  # Textual's keymap API: every screen's binding with that id moves
        self.ensure_loaded()
        if self.page_sink is not None:
            self.page_sink.attach(lambda title, body, to: self.call_later(self._page_arrived, title, body, to))
        if self.role is None:
            self.announce("Not on the staff list", f"{clean_line(self.operator, 40)!r} is not on the staff list: "
                          "actions will be refused", "warning")
        self._assess(self.clock.now(), first=True)
        self._news_done()
        if self.live:
            self.set_interval(TICK_SECONDS, self.tick)
            self.set_timer(POLL_SECONDS, self._poll_timer)

    def on_unmount(self) -> None:
        if self.data is not None:
            self.data.close()

    def painted(self) -> None:
        if self.first_paint_at is None:
            self.first_paint_at = time.perf_counter()

    def detail_painted(self) -> None:
        self.detail_painted_at = time.perf_counter()

    @property
    def dashboard(self) -> DashboardScreen:
        # Kept, not looked up in screen_stack: that is empty while the app shuts down and a timer fires.
        if self._dashboard is None:
            raise RuntimeError("the dashboard is made with the app's first screen")
        return self._dashboard

    @property
    def reads(self) -> TicketData:
        """The console's reads (ensure_loaded made them before anything asks)."""
        if self.data is None:
            raise RuntimeError("the console's reads are made when it mounts")
        return self.data

    def _alive(self) -> bool:
        return self._dashboard is not None and self._dashboard.is_attached and self.data is not None \
            and not self.data.closed

    # -- clocks --------------------------------------------------------------------------------------
    def tick(self) -> None:
        """Once a second: visible countdowns, health, the header of every screen, the open detail's header."""
        if not self._alive():  # a tick can race the teardown
            return
        now = self.clock.now()
        self.dashboard.tick(now)
        self._check_file()
        self._assess(now)
        self._news_done()
        self.update_status(now)
        for screen in self.screen_stack:
            if isinstance(screen, DetailScreen):
                screen.tick()

    def _poll_timer(self) -> None:
        if self._alive():
            self._poll_worker()

    @work(thread=True, exclusive=True, group="poll", exit_on_error=False)
    def _poll_worker(self) -> None:
        try:
            ch = self.reads.poll()
        finally:
            self.call_from_thread(self._polled_then_rearm)
        if ch is not None:
            self.call_from_thread(self._apply, ch)

    def _polled_then_rearm(self) -> None:
        if self.live and self._alive():
            self.set_timer(POLL_SECONDS, self._poll_timer)  # re-armed only after the check finished

    def refresh_soon(self) -> None:
        """Check for changes now, in a worker (after an action, `R`): the UI thread never reads."""
        if self.data is not None and not self.data.closed:
            self._refresh_worker()

    @work(thread=True, group="refresh", exit_on_error=False)
    def _refresh_worker(self) -> None:
        ch = self.reads.poll(force=True)
        if ch is not None:
            self.call_from_thread(self._apply, ch)

    def steady_cursors(self) -> None:
        """Text cursors drawn without blinking, so a screenshot does not depend on when it was taken."""
        for area in self.screen.query(TextArea):
            area.cursor_blink = False

    def refresh_now(self, force: bool = False) -> None:
        """Check for changes here and now, on the calling thread: the timer's work, for tests to drive."""
        if self.data is None or self.data.closed:
            return
        ch = self.data.poll(force=force)
        if ch is not None:
            self._apply(ch)

    def _apply(self, ch: Changes) -> None:
        if not self._alive():
            return
        outbox_moved = ch.outbox != self._outbox  # a page sent or failed changes the counts, not the tickets
        self._beats, self._outbox, self._silences = ch.beats, ch.outbox, ch.silences
        reload = set(ch.details)
        if ch:
            self._counts = None
            for tid in ch.removed:
                self.tickets.pop(tid, None)
                self.marked.discard(tid)
            for tid, r in ch.upserts.items():
                self._customer_news(self.tickets.get(tid), r)
                self.tickets[tid] = prep(r)
                self.resolved.pop(tid, None)
            if self.dashboard.view.resolved and (ch.removed or ch.upserts):
                self.load_resolved()
            self.dashboard.sync(set(ch.upserts) | ch.removed)
            for tid in sorted(ch.new_ids):
                t = self.tickets.get(tid)
                if t and t["class"] == "III" and t["status"] == "new":
                    self.announce("New Class III ticket", f"#{tid} {t['_subject'][:80]} from {t['_requester']}",
                                  "error", bell=True)
            reload |= set(ch.upserts) | ch.removed
        for screen in self.screen_stack:
            if isinstance(screen, DetailScreen) and screen.ticket_id in reload:
                screen.reload()
        self._announce_pages(ch.alerts)
        self.replies.announce_mail(ch.mail_failures)
        if (ch.alerts or outbox_moved) and self.dashboard.query_one("#pages").has_class("-shown"):
            self.load_pages()
        self._assess(self.clock.now())
        self._news_done()
        self.update_status()

    # -- news: toasts and the bell -----------------------------------------------------------------------
    def mine(self, t: ListedTicket) -> bool:
        """The operator's ticket: assigned to them, or acknowledged by them and assigned to nobody."""
        return t.get("assignee") == self.operator or (t.get("assignee") is None
                                                      and t.get("acknowledged_by") == self.operator)

    def _customer_news(self, before: ShownTicket | None, now: ListedTicket) -> None:
        """The customer wrote again on the operator's own ticket: say so (the list only shows a mark)."""
        if before is None or not now.get("customer_wrote") or not self.mine(now):
            return
        if now.get("message_count", 0) <= before.get("message_count", 0) and before.get("customer_wrote"):
            return
        t = prep(now)
        self.announce(f"#{t['id']}: the customer wrote again", f"{t['_subject'][:80]} from {t['_requester']}",
                      "warning", bell=True)

    def announce(self, title: str, message: str, severity: Severity = "information", bell: bool = False) -> None:
        """A toast, gathered with others raised at about the same time (and all those of start-up) into
        one, so that they never pile up over the list."""
        self._news.append((title, message, severity, bell))
        if self.live and self._news_timer is None:
            wait = max(COALESCE_SECONDS, STARTUP_QUIET - (time.monotonic() - self._started))
            self._news_timer = self.set_timer(wait, self.flush_news)

    def _news_done(self) -> None:
        """Without timers (tests, screenshots), what one step raised is shown at its end."""
        if not self.live:
            self.flush_news()

    def flush_news(self) -> None:
        self._news_timer = None
        news, self._news = self._news, []
        if not news:
            return
        rank = {"information": 0, "warning": 1, "error": 2}
        severity = max((n[2] for n in news), key=lambda s: rank.get(s, 0))
        if len(news) == 1:
            title, message = news[0][0], news[0][1]
        else:
            title = f"{len(news)} alerts"
            lines = [f"{t}: {m}" for t, m, _, _ in news[:MAX_TOAST_LINES]]
            if len(news) > MAX_TOAST_LINES:
                lines.append(f"… and {len(news) - MAX_TOAST_LINES} more (p shows the pages)")
            message = "\n".join(lines)
        self.notify(message, title=title, severity=severity, timeout=10 if severity == "error" else 6, markup=False)
        if any(n[3] for n in news):
            self.bell()

    def _announce_pages(self, alerts: list[dict[str, Any]]) -> None:
        seen: set[tuple[int, str]] = set()
        for a in alerts:
            kind = "repeat" if a["step"].startswith("repeat") else a["step"]
            news = STEP_NEWS.get(kind)
            key = (a["ticket_id"], a["step"])
            if news is None or key in seen:
                continue  # one toast per step, however many people it paged
            seen.add(key)
            t = self.tickets.get(a["ticket_id"])
            subject = t["_subject"][:60] if t else clean_line(a["title"], 60)
            targets = sorted({clean_line(b["target"], 20) for b in alerts if (b["ticket_id"], b["step"]) == key})
            self.announce(f"{news[0]}: #{a['ticket_id']}", f"{subject}: {news[1]}; paged {', '.join(targets)}",
                          "error", bell=True)

    def _check_file(self) -> None:
        watch = self._file_watch
        if watch is None or watch.fault is not None:
            return
        fault = watch.check()
        if fault:
            self.announce("Database lost", f"{fault}. This console shows what it had read; actions may be lost. "
                          "Ask whoever runs the poller (it stops and says how to restore), then restart the "
                          "console", "error", bell=True)

    def _assess(self, now: datetime, first: bool = False) -> None:
        h = status.judge(self.cfg, self._beats, self._outbox, now)
        before, self.health = self.health, h
        for name in ("scheduler", "intake"):
            c = getattr(h, name)
            was = getattr(before, name) if before is not None else None
            if not c.ok and (first or (was is not None and was.ok)):
                self.announce(f"{name.capitalize()} is not running" if c.state in ("stale", "never run")
                              else f"{name.capitalize()}: {c.state}", clean_line(c.summary, 160), "error", bell=True)
            elif c.ok and was is not None and not was.ok:
                self.announce(f"{name.capitalize()} is back", clean_line(c.summary, 160))

    def _read_oncall(self, now: datetime) -> OnCall | None:
        try:
            return self.reads.oncall(self.cfg, now)
        except Exception:  # noqa: BLE001 - a broken rotation must not take the console down
            return None

    @work(thread=True, exclusive=True, group="oncall", exit_on_error=False)
    def _oncall_worker(self, now: datetime) -> None:
        oncall = self._read_oncall(now)
        self.call_from_thread(self._set_oncall, oncall)

    def _set_oncall(self, oncall: OnCall | None) -> None:
        if oncall != self.oncall:
            self.oncall = oncall
            self.update_status()

    def update_status(self, now: datetime | None = None) -> None:
        now = now or self.clock.now()
        if self.data is None or self.data.closed:
            return
        if self._oncall_at is None:  # the first paint has it; later lookups run in a worker
            self.oncall = self._read_oncall(now)
            self._oncall_at = now
        elif abs((now - self._oncall_at).total_seconds()) >= 10:
            self._oncall_at = now
            self._oncall_worker(now)
        if self._counts is None:
            self._counts = {cls: 0 for cls in fmt.CLASSES}
            for t in self.tickets.values():
                self._counts[t["class"]] = self._counts.get(t["class"], 0) + 1
            self._dues = sorted(t["_due"] for t in self.tickets.values() if not t["acknowledged_at"])
        breached = bisect.bisect_left(self._dues, now)  # due strictly before now: breached
        text = status_text(operator=self.operator, counts=self._counts, breached=breached, oncall=self.oncall,
                           health=self.health, now=now, tz=self.cfg.timezone, role=self.role, silences=self._silences)
        for screen in self.screen_stack:  # the screens under a dialog keep time too
            for bar in screen.query(StatusBar):
                bar.set_status(text)

    # -- worker errors, in one place ------------------------------------------------------------------
    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state != WorkerState.ERROR:
            return
        err = event.worker.error
        # Masked like every line the desk prints: an exception's text may quote a notify URL (apprise's do).
        said = clean_line(logs.redact(str(err)), 200)
        self.notify(f"{type(err).__name__}: {said}", title=f"Internal error ({event.worker.name})",
                    severity="error", markup=False, timeout=10)
        if event.worker.group == "poll":
            self._polled_then_rearm()

    # -- tickets by id ---------------------------------------------------------------------------------
    def known(self, tid: int) -> ShownTicket | None:
        return self.tickets.get(tid) or self.resolved.get(tid)

    def ticket_for(self, tid: int) -> ShownTicket | None:
        """The ticket as the operator sees it: the list's copy, else an open detail's."""
        t = self.known(tid)
        if t is None:
            for screen in self.screen_stack:
                if isinstance(screen, DetailScreen) and screen.ticket_id == tid and screen.ticket:
                    t = screen.ticket
        return t

    def ticket_written(self, tid: int) -> None:
        """A reply or note was stored: look again now, at the list and at the ticket if it is open."""
        if not self._alive():
            return
        self.refresh_soon()
        for s in self.screen_stack:
            if isinstance(s, DetailScreen) and s.ticket_id == tid:
                s.reload()

    def ticket_summary(self, tid: int) -> str:
        t = self.known(tid)
        return f"{t['_subject'][:50]} (Class {t['class']}, {t['status']})" if t else ""

    def open_ticket(self, tid: int) -> None:
        for screen in list(self.screen_stack[1:]):
            if isinstance(screen, DetailScreen) and screen.ticket_id == tid:
                return
        self.push_screen(DetailScreen(tid))

    def action_goto(self) -> None:
        def chosen(tid: int | None) -> None:
            if tid is not None:
                self.open_ticket(tid)

        self.push_screen(GotoDialog(), chosen)

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    def action_sla_report(self) -> None:
        from console.ui.screens.report import ReportScreen

        if not isinstance(self.screen, ReportScreen):
            self.push_screen(ReportScreen())

    def prep(self, row: ListedTicket) -> ShownTicket:
        return prep(row)

    @work(thread=True, exclusive=True, group="resolved", exit_on_error=False)
    def load_resolved(self) -> None:
        # TicketData.resolved gives store.console_reads' ticket rows, whose shape is a ListedTicket.
        rows = {tid: prep(cast(ListedTicket, r)) for tid, r in self.reads.resolved().items()}
        self.call_from_thread(self._resolved_loaded, rows)

    def _resolved_loaded(self, rows: dict[int, ShownTicket]) -> None:
        self.resolved = rows
        if self._alive():
            self.dashboard.sync()

    @work(thread=True, exclusive=True, group="pages", exit_on_error=False)
    def load_pages(self) -> None:
        rows = self.reads.recent_pages()
        self.call_from_thread(self._pages_loaded, rows)

    def _pages_loaded(self, rows: list[dict[str, Any]]) -> None:
        if self._alive():
            self.dashboard.show_pages(rows)

    # -- actions ---------------------------------------------------------------------------------------
    def start_action(self, kind: str, ids: list[int], seen: dict[int, ShownTicket] | None = None,
                     **params: Any) -> None:
        """Run an action on tickets as the operator saw them (`seen`: when a dialog opened; else now).
        A ticket changed since then is refused with what changed, and nothing is written."""
        if seen is None:
            seen = {}
            for tid in ids:
                t = self.ticket_for(tid)
                if t is None:
                    self.notify(f"#{tid} is not loaded here", severity="warning")
                else:
                    seen[tid] = t.copy()
        if seen:
            self._run_action(kind, seen, params)

    @work(thread=True, group="actions", exit_on_error=False)
    def _run_action(self, kind: str, seen: dict[int, ShownTicket], params: dict[str, Any]) -> None:
        import store
        from store import tickets as store_tickets

        done: list[int] = []
        refused: list[tuple[int, str]] = []
        try:
            db = store.open_db(self.db_path)
        except KNOWN_ERRORS as exc:
            self.call_from_thread(self._action_done, kind, [], [(tid, str(exc)) for tid in seen], params)
            return
        try:
            for tid, t in seen.items():
                now = self.clock.now()
                version = t["version"]
                try:
                    current = store_tickets.get_ticket(db, tid)
                    if current["version"] != version:
                        raise actions.ActionRefused(f"#{tid} changed since you opened this: "
                                                    f"{fmt.describe_change(t, current)}; nothing was written")
                    self._one_action(db, kind, tid, version, now, params)
                    done.append(tid)
                except KNOWN_ERRORS as exc:
                    refused.append((tid, str(exc)))
                except Exception as exc:  # never take the console down; say what happened
                    refused.append((tid, f"internal error: {type(exc).__name__}: {exc}"))
        finally:
            db.conn.close()
        self.call_from_thread(self._action_done, kind, done, refused, params)

    def _one_action(self, db: Database, kind: str, tid: int, version: int, now: datetime,
                    params: dict[str, Any]) -> None:
        me = self.operator
        if kind == "acknowledge":
            actions.acknowledge(db, self.cfg, tid, me, now, expected_version=version)
        elif kind == "take":
            actions.take(db, self.cfg, tid, me, now, expected_version=version)
        elif kind == "assign":
            actions.assign(db, self.cfg, tid, params["handle"], me, now, expected_version=version)
        elif kind == "reclassify":
            actions.reclassify(db, self.cfg, tid, params["cls"], me, now, reason=params.get("reason") or None,
                               panic=params.get("panic", False), expected_version=version)
        elif kind == "resolve":
            actions.resolve(db, self.cfg, tid, me, now, note=params.get("note") or None, expected_version=version)
        elif kind == "reopen":
            actions.reopen(db, self.cfg, tid, me, now, expected_version=version)
        else:
            raise actions.ActionRefused(f"unknown action {kind}")

    def _action_done(self, kind: str, done: list[int], refused: list[tuple[int, str]], params: dict[str, Any]) -> None:
        if done:
            ids = ", ".join(f"#{t}" for t in done)
            extra = ""
            if kind == "assign":
                extra = f" to {clean_line(params['handle'], 20)}"
            elif kind == "reclassify":
                extra = f" as Class {params['cls']}" + (" (panic mode)" if params.get("panic") else "")
            self.notify(f"{VERBS.get(kind, kind)} {ids}{extra}", markup=False, timeout=4)
            if kind in ("assign", "acknowledge"):
                self.marked.difference_update(done)
        for tid, why in refused:
            self.notify(clean_line(why, 300), title=f"Refused: {kind} #{tid}", severity="error", markup=False,
                        timeout=8)
        if not self._alive():
            return
        self.refresh_soon()
        if kind in ("resolve", "reopen") and (self.dashboard.view.resolved or kind == "reopen"):
            self.load_resolved()
        self.dashboard.show_viewbar()

    def dialog_title(self, verb: str, tid: int) -> Content:
        t = self.known(tid)
        if t is None:
            return st.bold(f"{verb} #{tid}")
        return st.join(st.bold(f"{verb} "), st.badge(t["class"]), st.bold(f" #{tid} "), t["_subject"][:50])

    def _is_super(self) -> bool:
        return self.role == "supervisor"

    def refuse_early(self, kind: str, tid: int, why: str) -> None:
        self.notify(why, title=f"Not allowed: {kind} #{tid}", severity="warning", markup=False, timeout=6)

    def owned_elsewhere(self, t: ShownTicket) -> bool:
        return not self._is_super() and t.get("assignee") not in (None, self.operator)

    def open_assign(self, ids: list[int]) -> None:
        seen = {tid: t.copy() for tid in ids if (t := self.known(tid)) is not None}
        if not seen:
            return
        if len(ids) == 1:
            current = seen[ids[0]].get("assignee")
            title = self.dialog_title("Assign", ids[0]) + (st.muted(f"   now {clean_line(current, 20)}")
                                                           if current else "")
        else:
            title = st.bold(f"Reassign {len(ids)} marked tickets to")
            current = None
        people = self.people
        if not self._is_super():
            # Staff may only take unassigned tickets: offer that one choice, or say why there is none.
            if self.role is None or any(t.get("assignee") is not None for t in seen.values()):
                self.refuse_early("assign", ids[0], "only a supervisor may assign tickets to others or reassign "
                                  "them; staff may take unassigned tickets (t)")
                return
            people = [p for p in people if p.handle == self.operator]
        elif current is not None:
            people = [p for p in people if p.handle != current]  # "already assigned to" would be refused

        def chosen(handle: str | None) -> None:
            if handle:
                self.start_action("assign", list(seen), seen=seen, handle=handle)

        self.push_screen(StaffPicker(title, people, self.oncall, current), chosen)

    def _changeable(self, verb: str, tid: int) -> ShownTicket | None:
        """The open ticket as the operator sees it now, if they may `verb` it; else say why and None."""
        t = self.known(tid)
        if t is None or t["status"] == "resolved":
            self.notify(f"#{tid} is not open", severity="warning")
            return None
        if self.role is None:
            self.refuse_early(verb, tid, "you are not on the staff list")
            return None
        if self.owned_elsewhere(t):
            self.refuse_early(verb, tid, f"#{tid} is assigned to {t['_assignee']}; only they or a supervisor "
                              f"may {verb} it")
            return None
        return t

    def open_reclassify(self, tid: int) -> None:
        if (t := self._changeable("reclassify", tid)) is None:
            return
        seen = {tid: t.copy()}
        received = t["_received"]

        def note_for(cls: str) -> tuple[str, bool]:
            from console import policy as pol

            due = pol.deadline(cls, received, self.cfg.sla)
            now = self.clock.now()
            out_of_iii = t["class"] == "III" and cls != "III" and not t.get("acknowledged_at")
            return fmt.deadline_note(cls, due, now, stands_down=out_of_iii), due < now

        def chosen(r: ReclassifyResult | None) -> None:
            if r is not None:
                self.start_action("reclassify", [tid], seen=seen, cls=r.cls, reason=r.reason, panic=r.panic)

        self.push_screen(ReclassifyDialog(self.dialog_title("Reclassify", tid), t["class"], note_for,
                                          allow_panic=self._is_super() and t["class"] == "III"), chosen)

    def open_silence(self, tid: int) -> None:
        """"Silence this sender for…" (supervisors): the dialog, then console.silencing in a worker."""
        t = self.known(tid)
        if t is None:
            return
        if not self._is_super():
            self.refuse_early("silence", tid, "only a supervisor may silence pages")
            return
        from console.ui.screens.silence import SilenceDialog, SilenceRequest

        def chosen(r: SilenceRequest | None) -> None:
            if r is not None:
                self._run_silence(tid, r)

        self.push_screen(SilenceDialog(self.dialog_title("Silence pages like", tid), str(t.get("requester") or "")),
                         chosen)

    @work(thread=True, group="actions", exit_on_error=False)
    def _run_silence(self, tid: int, r: Any) -> None:
        import store
        from console import policy as pol, silencing
        from store.errors import UsageError

        try:
            try:
                length = pol.parse_duration(r.length)
            except ValueError as exc:
                raise UsageError(f"how long: {exc}") from None
            db = store.open_db(self.db_path)
            try:
                s = silencing.add(db, self.cfg, kind=r.kind, pattern=r.pattern, length=length, reason=r.reason,
                                  actor=self.operator, now=self.clock.now(), ticket_id=tid)
            finally:
                db.conn.close()
        except KNOWN_ERRORS as exc:
            self.call_from_thread(self.notify, clean_line(str(exc), 300), title="Refused: silence",
                                  severity="error", markup=False, timeout=8)
            return
        from store.times import parse_iso

        until = fmt.local_time(parse_iso(s["ends_at"]), self.cfg.timezone, "%H:%M %Z")
        self.call_from_thread(self.notify, f"Pages for {s['kind']} {clean_line(s['pattern'], 60)} are held until "
                              f"{until} (silence {s['id']}; support-console silence end {s['id']})", markup=False,
                              timeout=6)
        self.call_from_thread(self.refresh_soon)

    def open_resolve(self, tid: int) -> None:
        if (t := self._changeable("resolve", tid)) is None:
            return
        seen = {tid: t.copy()}

        def chosen(note: str | None) -> None:
            if note is not None:
                self.start_action("resolve", [tid], seen=seen, note=note)

        self.push_screen(ResolveDialog(self.dialog_title("Resolve", tid)), chosen)

    # -- attachments -------------------------------------------------------------------------------------
    def open_save(self, screen: DetailScreen) -> None:
        refs = screen.refs
        if not screen.loaded:
            return
        if not refs:
            self.notify("This ticket has no attachments", timeout=3)
            return
        from console.attachments import safe_name

        def default_path(i: int) -> str:
            name = safe_name(refs[i].filename, f"attachment-{i + 1}.bin")
            return str(default_save_dir() / f"ticket{screen.ticket_id}-{name}")

        def chosen(c: SaveChoice | None) -> None:
            if c is not None:
                self._save_attachment(refs[c.index], c.path)

        self.push_screen(SaveDialog(st.bold(f"Save an attachment of #{screen.ticket_id}"),
                                    [file_words(f) for f in refs], default_path), chosen)

    @work(thread=True, group="save", exit_on_error=False)
    def _save_attachment(self, ref: FileRef, path: str) -> None:
        from console import attachments

        data = attachments.find_payload(self.reads.raw(ref.message_id), ref.index)
        if data is None:
            self.call_from_thread(self.notify, "could not find that attachment in the stored mail",
                                  severity="error", markup=False)
            return
        try:
            written = attachments.write_new(path, data)
        except FileExistsError:
            self.call_from_thread(self.notify, f"{path} exists; nothing was written", title="Not saved",
                                  severity="warning", markup=False)
            return
        except OSError as exc:
            self.call_from_thread(self.notify, f"{path}: {exc.strerror or exc}", title="Not saved",
                                  severity="error", markup=False)
            return
        self.call_from_thread(self.notify, f"{written} ({fmt.size_words(len(data))}); not opened",
                              title="Attachment saved", markup=False)

    # -- pages reaching the demo's desk:// channel ------------------------------------------------------
    def _page_arrived(self, title: str, body: str, to: str) -> None:
        at = self.clock.now().astimezone(self.cfg.timezone).strftime("%H:%M:%S")
        self.pages.append((at, title, body))
        if self._alive() and self.dashboard.query_one("#pages").has_class("-shown"):
            self.load_pages()


def quiet_mail_log() -> None:
    """The console tells each mail's outcome in a toast; the sender's log lines would be written to the
    terminal under the screen (logging holds the real stderr) and draw over it."""
    import logging

    from console.outbox.mail import log

    logging.getLogger(log.name).setLevel(logging.CRITICAL)


def run_console(db_path: Path, cfg: Config, operator: str, clock: Clock) -> int:
    quiet_mail_log()
    app = ConsoleApp(db_path, cfg, operator, clock)
    app.run()
    return app.return_code or 0

