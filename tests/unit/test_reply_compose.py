"""Composing the desk's mail (pure): headers that thread both ways, the subject tag, the customer's Cc,
automatic-reply headers, the DATA encoding; templates; and the rules for receipts."""
import email
import email.policy
from datetime import datetime, timedelta, UTC
from zoneinfo import ZoneInfo

import pytest

from console.replies import compose, receipts, templates
from console.replies.smtp import wire_data

TZ = ZoneInfo("America/Phoenix")
NOW = datetime(2026, 11, 3, 16, 30, tzinfo=UTC)
OWN = {"support@desk.example", "urgent@desk.example", "ann@desk.example"}
DESK = "Example Support <support@desk.example>"


def msg(kind="new", mid="m1@cust.example", frm="carl@cust.example", refs=(), cc=(), body="Our printer is broken."):
    return compose.ThreadMessage(kind=kind, message_id=mid, from_addr=frm, from_name="Carl", refs=tuple(refs),
                                 body_text=body, at=NOW - timedelta(hours=1), cc=tuple(cc))


def build(thread, **kw):
    args = dict(ticket_id=42, subject="Printer broken", thread=thread, to_addr="carl@cust.example", to_name="Carl",
                desk_from=DESK, body="Hello Carl,\n\nWe are on it.\n", now=NOW, tz=TZ, own=OWN)
    args.update(kw)
    return compose.build(**args)


def parsed(out: compose.Outgoing):
    return email.message_from_bytes(out.raw, policy=email.policy.default)


def text(m) -> str:
    return m.get_content().replace("\r\n", "\n")


def test_reply_headers_thread_to_the_customers_last_message():
    thread = [msg(mid="m1@cust.example", refs=["m0@cust.example"]),
              msg(kind="outgoing", mid="t42.abc@desk.example", frm="support@desk.example"),
              msg(kind="reply", mid="m2@cust.example", refs=["m0@cust.example", "m1@cust.example"]),
              msg(kind="autoreply", mid="ooo@cust.example"), msg(kind="note", mid=None, frm="")]
    out = build(thread)
    m = parsed(out)
    assert m["In-Reply-To"] == "<m2@cust.example>"
    # the customer's chain oldest first, then ours (which their client dropped)
    assert m["References"].split() == ["<m0@cust.example>", "<m1@cust.example>", "<m2@cust.example>",
                                       "<t42.abc@desk.example>"]
    assert m["From"] == m["Reply-To"] == DESK
    assert m["To"] == "Carl <carl@cust.example>"
    assert m["Subject"] == "Re: [#42] Printer broken"
    assert m["Date"].datetime == NOW and m["Date"].datetime.utcoffset() == timedelta(hours=-7)  # the desk's zone
    assert m["X-Loop"] == "support@desk.example"
    for name in ("Auto-Submitted", "Precedence", "X-Auto-Response-Suppress"):
        assert m[name] is None  # a person's reply is not automatic
    assert text(m) == "Hello Carl,\n\nWe are on it.\n"
    assert out.in_reply_to == "m2@cust.example" and out.references[-1] == "t42.abc@desk.example"


def test_message_id_names_the_ticket_and_cannot_be_guessed():
    a, b = build([msg()]), build([msg()])
    assert a.message_id != b.message_id
    assert a.message_id.startswith("t42.") and a.message_id.endswith("@desk.example")
    assert len(a.message_id.split(".", 1)[1].split("@")[0]) >= 22  # 18 random bytes
    assert parsed(a)["Message-ID"] == f"<{a.message_id}>"  # stored without brackets, as intake stores ids


def test_references_are_capped_keeping_the_root_and_the_newest():
    refs = [f"r{i}@cust.example" for i in range(40)]
    out = build([msg(mid="m1@cust.example", refs=refs)])
    assert len(out.references) == compose.MAX_REFERENCES
    assert out.references[0] == "r0@cust.example" and out.references[-1] == "m1@cust.example"
    assert out.references[-2] == "r39@cust.example"


def test_bad_ids_in_stored_mail_never_reach_a_header():
    out = build([msg(mid="m1@cust.example", refs=["ok@x.example", "no spaces@x", "<inj>\r\nBcc: x@y"])])
    assert out.references == ("ok@x.example", "m1@cust.example")


@pytest.mark.parametrize("subject,expected", [
    ("Printer broken", "Re: [#42] Printer broken"),
    ("Re: RE: Fwd: Printer broken", "Re: [#42] Printer broken"),
    ("AW: [ACME-7] Printer broken", "Re: [#42] [ACME-7] Printer broken"),  # another system's tag stays
    ("Re: [#42] Printer broken", "Re: [#42] Printer broken"),  # ours only once
    ("Printer [#42] broken", "Re: Printer [#42] broken"),
    ("[#7] from elsewhere", "Re: [#42] [#7] from elsewhere"),  # ours first: intake reads the first tag
    ("", "Re: [#42]"),
    ("Evil\r\nBcc: x@y", "Re: [#42] Evil Bcc: x@y"),  # one line, no header injection
])
def test_subject(subject, expected):
    assert compose.reply_subject(subject, 42) == expected


def test_cc_copies_the_customers_cc_but_never_the_desk_or_staff():
    thread = [msg(cc=["dora@cust.example", "support@desk.example", "ann@desk.example", "carl@cust.example",
                      "not an address"])]
    out = build(thread)
    assert out.cc == ("dora@cust.example",)
    assert parsed(out)["Cc"] == "dora@cust.example"
    assert out.recipients == ["carl@cust.example", "dora@cust.example"]
    assert build(thread, cc=False).cc == ()


def test_automatic_mail_carries_the_rfc3834_headers():
    m = parsed(build([msg()], automatic=True))
    assert (m["Auto-Submitted"], m["Precedence"], m["X-Auto-Response-Suppress"]) == (
        "auto-replied", "auto_reply", "All")


def test_no_address_or_empty_body_is_refused():
    with pytest.raises(compose.ComposeError, match="empty"):
        build([msg()], body=" \n\t\n")
    with pytest.raises(compose.ComposeError, match="no address"):
        build([msg()], to_addr="")


def test_body_keeps_the_signature_separator_and_drops_controls():
    out = build([msg()], body="Hi\x1b[31m there  \r\n\r\n-- \r\nAnn\x07\r\n")
    assert out.body == "Hi there\n\n-- \nAnn"
    assert compose.with_signature("Hi", "Ann\nDesk") == "Hi\n\n-- \nAnn\nDesk"
    assert compose.with_signature("Hi\n\n-- \nAnn\nDesk", "Ann\nDesk") == "Hi\n\n-- \nAnn\nDesk"  # not twice


def test_non_ascii_names_and_text_are_encoded_for_any_server():
    out = build([msg()], to_name="José Müller", body="Grüße aus Phoenix\n")
    head = out.raw.split(b"\r\n\r\n", 1)[0]
    assert head.isascii() and b"quoted-printable" in head
    m = parsed(out)
    assert str(m["To"]) == "José Müller <carl@cust.example>" and text(m) == "Grüße aus Phoenix\n"


def test_draft_quotes_the_last_message_and_ends_with_the_signature():
    last = msg(body="Line one\n\nLine two\x1b]0;title\x07")
    d = compose.draft_body(last, "Ann\nExample Support", TZ)
    assert d.startswith("On Tue 03 Nov 2026 08:30, Carl <carl@cust.example> wrote:\n> Line one\n>\n> Line two\n")
    assert d.endswith("\n\n-- \nAnn\nExample Support\n")
    long = compose.draft_body(msg(body="x\n" * 500), None, TZ)
    assert long.count("\n> x") == compose.MAX_QUOTE_LINES and "> [...]" in long


def test_wire_data_stuffs_dots_and_ends_with_the_terminator():
    assert wire_data(b"a\n.b\r\n..c\rd") == b"a\r\n..b\r\n...c\r\nd\r\n.\r\n"
    assert wire_data(b"x\r\n") == b"x\r\n.\r\n"


# --- templates ------------------------------------------------------------------------------------

TICKET = {"id": 42, "subject": "Call me\x1b[2J", "class": "II", "due_at": "2026-11-03T23:30:00Z",
          "requester_name": "Carl", "requester": "carl@cust.example"}


def test_the_shipped_templates_fill_in_every_variable():
    assert {"receipt", "details"} <= set(templates.names(None))
    values = templates.values(TICKET, "Example Support", TZ)
    assert values["due"] == "Tue 03 Nov 2026 16:30 MST" and values["subject"] == "Call me"
    receipt = templates.render(templates.load(None, "receipt"), values)
    assert "request #42 (Class II)" in receipt and "by Tue 03 Nov 2026 16:30 MST" in receipt
    details = templates.render(templates.load(None, "details"), values)
    assert "describe the problem" in details and "{" not in details


def test_a_templates_directory_adds_and_replaces(tmp_path):
    (tmp_path / "receipt.txt").write_text("Got #{ticket}, {{literally}}.\n")
    (tmp_path / "thanks.txt").write_text("Thanks {requester_name}, {agent_name}\n")
    assert templates.names(tmp_path) == ["details", "need-more-time", "receipt", "resolved", "thanks",
                                         "working-on-it"]
    values = templates.values(TICKET, "Ann", TZ)
    assert templates.render(templates.load(tmp_path, "receipt"), values) == "Got #42, {literally}.\n"
    assert templates.render(templates.load(tmp_path, "thanks"), values) == "Thanks Carl, Ann\n"


def test_template_errors_name_the_problem(tmp_path):
    (tmp_path / "bad.txt").write_text("Hi\nYour {ticket_id}\n")
    with pytest.raises(templates.TemplateError, match=r"bad .*line 2: unknown variable \{ticket_id\}"):
        templates.load(tmp_path, "bad")
    with pytest.raises(templates.TemplateError, match=r"no template named 'recept' \(did you mean receipt\?\)"):
        templates.load(tmp_path, "recept")
    with pytest.raises(templates.TemplateError, match="no template named '../etc/passwd'"):
        templates.load(tmp_path, "../etc/passwd")
    (tmp_path / "bin.txt").write_bytes(b"\xff\xfe")
    with pytest.raises(templates.TemplateError, match="not UTF-8"):
        templates.load(tmp_path, "bin")


# --- receipts -------------------------------------------------------------------------------------

def machine(head: str, sender: str = "carl@cust.example") -> str | None:
    """Why intake's analysis takes this mail for machine-made (what keeps receipts away from it)."""
    from console.config import Routing
    from console.intake.analysis import analyze

    raw = f"From: {sender}\r\nTo: support@desk.example\r\nSubject: x\r\n{head}\r\n\r\nbody\r\n".encode()
    return analyze(raw, Routing(support=("support@desk.example",)), 1 << 20).machine


@pytest.mark.parametrize("head,sender,why", [
    ("Auto-Submitted: auto-generated", "carl@cust.example", "Auto-Submitted: auto-generated"),
    ("Auto-Submitted: auto-replied (vacation)", "carl@cust.example", "Auto-Submitted: auto-replied"),
    ("Precedence: bulk", "carl@cust.example", "Precedence: bulk"),
    ("Precedence: list", "carl@cust.example", "Precedence: list"),
    ("Precedence: junk", "carl@cust.example", "Precedence: junk"),
    ("List-Id: <users.lists.example>", "carl@cust.example", "List-Id"),
    ("Return-Path: < >", "carl@cust.example", "empty Return-Path"),
    ("X-Mailer: x", "MAILER-DAEMON@cust.example", "sender mailer-daemon"),
    ("X-Mailer: x", "postmaster@cust.example", "sender postmaster"),
    ("X-Auto-Response-Suppress: DR, AutoReply", "carl@cust.example", "x-auto-response-suppress"),
    ("X-Auto-Response-Suppress: DR, NDR", "carl@cust.example", "x-auto-response-suppress"),
    ("Content-Type: multipart/report; report-type=delivery-status; boundary=b", "carl@cust.example",
     "a delivery status report"),
])
def test_automated_mail_is_recognised(head, sender, why):
    # One judgement with intake's: what intake files as machine mail never gets a receipt either.
    assert machine(head, sender) == why


def test_human_mail_is_not_automated():
    assert machine("Auto-Submitted: no\r\nPrecedence: first-class\r\nReturn-Path: <carl@cust.example>") is None


def test_refusal_rules():
    ok = dict(sender="carl@cust.example", automated_reason=None, own=OWN)
    assert receipts.refusal(**ok) is None
    assert receipts.refusal(**ok | {"automated_reason": "List-Id"}) == "automated mail (List-Id)"
    assert receipts.refusal(**ok | {"sender": "ann@desk.example"}) == "our own address"
    assert receipts.refusal(**ok | {"sender": ""}) == "no sender address"


def test_template_headers_say_what_sending_records(tmp_path):
    assert [templates.load(None, n).contact for n in ("receipt", "details", "working-on-it", "resolved",
                                                      "need-more-time")] == ["none", "details", "reply", "reply",
                                                                             "reply"]
    assert templates.load(None, "receipt").text.startswith("Hello {requester_name},")  # the header is not sent
    (tmp_path / "receipt.txt").write_text("Got #{ticket}.\n")  # a replacement without a header keeps "none"
    (tmp_path / "call.txt").write_text("---\ncontact: none\n---\nWe tried to call you.\n")
    (tmp_path / "bad.txt").write_text("---\ncontact: maybe\n---\nHi\n")
    (tmp_path / "open.txt").write_text("---\ncontact: none\nHi\n")
    assert templates.load(tmp_path, "receipt").contact == "none"
    assert (templates.load(tmp_path, "call").contact, templates.load(tmp_path, "call").text) == \
        ("none", "We tried to call you.\n")
    with pytest.raises(templates.TemplateError, match="bad .*line 2: contact must be one of reply, details, none"):
        templates.load(tmp_path, "bad")
    with pytest.raises(templates.TemplateError, match="not closed"):
        templates.load(tmp_path, "open")


def test_no_shipped_template_signs_itself():
    """The signature is added once, after the template: a template that ended with {agent_name} printed the
    agent's name twice."""
    for name in templates.names(None):
        t = templates.load(None, name)
        assert "{agent_name}" not in t.text.strip().splitlines()[-1], name
