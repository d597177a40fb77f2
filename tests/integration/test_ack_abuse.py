"""The acknowledge-link server under abuse (issue 19 item 6): the real aiohttp server of console.web.ack_server
on 127.0.0.1, real sockets, a real SQLite desk. Every loop is bounded; no test sleeps for a deadline (the
request timeout is a network timeout, waited for on a socket).

Behind a reverse proxy every phone shares the proxy's address, so junk from anyone must never lock out
a real link, and slow or idle connections must never use up the process's files."""
from __future__ import annotations

import logging
import re
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from datetime import timedelta

import pytest

import store
from console import actions
from console.ack import links, tokens
from console.web.ack_server import AckServer
from console.clock import FrozenClock
from console.config import from_dict
from console.intake.pipeline import Incoming, file_messages
from store import tickets
from tests.ack_helpers import ack_dict, mark_sent, write_ack_config
from tests.integration.alerts_helpers import HANDLES, T0, URGENT, mail
from tests.integration.alerts_helpers import cli as h_cli
from tests.integration.helpers import CLI, REPO, Poller, cli_env, wait_until
from tests.servers import free_port

pytestmark = pytest.mark.integration
M = timedelta(minutes=1)


@dataclass
class Desk:
    server: AckServer
    port: int
    tid: int
    link: dict[str, str]  # handle -> its page's link
    db_path: object

    def forged(self) -> str:
        base, token = self.link["bob"].rsplit("/", 1)
        return f"{base}/{token[:-3]}{'AAA' if token[-3:] != 'AAA' else 'BBB'}"

    def status(self) -> str:
        db = store.open_db(self.db_path)
        try:
            return tickets.get_ticket(db, self.tid)["status"]
        finally:
            db.conn.close()


@pytest.fixture
def desk(tmp_path):
    """desk(**alerts) -> a Desk serving links on a free port; stopped at the end."""
    started: list[AckServer] = []

    def make(**alerts) -> Desk:
        port = free_port()
        data = ack_dict(tmp_path / "support.db", at=T0, listen=f"127.0.0.1:{port}",
                        base_url=f"http://127.0.0.1:{port}/desk/ack", alerts=alerts)
        cfg = from_dict(data)
        db = store.open_db(cfg.store_path)
        [f] = file_messages(db, cfg, [Incoming(raw=mail(1, to=URGENT, date_=T0), received_at=T0)], T0)
        rows = mark_sent(db, T0, f.ticket_id)
        key = links.signing_key(cfg)
        urls = {r["target"]: links.link(cfg, tokens.make(key, links.claim_for(cfg, r))) for r in rows}
        db.conn.close()
        actions.sync_staff(cfg)  # as the poller does at start: actions check the staff mirror
        server = AckServer(cfg, FrozenClock(T0 + M))
        started.append(server)
        assert server.start()
        return Desk(server, port, f.ticket_id, urls, cfg.store_path)

    yield make
    for s in started:
        s.stop()


def http(url: str, data: dict | None = None, headers: dict | None = None) -> int:
    body = urllib.parse.urlencode(data).encode() if data is not None else None
    req = urllib.request.Request(url, data=body, headers=headers or {}, method="POST" if data is not None else "GET")
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            resp.read()
            return resp.status
    except urllib.error.HTTPError as exc:
        return exc.code


def post(url: str, headers: dict | None = None) -> int:
    return http(url, {"action": "ack"}, headers)


def ack_lines(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "support_console.ack"]


def test_junk_from_the_proxys_address_never_locks_out_a_valid_link(desk, caplog):
    caplog.set_level(logging.INFO, logger="support_console.ack")
    d = desk()
    codes = [post(d.forged()) for _ in range(30)] + [http(d.forged()) for _ in range(5)]
    assert codes == [403] * 10 + [429] * 25  # failed attempts are limited, GETs of junk too
    assert http(d.link["bob"]) == 200  # showing the real link works, from the very same address
    assert post(d.link["bob"]) == 200  # and so does acknowledging with it
    assert d.status() == "acknowledged"
    # The log says so once per kind, not 35 times.
    lines = [x for x in ack_lines(caplog) if "did not sign" in x or "failed attempts" in x]
    assert len(lines) == 2, lines


def test_forwarded_for_is_believed_only_from_trusted_proxies(desk, tmp_path):
    d = desk()
    # Not trusted (the default): a header anyone can write changes nothing; all count against 127.0.0.1.
    assert [post(d.forged(), {"X-Forwarded-For": f"10.0.0.{i}"}) for i in range(11)] == [403] * 10 + [429]
    # A reload names the proxy: its X-Forwarded-For now tells the phones apart.
    d.server.cfg = from_dict(ack_dict(tmp_path / "support.db", at=T0, listen=f"127.0.0.1:{d.port}",
                                      base_url=f"http://127.0.0.1:{d.port}/desk/ack",
                                      alerts={"trusted_proxies": ["127.0.0.1"]}))
    assert [post(d.forged(), {"X-Forwarded-For": "198.51.100.9"}) for _ in range(11)] == [403] * 10 + [429]
    assert post(d.forged(), {"X-Forwarded-For": "198.51.100.10"}) == 403  # another phone: its own budget
    # What the client wrote left of what the proxy saw is not believed.
    assert post(d.forged(), {"X-Forwarded-For": "198.51.100.10, 198.51.100.9"}) == 429
    assert post(d.link["cy"], {"X-Forwarded-For": "198.51.100.9"}) == 200  # a valid link, always


def connect(port: int) -> socket.socket:
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.settimeout(10)
    return s


def closed_by_server(s: socket.socket) -> bool:
    """Whether the server closed this connection (read EOF or a reset), waiting up to the socket's timeout."""
    try:
        while True:
            data = s.recv(4096)
            if not data:
                return True
    except (ConnectionResetError, BrokenPipeError):
        return True
    except TimeoutError:
        return False


def test_a_connection_must_send_its_request_in_time(desk, caplog):
    caplog.set_level(logging.INFO, logger="support_console.ack")
    d = desk(ack_request_timeout="1s")
    socks = [connect(d.port) for _ in range(5)]
    for i, s in enumerate(socks):  # slow headers, or nothing at all
        if i % 2:
            s.sendall(b"GET /desk/ack/x HTTP/1.1\r\nHost: desk\r\n")
    begun = time.monotonic()
    assert all(closed_by_server(s) for s in socks)
    assert time.monotonic() - begun < 5
    for s in socks:
        s.close()
    lines = [x for x in ack_lines(caplog) if "no request within 1s" in x]
    assert len(lines) == 1, lines  # one line, however many connections
    # A request that does come in time is served (and its connection then closed: one request each).
    assert http(d.link["bob"]) == 200
    # A POST whose body never completes is answered 408 once the timeout has passed, and acknowledges nothing.
    path = urllib.parse.urlsplit(d.link["bob"]).path
    s = connect(d.port)
    s.sendall(f"POST {path} HTTP/1.1\r\nHost: desk\r\nContent-Type: application/x-www-form-urlencoded\r\n"
              "Content-Length: 100\r\n\r\naction=".encode())
    reply = s.recv(4096)
    s.close()
    assert reply.startswith(b"HTTP/1.1 408")
    assert d.status() == "new"


def test_open_connections_are_capped_and_a_valid_link_still_gets_through(desk, caplog):
    caplog.set_level(logging.INFO, logger="support_console.ack")
    d = desk(ack_max_connections=16, ack_request_timeout="60s")  # nothing is closed for slowness here
    idle = []
    for _ in range(120):
        s = connect(d.port)
        s.sendall(b"GET /desk/ack/x HTTP/1.1\r\n")  # and never the rest
        idle.append(s)
    guard = d.server.guard
    assert guard is not None and len(guard.open) <= 16
    # The real link opens a new connection: the oldest waiting one makes room for it.
    assert http(d.link["bob"]) == 200
    assert post(d.link["bob"]) == 200 and d.status() == "acknowledged"
    for s in idle:  # those closed were closed (a reset) before the link's requests were answered
        s.settimeout(0.05)
    still_open = [s for s in idle if not closed_by_server(s)]
    assert len(still_open) <= 16
    for s in idle:
        s.close()
    lines = [x for x in ack_lines(caplog) if "cap" in x]
    assert len(lines) == 1, lines


# ---- the whole poller under a flood, at a file limit of 256 (the report)

class LimitedPoller(Poller):
    """`support-console poll` started through prlimit: at most `files` open files, as on a small server."""

    files = 256

    def start(self) -> LimitedPoller:
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(["prlimit", f"--nofile={self.files}:{self.files}", "--", *CLI, "--config",
                                          str(self.config), "poll"], stdin=subprocess.DEVNULL, stdout=log,
                                         stderr=subprocess.STDOUT, env=self.env, cwd=REPO, start_new_session=True)
        return self


def flood(port: int, n: int) -> list[socket.socket]:
    """n connections that send half a request line and then nothing (a slowloris)."""
    out = []
    for _ in range(n):
        try:
            s = socket.create_connection(("127.0.0.1", port), timeout=5)
            s.sendall(b"GET /desk/ack/")
            out.append(s)
        except OSError:  # refused or reset at once: the server is defending itself
            pass
    return out


@pytest.mark.skipif(not shutil.which("prlimit"), reason="needs prlimit (util-linux)")
def test_a_flood_of_slow_connections_never_takes_intake_or_paging_down(dovecot, http_receiver, pollers, tmp_path):
    port = free_port()
    conf = write_ack_config(tmp_path, dovecot=dovecot, listen=f"127.0.0.1:{port}",
                            base_url=f"http://127.0.0.1:{port}/desk/ack",
                            notify={x: [http_receiver.url(f"/{x}")] for x in HANDLES})
    p = LimitedPoller(conf, tmp_path / "poller-limited.log", cli_env())
    pollers.all.append(p)
    p.start()
    wait_until(lambda: "acknowledge links served" in p.log(), 20, "the link server", alive=p.alive)
    first = flood(port, 300)  # more than the file limit allows the whole process
    dovecot.append(mail(1, subject="DNS is down"))
    records = http_receiver.wait_for(2, timeout=20)  # intake filed it and the scheduler paged, meanwhile
    second = flood(port, 300)
    link = next(m.group(1) for r in records if (m := re.search(r"Acknowledge from your phone: (http://\S+)",
                                                                r.body["message"])))
    assert post(link) == 200  # a real link gets through the flood
    for s in first + second:
        s.close()
    assert p.alive()
    assert h_cli(conf, "status").returncode == 0  # intake, scheduler and outbox healthy
    log = p.log()
    assert "unable to open database file" not in log and "Too many open files" not in log
    lines = [x for x in log.splitlines() if "acknowledge links:" in x]
    assert 1 <= len(lines) <= 4, lines  # said once, not once per connection
