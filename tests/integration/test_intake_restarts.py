"""Staleness survives restarts (issue 21, item 3), against a real Dovecot: a poller whose mailbox cannot be
reached exits and is started again and again (as systemd's Restart=on-failure does). Intake is judged from
its last successful sync, not from each process's start: the supervisors are paged once, and the
heartbeat_url dead-man's switch stops getting pings once intake has been stale for intake_stale_after."""
from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.integration.helpers import run_cli

pytestmark = pytest.mark.integration

STALE_AFTER = 6.0


class _Pings(BaseHTTPRequestHandler):
    seen: list[float] = []

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        type(self).seen.append(time.monotonic())
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"OK")

    def log_message(self, fmt, *args) -> None:
        pass


@pytest.fixture
def pings():
    handler = type("Pings", (_Pings,), {"seen": []})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    t = threading.Thread(target=server.serve_forever, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/ping/token", handler.seen
    server.shutdown()
    server.server_close()


def test_a_poller_in_a_restart_loop_pages_once_and_stops_the_heartbeat(desk, http_receiver, pings):
    url, seen = pings
    config = desk(imap={"folder": "Gone"}, alerts={"intake_stale_after": f"{STALE_AFTER:g}s", "heartbeat_url": url})
    start = time.monotonic()
    runs = []
    while time.monotonic() - start < STALE_AFTER + 10:  # a restart loop, as Restart=on-failure makes one
        r = run_cli(config, "poll", timeout=60)
        runs.append(r.returncode)
        assert "Traceback" not in r.stderr
    assert len(runs) >= 4 and all(code != 0 for code in runs), runs

    stale = [p for p in http_receiver.records if "INTAKE STALE" in json.dumps(p.body)]
    assert len(stale) == 1, [p.body for p in http_receiver.records]  # once, to ann (the one supervisor)
    assert stale[0].path == "/ann"
    assert "Gone" in stale[0].body["message"]
    # The first processes ping (intake is still within its window); none pings once the window has passed,
    # although each new process's scheduler runs and beats.
    assert seen and seen[0] < start + STALE_AFTER
    assert not [t for t in seen if t > start + STALE_AFTER + 2.0], [round(t - start, 1) for t in seen]

    status = run_cli(config, "status", "--json")
    assert status.returncode == 1
    intake = json.loads(status.stdout)["intake"]
    assert not intake["ok"] and "Gone" in intake["summary"]
