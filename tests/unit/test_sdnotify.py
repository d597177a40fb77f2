"""systemd's notification protocol (console/sdnotify.py) against sockets the test listens on, and the
Beacon the watchdog reads liveness from (console/poller.py)."""
from __future__ import annotations

import os
import secrets
import socket
import threading
import time

import pytest

from console.poller import Beacon
from console.sdnotify import Notifier


@pytest.fixture(params=["path", "abstract"])
def listener(request, tmp_path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    if request.param == "path":
        addr = str(tmp_path / "notify")
        s.bind(addr)
        shown = addr
    else:
        name = f"sc-test-{secrets.token_hex(4)}"
        s.bind("\0" + name)
        shown = "@" + name
    s.settimeout(5)
    yield shown, s
    s.close()


def test_a_datagram_per_call(listener):
    address, sock = listener
    n = Notifier(address)
    assert n.enabled and n.send(READY=1, STATUS="intake and scheduler running")
    assert sock.recv(4096) == b"READY=1\nSTATUS=intake and scheduler running"
    assert n.send(WATCHDOG=1)
    assert sock.recv(4096) == b"WATCHDOG=1"
    assert n.send(STATUS="two\nlines")  # a newline would start another field
    assert sock.recv(4096) == b"STATUS=two lines"


def test_from_env():
    n = Notifier.from_env({"NOTIFY_SOCKET": "@x", "WATCHDOG_USEC": "30000000"})
    assert (n.address, n.watchdog_seconds) == ("@x", 30.0)
    assert Notifier.from_env({"NOTIFY_SOCKET": "/run/x", "WATCHDOG_USEC": "1000000",
                              "WATCHDOG_PID": str(os.getpid())}).watchdog_seconds == 1.0
    # The watchdog is someone else's (a parent's): not ours to ping.
    assert Notifier.from_env({"NOTIFY_SOCKET": "/run/x", "WATCHDOG_USEC": "1000000",
                              "WATCHDOG_PID": "1"}).watchdog_seconds is None
    n = Notifier.from_env({})
    assert not n.enabled and n.send(READY=1) is False


def test_a_gone_service_manager_is_logged_once(tmp_path, caplog):
    n = Notifier(str(tmp_path / "nobody-listens"))
    assert n.send(WATCHDOG=1) is False and n.send(WATCHDOG=1) is False
    assert [r.getMessage() for r in caplog.records] == ["cannot notify the service manager (FileNotFoundError)"]


def test_a_beacon_tells_asking_and_sleeping_from_silence():
    b = Beacon()
    assert b.silent_for(time.monotonic()) is None  # not started
    assert not b.is_set() and b.asks == 1
    assert b.silent_for(time.monotonic() + 10) == pytest.approx(10, abs=0.5)
    t = threading.Thread(target=b.wait, args=(60,))
    t.start()
    try:
        deadline = time.monotonic() + 5
        while b.asks < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert b.silent_for(time.monotonic() + 30) == 0.0  # asleep on its flag: alive
        assert b.silent_for(time.monotonic() + 90) > 25  # past the end of its sleep: not alive
    finally:
        b.set()
        t.join(5)
    assert b.is_set() and b.silent_for(time.monotonic()) < 1
