"""Issue 25 item 8: stopping a real `poll` by SIGTERM or Ctrl-C (SIGINT) logs one line saying what was left."""
from __future__ import annotations

import signal

import pytest

from tests.integration.alerts_helpers import to_toml
from tests.integration.helpers import count, mail, run_cli, scalar, wait_until
from tests.servers import free_port


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_stopped_poll_logs_one_line_with_what_was_left(tmp_path, pollers, sig):
    db = tmp_path / "support.db"
    dead = f"json://127.0.0.1:{free_port()}/pager"  # nobody listens: every page fails and waits for a retry
    conf = tmp_path / "config.toml"
    conf.write_text(to_toml({
        "store": {"path": str(db)},
        "routing": {"urgent": ["urgent@example.com"], "support": ["support@example.com"]},
        "staff": [{"handle": h, "role": "staff", "notify": [dead]} for h in ("ann", "bob", "cy")],
        "oncall": {"rotation": ["ann", "bob", "cy"]},
    }))
    assert run_cli(conf, "ingest", input=mail(1, to="urgent@example.com")).returncode == 0
    assert count(db, "alerts") == 2  # the arrival pages to the primary and the secondary
    p = pollers.start(conf, ready="ready:")
    wait_until(lambda: scalar(db, "SELECT count(*) FROM alerts WHERE attempts > 0") == 2, 30,
               "both pages tried once", alive=p.alive)
    assert p.kill(sig, timeout=15) == 0, p.log()[-2000:]
    stops = [line for line in p.log().splitlines() if "stopped by" in line]
    assert len(stops) == 1, p.log()[-2000:]
    assert stops[0].endswith(f"stopped by {signal.Signals(sig).name}: 2 pages still to send (at the next start)")
    assert "Traceback" not in p.log()
