"""Fixtures shared by the paging tests: a desk config for this test's servers, and background pollers."""
from __future__ import annotations

import pytest

from tests.integration import alerts_helpers as h


@pytest.fixture
def desk(tmp_path, dovecot, http_receiver):
    """Write a config for this test's servers: desk(sla=..., alerts=...) -> config path."""

    def make(**kw):
        kw.setdefault("notify", {x: [http_receiver.url(f"/{x}")] for x in h.HANDLES})
        return h.write_config(tmp_path, dovecot=dovecot, **kw)

    return make


@pytest.fixture
def poller(request):
    """poller(config) starts `support-console poll` and waits until it watches the mailbox."""
    started: list[h.Poller] = []

    def start(config):
        p = h.Poller(config).start()
        started.append(p)
        h.wait_until(lambda: "watching" in p.output() or not p.alive(), 20, what="poller connected")
        assert p.alive(), p.output()
        return p

    request.addfinalizer(lambda: [p.kill() for p in started])
    return start
