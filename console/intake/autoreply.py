"""Is a mail machine-generated? Bounces and auto-replies must not open tickets or get replies.

Pure code over ``ParsedMail.headers`` (lower-cased names, first value).
"""

from __future__ import annotations

import re

from console.intake.parse import ParsedMail

__all__ = ["auto_kind", "why_automatic"]

_BULK_PRECEDENCE = {"bulk", "junk", "list", "auto_reply", "auto-reply"}
_BOUNCE_LOCALPARTS = {"mailer-daemon", "postmaster"}
_AUTOREPLY_FLAGS = ("x-autoreply", "x-autorespond", "x-auto-response-suppress")
_DSN_TYPE = re.compile(r"multipart/report\b", re.IGNORECASE)
_DSN_REPORT = r"(?i)report-type\s*=\s*\"?\s*delivery-status\b"
_TOKEN_END = r"[;(\s]"
_SPACE = r"\s+"
# What mail programs put before the subject of an out-of-office or vacation answer that sends none of the
# headers above (older Exchange and Notes, some web mailers). Only as the subject's first word(s) and with
# the colon: a person's "Re: out of office next week?" is a person's.
_AUTO_SUBJECT = re.compile(
    r"\s*(automatic reply|auto[- ]?reply|auto[- ]?response|automatic response|out of (?:the )?office"
    r"(?: auto[- ]?reply| reply)?|autosvar|abwesenheitsnotiz|r[ée]ponse automatique|respuesta autom[áa]tica"
    r"|risposta automatica|automatisch antwoord)\s*:", re.IGNORECASE)


def _token(value: str | None) -> str:
    """First token of a header value, lower-cased, without comments or parameters."""
    v = (value or "").strip().lower()
    v = re.split(_TOKEN_END, v, maxsplit=1)[0] if v else ""
    return v.strip("\"'")


def _is_dsn(content_type: str | None) -> bool:
    ct = content_type or ""
    return bool(_DSN_TYPE.search(ct) and re.search(_DSN_REPORT, ct))


def auto_kind(mail: ParsedMail) -> str | None:
    """"bounce", "autoreply" or None (a human wrote it, as far as we can tell)."""
    verdict = why_automatic(mail)
    return verdict[0] if verdict else None


def why_automatic(mail: ParsedMail) -> tuple[str, str] | None:
    """(kind, the header that says so) for machine-made mail, or None. One judgement for intake (no
    ticket for an auto-reply, unless it is to urgent@) and for receipts (never one to a machine).

    Bounce: From local part MAILER-DAEMON or postmaster; an empty ``Return-Path: <>``; a
    ``multipart/report; report-type=delivery-status`` body. (Auto-Submitted on a DSN is a bounce too.)

    Auto-reply: ``Auto-Submitted`` other than "no"; ``Precedence`` bulk/junk/list/auto_reply;
    ``X-Autoreply`` or ``X-Autorespond``; ``X-Auto-Response-Suppress`` with any value; a subject that
    starts "Automatic reply:", "Out of Office:" and the like (a vacation answer that sends none of these).
    """
    try:
        h = mail.headers or {}
    except Exception:
        h = {}

    local = (getattr(mail, "from_addr", "") or "").lower().split("@", 1)[0]
    return_path = h.get("return-path")
    if local in _BOUNCE_LOCALPARTS:
        return "bounce", f"sender {local}"
    if return_path is not None and re.sub(_SPACE, "", return_path) == "<>":
        return "bounce", "empty Return-Path"
    if _is_dsn(h.get("content-type")):
        return "bounce", "a delivery status report"

    auto_submitted = _token(h.get("auto-submitted"))
    if auto_submitted and auto_submitted != "no":
        return "autoreply", f"Auto-Submitted: {auto_submitted}"
    precedence = _token(h.get("precedence"))
    if precedence in _BULK_PRECEDENCE:
        return "autoreply", f"Precedence: {precedence}"
    for name in _AUTOREPLY_FLAGS:
        if name in h:
            return "autoreply", name
    m = _AUTO_SUBJECT.match((getattr(mail, "subject", "") or "")[:200])
    if m:
        return "autoreply", f"Subject: {m.group(1)}"
    return None
