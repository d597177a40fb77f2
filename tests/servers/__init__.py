"""Real servers for tests: Dovecot (IMAP), an HTTP receiver and an SMTP sink.

The pytest fixtures live in ``tests/conftest.py``; the logic lives here so it can
also be used from scripts (benchmarks, the demo).
"""

from __future__ import annotations

import socket
import time

LOOPBACK = "127.0.0.1"


def free_port(host: str = LOOPBACK) -> int:
    """Return a TCP port on *host* that is free right now (bind to port 0)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def port_accepts(host: str, port: int, timeout: float = 0.2) -> bool:
    """True if a TCP connection to host:port succeeds now."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def wait_for_port(host: str, port: int, timeout: float = 10.0, alive=None) -> None:
    """Poll until host:port accepts connections.

    *alive* is an optional callable; when it returns False the wait stops early
    (the server process died). Raises TimeoutError / RuntimeError.
    """
    deadline = time.monotonic() + timeout
    delay = 0.01
    while True:
        if port_accepts(host, port):
            return
        if alive is not None and not alive():
            raise RuntimeError(f"server for {host}:{port} exited before accepting connections")
        if time.monotonic() >= deadline:
            raise TimeoutError(f"{host}:{port} did not accept connections within {timeout}s")
        time.sleep(delay)
        delay = min(delay * 2, 0.1)
