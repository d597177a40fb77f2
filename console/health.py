"""How healthy the desk's machinery is, judged from what the poller wrote to the database. Pure.

One assessment feeds `support-console status`, the console's header and the stale-intake page, so
they can never disagree. The rows it reads (store.heartbeat) are:

- ``scheduler``: written by the poller's escalation scheduler at least every HEARTBEAT_SECONDS.
- ``intake:<account>/<folder>``: written by intake at every change of state, after every sync and at
  every liveness check. Its detail holds:
  ``state``          "connecting" | "idle" | "polling" | "syncing" | "error" | "stopped" (told to stop)
  ``ever_connected`` whether this poller has logged in once since it started
  ``last_sync_at``   ISO time of the last sync that reached the end of the mailbox, or None
  ``last_error``     one line, already safe to show (no credentials), or None
  ``last_error_at``  ISO time of that error, or None
  ``waiting``        messages on the server above the watermark, not yet filed (None: unknown)
  ``started_at``     ISO time this process's intake started
  ``counts_from``    ISO time an outage counts from when it is later than the last sync: the start of the
                     first process after a clean stop (or the first ever). A process that crashed or
                     exited on an error hands it on unchanged, with ``last_sync_at``, to the next one, so
                     staleness survives any number of restarts (carried_over)

A poller that never ran leaves no rows: that is "never run", and unhealthy.

The outbox is judged from store.outbox.health_counts: a page given up on (failed for good, or
expired) degrades the desk while it still matters, that is while its ticket has had no first contact
(or, for a page without a ticket, for OUTBOX_WINDOW); a page that will be retried does not. Mail the
desk sent (replies, receipts) that failed for good or was cut short degrades it for OUTBOX_WINDOW, or
until someone sends it again. Automatic mail withheld in that window (a cap, a sender that is not
authenticated: store.automatic) is counted and told, and does not degrade it.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from console import timefmt
from store.times import iso, parse_iso

SCHEDULER = "scheduler"
INTAKE_PREFIX = "intake:"
SIGNED_OUT = "signed_out"  # intake's state while its mailbox's OAuth2 sign-in is lost
# The scheduler beats every 5 s; this much silence means it is gone or hung.
SCHEDULER_STALE = timedelta(seconds=30)
# Intake writes its row at least every liveness check (30 s) while it is alive.
INTAKE_SILENT = timedelta(seconds=90)
DEFAULT_INTAKE_STALE_AFTER = timedelta(minutes=5)
# How long a failed page without a ticket (a stale-intake page, say) keeps the desk degraded.
OUTBOX_WINDOW = timedelta(hours=24)


@dataclass(frozen=True)
class Component:
    name: str  # "intake", "scheduler", "outbox"
    ok: bool
    state: str  # one word: "ok", "stale", "never run", "error", "connecting", "failed", ...
    summary: str  # one line for people
    detail: dict = field(default_factory=dict)  # for --json


@dataclass(frozen=True)
class Health:
    intake: Component
    scheduler: Component
    outbox: Component

    @property
    def healthy(self) -> bool:
        return self.intake.ok and self.scheduler.ok and self.outbox.ok

    @property
    def components(self) -> tuple[Component, ...]:
        return (self.intake, self.scheduler, self.outbox)

    def as_json(self) -> dict:
        return {"healthy": self.healthy,
                **{c.name: {"ok": c.ok, "state": c.state, "summary": c.summary, **c.detail} for c in self.components}}


def _age(now: datetime, at: str | None) -> float | None:
    t = parse_iso(at)
    return None if t is None else max(0.0, (now - t).total_seconds())


def _ago(seconds: float | None) -> str:
    return "never" if seconds is None else f"{timefmt.span(seconds)} ago"


def assess_scheduler(beats: list[dict], now: datetime) -> Component:
    row = next((b for b in beats if b["name"] == SCHEDULER), None)
    if row is None:
        return Component("scheduler", False, "never run", "scheduler: no poller has run")
    age = _age(now, row["at"])
    detail = {"last_beat_at": row["at"], "age_seconds": age, "pid": row.get("pid"), "host": row.get("host")}
    if age is None or age > SCHEDULER_STALE.total_seconds():
        return Component("scheduler", False, "stale", f"scheduler: STALE, last seen {_ago(age)}", detail)
    return Component("scheduler", True, "ok", f"scheduler: ok ({_ago(age)})", detail)


def intake_rows(beats: list[dict]) -> list[dict]:
    return [b for b in beats if b["name"].startswith(INTAKE_PREFIX)]


def assess_intake(beats: list[dict], now: datetime, *, stale_after: timedelta = DEFAULT_INTAKE_STALE_AFTER,
                  expected: bool = True) -> Component:
    """`expected`: the config has an [imap] section (without it, mail comes by `ingest` only)."""
    rows = intake_rows(beats)
    if not rows:
        if not expected:
            return Component("intake", True, "ingest only", "intake: no IMAP configured (MTA pipe only)")
        return Component("intake", False, "never run", "intake: no poller has connected yet")
    # One intake per mailbox; with several rows the worst one speaks for intake, and each has its own line.
    parts = [_assess_one(r, now, stale_after) for r in rows]
    bad = [p for p in parts if not p.ok]
    worst = (bad or parts)[0]
    if len(parts) == 1:
        return worst
    summary = "; ".join(p.summary for p in [*bad, *(p for p in parts if p.ok)])
    mailboxes = [{"ok": p.ok, "summary": p.summary, **p.detail} for p in parts]
    return Component("intake", worst.ok, worst.state, summary, {**worst.detail, "mailboxes": mailboxes})


def _assess_one(row: dict, now: datetime, stale_after: timedelta) -> Component:
    d = row.get("detail") or {}
    mailbox = row["name"][len(INTAKE_PREFIX):]
    state = d.get("state") or "unknown"
    seen_age = _age(now, row["at"])
    sync_age = _age(now, d.get("last_sync_at"))
    detail = {"mailbox": mailbox, "state": state, "last_seen_at": row["at"], "last_sync_at": d.get("last_sync_at"),
              "last_error": d.get("last_error"), "last_error_at": d.get("last_error_at"),
              "waiting": d.get("waiting"), "ever_connected": bool(d.get("ever_connected"))}
    waiting = f", {d['waiting']} waiting" if d.get("waiting") else ""
    err = f": {d['last_error']}" if d.get("last_error") and state in ("error", "connecting", "stopped") else ""
    if d.get("label"):  # a named mailbox ([[imap]] name) is shown by its name
        mailbox = detail["name"] = d["label"]
    if state == SIGNED_OUT and seen_age is not None and seen_age <= INTAKE_SILENT.total_seconds():
        # Its sign-in is gone (revoked, expired): no retry heals that, so it is degraded at once.
        return Component("intake", False, "signed out", f"intake {mailbox}: SIGNED OUT, last sync {_ago(sync_age)}: "
                         f"{d.get('last_error') or 'sign in again'}", detail)
    if seen_age is None or seen_age > INTAKE_SILENT.total_seconds():
        return Component("intake", False, "stale", f"intake {mailbox}: STALE, last seen {_ago(seen_age)}", detail)
    if sync_age is None or sync_age > stale_after.total_seconds():
        word = "cannot connect" if not d.get("ever_connected") else "not synced"
        return Component("intake", False, "error" if d.get("last_error") else "stale",
                         f"intake {mailbox}: {word}, last sync {_ago(sync_age)}{err}{waiting}", detail)
    if state == "error":
        # A fresh failure: reconnecting within the stale window is normal weather, shown but not alarming.
        return Component("intake", True, "reconnecting",
                         f"intake {mailbox}: reconnecting, last sync {_ago(sync_age)}{err}{waiting}", detail)
    return Component("intake", True, state, f"intake {mailbox}: {state}, last sync {_ago(sync_age)}{waiting}", detail)


@dataclass(frozen=True)
class Outage:
    """Intake of one mailbox has not synced for `stale_after`: what the stale-intake page is about."""
    mailbox: str
    since: str  # ISO: the last sync, or intake's start when it never synced; names the outage
    summary: str
    signed_out: bool = False  # its OAuth2 sign-in is lost: paged at once, saying what to run
    label: str | None = None  # the mailbox's name ([[imap]] name), for people


def carried_over(previous: dict | None, now: datetime) -> dict:
    """What a starting intake keeps of its mailbox's last row: the last sync, and when an outage counts
    from. Only a clean stop (state "stopped") starts the count afresh."""
    if previous is None:
        return {"counts_from": iso(now)}
    d = previous.get("detail") or {}
    if d.get("state") == "stopped":
        return {"last_sync_at": d.get("last_sync_at"), "counts_from": iso(now)}
    return {"last_sync_at": d.get("last_sync_at"),
            "counts_from": d.get("counts_from") or d.get("started_at") or previous.get("at") or iso(now)}


def outage_since(row: dict) -> str:
    """When intake of this row was last known to be well: its last sync, or counts_from if later."""
    d = row.get("detail") or {}
    sync = d.get("last_sync_at")
    start = d.get("counts_from") or (None if sync else d.get("started_at")) or (None if sync else row["at"])
    times = [t for t in (sync, start) if parse_iso(t) is not None]
    return max(times, key=lambda t: parse_iso(t)) if times else row["at"]  # type: ignore[arg-type,return-value]


def intake_outages(beats: list[dict], now: datetime, stale_after: timedelta = DEFAULT_INTAKE_STALE_AFTER
                   ) -> list[Outage]:
    out = []
    for row in intake_rows(beats):
        since = outage_since(row)
        age = _age(now, since)
        d = row.get("detail") or {}
        if d.get("state") == SIGNED_OUT or (age is not None and age > stale_after.total_seconds()):
            out.append(Outage(row["name"][len(INTAKE_PREFIX):], since, _assess_one(row, now, stale_after).summary,
                              d.get("state") == SIGNED_OUT, d.get("label")))
    return out


def label(beats: list[dict], mailbox: str) -> str | None:
    """The mailbox's name for people ([[imap]] name), as its intake last wrote it."""
    row = next((r for r in intake_rows(beats) if r["name"] == INTAKE_PREFIX + mailbox), None)
    return (row.get("detail") or {}).get("label") if row else None


def last_sync(beats: list[dict], mailbox: str) -> str | None:
    row = next((r for r in intake_rows(beats) if r["name"] == INTAKE_PREFIX + mailbox), None)
    return (row.get("detail") or {}).get("last_sync_at") if row else None


def assess_outbox(counts: dict[str, int]) -> Component:
    """Pages (and, with replies set up, the desk's mail: the `mail_` counts)."""
    pending = counts.get("pending", 0) + counts.get("sending", 0)
    failed, expired, retrying = counts.get("failed", 0), counts.get("expired", 0), counts.get("retrying", 0)
    mail_pending, mail_failed = counts.get("mail_pending", 0), counts.get("mail_failed", 0)
    withheld = counts.get("mail_withheld", 0)
    detail = {"pending": pending, "retrying": retrying, "failed": failed, "expired": expired,
              "mail_pending": mail_pending, "mail_failed": mail_failed, "mail_withheld": withheld,
              **({"sent": counts["sent"]} if "sent" in counts else {})}  # not counted on a timer
    again = f", {retrying} retrying" if retrying else ""
    mail = f"; mail: {mail_pending} pending, {mail_failed} failed" if mail_pending or mail_failed else ""
    # Automatic mail held back by a cap or an unauthenticated sender: the guards working, told, not alarming.
    mail += f"; {withheld} automatic mail(s) withheld (caps, unauthenticated senders)" if withheld else ""
    if failed or expired or mail_failed:
        return Component("outbox", False, "failed",
                         f"outbox: {failed} failed, {expired} expired, {pending} pending{again}{mail}", detail)
    return Component("outbox", True, "ok", f"outbox: {pending} pending{again}, none failed{mail}", detail)


def assess(beats: list[dict], outbox_counts: dict[str, int], now: datetime, *,
           intake_stale_after: timedelta = DEFAULT_INTAKE_STALE_AFTER, intake_expected: bool = True) -> Health:
    return Health(intake=assess_intake(beats, now, stale_after=intake_stale_after, expected=intake_expected),
                  scheduler=assess_scheduler(beats, now), outbox=assess_outbox(outbox_counts))
