"""Benchmark: a page storm. Prints figures; not a test.

    .venv/bin/python bench/bench_storm.py [--runs 10] [--storm 300] [--history 100000] [--speed 10]
                                          [--bundling-only]

Priority (issue 19 item 3): 300 Class III mails from one monitoring sender are filed within one minute
(4 staff; primary and secondary are paged for each: 600 pages), then a genuine Class III from another
sender. The pager service is a local HTTP receiver answering each page in 0.5 s. Printed: the time from
the genuine ticket's filing (its commit) to its first page reaching the receiver, p50 and p95 over the
runs, on a fresh desk and on one whose alerts table already holds 100,000 old pages (target: within
2 s on both).

The real scheduler and pages sender run in-process on an injected clock that runs `--speed` times
faster than the wall clock, so "one minute" of filing takes 6 s; the receiver's 0.5 s is real time. The
mails go through the real intake pipeline (console.intake.pipeline.file_messages), which writes each
ticket's arrival pages in its own transaction and wakes the scheduler, as intake does.

The priority part runs with bundling off ([alerts] bundle_window = "0s"), so that all 600 pages queue
up: the worst case for the genuine ticket. The bundling part runs with the default window: the same
storm on a stepped clock through half an hour (escalations, breaches, repeats; nobody acknowledges), and
prints how many pages each person got by 2, 10, 15 and 30 minutes (targets: at most 5 in the first two
minutes, at most 30 in the first thirty); then bob acknowledges every ticket and it prints the stand-down
notices each other person got (issue 19 item 8: one "stand down: #14-#313 acknowledged by bob", not 300).
"""
from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import threading
import time
from datetime import datetime, timedelta, UTC
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from console.scheduler import Scheduler  # noqa: E402
from console.config import Config, from_dict  # noqa: E402
from console.intake.pipeline import Incoming, file_messages  # noqa: E402
from console.poller import sync_staff  # noqa: E402
from store import open_db, write  # noqa: E402
from store.times import iso  # noqa: E402
from tests.integration import alerts_helpers as h  # noqa: E402
from tests.servers.receivers import HTTPReceiver  # noqa: E402

STAFF = ("ann", "bob", "cy", "dee")


class ScaledClock:
    """The injected clock: starts at `at` and runs `speed` times faster than the wall clock."""

    def __init__(self, at: datetime, speed: float):
        self.at, self.speed, self.m0 = at, speed, time.monotonic()

    def now(self) -> datetime:
        return self.at + timedelta(seconds=(time.monotonic() - self.m0) * self.speed)


def pct(values: list[float], p: float) -> float:
    s = sorted(values)
    k = (len(s) - 1) * p / 100
    lo, hi = int(k), min(int(k) + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


def config(store: Path, receiver: HTTPReceiver, at: datetime, bundle_window: str = "0s") -> Config:
    data = h.config_dict(store, at=at, notify={x: [receiver.url(f"/{x}")] for x in h.HANDLES},
                         alerts={"bundle_window": bundle_window})
    data["staff"].append({"handle": "dee", "name": "Dee Example", "role": "staff",
                          "notify": [receiver.url("/dee")]})
    data["oncall"]["rotation"] = ["bob", "cy", "ann", "dee"]
    data["alerts"]["send_timeout_seconds"] = 10.0
    return from_dict(data)


def template(work: Path, receiver: HTTPReceiver, at: datetime, history: int) -> Path:
    """A desk database with `history` old pages (sent a month before), made once and copied per run."""
    path = work / f"template-{history}.db"
    cfg = config(path, receiver, at)
    sync_staff(cfg)
    db = open_db(path)
    old = iso(at - timedelta(days=30))
    with write(db):
        db.execute("INSERT INTO tickets (id, class, received_at, due_at, created_at, updated_at, status, requester)"
                   " VALUES (1000000, 'III', ?, ?, ?, ?, 'resolved', 'old@history.example')", [old] * 4)
        db.conn.executemany(
            "INSERT INTO alerts (dedup_key, ticket_id, cls, step, target, title, body, state, due_at, created_at,"
            " next_attempt_at, attempts, sent_at, updated_at) VALUES (?, 1000000, 'III', ?, ?, 'old page', 'b',"
            " 'sent', ?, ?, ?, 1, ?, ?)",
            [(f"h{i}", "arrival" if i % 3 else f"repeat-{i}", STAFF[i % 4], old, old, old, old, old)
             for i in range(history)])
    db.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    return path


def one_run(work: Path, base: Path, receiver: HTTPReceiver, storm: int, speed: float) -> tuple[float, float]:
    """(seconds from the genuine ticket's filing to its first page at the receiver, storm pages/s)."""
    run = Path(tempfile.mkdtemp(dir=work))
    store = run / "support.db"
    shutil.copy(base, store)
    at = datetime.now(UTC).replace(microsecond=0)
    cfg = config(store, receiver, at)
    sync_staff(cfg)
    db = open_db(store)
    clock = ScaledClock(at, speed)
    stop = threading.Event()
    s = Scheduler(cfg, clock, stop)
    s.start_up()
    thread = threading.Thread(target=s.run, daemon=True)
    receiver.clear()
    thread.start()
    try:
        start = time.monotonic()
        for i in range(storm):  # evenly over one minute of the injected clock
            due = start + (60.0 / storm) * i / speed
            time.sleep(max(0.0, due - time.monotonic()))
            raw = h.mail(i + 1, frm="nagios@monitor.example", subject=f"PROBLEM: host{i} is DOWN")
            file_messages(db, cfg, [Incoming(raw=raw, received_at=clock.now())], clock.now())
            s.wake.set()
        raw = h.mail(storm + 1, frm="carl@cust.example", subject="Our checkout is down")
        [f] = file_messages(db, cfg, [Incoming(raw=raw, received_at=clock.now())], clock.now())
        filed = time.monotonic()
        s.wake.set()
        tag = f"#{f.ticket_id} "
        deadline = filed + 120
        first = None
        while first is None and time.monotonic() < deadline:
            first = next((r.mono for r in receiver.records if tag in r.body.get("title", "")), None)
            time.sleep(0.01)
        rate = len(receiver.records) / (time.monotonic() - start)
        return (first - filed if first is not None else float("inf")), rate
    finally:
        stop.set()
        thread.join(timeout=10)
        s.close()
        db.close()
        shutil.rmtree(run, ignore_errors=True)


def bundling(work: Path, receiver: HTTPReceiver, storm: int) -> tuple[dict[int, dict[str, int]], dict[str, int]]:
    """Pages per person by 2, 10, 15 and 30 minutes of a storm, with the default bundle window; then bob
    acknowledges every ticket of it (as a bundle link does, one after another) and the stand-down notices
    each other person gets in the next 3 minutes."""
    from collections import Counter

    from console.actions import acknowledge

    from console.clock import FrozenClock
    from console.config import AlertsConfig

    run = Path(tempfile.mkdtemp(dir=work))
    at = datetime.now(UTC).replace(microsecond=0)
    window = f"{int(AlertsConfig().bundle_window.total_seconds())}s"
    cfg = config(run / "support.db", receiver, at, bundle_window=window)
    sync_staff(cfg)
    db = open_db(cfg.store_path)
    clock = FrozenClock(at)
    s = Scheduler(cfg, clock, threading.Event())
    receiver.clear()
    delay, receiver.delay = receiver.delay, 0.0
    marks: dict[int, dict[str, int]] = {}
    try:
        s.start_up()
        per_second = max(1, storm // 60)
        for second in range(30 * 60 + 1):
            for k in range(per_second if second * per_second < storm else 0):
                i = second * per_second + k + 1
                raw = h.mail(i, frm="nagios@monitor.example", subject=f"PROBLEM: host{i} is DOWN", date_=clock.now())
                file_messages(db, cfg, [Incoming(raw=raw, received_at=clock.now())], clock.now())
            s.cycle()
            s.pages.drain(60)
            if second in (120, 600, 900, 1800):
                marks[second // 60] = dict(Counter(h.path_of(r) for r in receiver.records))
            clock.advance(1)
        before = len(receiver.records)
        for (tid,) in db.execute("SELECT id FROM tickets WHERE status = 'new' ORDER BY id").fetchall():
            acknowledge(db, cfg, tid, "bob", clock.now())
        for _ in range(180):
            s.cycle()
            s.pages.drain(60)
            clock.advance(1)
        standdowns = dict(Counter(h.path_of(r) for r in receiver.records[before:]))
    finally:
        receiver.delay = delay
        s.close()
        db.close()
    return marks, standdowns


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--storm", type=int, default=300)
    ap.add_argument("--history", type=int, default=100_000)
    ap.add_argument("--speed", type=float, default=10.0)
    ap.add_argument("--bundling-only", action="store_true", help="skip the priority runs (the slow part)")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-storm-"))
    receiver = HTTPReceiver()
    receiver.start()
    receiver.delay = 0.5
    try:
        at = datetime.now(UTC)
        desks = [("fresh desk", 0)] + ([(f"{args.history:,} old pages", args.history)] if args.history else [])
        for name, history in () if args.bundling_only else desks:
            t0 = time.monotonic()
            base = template(work, receiver, at, history)
            made = time.monotonic() - t0
            times, rates = [], []
            for _ in range(args.runs):
                took, rate = one_run(work, base, receiver, args.storm, args.speed)
                times.append(took)
                rates.append(rate)
            verdict = "OK" if pct(times, 95) <= 2.0 else "MISSED"
            print(f"{name}: genuine Class III during a {args.storm}-mail storm, filing to page: n={len(times)}  "
                  f"p50={pct(times, 50):.2f}s  p95={pct(times, 95):.2f}s  max={max(times):.2f}s  "
                  f"(target <= 2 s: {verdict}); pages/s during the storm: p50={pct(rates, 50):.1f} "
                  f"(4 senders, 0.5 s per page); desk made in {made:.1f}s")
        marks, standdowns = bundling(work, receiver, args.storm)
        for minute, counts in marks.items():
            worst = max(counts.values()) if counts else 0
            limit = {2: 5, 30: 30}.get(minute)
            verdict = f" (target <= {limit}: {'OK' if worst <= limit else 'MISSED'})" if limit else ""
            print(f"bundling, {args.storm} Class III in one minute, 4 staff: pages per person by {minute} min: "
                  f"{', '.join(f'{p} {n}' for p, n in sorted(counts.items()))}{verdict}")
        print(f"stand-downs, bob acknowledges all {args.storm} at 30 min: notices per person in the next 3 min: "
              f"{', '.join(f'{p} {n}' for p, n in sorted(standdowns.items())) or 'none'}")
    finally:
        receiver.stop()
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
