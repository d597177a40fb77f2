"""contrib/support-console-replicate.service: Litestream through `support-console replicate`, restarted
always, credentials from an environment file, and no complaint from systemd-analyze (where installed)."""
from __future__ import annotations

import configparser
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

UNIT = Path(__file__).resolve().parents[2] / "contrib" / "support-console-replicate.service"


def test_the_unit_runs_replicate_as_the_desks_account():
    p = configparser.ConfigParser(interpolation=None, strict=True)
    p.optionxform = str
    p.read_string(UNIT.read_text())
    s = p["Service"]
    assert s["ExecStart"].split()[-1] == "replicate" and "--config" in s["ExecStart"]
    assert s["Restart"] == "always" and s["User"] == s["Group"] == "support-console" and s["UMask"] == "0007"
    assert s["EnvironmentFile"].startswith("-/etc/support-console/") and "ReadWritePaths" in s


@pytest.mark.skipif(not shutil.which("systemd-analyze"), reason="no systemd-analyze")
def test_systemd_analyze_accepts_it(tmp_path):
    script = Path(sys.executable).parent / "support-console"
    text = (UNIT.read_text().replace("/opt/support-console/bin/support-console", str(script))
            .replace("User=support-console", "User=root").replace("Group=support-console", "Group=root"))
    path = tmp_path / "support-console-replicate.service"
    path.write_text(text)
    r = subprocess.run(["systemd-analyze", "verify", str(path)], capture_output=True, text=True, timeout=60)
    assert (r.returncode, r.stderr) == (0, "")
