"""Fixtures shared by the integration tests: background pollers, and a paging desk config for this test's servers."""
from __future__ import annotations

import pytest

from tests.integration import alerts_helpers as h
from tests.integration.helpers import Pollers


@pytest.fixture
def desk(tmp_path, dovecot, http_receiver):
    """Write a config for this test's servers: desk(sla=..., alerts=...) -> config path."""

    def make(**kw):
        kw.setdefault("notify", {x: [http_receiver.url(f"/{x}")] for x in h.HANDLES})
        return h.write_config(tmp_path, dovecot=dovecot, **kw)

    return make


@pytest.fixture
def pollers(tmp_path):
    """pollers.start(config) runs `support-console poll` in the background; all are killed at the end."""
    ps = Pollers(tmp_path)
    yield ps
    ps.stop_all()


@pytest.fixture
def poller(pollers):
    """poller(config) starts `support-console poll` and waits until it watches the mailbox."""
    return lambda config: pollers.start(config, ready="watching", timeout=20)
