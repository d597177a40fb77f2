"""Benchmark: failover. Prints figures; not a test.

    .venv/bin/python bench/bench_failover.py [--runs 3] [--sync-interval 1s] [--before-kill 8]

Each run is the drill of tests/integration/failover_drill.py: a primary desk (poller on a throw-away
Dovecot, pages to a local HTTP receiver, `ack` from the CLI) replicating with Litestream to a file://
replica; poller and Litestream are killed with SIGKILL mid-activity; a standby restores and starts.

  RPO: seconds of writes lost: from the first of the primary's writes that the restored copy lacks (a
       ticket, from its mail's APPEND; an acknowledgement, from the moment `ack` returned) to the kill.
  RTO: kill to the standby's first filed mail (restore + start + first IMAP fetch; mail arrives every 0.3 s).

Needs root and Dovecot (like the integration tests), and Litestream (`pip install -e '.[replicate]'`).
"""
from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.integration.failover_drill import litestream_unavailable, run_drill  # noqa: E402
from tests.servers.dovecot import Dovecot, dovecot_unavailable_reason  # noqa: E402
from tests.servers.receivers import HTTPReceiver  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--sync-interval", default="1s", help="Litestream's sync interval ([replicate] sync_interval)")
    ap.add_argument("--before-kill", type=float, default=8.0, help="seconds of activity before the kill")
    args = ap.parse_args()
    why = dovecot_unavailable_reason() or litestream_unavailable()
    if why:
        print(f"skipped: {why}")
        return 0
    print(f"failover drill: {args.runs} run(s), Litestream sync interval {args.sync_interval}, "
          f"{args.before_kill:g}s of mail, pages and acknowledgements before SIGKILL")
    for urgent in (True, False):
        print("Class III mail (each page waits for its claim to reach the replica):" if urgent else
              "Class I mail (no pages: Litestream ships on its own schedule):")
        drills(args, urgent)
    return 0


def drills(args, urgent: bool) -> None:
    rpos, rtos = [], []
    for n in range(1, args.runs + 1):
        dc_root = Path(tempfile.mkdtemp(prefix="bench-failover-dovecot-"))
        work = Path(tempfile.mkdtemp(prefix="bench-failover-"))
        dovecot, receiver = Dovecot(dc_root), HTTPReceiver()
        try:
            dovecot.start()
            receiver.start()
            r = run_drill(work, dovecot, receiver, before_kill=args.before_kill, sync_interval=args.sync_interval,
                          urgent=urgent)
        finally:
            receiver.stop()
            dovecot.stop(graceful=False)
            shutil.rmtree(dc_root, ignore_errors=True)
            shutil.rmtree(work, ignore_errors=True)
        doubled = sum(1 for c in r.standby_subjects.values() if c > 1)
        lost = len(set(r.appended) - set(r.standby_subjects))
        resent = sum(1 for c in r.pages.values() if c > 1)
        acks_lost = sum(1 for k in r.lost if k.startswith("ack "))
        rpos.append(r.rpo)
        if r.rto is not None:
            rtos.append(r.rto)
        print(f"  run {n}: RPO {r.rpo:.2f}s  RTO {r.rto:.2f}s (restore {r.restore_seconds:.2f}s)  "
              f"mails {len(r.appended)}, tickets in the replica {len(r.restored_subjects)} of "
              f"{len(r.primary_subjects)} filed, lost {lost}, doubled {doubled}; pages {sum(r.pages.values())}, "
              f"re-sent {resent}, expired on restore {r.expired_on_restore}; acknowledgements "
              f"{len(r.acks_primary)}, lost {acks_lost}")
    if rtos:
        print(f"  RPO: max {max(rpos):.2f}s, mean {statistics.mean(rpos):.2f}s   "
              f"RTO: max {max(rtos):.2f}s, mean {statistics.mean(rtos):.2f}s")


if __name__ == "__main__":
    raise SystemExit(main())
