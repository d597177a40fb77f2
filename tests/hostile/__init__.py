"""Hostile mail for intake, built here rather than stored as files: a few are megabytes each.

Each builder returns the raw bytes of one message that broke (or could break) intake: a failure that
stops every later mail, work that grows faster than the message, text that a converter drops, machine
mail that must still page, headers that try to join someone else's ticket, and copies of one mail.
"""
from __future__ import annotations

DESK_SUPPORT, DESK_URGENT = "support@desk.example", "urgent@desk.example"


def message(*, frm="Carl <carl@cust.example>", to=DESK_SUPPORT, subject="Help", msgid="<h1@cust.example>",
            extra: str | bytes = "", body: str | bytes = "Our printer is broken.") -> bytes:
    extra = extra.encode() if isinstance(extra, str) else extra
    body = body.encode() if isinstance(body, str) else body
    head = f"From: {frm}\r\nTo: {to}\r\nSubject: {subject}\r\nDate: Mon, 02 Nov 2026 09:00:00 -0700\r\n"
    if msgid:
        head += f"Message-ID: {msgid}\r\n"
    return head.encode() + extra + b"\r\n" + body + b"\r\n"


# --- item 2: one message that cannot be filed must not stop the others -------------------------

def many_references(n: int = 300_000) -> bytes:
    """References with n ids: one bound SQL variable each went past SQLite's limit, on every retry."""
    refs = " ".join(f"<r{i}@thread.example>" for i in range(n))
    return message(subject="Re: the long thread", msgid="<refs@cust.example>", extra=f"References: {refs}\r\n")


# --- item 3: bounded work ----------------------------------------------------------------------

def many_encoded_words(n: int = 80_000) -> bytes:
    """A Subject of n RFC 2047 words: the stdlib's decode_header takes ~18 s for 80,000."""
    return message(subject=" ".join(["=?utf-8?q?caf=C3=A9?="] * n), msgid="<words@cust.example>")


def huge_header(size: int = 1_500_000) -> bytes:
    """One folded 1.5 MB header field."""
    lines = "\r\n ".join("x" * 70 for _ in range(size // 73))
    return message(subject="big header", msgid="<bighead@cust.example>", extra=f"X-Junk: {lines}\r\n")


def deep_html(depth: int = 300, mark: str = "Class III: the database is down") -> bytes:
    """Text after `depth` nested <div>s: inscriptis drops everything beyond ~255 levels."""
    html = "<html><body>" + "<div>" * depth + f"<p>{mark}</p>" + "</div>" * depth + "</body></html>"
    return message(subject="status", msgid="<deep@cust.example>", body=html,
                   extra="MIME-Version: 1.0\r\nContent-Type: text/html; charset=utf-8\r\n")


def many_addresses(n: int = 200_000) -> bytes:
    cc = ", ".join(f"p{i}@cc.example" for i in range(n))
    return message(subject="everyone", msgid="<cc@cust.example>", extra=f"Cc: {cc}\r\n")


def many_parts(n: int = 5000) -> bytes:
    parts = "".join(f"--b\r\nContent-Type: text/plain\r\n\r\npart {i}\r\n" for i in range(n))
    return message(subject="parts", msgid="<parts@cust.example>", body=parts + "--b--",
                   extra='MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="b"\r\n')


def quoted_semicolons(n: int = 200_000) -> bytes:
    """A Content-Type whose parameters hold n quoted semicolons."""
    return message(subject="params", msgid="<params@cust.example>",
                   extra=f'MIME-Version: 1.0\r\nContent-Type: text/plain; a="{";" * n}"; charset=utf-8\r\n')


def unclosed_scripts(n: int = 50_000) -> bytes:
    return message(subject="scripts", msgid="<scripts@cust.example>", body="<script>" * n + "< " * n,
                   extra="MIME-Version: 1.0\r\nContent-Type: text/html\r\n")


# --- item 4: machine mail to urgent@ -----------------------------------------------------------

def monitoring_alert(header: str = "Auto-Submitted: auto-generated", frm="Nagios <nagios@mon.example>",
                     msgid="<alert@mon.example>") -> bytes:
    return message(frm=frm, to=DESK_URGENT, subject="PROBLEM: db1 is DOWN", msgid=msgid, extra=f"{header}\r\n",
                   body="Host db1 is DOWN (PING CRITICAL).")


def bounce_to_urgent(original="<lost@nowhere.example>") -> bytes:
    return message(frm="Mail Delivery System <MAILER-DAEMON@mx.example>", to=DESK_URGENT,
                   subject="Undelivered Mail Returned to Sender", msgid="<bounce@mx.example>",
                   extra="Auto-Submitted: auto-replied\r\n",
                   body=f"Your message could not be delivered.\r\n\r\nMessage-ID: {original}\r\n")


# --- item 5: threading that cannot be hijacked ---------------------------------------------------

def reply_from(frm: str, msgid: str, in_reply_to: str, subject="Re: Help", body="Here is more.") -> bytes:
    return message(frm=frm, subject=subject, msgid=msgid, extra=f"In-Reply-To: {in_reply_to}\r\n"
                   f"References: {in_reply_to}\r\n", body=body)


# --- item 6: copies of one mail ------------------------------------------------------------------

def with_trace(raw: bytes, *lines: str) -> bytes:
    """The same mail as a relay or a per-recipient pipe delivers it: trace fields on top."""
    return "".join(f"{ln}\r\n" for ln in lines).encode() + raw
