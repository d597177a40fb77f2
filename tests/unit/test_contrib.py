"""contrib/support-console.service: a notify-type unit with a watchdog, reload by SIGHUP, and no
complaint from systemd-analyze (where it is installed)."""
from __future__ import annotations

import configparser
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

UNIT = Path(__file__).resolve().parents[2] / "contrib" / "support-console.service"


def unit() -> configparser.ConfigParser:
    p = configparser.ConfigParser(interpolation=None, strict=True)
    p.optionxform = str  # systemd keys are case-sensitive
    p.read_string(UNIT.read_text())
    return p


def test_the_unit_is_a_watched_notify_service():
    s = unit()["Service"]
    assert s["Type"] == "notify" and s["NotifyAccess"] == "main"
    assert 10 <= int(s["WatchdogSec"]) <= 300
    assert s["ExecStart"].split()[-1] == "poll" and "--config" in s["ExecStart"]
    assert s["ExecReload"] == "/bin/kill -HUP $MAINPID"
    assert s["Restart"] == "on-failure" and s["RestartPreventExitStatus"] == "78"  # 78: the config is wrong
    assert s["User"] == s["Group"] == "support-console" and s["UMask"] == "0007"
    # The link server caps its connections at a quarter of the file limit: room for ack_max_connections'
    # default (128) and everything else the poller opens.
    assert int(s["LimitNOFILE"]) >= 4 * 128 + 256


@pytest.mark.skipif(not shutil.which("systemd-analyze"), reason="no systemd-analyze")
def test_systemd_analyze_accepts_it(tmp_path):
    # With this checkout's script and an account that exists here, so that only the unit itself is judged.
    script = Path(sys.executable).parent / "support-console"
    text = (UNIT.read_text().replace("/opt/support-console/bin/support-console", str(script))
            .replace("User=support-console", "User=root").replace("Group=support-console", "Group=root"))
    path = tmp_path / "support-console.service"
    path.write_text(text)
    r = subprocess.run(["systemd-analyze", "verify", str(path)], capture_output=True, text=True, timeout=60)
    assert (r.returncode, r.stderr) == (0, "")
