"""Benchmark: a reply. Prints figures; not a test.

    .venv/bin/python bench/bench_reply.py [--replies 30] [--tickets 2000]

`support-console reply N --body-file -` as a real process, timed from its start until the SMTP server
(aiosmtpd on loopback) has accepted the mail: the moment the desk's first contact has left the building.
The database holds --tickets open tickets with a customer mail each, as a working desk's would.
Target: p95 <= 1 s. Also shown: the same reply in-process (the console's path: no interpreter start-up).

Needs no root and no Dovecot. Everything lives in a temp dir.
"""
from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.integration import alerts_helpers as h  # noqa: E402
from tests.integration.helpers import CLI, cli_env  # noqa: E402
from tests.servers.receivers import SMTPSink  # noqa: E402

sys.path.insert(0, str(REPO / "bench"))
from bench_alerts import pct, summary  # noqa: E402


def fill(conf: Path, n: int) -> None:
    """n tickets, each with one customer mail, filed as intake files them."""
    from console.clock import SystemClock
    from console.config import load
    from console.intake.pipeline import Incoming, file_messages
    from console.poller import sync_staff
    from store import open_db

    cfg = load(conf, check_urls=False)
    sync_staff(cfg)
    db = open_db(cfg.store_path)
    now = SystemClock().now()
    items = [Incoming(raw=h.mail(i, to=h.SUPPORT, subject=f"Printer {i} broken", frm=f"c{i}@cust{i % 97}.example"))
             for i in range(1, n + 1)]
    for i in range(0, n, 500):
        file_messages(db, cfg, items[i:i + 500], now)
    db.close()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--replies", type=int, default=30)
    ap.add_argument("--tickets", type=int, default=2000)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-reply-"))
    sink = SMTPSink()
    sink.start()
    try:
        data = h.config_dict(work / "support.db")
        data["smtp"] = {"host": "127.0.0.1", "port": sink.port, "security": "none",
                        "from": "Example Support <support@desk.example>"}
        conf = work / "config.toml"
        conf.write_text(h.to_toml(data))
        fill(conf, args.tickets)
        env = cli_env()
        cold, body = [], b"Hello,\n\nWe are looking at it now and will write again within the hour.\n"
        for i in range(1, args.replies + 1):
            t0 = time.monotonic()
            p = subprocess.run([*CLI, "--config", str(conf), "--as", "bob", "reply", str(i), "--body-file", "-"],
                               input=body, capture_output=True, env=env, cwd=REPO, timeout=60)
            if p.returncode != 0:
                print(f"reply {i} failed: {p.stderr.decode(errors='replace')}", file=sys.stderr)
                return 1
            rec = sink.wait_for(i, timeout=10)[i - 1]
            cold.append(rec.mono - t0)
        warm = in_process(conf, sink, range(args.replies + 1, 2 * args.replies + 1))
        print(f"reply: {args.replies} replies on a desk of {args.tickets} open tickets, aiosmtpd on loopback")
        print(summary("  `reply` command, start to accepted by SMTP", cold, 1.0))
        print(summary("  send_reply + send_now in-process (the console's path)", warm))
        print(f"  p95 command minus p95 in-process (interpreter start-up, imports, config): "
              f"{pct(cold, 95) - pct(warm, 95):.3f}s")
        return 0 if pct(cold, 95) <= 1.0 else 1
    finally:
        sink.stop()
        shutil.rmtree(work, ignore_errors=True)


def in_process(conf: Path, sink: SMTPSink, ids) -> list[float]:
    from console.clock import SystemClock
    from console.config import load
    from console.outbox import mail as delivery
    from console.replies import desk
    from store import open_db

    cfg = load(conf, check_urls=False)
    db = open_db(cfg.store_path)
    clock = SystemClock()
    out = []
    for tid in ids:
        before = len(sink.records)
        t0 = time.monotonic()
        q = desk.send_reply(db, cfg, tid, "Hello, we are on it.", "bob", clock.now())
        delivery.send_now(db, cfg, q.send_id, clock)
        out.append(sink.wait_for(before + 1, timeout=10)[-1].mono - t0)
    db.close()
    return out


if __name__ == "__main__":
    raise SystemExit(main())
