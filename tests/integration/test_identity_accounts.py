"""Identity with real operating-system accounts (issue 12): `[[staff]] login` maps an account to a handle.

As root, the test adds a group and three accounts (ann, a supervisor; bob, staff; eve, in the desk's
group but with no [[staff]] entry), runs the real CLI as each with runuser, and removes them afterwards.
Elsewhere the uid is injected (tests/unit/test_identity.py).
"""
from __future__ import annotations

import json
import os
import secrets
import shutil
import site
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from tests.integration.helpers import CLI, REPO, cli_env, toml_str

pytestmark = pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("useradd") or not shutil.which("runuser"),
                                reason="needs root, useradd and runuser")


def _run(*cmd: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, capture_output=True, text=True, check=check)


@pytest.fixture
def accounts(request):
    tag = secrets.token_hex(3)
    group = f"scdesk{tag}"
    names = {h: f"sc{h}{tag}" for h in ("ann", "bob", "eve")}
    _run("groupadd", group)
    request.addfinalizer(lambda: _run("groupdel", group, check=False))
    for login in names.values():
        _run("useradd", "-M", "-N", "-g", group, "-s", "/usr/sbin/nologin", login)
        request.addfinalizer(lambda login=login: _run("userdel", login, check=False))
    return group, names


@pytest.fixture
def desk(accounts, request):
    """A desk directory that the group shares (setgid, not world-readable), with a config and one ticket."""
    group, names = accounts
    root = Path(tempfile.mkdtemp(prefix="sc-identity-"))
    request.addfinalizer(lambda: shutil.rmtree(root, ignore_errors=True))
    os.chmod(root, 0o711)  # mkdtemp's parent is /tmp; the desk itself is below
    d = root / "desk"
    d.mkdir()
    shutil.chown(d, group=group)
    os.chmod(d, 0o2770)
    cfg = d / "config.toml"
    cfg.write_text(f"""\
[store]
path = "support.db"

[routing]
urgent = ["urgent@desk.example"]
support = ["support@desk.example"]

[[staff]]
handle = "ann"
role = "supervisor"
login = {toml_str(names["ann"])}
notify = ["json://127.0.0.1:9/ann"]

[[staff]]
handle = "bob"
login = {toml_str(names["bob"])}
notify = ["json://127.0.0.1:9/bob"]

[[staff]]
handle = "cy"
notify = ["json://127.0.0.1:9/cy"]

[oncall]
rotation = ["ann", "bob"]
""")
    shutil.chown(cfg, group=group)
    os.chmod(cfg, 0o640)
    raw = b"From: Carl <carl@cust.example>\r\nTo: support@desk.example\r\nSubject: Printer\r\n\r\nIt is on fire.\r\n"
    r = as_root(cfg, "ingest", input=raw)
    assert r.returncode == 0, r.stderr
    for f in d.iterdir():  # the database and its -wal/-shm, created by root here
        shutil.chown(f, group=group)
        os.chmod(f, 0o660)
    return cfg, names


def as_root(cfg: Path, *args: str, input: bytes | None = None) -> subprocess.CompletedProcess:
    p = subprocess.run([*CLI, "--config", str(cfg), *args], input=input, capture_output=True, env=cli_env(),
                       cwd=REPO)
    return subprocess.CompletedProcess(p.args, p.returncode, p.stdout.decode(), p.stderr.decode())


def _reachable(login: str, path: str) -> bool:
    return subprocess.run(["runuser", "-u", login, "--", "test", "-x", path]).returncode == 0


def user_cli(login: str) -> tuple[list[str], dict[str, str]]:
    """The CLI as another account runs it. A virtualenv whose interpreter lives under /root (pyenv) is not
    executable by other accounts: then the system's Python of the same version runs this checkout with the
    virtualenv's packages on its path."""
    if _reachable(login, os.path.realpath(sys.executable)):
        return CLI, cli_env()
    system = f"/usr/bin/python{sys.version_info.major}.{sys.version_info.minor}"
    if not _reachable(login, system):
        pytest.skip(f"no Python {sys.version_info.major}.{sys.version_info.minor} that other accounts can run")
    path = os.pathsep.join([str(REPO), *site.getsitepackages()])
    return [system, "-c", "import sys; from console.cli import main; sys.exit(main())"], cli_env(PYTHONPATH=path)


def as_user(login: str, cfg: Path, *args: str, user_env: str | None = None) -> subprocess.CompletedProcess:
    cli, env = user_cli(login)
    env_prefix = ["env", f"USER={user_env}"] if user_env else []
    return subprocess.run(["runuser", "-u", login, "--", *env_prefix, *cli, "--config", str(cfg), *args],
                          capture_output=True, text=True, env=env, cwd="/")


def events(cfg: Path) -> list[tuple[str, str]]:
    r = as_root(cfg, "show", "1", "--json")
    assert r.returncode == 0, r.stderr
    return [(e["kind"], e["actor"]) for e in json.loads(r.stdout)["events"]]


def test_each_account_acts_as_its_own_handle_whatever_user_says(desk):
    cfg, names = desk
    r = as_user(names["bob"], cfg, "take", "1", user_env=names["ann"])
    assert (r.returncode, r.stdout, r.stderr) == (0, "#1 is now assigned to bob\n", "")
    assert events(cfg)[-1] == ("taken", "bob")


def test_staff_may_not_act_for_someone_else(desk):
    cfg, names = desk
    r = as_user(names["bob"], cfg, "--as", "ann", "resolve", "1")
    assert r.returncode == 77
    assert r.stderr == (f"support-console: --as ann: only a supervisor or root may act for someone else "
                        f"(login {names['bob']} is bob, staff)\n")
    assert events(cfg)[-1][0] != "resolved"


def test_a_supervisor_acts_for_someone_and_both_are_recorded(desk):
    cfg, names = desk
    r = as_user(names["ann"], cfg, "--as", "bob", "ack", "1")
    assert (r.returncode, r.stdout) == (0, "#1 acknowledged by ann as bob; pages stopped\n"), r.stderr
    assert events(cfg)[-1] == ("acknowledged", "ann as bob")


def test_an_account_without_an_entry_reads_but_cannot_act(desk):
    cfg, names = desk
    eve = names["eve"]
    r = as_user(eve, cfg, "tickets", "--json")
    assert r.returncode == 0, r.stderr
    assert [t["id"] for t in json.loads(r.stdout)] == [1]
    why = f'login {eve} has no [[staff]] entry (login = "{eve}"); it may only read'
    r = as_user(eve, cfg, "take", "1")
    assert (r.returncode, r.stderr) == (77, f"support-console: {why}\n")
    r = as_user(eve, cfg, "--as", "cy", "take", "1")
    assert (r.returncode, r.stderr) == (77, f"support-console: --as cy: {why}\n")
    assert "taken" not in [kind for kind, _ in events(cfg)]


def test_root_may_act_for_anyone(desk):
    cfg, _ = desk
    r = as_root(cfg, "--as", "cy", "take", "1")
    assert (r.returncode, r.stdout) == (0, "#1 is now assigned to cy\n"), r.stderr
    assert events(cfg)[-1] == ("taken", "root as cy")
