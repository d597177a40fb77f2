"""Files holding mail are never world-readable, and a database this account cannot write says so plainly."""
import os
import shutil
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from console.locks import mailbox_lock
from store import open_db, write
from store.db import StoreError, prepare_files
from tests.factories import desk_config

ROOT = Path(__file__).resolve().parents[2]


def mode(p) -> int:
    return stat.S_IMODE(os.stat(p).st_mode)


def test_database_wal_shm_and_lock_files_have_no_world_access(tmp_path):
    old = os.umask(0o022)  # the usual umask, which made them 0644
    try:
        db = open_db(tmp_path / "support.db")
        with write(db):
            db.execute("INSERT INTO heartbeats (name, at) VALUES ('x', 'y')")
        lock = mailbox_lock(tmp_path / "support.db", "acct", "INBOX").acquire()
        lock.release()
    finally:
        os.umask(old)
    files = sorted(tmp_path.iterdir())
    assert {f.name.split(".", 1)[1][:6] for f in files} >= {"db", "db-wal", "db-shm", "db.pol"}
    for f in files:
        assert mode(f) == 0o660, (f.name, oct(mode(f)))  # owner and the desk's group, never the world


def test_world_access_is_taken_away_from_an_existing_database(tmp_path):
    path = tmp_path / "support.db"
    open_db(path).close()
    os.chmod(path, 0o644)
    open_db(path).close()
    assert mode(path) == 0o640


def _python_for(account: str) -> list[str] | None:
    """An interpreter command that `account` can run with this checkout and its packages (the test's own
    interpreter may live where only root can reach it, as pyenv's under /root does)."""
    site = next(p for p in sys.path if p.endswith("site-packages") and Path(p).is_dir())
    path = f"import sys; sys.path[:0] = [{str(ROOT)!r}, {site!r}]; "
    for exe in (sys.executable, "/usr/bin/python3"):
        ok = subprocess.run(["runuser", "-u", account, "--", exe, "-c", path + "import console.cli, sqlite_utils"],
                            capture_output=True, timeout=60, cwd="/", env={"PATH": os.environ["PATH"]})
        if ok.returncode == 0:
            return [exe, "-c", path + "from console.cli import main; sys.exit(main())"]
    return None


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("runuser") is None, reason="needs root and runuser")
def test_a_database_owned_by_another_account_gives_one_line_naming_the_owner_and_the_fix():
    python = _python_for("nobody")
    if python is None:
        pytest.skip("no interpreter that the account nobody can run with this checkout")
    d = Path(tempfile.mkdtemp(prefix="sc-owner-"))
    try:
        os.chmod(d, 0o755)  # nobody may enter, not write
        cfg = d / "config.toml"
        cfg.write_text(f'[store]\npath = "{d / "support.db"}"\n')
        os.chmod(cfg, 0o644)
        open_db(d / "support.db").close()  # root's, 0660
        r = subprocess.run(["runuser", "-u", "nobody", "--", *python, "--config", str(cfg), "ingest"],
                           input=b"From: a@b.example\r\nSubject: x\r\n\r\nbody\r\n", capture_output=True,
                           cwd="/", timeout=60, env={"PATH": os.environ["PATH"]})
        err = r.stderr.decode()
        assert r.returncode == 75, err  # the MTA keeps the mail and retries once an operator fixed it
        assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
        assert "owned by root" in err and "nobody is neither its owner nor in its group" in err, err
        assert "chown nobody" in err, err
    finally:
        shutil.rmtree(d, ignore_errors=True)


def test_a_database_with_the_right_owner_and_the_wrong_mode_says_so():
    # Issue 21: this used to say "is owned by nobody ... fix: chown nobody" when the owner was already right.
    python = _python_for("nobody")
    if python is None:
        pytest.skip("no interpreter that the account nobody can run with this checkout")
    d = Path(tempfile.mkdtemp(prefix="sc-mode-"))
    try:
        cfg = d / "config.toml"
        cfg.write_text(f'[store]\npath = "{d / "support.db"}"\n')
        os.chmod(cfg, 0o644)
        open_db(d / "support.db").close()
        for p in (d, *d.glob("support.db*")):
            os.chown(p, 65534, 65534)
        os.chmod(d, 0o755)
        os.chmod(d / "support.db", 0o440)
        r = subprocess.run(["runuser", "-u", "nobody", "--", *python, "--config", str(cfg), "ingest"],
                           input=b"From: a@b.example\r\nSubject: x\r\n\r\nbody\r\n", capture_output=True,
                           cwd="/", timeout=60, env={"PATH": os.environ["PATH"]})
        err = r.stderr.decode()
        assert r.returncode == 75, err
        assert "owned by nobody, but its mode 0440" in err and "chmod u+rw" in err and "chown" not in err, err
    finally:
        shutil.rmtree(d, ignore_errors=True)


def test_prepare_files_refuses_a_directory_it_cannot_create_in(tmp_path, monkeypatch):
    monkeypatch.setattr(os, "open", lambda *a, **k: (_ for _ in ()).throw(PermissionError(13, "denied")))
    with pytest.raises(StoreError, match="cannot create the database in"):
        prepare_files(tmp_path / "new.db")


def test_debug_output_never_changes_the_exit_status(tmp_path, monkeypatch, capsys):
    import io

    from console import cli

    cfg = desk_config(tmp_path)
    conf = tmp_path / "config.toml"
    conf.write_text(f'[store]\npath = "{tmp_path / "gone" / "support.db"}"\n')  # its directory is missing
    for debug in ("", "1"):
        monkeypatch.setenv("SUPPORT_CONSOLE_DEBUG", debug)
        monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"Subject: x\r\n\r\nbody\r\n")))
        assert cli.main(["--config", str(conf), "ingest"]) == 75
        err = capsys.readouterr().err
        assert "database directory does not exist" in err
        assert ("Traceback" in err) == bool(debug)
    assert cfg  # (the fixture's config is unused: the bad one above is what ingest reads)
