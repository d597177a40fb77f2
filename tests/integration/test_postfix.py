"""The README's MTA pipe, run as it says: a real Postfix on loopback pipes the desk's mail to
`support-console ingest` as another account (flags=DRq, user=, a time limit), and nothing leaves the machine."""
from __future__ import annotations

import os
import shutil
import smtplib
import stat
import sys
import tempfile
from pathlib import Path

import pytest

from tests.integration.helpers import REPO, query, scalar, wait_until
from tests.servers.postfix import Postfix, postfix_unavailable_reason, python_for

pytestmark = pytest.mark.integration

USER = "nobody"
DESK = ["support@example.com", "urgent@example.com"]


@pytest.fixture
def mta():
    reason = postfix_unavailable_reason() or (None if shutil.which("runuser") else "runuser not found")
    if reason:
        pytest.skip(reason)
    site = next(p for p in sys.path if p.endswith("site-packages") and Path(p).is_dir())
    python = python_for(USER, [str(REPO), site])
    if python is None:
        pytest.skip(f"no interpreter that {USER} can run with this checkout")
    root = Path(tempfile.mkdtemp(prefix="support-console-postfix-"))
    root.chmod(0o755)
    data = root / "data"  # the database directory: the pipe's account writes here
    data.mkdir()
    shutil.chown(data, USER)
    config = root / "config.toml"
    config.write_text(f'timezone = "UTC"\n[store]\npath = "{data / "support.db"}"\n[routing]\n'
                      f'urgent = ["urgent@example.com"]\nsupport = ["support@example.com"]\n')
    config.chmod(0o644)
    # A virtualenv the pipe's account can execute: here a launcher for this checkout (see the README).
    launcher = root / "support-console"
    launcher.write_text(f"#!{python}\nimport sys\nsys.path[:0] = [{str(REPO)!r}, {site!r}]\n"
                        "from console.cli import main\nsys.exit(main())\n")
    launcher.chmod(0o755)
    server = Postfix(root / "postfix", DESK, f"{launcher} --config {config} ingest", USER)
    try:
        server.start()
        yield server, data / "support.db"
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)


def send(port: int, rcpts: list[str], raw: bytes) -> None:
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as s:
        s.sendmail("carl@cust.example", rcpts, raw)


def test_postfix_pipes_to_ingest_one_ticket_per_mail_and_75_defers_until_fixed(mta):
    server, db = mta
    both = (b"From: Carl <carl@cust.example>\r\nTo: support@example.com\r\nCc: urgent@example.com\r\n"
            b"Subject: site down\r\nMessage-ID: <down@cust.example>\r\n\r\nThe site is down.\r\n")
    send(server.port, DESK, both)  # one delivery per recipient: two copies
    wait_until(lambda: server.log_tail(100).count("status=sent") >= 2, 60, "both deliveries", interval=0.1)
    # both at the first try: two processes opening the new database at once wait for each other
    assert "status=deferred" not in server.log_tail(100), server.log_tail(100)
    assert query(db, "SELECT class, subject FROM tickets") == [("III", "site down")]  # one ticket, not two
    assert scalar(db, "SELECT count(*) FROM messages") == 1
    for f in db.parent.iterdir():  # created by the pipe's account, without world access
        assert f.stat().st_uid != 0 and stat.S_IMODE(f.stat().st_mode) & 0o007 == 0, f

    # The database turns unwritable for that account (owned by root): ingest exits 75, Postfix keeps the
    # mail and retries; once fixed it is delivered. Nothing is bounced.
    owner = db.stat().st_uid
    for f in db.parent.iterdir():
        os.chown(f, 0, 0)
    seen = len(server.log.read_text().splitlines())
    send(server.port, ["support@example.com"], b"From: Dana <dana@cust.example>\r\nTo: support@example.com\r\n"
                                               b"Subject: later\r\nMessage-ID: <later@cust.example>\r\n\r\nx\r\n")

    def later() -> str:
        return "\n".join(server.log.read_text().splitlines()[seen:])

    wait_until(lambda: "status=deferred" in later(), 60, "the deferral", interval=0.1)
    log = later()
    assert "owned by root" in log and "bounced" not in log, log
    for f in db.parent.iterdir():
        os.chown(f, owner, owner)
    server.flush()
    wait_until(lambda: scalar(db, "SELECT count(*) FROM tickets WHERE subject = 'later'"), 60, "the retried mail",
               interval=0.1)
    assert scalar(db, "SELECT count(*) FROM tickets") == 2
