"""XOAUTH2 end to end with real parts: a local identity provider over HTTPS (msal against it, as against
Entra), a Dovecot 2.3 whose oauth2 passdb asks that provider's introspection endpoint, and the token file.

Scenarios of issue 23: sign in, poll, rotate (the new refresh token on disk before its next use), an
access token expiring while intake IDLEs (a fresh login, no mail lost), a revoked sign-in (that mailbox
stops with one line; status degraded naming it) and its restoration.
"""
from __future__ import annotations

import json
import os
import shutil
import stat
import tempfile
import threading
import time
from pathlib import Path

import pytest

from console import oauth
from console.clock import SystemClock
from console.config import load
from console.intake import watch
from console.oauth import login as oauth_login
from console.oauth.providers import resolve
from console.oauth.tokens import TokenStore, token_path
from tests.integration.helpers import cli_env, run_cli, write_config
from tests.servers.dovecot import Dovecot, dovecot_unavailable_reason
from tests.servers.idp import IdentityProvider

SCOPE = "https://mail.example.com/imap"


@pytest.fixture
def idp(tmp_path, monkeypatch):
    server = IdentityProvider(tmp_path / "ca").start()
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(server.certs.ca))  # msal's requests trusts the test CA
    yield server
    server.stop()


@pytest.fixture
def xdovecot(request, idp):
    reason = dovecot_unavailable_reason()
    if reason:
        pytest.skip(reason)
    root = Path(tempfile.mkdtemp(prefix="support-console-dovecot-"))
    server = Dovecot(root, introspection_url=idp.introspection_url)

    def finish():
        try:
            server.stop(graceful=False)
        finally:
            shutil.rmtree(root, ignore_errors=True)

    request.addfinalizer(finish)
    server.start()
    return server


def oauth_config(tmp_path: Path, dovecot: Dovecot, idp: IdentityProvider, **kw) -> Path:
    extra = (f'auth = "oauth2"\nclient_id = "desk-app"\nauthority = "{idp.base}"\nscopes = ["{SCOPE}"]\n'
             'name = "support"\n')
    path = write_config(tmp_path, port=dovecot.port, imap_extra=extra, **kw)
    path.write_text(path.read_text().replace('password_env = "SC_TEST_IMAP_PASSWORD"\n', ""))
    return path


def sign_in(cfg_path: Path) -> str:
    cfg = load(cfg_path)
    m = cfg.imaps[0]
    provider = resolve(m.provider, m.client_id, m.authority, m.token_url, m.scopes)
    said: list[str] = []
    who = oauth_login.login(TokenStore.beside(cfg.store_path), m.label, provider, m.username, say=said.append)
    assert said and "ABCD-EFGH" in said[0]  # the device code was shown
    return who


def mail(n: int) -> bytes:
    return (f"From: c{n}@example.org\r\nTo: support@example.com\r\nSubject: oauth {n}\r\n"
            f"Message-ID: <oauth-{n}-{time.time_ns()}@example.org>\r\n\r\nbody {n}\r\n").encode()


def ticket_subjects(db_path: Path) -> set[str]:
    import sqlite3

    with sqlite3.connect(db_path) as db:
        return {r[0] for r in db.execute("SELECT subject FROM tickets")}


def wait(cond, timeout: float = 20.0) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return
        time.sleep(0.05)
    raise AssertionError("timed out")


def refresh_token_on_disk(store_path: Path) -> str:
    entry = json.loads(token_path(store_path).read_text())["mailboxes"]["support"]
    rts = json.loads(entry["msal_cache"])["RefreshToken"]
    (rt,) = [v["secret"] for v in rts.values()]
    return rt


def test_sign_in_then_poll_over_xoauth2(tmp_path, idp, xdovecot):
    conf = oauth_config(tmp_path, xdovecot, idp)
    assert sign_in(conf) == "ann@example.com"
    tokens = token_path(load(conf).store_path)
    assert stat.S_IMODE(tokens.stat().st_mode) == 0o600
    xdovecot.append(mail(1))
    env = cli_env(password=None, REQUESTS_CA_BUNDLE=str(idp.certs.ca))
    r = run_cli(conf, "poll", "--once", env=env)
    assert r.returncode == 0, r.stderr
    assert ticket_subjects(load(conf).store_path) == {"oauth 1"}
    assert idp.introspections >= 1  # Dovecot asked about the token: a real XOAUTH2 login
    out = r.stdout + r.stderr
    secret = json.loads(tokens.read_text())
    assert "ATOK" not in out and "RTOK" not in out and secret  # no token in any output
    # auth status: who, when the access token expires, whether refresh works; never a token
    st = run_cli(conf, "auth", "status", "--json", env=env)
    assert st.returncode == 0, st.stderr
    (row,) = json.loads(st.stdout)
    assert row["mailbox"] == "support" and row["account"] == "ann@example.com" and row["refresh"] == "ok"
    assert row["access_token_expires_at"] and "ATOK" not in st.stdout and "RTOK" not in st.stdout


def test_a_rotated_refresh_token_is_on_disk_before_its_next_use(tmp_path, idp, xdovecot):
    idp.expires_in = 301  # msal refreshes a token with under five minutes left: every use refreshes
    conf = oauth_config(tmp_path, xdovecot, idp)
    sign_in(conf)
    store_path = load(conf).store_path
    first = refresh_token_on_disk(store_path)
    time.sleep(1.1)  # the provider's clock: the token now has under 300 s left
    cfg = load(conf)
    cred = oauth.credential(cfg.store_path, "support", cfg.imaps[0])
    cred.access_token()
    second = refresh_token_on_disk(store_path)
    assert second != first and idp.refreshes == 1
    # A new process (nothing in memory) uses what is on disk: the spent token would get invalid_grant.
    time.sleep(1.1)
    oauth.credential(cfg.store_path, "support", cfg.imaps[0]).access_token()
    assert idp.refreshes == 2 and idp.refused == [] and refresh_token_on_disk(store_path) not in (first, second)


def test_token_file_readable_by_others_is_refused(tmp_path, idp, xdovecot):
    conf = oauth_config(tmp_path, xdovecot, idp)
    sign_in(conf)
    cfg = load(conf)
    os.chmod(token_path(cfg.store_path), 0o644)
    r = run_cli(conf, "auth", "status", env=cli_env(password=None, REQUESTS_CA_BUNDLE=str(idp.certs.ca)))
    assert r.returncode != 0 and "chmod 600" in r.stderr and "Traceback" not in r.stderr


def test_access_token_expiring_during_idle_logs_in_again_and_loses_no_mail(tmp_path, idp, xdovecot):
    idp.expires_in = 302
    conf = oauth_config(tmp_path, xdovecot, idp)
    sign_in(conf)
    cfg = load(conf)
    stop = threading.Event()
    intake = watch.Intake(cfg, SystemClock(), stop, liveness_seconds=1.0, mailbox=cfg.imaps[0])
    t = threading.Thread(target=intake.run, daemon=True)
    t.start()
    try:
        wait(lambda: intake.status["state"] == "idle")
        logins = idp.introspections
        xdovecot.append(mail(1))
        wait(lambda: "oauth 1" in ticket_subjects(cfg.store_path))
        # The token runs out: the provider forgets it, intake refreshes and logs in again before IDLE resumes.
        wait(lambda: idp.refreshes >= 1 and idp.introspections > logins)
        idp.expire_access_tokens()
        xdovecot.append(mail(2))
        wait(lambda: "oauth 2" in ticket_subjects(cfg.store_path))
        assert idp.refused == []
    finally:
        stop.set()
        t.join(10)


def test_revoked_sign_in_stops_that_mailbox_with_one_line_and_recovers(tmp_path, idp, xdovecot):
    idp.expires_in = 301
    conf = oauth_config(tmp_path, xdovecot, idp)
    sign_in(conf)
    cfg = load(conf)
    idp.revoke()
    time.sleep(1.1)
    stop = threading.Event()
    intake = watch.Intake(cfg, SystemClock(), stop, liveness_seconds=1.0, mailbox=cfg.imaps[0])
    t = threading.Thread(target=intake.run, daemon=True)
    t.start()
    try:
        wait(lambda: intake.status["state"] == "signed_out")
        err = intake.status["last_error"]
        assert "AADSTS50173" in err and "support-console auth login support" in err and "RTOK" not in err
        st = run_cli(conf, "status", env=cli_env(password=None))
        assert st.returncode == 1 and "support" in st.stdout and "signed out" in st.stdout.lower()
        # A supervisor signs in again: intake sees the token file change and files mail again.
        idp.restore()
        sign_in(conf)
        xdovecot.append(mail(3))
        wait(lambda: "oauth 3" in ticket_subjects(cfg.store_path), timeout=30)
        wait(lambda: intake.status["state"] == "idle")  # watching again (it logs in afresh every second here)
    finally:
        stop.set()
        t.join(10)


def test_check_logs_in_to_imap_and_smtp_with_one_sign_in(tmp_path, idp, xdovecot):
    from tests.servers.receivers import SMTPSink

    sink = SMTPSink()
    sink.token_check = lambda user, token: user == "desk" and idp.introspect(token).get("active") is True
    sink.start()
    try:
        conf = oauth_config(tmp_path, xdovecot, idp)
        conf.write_text(conf.read_text() + f"""
[smtp]
host = "127.0.0.1"
port = {sink.port}
security = "none"
username = "desk"
from = "Support <support@example.com>"
auth = "oauth2"
client_id = "desk-app"
authority = "{idp.base}"
scopes = ["{SCOPE}"]
""")
        sign_in(conf)  # one sign-in: the mailbox's; [smtp] has the same account and app, so it shares it
        r = run_cli(conf, "check", env=cli_env(password=None, REQUESTS_CA_BUNDLE=str(idp.certs.ca)))
        lines = r.stdout.splitlines()
        assert any(x.startswith("imap: ok (") and "XOAUTH2" in x for x in lines), r.stdout
        assert any(x.startswith("smtp: ok (") and "AUTH XOAUTH2 as desk" in x for x in lines), r.stdout
        assert sink.logins == [("desk", True)]
        assert "ATOK" not in r.stdout + r.stderr and "RTOK" not in r.stdout + r.stderr
    finally:
        sink.stop()


def test_revoked_mailbox_is_paged_once_while_the_other_files_and_once_on_recovery(
        tmp_path, idp, xdovecot, dovecot, http_receiver, pollers):
    from tests.integration import alerts_helpers as h
    from tests.integration.helpers import wait_until

    idp.expires_in = 301  # every (re)connect refreshes: a revoked grant is noticed at the next one
    db = tmp_path / "support.db"
    data = h.config_dict(db, notify={x: [http_receiver.url(f"/{x}")] for x in h.HANDLES}, dovecot=dovecot)
    plain = data.pop("imap")
    data["imap"] = [
        {**plain, "name": "support", "account": "support-box", "port": xdovecot.port, "auth": "oauth2",
         "client_id": "desk-app", "authority": idp.base, "scopes": [SCOPE], "password_env": None},
        {**plain, "name": "urgent", "account": "urgent-box"},
    ]
    del data["imap"][0]["password_env"]
    conf = tmp_path / "config.toml"
    conf.write_text(h.to_toml(data))
    sign_in(conf)
    env = cli_env(REQUESTS_CA_BUNDLE=str(idp.certs.ca))
    p = pollers.start(conf, env=env)
    wait_until(lambda: p.log().count("watching") >= 2, 20, "both mailboxes watched")

    idp.revoke()  # a password change: the refresh token is dead
    xdovecot.kick()  # the connection drops; the reconnect needs a fresh token
    wait_until(lambda: any(h.path_of(r) == "ann" for r in http_receiver.records), 20, "the supervisor paged")
    [page] = [r for r in http_receiver.records if h.path_of(r) == "ann"]
    assert "SIGN-IN LOST: support" in page.body["title"] and "auth login support" in page.body["message"]
    assert p.log().count("sign-in lost") == 1  # one line, not one per retry
    assert "RTOK" not in p.log() and "ATOK" not in p.log()
    st = run_cli(conf, "status", env=env)
    assert st.returncode == 1 and "intake support: SIGNED OUT" in st.stdout

    dovecot.append(h.mail(1, subject="urgent while support is signed out"))  # the other mailbox files and pages
    wait_until(lambda: {h.path_of(r) for r in http_receiver.records} >= {h.PRIMARY, h.SECONDARY}, 15,
               "the other mailbox's Class III paged")

    idp.restore()
    sign_in(conf)  # a supervisor signs in again; the poller sees the token file change
    xdovecot.append(mail(7))
    wait_until(lambda: "oauth 7" in ticket_subjects(db), 30, "the mailbox filing again")
    wait_until(lambda: sum(h.path_of(r) == "ann" for r in http_receiver.records) == 2, 20, "the recovery page")
    titles = [r.body["title"] for r in http_receiver.records if h.path_of(r) == "ann"]
    assert titles[1].endswith("intake recovered: support") and len(titles) == 2


def test_auth_login_and_logout_on_the_command_line_are_a_supervisors(tmp_path, idp, xdovecot):
    conf = oauth_config(tmp_path, xdovecot, idp)
    env = cli_env(password=None, REQUESTS_CA_BUNDLE=str(idp.certs.ca))
    refused = run_cli(conf, "auth", "login", actor="bob", env=env)
    assert refused.returncode == 77 and "only a supervisor" in refused.stderr
    assert not token_path(load(conf).store_path).exists()
    r = run_cli(conf, "auth", "login", "support", actor="ann", env=env)
    assert r.returncode == 0, r.stderr
    assert "ABCD-EFGH" in r.stdout and "support: signed in as ann@example.com" in r.stdout
    assert "ATOK" not in r.stdout + r.stderr and "RTOK" not in r.stdout + r.stderr
    st = run_cli(conf, "auth", "status", env=env)
    assert st.returncode == 0 and st.stdout.startswith("support: signed in as ann@example.com, access token until ")
    assert st.stdout.rstrip().endswith("refresh ok")
    out = run_cli(conf, "auth", "logout", "support", actor="ann", env=env)
    assert out.returncode == 0 and "signed out" in out.stdout
    st = run_cli(conf, "auth", "status", "--json", env=env)
    assert st.returncode == 1 and json.loads(st.stdout)[0]["refresh"].startswith("lost: not signed in")
    assert "support-console auth login" in st.stderr


def test_a_token_url_provider_refreshes_rotates_and_reports_a_lost_grant(tmp_path, idp):
    from console.oauth.session import Credential, SignInLost

    store = TokenStore.beside(tmp_path / "support.db")
    issued = idp.token({"grant_type": "urn:ietf:params:oauth:grant-type:device_code", "client_id": "app"})[1]
    with store.locked():  # as a sign-in elsewhere would leave it: a refresh token, no access token yet
        store.put("support", {"refresh_token": issued["refresh_token"], "account": "ann@example.com"})
    cred = Credential(store, "support", resolve(None, "app", None, f"{idp.base}/token", (SCOPE,)))
    token = cred.access_token()
    entry = store.entry("support")
    assert entry["access_token"] == token and entry["refresh_token"] != issued["refresh_token"]  # rotated, saved
    assert cred.access_token() == token and idp.refreshes == 1  # still fresh: not asked again
    idp.revoke()
    with store.locked():
        store.put("support", {**store.entry("support"), "expires_at": 0})
    with pytest.raises(SignInLost, match="AADSTS50173"):
        cred.access_token()
    assert "AADSTS50173" in store.entry("support")["lost"]
    refreshes = idp.refreshes
    with pytest.raises(SignInLost):  # remembered: the provider is not asked again until someone signs in
        cred.access_token()
    assert idp.refreshes == refreshes and len(idp.refused) == 1


def test_google_style_sign_in_loopback_redirect_with_pkce_then_refresh(tmp_path, idp, monkeypatch):
    """The installed-app flow as Gmail needs it (google-auth-oauthlib), against the local provider: the
    browser (the only stand-in here) follows the consent page's redirect to the one-shot loopback listener;
    the provider checks the PKCE verifier and the client secret before it gives tokens."""
    import webbrowser

    import requests

    from console.oauth.providers import Provider
    from console.oauth.session import Credential

    opened: list[str] = []

    class Browser:
        def open(self, url: str, new: int = 0, autoraise: bool = True) -> bool:
            opened.append(url)
            threading.Thread(target=lambda: requests.get(url, timeout=10), daemon=True).start()
            return True

    monkeypatch.setattr(webbrowser, "get", lambda using=None: Browser())
    provider = Provider("google", "desk-app", ("https://mail.google.com/",), token_url=f"{idp.base}/token",
                        auth_uri=f"{idp.base}/authorize")
    store = TokenStore.beside(tmp_path / "support.db")
    said: list[str] = []
    oauth_login.login(store, "gmail", provider, "support@example.com", say=said.append, client_secret="not-secret")
    assert idp.pkce_logins == 1 and "code_challenge=" in opened[0] and "code_challenge_method=S256" in opened[0]
    assert "redirect_uri=http%3A%2F%2F127.0.0.1%3A" in opened[0]  # the loopback listener
    entry = store.entry("gmail")
    assert entry["kind"] == "google" and entry["refresh_token"].startswith("RTOK")
    with store.locked():
        store.put("gmail", {**entry, "expires_at": 0})  # due: the next use refreshes, with the client secret
    token = Credential(store, "gmail", provider, client_secret="not-secret").access_token()
    assert token != entry["access_token"] and idp.refreshes == 1
