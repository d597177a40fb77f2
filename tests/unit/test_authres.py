"""Authentication-Results (console/replies/authres.py) and the rules that count automatic mail
(console/replies/receipts.py): pure."""
from __future__ import annotations

import pytest

from console.config import RepliesConfig
from console.replies import authres, receipts
from console.replies.guard import header_fields
from tests.hostile import outgoing as hostile

ID = hostile.AUTHSERV


def verdict(raw: bytes, sender: str) -> authres.Verdict:
    return authres.judge(authres.trusted_results(header_fields(raw), ID), sender, ID)


def test_parse_reads_the_id_results_and_properties_without_comments():
    ident, results = authres.parse("MX.Desk.Example 1; spf=pass (sender SPF authorized) smtp.mailfrom=a@Bank.test;\r\n"
                                   " dkim=pass (2048-bit key) header.d=bank.test header.s=s1;\r\n"
                                   ' dmarc=pass (p=reject dis=none) header.from=bank.test reason="ok"')
    assert ident == "mx.desk.example"
    assert [(r.method, r.result) for r in results] == [("spf", "pass"), ("dkim", "pass"), ("dmarc", "pass")]
    assert results[0].props == {"smtp.mailfrom": "a@bank.test"} and results[1].props["header.d"] == "bank.test"
    assert authres.parse("mx.desk.example; none") == ("mx.desk.example", [])


def test_a_dmarc_pass_from_our_mta_makes_the_sender_authentic():
    assert verdict(hostile.authenticated(), "carl@cust.example") == authres.Verdict(True, "dmarc=pass")


def test_the_senders_own_authentication_results_never_count():
    # ours (topmost) says fail; the sender's pass in our MTA's name sits below our Received line
    v = verdict(hostile.forged_authentication_results(), "ceo@bank.test")
    assert not v.ok and v.why == f"dmarc=fail at {ID}"
    # our MTA wrote nothing: the sender's field below the Received line is all there is
    v = verdict(hostile.forged_only_by_sender(), "ceo@bank.test")
    assert not v.ok and v.why == f"no Authentication-Results from {ID} (the sender is not authenticated)"


def test_another_mtas_verdict_does_not_count():
    raw = hostile.authenticated(result="dmarc=pass header.from=cust.example").replace(
        f"Authentication-Results: {ID};".encode(), b"Authentication-Results: mx.elsewhere.example;")
    assert not verdict(raw, "carl@cust.example").ok


@pytest.mark.parametrize("result, ok", [
    ("dmarc=pass header.from=cust.example", True),
    ("dmarc=pass header.from=other.example", False),  # a pass, but for another From domain
    ("dmarc=fail header.from=cust.example; spf=pass smtp.mailfrom=carl@cust.example", False),
    ("dmarc=temperror header.from=cust.example", False),
    ("dmarc=none header.from=cust.example; spf=pass smtp.mailfrom=bounce@mail.cust.example", True),  # aligned
    ("dmarc=none header.from=cust.example; spf=pass smtp.mailfrom=bulk@mailer.example", False),  # not aligned
    ("spf=softfail smtp.mailfrom=cust.example; dkim=pass header.d=cust.example", True),  # no dmarc result
    ("dkim=pass header.d=mailer.example", False),
    ("spf=fail smtp.mailfrom=cust.example", False),
])
def test_dmarc_or_an_aligned_pass_without_a_policy(result, ok):
    assert verdict(hostile.authenticated(result=result), "carl@cust.example").ok is ok


def test_mailboxes_are_counted_without_plus_tags_and_case():
    assert receipts.mailbox_of("VICTIM+7@Bank.test") == receipts.mailbox_of("victim+8@bank.test") == "victim@bank.test"
    assert receipts.mailbox_of("victim@bank.test") != receipts.mailbox_of("victim2@bank.test")


def test_caps_say_which_one_stopped_the_mail():
    def cap(total, domain):
        return receipts.cap_refusal(last_hour=total, last_hour_domain=domain, domain="bank.test", per_hour=30,
                                    per_domain=10)

    assert cap(29, 9) is None
    assert cap(30, 0) == "the desk sent 30 automatic mails in the last hour (replies.automatic_per_hour = 30)"
    assert cap(12, 10) == ("the desk sent 10 automatic mails to bank.test in the last hour "
                           "(replies.automatic_per_domain_per_hour = 10)")


def test_check_warns_that_receipts_can_be_forged_without_a_trusted_id():
    assert receipts.forgery_warning(RepliesConfig()) is None  # no automatic mail: nothing to forge
    warning = receipts.forgery_warning(RepliesConfig(receipt=True))
    assert warning is not None and warning.startswith("replies: WARNING: receipts can be forged")
    assert receipts.forgery_warning(RepliesConfig(receipt=True, trusted_authserv_id=ID)) is None
    assert receipts.check_line(RepliesConfig(details_request=True, trusted_authserv_id=ID)) == (
        f"replies: automatic mail only to senders that pass DMARC at {ID}; at most 30 an hour, 10 to one domain")
    assert receipts.check_line(RepliesConfig(receipt=True)) == warning


def test_the_local_deliverys_received_line_above_does_not_hide_our_verdict():
    """Postfix with OpenDMARC, delivered by Dovecot LMTP on the same host: LMTP's Received is topmost."""
    lmtp = f"Received: from {ID} by {ID} with LMTP id 9; Mon, 2 Nov 2026\r\n".encode()
    assert verdict(lmtp + hostile.authenticated(), "carl@cust.example").ok
    # ... and a sender who adds a Received "with LMTP" line of its own gains nothing
    forged = hostile.forged_only_by_sender().replace(b"From: ceo@", f"Received: by {ID} with LMTP id 1\r\n"
                                                     f"Authentication-Results: {ID}; dmarc=pass\r\nFrom: ceo@".encode())
    assert not verdict(lmtp + forged, "ceo@bank.test").ok
