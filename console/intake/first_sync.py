"""A mailbox's history is not an emergency (issue 19).

The first time the desk reads a mailbox (a new desk, a new mailbox, a database started afresh), the mail
already in it is its history: a year of it once queued 22,951 pages ("[Class I] #1 BREACHED ... 365d00h
ago") and a new Class III waited behind them. So intake

- notes the highest UID in the mailbox before it files anything (store.first_sync); those UIDs are history,
  also after a restart half-way through. A restored replica carries the note, so the mail it re-reads
  after a restore is recent mail and pages as usual;
- files the history without a page or a receipt each (escalation.imported: what is overdue stays quiet,
  what is not yet due pages when its time comes);
- files mail that arrives meanwhile first, and pages it as usual (console.intake.watch);
- and once the history is filed, pages the supervisors one summary:
  "first sync of support@example.com/INBOX: 40 open tickets imported, 6 Class III already overdue".
"""
from __future__ import annotations

from datetime import datetime

from store.db import Database

from console import policy as pol
from console.alerts import audience
from console.config import Config
from console.safe_text import clean_line
from store import first_sync, outbox
from store.times import parse_iso

STEP = "first-sync"
LISTED = 12  # ticket numbers named per class in the summary's body


def _due(ticket: dict) -> datetime:
    due = parse_iso(ticket["due_at"])
    assert due is not None
    return due


def summary_text(mailbox: str, tickets: list[dict], now: datetime) -> tuple[str, str]:
    """(title, body) of the summary page. Pure."""
    open_ = [t for t in tickets if t["status"] == "new"]
    overdue = {c: [t for t in open_ if t["class"] == c and _due(t) <= now] for c in pol.CLASSES}
    iii_over = len(overdue["III"])
    where = clean_line(mailbox, 80)
    title = (f"[support-console] first sync of {where}: {len(open_):,} open ticket{'s' if len(open_) != 1 else ''}"
             f" imported" + (f", {iii_over:,} Class III already overdue" if iii_over else ""))
    lines = [f"The desk read {where} for the first time: the {len(tickets):,} ticket(s) its earlier mail opened were "
             "filed without a page each (and no receipts).", ""]
    for c in reversed(pol.CLASSES):
        of_class = [t for t in open_ if t["class"] == c]
        if not of_class:
            continue
        late = overdue[c]
        ids = " ".join(f"#{t['id']}" for t in (late or of_class)[:LISTED])
        more = " …" if len(late or of_class) > LISTED else ""
        lines.append(f"Class {c}: {len(of_class):,} open, {len(late):,} already overdue"
                     f" ({'overdue: ' if late else ''}{ids}{more})")
    lines += ["", "Overdue ones are not paged one by one; the others page when their deadlines come.",
              "Review them in the console (sorted by time left) or with: support-console tickets --open"]
    return title, "\n".join(lines)


def summarise(db: Database, cfg: Config, fs: first_sync.FirstSync, now: datetime) -> list[int]:
    """Once the history is filed: the summary page to the supervisors (urgent when Class III are open), and
    the first sync marked done. Call inside write(); a second call adds nothing."""
    if fs.summarised_at is not None:
        return []
    tickets = first_sync.imported(db, fs)
    created: list[int] = []
    if tickets:
        title, body = summary_text(f"{fs.account}/{fs.folder}", tickets, now)
        urgent = any(t["class"] == "III" and t["status"] == "new" for t in tickets)
        who = audience.resolve(db, cfg, ("supervisors",), None, now)
        if not any(name == "supervisors" for name, _ in who):  # a desk without supervisors: those on call
            who = audience.resolve(db, cfg, ("primary", "secondary"), None, now)
        for audience_name, handle in who:
            alert_id = outbox.add_alert(
                db, dedup_key=f"{STEP}:{fs.account}/{fs.folder}:{fs.uidvalidity}:{handle}", ticket_id=None, cls=None,
                step=STEP, audience=audience_name, target=handle, urgent=urgent, title=title, body=body, due_at=now,
                now=now)
            if alert_id:
                created.append(alert_id)
    first_sync.finish(db, fs.account, fs.folder, now)
    return created
