"""console.log_later: `ingest` loads logging at its first line, and that line is what console.logs makes of it."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "AnnPagerToken42"

CONFIG = f'''[store]
path = "support.db"
[routing]
support = ["support@desk.example"]
[[staff]]
handle = "ann"
role = "supervisor"
notify = ["ntfys://ntfy.example.com/{TOKEN}"]
'''


def run(tmp_path: Path, code: str) -> subprocess.CompletedProcess:
    (tmp_path / "config.toml").write_text(CONFIG)
    prelude = ("import sys; from pathlib import Path; from console import config, log_later;"
               " cfg = config.load(Path('config.toml'), check_urls=False);")
    return subprocess.run([sys.executable, "-c", prelude + code], cwd=tmp_path, capture_output=True, text=True,
                          timeout=60, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})


def test_the_first_line_sets_logging_up_with_the_configs_secrets_masked(tmp_path):
    r = run(tmp_path, "log_later.set_up(log_later.WARNING, later=True); log_later.keep_secrets_of(cfg);"
                      " print('logging' in sys.modules, 'console.logs' in sys.modules);"
                      " log = log_later.Logger('support_console.intake'); log.info('not shown');"
                      f" log.warning('page to %s refused', 'ntfys://ntfy.example.com/{TOKEN}');"
                      " log.warning('again')")
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["False", "False"]  # nothing loaded until a line is logged
    lines = r.stderr.splitlines()
    assert len(lines) == 2, r.stderr  # the INFO line is below the level; one handler, however many lines
    assert lines[0].endswith("WARNING support_console.intake: page to *** refused")
    assert lines[1].endswith("WARNING support_console.intake: again")
    assert TOKEN not in r.stderr


def test_an_error_printed_before_any_line_is_masked_too(tmp_path):
    # cli.main runs log_later.now() before printing an error: logs.redact() then knows the config's secrets.
    r = run(tmp_path, "log_later.set_up(log_later.WARNING, later=True); log_later.keep_secrets_of(cfg);"
                      " from console import logs; print(logs.redact('before: " + TOKEN + "'));"
                      " log_later.now(); print(logs.redact('after: " + TOKEN + "'))")
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == [f"before: {TOKEN}", "after: ***"]


def test_every_other_command_sets_up_at_once(tmp_path):
    # As every other command, and after an ingest in the same process (tests run several) that logged nothing.
    r = run(tmp_path, "from console import logs; log_later.set_up(log_later.WARNING, later=True);"
                      " log_later.set_up(log_later.WARNING); print('logging' in sys.modules);"
                      " log_later.keep_secrets_of(cfg); print(logs.redact('" + TOKEN + "'));"
                      " log_later.Logger('support_console.mail').warning('x')")
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["True", "***"]
    assert r.stderr.strip().endswith("WARNING support_console.mail: x")
