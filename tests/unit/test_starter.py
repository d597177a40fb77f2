"""`support-console init` and `--version`; the starter and the README's sample pass every check but IMAP's.

`check` runs in-process with IMAP's connect replaced (the samples name mail.example.com, and tests send
nothing off the machine): every other line of its report must say ok.
"""
from __future__ import annotations

import json
import os
import re
import stat
from datetime import date
from importlib.metadata import version
from pathlib import Path

import pytest

from console import cli
from console.cli import checks
from console.config import load
from console import config as config_module
from console.intake import imap
from console.replies import smtp
from console.starter import WORDS, render

README = Path(__file__).resolve().parents[2] / "README.md"


def run(argv, capsys):
    code = cli.main(argv)
    out = capsys.readouterr()
    return code, out.out, out.err


def test_version(capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out == f"support-console {version('support-console')}\n"


def test_init_writes_a_private_starter_once(tmp_path, capsys):
    path = tmp_path / "new" / "config.toml"
    code, out, err = run(["init", str(path)], capsys)
    assert (code, err) == (0, "")
    assert out == f"wrote {path}: set [imap], [routing], [[staff]] and [oncall], then run `support-console check`\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600  # it will hold pager tokens
    assert path.read_text() == render(date.today())
    path.write_text("# mine\n")
    code, out, err = run(["init", str(path)], capsys)
    assert (code, out) == (73, "")
    assert err == f"support-console: {path} already exists; not overwritten (give another PATH, or edit it)\n"
    assert path.read_text() == "# mine\n"


def test_init_defaults_to_where_the_other_commands_look(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("SUPPORT_CONSOLE_CONFIG", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    code, out, _ = run(["init"], capsys)
    expected = tmp_path / "xdg" / "support-console" / "config.toml"
    assert code == 0 and out.startswith(f"wrote {expected}:") and expected.exists()
    monkeypatch.setenv("SUPPORT_CONSOLE_CONFIG", str(tmp_path / "env.toml"))
    assert run(["init"], capsys)[0] == 0 and (tmp_path / "env.toml").exists()


def readme_sample() -> str:
    text = README.read_text()
    section = text[text.index("## Configuration"):]
    return re.search(r"```toml\n(.*?)```", section, re.S).group(1)


@pytest.mark.parametrize("source", ["init", "readme"])
def test_the_sample_passes_every_check_but_the_imap_login(source, tmp_path, capsys, monkeypatch):
    conf = tmp_path / "config.toml"
    conf.write_text(render() if source == "init" else readme_sample())
    monkeypatch.setenv("IMAP_PASSWORD", "x")
    monkeypatch.setenv("SMTP_PASSWORD", "x")

    def no_network(cfg, password):
        raise imap.IntakeError(f"IMAP server {cfg.host}:{cfg.port}: not contacted by this test")

    def no_smtp(cfg):
        raise smtp.SmtpError(f"SMTP server {cfg.host}:{cfg.port}: not contacted by this test")

    monkeypatch.setattr(imap, "connect", no_network)
    monkeypatch.setattr(smtp, "check", no_smtp)
    cfg = load(conf, check_urls=True)  # apprise accepts every notify URL
    code = checks.run_check(cfg)
    lines = capsys.readouterr().out.splitlines()
    servers = 2 if cfg.smtp else 1
    assert code == 1 and lines[-1] == f"check: {servers} problem(s)"
    failed = [x for x in lines if "FAILED" in x or "NO " in x or "nobody" in x or "goes nowhere" in x]
    assert failed[0] == "imap: FAILED: IMAP server mail.example.com:993: not contacted by this test"
    assert failed[1:] == (["smtp: FAILED: SMTP server mail.example.com:587: not contacted by this test"]
                          if cfg.smtp else [])
    assert lines[0] == f"config: ok ({conf})" and lines[1].startswith("database: ok")
    assert [x.split(":")[0] for x in lines if x.startswith("target ")] == \
        [f"target {s.handle} ({s.role})" for s in cfg.staff]
    assert cfg.oncall.rotation and cfg.person(cfg.oncall.rotation[0]) is not None
    assert os.path.exists(cfg.store_path)


def test_the_starter_is_made_from_the_config_s_own_key_definitions():
    """Every key the config reads is in the starter (set or commented), with words; nothing else is."""
    known = {f"{table}.{key}" for table, cls, _ in config_module.TABLES for key, _ in config_module.table_keys(cls)}
    assert set(WORDS) == known
    text = render(date(2026, 12, 9))
    table = None
    seen = set()
    for line in text.splitlines():
        m = re.match(r"^(?:# )?\[\[?([A-Za-z_.]+)\]\]?", line)
        if m:
            table = m.group(1)
        m = re.match(r"^(?:# )?([A-Za-z_]+) = ", line)
        if m and table in {t for t, _, _ in config_module.TABLES}:
            seen.add(f"{table}.{m.group(1)}")
    assert seen == known


def test_the_starter_holds_every_table_a_desk_needs():
    cfg = config_module.from_dict(__import__("tomllib").loads(render(date(2026, 12, 9))))
    assert cfg.imap is not None and cfg.smtp is not None and cfg.smtp.from_addr == "support@example.com"
    assert "ack_base_url" in render() and "[replies]" in render()
    assert (cfg.oncall.anchor, cfg.oncall.rotation) == ("2026-12-09", ("ann", "bob"))
    assert cfg.sla.targets["I"].total_seconds() == 72 * 3600 and '\nI = "72h"' in render()


def test_commented_keys_show_values_the_config_accepts(tmp_path):
    """Switching on a commented key, as its line shows it, gives a config that loads (files aside)."""
    text = render(date(2026, 12, 9))
    table = None
    for line in text.splitlines():
        if re.match(r"^(?:# )?\[", line):
            table = line.lstrip("# ")
        m = re.match(r"^# ([A-Za-z_]+) = (.*?)(\s+#.*)?$", line)
        if not m or (table or "").startswith("[replicate]") or "." in (table or "") \
                or m.group(1) in ("ca_file", "templates", "password_command"):
            continue  # a file or directory that must exist; the other of two exclusive keys
        switched = text.replace(line, f"{m.group(1)} = {m.group(2)}", 1)
        config_module.from_dict(__import__("tomllib").loads(switched), path=tmp_path / "config.toml")


@pytest.mark.parametrize("day", range(7))
def test_a_fresh_init_pages_rotation_zero_and_one_all_week(day, tmp_path, capsys):
    """Issue 19 item 9: `init` sets start to today; `oncall` then says rotation[0] is primary and
    rotation[1] secondary on that day at every time of day, whatever the weekday, until the next handoff."""
    from datetime import datetime, time, timedelta

    today = date(2026, 3, 2) + timedelta(days=day)  # Monday 2 March 2026 .. Sunday 8 March
    text = render(today).replace('rotation = ["ann", "bob"]', 'rotation = ["ann", "bob", "cy"]').replace(
        "[oncall]", '[[staff]]\nhandle = "cy"\nname = "Cy Example"\nnotify = ["ntfy://ntfy.example.com/cy"]\n\n[oncall]')
    conf = tmp_path / "config.toml"
    conf.write_text(text)
    cfg = load(conf)
    assert cfg.oncall.rotation == ("ann", "bob", "cy") and cfg.oncall.anchor == today.isoformat()
    midnight = datetime.combine(today, time(0), tzinfo=cfg.timezone)
    for at in [*(midnight + timedelta(hours=h) for h in range(24)), midnight + timedelta(hours=8, minutes=59),
               midnight + timedelta(hours=23, minutes=59, seconds=59)]:
        assert checks.show_oncall(cfg, at, as_json=True) == 0
        got = json.loads(capsys.readouterr().out)
        assert (got["primary"], got["secondary"]) == ("ann", "bob"), at
        # the next handoff hands to rotation[1], on a handoff day after today
        first = got["handoffs"][0]
        assert (first["primary"], first["secondary"]) == ("bob", "cy")
        handoff = datetime.fromisoformat(first["at"]).astimezone(cfg.timezone)
        assert handoff.date() > today and handoff.strftime("%a %H:%M") == "Mon 09:00"
