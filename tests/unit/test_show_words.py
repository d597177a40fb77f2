"""`show` prints the history and pages in words (`--json` keeps the data); `tickets` marks call-me mail
in words (issue 25 item 3). In-process CLI on a real SQLite file, mail filed by real intake."""
from __future__ import annotations

import json

from console import actions, cli
from console.config import load
from console.intake.pipeline import Incoming, file_messages
from console.poller import sync_staff
from store import open_db
from tests.factories import T0
from tests.unit.test_cli_exit_codes import write_desk


def _file(db, cfg, raw: bytes) -> int:
    filed = file_messages(db, cfg, [Incoming(raw=raw, received_at=T0)], T0)
    assert filed[0].ticket_id is not None
    return filed[0].ticket_id


def test_show_prints_sentences_and_json_keeps_the_data(tmp_path, capsys):
    conf = write_desk(tmp_path, logins=False)
    cfg = load(conf)
    sync_staff(cfg)
    db = open_db(cfg.store_path)
    urgent = _file(db, cfg, b"From: noc@bank.example\r\nTo: urgent@desk.example\r\nSubject: Cluster down\r\n"
                            b"Message-ID: <c1@bank.example>\r\n\r\nAll nodes unreachable.\r\n")
    actions.acknowledge(db, cfg, urgent, "bob", T0, via={"via": "page link", "page": 1})
    callme = _file(db, cfg, b"From: pat@x.example\r\nTo: urgent@desk.example\r\nSubject: call me\r\n"
                            b"Message-ID: <c2@x.example>\r\n\r\nPlease call me.\r\n")
    db.conn.close()

    assert cli.main(["--config", str(conf), "show", str(urgent)]) == 0
    out = capsys.readouterr().out
    history = out[out.index("History:"):]
    assert "paged bob and cy (on arrival)" in history
    assert "acknowledged by bob from a page link" in history
    assert "{" not in history and "[" not in history and "alert_due" not in history
    assert "arrival page to cy: cancelled (no longer needed)" in out

    assert cli.main(["--config", str(conf), "show", str(urgent), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    ack = next(e for e in data["events"] if e["kind"] == "acknowledged")
    assert ack["detail"]["via"] == "page link" and ack["actor"] == "bob"

    assert cli.main(["--config", str(conf), "tickets"]) == 0
    lines = capsys.readouterr().out.splitlines()
    row = next(x for x in lines if x.lstrip().startswith(f"{callme} "))
    assert "call-me only: no details yet" in row and " ? " not in row
    assert cli.main(["--config", str(conf), "show", str(callme)]) == 0
    assert "Flags:     call-me only: no details yet" in capsys.readouterr().out
