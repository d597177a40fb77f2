"""The CLI around intake: clear one-line errors, `ingest` exit codes, SIGTERM, and no leaked credentials."""
from __future__ import annotations

import sqlite3
import time

import pytest

from tests.integration.helpers import (
    PASSWORD_ENV, cli_env, count, mail, run_cli, scalar, stored_raw, wait_until, write_config,
)
from tests.servers import free_port

pytestmark = pytest.mark.integration

EX_TEMPFAIL, EX_CONFIG = 75, 78


def _one_clean_line(r) -> str:
    """The error output is exactly one line, without a traceback; returns it."""
    assert "Traceback" not in r.stderr and "Traceback" not in r.stdout, r.stderr
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, r.stderr
    return lines[0]


# --- configuration errors name the key ---------------------------------------------------------

@pytest.mark.parametrize("kwargs,key", [
    ({"port_literal": '"abc"'}, "imap.port"),
    ({"port_literal": "70000"}, "imap.port"),
    ({"security": "ssl"}, "imap.security"),
    ({"max_message_size": "lots"}, "imap.max_message_size"),
    ({"imap_extra": "batch_size = 0"}, "imap.batch_size"),
    ({"top_extra": "colour = 1"}, "colour"),
])
@pytest.mark.parametrize("command", [("poll", "--once"), ("poll",), ("check",)])
def test_bad_config_names_the_key(tmp_path, kwargs, key, command):
    cfg = write_config(tmp_path, port=143, **kwargs)
    r = run_cli(cfg, *command, timeout=30)
    assert r.returncode == EX_CONFIG
    line = _one_clean_line(r)
    assert line.startswith("support-console: config error: ") and key in line, line


def test_missing_config_file(tmp_path):
    missing = tmp_path / "nope" / "config.toml"
    r = run_cli(missing, "poll", "--once")
    assert r.returncode == EX_CONFIG
    line = _one_clean_line(r)
    assert "config file not found" in line and str(missing) in line


# --- connection and login problems: one clear line, no secrets ---------------------------------

WRONG_PASSWORD = "Wr0ng-Pa55-4b9e1c"


@pytest.mark.parametrize("command", [("poll", "--once"), ("poll",)])
def test_wrong_password_is_one_line_without_the_password(dovecot, tmp_path, command):
    cfg = write_config(tmp_path, port=dovecot.port)
    r = run_cli(cfg, *command, env=cli_env(password=WRONG_PASSWORD), timeout=60)
    assert r.returncode != 0
    line = _one_clean_line(r)
    assert "login failed" in line and "'desk'" in line, line
    assert WRONG_PASSWORD not in r.stdout + r.stderr


def test_check_reports_login_failure_without_the_password(dovecot, tmp_path):
    cfg = write_config(tmp_path, port=dovecot.port)
    r = run_cli(cfg, "check", env=cli_env(password=WRONG_PASSWORD))
    assert r.returncode != 0
    assert "imap: FAILED" in r.stdout and "login failed" in r.stdout
    assert "Traceback" not in r.stdout + r.stderr
    assert WRONG_PASSWORD not in r.stdout + r.stderr
    ok = run_cli(cfg, "check")
    assert "imap: ok" in ok.stdout, ok.stdout + ok.stderr


def test_password_env_not_set(dovecot, tmp_path):
    cfg = write_config(tmp_path, port=dovecot.port)
    r = run_cli(cfg, "poll", "--once", env=cli_env(password=None))
    assert r.returncode != 0
    line = _one_clean_line(r)
    assert PASSWORD_ENV in line and "not set" in line


def test_closed_port_is_connection_refused(tmp_path):
    port = free_port()  # nothing listens here
    cfg = write_config(tmp_path, port=port)
    r = run_cli(cfg, "poll", "--once")
    assert r.returncode != 0
    line = _one_clean_line(r)
    assert "connection refused" in line and f"127.0.0.1:{port}" in line, line


@pytest.mark.parametrize("folder,expect", [
    ("Nowhere", "does not exist"),
    ("Support/Nowhere", "cannot select"),  # Dovecot's Maildir++ separator is "."; "/" is an invalid name
])
def test_missing_or_invalid_folder(dovecot, tmp_path, folder, expect):
    cfg = write_config(tmp_path, port=dovecot.port, folder=folder)
    # The long-running poller must stop too: retrying cannot create the folder.
    for command in (("poll", "--once"), ("poll",), ):
        r = run_cli(cfg, *command, timeout=60)
        assert r.returncode != 0
        line = _one_clean_line(r)
        assert "imap.folder" in line and repr(folder) in line and expect in line, line
        assert "secs)" not in line  # Dovecot's timing suffix is noise for an operator


def test_other_folder_is_watched(dovecot, tmp_path):
    dovecot.create_folder("Support")
    dovecot.append(mail("inbox"))
    dovecot.append(mail("support"), folder="Support")
    cfg = write_config(tmp_path, port=dovecot.port, folder="Support")
    assert run_cli(cfg, "poll", "--once").returncode == 0
    db = tmp_path / "support.db"
    assert count(db, "messages") == 1
    assert scalar(db, "SELECT folder FROM message_sources") == "Support"


# --- ingest (MTA pipe) ------------------------------------------------------------------------

def test_ingest_stored_then_duplicate(tmp_path):
    cfg = write_config(tmp_path, port=143)
    raw = mail("piped", msgid="<piped@x.example>")
    r = run_cli(cfg, "ingest", input=raw)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("new (ticket #1)")
    r = run_cli(cfg, "ingest", input=raw)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("duplicate")
    db = tmp_path / "support.db"
    assert count(db, "messages") == 1 and count(db, "tickets") == 1
    assert scalar(db, "SELECT source FROM messages") == "ingest"
    assert stored_raw(db) == raw


def test_ingest_unparseable_is_stored_and_flagged(tmp_path):
    cfg = write_config(tmp_path, port=143)
    raw = b"\x00\x01 not mail \xff\r\n"
    r = run_cli(cfg, "ingest", input=raw)
    assert r.returncode == 0, r.stderr
    db = tmp_path / "support.db"
    assert stored_raw(db) == raw
    assert scalar(db, "SELECT quarantined FROM tickets") == 1


def test_ingest_db_directory_missing_is_tempfail(tmp_path):
    cfg = write_config(tmp_path, port=143, store=tmp_path / "no-such-dir" / "support.db")
    r = run_cli(cfg, "ingest", input=mail(1))
    assert r.returncode == EX_TEMPFAIL
    line = _one_clean_line(r)
    assert "no-such-dir" in line


def test_ingest_bad_config_is_tempfail(tmp_path):
    # An MTA must keep the mail and retry while an operator fixes the config.
    cfg = write_config(tmp_path, port=143, port_literal='"abc"')
    r = run_cli(cfg, "ingest", input=mail(1))
    assert r.returncode == EX_TEMPFAIL
    assert "imap.port" in _one_clean_line(r)


def test_ingest_db_locked_is_tempfail(tmp_path):
    cfg = write_config(tmp_path, port=143)
    db = tmp_path / "support.db"
    assert run_cli(cfg, "ingest", input=mail(1)).returncode == 0  # creates the schema
    holder = sqlite3.connect(db, timeout=0, isolation_level=None)
    try:
        holder.execute("BEGIN EXCLUSIVE")
        t0 = time.monotonic()
        r = run_cli(cfg, "ingest", input=mail(2), timeout=120)
        elapsed = time.monotonic() - t0
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert r.returncode == EX_TEMPFAIL, (r.returncode, r.stderr)
    line = _one_clean_line(r)
    assert "retry" in line or "locked" in line or "busy" in line, line
    # store.db.BUSY_TIMEOUT_S (15 s) is waited out before giving up: an MTA pipe can afford that.
    assert elapsed < 60
    assert count(db, "messages") == 1
    # Once the lock is gone the same message goes in.
    assert run_cli(cfg, "ingest", input=mail(2)).returncode == 0
    assert count(db, "messages") == 2


def test_ingest_empty_stdin(tmp_path):
    cfg = write_config(tmp_path, port=143)
    r = run_cli(cfg, "ingest", input=b"")
    assert r.returncode == 65  # EX_DATAERR: permanent, the MTA should not retry
    assert "no message" in _one_clean_line(r)


# --- signals ----------------------------------------------------------------------------------

def test_sigterm_stops_poll_cleanly(dovecot, tmp_path, pollers):
    cfg = write_config(tmp_path, port=dovecot.port)
    db = tmp_path / "support.db"
    p = pollers.start(cfg)
    # Mail already there at the first sync is the mailbox's history, summed up in a page (first_sync.py):
    # this one arrives after the (empty) first sync is over, so nothing is left to send when it stops.
    wait_until(lambda: scalar(db, "SELECT count(*) FROM first_syncs WHERE summarised_at IS NOT NULL") == 1, 30,
               "the first sync to end", alive=p.alive)
    dovecot.append(mail(1))
    wait_until(lambda: count(db, "messages") == 1, 30, "the poller to take in mail", alive=p.alive)
    t0 = time.monotonic()
    rc = p.stop(timeout=10)
    elapsed = time.monotonic() - t0
    assert rc == 0, p.log()[-2000:]
    assert elapsed < 5, elapsed
    assert "Traceback" not in p.log()
    assert "stopped by SIGTERM: no pages or mail waiting" in p.log()
    # The lock is released: a new poller can run at once.
    assert run_cli(cfg, "poll", "--once").returncode == 0


# --- credentials ------------------------------------------------------------------------------

def test_password_never_stored_or_logged(dovecot, tmp_path, pollers):
    secret = "Cr3d-Canary-7f3e9b2d51"
    # Give the fixture's user a distinctive password (Dovecot re-reads the passwd-file on change).
    users = dovecot.root / "users"
    users.write_text(users.read_text().replace(":{PLAIN}secret:", f":{{PLAIN}}{secret}:"))
    dovecot.password = secret
    dovecot.client().logout()  # the new password works

    cfg = write_config(tmp_path, port=dovecot.port)
    env = cli_env(password=secret)
    dovecot.append_many([mail(i) for i in range(5)])
    r = run_cli(cfg, "poll", "--once", env=env)
    assert r.returncode == 0, r.stderr
    p = pollers.start(cfg, env=env)
    dovecot.append(mail("live"))
    wait_until(lambda: count(p.config.parent / "support.db", "messages") == 6, 30, "live mail", alive=p.alive)
    dovecot.kick()  # a reconnect logs connection details again
    wait_until(lambda: "reconnected" in p.log(), 30, "the reconnect", alive=p.alive)
    assert p.stop() == 0
    outputs = [r.stdout, r.stderr, p.log()]
    for args in (("tickets", "--json"), ("show", "1", "--json"), ("alerts", "--json"), ("check",)):
        o = run_cli(cfg, *args, env=env)
        outputs += [o.stdout, o.stderr]
    for text in outputs:
        assert secret not in text

    files = [f for f in tmp_path.iterdir() if f.name.startswith("support.db")]
    assert files
    for f in files:
        assert secret.encode() not in f.read_bytes(), f


def test_ingests_started_at_once_on_a_new_database_all_store(tmp_path):
    # An MTA delivering one mail per recipient starts several ingests at once; the first ones create the
    # schema. None may fail (each failure is a deferral at best).
    import subprocess

    from tests.integration.helpers import CLI, REPO

    for round_ in range(3):
        d = tmp_path / f"r{round_}"
        d.mkdir()
        cfg = write_config(d, port=143)
        for i in range(4):
            (d / f"{i}.eml").write_bytes(mail(f"{round_}-{i}"))
        inputs = [open(d / f"{i}.eml", "rb") for i in range(4)]  # noqa: SIM115 - all read at once, as from an MTA's queue
        procs = [subprocess.Popen([*CLI, "--config", str(cfg), "ingest"], stdin=f, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, env=cli_env(), cwd=REPO) for f in inputs]
        outs = [p.communicate(timeout=60) for p in procs]
        for f in inputs:
            f.close()
        assert [p.returncode for p in procs] == [0] * 4, [e.decode() for _, e in outs]
        assert count(d / "support.db", "tickets") == 4, [o.decode() for o, _ in outs]
