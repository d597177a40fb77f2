"""Deliver outbox rows through apprise, one person (or desk channel) per row, with per-service results.

- A service that already accepted this row is never sent it again (no double page on a retry).
- A confirmed failure is retried with capped backoff, up to alerts.max_attempts.
- A timeout is ambiguous (the page may have gone out), so the row becomes 'expired' and waits for
  an operator: `support-console alerts --resend ID`.
"""
from __future__ import annotations

import logging
import os
import secrets
import socket
import urllib.parse
from dataclasses import dataclass
from datetime import datetime, timedelta

import apprise
from apprise import AppriseResultStatus
from sqlite_utils import Database

from console import redact
from console.ack import links
from console.config import Config
from store import outbox, write

log = logging.getLogger("support_console.dispatch")


def sender_id() -> str:
    """Who claimed a row: host, pid and a random part. The pid alone is reused (a container's poller
    is often pid 1 every time), and a restarted poller must not take its dead predecessor's
    half-sent rows for its own."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"


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
    invalid = []
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


def _ceil_second(dt: datetime) -> datetime:
    # The store keeps whole seconds (truncating): round up, or a retry comes up to 1 s early and a
    # sub-second backoff becomes no backoff at all.
    return dt if dt.microsecond == 0 else dt.replace(microsecond=0) + timedelta(seconds=1)


def backoff(cfg: Config, attempts: int) -> timedelta:
    return timedelta(seconds=min(cfg.alerts.backoff_max_seconds, cfg.alerts.backoff_seconds * 2 ** (attempts - 1)))


def claim(db: Database, cfg: Config, now: datetime, claimed_by: str, limit: int = 100) -> list[dict]:
    """Claim up to `limit` due rows. Claim only what can be sent right away: the send deadline runs
    from here, so a row queued behind hung sends would expire before it was ever tried."""
    if limit <= 0:
        return []
    with write(db):
        return outbox.claim_due(db, now, send_deadline=now + timedelta(seconds=cfg.alerts.send_timeout_seconds + 30),
                                claimed_by=claimed_by, max_attempts=cfg.alerts.max_attempts, limit=limit)


def deliver(db: Database, cfg: Config, alert: dict, clock_now) -> str:
    """Send one claimed row and record the outcome. `clock_now` is a callable giving the time."""
    done = outbox.delivered_services(db, alert["id"])
    key = target_key(db)
    report = links.send_page(alert, target_urls(cfg, alert["target"], alert), cfg, lambda title, body, urls: send(
        title, body, urls, cfg, key=key, urgent=bool(alert["urgent"]), skip_services=done))  # + its ack link, if any
    now = clock_now()
    with write(db):
        outbox.record_results(db, alert["id"], now, report.results)
        if report.outcome == "sent":
            outbox.finish(db, alert["id"], now, ok=True)
        elif report.outcome == "timeout":
            outbox.expire(db, alert["id"], now, report.error + "; not resent (use: support-console alerts --resend ID)")
        else:
            final = report.outcome == "no-targets" or alert["attempts"] >= cfg.alerts.max_attempts
            outbox.finish(db, alert["id"], now, ok=False, error=report.error,
                          retry_at=None if final else _ceil_second(now + backoff(cfg, alert["attempts"])))
    log.info("alert %s to %s: %s", alert["id"], alert["target"], report.outcome)
    return report.outcome


def dispatch_due(db: Database, cfg: Config, now: datetime, *, claimed_by: str | None = None,
                 clock_now=None) -> int:
    """Claim and send every due row, one after another (the demo and `poll --once` use this)."""
    rows = claim(db, cfg, now, claimed_by or sender_id())
    for alert in rows:
        deliver(db, cfg, alert, clock_now or (lambda: now))
    return len(rows)
