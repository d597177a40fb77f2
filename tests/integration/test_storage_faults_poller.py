"""A running poller facing storage faults (issue 26, item 1): a real `poll` process, real Dovecot, a real
SQLite file deleted or renamed over under it. It stops in one line, keeps what it knew, and a restart
never builds a new empty database where the desk's was.
"""
from __future__ import annotations

import os

import pytest

from tests.integration.helpers import count, mail, query, run_cli, wait_until, write_config

pytestmark = pytest.mark.integration


def test_database_deleted_under_the_poller_stops_it_saves_its_state_and_a_restart_is_refused(
        tmp_path, dovecot, poller):
    conf = write_config(tmp_path, port=dovecot.port)
    db = tmp_path / "support.db"
    p = poller(conf)
    dovecot.append(mail(1, subject="First"))
    wait_until(lambda: count(db, "tickets") == 1, 20, "the first ticket")
    r = run_cli(conf, "ack", "1", actor="ann", check=True)
    assert "acknowledged" in r.stdout

    db.unlink()  # an operator's `rm`, with the poller running
    code = wait_until(lambda: p.proc.poll(), 15, "the poller to stop")
    assert code not in (0, None)
    [line] = [x for x in p.log().splitlines() if "was deleted while in use" in x]  # one line says it all
    assert line.startswith("support-console: database ") and "the poller stopped. Its last state is saved as" in line
    [saved] = tmp_path.glob("support.db.saved-*")
    assert query(saved, "SELECT status FROM tickets") == [("acknowledged",)]  # the acknowledgement is kept

    # A restart does not start over: no new database, one line saying how to restore.
    r = run_cli(conf, "poll", "--once")
    assert r.returncode != 0 and not db.exists()
    assert "support.db is missing" in r.stderr and "restore" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    r = run_cli(conf, "tickets")
    assert r.returncode != 0 and not db.exists()

    # Putting the saved state back is the whole repair: nothing filed twice.
    os.rename(saved, db)
    dovecot.append(mail(2, subject="Second"))
    run_cli(conf, "poll", "--once", check=True)
    assert query(db, "SELECT id, subject, status FROM tickets ORDER BY id") == [
        (1, "First", "acknowledged"), (2, "Second", "new")]


def test_database_renamed_over_stops_the_poller(tmp_path, dovecot, poller):
    conf = write_config(tmp_path, port=dovecot.port)
    db = tmp_path / "support.db"
    p = poller(conf)
    dovecot.append(mail(1))
    wait_until(lambda: count(db, "tickets") == 1, 20, "the first ticket")
    other = tmp_path / "elsewhere" / "support.db"
    other.parent.mkdir()
    run_cli(write_config(other.parent, port=dovecot.port), "tickets", check=True)  # another, empty database
    os.rename(other, db)
    code = wait_until(lambda: p.proc.poll(), 15, "the poller to stop")
    assert code not in (0, None)
    assert "was replaced by another file while in use; the poller stopped" in p.log()
    assert [x.name for x in tmp_path.glob("support.db.saved-*")]  # the one it used is kept
