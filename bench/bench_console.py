"""Benchmark the console with 10,000 open tickets: first paint, per-tick cost, peak memory.

    python bench/bench_console.py [--tickets N] [--ticks N]

Prints figures; it is not a test. Targets: first paint < 1.5 s, tick < 10 ms, RSS < 200 MB.
"""
from __future__ import annotations

import argparse
import asyncio
import random
import resource
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import store  # noqa: E402
from console import policy as pol  # noqa: E402
from console.clock import FrozenClock  # noqa: E402
from console.config import from_dict  # noqa: E402
from store import staff, tickets  # noqa: E402

NOW = datetime(2026, 1, 5, 17, 0, 0, tzinfo=timezone.utc)
CFG = {"timezone": "America/Phoenix",
       "staff": [{"handle": h, "role": "supervisor" if h == "ann" else "staff"} for h in ("ann", "bob", "cy", "dee")],
       "oncall": {"rotation": ["ann", "bob", "cy"]}}


def make_db(path: Path, n: int, cfg) -> None:
    rnd = random.Random(7)
    db = store.open_db(path)
    with store.write(db):
        staff.sync_staff(db, [(s.handle, s.name, s.role) for s in cfg.staff])
        for i in range(n):
            cls = rnd.choice(("I", "I", "I", "II", "II", "III"))
            target = cfg.sla.target(cls).total_seconds()
            rec = NOW - timedelta(seconds=rnd.uniform(0, target * 1.2))
            tickets.create_ticket(db, cls=cls, class_reason="bench", subject=f"Bench ticket {i}: something broke",
                                  requester=f"user{i}@example.com", requester_name=f"User {i}", received_at=rec,
                                  due_at=pol.deadline(cls, rec, cfg.sla), next_step_at=None, now=rec)
    db.conn.close()


async def run(path: Path, cfg, ticks: int) -> dict:
    t0 = time.perf_counter()
    from console.ui.app import ConsoleApp

    clock = FrozenClock(NOW)
    app = ConsoleApp(path, cfg, "ann", clock, live=False)
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.pause()
        loaded = time.perf_counter() - t0
        first_paint = app.first_paint_at - t0  # the first frame: the most urgent rows, in order
        rows = app.dashboard.table.row_count
        costs = []
        for _ in range(ticks):
            clock.advance(1)
            s = time.perf_counter()
            app.tick()
            costs.append((time.perf_counter() - s) * 1000)
            await pilot.pause()
        # a change by another process: one ticket updated, found via data_version, not a full reload
        other = store.open_db(path)
        tickets.update_ticket(other, 5000, {"assignee": "dee"}, NOW + timedelta(minutes=1))
        other.conn.close()
        s = time.perf_counter()
        app.refresh_now()
        poll_ms = (time.perf_counter() - s) * 1000
        s = time.perf_counter()
        app.refresh_now()
        idle_poll_ms = (time.perf_counter() - s) * 1000
    return {"rows": rows, "first_paint": first_paint, "loaded": loaded, "costs": costs, "poll_ms": poll_ms, "idle_poll_ms": idle_poll_ms}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tickets", type=int, default=10_000)
    ap.add_argument("--ticks", type=int, default=30)
    args = ap.parse_args()
    cfg = from_dict(CFG)
    with tempfile.TemporaryDirectory(prefix="bench-console-") as tmp:
        path = Path(tmp) / "bench.db"
        s = time.perf_counter()
        make_db(path, args.tickets, cfg)
        print(f"created {args.tickets} open tickets in {time.perf_counter() - s:.2f} s")
        r = asyncio.run(run(path, cfg, args.ticks))
    costs = sorted(r["costs"])
    p95 = costs[max(0, int(round(0.95 * len(costs))) - 1)]
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    print(f"rows in table:      {r['rows']}")
    print(f"first paint:        {r['first_paint']:.2f} s   (target < 1.5 s; includes importing Textual)")
    print(f"all rows loaded:    {r['loaded']:.2f} s")
    print(f"tick cost:          mean {statistics.mean(costs):.2f} ms, p95 {p95:.2f} ms, max {costs[-1]:.2f} ms "
          f"over {len(costs)} ticks   (target < 10 ms)")
    print(f"change poll:        {r['poll_ms']:.2f} ms with one changed ticket, {r['idle_poll_ms']:.3f} ms idle")
    print(f"peak RSS:           {rss_mb:.0f} MB   (target < 200 MB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
