"""Shared by the acknowledge tests (issue 15): the paging desk (tests/integration/alerts_helpers.py) with
staff email addresses and acknowledge links, and a staff member's reply to an email page."""
from __future__ import annotations

from datetime import datetime, timedelta
from email.utils import format_datetime, make_msgid
from pathlib import Path
from typing import Any

from console.config import from_dict
from store import outbox, write
from tests.integration import alerts_helpers as h

EMAILS = {"ann": "ann@staff.example", "bob": "bob@staff.example", "cy": "cy@staff.example"}


def ack_dict(store_path: Path | str, *, base_url: str | None = "https://desk.example/ack", listen: str | None = None,
             emails: bool = True, lifetime: str | None = None, **kw: Any) -> dict:
    data = h.config_dict(store_path, **kw)
    if emails:
        for s in data["staff"]:
            s["email"] = EMAILS[s["handle"]]
    if base_url:
        data["alerts"]["ack_base_url"] = base_url
    if listen:
        data["alerts"]["ack_listen"] = listen
    if lifetime:
        data["alerts"]["ack_link_lifetime"] = lifetime
    return data


def ack_cfg(tmp_path: Path, **kw: Any):
    return from_dict(ack_dict(tmp_path / "support.db", **kw))


def write_ack_config(directory: Path, **kw: Any) -> Path:
    directory = Path(directory)
    path = directory / "config.toml"
    path.write_text(h.to_toml(ack_dict(directory / "support.db", **kw)))
    return path


def mark_sent(db, now: datetime, ticket_id: int | None = None) -> list[dict]:
    """Pages of a ticket as the dispatcher leaves them once sent (through the store's own calls)."""
    with write(db):
        rows = outbox.claim_due(db, now, send_deadline=now + timedelta(seconds=30), claimed_by="test",
                                max_attempts=8, limit=1000)
        rows = [r for r in rows if ticket_id is None or r["ticket_id"] == ticket_id]
        for r in rows:
            outbox.finish(db, r["id"], now, ok=True)
    return rows


def reply_to_page(subject: str, *, frm: str, to: str = h.SUPPORT, body: str = "ack", in_reply_to: str | None = None,
                  extra: str = "", date: datetime | None = None) -> bytes:
    """A phone mail app's answer to an email page: "Re: <subject>", the text on top, the page quoted below."""
    head = (f"From: Bob <{frm}>\r\nTo: {to}\r\nSubject: Re: {subject}\r\n"
            f"Date: {format_datetime(date or datetime.now(h.UTC))}\r\n"
            f"Message-ID: {make_msgid(domain='staff.example')}\r\n"
            "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n")
    if in_reply_to:
        head += f"In-Reply-To: {in_reply_to}\r\nReferences: {in_reply_to}\r\n"
    head += "".join(f"{line}\r\n" for line in extra.splitlines() if line)
    quoted = ("On Mon, Mar 2, 2026 at 3:00 AM Desk <support@desk.example> wrote:\r\n"
              "> Acknowledge: support-console ack 1  (or press 'a' in the console)\r\n"
              "> Or reply to this mail with \"ack\" alone on the first line to acknowledge\r\n")
    return (head + "\r\n" + body + "\r\n\r\n" + quoted).encode()
