"""Hostile mail aimed at what the desk sends back: replies, receipts and details requests.

Each builder returns the raw bytes of one customer mail that tried to turn the desk's own mail against it:
header injection through encoded words inside encoded words (Subject, display name, Cc, Reply-To), a
Cc list of thousands, floods of forged or plus-tagged senders, Authentication-Results the sender wrote
itself, and non-ASCII addresses. The tests feed them through intake and then into an aiosmtpd sink.
"""
from __future__ import annotations

import base64

from tests.hostile import DESK_SUPPORT

AUTHSERV = "mx.desk.example"  # the desk's receiving MTA, as [replies] trusted_authserv_id names it

# What an attacker wants the desk's mail to carry: a Reply-To of theirs, an HTML body of theirs, and the
# desk's own headers pushed down into the body.
PAYLOAD = ("x\r\nReply-To: attacker@evil.test\r\nContent-Type: text/html\r\n\r\n"
           "<a href=http://evil.test/reset>reset your password</a>")


def q_word(text: str) -> str:
    """`text` as one RFC 2047 Q encoded word (CR and LF as =0D =0A, blanks as _)."""
    out = []
    for b in text.encode("utf-8"):
        c = chr(b)
        out.append("_" if c == " " else c if c.isalnum() or c in "!*+-/" else f"={b:02X}")
    return f"=?utf-8?q?{''.join(out)}?="


def b_word(text: str) -> str:
    return f"=?utf-8?b?{base64.b64encode(text.encode('utf-8')).decode('ascii')}?="


INNER = q_word(PAYLOAD)  # what intake stores after decoding a double-encoded value once
DOUBLE = b_word(INNER)  # an encoded word whose text is an encoded word
TRIPLE = b_word(DOUBLE)


def message(*, frm: str = "Carl <carl@cust.example>", to: str = DESK_SUPPORT, subject: str = "Printer broken",
            msgid: str = "<h1@cust.example>", extra: str = "", body: str = "Our printer is broken.",
            charset_8bit: bool = False) -> bytes:
    head = (f"From: {frm}\r\nTo: {to}\r\nSubject: {subject}\r\nDate: Mon, 02 Nov 2026 09:00:00 -0700\r\n"
            f"Message-ID: {msgid}\r\n{extra}")
    return head.encode("utf-8") + b"\r\n" + body.encode("utf-8") + b"\r\n"


# --- header injection -----------------------------------------------------------------------------

def double_subject(i: int = 1) -> bytes:
    return message(subject=f"Help {DOUBLE}", msgid=f"<dsub{i}@cust.example>")


def triple_subject(i: int = 1) -> bytes:
    return message(subject=TRIPLE, msgid=f"<tsub{i}@cust.example>")


def double_name(i: int = 1) -> bytes:
    return message(frm=f"{DOUBLE} <carl@cust.example>", msgid=f"<dname{i}@cust.example>")


def triple_name(i: int = 1) -> bytes:
    return message(frm=f"{TRIPLE} <carl@cust.example>", msgid=f"<tname{i}@cust.example>")


def double_cc(i: int = 1) -> bytes:
    """Cc display names that are an encoded CR LF Bcc: (with its "@" left bare, as the issue's was: a
    parser then reads the encoded word as an address) and a double-encoded word, beside harmless ones."""
    bad = q_word("x\r\nBcc: victim").replace("?=", "@bank.test?=")
    return message(extra=f"Cc: Dora <dora@cust.example>, {bad} <ok7@cust.example>, {DOUBLE} <eve@cust.example>\r\n",
                   msgid=f"<dcc{i}@cust.example>")


def double_reply_to(i: int = 1) -> bytes:
    return message(extra=f"Reply-To: {DOUBLE} <carl@cust.example>\r\n", msgid=f"<drt{i}@cust.example>")


# --- recipients -----------------------------------------------------------------------------------

def many_cc(n: int = 3000) -> bytes:
    cc = ",\r\n ".join(f"p{i}@cc{i % 50}.example" for i in range(n))
    return message(extra=f"Cc: {cc}\r\n", msgid="<manycc@cust.example>")


def non_ascii_sender() -> bytes:
    return message(frm="Jürgen <jürgen@exämple.test>", msgid="<utf8from@exämple.test>")


def non_ascii_cc() -> bytes:
    return message(extra="Cc: Jörg <jörg@exämple.test>, Dora <dora@cust.example>\r\n", msgid="<utf8cc@cust.example>")


def idn_cc() -> bytes:
    """A Cc whose only non-ASCII part is its domain: it can go as IDNA where SMTPUTF8 is not offered."""
    return message(extra="Cc: Ann <ann@exämple.test>, Jörg <jörg@exämple.test>\r\n", msgid="<idncc@cust.example>")


# --- floods and forged authentication --------------------------------------------------------------

def plus_flood(i: int) -> bytes:
    """One of many mails from the same mailbox, each with another +tag and another case."""
    local = "victim" if i % 2 else "VICTIM"
    return message(frm=f"{local}+{i}@bank.test", msgid=f"<plus{i}@bank.test>", subject=f"request {i}")


def forged_sender(i: int) -> bytes:
    """A mail from a third party's address that the sender does not own (DMARC fails at our MTA)."""
    ar = (f"Authentication-Results: {AUTHSERV}; spf=fail smtp.mailfrom=forged{i}.example;"
          f" dmarc=fail header.from=forged{i}.example\r\n")
    return message(frm=f"someone@forged{i}.example", msgid=f"<forged{i}@attacker.example>", extra=ar,
                   subject=f"backscatter {i}")


def forged_authentication_results(domain: str = "bank.test") -> bytes:
    """Our MTA says DMARC failed (topmost); below its Received line the sender wrote a pass of its own in
    our MTA's name."""
    top = f"Authentication-Results: {AUTHSERV}; spf=fail smtp.mailfrom={domain}; dmarc=fail header.from={domain}\r\n"
    received = f"Received: from evil.test (evil.test [192.0.2.66]) by {AUTHSERV} with ESMTP id 1; Mon, 2 Nov 2026\r\n"
    forged = f"Authentication-Results: {AUTHSERV}; dmarc=pass header.from={domain}; spf=pass smtp.mailfrom={domain}\r\n"
    return top.encode() + received.encode() + message(frm=f"ceo@{domain}", msgid="<forgedar@evil.test>",
                                                      extra=forged)


def forged_only_by_sender(domain: str = "bank.test") -> bytes:
    """Our MTA wrote no verdict at all; the only pass is below its Received line, written by the sender."""
    received = f"Received: from evil.test (evil.test [192.0.2.66]) by {AUTHSERV} with ESMTP id 2; Mon, 2 Nov 2026\r\n"
    forged = f"Authentication-Results: {AUTHSERV}; dmarc=pass header.from={domain}\r\n"
    return received.encode() + message(frm=f"ceo@{domain}", msgid="<forgedonly@evil.test>", extra=forged)


def authenticated(frm: str = "carl@cust.example", result: str = "dmarc=pass header.from=cust.example",
                  i: int = 1) -> bytes:
    top = f"Authentication-Results: {AUTHSERV}; {result}\r\n"
    received = f"Received: from cust.example by {AUTHSERV} with ESMTPS id {i}; Mon, 2 Nov 2026\r\n"
    return top.encode() + received.encode() + message(frm=frm, msgid=f"<auth{i}@cust.example>")
