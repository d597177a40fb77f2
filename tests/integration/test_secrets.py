"""Notify URLs' secrets stay in the config file (issue 12, item 4).

Tokens sit where apprise URLs keep them: a json:// path and query string, a form:// path, a password,
a desk channel's path, heartbeat_url's path. After real pages (to a real HTTP receiver), a failed page
(to a closed port) and a test page, the database file (with its WAL) and the output of every command
hold none of them.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.integration.helpers import free_port, run_cli, toml_str

pytestmark = pytest.mark.integration

TOKENS = {
    "path": "PathTok3n7f3a9c", "query": "QueryTok3n41d2e", "form": "FormTok3n9b8a7c", "password": "PassTok3n5e6f7a",
    "dead": "DeadTok3n1c2d3e", "channel": "ChanTok3n8e9f0a", "heartbeat": "BeatTok3n2b3c4d",
}
URGENT_MAIL = (b"From: Carl <carl@cust.example>\r\nTo: urgent@desk.example\r\nSubject: DNS is down\r\n"
               b"Message-ID: <dns@cust.example>\r\n\r\nNothing resolves.\r\n")


def write_desk(tmp_path: Path, port: int) -> Path:
    t = TOKENS
    dead = free_port()
    conf = tmp_path / "config.toml"
    conf.write_text(f"""\
[store]
path = "support.db"

[routing]
urgent = ["urgent@desk.example"]
support = ["support@desk.example"]

[alerts]
max_attempts = 1
send_timeout_seconds = 5
channels = [{toml_str(f"json://127.0.0.1:{port}/{t['channel']}")}]
heartbeat_url = {toml_str(f"http://127.0.0.1:{dead}/ping/{t['heartbeat']}")}

[[staff]]
handle = "ann"
role = "supervisor"
notify = [{toml_str(f"json://127.0.0.1:{port}/{t['path']}?token={t['query']}")}]

[[staff]]
handle = "bob"
notify = [{toml_str(f"form://127.0.0.1:{port}/{t['form']}")},
          {toml_str(f"json://desk:{t['password']}@127.0.0.1:{dead}/{t['dead']}")}]

[oncall]
rotation = ["ann", "bob"]

[console]
operator = "ann"
""")
    return conf


def test_no_token_reaches_the_database_or_any_output(tmp_path, http_receiver):
    conf = write_desk(tmp_path, http_receiver.port)
    outputs = []

    def run(*args, **kw):
        r = run_cli(conf, *args, **kw)
        outputs.append((args, r.stdout + r.stderr))
        return r

    assert run("ingest", input=URGENT_MAIL).returncode == 0
    r = run("poll", "--once", "-v")
    assert r.returncode == 0, r.stderr
    paths = {rec.path.split("?")[0] for rec in http_receiver.wait_for(3, timeout=10)}
    assert {f"/{TOKENS['path']}", f"/{TOKENS['form']}", f"/{TOKENS['channel']}"} <= paths  # the pages went out
    assert run("test-page", "bob").returncode == 1  # one of bob's two services is down
    for args in (("alerts",), ("alerts", "--json"), ("show", "1"), ("show", "1", "--json"), ("tickets", "--json"),
                 ("check",), ("oncall",), ("test-page", "ann"), ("test-page", "team")):
        run(*args)
    alerts = json.loads(run("alerts", "--json").stdout)
    results = [x for a in alerts for x in a["results"]]
    assert {x["ok"] for x in results} == {True, False} and all("#" in x["service"] for x in results)
    assert any(a["last_error"] for a in alerts)  # bob's page failed on one service: its error is shown

    blob = b"".join(p.read_bytes() for p in tmp_path.glob("support.db*"))
    text = "\n".join(f"$ {' '.join(a)}\n{out}" for a, out in outputs)
    for what, token in TOKENS.items():
        assert token.encode() not in blob, f"the {what} token is in the database"
        assert token not in text, f"the {what} token was printed:\n{text}"
    assert "127.0.0.1" in text  # the host is still shown
