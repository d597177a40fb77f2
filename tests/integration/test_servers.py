"""Self-tests of the real test servers in tests/servers/ (and their fixtures)."""

from __future__ import annotations

import re
import shutil
import socket
import tempfile
import time
from pathlib import Path

import apprise
import pytest
from imapclient.exceptions import IMAPClientError

from tests.servers import port_accepts
from tests.servers.dovecot import (
    Dovecot,
    _children,
    _pid_alive,
    dovecot_available,
    dovecot_unavailable_reason,
    dovecot_version,
    parse_version,
    render_config,
)
from tests.servers.receivers import HTTPReceiver
import contextlib

integration = pytest.mark.integration


def _mail(i: int, subject: str | None = None) -> bytes:
    subject = subject or f"test {i}"
    return (
        f"From: cust{i}@example.com\r\nTo: desk@example.com\r\nSubject: {subject}\r\n"
        f"Message-ID: <m{i}@example.com>\r\nDate: Mon, 02 Mar 2026 10:00:00 +0000\r\n"
        f"\r\nbody {i}\r\n"
    ).encode()


# --- config template choice (no server needed) --------------------------------

@pytest.mark.parametrize("text,expected", [
    ("2.3.19.1 (9b53102964)", (2, 3)),
    ("2.4.1-4 (7d8c0e5759)", (2, 4)),
    ("2.4.0 (8f7f2d4b1c)", (2, 4)),
])
def test_parse_version(text, expected):
    assert parse_version(text) == expected


def _settings(conf: str) -> list[str]:
    return [ln.strip() for ln in conf.splitlines() if ln.strip() and not ln.strip().startswith("#")]


def test_config_2_3_template(tmp_path):
    conf = render_config((2, 3), tmp_path, 1143)
    lines = _settings(conf)
    assert "mail_location = maildir:~/Maildir" in lines
    assert "disable_plaintext_auth = no" in lines
    assert f"args = scheme=PLAIN username_format=%u {tmp_path}/users" in lines
    assert "address = 127.0.0.1" in lines and "port = 1143" in lines
    assert "dovecot_config_version" not in conf and "mail_driver" not in conf


def test_config_2_4_template(tmp_path):
    conf = render_config((2, 4), tmp_path, 1143)
    lines = _settings(conf)
    assert lines[0] == "dovecot_config_version = 2.4.0"  # must be the first setting
    assert "dovecot_storage_version = 2.4.0" in lines
    assert "mail_driver = maildir" in lines and "mail_path = ~/Maildir" in lines
    assert "auth_allow_cleartext = yes" in lines
    assert "passdb passwd-file {" in lines and "userdb passwd-file {" in lines
    assert lines.count(f"passwd_file_path = {tmp_path}/users") == 2
    assert "auth_username_format = %{user}" in lines
    for gone in ("mail_location", "disable_plaintext_auth", "%u"):
        assert gone not in conf, gone
    for ln in lines:
        assert not ln.startswith(("args =", "driver =", "address =")), ln
    assert "port = 1143" in lines


@pytest.mark.parametrize("version", [(2, 3), (2, 4)])
def test_config_one_setting_per_line(tmp_path, version):
    # Dovecot refuses "section { a = b }" on one line.
    depth = 0
    for ln in _settings(render_config(version, tmp_path, 1)):
        bare = re.sub(r"%\{[a-z_]+\}", "VAR", ln)
        if bare == "}":
            depth -= 1
        elif bare.endswith("{"):
            assert "=" not in bare and bare.count("{") == 1, ln
            depth += 1
        else:
            assert re.fullmatch(r"[a-z_]+ =( [^{}]*)?", bare), ln
        assert depth >= 0
    assert depth == 0


def test_unavailable_reason_when_binary_missing(monkeypatch):
    import tests.servers.dovecot as mod

    monkeypatch.setattr(mod, "_which", lambda name: None)
    assert "dovecot binary not found" in mod.dovecot_unavailable_reason()
    assert not mod.dovecot_available()


def test_config_unsupported_version(tmp_path):
    with pytest.raises(RuntimeError):
        render_config((2, 2), tmp_path, 1)


@pytest.mark.skipif(not dovecot_available(), reason=str(dovecot_unavailable_reason()))
def test_installed_version_uses_matching_template(tmp_path):
    server = Dovecot(tmp_path / "dc")
    server.write_config()
    text = server.conf.read_text()
    if dovecot_version() >= (2, 4):
        assert _settings(text)[0].startswith("dovecot_config_version")
    else:
        assert "mail_location = maildir:~/Maildir" in text


# --- Dovecot ------------------------------------------------------------------

@integration
def test_append_and_fetch_with_peek(dovecot):
    uids = [dovecot.append(_mail(1)), dovecot.append(_mail(2))]
    assert uids == sorted(uids) and len(set(uids)) == 2
    c = dovecot.client()
    try:
        c.select_folder("INBOX", readonly=False)
        found = c.search(["ALL"])
        assert found == uids
        data = c.fetch(found, ["BODY.PEEK[]", "FLAGS"])
        assert data[uids[0]][b"BODY[]"] == _mail(1)
        assert data[uids[1]][b"BODY[]"] == _mail(2)
        flags = c.get_flags(found)
        assert all(b"\\Seen" not in f for f in flags.values())
    finally:
        c.logout()


@integration
def test_append_with_flags_and_folders(dovecot):
    dovecot.create_folder("Archive")
    uid = dovecot.append(_mail(3), folder="Archive", flags=[b"\\Seen"])
    c = dovecot.client()
    try:
        c.select_folder("Archive", readonly=True)
        assert b"\\Seen" in c.get_flags([uid])[uid]
    finally:
        c.logout()
    assert dovecot.uidvalidity("Archive") > 0


@integration
def test_append_many(dovecot):
    dovecot.append_many([_mail(i) for i in range(20)])
    c = dovecot.client()
    try:
        assert c.select_folder("INBOX", readonly=True)[b"EXISTS"] == 20
    finally:
        c.logout()


@integration
def test_kick_drops_idle_client(dovecot):
    c = dovecot.client(timeout=5)
    c.select_folder("INBOX")
    c.idle()
    dovecot.kick()
    # Dovecot sends "* BYE Server shutting down." first; idle_check() returns it
    # (or [] if it raced), and only the next command raises.
    t0 = time.monotonic()
    responses = c.idle_check(timeout=2)
    assert time.monotonic() - t0 < 3
    assert responses == [] or responses[0][0] == b"BYE"
    with pytest.raises((IMAPClientError, OSError)):  # IMAPClientAbortError: socket error: EOF
        c.idle_done()
        c.noop()
    with contextlib.suppress(Exception):
        c.shutdown()
    dovecot.kick()  # nobody connected now: not an error


@integration
def test_idle_reports_append_from_other_client(dovecot):
    c = dovecot.client(timeout=5)
    try:
        c.select_folder("INBOX")
        c.idle()
        dovecot.append(_mail(1))
        responses = c.idle_check(timeout=5)
        c.idle_done()
        assert any(r[1] == b"EXISTS" for r in responses if isinstance(r, tuple) and len(r) > 1)
    finally:
        c.logout()


@integration
def test_set_uidvalidity(dovecot):
    dovecot.append(_mail(1))
    before = dovecot.uidvalidity()
    dovecot.set_uidvalidity(before + 1000)
    assert dovecot.uidvalidity() == before + 1000
    c = dovecot.client()
    try:
        assert c.select_folder("INBOX")[b"UIDVALIDITY"] == before + 1000
    finally:
        c.logout()


@integration
def test_deliver_files_bulk(dovecot):
    raws = [_mail(i) for i in range(200)]
    t0 = time.monotonic()
    dovecot.deliver_files(raws)
    assert time.monotonic() - t0 < 5
    c = dovecot.client()
    try:
        info = c.select_folder("INBOX", readonly=True)
        assert info[b"EXISTS"] == 200
        uids = c.search(["ALL"])
        data = c.fetch(uids, ["BODY.PEEK[HEADER.FIELDS (SUBJECT)]"])
        subjects = {v[b"BODY[HEADER.FIELDS (SUBJECT)]"].strip() for v in data.values()}
        assert subjects == {f"Subject: test {i}".encode() for i in range(200)}
    finally:
        c.logout()
    # files end up owned by the mail user
    assert {p.stat().st_uid for p in (dovecot.maildir / "new").iterdir()} | {
        p.stat().st_uid for p in (dovecot.maildir / "cur").iterdir()} == {65534}


def _dovecot_pids(server: Dovecot) -> set[int]:
    master = int(server.pid_file.read_text().split()[0])
    return {master} | _children(master)


@integration
@pytest.mark.skipif(not dovecot_available(), reason=str(dovecot_unavailable_reason()))
@pytest.mark.parametrize("graceful", [True, False])
def test_stop_leaves_nothing_behind(graceful):
    root = Path(tempfile.mkdtemp(prefix="support-console-dovecot-"))
    server = Dovecot(root)
    try:
        server.start()
        c = server.client()
        c.select_folder("INBOX")
        c.idle()  # an imap process with a live client
        pids = _dovecot_pids(server)
        assert len(pids) >= 3
        t0 = time.monotonic()
        server.stop(graceful=graceful)
        assert time.monotonic() - t0 < (3 if graceful else 1)
        assert not any(_pid_alive(p) for p in pids)
        assert not port_accepts(server.host, server.port)
        server.stop()  # idempotent
    finally:
        server.stop(graceful=False)
        shutil.rmtree(root, ignore_errors=True)


# --- HTTP receiver --------------------------------------------------------------

@integration
def test_http_receiver_gets_apprise_json(http_receiver):
    a = apprise.Apprise()
    assert a.add(http_receiver.url("/pager/desk"))
    assert a.notify("Ticket 42 breaches SLA in 5 min", title="SLA warning", notify_type="warning")
    (rec,) = http_receiver.wait_for(1, timeout=5)
    assert rec.path == "/pager/desk"
    assert rec.body["title"] == "SLA warning"
    assert rec.body["message"] == "Ticket 42 breaches SLA in 5 min"
    assert rec.body["type"] == "warning"
    assert rec.headers["Content-Type"] == "application/json"
    assert rec.headers["User-Agent"] == "Apprise"


@integration
def test_http_receiver_outage_on_same_port(http_receiver):
    port = http_receiver.port
    a = apprise.Apprise()
    a.add(http_receiver.url("/p"))
    assert a.notify("one", title="t")
    http_receiver.stop()
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    assert not a.notify("two", title="t")
    http_receiver.start()
    assert http_receiver.port == port
    assert a.notify("three", title="t")
    recs = http_receiver.wait_for(2, timeout=5)
    assert [r.body["message"] for r in recs] == ["one", "three"]


@integration
def test_http_receiver_status_and_delay(http_receiver):
    a = apprise.Apprise()
    a.add(http_receiver.url("/p") + "?rto=0.5")
    http_receiver.status_code = 500
    assert not a.notify("failing", title="t")
    http_receiver.status_code = 200
    http_receiver.delay = 30  # hung pager: apprise's read timeout fires
    t0 = time.monotonic()
    assert not a.notify("hung", title="t")
    assert time.monotonic() - t0 < 5
    recs = http_receiver.wait_for(2, timeout=1)
    assert [r.body["message"] for r in recs] == ["failing", "hung"]
    assert recs[0].mono <= recs[1].mono
    t0 = time.monotonic()
    http_receiver.stop()  # releases the hung handler at once
    assert time.monotonic() - t0 < 2


def test_http_receiver_wait_for_times_out():
    with HTTPReceiver() as r:
        t0 = time.monotonic()
        with pytest.raises(TimeoutError):
            r.wait_for(1, timeout=0.2)
        assert time.monotonic() - t0 < 1


# --- SMTP sink -------------------------------------------------------------------

@integration
@pytest.mark.parametrize("with_login", [True, False])
def test_smtp_sink_gets_apprise_mailto(smtp_sink, with_login):
    url = smtp_sink.mailto_url(to="ann@example.com", user="desk" if with_login else None)
    assert re.match(r"mailto://(desk:pw@)?127\.0\.0\.1:\d+\?mode=insecure&", url)
    a = apprise.Apprise()
    assert a.add(url)
    assert a.notify("Ticket 42 is overdue", title="Overdue ticket")
    (rec,) = smtp_sink.wait_for(1, timeout=5)
    assert rec.mail_from == "desk@example.com"
    assert rec.rcpt_tos == ["ann@example.com"]
    assert rec.subject == "Overdue ticket"
    assert rec.login == ("desk" if with_login else None)
    assert isinstance(rec.content, bytes)
    body = rec.message.get_body(preferencelist=("plain",)).get_content()
    assert "Ticket 42 is overdue" in body
