"""The paging tests' desk (issue #3): its config, its urgent mail, and readers for its tickets and pages.

Used by tests/integration/test_alerts_*.py, tests/integration/conftest.py, tests/unit/test_{outbox,
action_rules,escalation}.py and bench/bench_alerts.py. The CLI runner, poller process, wait_until and
query are shared with the intake tests: tests/integration/helpers.py.

The desk: ann (supervisor), bob and cy (staff). The rotation is bob, cy, ann, handing off on Monday;
`oncall_start` makes bob primary and cy secondary for the week that contains `at`.
"""
from __future__ import annotations

import contextlib
import json
import threading
import time
from datetime import date, datetime, timedelta, UTC
from pathlib import Path
from typing import Any
from collections.abc import Iterable, Iterator

from tests.integration import helpers
from tests.integration.helpers import PASSWORD_ENV, query, run_cli

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


# ------------------------------------------------------------------ mail


def mail(i: int = 1, *, to: str = URGENT, subject: str | None = None, frm: str | None = None,
         body: str = "The DNS service is down for all our sites.", date_: datetime | None = None) -> bytes:
    """An urgent (Class III) mail from customer Carl I, dated now, with a unique Message-ID."""
    return helpers.mail(i, to=to, subject=subject or f"DNS down {i}", frm=frm or f"carl{i}@cust{i}.example",
                        name=f"Carl {i}", msgid=f"<alerts-{i}-{time.time_ns()}@cust.example>",
                        date=date_ or datetime.now(UTC), body=f"{body}\r\n",
                        extra="MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8")


# ------------------------------------------------------------------ processes


def cli(config: Path, *args: str, check: bool = True, **kw):
    """run_cli, but a non-zero exit fails the test unless check=False (what the paging tests want)."""
    return run_cli(config, *args, check=check, **kw)


# ------------------------------------------------------------------ reading the store (read-only)


def target(db_path: Path, url: str) -> str:
    """The name a notify URL is stored and shown by in this database (scheme, host, keyed hash)."""
    from console.redact import target_name

    [(key,)] = query(db_path, "SELECT value FROM settings WHERE name = 'target_key'")
    return target_name(url, bytes.fromhex(key))


def tickets(db_path: Path) -> list[dict[str, Any]]:
    return query(db_path, "SELECT * FROM tickets ORDER BY id", dicts=True)


def alerts(db_path: Path, **where: Any) -> list[dict[str, Any]]:
    sql = "SELECT * FROM alerts"
    if where:
        sql += " WHERE " + " AND ".join(f"{k} = ?" for k in where)
    return query(db_path, sql + " ORDER BY id", where.values(), dicts=True)


def parse_iso(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


def path_of(record) -> str:
    """The handle a receiver record was for (URLs are json://host:port/<handle>)."""
    return record.path.strip("/").split("?")[0]


def receiver_config(directory: Path, receiver, **kw: Any):
    """The desk's config (at T0) with every person's pages to `receiver` (an HTTPReceiver), path /handle."""
    from console.config import from_dict

    return from_dict(config_dict(directory / "support.db", at=T0,
                                 notify={x: [receiver.url(f"/{x}")] for x in HANDLES}, **kw))


@contextlib.contextmanager
def paging(cfg) -> Iterator[tuple[Any, Any, Any]]:
    """(db, clock, scheduler): the desk's database, a FrozenClock at T0, and the real scheduler with its pages
    sender in this thread (one worker), started; closed afterwards."""
    from console.clock import FrozenClock
    from console.poller import sync_staff
    from console.scheduler import Scheduler
    from store import open_db

    sync_staff(cfg)
    db = open_db(cfg.store_path)
    clock = FrozenClock(T0)
    scheduler = Scheduler(cfg, clock, threading.Event(), workers=1)
    try:
        scheduler.start_up()
        yield db, clock, scheduler
    finally:
        scheduler.close()


def turn(scheduler, clock, seconds: float = 0) -> None:
    """One turn: the scheduler writes what is due, the pages sender sends it; then `seconds` pass."""
    scheduler.cycle()
    scheduler.pages.drain(30)
    clock.advance(seconds)
