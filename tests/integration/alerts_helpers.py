"""Config writer, CLI runner and poller process for the escalation/page tests (issue #3).

Used by tests/integration/test_alerts_*.py, tests/unit/test_{outbox,actions,escalation}.py and
bench/bench_alerts.py. (tests/integration/helpers.py belongs to the intake tests.)

The desk: ann (supervisor), bob and cy (staff). The rotation is bob, cy, ann, handing off on Monday;
`oncall_start` makes bob primary and cy secondary for the week that contains `at`.
"""
from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from datetime import date, datetime, timedelta, timezone
from email.utils import format_datetime
from pathlib import Path
from typing import Any, Callable, Iterable

UTC = timezone.utc
REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).with_name("support-console")
PASSWORD_ENV = "SC_ALERTS_TEST_IMAP_PASSWORD"
URGENT = "urgent@desk.example"
SUPPORT = "support@desk.example"
HANDLES = ("ann", "bob", "cy")
ROLES = {"ann": "supervisor", "bob": "staff", "cy": "staff"}
PRIMARY, SECONDARY = "bob", "cy"

# A Monday 16:00 UTC: the frozen "now" of the unit tests (a handoff instant: bob's week starts).
T0 = datetime(2026, 3, 2, 16, 0, 0, tzinfo=UTC)


SHORT_SLA = {"III": "6s", "III_escalate_after": "3s", "III_repeat_every": "3s"}


def monday_of(at: datetime) -> date:
    d = at.astimezone(UTC).date()
    return d - timedelta(days=d.weekday())


# ------------------------------------------------------------------ config


def config_dict(
    store_path: Path | str,
    *,
    notify: dict[str, list[str]] | None = None,
    dovecot: Any = None,
    sla: dict[str, Any] | None = None,
    alerts: dict[str, Any] | None = None,
    imap: dict[str, Any] | None = None,
    at: datetime | None = None,
    rotation: Iterable[str] = ("bob", "cy", "ann"),
    handoff: str = "mon 00:00",
    operator: str | None = None,
) -> dict[str, Any]:
    """A config as a dict (for console.config.from_dict, or write_config for the CLI).

    `notify` maps handle -> apprise URLs (default: a closed port, so nothing is ever delivered).
    `at` picks the rotation week in which bob is primary and cy secondary (default: now).
    """
    at = at or datetime.now(UTC)
    notify = notify or {}
    data: dict[str, Any] = {
        "timezone": "UTC",
        "store": {"path": str(store_path)},
        "routing": {"urgent": [URGENT], "support": [SUPPORT]},
        "staff": [
            {"handle": h, "name": h.capitalize() + " Example", "role": ROLES[h],
             "notify": list(notify.get(h, [f"json://127.0.0.1:9/{h}"]))}
            for h in HANDLES
        ],
        "oncall": {"rotation": list(rotation), "handoff": handoff, "start": monday_of(at).isoformat()},
        "alerts": {"backoff_seconds": 0.5, "backoff_max_seconds": 2.0, "send_timeout_seconds": 5.0},
    }
    if sla:
        data["sla"] = dict(sla)
    if alerts:
        data["alerts"].update(alerts)
    if dovecot is not None:
        data["imap"] = {
            "host": dovecot.host, "port": dovecot.port, "security": "none", "username": dovecot.user,
            "password_env": PASSWORD_ENV, "folder": "INBOX", "timeout_seconds": 10.0, "poll_seconds": 1.0,
        }
        if imap:
            data["imap"].update(imap)
    if operator:
        data["console"] = {"operator": operator}
    return data


def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v)  # a JSON string is a valid TOML basic string
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    raise TypeError(f"cannot write {type(v).__name__} to TOML")


def to_toml(data: dict[str, Any]) -> str:
    """Enough TOML for config_dict(): scalars, tables, one level of nested tables, arrays of tables."""
    lines: list[str] = []
    tables: list[tuple[str, dict]] = []
    arrays: list[tuple[str, list]] = []
    for k, v in data.items():
        if isinstance(v, dict):
            tables.append((k, v))
        elif isinstance(v, list) and v and all(isinstance(x, dict) for x in v):
            arrays.append((k, v))
        else:
            lines.append(f"{k} = {_toml_value(v)}")

    def table(name: str, t: dict) -> None:
        lines.append(f"\n[{name}]")
        nested = []
        for k, v in t.items():
            if isinstance(v, dict):
                nested.append((k, v))
            else:
                lines.append(f"{json.dumps(k)} = {_toml_value(v)}")
        for k, v in nested:
            table(f"{name}.{json.dumps(k)}", v)

    for name, t in tables:
        table(name, t)
    for name, items in arrays:
        for item in items:
            lines.append(f"\n[[{name}]]")
            for k, v in item.items():
                lines.append(f"{json.dumps(k)} = {_toml_value(v)}")
    return "\n".join(lines) + "\n"


def write_config(directory: Path, **kwargs) -> Path:
    """config.toml in `directory` (the store beside it); kwargs as for config_dict()."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "config.toml"
    path.write_text(to_toml(config_dict(directory / "support.db", **kwargs)))
    return path


def load(path: Path):
    from console.config import load as _load

    return _load(Path(path))


# ------------------------------------------------------------------ mail


def mail(i: int = 1, *, to: str = URGENT, subject: str | None = None, frm: str | None = None,
         body: str = "The DNS service is down for all our sites.", date_: datetime | None = None) -> bytes:
    frm = frm or f"carl{i}@cust{i}.example"
    subject = subject or f"DNS down {i}"
    date_ = date_ or datetime.now(UTC)
    return (
        f"From: Carl {i} <{frm}>\r\nTo: {to}\r\nSubject: {subject}\r\n"
        f"Message-ID: <alerts-{i}-{time.time_ns()}@cust.example>\r\n"
        f"Date: {format_datetime(date_)}\r\n"
        "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
        f"\r\n{body}\r\n"
    ).encode()


# ------------------------------------------------------------------ processes


def env() -> dict[str, str]:
    e = dict(os.environ)
    e[PASSWORD_ENV] = "secret"
    e.pop("SUPPORT_CONSOLE_CONFIG", None)
    e["PYTHONUNBUFFERED"] = "1"
    return e


def cli(config: Path, *args: str, actor: str | None = None, check: bool = True,
        timeout: float = 60) -> subprocess.CompletedProcess:
    cmd = [str(BIN), "--config", str(config)]
    if actor:
        cmd += ["--as", actor]
    cmd += list(args)
    r = subprocess.run(cmd, capture_output=True, text=True, env=env(), timeout=timeout, cwd=str(REPO))
    if check and r.returncode != 0:
        raise AssertionError(f"{' '.join(cmd[1:])} exited {r.returncode}\nstdout:\n{r.stdout}\nstderr:\n{r.stderr}")
    return r


class Poller:
    """`support-console poll` as a child process (its own process group), log in a file."""

    def __init__(self, config: Path, log: Path | None = None):
        self.config = Path(config)
        self.log = Path(log) if log else self.config.with_name(f"poller-{time.time_ns()}.log")
        self.proc: subprocess.Popen | None = None

    def start(self) -> "Poller":
        fh = open(self.log, "ab")
        self.proc = subprocess.Popen([str(BIN), "--config", str(self.config), "poll"], stdout=fh,
                                     stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env(),
                                     cwd=str(REPO), start_new_session=True)
        fh.close()
        return self

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self, sig: int = signal.SIGKILL, timeout: float = 10.0) -> int | None:
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, sig)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=5)
        return self.proc.returncode

    def stop(self) -> int | None:
        """SIGTERM (graceful), SIGKILL if it does not go within 10 s."""
        return self.kill(signal.SIGTERM)

    def output(self) -> str:
        try:
            return self.log.read_text(errors="replace")
        except OSError:
            return ""

    def __enter__(self) -> "Poller":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.kill(signal.SIGKILL)


def wait_until(pred: Callable[[], Any], timeout: float = 10.0, interval: float = 0.05, what: str = "condition"):
    end = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() >= end:
            raise TimeoutError(f"{what} not reached within {timeout}s")
        time.sleep(interval)


# ------------------------------------------------------------------ reading the store (read-only)


def query(db_path: Path, sql: str, params: Iterable[Any] = ()) -> list[dict[str, Any]]:
    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=15)
    try:
        conn.row_factory = sqlite3.Row
        return [dict(r) for r in conn.execute(sql, list(params)).fetchall()]
    except sqlite3.OperationalError as exc:
        if "no such table" in str(exc):
            return []
        raise
    finally:
        conn.close()


def tickets(db_path: Path) -> list[dict[str, Any]]:
    if not Path(db_path).exists():
        return []
    return query(db_path, "SELECT * FROM tickets ORDER BY id")


def alerts(db_path: Path, **where: Any) -> list[dict[str, Any]]:
    if not Path(db_path).exists():
        return []
    sql = "SELECT * FROM alerts"
    if where:
        sql += " WHERE " + " AND ".join(f"{k} = ?" for k in where)
    return query(db_path, sql + " ORDER BY id", where.values())


def parse_iso(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


def path_of(record) -> str:
    """The handle a receiver record was for (URLs are json://host:port/<handle>)."""
    return record.path.strip("/").split("?")[0]
