"""The pages channel: outbox rows (store/outbox.py) through apprise, one person (or desk channel) per row,
with per-service results.

- A page's words are written as it is first claimed for sending, so its ages and countdowns ("(1s ago)")
  are those of the moment it goes out, not of the moment it was queued.
- Its acknowledge link and reply token come from console.ack.links (signing only; this module sends).
- A service that already accepted this row is never sent it again (no double page on a retry).
- A confirmed failure is retried with capped backoff, up to alerts.max_attempts.
- A timeout is ambiguous (the page may have gone out), so the row becomes 'expired' and waits for
  an operator: `support-console alerts --resend ID`.
"""
from __future__ import annotations

import logging
import re
import threading
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import apprise
from apprise import AppriseResultStatus
from store.db import Database

from collections import Counter

from console import policy as pol
from console import redact
from console.ack import links, texts
from console.config import Config
from console.outbox import lifecycle, silences
from console.safe_text import clean_line
from store import outbox, tickets, write
from store.times import parse_iso

log = logging.getLogger("support_console.dispatch")

Clock = Callable[[], datetime]


def sender_id() -> str:
    return lifecycle.sender_id()


RINGING_STEPS = ("escalate", "breach")  # and "repeat-N": the policy's "a lot of phones ring"


def rings(alert: dict) -> bool:
    """Whether a page also goes to the person's `call` URLs: a Class III page from the team step on."""
    step = str(alert.get("step") or "")
    return (alert.get("cls") == "III" and bool(alert.get("urgent"))
            and (step in RINGING_STEPS or step.startswith("repeat")))


def target_urls(cfg: Config, target: str, alert: dict | None = None) -> list[str]:
    if target == "@desk":
        return list(cfg.alerts.channels)
    person = cfg.person(target)
    if person is None:
        return []
    return [*person.notify, *(person.call if alert is not None and rings(alert) else ())]


def _with_timeouts(url: str, cfg: Config) -> str:
    # Connection timeout short (a dead host is a clear failure); read timeout beyond the call deadline,
    # so a hung receiver shows as TIMEOUT (ambiguous) rather than as a retryable failure.
    parts = urllib.parse.urlsplit(url)
    q = urllib.parse.parse_qs(parts.query, keep_blank_values=True)
    extra = {}
    if "cto" not in q:
        extra["cto"] = "4"
    if "rto" not in q:
        extra["rto"] = str(int(cfg.alerts.send_timeout_seconds + 10))
    if not extra:
        return url
    query = parts.query + ("&" if parts.query else "") + urllib.parse.urlencode(extra)
    return urllib.parse.urlunsplit(parts._replace(query=query))


def target_key(db: Database) -> bytes:
    """The database's own key for target names (console.redact.target_name)."""
    return bytes.fromhex(outbox.target_key(db))


def service_name(url: str, key: bytes | None) -> str:
    """The stable name a notify URL is stored and shown by: scheme, network host and a keyed hash."""
    return redact.target_name(url, key)


@dataclass
class SendReport:
    outcome: str  # "sent" | "failed" | "timeout" | "no-targets"
    results: list[dict]
    error: str | None = None


def send(title: str, body: str, urls: list[str], cfg: Config, *, key: bytes, urgent: bool = True,
         skip_services: frozenset[str] = frozenset()) -> SendReport:
    """Send to each URL not in `skip_services` (names from service_name with this `key`). Results name
    each service only by that name, and error texts have the URLs' secrets masked."""
    if not urls:
        return SendReport("no-targets", [], "no notify URLs configured")
    ap = apprise.Apprise()
    invalid: list[dict[str, Any]] = []
    by_tag: dict[str, str] = {}  # one tag per URL: apprise's results carry it back
    for i, u in enumerate(urls):
        name = service_name(u, key)
        if name in skip_services:
            continue
        tag = f"sc-target-{i}"
        if ap.add(_with_timeouts(u, cfg), tag=tag):
            by_tag[tag] = u
        else:
            invalid.append({"service": name, "ok": False, "status": "INVALID_URL",
                            "error": "apprise does not accept this URL"})
    if len(ap) == 0:
        if invalid:
            return SendReport("failed", invalid, "no valid notify URL")
        return SendReport("sent", [])  # every service had it already
    notify_type = apprise.NotifyType.FAILURE if urgent else apprise.NotifyType.WARNING
    try:
        result = ap.notify(body=body, title=title, notify_type=notify_type, tag=list(by_tag),
                           timeout=cfg.alerts.send_timeout_seconds)
    except Exception as exc:  # noqa: BLE001 - a plugin bug must not kill the dispatcher
        return SendReport("failed", invalid, f"apprise raised {type(exc).__name__}")
    mask = redact.Redactor(redact.secrets_of(urls))
    results = list(invalid)
    for r in getattr(result, "results", []) or []:
        url = next((by_tag[t] for t in r.tag if t in by_tag), None)
        name = service_name(url, key) if url else redact.scheme_of(r.url) + "://"
        results.append({"service": name, "ok": bool(r), "status": r.status.name, "elapsed": round(r.elapsed, 3),
                        "error": None if bool(r) else mask(_last_log(r))})
    if any(r["status"] == AppriseResultStatus.TIMEOUT.name for r in results):
        return SendReport("timeout", results, "timed out: may or may not have been delivered")
    if all(r["ok"] for r in results) and results:
        return SendReport("sent", results)
    failed = [r["service"] for r in results if not r["ok"]]
    return SendReport("failed", results, "failed: " + ", ".join(failed))


def _last_log(r) -> str | None:
    try:
        entries = list(r.logs())
    except Exception:  # noqa: BLE001
        return None
    for e in reversed(entries):
        text = getattr(e, "message", None) or str(e)
        if text:
            return str(text)[:300]
    return None


def send_page(alert: dict, urls: list[str], cfg: Config, send: Callable[[str, str, list[str]], SendReport]
              ) -> SendReport:
    """Send one outbox row through `send` (send() with its options bound), with its link and, to email
    targets, its reply token (console.ack.links): one SendReport for all of the row's services."""
    return merge([send(t, b, u) for t, b, u in links.page_parts(alert, urls, cfg)])


def merge(reports: list[SendReport]) -> SendReport:
    """One report for a row sent in several calls: any timeout is a timeout (it may have arrived), all
    sent is sent, anything else failed."""
    if len(reports) == 1:
        return reports[0]
    outcomes = {r.outcome for r in reports}
    if "timeout" in outcomes:
        outcome = "timeout"
    elif outcomes == {"sent"}:
        outcome = "sent"
    elif outcomes == {"no-targets"}:
        outcome = "no-targets"
    else:
        outcome = "failed"
    errors = [r.error for r in reports if r.error]
    return SendReport(outcome, [x for r in reports for x in r.results], "; ".join(errors) if errors else None)


def backoff(cfg: Config, attempts: int) -> timedelta:
    return lifecycle.backoff(cfg.alerts.backoff_seconds, cfg.alerts.backoff_max_seconds, attempts)


def _step_of(alert: dict) -> pol.Step | None:
    """The policy step a ticket's page row stands for (None for stand-downs and desk notices)."""
    name = alert["step"]
    base = name.split("-", 1)[0]
    if alert.get("ticket_id") is None or base not in ("arrival", "warn", "escalate", "breach", "repeat"):
        return None
    kind = ("page" if alert["cls"] == "III" else "notify") if base == "arrival" else base
    due = parse_iso(alert["due_at"])
    return pol.Step(name, alert["cls"], due, kind, (), bool(alert["urgent"])) if due is not None else None


def write_text(db: Database, cfg: Config, alert: dict, now: datetime) -> None:
    """Word a ticket's page as of `now`, the moment it first goes out, and store those words. Call in the
    claiming transaction. A retry or a resend is the same page, word for word (and link for link)."""
    step = _step_of(alert)
    if step is None or not alert.get("first_try"):
        return
    try:
        ticket = tickets.get_ticket(db, alert["ticket_id"])
    except tickets.NoSuchTicket:
        return
    title, body = texts.page_text({**ticket, "class": alert["cls"]}, step, now, cfg)
    if (title, body) != (alert["title"], alert["body"]):
        outbox.set_text(db, alert["id"], title, body)
        alert.update(title=title, body=body)


def claim(db: Database, cfg: Config, now: datetime, claimed_by: str, limit: int = 100) -> list[dict]:
    """Claim up to `limit` due rows, in priority order, and word them as of now. Claim only what can be
    sent right away: the send deadline runs from here, so a row queued behind hung sends would expire
    before it was ever tried."""
    if limit <= 0:
        return []
    with write(db):
        return _claim(db, cfg, now, claimed_by, limit)


def _claim(db: Database, cfg: Config, now: datetime, claimed_by: str, limit: int) -> list[dict]:
    horizon = lifecycle.horizon(now, cfg.alerts.backoff_max_seconds)
    silences.hold_due(db, now, horizon)  # what an active silence matches is held, never claimed
    rows = outbox.claim_due(db, now, send_deadline=now + timedelta(seconds=cfg.alerts.send_timeout_seconds + 30),
                            claimed_by=claimed_by, max_attempts=cfg.alerts.max_attempts, limit=limit,
                            horizon=horizon)
    batch = [r["id"] for r in rows]
    carried_now: set[int] = set()
    out = []
    for r in rows:
        if r["id"] in carried_now:
            continue
        if r.get("silenced_by") is not None and r.get("first_try"):  # a silence ended: one page per person
            write_text(db, cfg, r, now)
            carried_now.update(c["id"] for c in silences.bundle_released(db, cfg, r, now, batch))
            out.append(r)
            continue
        if _stands_down(cfg, r):  # the first notice at once; more within the window go as one
            last = parse_iso(outbox.last_standdown(db, r["target"], now - cfg.alerts.bundle_window, batch))
            if last is not None:
                outbox.hold(db, r, lifecycle.ceil_second(last + cfg.alerts.bundle_window))
                continue
            carried = outbox.carry_standdowns(db, r, now, batch)
            carried_now.update(c["id"] for c in carried)
            if carried:
                title, body = standdown_bundle_text(r, carried)
                outbox.set_text(db, r["id"], title, body)
                r.update(title=title, body=body)
            out.append(r)
            continue
        if _bundles(cfg, r) and _burst(db, r, now, batch):  # many groups at once: one page for the person
            write_text(db, cfg, r, now)
            carried = outbox.carry_all(db, r, now, batch)
            carried_now.update(c["id"] for c in carried)
            if carried:
                title, body = burst_text(r, carried, cfg)
                outbox.set_text(db, r["id"], title, body)
                r.update(title=title, body=body)
            out.append(r)
            continue
        if _bundles(cfg, r):
            window = cfg.alerts.bundle_window
            last = parse_iso(outbox.last_group_page(db, r, now - window, batch))
            if last is not None:  # the person was paged for this group just now: this waits for the bundle
                outbox.hold(db, r, lifecycle.ceil_second(last + window))
                continue
            carried = outbox.carry(db, r, now, batch)
            carried_now.update(c["id"] for c in carried)
            if carried:
                write_text(db, cfg, r, now)
                title, body = bundle_text(r, carried, cfg)
                outbox.set_text(db, r["id"], title, body)
                r.update(title=title, body=body)
                out.append(r)
                continue
        write_text(db, cfg, r, now)
        out.append(r)
    return out


def _stands_down(cfg: Config, alert: dict) -> bool:
    return bool(cfg.alerts.bundle_window) and alert["step"] == outbox.STANDDOWN and bool(alert.get("first_try"))


def id_ranges(ids: list[int]) -> str:
    """"#14-#20 #25 #30-#31": ticket numbers with runs written as ranges. Pure."""
    runs: list[tuple[int, int]] = []
    for i in sorted(set(ids)):
        if runs and runs[-1][1] == i - 1:
            runs[-1] = (runs[-1][0], i)
        else:
            runs.append((i, i))
    return " ".join(f"#{a}" if a == b else f"#{a}-#{b}" for a, b in runs)


_STANDDOWN_TITLE = re.compile(r"^#\d+ (.*), stand down$")


def standdown_bundle_text(carrier: dict, carried: list[dict]) -> tuple[str, str]:
    """One notice for many stand-downs to one person: "stand down: #14-#313 acknowledged by Bob". Pure: the
    words of each come from its own notice ("#14 acknowledged by Bob, stand down")."""
    by_words: dict[str, list[int]] = {}
    for row in [carrier, *carried]:
        m = _STANDDOWN_TITLE.match(str(row["title"]))
        by_words.setdefault(m.group(1) if m else "answered", []).append(int(row["ticket_id"]))
    tickets_ = sorted({i for ids in by_words.values() for i in ids})
    if len(by_words) == 1:
        [(words, _)] = by_words.items()
        title = texts.fit_title(f"stand down: {id_ranges(tickets_)}", "", f" {words}")
    else:
        title = texts.fit_title(f"stand down: {len(tickets_)} tickets answered: ", id_ranges(tickets_), "")
    lines = [f"{id_ranges(ids)} {words}" for words, ids in by_words.items()]
    body = ("No action needed from you: the pages for these tickets have stopped.\n" + "\n".join(lines))
    return title, body


def _bundles(cfg: Config, alert: dict) -> bool:
    """Whether this page may wait for, or carry, a bundle: a ticket's page (not a stand-down) on its first try."""
    return (bool(cfg.alerts.bundle_window) and alert.get("ticket_id") is not None and alert["step"] != outbox.STANDDOWN
            and bool(alert.get("first_try")))


# More sender groups than this due at once for one person (a forward clock jump, a poller that was down, a
# wave of mail from many senders, forged or not): the first page carries them all, a per-person budget on
# top of the bundling per group.
BURST_GROUPS = 3


def _burst(db: Database, alert: dict, now: datetime, batch: list[int]) -> bool:
    return outbox.due_groups(db, alert["target"], now, batch) > BURST_GROUPS


def burst_text(carrier: dict, carried: list[dict], cfg: Config) -> tuple[str, str]:
    """One page for every late page of a person, whatever the senders: "9 more pages came due at once: #14 #15 …
    (6 from nagios@cust.example); oldest due 14:05". Pure."""
    ids = sorted({c["ticket_id"] for c in carried} - {carrier["ticket_id"]})
    top, k = Counter(c["requester"] for c in carried).most_common(1)[0]
    oldest = min(filter(None, (parse_iso(c["due_at"]) for c in [carrier, *carried])))
    shown = " ".join(f"#{i}" for i in ids[:10]) + (" …" if len(ids) > 10 else "")
    suffix = f" ({k} from {clean_line(top, 60)}); oldest due {oldest.astimezone(cfg.timezone).strftime('%H:%M')}"
    title = texts.fit_title(f"{len(carried)} more pages came due at once: ", shown, suffix)
    body = (f"{carrier['title']}\n{carrier['body']}\n\nThis page also carries {len(carried)} more page(s) for you that"
            f" came due at the same time, from many senders (or after the desk's clock jumped, or the poller was"
            " down):"
            f" {' '.join(f'#{i}' for i in ids)}.\nThis page's link lists them all and acknowledges every one you may;"
            " or one by one: support-console ack N, or marks and 'A' in the console.")
    return title, body


def bundle_text(carrier: dict, carried: list[dict], cfg: Config) -> tuple[str, str]:
    """One page for the carrier's ticket and `carried` pages of its sender group to the same person: "12 more
    Class III in 2m: #14 #15 … (9 from nagios@cust.example); oldest due 14:05". Pure."""
    ids = sorted({c["ticket_id"] for c in carried} - {carrier["ticket_id"]})
    classes = {c["cls"] for c in carried}
    cls = f"Class {classes.pop()}" if len(classes) == 1 else "pages"
    senders = Counter(c["requester"] for c in carried)
    top, k = senders.most_common(1)[0]
    oldest = min(filter(None, (parse_iso(c["due_at"]) for c in carried)))
    shown = " ".join(f"#{i}" for i in ids[:10]) + (" …" if len(ids) > 10 else "")
    suffix = f" ({k} from {clean_line(top, 60)}); oldest due {oldest.astimezone(cfg.timezone).strftime('%H:%M')}"
    title = texts.fit_title(f"{len(carried)} more {cls} in {pol.format_duration(cfg.alerts.bundle_window)}: ", shown,
                            suffix)
    body = (f"{carrier['title']}\n{carrier['body']}\n\nThis page also carries {len(carried)} more page(s) for you"
            f" from the same senders: {' '.join(f'#{i}' for i in ids)}.\nThis page's link lists them all and"
            f" acknowledges every one you may; or one by one: support-console ack N, or marks and 'A' in the console.")
    return title, body


def deliver(db: Database, cfg: Config, alert: dict, clock_now: Clock) -> str:
    """Send one claimed row and record the outcome. `clock_now` is a callable giving the time."""
    done = outbox.delivered_services(db, alert["id"])
    key = target_key(db)
    report = send_page(alert, target_urls(cfg, alert["target"], alert), cfg, lambda title, body, urls: send(
        title, body, urls, cfg, key=key, urgent=bool(alert["urgent"]), skip_services=done))
    lifecycle.persist(lambda: _record(db, cfg, alert, report, clock_now()), what=f"page {alert['id']}")
    log.info("alert %s to %s: %s", alert["id"], alert["target"], report.outcome)
    return report.outcome


def _record(db: Database, cfg: Config, alert: dict, report: SendReport, now: datetime) -> None:
    by = alert.get("claimed_by")
    with write(db):
        outbox.record_results(db, alert["id"], now, report.results)
        if report.outcome == "sent":
            outbox.finish(db, alert["id"], now, ok=True, claimed_by=by)
        elif report.outcome == "timeout":
            outbox.expire(db, alert["id"], now, (report.error or "") +
                          "; not resent (use: support-console alerts --resend ID)")
        else:
            final = report.outcome == "no-targets" or alert["attempts"] >= cfg.alerts.max_attempts
            outbox.finish(db, alert["id"], now, ok=False, error=report.error, claimed_by=by,
                          retry_at=None if final else lifecycle.ceil_second(now + backoff(cfg, alert["attempts"])))


def dispatch_due(db: Database, cfg: Config, now: datetime, *, claimed_by: str | None = None,
                 clock_now: Clock | None = None) -> int:
    """Claim and send every due row, one after another (the demo uses this)."""
    rows = claim(db, cfg, now, claimed_by or sender_id())
    for alert in rows:
        deliver(db, cfg, alert, clock_now or (lambda: now))
    return len(rows)


class PagesChannel:
    """Pages for console.outbox.runner: a few senders at once, one row each (a hung pager service holds
    one sender, never the others)."""

    name, kind, batch = "page(s)", "", 1

    def __init__(self, cfg: Config, workers: int = 4):
        self.cfg, self.workers = cfg, workers
        self._barrier_failing = False

    def start_up(self, db: Database, me: str, now: datetime) -> int:
        return outbox.expire_orphans(db, now, claimed_by=me)

    def orphans_due(self, db: Database, now: datetime) -> bool:
        return outbox.orphans_due(db, now)

    def expire_orphans(self, db: Database, now: datetime) -> int:
        return outbox.expire_orphans(db, now)

    def claim(self, db: Database, now: datetime, me: str, limit: int) -> list[dict[str, Any]]:
        return _claim(db, self.cfg, now, me, limit)

    def _replicated(self) -> None:
        """Wait (briefly) until the replica holds the claims: a standby restored after a failover then knows
        these pages were sent, and never sends them again. Litestream down: pages go out anyway, said once."""
        from console import replication

        why = replication.barrier(self.cfg)
        if why and not self._barrier_failing:
            log.warning("pages go out without waiting for the replica (%s): after a failover they may be sent again",
                        why)
        elif not why and self._barrier_failing:
            log.info("pages wait for the replica again")
        self._barrier_failing = why is not None

    def next_due(self, db: Database) -> str | None:
        return outbox.next_attempt_due(db, self.cfg.alerts.max_attempts)

    def horizon_seconds(self) -> float:
        return self.cfg.alerts.backoff_max_seconds + 1

    def send(self, db: Database, rows: list[dict[str, Any]], me: str, now: Clock, stop: threading.Event) -> None:
        # The claims (committed by now: the runner claims in a transaction of its own) reach the replica
        # before the pages go out.
        if rows and self.cfg.replicate is not None:
            self._replicated()
        for alert in rows:
            deliver(db, self.cfg, alert, now)
