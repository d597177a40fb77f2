"""Helpers for the mail-intake integration tests: a config for a Dovecot fixture, the CLI as a
subprocess (one-shot or a background poller), and read-only looks into the SQLite file.

No mocks: the CLI runs as a real process against a real Dovecot; tests wait for effects with a
bounded poll loop on the database, never by sleeping for a fixed time.
"""
from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from tests.servers import free_port

PASSWORD_ENV = "SC_TEST_IMAP_PASSWORD"
DESK_PASSWORD = "secret"  # tests.servers.dovecot.Dovecot.password

_EXE = Path(sys.executable).parent / "support-console"
CLI = [str(_EXE)] if _EXE.exists() else [sys.executable, "-c", "import sys; from console.cli import main; "
                                                              "sys.exit(main())"]


def toml_str(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def write_config(tmp: Path, *, port: int, store: str | Path | None = None, folder: str = "INBOX",
                 max_message_size: str | None = "64KB", notify_url: str | None = None, imap_extra: str = "",
                 top_extra: str = "", name: str = "config.toml", security: str = "none",
                 port_literal: str | None = None) -> Path:
    """A complete config for the Dovecot fixture (user desk, password from $SC_TEST_IMAP_PASSWORD).

    Staff get a json:// pager URL: `notify_url` (e.g. an http_receiver URL) or, by default, one on a port
    nobody listens on, so pages fail fast with "connection refused" and never leave the machine.
    `port_literal` replaces the port value verbatim (for bad-config tests such as '"abc"')."""
    tmp = Path(tmp)
    store = Path(store) if store is not None else tmp / "support.db"
    notify = notify_url or f"json://127.0.0.1:{free_port()}/pager"
    size = f"max_message_size = {toml_str(max_message_size)}\n" if max_message_size else ""
    text = f"""\
timezone = "UTC"
{top_extra}
[store]
path = {toml_str(str(store))}

[imap]
host = "127.0.0.1"
port = {port_literal if port_literal is not None else port}
security = {toml_str(security)}
username = "desk"
password_env = "{PASSWORD_ENV}"
folder = {toml_str(folder)}
timeout_seconds = 10
{size}{imap_extra}

[routing]
urgent = ["urgent@example.com"]
support = ["support@example.com"]

[alerts]
max_attempts = 1
send_timeout_seconds = 5

[[staff]]
handle = "ann"
name = "Ann Example"
role = "supervisor"
notify = [{toml_str(notify)}]

[[staff]]
handle = "bob"
name = "Bob Example"
role = "staff"
notify = [{toml_str(notify)}]

[oncall]
rotation = ["ann", "bob"]
handoff = "mon 09:00"
"""
    path = tmp / name
    path.write_text(text)
    return path


def cli_env(password: str | None = DESK_PASSWORD, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("SUPPORT_CONSOLE_CONFIG", "SUPPORT_CONSOLE_DEBUG", PASSWORD_ENV)}
    env["PYTHONUNBUFFERED"] = "1"
    if password is not None:
        env[PASSWORD_ENV] = password
    env.update(extra)
    return env


def run_cli(config: Path | None, *args: str, input: bytes | None = None, env: dict | None = None,
            timeout: float = 120) -> subprocess.CompletedProcess:
    """`support-console --config CONFIG ARGS...`; stdout/stderr as text (undecodable bytes replaced)."""
    cmd = [*CLI, *(["--config", str(config)] if config is not None else []), *args]
    p = subprocess.run(cmd, input=input, capture_output=True, timeout=timeout, env=env or cli_env())
    return subprocess.CompletedProcess(p.args, p.returncode, p.stdout.decode("utf-8", "replace"),
                                       p.stderr.decode("utf-8", "replace"))


@dataclass
class Poller:
    """`support-console poll` running in the background; output goes to a log file (no pipe to fill up)."""

    config: Path
    log_path: Path
    env: dict = field(default_factory=cli_env)
    proc: subprocess.Popen | None = None

    def start(self) -> "Poller":
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen([*CLI, "--config", str(self.config), "poll"], stdin=subprocess.DEVNULL,
                                     stdout=self._log, stderr=subprocess.STDOUT, env=self.env)
        return self

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def log(self) -> str:
        try:
            return self.log_path.read_bytes().decode("utf-8", "replace")
        except OSError:
            return ""

    def kill(self) -> None:
        """SIGKILL: a crash, no clean-up of any kind."""
        if self.alive():
            self.proc.send_signal(signal.SIGKILL)
        if self.proc is not None:
            self.proc.wait(timeout=10)
        self._close()

    def terminate(self, timeout: float = 10.0) -> int:
        """SIGTERM and wait; SIGKILL if it does not stop in time (then the test should fail on the code)."""
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)
            rc = None
        self._close()
        return rc

    def _close(self) -> None:
        log = getattr(self, "_log", None)
        if log is not None and not log.closed:
            log.close()


def start_poller(config: Path, log_path: Path, env: dict | None = None) -> Poller:
    return Poller(config, log_path, env or cli_env()).start()


class Pollers:
    """Every background poller of a test, so a finalizer can stop them all (by their own pid)."""

    def __init__(self, tmp: Path):
        self.tmp, self.all = Path(tmp), []

    def start(self, config: Path, env: dict | None = None) -> Poller:
        p = start_poller(config, self.tmp / f"poller-{len(self.all)}.log", env)
        self.all.append(p)
        return p

    def stop_all(self) -> None:
        for p in self.all:
            if p.alive():
                p.kill()
            p._close()


def wait_until(predicate: Callable[[], object], timeout: float, what: str, interval: float = 0.05,
               alive: Callable[[], bool] | None = None):
    """Poll `predicate` until it returns something truthy; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if alive is not None and not alive():
            raise AssertionError(f"process died while waiting for {what}")
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


# --- looking into the database (read-only, its own connection) ---------------------------------

def db_connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=15)
    conn.execute("PRAGMA busy_timeout = 15000")
    return conn


def query(path: Path, sql: str, params=()) -> list[tuple]:
    if not Path(path).exists():
        return []
    conn = db_connect(path)
    try:
        return conn.execute(sql, params).fetchall()
    except sqlite3.OperationalError as exc:
        if "no such table" in str(exc):
            return []
        raise
    finally:
        conn.close()


def scalar(path: Path, sql: str, params=()):
    rows = query(path, sql, params)
    return rows[0][0] if rows else None


def count(path: Path, table: str) -> int:
    return scalar(path, f"SELECT count(*) FROM {table}") or 0


def mail(i: int | str, *, subject: str | None = None, frm: str = "cust@customer.example",
         to: str = "support@example.com", msgid: str | None = None, extra: str = "", body: str | None = None) -> bytes:
    msgid = msgid if msgid is not None else f"<m{i}@customer.example>"
    head = (f"From: Customer {i} <{frm}>\r\nTo: {to}\r\nSubject: {subject or f'test {i}'}\r\n"
            f"Date: Mon, 02 Mar 2026 10:00:00 +0000\r\n")
    if msgid:
        head += f"Message-ID: {msgid}\r\n"
    head += "".join(f"{h}\r\n" for h in extra.splitlines() if h)
    return (head + "\r\n" + (body if body is not None else f"body of message {i}\r\n")).encode()


def server_raws(dovecot, folder: str = "INBOX") -> dict[int, bytes]:
    """UID -> the bytes the server serves (BODY.PEEK[]), from a separate client."""
    c = dovecot.client()
    try:
        c.select_folder(folder, readonly=True)
        uids = c.search(["ALL"])
        out = {}
        for i in range(0, len(uids), 500):
            data = c.fetch(uids[i:i + 500], [b"BODY.PEEK[]"])
            out.update({u: bytes(d[b"BODY[]"]) for u, d in data.items()})
        return out
    finally:
        c.logout()


def server_flags(dovecot, folder: str = "INBOX") -> dict[int, tuple]:
    c = dovecot.client()
    try:
        c.select_folder(folder, readonly=True)
        uids = c.search(["ALL"])
        return dict(c.get_flags(uids)) if uids else {}
    finally:
        c.logout()
