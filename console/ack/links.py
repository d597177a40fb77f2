"""Acknowledge links and email-reply tokens, added to a page as it is sent.

A page row in the outbox holds no token: the token is made from the row itself (ticket, target,
id, creation time) each time the page is sent, so a retry or `alerts --resend` sends the same link,
and the database never holds a working credential.

- With `[alerts] ack_base_url`, every page to a person carries `<ack_base_url>/<token>`.
- A page to an email target (mailto://, mailtos://) of someone whose `[[staff]] email` is set also
  carries the token in its subject, and its Reply-To is the desk's mailbox (unless the URL already sets
  `reply=`), so answering "ack" from a phone's mail app acknowledges it (console.intake.page_replies).
- The desk channel (`@desk`) is nobody in particular: its pages carry neither.

Making a link never stops a page: if the key cannot be read or made, the page goes out without the
link and the error is logged.
"""
from __future__ import annotations

import logging
import urllib.parse

from console.ack import keyfile, tokens
from console.ack.texts import person_name
from console.config import Config
from store import outbox
from store.times import parse_required

log = logging.getLogger("support_console.ack")

EMAIL_SCHEMES = ("mailto", "mailtos")


def desk_mailbox(cfg: Config) -> str | None:
    """Where a reply to an email page goes: the desk's own From address, else its first routing address."""
    if cfg.smtp is not None:
        return cfg.smtp.from_addr
    for addr in (*cfg.routing.support, *cfg.routing.urgent):
        return addr
    return None


def route_prefix(cfg: Config) -> str:
    """The path the poller serves links under: the path of ack_base_url, with one trailing slash."""
    path = urllib.parse.urlsplit(cfg.alerts.ack_base_url or "").path
    return path.rstrip("/") + "/"


def link(cfg: Config, token: str) -> str:
    return (cfg.alerts.ack_base_url or "").rstrip("/") + "/" + token


def claim_for(cfg: Config, alert: dict) -> tokens.Claim | None:
    """What a token for this outbox row says, or None when the row gets no token."""
    if alert.get("ticket_id") is None or alert.get("step") == outbox.STANDDOWN or not cfg.person(alert["target"]):
        return None
    issued = parse_required(alert["created_at"])
    return tokens.Claim(ticket_id=alert["ticket_id"], alert_id=alert["id"], handle=alert["target"], issued=issued,
                        expires=issued + cfg.alerts.ack_link_lifetime)


def signing_key(cfg: Config) -> bytes:
    return keyfile.load_or_create(keyfile.key_path(cfg.store_path))


def subject_tag(token: str) -> str:
    return f"[ack:{token}]"


def _scheme(url: str) -> str:
    return url.split("://", 1)[0].lower() if "://" in url else ""


def with_reply_to(url: str, address: str) -> str:
    parts = urllib.parse.urlsplit(url)
    if "reply" in urllib.parse.parse_qs(parts.query, keep_blank_values=True):
        return url  # the operator chose a Reply-To for this target
    query = parts.query + ("&" if parts.query else "") + urllib.parse.urlencode({"reply": address})
    return urllib.parse.urlunsplit(parts._replace(query=query))


Part = tuple[str, str, list[str]]  # (title, body, urls): one call of the pages channel


def page_parts(alert: dict, urls: list[str], cfg: Config) -> list[Part]:
    """What one outbox row is sent as: its title and body with its link and, to email targets, its reply
    token, split by the kind of target. Signing only: the pages channel (console.outbox.pages) sends
    each part and merges the results."""
    title, body = alert["title"], alert["body"]
    claim = claim_for(cfg, alert)
    person = cfg.person(alert["target"]) if claim else None
    want_link = claim is not None and cfg.alerts.ack_base_url is not None
    reply_to = desk_mailbox(cfg) if person is not None and person.email else None
    emails = [u for u in urls if _scheme(u) in EMAIL_SCHEMES]
    if claim is None or not urls or not (want_link or (reply_to and emails)):
        return [(title, body, urls)]
    try:
        token = tokens.make(signing_key(cfg), claim)
    except (keyfile.KeyFileError, ValueError) as exc:
        log.error("page %s goes out without its acknowledge link: %s", alert["id"], exc)
        return [(title, body, urls)]
    extra = f"\n\nAcknowledge from your phone: {link(cfg, token)}" if want_link else ""
    others = [u for u in urls if _scheme(u) not in EMAIL_SCHEMES]
    parts: list[Part] = []
    if others:
        parts.append((title, body + extra, others))
    if emails and reply_to:
        name = person_name(cfg, alert["target"])
        parts.append((f"{title} {subject_tag(token)}",
                       body + extra + f"\n\nOr reply to this mail with \"ack\" alone on the first line to acknowledge"
                       f" #{alert['ticket_id']} as {name}.", [with_reply_to(u, reply_to) for u in emails]))
    elif emails:
        parts.append((title, body + extra, emails))
    return parts
