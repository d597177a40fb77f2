"""Replies and notes from the console (`r`, `n`, `T`, `d`, `S`): a `Replies` object the ConsoleApp owns.

The flow, for a reply: the draft is read in a worker (console.replies.desk.draft_reply: the customer's
last message quoted, the agent's signature, or a template filled in; it carries the ticket's version).
The text is then written in $VISUAL or $EDITOR with the app suspended, or, where suspending is
impossible (a browser through textual-serve; no editor set), in the built-in composer. The review
screen shows what will go out; `y` stores the reply and its outbox row in one transaction
(desk.send_reply, refused if the ticket changed since the draft) and then tries to send it at once
(delivery.send_now, or what the app was given instead: the demo's in-process mailbox). The poller
retries what could not go out. Everything that touches the database runs in thread workers, each with
its own connection; the editor runs on the UI thread, which is what App.suspend() is for.

Mail of the desk's that fails for good (5xx) or is cut short raises a toast from the change checks
(Replies.announce_mail, called by the app) unless this console already said so.

`Replies` is given what it uses, each by name: the Textual app it shows things on and runs its workers
in (`ui`), what it asks the console (`desk`: who the operator is to the desk, the tickets as shown,
the refusals said early), and the config, operator, clock, database path and mail sender.
"""
from __future__ import annotations

import enum
from collections.abc import Callable
from datetime import tzinfo
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol, cast

from store.db import Database
from textual.app import App, SuspendNotSupported
from textual.content import Content

from console import actions
from console.clock import Clock
from console.config import Config
from console.health import Health
from console.safe_text import clean_line
from console.ui import format as fmt
from console.ui import styles as st
from console.ui.screens.composer import ComposerScreen, ReviewScreen, Writing
from console.ui.screens.dialogs import ConfirmDialog, TemplateChoice, TemplatePicker
from console.ui.shown import ShownTicket
from store.errors import KNOWN_ERRORS
from store.rows import Event, Ticket

if TYPE_CHECKING:
    from console.outbox.mail import Outcome
    from console.replies.desk import Queued
    from console.ui.screens.detail import DetailScreen

NOT_SET_UP = "Replies are not set up: add an [smtp] table (host, from, ...) to the config; n still adds a note"


class NoEditor(enum.Enum):
    NO_EDITOR = "no editor"


NO_EDITOR = NoEditor.NO_EDITOR  # the editor cannot be used here: the built-in composer instead

# `send_mail(db, cfg, send_id, clock)`: try a queued mail at once (console.outbox.mail.send_now).
SendMail = Callable[[Database, Config, int, Clock], "Outcome"]


Severity = Literal["information", "warning", "error"]


class Desk(Protocol):
    """What replying asks the console (ConsoleApp is one)."""

    @property
    def role(self) -> str | None: ...         # the operator's role on the staff list; None: not on it

    @property
    def health(self) -> Health | None: ...    # the poller's, as last assessed

    def ticket_for(self, tid: int) -> ShownTicket | None: ...

    def owned_elsewhere(self, t: ShownTicket) -> bool: ...

    def refuse_early(self, kind: str, tid: int, why: str) -> None: ...

    def dialog_title(self, verb: str, tid: int) -> Content: ...

    def announce(self, title: str, message: str, severity: Severity = "information", bell: bool = False) -> None: ...

    def ticket_written(self, tid: int) -> None: ...  # look again now: the list, and the ticket if it is open


def read_ticket(db: Database, tid: int) -> Ticket:
    """store.tickets.get_ticket, whose row is a store.rows.Ticket."""
    from store import tickets

    return cast(Ticket, tickets.get_ticket(db, tid))


def template_summary(text: str) -> str:
    """A line of a template that says what it is about: the first one after the greeting."""
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    body = [ln for ln in lines if not ln.lower().startswith(("hello", "hi ", "dear"))]
    return clean_line((body or lines or [""])[0], 56)


def already_asked(events: list[Event], tz: tzinfo) -> str | None:
    """When the customer was last asked for details on this ticket (by hand or automatically)."""
    for e in reversed(events):
        d = e.get("detail") or {}
        if e["kind"] == "details_queued" or (e["kind"] == "reply_queued" and d.get("template") == "details"):
            from store.times import parse_iso

            who = "automatically" if e["actor"] in ("intake", "auto") else f"by {clean_line(e['actor'], 20)}"
            return f"Details were already asked for {who}, {fmt.local_time(parse_iso(e['at']), tz)}."
    return None


class Replies:
    """The console's replies and notes. The app owns one and calls the entry points (the keys)."""

    def __init__(self, ui: App[Any], desk: Desk, *, cfg: Config, operator: str, clock: Clock, db_path: Path,
                 send_mail: SendMail) -> None:
        self.ui = ui
        self.desk = desk
        self.cfg = cfg
        self.operator = operator
        self.clock = clock
        self.db_path = db_path
        self.send_mail = send_mail
        self.told_mail: set[int] = set()  # outbox ids whose failure this console has told already

    def _in_thread(self, name: str, group: str, fn: Callable[..., None], *args: Any) -> None:
        """Run `fn(*args)` in a thread worker of the app (its errors are reported where all are)."""
        self.ui.run_worker(partial(fn, *args), name=name, group=group, exit_on_error=False, thread=True)

    # -- entry points (the keys) ----------------------------------------------------------------------
    def reply_to(self, tid: int, template: str | None = None) -> None:
        if self._may_write("reply", tid):
            self._in_thread("_draft", "compose", self._draft, "reply", tid, template)

    def write_note(self, tid: int) -> None:
        if self._may_write("note", tid):
            self._in_thread("_draft", "compose", self._draft, "note", tid, None)

    def template_reply(self, tid: int) -> None:
        if self._may_write("reply", tid):
            self._offer(tid, lambda name: self._in_thread("_draft", "compose", self._draft, "reply", tid, name),
                        None)

    def ask_for_details(self, tid: int) -> None:
        from console.replies.templates import DETAILS

        t = self.desk.ticket_for(tid)
        if t is not None and not t.get("needs_details"):
            self.ui.notify(f"#{tid} is not a call-me-only mail; T offers every template", timeout=4, markup=False)
            return
        self.reply_to(tid, template=DETAILS)

    def _may_write(self, kind: str, tid: int) -> bool:
        """Say at once (one line) what would be refused anyway; console.actions stays the authority."""
        if kind == "reply" and self.cfg.smtp is None:
            self.ui.notify(NOT_SET_UP, severity="warning", timeout=6, markup=False)
            return False
        if self.desk.role is None:
            self.desk.refuse_early(kind, tid, "you are not on the staff list")
            return False
        t = self.desk.ticket_for(tid)
        if kind == "reply" and t is not None and self.desk.owned_elsewhere(t):
            self.desk.refuse_early(kind, tid, f"#{tid} is assigned to {clean_line(t['assignee'] or '', 20)}; only they "
                                   "or a supervisor may reply to it (n adds a note)")
            return False
        return True

    # -- the draft ------------------------------------------------------------------------------------
    def _draft(self, kind: str, tid: int, template: str | None) -> None:
        import store
        from console.replies import desk, templates
        from store import audit

        try:
            db = store.open_db(self.db_path)
        except KNOWN_ERRORS as exc:
            self.ui.call_from_thread(self._cannot, kind, tid, str(exc))
            return
        try:
            if kind == "note":
                w = Writing("note", read_ticket(db, tid), "", "")
            else:
                for _ in range(3):  # the draft and the ticket as of one version
                    d = desk.draft_reply(db, self.cfg, tid, self.operator, template=template)
                    t = read_ticket(db, tid)
                    if t["version"] == d.version:
                        break
                w = Writing("reply", t, d.body, d.body, to=d.to, cc=d.cc, subject=d.subject, template=template,
                            templates_dir=self.cfg.replies.templates)
                w.warnings.extend(d.notes)  # Cc left off (cannot be written safely), too many Cc
                if template == templates.DETAILS:
                    asked = already_asked(audit.events_for(db, tid), self.cfg.timezone)
                    if asked:
                        w.warnings.append(asked)
        except KNOWN_ERRORS + (templates.TemplateError,) as exc:
            self.ui.call_from_thread(self._cannot, kind, tid, str(exc))
            return
        finally:
            db.conn.close()
        self.ui.call_from_thread(self._drafted, w)

    def _cannot(self, kind: str, tid: int, why: str) -> None:
        self.ui.notify(clean_line(why, 300), title=f"Cannot {'reply to' if kind == 'reply' else 'add a note to'} "
                       f"#{tid}", severity="error", markup=False, timeout=8)

    def _drafted(self, w: Writing) -> None:
        if w.template is not None:
            self._review(w)  # a template is ready to go: look at it, then send or edit
        else:
            self._write(w)

    # -- writing: $EDITOR or the built-in composer --------------------------------------------------------
    def _write(self, w: Writing, again: bool = False) -> None:
        """Write (`again`: edit from the review) in the editor or the built-in composer, then review."""
        text = self.in_editor(w)
        if text is NO_EDITOR:
            self.ui.push_screen(ComposerScreen(w, self.offer_templates), lambda out: self._composer_closed(w, out))
            return
        if again:
            if text is None or not text.strip():
                # Left empty, or the editor failed: the text before is kept (the review can discard it).
                self.ui.notify("The editor gave nothing back; the text before is kept (esc discards it)", timeout=5)
            else:
                w.text = text
            self._review(w)
            return
        if text is None or not text.strip() or text.strip() == w.draft.strip():
            why = "the editor exited with an error" if text is None else \
                f"the {w.noun} was left {'empty' if not text.strip() else 'unchanged'}"
            self.ui.notify(f"#{w.ticket_id}: {why}; " + ("nothing was sent" if w.is_reply else "no note was added"),
                           timeout=5, markup=False)
            return
        w.text = text
        self._review(w)

    def in_editor(self, w: Writing) -> str | None | Literal[NoEditor.NO_EDITOR]:
        """The text after $VISUAL/$EDITOR ran on it with the app suspended; None when the editor failed;
        NO_EDITOR where it cannot run (no editor set, or no terminal to hand over, as in a browser)."""
        from console.replies import editor

        try:
            editor.editor_command()
        except editor.EditorError:
            return NO_EDITOR
        result: str | None | NoEditor | editor.EditorError = NO_EDITOR
        try:
            with self.ui.suspend():
                # Nothing may escape this block: Textual resumes the terminal only when it ends normally.
                try:
                    result = editor.run(w.text, name=f"{w.noun}-{w.ticket_id}.txt")
                except editor.EditorError as exc:
                    result = exc
        except SuspendNotSupported:
            return NO_EDITOR
        if isinstance(result, Exception):
            self.ui.notify(f"{clean_line(str(result), 200)}; using the built-in composer", severity="warning",
                           markup=False, timeout=6)
            return NO_EDITOR
        return result

    def _composer_closed(self, w: Writing, text: str | None) -> None:
        if text is None:
            self._discarded(w)
            return
        w.text = text
        self._review(w)

    def _discarded(self, w: Writing) -> None:
        self.ui.notify(f"The {w.noun} to #{w.ticket_id} was discarded; nothing was sent" if w.is_reply
                       else f"The note on #{w.ticket_id} was discarded", timeout=4, markup=False)

    # -- templates -----------------------------------------------------------------------------------
    def offer_templates(self, w: Writing, use: Callable[[str, str], None]) -> None:
        """From the composer: pick a template, then `use(text, name)` with its draft (signature included)."""
        def picked(name: str) -> None:
            self._in_thread("_template_text", "compose", self._template_text, w.ticket_id, name, use)

        self._offer(w.ticket_id, picked, w.template)

    def _offer(self, tid: int, then: Callable[[str], None], current: str | None) -> None:
        self._in_thread("_templates", "compose", self._templates, tid, then, current)

    def _templates(self, tid: int, then: Callable[[str], None], current: str | None) -> None:
        """The pick-list's entries, each with a line of its text as this ticket would get it."""
        import store
        from console.replies import desk, templates
        from store import tickets

        try:
            db = store.open_db(self.db_path)
            try:
                t = tickets.get_ticket(db, tid)
            finally:
                db.conn.close()
            choices = []
            for name in desk.template_names(self.cfg):
                try:
                    summary = template_summary(desk.template_text(self.cfg, name, t, self.operator))
                except templates.TemplateError as exc:
                    summary = f"cannot be used: {clean_line(str(exc), 60)}"
                choices.append(TemplateChoice(name, summary))
        except KNOWN_ERRORS + (templates.TemplateError,) as exc:
            self.ui.call_from_thread(self._cannot, "reply", tid, str(exc))
            return
        self.ui.call_from_thread(self._pick_template, tid, choices, then, current)

    def _pick_template(self, tid: int, choices: list[TemplateChoice], then: Callable[[str], None],
                       current: str | None) -> None:
        def chosen(name: str | None) -> None:
            if name:
                then(name)

        self.ui.push_screen(TemplatePicker(self.desk.dialog_title("Reply with a template to", tid), choices, current),
                            chosen)

    def _template_text(self, tid: int, name: str, use: Callable[[str, str], None]) -> None:
        import store
        from console.replies import desk, templates

        try:
            db = store.open_db(self.db_path)
            try:
                body = desk.draft_reply(db, self.cfg, tid, self.operator, template=name).body
            finally:
                db.conn.close()
        except KNOWN_ERRORS + (templates.TemplateError,) as exc:
            self.ui.call_from_thread(self._cannot, "reply", tid, str(exc))
            return
        self.ui.call_from_thread(use, body, name)

    # -- review and send -----------------------------------------------------------------------------
    def _review(self, w: Writing) -> None:
        def closed(result: str | None) -> None:
            if result == "edit":
                self._write(w, again=True)
            elif result is None:
                self._discarded(w)

        self.ui.push_screen(ReviewScreen(w, self._send), closed)

    def _send(self, screen: ReviewScreen) -> None:
        self._in_thread("_send_worker", "send", self._send_worker, screen.writing, screen)

    def _send_worker(self, w: Writing, screen: ReviewScreen) -> None:
        import store
        from console.outbox import mail as delivery
        from console.replies import desk

        try:
            db = store.open_db(self.db_path)
        except KNOWN_ERRORS as exc:
            self.ui.call_from_thread(screen.refused, clean_line(str(exc), 200))
            return
        try:
            try:
                now = self.clock.now()
                if not w.is_reply:
                    row = desk.add_note(db, self.cfg, w.ticket_id, w.text, self.operator, now)
                    self.ui.call_from_thread(self._noted, w, screen, row)
                    return
                current = read_ticket(db, w.ticket_id)
                if current["version"] != w.version:
                    raise actions.ActionRefused("changed")
                queued = desk.send_reply(db, self.cfg, w.ticket_id, w.text, self.operator, now, template=w.template,
                                         expected_version=w.version)
            except KNOWN_ERRORS as exc:
                self.ui.call_from_thread(self._refused, w, screen, str(exc), self._current(db, w.ticket_id))
                return
            except Exception as exc:  # noqa: BLE001 - never leave the review stuck on "sending…"
                self.ui.call_from_thread(screen.refused, f"internal error: {type(exc).__name__}: "
                                                         f"{clean_line(str(exc), 160)}; nothing was sent")
                return
            self.ui.call_from_thread(self._queued, w, screen, queued)
            try:
                outcome = self.send_mail(db, self.cfg, queued.send_id, self.clock)
            except Exception as exc:  # noqa: BLE001 - the reply is stored and queued: say so, never crash
                outcome = delivery.Outcome("queued", f"could not try it from here ({type(exc).__name__}: "
                                                     f"{clean_line(str(exc), 120)})", queued.send_id)
        finally:
            db.conn.close()
        self.ui.call_from_thread(self._mail_outcome, w, queued, outcome)

    @staticmethod
    def _current(db: Database, tid: int) -> Ticket | None:
        try:
            return read_ticket(db, tid)
        except KNOWN_ERRORS:
            return None

    def _refused(self, w: Writing, screen: ReviewScreen, why: str, current: Ticket | None) -> None:
        if current is not None and current["version"] != w.version:
            change = fmt.describe_change(w.ticket, current)
            screen.refused(f"#{w.ticket_id} changed since you started this {w.noun}: {change}; nothing was sent",
                           current)
        else:
            screen.refused(clean_line(why, 300))

    def _noted(self, w: Writing, screen: ReviewScreen, row: int) -> None:
        screen.done()
        self.ui.notify(f"Note added to #{w.ticket_id} (never sent)", timeout=4, markup=False)
        self.desk.ticket_written(w.ticket_id)

    def _queued(self, w: Writing, screen: ReviewScreen, queued: Queued) -> None:
        screen.done()  # stored with its outbox row: the text is safe, whatever the sending does
        self.told_mail.add(queued.send_id)  # its outcome is told here, not by the change checks
        self.desk.ticket_written(w.ticket_id)

    def _mail_outcome(self, w: Writing, queued: Queued, outcome: Outcome) -> None:
        to = clean_line(queued.mail.to_addr + (f" (cc {', '.join(queued.mail.cc)})" if queued.mail.cc else ""), 160)
        ack = f"; #{w.ticket_id} acknowledged by you, pages stopped" if queued.acknowledged else ""
        self._tell_outcome(f"#{w.ticket_id}", "reply", to, outcome, ack)
        self.desk.ticket_written(w.ticket_id)

    def _tell_outcome(self, where: str, noun: str, to: str, outcome: Outcome, ack: str = "") -> None:
        detail = clean_line(outcome.detail, 200)
        if outcome.state in ("failed", "unknown"):
            self.told_mail.add(outcome.send_id)  # said here: the change checks will not say it again
        else:
            self.told_mail.discard(outcome.send_id)  # a later failure (after the poller's retries) is news
        if outcome.state == "sent":
            self.ui.notify(f"{noun.capitalize()} sent to {to}: {detail}{ack}", title=f"Sent: {where}", markup=False,
                           timeout=6)
        elif outcome.state == "kept":  # the demo's mailbox
            self.ui.notify(f"{noun.capitalize()} to {to} kept in the demo's mailbox: the demo has no mail server, "
                           f"nothing left this machine{ack}", title=f"Demo: {where}", markup=False, timeout=8)
        elif outcome.state in ("queued", "busy"):
            why = f" ({detail})" if outcome.state == "queued" and detail else \
                (" (the poller is sending it)" if outcome.state == "busy" else "")
            retry = "the poller retries it" if self.desk.health is not None and self.desk.health.scheduler.ok else \
                "no poller is running to retry it: start `support-console poll`"
            self.ui.notify(f"{noun.capitalize()} to {to} is queued, not sent yet{why}; {retry}{ack}",
                           title=f"Queued: {where}", severity="warning", markup=False, timeout=8)
        else:
            what = f"failed: {detail}; not resent" if outcome.state == "failed" else \
                f"may or may not have gone out ({detail}); not resent"
            self.ui.notify(f"The {noun} to {to} {what}. It stays on the ticket (S sends it again){ack}",
                           title=f"Mail FAILED: {where}", severity="error", markup=False, timeout=12)

    # -- a failed mail, sent again by a person ----------------------------------------------------------
    def resend_failed(self, screen: DetailScreen) -> None:
        d = screen.detail
        failed = d.failed_mail() if d is not None else []
        if not failed:
            self.ui.notify("No failed mail on this ticket", timeout=3)
            return
        if self.cfg.smtp is None:
            self.ui.notify(NOT_SET_UP, severity="warning", timeout=6, markup=False)
            return
        mail = failed[0]
        tid = screen.ticket_id
        state, detail = fmt.delivery_words(mail, self.cfg.timezone)
        question = st.join(f"The {mail['purpose']} to {clean_line(', '.join(mail['rcpt_to']), 120)}: ", st.bold(state),
                           f"\n{clean_line(detail, 200)}\n\n",
                           "Send the same mail again? If it did arrive the first time, the customer gets it twice."
                           if state == "CUT SHORT" else "Send the same mail again?")

        def answered(yes: bool | None) -> None:
            if yes:
                self.told_mail.add(mail["id"])
                self._in_thread("_resend_worker", "send", self._resend_worker, tid, mail["id"],
                                ", ".join(mail["rcpt_to"]), mail["purpose"])

        self.ui.push_screen(ConfirmDialog(self.desk.dialog_title("Send again on", tid), question, yes="Send again",
                                          no="Cancel"), answered)

    def _resend_worker(self, tid: int, send_id: int, to: str, purpose: str) -> None:
        import store
        from console.replies import desk

        try:
            db = store.open_db(self.db_path)
            try:
                row = desk.resend(db, self.cfg, tid, send_id, self.operator, self.clock.now())
                outcome = self.send_mail(db, self.cfg, row["id"], self.clock)
            finally:
                db.conn.close()
        except KNOWN_ERRORS as exc:
            self.ui.call_from_thread(self._cannot, "reply", tid, str(exc))
            self.told_mail.discard(send_id)
            return
        self.ui.call_from_thread(self._resent, tid, to, purpose, outcome)

    def _resent(self, tid: int, to: str, purpose: str, outcome: Outcome) -> None:
        self._tell_outcome(f"#{tid}", purpose, clean_line(to, 160), outcome)
        self.desk.ticket_written(tid)

    # -- failures noticed by the change checks ----------------------------------------------------------
    def announce_mail(self, rows: list[dict[str, Any]]) -> None:
        """Toasts for mail of the desk's that failed or was cut short (the change checks found it)."""
        for r in rows:
            if r["id"] in self.told_mail:
                self.told_mail.discard(r["id"])  # told already, by the send that failed here
                continue
            to = clean_line(", ".join(r["rcpt_to"]), 80)
            noun = fmt.MAIL_PURPOSES.get(r["purpose"], "a mail").removeprefix("the ")
            about = f"#{r['ticket_id']}" if r["ticket_id"] is not None else noun  # the digest has no ticket
            if r["state"] == "failed":
                title, words = f"Mail FAILED: {about}", f"{clean_line(r['last_error'] or '', 160)}"
            else:
                title, words = f"Mail cut short: {about}", "it may or may not have gone out"
            self.desk.announce(title, f"the {noun} to {to}: {words}; not resent (S on the ticket sends it again)",
                               "error" if r["purpose"] == "reply" else "warning", bell=r["purpose"] == "reply")
