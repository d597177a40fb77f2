"""Replication and restore through the CLI (issue 26, items 2 and 3): a real Litestream (`replicate`) to a
file:// replica, `status` with the replica's lag, `restore --from URL` on a standby directory, and
`init --database`. Mail comes in by `ingest` (no IMAP needed here).
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from console import replication
from console.config import load
from console.locks import outbox_lock
from tests.integration.failover_drill import litestream_unavailable
from tests.integration.helpers import CLI, REPO, cli_env, mail, query, run_cli, wait_until

pytestmark = [pytest.mark.integration,
              pytest.mark.skipif(litestream_unavailable() is not None,
                                 reason=f"needs Litestream: {litestream_unavailable()}")]


def desk(d: Path, replica: Path, max_lag: str = "1m") -> Path:
    d.mkdir(parents=True, exist_ok=True)
    conf = d / "config.toml"
    conf.write_text(f"""\
[store]
path = "support.db"

[routing]
support = ["support@example.com"]

[replicate]
url = "file://{replica}"
max_lag = "{max_lag}"

[[staff]]
handle = "ann"
role = "supervisor"
""")
    return conf


def ingest(conf: Path, i: int) -> None:
    run_cli(conf, "ingest", input=mail(i, subject=f"Help {i}", msgid=f"<r{i}@customer.example>"), check=True)


class Replicator:
    def __init__(self, conf: Path):
        self.log = conf.with_name("litestream.log")
        with open(self.log, "ab") as f:
            self.proc = subprocess.Popen([*CLI, "--config", str(conf), "replicate"], stdout=f, stderr=subprocess.STDOUT,
                                         env=cli_env(), cwd=REPO, start_new_session=True)

    def kill(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)


@pytest.fixture
def replicators():
    started: list[Replicator] = []
    yield lambda conf: started.append(Replicator(conf)) or started[-1]
    for r in started:
        r.kill()


def status(conf: Path) -> tuple[int, dict]:
    r = run_cli(conf, "status", "--json")
    return r.returncode, json.loads(r.stdout)


def test_replicate_status_and_restore_on_a_standby(tmp_path, replicators):
    replica = tmp_path / "replica"
    conf = desk(tmp_path / "primary", replica, max_lag="1s")
    ingest(conf, 1)
    rep = replicators(conf)
    wait_until(lambda: any(replica.rglob("*.ltx")), 20, "the first snapshot in the replica")
    assert rep.proc.poll() is None, rep.log.read_text()
    ingest(conf, 2)
    # Ticket 2 is in the replica (what the senders wait for before a page goes out: `litestream sync -wait`):
    # the lag below reads whole seconds, so "0" alone could come a moment before the replica has it.
    assert replication.barrier(load(conf)) is None
    wait_until(lambda: status(conf)[1]["replica"]["lag_seconds"] == 0, 20, "the replica to catch up")
    _, data = status(conf)
    assert data["replica"]["ok"] is True and "up to date" in data["replica"]["summary"]

    # Litestream dies; the database moves on: the replica falls behind past max_lag, and status says so.
    rep.kill()
    time.sleep(4.5)  # real time between the replica's last change and the next write (not a policy deadline)
    ingest(conf, 3)
    code, data = status(conf)
    assert code == 1 and data["healthy"] is False and data["replica"]["ok"] is False
    assert data["replica"]["lag_seconds"] > 1 and "behind" in data["replica"]["summary"]
    text = run_cli(conf, "status").stdout
    assert "status: DEGRADED" in text and "replica: " in text and "more than max_lag 1s" in text

    # The standby restores what the replica has: tickets 1 and 2, not 3 (written after Litestream died).
    standby = desk(tmp_path / "standby", replica)
    r = run_cli(standby, "restore", "--from", f"file://{replica}", check=True)
    assert "restored" in r.stdout and "2 ticket(s)" in r.stdout and "no ack key" in r.stdout
    db = standby.with_name("support.db")
    assert query(db, "SELECT subject FROM tickets ORDER BY id") == [("Help 1",), ("Help 2",)]
    assert oct(db.stat().st_mode & 0o007) == "0o0"  # it holds mail
    assert not list(db.parent.glob(".support.db.restor*"))  # no temporary files left behind

    # Never over a database, whatever it is.
    r = run_cli(standby, "restore", "--from", f"file://{replica}")
    assert r.returncode == 1 and "already at" in r.stderr and "never overwrites" in r.stderr
    assert query(db, "SELECT count(*) FROM tickets") == [(2,)]


def test_restore_refuses_while_a_poller_runs_here_and_reports_a_bad_replica(tmp_path):
    standby = desk(tmp_path / "standby", tmp_path / "replica")
    db = standby.with_name("support.db")
    held = outbox_lock(db).acquire()  # as a running poller holds it
    try:
        r = run_cli(standby, "restore", "--from", f"file://{tmp_path}/replica")
        assert r.returncode == 1 and "a poller is running" in r.stderr
    finally:
        held.release()
    r = run_cli(standby, "restore", "--from", f"file://{tmp_path}/nothing-here")
    assert r.returncode == 1 and "litestream could not restore" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert not db.exists() and not list(db.parent.glob(".support.db.*"))  # nothing half-restored left


def test_status_says_when_nothing_was_replicated(tmp_path):
    conf = desk(tmp_path / "primary", tmp_path / "replica")
    ingest(conf, 1)
    code, data = status(conf)
    assert code == 1 and data["replica"]["ok"] is False and "nothing replicated" in data["replica"]["summary"]


def test_init_database_starts_afresh_only_on_purpose(tmp_path):
    conf = desk(tmp_path / "desk", tmp_path / "replica")
    db = conf.with_name("support.db")
    ingest(conf, 1)
    key = conf.with_name("support.db.ackkey")
    key.write_text("00" * 32)
    os.chmod(key, 0o600)
    r = run_cli(conf, "init", "--database")
    assert r.returncode == 1 and "already at" in r.stderr and query(db, "SELECT count(*) FROM tickets") == [(1,)]

    for p in db.parent.glob("support.db*"):
        if p != key:
            p.unlink()
    r = run_cli(conf, "ingest", input=mail(2))  # the MTA keeps the mail and retries: nothing built here
    assert r.returncode == 75 and "support.db is missing" in r.stderr and not db.exists()

    r = run_cli(conf, "init", "--database", check=True)
    assert "created an empty database" in r.stdout and "moved aside" in r.stdout
    assert db.exists() and not key.exists() and list(db.parent.glob("support.db.ackkey.old-*"))
    ingest(conf, 2)
    assert query(db, "SELECT subject FROM tickets") == [("Help 2",)]
