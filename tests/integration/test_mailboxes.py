"""Several mailboxes ([[imap]]): each its own connection, IDLE loop, watermark and health; one whose server
is down never delays another's Class III page. Real Dovecots, the real poller process, a real HTTP receiver."""
from __future__ import annotations

import json
import shutil
import socket
import tempfile
import time
from pathlib import Path

import pytest

from tests.integration import alerts_helpers as h
from tests.integration.helpers import run_cli, wait_until
from tests.servers.dovecot import Dovecot

pytestmark = pytest.mark.integration


@pytest.fixture
def dovecot2(request, dovecot):
    root = Path(tempfile.mkdtemp(prefix="support-console-dovecot-"))
    server = Dovecot(root)

    def finish():
        try:
            server.stop(graceful=False)
        finally:
            shutil.rmtree(root, ignore_errors=True)

    request.addfinalizer(finish)
    server.start()
    return server


def two_mailboxes(tmp_path: Path, a: Dovecot, b: Dovecot, notify: dict) -> Path:
    data = h.config_dict(tmp_path / "support.db", notify=notify, dovecot=a, sla=h.SHORT_SLA)
    one = data.pop("imap")
    data["imap"] = [{**one, "name": "support", "account": "support-box"},
                    {**one, "name": "urgent", "account": "urgent-box", "port": b.port, "class": "III"}]
    path = tmp_path / "config.toml"
    path.write_text(h.to_toml(data))
    return path


def test_one_mailbox_down_never_delays_the_others_class_iii(tmp_path, dovecot, dovecot2, http_receiver, pollers):
    db = tmp_path / "support.db"
    conf = two_mailboxes(tmp_path, dovecot, dovecot2, {x: [http_receiver.url(f"/{x}")] for x in h.HANDLES})
    p = pollers.start(conf)
    wait_until(lambda: p.log().count("watching") >= 2, 20, "both mailboxes watched")
    # The urgent@ mailbox's server hangs: its port takes connections and never says a word, so each of that
    # intake's attempts waits out its whole timeout (10 s), again and again.
    dovecot2.stop(graceful=False)
    hung = socket.socket()
    hung.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    hung.bind((dovecot2.host, dovecot2.port))
    hung.listen(16)
    try:
        wait_until(lambda: "connection lost" in p.log().lower(), 20, "the loss noticed")
        appended = time.time()
        dovecot.append(h.mail(1, subject="DNS down on support@"))
        # arrival (bob, cy) at once, the escalation (team) 3 s after: on time while the other mailbox hangs
        records = http_receiver.wait_for(5, timeout=15)
        arrival = [r for r in records if " NEW:" in r.body["title"]]
        escalated = [r for r in records if " ESCALATED:" in r.body["title"]]
        assert sorted(h.path_of(r) for r in arrival) == [h.PRIMARY, h.SECONDARY]
        assert all(r.wall - appended <= 2.0 for r in arrival), [r.wall - appended for r in arrival]
        assert sorted(h.path_of(r) for r in escalated) == ["ann", "bob", "cy"]
        [t] = h.tickets(db)
        due = h.parse_iso(t["received_at"]).timestamp() + 3
        assert all(-0.1 <= r.wall - due <= 1.0 for r in escalated), [r.wall - due for r in escalated]
    finally:
        hung.close()
    st = run_cli(conf, "status", "--json")
    intake = json.loads(st.stdout)["intake"]
    names = {m["name"]: m for m in intake["mailboxes"]}
    assert set(names) == {"support", "urgent"} and names["support"]["ok"]
    # The server comes back: the other mailbox files its mail too, into its own watermark.
    dovecot2.start()
    # ... as Class III whatever address it names: that mailbox says class = "III"
    dovecot2.append(h.mail(2, to=h.SUPPORT, subject="urgent@ after the outage"))
    wait_until(lambda: len(h.tickets(db)) == 2, 60, "the second mailbox's mail filed")
    classes = {t["subject"]: t["class"] for t in h.tickets(db)}
    assert classes == {"DNS down on support@": "III", "urgent@ after the outage": "III"}
