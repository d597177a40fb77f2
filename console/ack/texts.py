"""What pages and stand-down notices say. Pure: the ticket row, the step, `now` and the config.

A page has to be enough to act on from a phone: the class, the ticket, what happened, who has it, how
long the customer has waited, whether they wrote again. Pager and SMS gateways cut at 160 characters,
so the title holds those essentials within 160 and only the subject is shortened to make room.
(An SMS with non-GSM characters holds only 70; a subject in another script is shortened by the gateway.)

The acknowledge link is not here: links are signed when a page is sent (console.ack.links), so no
token is ever written to the database.
"""
from __future__ import annotations

from datetime import datetime

from console import policy as pol, timefmt
from console.config import Config
from console.safe_text import clean_line
from store.times import parse_iso, parse_required

TITLE_LIMIT = 160

STEP_TITLES = {
    "page": "NEW", "notify": "NEW", "warn": "WARNING", "escalate": "ESCALATED", "breach": "BREACHED",
    "repeat": "STILL BREACHED",
}


def person_name(cfg: Config, handle: str | None) -> str:
    if not handle:
        return ""
    if handle == "@desk":
        return "the desk channel"
    p = cfg.person(handle)
    return clean_line(p.name if p and p.name else handle, 60)


def wrote_again(ticket: dict) -> bool:
    """Whether the customer's thread got more mail after the first one (replies move last_message_at)."""
    last, first = parse_iso(ticket.get("last_message_at")), parse_iso(ticket.get("received_at"))
    return bool(last and first and last > first)


def fit_title(prefix: str, subject: str, suffix: str, limit: int = TITLE_LIMIT) -> str:
    room = limit - len(prefix) - len(suffix)
    return prefix + clean_line(subject, max(room, 1)) + suffix if room > 0 else (prefix + suffix)[:limit]


def page_text(ticket: dict, step: pol.Step, now: datetime, cfg: Config) -> tuple[str, str]:
    tid, cls = ticket["id"], ticket["class"]
    received = parse_required(ticket["received_at"])
    due = parse_required(ticket["due_at"])
    left = pol.time_left(due, now)
    waited = now - received
    subject = clean_line(ticket["subject"]) or "(no subject)"
    assignee = ticket.get("assignee")
    again = wrote_again(ticket)

    facts = [f"assigned {clean_line(assignee, 24)}" if assignee else "unassigned", f"{timefmt.span(waited)} ago"]
    if again:
        facts.append("customer wrote again")
    title = fit_title(f"[Class {cls}] #{tid} {STEP_TITLES.get(step.kind, step.kind.upper())}: ", subject,
                      " (" + ", ".join(facts) + ")")

    tz = cfg.timezone
    requester = clean_line(f"{ticket['requester_name']} <{ticket['requester']}>".strip(), 120)
    when = f"due in {timefmt.span(left)}" if left.total_seconds() >= 0 else f"OVERDUE by {timefmt.span(left)}"
    last = parse_iso(ticket.get("last_message_at"))
    lines = [
        f"Class {cls} ticket #{tid} from {requester}",
        f"Subject: {clean_line(subject, 300)}",
        f"Arrived {timefmt.span(waited)} ago ({received.astimezone(tz).strftime('%a %H:%M %Z')}).",
        f"First contact {when} ({due.astimezone(tz).strftime('%a %H:%M %Z')}).",
        f"Assigned to: {person_name(cfg, assignee)}" if assignee else "Assigned to: nobody yet",
        (f"The customer wrote again (last {last.astimezone(tz).strftime('%a %H:%M %Z')})." if again and last
         else "The customer has not written again."),
        f"Acknowledge: support-console ack {tid}  (or press 'a' in the console)",
    ]
    return title, "\n".join(lines)


def downgrade_text(ticket: dict, previous: str, by: str, now: datetime, cfg: Config) -> tuple[str, str]:
    """"#N moved to Class I by Ann, stand down": a Class III downgraded before anyone acknowledged it."""
    tid, cls = ticket["id"], ticket["class"]
    who = person_name(cfg, by)
    subject = clean_line(ticket["subject"]) or "(no subject)"
    panic = " (panic mode: not a real emergency)" if ticket.get("panic_mode") else ""
    title = fit_title(f"#{tid} moved to Class {cls} by {who}, stand down", "", "")
    tz = cfg.timezone
    due = parse_required(ticket["due_at"])
    body = (f"Ticket #{tid} ({clean_line(subject, 200)}) was moved from Class {previous} to Class {cls} by {who} at "
            f"{now.astimezone(tz).strftime('%a %H:%M %Z')}{panic}.\n"
            f"No action needed from you now: its Class {previous} pages have stopped. "
            f"First contact is due by {due.astimezone(tz).strftime('%a %d %b %H:%M %Z')}.")
    return title, body


def standdown_text(ticket: dict, by: str, verb: str, now: datetime, cfg: Config) -> tuple[str, str]:
    """"#N acknowledged by Bob, stand down", for everyone paged for the ticket so far."""
    tid = ticket["id"]
    who = person_name(cfg, by)
    subject = clean_line(ticket["subject"]) or "(no subject)"
    title = fit_title(f"#{tid} {verb} by {who}, stand down", "", "")
    at = now.astimezone(cfg.timezone).strftime("%a %H:%M %Z")
    body = (f"Class {ticket['class']} ticket #{tid} ({clean_line(subject, 200)}) was {verb} by {who} at {at}.\n"
            "No action needed from you: the pages for it have stopped.")
    return title, body
