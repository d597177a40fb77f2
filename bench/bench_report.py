"""Benchmark `report sla` on a year of a busy desk: 100,000 tickets with their events and pages.

    python bench/bench_report.py [--tickets N]

Prints figures; it is not a test. Target (issue 24): the default report (last week) feels instant, under a
second. The rows are written through the store's own functions (tickets.create_ticket, audit.event_row,
outbox.add_alert) in one transaction, as intake and the actions would leave them.
"""
from __future__ import annotations

import argparse
import random
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import store  # noqa: E402
from console import policy as pol  # noqa: E402
from console.config import from_dict  # noqa: E402
from console.reports import render, sla  # noqa: E402
from store import audit, outbox, staff, tickets, write  # noqa: E402
from store.times import iso  # noqa: E402

END = datetime(2026, 12, 7, 15, 0, tzinfo=UTC)  # a Monday, 08:00 in Phoenix
PEOPLE = ("ann", "bob", "cy", "dee")
CFG = {"timezone": "America/Phoenix",
       "staff": [{"handle": h, "role": "supervisor" if h == "ann" else "staff"} for h in PEOPLE],
       "oncall": {"rotation": ["ann", "bob", "cy"]}}


def build(path: Path, n: int, cfg) -> None:
    rnd = random.Random(24)
    db = store.open_db(path)
    span = timedelta(days=365)
    events: list[tuple] = []
    with write(db):
        staff.sync_staff(db, [(h, h.title(), "supervisor" if h == "ann" else "staff") for h in PEOPLE])
        for i in range(n):
            received = (END - span + span * (i / n)).replace(microsecond=0)
            cls = rnd.choices(("I", "II", "III"), (70, 25, 5))[0]
            due = pol.deadline(cls, received, cfg.sla)
            tid = tickets.create_ticket(db, cls=cls, class_reason="bench", subject=f"bench {i}", requester=f"c{i}@x",
                                        requester_name="", received_at=received, due_at=due, next_step_at=None,
                                        now=received)
            events.append(audit.event_row(tid, "created", "intake", iso(received),
                                          {"cls": cls, "received_at": iso(received), "due_at": iso(due)}))
            target = cfg.sla.target(cls)
            if cls == "III":
                for step in ("arrival", "escalate"):
                    outbox.add_alert(db, dedup_key=f"t{tid}:{step}:bob", ticket_id=tid, cls=cls, step=step,
                                     audience="primary", target="bob", urgent=True, title="t", body="b",
                                     due_at=received, now=received)
                events.append(audit.event_row(tid, "alert_due", "poller", iso(received), {"step": "arrival"}))
            at = received + target * rnd.uniform(0.05, 1.3)
            if at > END:
                continue
            who = rnd.choice(PEOPLE)
            kind = rnd.choices(("reply", "ack", "details", "none"), (70, 20, 3, 7))[0]
            if kind == "none":
                events.append(audit.event_row(tid, "resolved", who, iso(at), {"contact": "none", "due_at": iso(due)}))
            else:
                events.append(audit.event_row(tid, "acknowledged", who, iso(at),
                                              {"contact": kind, "due_at": iso(due), "by": who, "assignee": who}))
                events.append(audit.event_row(tid, "resolved", who, iso(at + timedelta(hours=2)), {}))
        db.conn.executemany("INSERT INTO events (ticket_id, at, actor, kind, detail) VALUES (?, ?, ?, ?, ?)", events)
        db.execute("UPDATE alerts SET state = 'sent'")
    db.close()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tickets", type=int, default=100_000)
    a = ap.parse_args()
    cfg = from_dict(CFG)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.db"
        t0 = time.perf_counter()
        build(path, a.tickets, cfg)
        print(f"built {a.tickets:,} tickets over a year in {time.perf_counter() - t0:.1f} s")
        db = store.open_db(path)
        for label, period, by in (("last week", sla.last_week(END, cfg.timezone), "class"),
                                  ("last week by person", sla.last_week(END, cfg.timezone), "person"),
                                  ("a quarter by week", sla.dates_period("2026-09-07", "2026-12-06", cfg.timezone),
                                   "week"),
                                  ("the whole year", sla.dates_period("2025-12-08", "2026-12-06", cfg.timezone),
                                   "class")):
            t0, c0 = time.perf_counter(), time.process_time()
            r = sla.build(db, period, cfg.sla, END, by=by)
            render.text(r)
            print(f"report sla, {label}: {(time.perf_counter() - t0) * 1000:.0f} ms "
                  f"(CPU {(time.process_time() - c0) * 1000:.0f} ms; {r['total']['tickets_in']:,} clocks)")
        db.close()
        # the command as a person runs it: a new process (imports, config, database) printing last week
        conf = Path(tmp) / "config.toml"
        conf.write_text(f'timezone = "America/Phoenix"\n[store]\npath = "{path}"\n'
                        '[[staff]]\nhandle = "ann"\nrole = "supervisor"\n'
                        '[oncall]\nrotation = ["ann"]\nhandoff = "mon 09:00"\nstart = "2026-01-05"\n')
        t0, before = time.perf_counter(), resource.getrusage(resource.RUSAGE_CHILDREN)
        subprocess.run([sys.executable, "-m", "console.cli", "--config", str(conf), "report", "sla", "--week",
                        "2026-W49"], check=True, stdout=subprocess.DEVNULL, cwd=Path(__file__).resolve().parents[1])
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        print(f"support-console report sla --week 2026-W49 (a new process, start-up included): "
              f"{(time.perf_counter() - t0) * 1000:.0f} ms (CPU {cpu * 1000:.0f} ms)")


if __name__ == "__main__":
    main()
