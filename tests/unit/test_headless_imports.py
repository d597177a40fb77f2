"""The poller runs on servers without a terminal: nothing outside console/ui may import Textual."""
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def headless_modules() -> list[str]:
    mods = []
    for pkg in ("store", "console"):
        for path in sorted((ROOT / pkg).rglob("*.py")):
            rel = path.relative_to(ROOT).with_suffix("")
            parts = rel.parts
            skipped = rel.name in ("screenshots", "serve", "__main__")  # (__main__ runs the CLI when imported)
            if parts[:2] in (("console", "ui"), ("console", "demo")) or skipped:
                continue
            if parts[-1] == "__init__":
                parts = parts[:-1]
            mods.append(".".join(parts))
    return mods


def test_headless_modules_do_not_import_textual():
    mods = headless_modules()
    assert "console.poller" in mods and "store.db" in mods and "console.cli" in mods
    code = (
        "import importlib, sys\n"
        f"for m in {mods!r}:\n"
        "    importlib.import_module(m)\n"
        "bad = sorted(m for m in sys.modules if m == 'textual' or m.startswith('textual.') or m == 'rich'"
        " or m.startswith('rich.'))\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "", f"headless import pulled in: {out.stdout.strip()}"


def test_the_check_can_fail():
    # Guard against a check that never fails: importing the UI must show up as Textual.
    code = "import sys, console.ui.app; print('textual' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "True", out.stderr


def _imported_by(module: str) -> set[str]:
    code = f"import sys, {module}; print(','.join(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return set(out.stdout.strip().split(","))


def test_ingest_imports_only_what_filing_needs():
    # An MTA starts one `ingest` process per mail: no poller, pager library or IMAP client on that path.
    heavy = {"apprise", "imapclient", "console.poller", "console.outbox.pages", "console.intake.watch", "textual"}
    assert heavy & _imported_by("console.poller")  # the check can fail
    code = ("import sys, io; from console import cli; sys.stdin = io.TextIOWrapper(io.BytesIO(b''));"
            " cli.main(['--config', '/nonexistent/config.toml', 'ingest'])")
    out = subprocess.run([sys.executable, "-c", code + "; print(','.join(sorted(sys.modules)))"], cwd=ROOT,
                         capture_output=True, text=True, timeout=60)
    assert "no message on stdin" in out.stderr
    assert not heavy & set(out.stdout.strip().split(","))
    code = ("import sys; from console import cli, config; from console.intake import pipeline;"
            " print(','.join(sorted(sys.modules)))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert not heavy & set(out.stdout.strip().split(","))


def _commands_modules(tmp_path, stdin: bytes, *args: str) -> tuple[subprocess.CompletedProcess, set[str]]:
    conf = tmp_path / "config.toml"
    conf.write_text('[store]\npath = "support.db"\n\n[routing]\nsupport = ["support@desk.example"]\n\n'
                    '[[staff]]\nhandle = "ann"\nrole = "supervisor"\nnotify = ["json://127.0.0.1:9/ann"]\n')
    code = (f"import sys, io; from console import cli; sys.stdin = io.TextIOWrapper(io.BytesIO({stdin!r}));"
            f" rc = cli.main(['--config', {str(conf)!r}, *{list(args)!r}]);"
            " print(rc, ','.join(sorted(sys.modules)))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    rc, _, mods = out.stdout.strip().rpartition("\n")[2].partition(" ")
    return out, set(mods.split(",")) | {f"rc={rc}"}


def test_ingest_files_a_real_mail_without_the_pager_library(tmp_path):
    # All the way through loading the config and filing: no apprise URL check, no poller.
    mail = b"From: carl@cust.example\r\nTo: support@desk.example\r\nSubject: hi\r\n\r\nbody\r\n"
    out, mods = _commands_modules(tmp_path, mail, "ingest")
    assert "rc=0" in mods and "new (ticket #1)" in out.stdout, out.stderr
    assert not {"apprise", "imapclient", "console.poller", "textual"} & mods
    # Nor what only other mail or other commands need (issue 22: ingest under 100 ms): the version and
    # sqlite-utils' plugin scan (importlib.metadata), replies to pages, the reply commands and their mail.
    assert not {"importlib.metadata", "console.intake.page_replies", "console.cli.replies", "console.replies.desk",
                "console.replies.compose", "console.actions"} & mods
    # Nor the call-me reading for mail that mentions no call, or the row shapes kept for the type checker.
    assert not {"console.intake.call_request", "store.rows"} & mods


def test_reading_commands_skip_the_pager_library_and_check_does_not(tmp_path):
    out, mods = _commands_modules(tmp_path, b"", "tickets")
    assert "rc=0" in mods and "apprise" not in mods and "console.poller" not in mods, out.stderr
    out, mods = _commands_modules(tmp_path, b"", "check")
    assert "apprise" in mods  # check asks apprise about every notify URL
