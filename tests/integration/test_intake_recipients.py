"""Routing reads every address that counts (issue 21, item 5), against a real Dovecot: urgent@ past the
1,000th address of To or Cc, or in a Delivered-To or X-Original-To past the 500th header field, still makes
the mail Class III; what is stored of the recipients stays bounded."""
from __future__ import annotations

import json

import pytest

from console.intake.parse import MAX_ADDRESSES
from tests.integration.helpers import mail, query, run_cli, write_config

pytestmark = pytest.mark.integration


def test_urgent_past_any_cap_still_routes_to_class_iii(dovecot, tmp_path):
    many = ", ".join(f"person{i}@customer.example" for i in range(1000))
    dovecot.append(mail("to", to=f"{many}, urgent@example.com", subject="urgent last in To",
                        msgid="<to@c.example>"))
    dovecot.append(mail("cc", to="support@example.com", subject="urgent last in Cc", msgid="<cc@c.example>",
                        extra="Cc: " + ", ".join(f"cc{i}@customer.example" for i in range(5000))
                              + ", URGENT@example.com"))
    trace = "\n".join(f"X-Trace-{i}: hop {i}" for i in range(600))
    dovecot.append(mail("dt", to="list@customer.example", subject="urgent in Delivered-To after 600 fields",
                        msgid="<dt@c.example>", extra=f"{trace}\nDelivered-To: urgent@example.com"))
    dovecot.append(mail("xo", to="list@customer.example", subject="urgent in X-Original-To",
                        msgid="<xo@c.example>", extra="X-Original-To: urgent@example.com"))
    dovecot.append(mail("plain", to=many, subject="no desk address", msgid="<plain@c.example>"))
    config = write_config(tmp_path, port=dovecot.port, max_message_size="1MB")
    assert run_cli(config, "poll", "--once").returncode == 0
    db = tmp_path / "support.db"
    classes = dict(query(db, "SELECT subject, class FROM tickets"))
    assert classes == {"urgent last in To": "III", "urgent last in Cc": "III",
                       "urgent in Delivered-To after 600 fields": "III", "urgent in X-Original-To": "III",
                       "no desk address": "I"}, classes
    for (recipients,) in query(db, "SELECT recipients FROM messages"):
        assert len(json.loads(recipients)) <= 2 * MAX_ADDRESSES + 2  # bounded: at most the cap a field
