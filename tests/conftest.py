"""Shared pytest fixtures. Keep logic in tests/servers/, fixtures only here."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest

from tests.servers.dovecot import Dovecot, dovecot_unavailable_reason
from tests.servers.receivers import HTTPReceiver, SMTPSink


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "integration: uses real local servers (Dovecot, HTTP receiver, SMTP sink)"
    )


@pytest.fixture
def dovecot(request) -> Dovecot:
    """A fresh Dovecot (empty Maildir, user desk/secret) on a free loopback port."""
    reason = dovecot_unavailable_reason()
    if reason:
        pytest.skip(reason)
    # Not tmp_path: its parents are 0700, and uid 65534 must reach the Maildir.
    root = Path(tempfile.mkdtemp(prefix="support-console-dovecot-"))
    server = Dovecot(root)

    def finish():
        try:
            server.stop(graceful=False)
        finally:
            shutil.rmtree(root, ignore_errors=True)

    request.addfinalizer(finish)  # before start(): a half-started server is still killed
    server.start()
    return server


@pytest.fixture
def http_receiver(request) -> HTTPReceiver:
    """A running HTTPReceiver; ``.url(path)`` gives an apprise json:// URL."""
    receiver = HTTPReceiver()
    request.addfinalizer(receiver.stop)
    receiver.start()
    return receiver


@pytest.fixture
def smtp_sink(request) -> SMTPSink:
    """A running SMTPSink; ``.mailto_url(to=...)`` gives an apprise mailto:// URL."""
    sink = SMTPSink()
    request.addfinalizer(sink.stop)
    sink.start()
    return sink
