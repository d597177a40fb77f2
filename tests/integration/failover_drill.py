"""The failover drill (issue 26, item 4), shared by tests/integration/test_failover_drill.py and
bench/bench_failover.py.

A primary desk (a real `poll` process against Dovecot, pages to a local HTTP receiver) files urgent mail,
pages and takes acknowledgements while `support-console replicate` (Litestream) streams its database to a
file:// replica. Mid-activity the primary's poller and Litestream are killed with SIGKILL: the host dies.
A standby restores the replica (`support-console restore --from URL`) and starts its own poller on the
same mailbox and pagers; mail keeps arriving throughout. What the drill returns is measured from the
databases and the receiver, never assumed.
"""
from __future__ import annotations

import contextlib
import os
import shutil
import signal
import sqlite3
import subprocess
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, UTC
from pathlib import Path

from tests.integration import alerts_helpers as h
from tests.integration.helpers import CLI, REPO, Pollers, cli_env, query, run_cli, wait_until


@dataclass
class DrillResult:
    appended: list[str]                      # subjects of every mail put in the mailbox, in order
    standby_subjects: Counter                # subject -> tickets in the standby at the end
    restored_subjects: set[str]              # tickets the replica had
    primary_subjects: set[str]               # tickets the primary had filed when it died
    acks_primary: dict[str, str]             # subject -> acknowledged_at, on the primary when it died
    acks_restored: dict[str, str]            # the same, in the restored copy
    acks_standby: dict[str, str]             # the same, on the standby at the end
    pages: Counter                           # (subject, handle) -> pages the receiver got
    pages_primary: set[tuple[str, str]]      # (subject, handle) the receiver got before the kill
    expired_on_restore: int
    expired_subjects: list[str]              # the tickets of the pages the restore expired
    kill_at: float                           # wall clock
    replica_last_write: float                # wall clock of the newest write in the restored copy
    primary_last_write: float                # ... and in the primary's file after the kill
    first_standby_filing: float | None       # wall clock the standby first filed a mail
    restore_seconds: float
    restore_output: str
    notes: list[str] = field(default_factory=list)

    written_at: dict[str, float] = field(default_factory=dict)   # ("mail"|"ack", subject) -> wall clock
    lost: list[str] = field(default_factory=list)                  # writes of the primary the replica lacks

    @property
    def rpo(self) -> float:
        """Seconds of writes lost: from the first of the primary's writes the replica lacks to the kill
        (a mail counts from its APPEND, an acknowledgement from the moment `ack` returned)."""
        times = [self.written_at[k] for k in self.lost if k in self.written_at]
        return max(0.0, self.kill_at - min(times)) if times else 0.0

    @property
    def rto(self) -> float | None:
        """Kill to the standby's first filed mail."""
        return None if self.first_standby_filing is None else self.first_standby_filing - self.kill_at


def _subject_of(title: str, subjects: list[str]) -> str | None:
    return next((s for s in subjects if s in title), None)


def _ts(text: str | None) -> float:
    return h.parse_iso(text).timestamp() if text else 0.0


def _last_write(db: Path) -> float:
    """The newest write in a database: its heartbeats (every 5 s) and events (each filing, each ack)."""
    rows = query(db, "SELECT max(at) FROM heartbeats UNION ALL SELECT max(at) FROM events")
    return max((_ts(r[0]) for r in rows if r[0]), default=0.0)


def _acks(db: Path) -> dict[str, str]:
    return {r[0]: r[1] for r in query(db, "SELECT subject, acknowledged_at FROM tickets WHERE acknowledged_at IS NOT "
                                          "NULL")}


def _subjects(db: Path) -> list[str]:
    return [r[0] for r in query(db, "SELECT subject FROM tickets ORDER BY id")]


def _copy(db: Path, to: Path) -> None:
    """A consistent copy of a database another process may be writing (SQLite's backup)."""
    src = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=15)
    dst = sqlite3.connect(to)
    try:
        src.backup(dst)
    finally:
        src.close()
        dst.close()


def run_drill(work: Path, dovecot, receiver, *, before_kill: float = 8.0, after_kill: float = 6.0,
              interval: float = 0.3, ack_every: float = 0.4, sync_interval: str = "1s",
              urgent: bool = True) -> DrillResult:
    """The drill; `urgent`: Class III mail (pages, each forcing a sync first), else Class I (no pages: the
    replica lags by up to Litestream's sync interval)."""
    work = Path(work)
    primary, standby, replica = work / "primary", work / "standby", work / "replica"
    url = f"file://{replica}"
    notify = {x: [receiver.url(f"/{x}")] for x in h.HANDLES}
    confs = {}
    for name, d in (("primary", primary), ("standby", standby)):
        data = h.config_dict(d / "support.db", dovecot=dovecot, notify=notify)
        data["imap"]["poll_seconds"] = 1.0
        data["replicate"] = {"url": url, "sync_interval": sync_interval}
        d.mkdir(parents=True)
        confs[name] = d / "config.toml"
        confs[name].write_text(h.to_toml(data))
    pollers = Pollers(work)
    env = cli_env()
    replicator: subprocess.Popen | None = None
    stop_feed = threading.Event()
    appended: list[str] = []
    written_at: dict[str, float] = {}
    acked_at: dict[int, float] = {}
    acker_stop = threading.Event()
    try:
        pollers.start(confs["primary"], ready="watching", timeout=30)
        wait_until(lambda: (primary / "support.db").exists(), 10, "the primary's database")
        with open(work / "litestream.log", "ab") as log:
            replicator = subprocess.Popen([*CLI, "--config", str(confs["primary"]), "replicate"], stdout=log,
                                          stderr=subprocess.STDOUT, env=env, cwd=REPO, start_new_session=True)
        wait_until(lambda: any(replica.rglob("*.ltx")), 20, "Litestream's first snapshot in the replica")

        def feed() -> None:
            i = 0
            while not stop_feed.is_set():
                i += 1
                subject = f"drill {i:03d} DNS down"
                written_at[f"mail {subject}"] = time.time()
                dovecot.append(h.mail(i, subject=subject, to=h.URGENT if urgent else h.SUPPORT))
                appended.append(subject)
                stop_feed.wait(interval)

        def ack() -> None:
            done: set[int] = set()
            while not acker_stop.wait(ack_every):
                rows = query(primary / "support.db", "SELECT id FROM tickets WHERE acknowledged_at IS NULL ORDER BY id")
                todo = [r[0] for r in rows if r[0] not in done]
                if todo and not acker_stop.is_set():
                    if run_cli(confs["primary"], "ack", str(todo[0]), actor="bob", env=env).returncode == 0:
                        acked_at[todo[0]] = time.time()
                    done.add(todo[0])

        feeder = threading.Thread(target=feed, daemon=True)
        acker = threading.Thread(target=ack, daemon=True)
        feeder.start()
        acker.start()
        time.sleep(before_kill)

        # The host dies: the poller and Litestream, at once, with no chance to finish anything.
        acker_stop.set()
        acker.join(timeout=30)  # an acknowledgement under way is the old host's, not the dead one's
        kill_at = time.time()
        for proc_pid in (pollers.all[0].pid, replicator.pid):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc_pid, signal.SIGKILL)
        pollers.all[0].proc.wait(timeout=10)
        replicator.wait(timeout=10)
        pages_primary = {(s, r.path.strip("/")) for r in list(receiver.records)
                         if r.wall <= kill_at and (s := _subject_of(r.body["title"], appended))}

        # The standby: restore, then start. (The old poller is dead: nothing to fence here.)
        t0 = time.time()
        r = run_cli(confs["standby"], "restore", "--from", url, env=env)
        restore_seconds = time.time() - t0
        if r.returncode != 0:
            raise AssertionError(f"restore failed: {r.stderr}")
        restored = work / "restored-copy.db"
        _copy(standby / "support.db", restored)
        restored_subjects = _subjects(restored)
        standby_poller = pollers.start(confs["standby"])
        first = None
        deadline = time.time() + 60
        while time.time() < deadline:
            with contextlib.suppress(sqlite3.Error):
                if len(_subjects(standby / "support.db")) > len(restored_subjects):
                    first = time.time()
                    break
            if not standby_poller.alive():
                raise AssertionError(f"the standby poller died:\n{standby_poller.log()}")
            time.sleep(0.05)
        time.sleep(max(0.0, after_kill - (time.time() - kill_at)))
        stop_feed.set()
        feeder.join(timeout=15)
        wait_until(lambda: set(_subjects(standby / "support.db")) >= set(appended), 60,
                   "the standby to file every mail")
        wait_until(lambda: not query(standby / "support.db", "SELECT 1 FROM alerts WHERE state IN ('pending', "
                                                               "'sending') AND next_attempt_at <= ?",
                                     [datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")]), 30,
                   "the standby's due pages to go out")
        time.sleep(1.0)  # a page in the receiver's hands a moment late still counts
        pollers.stop_all()
        pages = Counter((s, rec.path.strip("/")) for rec in list(receiver.records)
                        if (s := _subject_of(rec.body["title"], appended)))
        names = dict(query(primary / "support.db", "SELECT id, subject FROM tickets"))
        written_at.update({f"ack {names[i]}": at for i, at in acked_at.items()})
        restored_acks = _acks(restored)
        lost = [f"mail {x}" for x in _subjects(primary / "support.db") if x not in restored_subjects]
        lost += [f"ack {x}" for x in _acks(primary / "support.db") if x not in restored_acks]
        expired = [row[0] for row in query(
            standby / "support.db", "SELECT t.subject FROM alerts a JOIN tickets t ON t.id = a.ticket_id"
                                    " WHERE a.state = 'expired' AND a.last_error LIKE 'failover:%'")]
        return DrillResult(
            appended=list(appended), standby_subjects=Counter(_subjects(standby / "support.db")),
            restored_subjects=set(restored_subjects), primary_subjects=set(_subjects(primary / "support.db")),
            acks_primary=_acks(primary / "support.db"), acks_restored=_acks(restored),
            acks_standby=_acks(standby / "support.db"), pages=pages, pages_primary=pages_primary,
            expired_on_restore=len(expired), expired_subjects=expired, kill_at=kill_at,
            replica_last_write=_last_write(restored),
            primary_last_write=_last_write(primary / "support.db"), first_standby_filing=first,
            restore_seconds=restore_seconds, restore_output=r.stdout, written_at=written_at, lost=lost)
    finally:
        stop_feed.set()
        acker_stop.set()
        pollers.stop_all()
        if replicator is not None and replicator.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(replicator.pid, signal.SIGKILL)
            replicator.wait(timeout=10)


def litestream_unavailable() -> str | None:
    """Why the drill cannot run here, or None."""
    from console.replication import ReplicationError, binary

    try:
        binary()
    except ReplicationError as exc:
        return str(exc)
    return None


def clean(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)
