"""The weekly digest: `[reports] weekly = "mon 08:00"` mails the supervisors last week's SLA report.

Once the week's moment has come (in the desk's time zone), the poller queues one mail per supervisor with
an email address: the report as text, and as HTML with the chart as inline SVG (no scripts). It goes
through the desk's mail outbox (store.outgoing, as replies do), so delivery retries, and a failure shows
where every mail's does. A row per week in report_digests, claimed in the transaction that queues the
mail, makes it once per week however often the poller restarts, and whichever process gets there first.
"""
from __future__ import annotations

import logging
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, formataddr, make_msgid

from store.db import Database

from console.config import Config
from console.reports import render, sla
from store import audit, outgoing, write
from store import reports as store_reports
from store.times import iso

log = logging.getLogger("support_console.reports")


def due_week(cfg: Config, now: datetime) -> sla.Period | None:
    """Last week, once this week's digest moment has passed; None before it (or with no weekly set)."""
    r = cfg.reports
    if r.weekly is None:
        return None
    local = now.astimezone(cfg.timezone)
    monday = local.date() - timedelta(days=local.weekday())
    moment = datetime.combine(monday + timedelta(days=r.weekly_weekday), r.weekly_time, cfg.timezone)
    if local < moment:
        return None
    return sla.last_week(now, cfg.timezone)


def week_key(period: sla.Period) -> str:
    y, w, _ = period.start.isocalendar()
    return f"{y}-W{w:02d}"


def recipients(cfg: Config) -> list[tuple[str, str]]:
    """(name, address) of each supervisor with an email address, in config order."""
    return [(s.name or s.handle, s.email) for s in cfg.staff if s.role == "supervisor" and s.email]


def subject(report: dict) -> str:
    figures = ", ".join(f"{c} {render.pct(report['classes'][c]['met_pct'])}" for c in render.CLASSES)
    return f"SLA report {week_key_of(report)}: in time {figures}"


def week_key_of(report: dict) -> str:
    return report["period"]["label"].split(" ")[0]


def compose(cfg: Config, report: dict, to_name: str, to_addr: str, now: datetime) -> EmailMessage:
    assert cfg.smtp is not None
    msg = EmailMessage(policy=SMTP)
    msg["From"] = cfg.smtp.from_header
    msg["To"] = formataddr((to_name, to_addr))
    msg["Subject"] = subject(report)
    msg["Date"] = format_datetime(now.astimezone(cfg.timezone))
    msg["Message-ID"] = make_msgid(domain=cfg.smtp.from_addr.rpartition("@")[2] or None)
    msg["Auto-Submitted"] = "auto-generated"  # a machine's report: nobody's autoresponder answers it
    msg["X-Loop"] = cfg.smtp.from_addr  # the desk's own mail, should it come back in
    msg.set_content(render.text(report))
    msg.add_alternative(render.html_text(report), subtype="html")
    return msg


def send_weekly(db: Database, cfg: Config, now: datetime) -> list[int]:
    """Queue this week's digest if it is due and not queued yet. Returns the outbox rows queued (none
    when nothing was due, when it was queued before, or when no supervisor has an email address)."""
    period = due_week(cfg, now)
    if period is None or cfg.smtp is None:
        return []
    key = week_key(period)
    if store_reports.digest_queued(db, key):
        return []
    report = sla.build(db, period, cfg.sla, now)
    to = recipients(cfg)
    sends: list[int] = []
    with write(db):
        if not store_reports.record_digest(db, key, iso(now), []):
            return []  # another process queued it a moment ago
        for name, addr in to:
            msg = compose(cfg, report, name, addr, now)
            raw = msg.as_bytes()
            row = outgoing.add_message(db, ticket_id=None, kind="outgoing", raw=raw, message_id=msg["Message-ID"],
                                       from_addr=cfg.smtp.from_addr, from_name=cfg.smtp.from_name,
                                       recipients=[addr], subject=str(msg["Subject"]),
                                       body_text=render.text(report), in_reply_to=None, refs=(), now=now,
                                       source="desk:digest")
            sends.append(outgoing.add_send(db, message_row=row, ticket_id=None, purpose="digest", actor="digest",
                                           automatic=True, mail_from=cfg.smtp.from_addr, to_addr=addr,
                                           rcpt_to=[addr], now=now))
        store_reports.set_digest_sends(db, key, sends)
        audit.add_event(db, None, "digest_queued", "poller", now, week=key, to=[a for _, a in to], sends=sends)
    if not to:
        log.warning("weekly SLA digest %s: no supervisor has an email address ([[staff]] email); nothing sent", key)
    else:
        log.info("weekly SLA digest %s queued for %s", key, ", ".join(a for _, a in to))
    return sends
