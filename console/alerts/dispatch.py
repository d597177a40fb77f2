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

from console.config import Config
from store import outbox, write

log = logging.getLogger("support_console.dispatch")


def sender_id() -> str:
    """Who claimed a row: host, pid and a random part. The pid alone is reused (a container's poller
    is often pid 1 every time), and a restarted poller must not take its dead predecessor's
    half-sent rows for its own."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"


def target_urls(cfg: Config, target: str) -> list[str]:
    if target == "@desk":
        return list(cfg.alerts.channels)
    person = cfg.person(target)
    return list(person.notify) if person else []


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


def service_name(url: str) -> str:
    """The privacy-masked form apprise itself reports, without its options: safe to store and print."""
    a = apprise.Apprise()
    if not a.add(url):
        return "invalid-url:" + (url.split("://", 1)[0] if "://" in url else "?")
    return _short(a[0].url(privacy=True))


def _short(privacy_url: str) -> str:
    return privacy_url.split("?", 1)[0]


@dataclass
class SendReport:
    outcome: str  # "sent" | "failed" | "timeout" | "no-targets"
    results: list[dict]
    error: str | None = None


def send(title: str, body: str, urls: list[str], cfg: Config, *, urgent: bool = True,
         skip_services: frozenset[str] = frozenset()) -> SendReport:
    if not urls:
        return SendReport("no-targets", [], "no notify URLs configured")
    ap = apprise.Apprise()
    invalid = []
    for u in urls:
        name = service_name(u)
        if name in skip_services:
            continue
        if name.startswith("invalid-url:") or not ap.add(_with_timeouts(u, cfg)):
            invalid.append({"service": name, "ok": False, "status": "INVALID_URL",
                            "error": "apprise does not accept this URL"})
    if len(ap) == 0:
        if invalid:
            return SendReport("failed", invalid, "no valid notify URL")
        return SendReport("sent", [])  # every service had it already
    notify_type = apprise.NotifyType.FAILURE if urgent else apprise.NotifyType.WARNING
    try:
        result = ap.notify(body=body, title=title, notify_type=notify_type, timeout=cfg.alerts.send_timeout_seconds)
    except Exception as exc:  # noqa: BLE001 - a plugin bug must not kill the dispatcher
        return SendReport("failed", invalid, f"apprise raised {type(exc).__name__}")
    results = list(invalid)
    for r in getattr(result, "results", []) or []:
        results.append({"service": _short(r.url), "ok": bool(r), "status": r.status.name, "elapsed": round(r.elapsed, 3),
                        "error": None if bool(r) else _last_log(r)})
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
    done = _delivered(db, alert)
    report = send(alert["title"], alert["body"], target_urls(cfg, alert["target"]), cfg, urgent=bool(alert["urgent"]),
                  skip_services=done)
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


def _delivered(db: Database, alert: dict) -> frozenset[str]:
    return outbox.delivered_services(db, alert["id"])


def dispatch_due(db: Database, cfg: Config, now: datetime, *, claimed_by: str | None = None,
                 clock_now=None) -> int:
    """Claim and send every due row, one after another (the demo and `poll --once` use this)."""
    rows = claim(db, cfg, now, claimed_by or sender_id())
    for alert in rows:
        deliver(db, cfg, alert, clock_now or (lambda: now))
    return len(rows)
