"""Email pages: staff notify URLs are apprise mailto:// against a real local SMTP sink (aiosmtpd)."""
from __future__ import annotations

import time

import pytest

from tests.integration import alerts_helpers as h
from tests.integration.helpers import query

pytestmark = pytest.mark.integration


def test_email_target_receives_the_page(tmp_path, dovecot, smtp_sink, http_receiver):
    conf = h.write_config(tmp_path, dovecot=dovecot, notify={
        "bob": [smtp_sink.mailto_url(to="bob@example.com")],
        "cy": [smtp_sink.mailto_url(to="cy-pager@example.com"), http_receiver.url("/cy")],
        "ann": [http_receiver.url("/ann")],
    })
    h.cli(conf, "poll", "--once")  # the desk's first sync, of an empty mailbox: what comes after pages
    dovecot.append(h.mail(1, subject="The Internet link is unavailable"))
    h.cli(conf, "poll", "--once")
    msgs = smtp_sink.wait_for(2, timeout=10)
    [t] = h.tickets(tmp_path / "support.db")
    by_rcpt = {tuple(m.rcpt_tos): m for m in msgs}
    assert set(by_rcpt) == {("bob@example.com",), ("cy-pager@example.com",)}
    for m in msgs:
        assert f"#{t['id']}" in m.subject and "Class III" in m.subject
        assert "The Internet link is unavailable" in m.subject
        body = m.message.get_body(preferencelist=("plain", "html")).get_content()
        assert f"support-console ack {t['id']}" in body
    # cy has two services: both got it, once.
    assert [h.path_of(r) for r in http_receiver.wait_for(1, timeout=5)] == ["cy"]
    time.sleep(0.5)
    assert len(smtp_sink.records) == 2 and len(http_receiver.records) == 1

    rows = h.alerts(tmp_path / "support.db")
    assert {(a["target"], a["state"]) for a in rows} == {("bob", "sent"), ("cy", "sent")}
    services = [r["service"] for r in query(tmp_path / "support.db", "SELECT service FROM alert_results", dicts=True)]
    assert len(services) == 3
    mail_services = [s for s in services if s.startswith("mailto://")]
    assert len(mail_services) == 2
    assert all(":pw@" not in s and "pw" not in s.split("@")[0] for s in mail_services)  # no password stored


def test_test_page_to_an_email_target(tmp_path, smtp_sink):
    conf = h.write_config(tmp_path, notify={"ann": [smtp_sink.mailto_url(to="ann@example.com")]})
    r = h.cli(conf, "test-page", "ann", actor="ann")
    assert "ann: sent" in r.stdout and "mailto://" in r.stdout and "SUCCESS" in r.stdout
    [m] = smtp_sink.wait_for(1, timeout=10)
    assert m.rcpt_tos == ["ann@example.com"] and "test page" in m.subject
