"""The poller as a systemd service (issue 12, item 6): READY and WATCHDOG on a notification socket the test
listens on, the pings stopping when intake's thread stops or hangs, SIGHUP reloading the config without
dropping the IMAP connection (and keeping the old config when the new one is bad), log lines without
timestamps under journald, and `status` on a running poller. Real Dovecot, real SQLite file.
"""
from __future__ import annotations

import json
import os
import secrets
import select
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest

from console.clock import SystemClock
from console.config import load
from console.intake import watch
from console.poller import Service
from console.sdnotify import Notifier
from tests.integration.helpers import CLI, REPO, cli_env, free_port, mail, query, run_cli, wait_until, write_config

pytestmark = pytest.mark.integration


class Listener:
    """The service manager's end of NOTIFY_SOCKET: an abstract AF_UNIX datagram socket."""

    def __init__(self):
        self.name = f"sc-test-{secrets.token_hex(4)}"
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind("\0" + self.name)
        self.sock.setblocking(False)
        self.got: list[tuple[float, str]] = []

    @property
    def address(self) -> str:
        return "@" + self.name

    def drain(self) -> list[str]:
        """Everything received so far, after waiting up to 50 ms for more."""
        select.select([self.sock], [], [], 0.05)
        while True:
            try:
                self.got.append((time.monotonic(), self.sock.recv(4096).decode()))
            except BlockingIOError:
                return [m for _, m in self.got]

    def wait_for(self, text: str, timeout: float = 20, after: float = 0.0) -> float:
        """The time the first datagram containing `text` arrived after `after`."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.drain()
            for at, m in self.got:
                if at > after and text in m.split("\n"):
                    return at
        raise AssertionError(f"no {text!r} within {timeout}s; got {[m for _, m in self.got][-5:]}")

    def pings_between(self, start: float, end: float) -> int:
        self.drain()
        return sum(1 for at, m in self.got if start <= at <= end and "WATCHDOG=1" in m.split("\n"))

    def close(self):
        self.sock.close()


@pytest.fixture
def listener():
    lst = Listener()
    yield lst
    lst.close()


# --- in-process: the watchdog against intake's own thread -------------------------------------


@pytest.fixture
def service(tmp_path, dovecot, listener, monkeypatch):
    """A Service on a Dovecot desk, in a background thread; the watchdog pings every 0.1 s, and a component
    silent for 1 s counts as hung. `hang` makes intake's next sync block until `release` is set."""
    monkeypatch.setenv("SC_TEST_IMAP_PASSWORD", "secret")
    cfg = load(write_config(tmp_path, port=dovecot.port))
    hang, release = threading.Event(), threading.Event()
    real_sync = watch.Intake.sync

    def sync(self, client, **kw):
        if hang.is_set():
            release.wait(60)
        return real_sync(self, client, **kw)

    monkeypatch.setattr(watch.Intake, "sync", sync)
    svc = Service(cfg, SystemClock(), notifier=Notifier(listener.address, watchdog_seconds=0.2), grace=1.0,
                  signals=False)
    result = {}
    t = threading.Thread(target=lambda: result.setdefault("rc", svc.run()), daemon=True)
    t.start()
    svc.hang, svc.release, svc.result, svc.thread = hang, release, result, t
    yield svc
    release.set()
    svc.request_stop()
    t.join(15)


def test_ready_then_pings_and_they_stop_when_intake_hangs(service, listener, dovecot):
    ready = listener.wait_for("READY=1")
    assert "STATUS=scheduler and intake running" in listener.drain()[0]
    listener.wait_for("WATCHDOG=1", after=ready)
    t0 = time.monotonic()
    service.hang.set()
    dovecot.append(mail(1))  # IDLE announces it; intake's sync now blocks, without a timeout
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        msgs = listener.drain()
        if any(m.startswith("STATUS=intake silent for") for m in msgs):
            break
    else:
        raise AssertionError(f"the watchdog never noticed: {listener.drain()[-3:]}")
    stalled_at = max(at for at, m in listener.got if m.startswith("STATUS=intake silent for"))
    assert listener.pings_between(t0, stalled_at) > 0  # pinging until intake went quiet
    # While intake hangs, no pings: a whole watchdog interval and more, with the scheduler still alive.
    end = stalled_at + 1.5
    while time.monotonic() < end:
        listener.drain()
    assert listener.pings_between(stalled_at, end) == 0
    assert service.thread.is_alive() and service.scheduler is not None
    service.release.set()  # intake gets going again: so do the pings
    listener.wait_for("WATCHDOG=1", after=end)


def test_pings_stop_when_intake_thread_stops(service, listener):
    ready = listener.wait_for("READY=1")
    listener.wait_for("WATCHDOG=1", after=ready)
    [intake] = [c for c in service.components if c.name == "intake"]
    intake.beacon.set()  # intake's own stop flag: its thread ends
    intake.thread.join(10)
    assert not intake.thread.is_alive()
    stopped = time.monotonic()
    service.thread.join(15)  # a poller without intake stops, so that the service manager restarts it
    assert service.result == {"rc": 1}  # a failure: systemd's Restart=on-failure restarts it
    after = listener.drain()
    assert listener.pings_between(stopped + 0.5, time.monotonic()) == 0
    assert "STOPPING=1" in after[-1]


# --- a real `poll` process under a notification socket -------------------------------------------


def start_poller(conf: Path, listener: Listener, log: Path, *, journald: bool = False) -> subprocess.Popen:
    log.touch()
    env = cli_env(NOTIFY_SOCKET=listener.address, WATCHDOG_USEC="1000000")
    with open(log, "ab") as f:
        if journald:
            st = os.fstat(f.fileno())
            env["JOURNAL_STREAM"] = f"{st.st_dev}:{st.st_ino}"
        return subprocess.Popen([*CLI, "--config", str(conf), "poll"], stdin=subprocess.DEVNULL, stdout=f, stderr=f,
                                env=env, cwd=REPO, start_new_session=True)


def tickets(db: Path) -> list[dict]:
    return query(db, "SELECT id, class, subject FROM tickets ORDER BY id", dicts=True)


def test_sighup_reloads_without_dropping_imap_and_keeps_a_good_config(tmp_path, dovecot, listener):
    conf = write_config(tmp_path, port=dovecot.port)
    beat_token = "BeatTok3n2b3c4d"  # heartbeat_url to a closed port: each failed ping is logged, never the URL
    conf.write_text(conf.read_text().replace(
        "[alerts]\n", f'[alerts]\nheartbeat_url = "http://127.0.0.1:{free_port()}/ping/{beat_token}"\n'))
    db = tmp_path / "support.db"
    log = tmp_path / "poller.log"
    proc = start_poller(conf, listener, log, journald=True)
    try:
        ready = listener.wait_for("READY=1", timeout=30)
        listener.wait_for("WATCHDOG=1", after=ready)
        # Reload: a new urgent address (routing), and a new person on call.
        conf.write_text(conf.read_text().replace('urgent = ["urgent@example.com"]',
                                                 'urgent = ["urgent@example.com", "panic@example.com"]')
                        .replace('rotation = ["ann", "bob"]', 'rotation = ["bob", "ann"]'))
        proc.send_signal(signal.SIGHUP)
        listener.wait_for("STATUS=config reloaded")
        dovecot.append(mail(1, to="panic@example.com", subject="Everything is down"))
        [t] = wait_until(lambda: tickets(db), 20, "the ticket")
        assert t["class"] == "III"  # the reloaded routing, in the intake that never reconnected

        # A bad config on reload: logged, and the running one kept.
        good = conf.read_text()
        conf.write_text(good.replace("[routing]", '[sla]\nIII_escalte_after = "5m"\n\n[routing]'))
        proc.send_signal(signal.SIGHUP)
        wait_until(lambda: "config reload failed" in log.read_text(), 10, "the failed reload in the log")
        t_bad = time.monotonic()
        dovecot.append(mail(2, to="panic@example.com", subject="Still down"))
        wait_until(lambda: len(tickets(db)) == 2, 20, "the second ticket")
        assert tickets(db)[1]["class"] == "III"
        listener.wait_for("WATCHDOG=1", after=t_bad)  # still alive and pinging

        conf.write_text(good)
        r = run_cli(conf, "status", "--json")
        data = json.loads(r.stdout)
        assert r.returncode == (0 if data["healthy"] else 1) and data["scheduler"]["ok"] is True
    finally:
        proc.send_signal(signal.SIGTERM)
        rc = proc.wait(timeout=20)
    assert rc == 0
    assert "STOPPING=1" in listener.drain()[-1]
    lines = log.read_text().splitlines()
    assert any("heartbeat_url failed: " in x for x in lines) and beat_token not in log.read_text()
    # One IMAP login for the whole run: the reloads did not reconnect.
    assert sum(" connected to 127.0.0.1" in x for x in lines) == 1, lines
    assert not any("reconnected" in x for x in lines)
    assert ("<3>ERROR support_console.poller: config reload failed: sla.III_escalte_after: unknown key "
            "(did you mean III_escalate_after?); keeping the running config") in lines, lines
    # Under journald: no timestamps (it adds its own), a syslog priority first, one line per event.
    assert lines and all(x.startswith(("<6>INFO ", "<4>WARNING ", "<3>ERROR ")) for x in lines), lines


def test_reload_reaches_the_mail_sender_and_the_link_server(tmp_path, monkeypatch):
    """Who reads staff and routing outside intake and the scheduler gets the reloaded config too: the
    link server checks each acknowledgement against it, the mail sender its recipients."""
    from types import SimpleNamespace

    monkeypatch.setenv("SC_TEST_IMAP_PASSWORD", "secret")
    path = write_config(tmp_path, port=free_port())
    svc = Service(load(path), SystemClock(), notifier=Notifier(None), signals=False)
    svc.links, svc.mail = SimpleNamespace(cfg=svc.cfg), SimpleNamespace(cfg=svc.cfg)
    path.write_text(path.read_text().replace('handle = "bob"', 'handle = "bob"\nemail = "bob@desk.example"'))
    assert svc.reload()
    assert svc.links.cfg is svc.cfg and svc.mail.cfg is svc.cfg
    assert svc.cfg.person("bob").email == "bob@desk.example"
