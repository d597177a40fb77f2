"""Pure parts of issue 23: [[imap]] in the config, the token file's rules, the provider's error line, and a
lost sign-in in health and the supervisors' page."""
from __future__ import annotations

import os
import stat
from datetime import timedelta
from pathlib import Path

import pytest

from console import health
from console.scheduler import intake_pages
from console.config import ConfigError, from_dict
from console.oauth.session import provider_error
from console.oauth.tokens import TokenFileError, TokenStore
from store import heartbeat, outbox, write
from store.times import iso
from tests.factories import T0

@pytest.fixture
def request_cleanup():
    done: list = []
    yield done
    for f in done:
        f()


BASE = {"timezone": "UTC", "routing": {"urgent": ["urgent@example.com"]}}
BOX = {"host": "outlook.office365.com", "username": "support@example.com", "auth": "oauth2",
       "provider": "microsoft", "client_id": "app"}


def test_imap_list_and_single_table_both_load():
    one = from_dict({**BASE, "imap": dict(BOX)})
    assert [m.label for m in one.imaps] == ["support@example.com"] and one.imap == one.imaps[0]
    two = from_dict({**BASE, "imap": [{**BOX, "name": "support"},
                                      {**BOX, "name": "urgent", "username": "urgent@example.com", "class": "III",
                                       "from": "Urgent <urgent@example.com>"}]})
    assert [m.label for m in two.imaps] == ["support", "urgent"] and two.imaps[1].mail_class == "III"
    assert two.imap is two.imaps[0] and two.mailbox("urgent") is two.imaps[1]


@pytest.mark.parametrize("imap, words", [
    ([BOX, {**BOX, "username": "u@example.com"}], "imap[0].name: with several mailboxes each needs a name"),
    ([{**BOX, "name": "a"}, {**BOX, "name": "a", "username": "x@example.com"}], "already another mailbox's name"),
    ([{**BOX, "name": "a"}, {**BOX, "name": "b"}], "is already mailbox 'a'"),
    ({**BOX, "client_id": None}, "imap.client_id"),
    ({k: v for k, v in BOX.items() if k != "provider"}, "imap.provider: auth = \"oauth2\" needs"),
    ({**BOX, "password_env": "X"}, "with auth = \"oauth2\" there is no password"),
    ({**BOX, "provider": "yahoo"}, "imap.provider: must be"),
])
def test_imap_mistakes_name_their_key(imap, words):
    if isinstance(imap, dict):
        imap = {k: v for k, v in imap.items() if v is not None}
    with pytest.raises(ConfigError, match=None) as e:
        from_dict({**BASE, "imap": imap})
    assert words in str(e.value)


def test_token_file_is_0600_written_whole_and_refused_when_others_can_read(tmp_path):
    store = TokenStore.beside(tmp_path / "support.db")
    assert store.path.name == "support.db.tokens" and store.read() == {}
    os.umask(0o022)
    with store.locked():
        store.put("support", {"refresh_token": "r1"})
    assert stat.S_IMODE(store.path.stat().st_mode) == 0o600
    before = store.stamp()
    with store.locked():
        store.put("urgent", {"refresh_token": "r2"})
    assert store.stamp() != before  # a new file renamed into place, never rewritten in place
    assert set(store.read()) == {"support", "urgent"}
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temporary left over
    os.chmod(store.path, 0o640)
    with pytest.raises(TokenFileError, match="chmod 600"):
        store.read()
    os.chmod(store.path, 0o600)
    store.path.write_text("{not json")
    with pytest.raises(TokenFileError, match="damaged"):
        store.read()


def test_provider_error_is_one_line_without_trace_ids():
    said = provider_error({"error": "invalid_grant", "error_description":
                           "AADSTS700082: The refresh token has expired due to inactivity. Trace ID: abc "
                           "Correlation ID: def Timestamp: 2026-12-06\r\nmore"})
    assert said == "invalid_grant: AADSTS700082: The refresh token has expired due to inactivity."


MAILBOX = "support-box/INBOX"


def beat(db, at, last_sync, state, error=None):
    with write(db):
        heartbeat.beat(db, f"intake:{MAILBOX}", at, pid=1, host="h", state=state, ever_connected=True,
                       last_sync_at=iso(last_sync), started_at=iso(T0), last_error=error, waiting=None,
                       label="support")


def test_a_lost_sign_in_is_degraded_and_paged_at_once_then_once_on_recovery(db, cfg):
    lost = ("mailbox support: sign-in lost (invalid_grant: AADSTS50173: revoked); "
            "run: support-console auth login support")
    beat(db, T0 + timedelta(seconds=30), T0, "signed_out", lost)
    h = health.assess_intake(heartbeat.heartbeats(db), T0 + timedelta(seconds=31))
    assert not h.ok and h.state == "signed out" and "support" in h.summary and "auth login support" in h.summary

    def pages(at):
        with write(db):
            intake_pages(db, cfg, at)
        return [(a["step"], a["target"], a["title"]) for a in reversed(outbox.list_alerts(db))]

    first = pages(T0 + timedelta(seconds=31))  # long before intake_stale_after: a lost sign-in does not heal
    assert [(s, t) for s, t, _ in first] == [("intake-stale", "ann")] and first[0][2].endswith("SIGN-IN LOST: support")
    assert pages(T0 + timedelta(minutes=3)) == first  # once
    beat(db, T0 + timedelta(minutes=4), T0 + timedelta(minutes=4), "idle")  # signed in again, synced
    again = pages(T0 + timedelta(minutes=4))
    assert [(s, t) for s, t, _ in again] == [("intake-stale", "ann"), ("intake-recovered", "ann")]
    assert pages(T0 + timedelta(minutes=5)) == again


def test_a_reply_goes_out_from_the_mailbox_its_ticket_came_in_on(tmp_path):
    from console.actions import sync_staff
    from console.intake.pipeline import Incoming, file_messages
    from console.replies.desk import desk_from
    from store import open_db

    box = {"host": "127.0.0.1", "security": "none", "username": "desk", "password_env": "X"}
    cfg = from_dict({**BASE, "store": {"path": str(tmp_path / "s.db")},
                     "staff": [{"handle": "ann", "role": "supervisor", "notify": ["json://127.0.0.1:9/a"]}],
                     "smtp": {"host": "127.0.0.1", "security": "none", "from": "Support <support@example.com>"},
                     "imap": [{**box, "name": "support", "account": "a"},
                              {**box, "name": "urgent", "account": "b", "from": "Urgent <urgent@example.com>"}]})
    sync_staff(cfg)
    db = open_db(cfg.store_path)
    raw = b"From: c@example.org\r\nTo: x@example.com\r\nSubject: s%d\r\nMessage-ID: <m%d@x>\r\n\r\nhi\r\n"
    [one] = file_messages(db, cfg, [Incoming(raw % (1, 1), uid=1)], T0, source="imap", mailbox_key=("a", "INBOX", 1))
    [two] = file_messages(db, cfg, [Incoming(raw % (2, 2), uid=1)], T0, source="imap", mailbox_key=("b", "INBOX", 1))
    [three] = file_messages(db, cfg, [Incoming(raw % (3, 3))], T0)  # by ingest: no mailbox
    assert desk_from(db, cfg, one.ticket_id) == "Support <support@example.com>"
    assert desk_from(db, cfg, two.ticket_id) == "Urgent <urgent@example.com>"
    assert desk_from(db, cfg, three.ticket_id) == "Support <support@example.com>"
    db.close()


def test_root_writes_the_token_file_for_the_pollers_account_and_others_are_refused(request_cleanup):
    if os.geteuid() != 0:
        pytest.skip("needs root to own files as another account")
    import shutil
    import tempfile

    desk = Path(tempfile.mkdtemp(prefix="support-console-tokens-"))  # not tmp_path: its parents are 0700
    os.chmod(desk, 0o755)
    request_cleanup.append(lambda: shutil.rmtree(desk, ignore_errors=True))
    db = desk / "support.db"
    db.write_bytes(b"")
    os.chown(db, 65534, 65534)  # the poller's account owns the database
    store = TokenStore.beside(db)
    with store.locked():  # root, as a supervisor with sudo: the files go to the poller's account
        store.put("support", {"refresh_token": "r1"})
    for p in (store.path, store.lock_path):
        st = p.stat()
        assert (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == (65534, 65534, 0o600)
    os.chown(db, 12345, 12345)  # an account that is neither root nor the database's owner cannot write it
    pid = os.fork()
    if pid == 0:  # the child drops to uid 65534
        code = 1
        try:
            os.setgid(65534)
            os.setuid(65534)
            try:
                with store.locked():
                    store.put("support", None)
            except TokenFileError as exc:
                code = 0 if "must belong to the account that runs the poller" in str(exc) else 2
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert store.read() == {"support": {"refresh_token": "r1"}}
