"""apprise's own log lines go through our masking (issue 20, item 4): a notify URL that apprise refuses is
quoted in its complaint ("Could not load Slack URL: slack://T…/B…", "Unparseable Telegram URL tgram://…"),
in `poll`, `check`, `test-page` and on a reload of a running poller. None of its secrets may show."""
from __future__ import annotations

import signal
import subprocess
from pathlib import Path

import pytest

from tests.integration.helpers import CLI, REPO, cli_env, run_cli, toml_str, wait_until

pytestmark = pytest.mark.integration

# URLs that apprise 2.3 refuses and quotes whole in its complaint (it shortens some others itself).
SECRETS = ("T0SECRETAAA", "B0SECRETBBB", "D1SECRETdisc", "TGSECRETTOKEN")
REFUSED = ["slack://T0SECRETAAA/B0SECRETBBB", "discord://D1SECRETdisc/", "tgram://TGSECRETTOKEN/123"]


def write(conf: Path, notify: list[str]) -> None:
    conf.write_text(f"""\
[store]
path = "support.db"

[routing]
urgent = ["urgent@desk.example"]
support = ["support@desk.example"]

[[staff]]
handle = "ann"
role = "supervisor"
notify = [{", ".join(toml_str(u) for u in notify)}]

[oncall]
rotation = ["ann"]

[console]
operator = "ann"
""")


@pytest.mark.parametrize("url", REFUSED)
@pytest.mark.parametrize("command", [("check",), ("poll", "--once"), ("test-page", "ann")])
def test_a_refused_url_is_masked_in_apprises_complaint(tmp_path, command, url):
    conf = tmp_path / "config.toml"
    write(conf, [url])
    r = run_cli(conf, *command)
    out = r.stdout + r.stderr
    assert r.returncode == 78 and "apprise cannot use this" in out, out
    assert "ERROR apprise: " in out  # apprise did complain, in our log format
    for s in SECRETS:
        assert s not in out, out


def test_a_refused_url_on_reload_is_masked(tmp_path, http_receiver):
    conf = tmp_path / "config.toml"
    write(conf, [http_receiver.url("/GoodPathTok")])
    log = tmp_path / "poller.log"
    with open(log, "wb") as f:
        proc = subprocess.Popen([*CLI, "--config", str(conf), "poll"], stdin=subprocess.DEVNULL, stdout=f, stderr=f,
                                env=cli_env(), cwd=REPO, start_new_session=True)
    try:
        wait_until(lambda: "scheduler" in log.read_text() or "poller" in log.read_text(), 30, "the poller's start")
        write(conf, REFUSED)
        proc.send_signal(signal.SIGHUP)
        wait_until(lambda: "config reload failed" in log.read_text(), 20, "the failed reload in the log")
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=20)
    text = log.read_text()
    assert "Could not load Slack URL: slack://" in text, text  # apprise's own line, masked
    for s in (*SECRETS, "GoodPathTok"):
        assert s not in text, text
