"""Mail intake benchmark against a throw-away Dovecot (needs root and dovecot-imapd). Prints figures.

    .venv/bin/python bench/bench_intake.py [--messages 5000] [--rounds 5] [--latency 60] [--mime] [--profile]

(a) Throughput: N small messages (--mime: multipart/alternative as mail clients send it) are written
    into the Maildir; a raw imapclient batch FETCH (BODY.PEEK[], batches of 500) is timed against
    `Intake.once()` (the work of `poll --once`: fetch, parse, classify, one transaction per batch with
    tickets, audit events and watermark) into a fresh database. Both timings run from connecting to
    logging out. For reference, the same FETCH is also timed on a connection set up and read as
    intake's is (imap.connect's settings, fetch_batch's reply reader): what intake's own fetch costs.
    Round 1 includes starting the parsing helpers' fork server; later rounds find it
    running, as a running poller does after its first backlog. Targets: intake >= 1,000 msg/s and >= 0.5
    of the raw FETCH rate.
(b) Latency: `support-console poll` runs in IDLE on its own folder; messages are APPENDed one at a
    time and each is timed from APPEND's return to its row being committed (the DB is polled every
    10 ms). Target: p95 <= 1 s.
"""
from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import shutil
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# Intake's parsing helpers' fork server imports this file as __mp_main__. A real poller's main module
# is the small `support-console` launcher, so the helper must not pay for these imports here either.
if __name__ != "__mp_main__":
    from console.clock import SystemClock
    from console.config import load
    from console.intake.imap import fetch_batch, silence_imaplib_debug
    from console.intake.watch import Intake
    from tests.integration.helpers import (
        DESK_PASSWORD, PASSWORD_ENV, Poller, mail, scalar, wait_until, write_config,
    )
    from tests.servers.dovecot import Dovecot, dovecot_unavailable_reason


def small_mail(i: int) -> bytes:
    to = "urgent@example.com" if i % 50 == 0 else "support@example.com"
    return mail(i, to=to, frm=f"cust{i % 300}@customer.example",
                body=f"Hello,\r\n\r\nticket body number {i}: the service is slow again.\r\n\r\nThanks\r\n")


def mime_mail(i: int) -> bytes:
    """What mail clients send: multipart/alternative, quoted-printable UTF-8 text and HTML."""
    to = "urgent@example.com" if i % 50 == 0 else "support@example.com"
    text = f"Hello,=0D=0A=0D=0Aticket number {i}: the caf=C3=A9 service is slow again.=0D=0A=0D=0AThanks"
    body = (f"--b{i}\r\nContent-Type: text/plain; charset=\"utf-8\"\r\nContent-Transfer-Encoding: quoted-printable"
            f"\r\n\r\n{text}\r\n--b{i}\r\nContent-Type: text/html; charset=\"utf-8\"\r\n"
            f"Content-Transfer-Encoding: quoted-printable\r\n\r\n<p>{text}</p>\r\n--b{i}--\r\n")
    return mail(i, to=to, frm=f"cust{i % 300}@customer.example", body=body,
                extra=f"MIME-Version: 1.0\nContent-Type: multipart/alternative; boundary=\"b{i}\"")


def fetch_rate(dovecot: Dovecot, as_intake: bool = False, batch: int = 500) -> tuple[int, float]:
    """A batch FETCH of the whole mailbox with imapclient's fetch(); `as_intake`: on a connection set up
    and read as intake's (imap.connect's settings, imap.fetch_batch)."""
    # Timed like Intake.once(): from connecting (~10 ms with login) to logging out.
    t0 = time.perf_counter()
    c = dovecot.client(timeout=60)
    if as_intake:
        c.normalise_times = False
        silence_imaplib_debug(c)
    try:
        c.select_folder("INBOX", readonly=True)
        uids = c.search(["ALL"])
        got = 0
        for i in range(0, len(uids), batch):
            if as_intake:
                got += len(fetch_batch(c, uids[i:i + batch]))
            else:
                data = c.fetch(uids[i:i + batch], [b"BODY.PEEK[]", b"INTERNALDATE"])
                got += sum(1 for d in data.values() if d.get(b"BODY[]") is not None)
    finally:
        c.logout()
    return got, time.perf_counter() - t0


def intake_rate(cfg_path: Path, profile: bool) -> tuple[int, float, cProfile.Profile | None]:
    cfg = load(cfg_path)
    intake = Intake(cfg, SystemClock(), threading.Event())
    prof = cProfile.Profile() if profile else None
    t0 = time.perf_counter()
    if prof:
        prof.enable()
    stored = intake.once()
    if prof:
        prof.disable()
    elapsed = time.perf_counter() - t0
    intake.db.close()
    return stored, elapsed, prof


def latency(dovecot: Dovecot, tmp: Path, n: int) -> list[float]:
    dovecot.create_folder("Latency")
    cfg = write_config(tmp, port=dovecot.port, folder="Latency", store=tmp / "latency.db", name="latency.toml")
    db = tmp / "latency.db"
    poller = Poller(cfg, tmp / "latency-poller.log").start()
    try:
        # Ready when the first message has gone through (connected, synced, in IDLE).
        dovecot.append(mail("warm-up", msgid="<warm-up@bench>"), folder="Latency")
        wait_until(lambda: scalar(db, "SELECT count(*) FROM messages"), 30, "the warm-up message", alive=poller.alive)
        out = []
        c = dovecot.client()
        try:
            for i in range(n):
                mid = f"lat-{i}-{time.time_ns()}@bench"
                raw = mail(f"lat{i}", msgid=f"<{mid}>")
                c.append("Latency", raw)
                t0 = time.perf_counter()
                wait_until(lambda: scalar(db, "SELECT count(*) FROM messages m JOIN tickets t ON t.id = m.ticket_id"
                                              " WHERE m.message_id = ?", [mid]), 30, mid, interval=0.01,
                           alive=poller.alive)
                out.append(time.perf_counter() - t0)
        finally:
            c.logout()
        return out
    except AssertionError as exc:  # from wait_until: the poller died or did not store the message in time
        raise RuntimeError(f"{exc}; the poller's log:\n{poller.log()[-3000:]}") from None
    finally:
        poller.stop()


def pct(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, max(0, round(p / 100 * len(s) + 0.5) - 1))]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--messages", type=int, default=5000)
    ap.add_argument("--latency", type=int, default=60, help="messages for the latency run (0: skip)")
    ap.add_argument("--rounds", type=int, default=5, help="throughput rounds; the machines are shared and noisy, "
                                                          "so each pairs a raw FETCH with an intake run")
    ap.add_argument("--profile", action="store_true", help="cProfile the intake run and print the top functions")
    ap.add_argument("--mime", action="store_true", help="multipart/alternative quoted-printable mail (0.6 kB), "
                                                        "as mail clients send it, instead of small plain mail")
    args = ap.parse_args()
    reason = dovecot_unavailable_reason()
    if reason:
        print(f"skipped: {reason}")
        return 2
    os.environ[PASSWORD_ENV] = DESK_PASSWORD
    root = Path(tempfile.mkdtemp(prefix="sc-bench-"))
    root.chmod(0o755)  # uid 65534 must reach the Maildir below it
    dovecot = Dovecot(root / "dovecot")
    try:
        dovecot.start()
        work = root / "work"
        work.mkdir()
        make = mime_mail if args.mime else small_mail
        dovecot.deliver_files([make(i) for i in range(args.messages)])
        # Let Dovecot move new/ -> cur/ and build its index once, outside both timings.
        c = dovecot.client(timeout=120)
        c.select_folder("INBOX", readonly=True)
        c.search(["ALL"])
        c.logout()

        print(f"(a) {args.messages} {'MIME (multipart/alternative, quoted-printable)' if args.mime else 'small'} messages,"
              f" {args.rounds} round(s) of raw FETCH then intake")
        ratios, raw_rates, in_rates, own = [], [], [], []
        for r in range(args.rounds):
            n_raw, t_raw = fetch_rate(dovecot)
            n_own, t_own = fetch_rate(dovecot, as_intake=True)
            store = work / f"bench-{r}.db"  # a fresh database each round
            cfg = write_config(work, port=dovecot.port, store=store, max_message_size="25MB", name=f"bench-{r}.toml")
            n_in, t_in, prof = intake_rate(cfg, args.profile and r == 0)
            raw_rate, in_rate = n_raw / t_raw, n_in / t_in
            ratios.append(in_rate / raw_rate)
            raw_rates.append(raw_rate)
            in_rates.append(in_rate)
            own.append(in_rate / (n_own / t_own))
            print(f"    round {r + 1}: raw FETCH BODY.PEEK[] (batches of 500) {n_raw} in {t_raw:.2f}s = {raw_rate:,.0f} msg/s;"
                  f" intake (Intake.once, fresh DB) {n_in} in {t_in:.2f}s = {in_rate:,.0f} msg/s; ratio {ratios[-1]:.2f}"
                  f"\n             the same FETCH read as intake reads it {n_own} in {t_own:.2f}s"
                  f" = {n_own / t_own:,.0f} msg/s")
            tickets = scalar(store, "SELECT count(*) FROM tickets")
            if n_in != args.messages or tickets != args.messages:
                print(f"    WARNING: stored {n_in}, tickets {tickets}, expected {args.messages}")
            if prof:
                pstats.Stats(prof).sort_stats("cumulative").print_stats(25)
        print(f"    ratio intake/raw: median {statistics.median(ratios):.2f} (min {min(ratios):.2f}, max {max(ratios):.2f})"
              f"   (targets: >= 1,000 msg/s, >= 0.5)")
        # Intake reads FETCH replies with its own reader (console/intake/fetch_reply.py), not with imapclient's
        # parser: this is what the rest of intake (parse, classify, commit) costs on top of its own fetch.
        print(f"    intake / the FETCH read as intake reads it: median {statistics.median(own):.2f}"
              f" (min {min(own):.2f}, max {max(own):.2f})")
        # Other tenants only ever slow a run down, so the fastest of several runs is the least disturbed
        # one (timeit's reasoning); the median of the paired ratios above is the figure that includes them.
        print(f"    best of {args.rounds}: raw {max(raw_rates):,.0f} msg/s, intake {max(in_rates):,.0f} msg/s,"
              f" ratio {max(in_rates) / max(raw_rates):.2f}")

        if args.latency:
            lat = latency(dovecot, work, args.latency)
            print(f"(b) arrival-to-ticket latency with IDLE, {len(lat)} APPENDs one at a time")
            print(f"    p50 {statistics.median(lat) * 1000:.0f} ms, p95 {pct(lat, 95) * 1000:.0f} ms, "
                  f"max {max(lat) * 1000:.0f} ms   (target: p95 <= 1000 ms)")
    finally:
        dovecot.stop(graceful=False)
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
