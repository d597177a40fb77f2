"""One ticket: header, flags, the thread as plain text (the desk's replies with how their delivery went,
and internal notes, in order), attachments, history in words, pages sent.

Everything is read and prepared in a thread worker (a ticket may hold a 20 MB mail), and only the
first PREVIEW_CHARS of each body are read and shown; `m` shows the next part (each part is no bigger
than the first, so paging through a huge body never stalls the screen), `support-console raw ID` all.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import tzinfo
from pathlib import Path
from typing import TYPE_CHECKING, Any

from textual import getters, work
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.content import Content
from textual.screen import Screen
from textual.widgets import Footer, Static

from console.safe_text import clean_block, clean_line
from console.words import plural
from console.ui import format as fmt
from console.ui import keys
from console.ui import styles as st
from console.ui.data import PREVIEW_CHARS, Detail
from console.ui.screens.dashboard import ticket_level
from console.ui.shown import ShownTicket
from console.ui.widgets.status import StatusBar
from store.rows import MessagePreview
from store.times import parse_iso

if TYPE_CHECKING:
    from console.ui.app import ConsoleApp


def _section(title: str) -> Content:
    return st.join("\n", st.heading(title), "\n")


def head_text(t: ShownTicket, app: ConsoleApp) -> Content:
    secs, lvl = ticket_level(t, app.clock.now(), app.warn_fraction)
    return st.join(st.badge(t["class"]), st.bold(f" #{t['id']} "), st.bold(t["_subject"] or "(no subject)"), "\n",
                   "time left ", st.left(secs, lvl),
                   f"   status {fmt.status_word(t)}   assignee {t['_assignee']}   version {t['version']}",
                   st.bold("   \u2709 the customer wrote again") if t.get("customer_wrote") else "")


def flag_list(d: Detail) -> list[str]:
    t = d.ticket
    flags = []
    if t.get("merged_into"):
        flags.append(f"MERGED INTO #{t['merged_into']} (its mail and history are there; U unmerges)")
    if t.get("split_from"):
        flags.append(f"SPLIT FROM #{t['split_from']}")
    if t["panic_mode"]:
        flags.append("PANIC MODE")
    if t["needs_details"]:
        flags.append("CALL-ME ONLY: NO DETAILS YET")
    if t["quarantined"]:
        flags.append("QUARANTINED")
    if any(m["unparseable"] for m in d.messages):
        flags.append("UNPARSEABLE MAIL")
    if any(m["oversize"] for m in d.messages):
        flags.append("OVERSIZE MAIL")
    if any(m["defects"] for m in d.messages):
        flags.append("MAIL DEFECTS")
    states = {x["state"] for x in d.deliveries.values()}
    if "failed" in states:
        flags.append("OUR MAIL FAILED")
    if "expired" in states:
        flags.append("OUR MAIL CUT SHORT")
    return flags


def info_text(d: Detail, tz: tzinfo) -> Content:
    t = d.ticket
    who = f"{t['requester_name']} <{t['requester']}>" if t["requester_name"] else t["requester"]
    parts: list[Content | str] = ["Requester  ", clean_line(who, 120),
                   f"\nReceived   {fmt.local_time(parse_iso(t['received_at']), tz)}",
                   f"\nDue        {fmt.local_time(parse_iso(t['due_at']), tz)}   (Class {t['class']}: "
                   f"{fmt.class_info(t['class']).name})"]
    if t["acknowledged_at"]:
        parts.append(f"\nAcked      {fmt.local_time(parse_iso(t['acknowledged_at']), tz)} by "
                     f"{clean_line(t['acknowledged_by'] or '-', 20)}")
    if t["resolved_at"]:
        undo = "(U unmerges)" if t.get("merged_into") else "(u reopens)"
        parts.append(f"\nResolved   {fmt.local_time(parse_iso(t['resolved_at']), tz)}   {undo}")
    parts += ["\nWhy class  ", clean_line(t["class_reason"] or "-", 160), "\nFlags      "]
    flags = flag_list(d)
    if flags:
        for i, f in enumerate(flags):
            parts += [" " if i else "", Content.styled(f" {f} ", "bold reverse")]
    else:
        parts.append(st.muted("none"))
    return st.join(*parts)


KIND_WORDS = {"outgoing": "sent by the desk", "note": "internal note"}
DELIVERY_STYLES = {"sent": "$success", "FAILED": "bold $error", "CUT SHORT": "bold $error",
                   "queued": "bold $urgency-warn", "sending": "bold $urgency-warn"}


def page_answers(d: Detail) -> dict[int, dict[str, Any]]:
    """Message row -> what intake made of it, for the ticket's mail that answered an email page."""
    return {e["detail"]["message"]: e["detail"] for e in d.events
            if e["kind"] == "page_reply_received" and isinstance(e.get("detail"), dict) and e["detail"].get("message")}


def _message_head(m: MessagePreview, d: Detail, tz: tzinfo) -> list[Content | str]:
    when = fmt.local_time(parse_iso(m["received_at"]), tz)
    if m["kind"] == "note":
        who = clean_line(m["from_name"] or "", 60) or "(someone)"
        return [st.bold(f"── {when}  internal note by {who}  (message {m['id']}, never sent)")]
    who = clean_line(f"{m['from_name']} <{m['from_addr']}>" if m["from_name"] else m["from_addr"], 100)
    answer = page_answers(d).get(m["id"])
    kind = KIND_WORDS.get(m["kind"], m["kind"])
    if answer is not None:  # staff answering a page by mail: theirs, not the customer's
        kind = f"{kind} to {clean_line(str(answer.get('person') or '?'), 20)}'s page" + (
            " (acknowledged it)" if answer.get("acknowledged") else " (not an acknowledgement)")
    parts: list[Content | str] = [st.bold(f"── {when}  {kind}  {who or '(unknown sender)'}  "
                           f"(message {m['id']})")]
    mail = d.deliveries.get(m["id"])
    if mail is not None:
        state, detail = fmt.delivery_words(mail, tz)
        by = f" by {clean_line(mail['actor'], 20)}" if mail.get("actor") and mail["actor"] != "auto" else ""
        parts += [f"\n{mail['purpose']}{by} to {clean_line(', '.join(mail['rcpt_to']), 160)}: ",
                  Content.styled(state, DELIVERY_STYLES.get(state, "")), st.muted(f"  {detail}")]
        if state in ("FAILED", "CUT SHORT"):
            parts.append(Content.styled("  (S sends it again)", "bold"))
    parts += ["\nSubject: ", clean_line(m["subject"], 200)]
    return parts


def thread_text(d: Detail, tz: tzinfo) -> Content:
    parts: list[Content | str] = [_section(f"Messages ({len(d.messages)})")]
    for m in d.messages:
        parts += _message_head(m, d, tz)
        tags = [k for k in ("unparseable", "oversize") if m[k]]
        if m["defects"]:
            tags.append(plural(len(m["defects"]), "defect"))
        if m["attachments"]:
            tags.append(plural(len(m["attachments"]), "attachment"))
        if tags:
            parts.append(st.bold("  (" + ", ".join(tags) + ")"))
        parts.append("\n\n")
        parts.append(clean_block(m["body_text"]) or "(no text)")
        if m["body_length"] > len(m["body_text"]):
            first, last = m["body_start"] + 1, m["body_start"] + len(m["body_text"])
            more = "m shows the next part" if last < m["body_length"] else "m goes back to the start"
            parts.append(Content.styled(
                f"\n\n… shown: characters {first:,}-{last:,} of {m['body_length']:,}. {more}; "
                f"`support-console raw {m['id']}` prints the whole message.", "bold $urgency-warn"))
        parts.append("\n\n")
    return st.join(*parts)


@dataclass(frozen=True)
class FileRef:
    message_id: int
    index: int  # its place among the message's attachments (console.attachments.find_payload)
    filename: str
    content_type: str
    size: int


def file_refs(d: Detail) -> list[FileRef]:
    return [FileRef(m["id"], i, clean_line(a.get("filename") or "", 200), clean_line(a.get("content_type") or "", 80),
                    int(a.get("size") or 0))
            for m in d.messages for i, a in enumerate(m["attachments"])]


def file_words(f: FileRef) -> str:
    return f"{f.filename or '(no name)'}   {f.content_type or '?'}   {fmt.size_words(f.size)}"


def files_text(d: Detail) -> Content:
    refs = file_refs(d)
    if not refs:
        return Content("")
    parts: list[Content | str] = [_section(f"Attachments ({len(refs)})  w saves one to a file (never opened)")]
    for i, f in enumerate(refs, 1):
        parts.append(f"{i:>3}. {file_words(f)}   (message {f.message_id})\n")
    return st.join(*parts)


def audit_text(d: Detail, tz: tzinfo) -> Content:
    parts: list[Content | str] = [_section(f"History ({len(d.events)})")]
    for e in d.events:
        parts += [st.muted(fmt.local_time(parse_iso(e["at"]), tz, "%d %b %H:%M:%S") + "  "),
                  fmt.event_words(e), "\n"]
    return st.join(*parts)


def pages_text(d: Detail, tz: tzinfo) -> Content:
    parts: list[Content | str] = [_section(f"Pages ({len(d.alerts)})")]
    if not d.alerts:
        parts.append(st.muted("none\n"))
    for a in sorted(d.alerts, key=lambda a: a["id"]):
        # The time it went out; a page not sent yet shows when it came due.
        when = fmt.local_time(parse_iso(a.get("sent_at") or a["due_at"]), tz, "%d %b %H:%M:%S")
        parts.append(st.muted(f"{when}  " if a.get("sent_at") else f"{when}  due, "))
        style = {"sent": "$success", "failed": "bold $error", "expired": "bold $error",
                 "cancelled": "$text-muted"}.get(a["state"], "")
        parts.append(Content.styled(fmt.page_words(a), style))
        results = a.get("results") or []
        if results:
            r = results[-1]
            parts.append(st.muted(f"   last try {fmt.local_time(parse_iso(r['at']), tz, '%H:%M:%S')}: "
                                  f"{clean_line(r['service'], 40)} {clean_line(r['status'], 20)}"))
        parts.append("\n")
    return st.join(*parts)


@dataclass
class Rendered:
    ticket: ShownTicket
    info: Content
    thread: Content
    files: Content
    audit: Content
    pages: Content
    refs: list[FileRef]


class DetailScreen(Screen[None]):
    KEY_CONTEXT = keys.DETAIL
    BINDINGS = keys.bindings(keys.DETAIL)
    if TYPE_CHECKING:  # the app this screen belongs to, for the type checker (Textual's getters.app)
        app = getters.app(ConsoleApp)

    def __init__(self, ticket_id: int) -> None:
        super().__init__()
        self.ticket_id = ticket_id
        self.detail: Detail | None = None
        self.ticket: ShownTicket | None = None
        self.refs: list[FileRef] = []
        self.start = 0  # the part of long bodies shown (`m` moves on by PREVIEW_CHARS)
        self._loading = False  # a read is under way (a reload asked meanwhile sets _again)
        self._again = False
        self._shown: Rendered | None = None

    @property
    def loaded(self) -> bool:
        return self.detail is not None

    def compose(self) -> ComposeResult:
        yield StatusBar(id="status")
        yield Static(id="detail-head")
        with VerticalScroll(id="detail-body"):
            yield Static(st.muted("loading…"), id="detail-info")
            yield Static(id="detail-thread")
            yield Static(id="detail-files")
            yield Static(id="detail-audit")
            yield Static(id="detail-pages")
        yield Footer()

    def on_mount(self) -> None:
        self.app.reads.watch(self.ticket_id)  # history and pages refresh as the outbox changes them
        known = self.app.tickets.get(self.ticket_id) or self.app.resolved.get(self.ticket_id)
        if known is not None:
            self.ticket = known
            self.query_one("#detail-head", Static).update(head_text(known, self.app))
        self.reload()
        self.app.update_status()  # paint the status line now, not at the next tick
        self.query_one("#detail-body").focus()

    def on_unmount(self) -> None:
        data = self.app.data
        if data is not None and not any(isinstance(s, DetailScreen) and s is not self and s.ticket_id == self.ticket_id
                                        for s in self.app.screen_stack):
            data.unwatch(self.ticket_id)

    def reload(self) -> None:
        """Read the ticket again; loads never overlap: one asked for during a load runs after it."""
        if self._loading:
            self._again = True
            return
        self._loading, self._again = True, False
        self._load(self.start)

    def _loaded(self) -> None:
        self._loading = False
        if self._again and self.is_attached:
            self.reload()

    @work(thread=True, group="detail", exit_on_error=False)
    def _load(self, start: int) -> None:
        from store.errors import KNOWN_ERRORS

        app = self.app
        try:
            try:
                d = app.reads.detail(self.ticket_id, PREVIEW_CHARS, start)
            except KNOWN_ERRORS as exc:
                app.call_from_thread(self._failed, str(exc))
                return
            tz = app.cfg.timezone
            t = app.prep(d.ticket)
            r = Rendered(t, info_text(d, tz), thread_text(d, tz), files_text(d), audit_text(d, tz),
                         pages_text(d, tz), file_refs(d))
            app.call_from_thread(self._show, d, r)
        finally:
            app.call_from_thread(self._loaded)

    def _failed(self, why: str) -> None:
        self.app.notify(why, severity="error", markup=False)
        if self.ticket is None and self.is_current:
            self.app.pop_screen()  # a number that names no ticket: back to where the operator was
        else:
            self.query_one("#detail-info", Static).update(Content(why))

    def _show(self, d: Detail, r: Rendered) -> None:
        if not self.is_attached:
            return
        self.detail, self.ticket, self.refs = d, r.ticket, r.refs
        self.query_one("#detail-head", Static).update(head_text(r.ticket, self.app))
        before = self._shown
        for key in ("info", "thread", "files", "audit", "pages"):  # only the sections that changed are redrawn
            new: Content = getattr(r, key)
            old = getattr(before, key) if before is not None else None
            if old is None or old.plain != new.plain or old.spans != new.spans:
                self.query_one(f"#detail-{key}", Static).update(new)
        self._shown = r
        self.set_class(True, f"class-{r.ticket['class']}")
        self.refresh_bindings()  # d and S show only when they apply to this ticket
        self.app.detail_painted()

    def tick(self) -> None:
        heads = self.query("#detail-head")  # none while the screen is being taken down (just closed)
        if self.ticket is not None and heads:
            heads.first(Static).update(head_text(self.ticket, self.app))

    def action_close(self) -> None:
        self.app.pop_screen()

    def action_scroll_down(self) -> None:
        self.query_one("#detail-body").scroll_down()

    def action_scroll_up(self) -> None:
        self.query_one("#detail-body").scroll_up()

    def action_scroll_top(self) -> None:
        self.query_one("#detail-body").scroll_home()

    def action_scroll_bottom(self) -> None:
        self.query_one("#detail-body").scroll_end()

    def action_refresh(self) -> None:
        self.app.refresh_soon()
        self.reload()

    def action_more(self) -> None:
        d = self.detail
        longest = max((m["body_length"] for m in d.messages), default=0) if d is not None else 0
        if longest <= PREVIEW_CHARS:
            self.app.notify("Every message is shown whole", timeout=3)
            return
        # The next part of each long body, then back to the start: every paint is the size of the first.
        self.start = self.start + PREVIEW_CHARS if self.start + PREVIEW_CHARS < longest else 0
        self.reload()

    def action_save_attachment(self) -> None:
        self.app.open_save(self)

    def action_ack(self) -> None:
        self.app.start_action("acknowledge", [self.ticket_id])

    def action_take(self) -> None:
        self.app.start_action("take", [self.ticket_id])

    def action_assign(self) -> None:
        self.app.open_assign([self.ticket_id])

    def action_reclassify(self) -> None:
        self.app.open_reclassify(self.ticket_id)

    def action_silence(self) -> None:
        self.app.open_silence(self.ticket_id)

    def action_resolve(self) -> None:
        self.app.open_resolve(self.ticket_id)

    def action_reopen(self) -> None:
        self.app.start_action("reopen", [self.ticket_id])

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "details":
            return bool(self.ticket and self.ticket.get("needs_details"))
        if action == "resend":
            return bool(self.detail and self.detail.failed_mail())
        if action == "unmerge":
            return bool(self.ticket and self.ticket.get("merged_into"))
        return True

    def action_unmerge(self) -> None:
        from console.ui import shaping

        shaping.unmerge(self.app, self.ticket_id)

    def action_split(self) -> None:
        from console.ui import shaping

        shaping.open_split(self.app, self)

    def action_reply(self) -> None:
        self.app.replies.reply_to(self.ticket_id)

    def action_note(self) -> None:
        self.app.replies.write_note(self.ticket_id)

    def action_template_reply(self) -> None:
        self.app.replies.template_reply(self.ticket_id)

    def action_details(self) -> None:
        self.app.replies.ask_for_details(self.ticket_id)

    def action_resend(self) -> None:
        self.app.replies.resend_failed(self)


def default_save_dir() -> Path:
    downloads = Path.home() / "Downloads"
    return downloads if downloads.is_dir() else Path.home()
