"""Helpers for the integration tests (intake and pages) and the benchmarks: the CLI as a subprocess
(one-shot or a background poller), waiting for effects, read-only looks into the SQLite file, test mail,
and the intake tests' config for a Dovecot fixture (the paging tests' desk is in alerts_helpers.py).

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
from datetime import datetime, UTC
from email.utils import format_datetime
from pathlib import Path
from typing import Any
from collections.abc import Callable, Iterable

from tests.servers import free_port
import contextlib

REPO = Path(__file__).resolve().parents[2]
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


def run_cli(config: Path | None, *args: str, actor: str | None = None, input: bytes | None = None,
            env: dict | None = None, timeout: float = 120, check: bool = False) -> subprocess.CompletedProcess:
    """`support-console --config CONFIG [--as ACTOR] ARGS...`; stdout/stderr as text (undecodable bytes
    replaced). With `check`, a non-zero exit fails the test (with both outputs)."""
    cmd = [*CLI, *(["--config", str(config)] if config is not None else []), *(["--as", actor] if actor else []),
           *args]
    p = subprocess.run(cmd, input=input, capture_output=True, timeout=timeout, env=env or cli_env(), cwd=REPO)
    r = subprocess.CompletedProcess(p.args, p.returncode, p.stdout.decode("utf-8", "replace"),
                                    p.stderr.decode("utf-8", "replace"))
    if check and r.returncode != 0:
        raise AssertionError(f"{' '.join(cmd[len(CLI):])} exited {r.returncode}\n"
                             f"stdout:\n{r.stdout}\nstderr:\n{r.stderr}")
    return r


class Poller:
    """`support-console poll` in the background, in its own process group (a signal reaches its intake
    helper processes too); output goes to a log file (no pipe to fill up)."""

    def __init__(self, config: Path, log_path: Path | None = None, env: dict | None = None):
        self.config = Path(config)
        self.log_path = Path(log_path) if log_path else self.config.with_name(f"poller-{time.time_ns()}.log")
        # TMPDIR beside the log: a poller killed by SIGKILL leaves multiprocessing's fork-server socket
        # directory behind, and it should go with the test's temporary directory, not stay in /tmp.
        self.env = {**(env if env is not None else cli_env()), "TMPDIR": str(self.log_path.parent)}
        self.proc: subprocess.Popen | None = None

    def start(self) -> Poller:
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen([*CLI, "--config", str(self.config), "poll"], stdin=subprocess.DEVNULL,
                                         stdout=log, stderr=subprocess.STDOUT, env=self.env, cwd=REPO,
                                         start_new_session=True)
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

    def kill(self, sig: int = signal.SIGKILL, timeout: float = 10.0) -> int | None:
        """Send `sig` to the process group (default SIGKILL: a crash, no clean-up of any kind) and wait;
        SIGKILL if it has not gone within `timeout`. The exit code (-N: killed by signal N)."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self._killpg(sig)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self._killpg(signal.SIGKILL)
                self.proc.wait(timeout=5)
        return self.proc.returncode

    def stop(self, timeout: float = 10.0) -> int | None:
        """SIGTERM (graceful) and wait; SIGKILL if it does not stop in time (then a test should fail on the code)."""
        return self.kill(signal.SIGTERM, timeout)

    def _killpg(self, sig: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, sig)


class Pollers:
    """Every background poller of a test (or bench), so a finalizer can stop them all (by their own pid)."""

    def __init__(self, tmp: Path):
        self.tmp, self.all = Path(tmp), []

    def start(self, config: Path, env: dict | None = None, *, ready: str | None = None,
              timeout: float = 30) -> Poller:
        """A poller logging to TMP/poller-N.log; with `ready`, wait until its log shows that text."""
        p = Poller(config, self.tmp / f"poller-{len(self.all)}.log", env).start()
        self.all.append(p)
        if ready is not None:
            wait_until(lambda: ready in p.log() or not p.alive(), timeout, f"{ready!r} in the poller log")
            assert p.alive(), p.log()
        return p

    def stop_all(self) -> None:
        for p in self.all:
            p.kill()


def wait_until(predicate: Callable[[], Any], timeout: float = 10.0, what: str = "condition", interval: float = 0.05,
               alive: Callable[[], bool] | None = None):
    """Poll `predicate` until it returns something truthy (and return that); fail after `timeout` seconds,
    or as soon as `alive` (e.g. Poller.alive) says the process under test has died."""
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

def query(path: Path, sql: str, params: Iterable[Any] = (), *, dicts: bool = False) -> list:
    """Rows as tuples (or, with `dicts`, as {column: value}); [] if there is no database or table yet."""
    if not Path(path).exists():
        return []
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=15)
    try:
        conn.execute("PRAGMA busy_timeout = 15000")
        if dicts:
            conn.row_factory = sqlite3.Row
        rows = conn.execute(sql, list(params)).fetchall()
        return [dict(r) for r in rows] if dicts else rows
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


def stored_raw(path: Path, message_row: int | None = None) -> bytes:
    """A message's raw bytes as the store gives them back (store.messages.raw_message: the bytes live apart
    and compressed); without `message_row`, those of the only message."""
    from sqlite_utils import Database

    from store import messages

    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=15)
    try:
        if message_row is None:
            [(message_row,)] = conn.execute("SELECT id FROM messages").fetchall()
        return messages.raw_message(Database(conn), message_row)
    finally:
        conn.close()


def mail(i: int | str, *, subject: str | None = None, frm: str = "cust@customer.example", name: str | None = None,
         to: str = "support@example.com", msgid: str | None = None, date: datetime | None = None, extra: str = "",
         body: str | None = None) -> bytes:
    """A test message "From: Customer I <frm>" (`name` replaces "Customer I"); `msgid=""` leaves out the
    Message-ID; `extra` adds header lines; the Date is a fixed Monday unless `date` says otherwise."""
    msgid = msgid if msgid is not None else f"<m{i}@customer.example>"
    date = date or datetime(2026, 3, 2, 10, 0, 0, tzinfo=UTC)
    head = (f"From: {name or f'Customer {i}'} <{frm}>\r\nTo: {to}\r\nSubject: {subject or f'test {i}'}\r\n"
            f"Date: {format_datetime(date)}\r\n")
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
