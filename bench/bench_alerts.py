"""Benchmark: pages. Prints figures; not a test.

    .venv/bin/python bench/bench_alerts.py [--mails 50] [--tickets 20] [--idle-tickets 10000] [--idle-seconds 20]

(1) arrival to page: the poller runs (IMAP IDLE against a throw-away Dovecot); Class III mails are
    APPENDed one at a time; time from the APPEND to the HTTP receiver getting the page
    (p95 target <= 1.5 s).
(2) deadline to page: short SLA targets; receiver time minus the page's due time for escalation and
    breach pages (p95 target <= 1 s).
(3) idle cost: 10,000 open tickets whose next steps lie far in the future; the poller idles for
    ~20 s; its CPU time (utime + stime from /proc/PID/stat) as % of one core (target < 1 %).

Needs root and Dovecot (like the integration tests). Everything lives in temp dirs.
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from datetime import datetime, timedelta, UTC
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.integration import alerts_helpers as h  # noqa: E402
from tests.integration.helpers import Poller, Pollers  # noqa: E402
from tests.servers.dovecot import Dovecot, dovecot_unavailable_reason  # noqa: E402
from tests.servers.receivers import HTTPReceiver  # noqa: E402

CLK_TCK = os.sysconf("SC_CLK_TCK")


def pct(values: list[float], p: float) -> float:
    s = sorted(values)
    if not s:
        return float("nan")
    k = (len(s) - 1) * p / 100
    lo, hi = int(k), min(int(k) + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


def summary(name: str, values: list[float], target: float | None = None) -> str:
    line = (f"{name}: n={len(values)}  p50={pct(values, 50):.3f}s  p95={pct(values, 95):.3f}s  "
            f"max={max(values):.3f}s  min={min(values):.3f}s")
    if target is not None:
        line += f"  (target p95 <= {target}s: {'OK' if pct(values, 95) <= target else 'MISSED'})"
    return line


class Rig:
    """A Dovecot, an HTTP receiver and a work dir; a poller on demand."""

    def __init__(self):
        self.dc_root = Path(tempfile.mkdtemp(prefix="bench-alerts-dovecot-"))
        self.work = Path(tempfile.mkdtemp(prefix="bench-alerts-"))
        self.dovecot = Dovecot(self.dc_root)
        self.receiver = HTTPReceiver()
        self.pollers = Pollers(self.work)

    def __enter__(self):
        self.dovecot.start()
        self.receiver.start()
        return self

    def __exit__(self, *exc):
        self.pollers.stop_all()
        self.receiver.stop()
        self.dovecot.stop(graceful=False)
        shutil.rmtree(self.dc_root, ignore_errors=True)
        shutil.rmtree(self.work, ignore_errors=True)

    def clear_mailbox(self) -> None:
        """Each part starts with an empty INBOX (a fresh store would take in the earlier parts' mail)."""
        c = self.dovecot.client()
        try:
            c.select_folder("INBOX")
            uids = c.search(["ALL"])
            if uids:
                c.delete_messages(uids)
                c.expunge()
        finally:
            c.logout()

    def config(self, name: str, **kw) -> Path:
        self.clear_mailbox()
        kw.setdefault("notify", {x: [self.receiver.url(f"/{x}")] for x in h.HANDLES})
        return h.write_config(self.work / name, dovecot=self.dovecot, **kw)

    def poller(self, conf: Path) -> Poller:
        return self.pollers.start(conf, ready="watching", timeout=30)


def arrival_to_page(rig: Rig, n: int) -> None:
    print(f"\n(1) arrival to page: {n} Class III mails, APPEND one at a time, poller on IMAP IDLE")
    conf = rig.config("arrival")
    p = rig.poller(conf)
    rig.receiver.clear()
    first, both = [], []
    for i in range(1, n + 1):
        before = len(rig.receiver.records)
        t0 = time.time()
        rig.dovecot.append(h.mail(i, subject=f"bench arrival {i}"))
        recs = rig.receiver.wait_for(before + 2, timeout=15)[before:before + 2]
        assert all(f"bench arrival {i}" in r.body["title"] for r in recs), [r.body["title"] for r in recs]
        first.append(min(r.wall for r in recs) - t0)
        both.append(max(r.wall for r in recs) - t0)
        time.sleep(0.05)
    p.stop()
    print("  " + summary("APPEND -> first page", first))
    print("  " + summary("APPEND -> both pages (primary + secondary)", both, 1.5))


def deadline_to_page(rig: Rig, n: int) -> None:
    print(f"\n(2) deadline to page: {n} tickets, III=4s, escalate after 2s, repeat every 2s")
    db = rig.work / "deadline" / "support.db"
    conf = rig.config("deadline", sla={"III": "4s", "III_escalate_after": "2s", "III_repeat_every": "2s"})
    p = rig.poller(conf)
    rig.receiver.clear()
    for i in range(1, n + 1):  # spread over ~n * 0.35 s, so deadlines fall at many different moments
        rig.dovecot.append(h.mail(i, subject=f"bench deadline {i}"))
        time.sleep(0.35)
    time.sleep(5.0)  # the last ticket's breach (+4 s) and a repeat
    p.stop()
    rows = {(a["target"], a["title"], a["body"]): a for a in h.alerts(db)}
    late = {"ESCALATED": [], "BREACHED": [], "STILL BREACHED": []}
    for rec in rig.receiver.records:
        row = rows.get((h.path_of(rec), rec.body["title"], rec.body["message"]))
        if row is None:
            continue
        kind = next((k for k in ("STILL BREACHED", "ESCALATED", "BREACHED") if f" {k}:" in rec.body["title"]), None)
        if kind:
            late[kind].append(rec.wall - h.parse_iso(row["due_at"]).timestamp())
    for kind, values in late.items():
        if values:
            print("  " + summary(f"due -> receiver, {kind.lower()} pages", values, 1.0 if kind == "BREACHED" else None))
    states = {}
    for a in h.alerts(db):
        states[a["state"]] = states.get(a["state"], 0) + 1
    print(f"  outbox after the run: {states}")


def proc_cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    utime, stime = int(fields[11]), int(fields[12])  # fields 14 and 15 of stat(5)
    return (utime + stime) / CLK_TCK


def idle_cost(rig: Rig, n_tickets: int, seconds: float) -> None:
    print(f"\n(3) idle cost: {n_tickets} open tickets with steps far ahead, poller idle for {seconds:.0f}s")
    from console.clock import SystemClock
    from console.config import load
    from console.poller import sync_staff
    from store import open_db, tickets, write

    conf = rig.config("idle")
    cfg = load(conf)
    sync_staff(cfg)
    db = open_db(cfg.store_path)
    now = SystemClock().now().replace(microsecond=0)
    t0 = time.perf_counter()
    with write(db):
        for i in range(n_tickets):
            received = now - timedelta(minutes=i % 600)
            cls = ("I", "II")[i % 2]
            due = received + (timedelta(hours=72) if cls == "I" else timedelta(hours=8))
            tickets.create_ticket(
                db, cls=cls, class_reason="bench", subject=f"bench idle {i}", requester=f"c{i}@cust.example",
                requester_name=f"Customer {i}", received_at=received, due_at=due,
                next_step_at=now + timedelta(days=30) + timedelta(seconds=i), now=now)
    db.close()
    print(f"  inserted {n_tickets} tickets in {time.perf_counter() - t0:.2f}s")
    p = rig.poller(conf)
    time.sleep(3.0)  # start-up (imports, first sync) is not idling
    c0, w0 = proc_cpu_seconds(p.pid), time.monotonic()
    time.sleep(seconds)
    c1, w1 = proc_cpu_seconds(p.pid), time.monotonic()
    p.stop()
    share = 100 * (c1 - c0) / (w1 - w0)
    print(f"  poller CPU {c1 - c0:.3f}s over {w1 - w0:.1f}s wall = {share:.2f}% of one core "
          f"(target < 1%: {'OK' if share < 1 else 'MISSED'})")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mails", type=int, default=50)
    ap.add_argument("--tickets", type=int, default=20)
    ap.add_argument("--idle-tickets", type=int, default=10_000)
    ap.add_argument("--idle-seconds", type=float, default=20.0)
    ap.add_argument("--only", choices=["arrival", "deadline", "idle"])
    args = ap.parse_args()
    reason = dovecot_unavailable_reason()
    if reason:
        print(f"cannot run: {reason}", file=sys.stderr)
        return 2
    print(f"bench_alerts  {datetime.now(UTC):%Y-%m-%d %H:%M:%SZ}  python {sys.version.split()[0]}  "
          f"cpus {os.cpu_count()}")
    with Rig() as rig:
        if args.only in (None, "arrival"):
            arrival_to_page(rig, args.mails)
        if args.only in (None, "deadline"):
            deadline_to_page(rig, args.tickets)
        if args.only in (None, "idle"):
            idle_cost(rig, args.idle_tickets, args.idle_seconds)
    return 0


if __name__ == "__main__":
    sys.exit(main())
