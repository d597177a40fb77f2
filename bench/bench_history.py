"""Benchmark: years of history. Prints figures; it is not a test.

    nice -n 10 .venv/bin/python bench/bench_history.py [--sizes 1000,10000,100000] [--keep DIR]

For each size, a desk with that many tickets over three years is built through the project's own code,
as it would have been filed and worked: every mail through intake's filing (console.intake.pipeline,
without IMAP), the pages it made claimed and recorded as sent through the outbox's store functions,
first contact (one in five by a reply from the desk through console.replies.desk, the mail recorded as
sent; the others acknowledged as in the console), the customer's answer filed as a reply, and the
ticket resolved (console.actions). The newest 200 tickets stay open (acknowledged). The build writes
with synchronous=OFF (it is a build; the figures are reads).

Then it prints, for each size:
  change check   the console's check after another process commits (a heartbeat, as the poller's every
                 5 s): console.ui.data.TicketData.poll(), median of 30
  resolved view  TicketData.resolved() (the newest 500 resolved tickets), median of 10
  search         TicketData.search_bodies() (the open tickets and the newest 500 resolved) for a customer's
                 name on the open list and for a common word (in every mail), median of 10 each; and a
                 search of the whole history for the name of a customer resolved long ago
  status         `support-console status` in-process (status.report), median of 10; and as a command
  tickets --open `support-console tickets --open --json` as a command, median of 3
  first paint    the console (Textual, headless) from start to its first paint
  Class III      one Class III mail filed into the desk while the scheduler runs (III = 8s, escalation after
                 4s, repeats every 2s) with 12 staff on a real HTTP receiver on loopback: every page's
                 lateness (receiver time - the page's due time), p50/p95/max
  size           the database file after a checkpoint, bytes per ticket, and the biggest tables (dbstat)
"""
from __future__ import annotations

import argparse
import asyncio
import os
import quopri
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime, timedelta, UTC
from pathlib import Path
from collections.abc import Iterator
from typing import NamedTuple

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import store  # noqa: E402
from console import actions, status  # noqa: E402
from console.outbox import pages as dispatch  # noqa: E402
from console.clock import FrozenClock, SystemClock  # noqa: E402
from console.config import from_dict  # noqa: E402
from console.intake.pipeline import Incoming, file_messages  # noqa: E402
from console.poller import sync_staff  # noqa: E402
from console.replies import desk  # noqa: E402
from store import heartbeat, outbox, outgoing  # noqa: E402
from tests.servers.receivers import HTTPReceiver  # noqa: E402

HANDLES = ("ann", "bob", "cy", "dee", "eve", "fay", "gus", "hal", "ivy", "jon", "kim", "lea")
SUPERVISORS = ("ann", "bob")
OPEN = 200
YEARS = 3
WORDS = ("printer", "invoice", "login", "export", "backup", "network", "mailbox", "report", "upload", "license")
BODY = ("Hello,\n\nsince this morning our {w} does not work any more. We tried restarting it twice and "
        "checked the settings with our administrator, {name}, but the problem stays. The error says that "
        "the service could not be reached and that we should contact support. Our office in {city} "
        "depends on it for the month-end work, so we would be grateful for a quick answer.\n\n"
        "Kind regards,\n{name}\n{company}\n")
CITIES = ("Zürich", "Phoenix", "Lyon", "München", "Porto", "Kraków", "Oslo", "Tucson")


def config(store_path: Path, notify_url=None, sla: dict | None = None):
    return from_dict({
        "timezone": "America/Phoenix",
        "store": {"path": str(store_path)},
        "routing": {"urgent": ["urgent@desk.example"], "support": ["support@desk.example"]},
        "smtp": {"host": "127.0.0.1", "port": 9, "security": "none", "from": "Support <support@desk.example>"},
        "staff": [{"handle": h, "name": h.capitalize(), "role": "supervisor" if h in SUPERVISORS else "staff",
                   "notify": [notify_url(h) if notify_url else f"json://127.0.0.1:9/{h}"]} for h in HANDLES],
        "oncall": {"rotation": list(HANDLES), "handoff": "mon 09:00", "start": "2023-01-02"},
        "alerts": {"backoff_seconds": 0.5, "backoff_max_seconds": 2.0, "send_timeout_seconds": 5.0},
        **({"sla": sla} if sla else {}),
    })


_DKIM = ("DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=company.example; s=mail2026;\r\n"
         " h=from:to:subject:date:message-id:mime-version:content-type;\r\n"
         " bh=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=;\r\n"
         " b=dzdVyOfAKCdLXdJOc9G2q8LoXSlEniSbav+yuU4zGeeruD00lszZVoG4ZHRNiYzR6A9ZkQs3F8\r\n"
         "  e7kPGm+MFaFhhsdbX1yZLwqxSqUmRs7nTgIOrxIEGfB6zYbTGcP7jLsNKSR6dPqdzJMx0AfDg1aoeF\r\n"
         "  wJqXKIfJLrzk12nTOGM=\r\n")


def mail(i: int, *, subject: str, body: str, frm: str, name: str, to: str, msgid: str, extra: str = "") -> bytes:
    """Mail as clients send it, through four relays: multipart/alternative, quoted-printable text and HTML."""
    qp = quopri.encodestring(body.replace("\n", "\r\n").encode()).decode()
    html = quopri.encodestring(("<html><body><p>" + body.replace("\n\n", "</p><p>").replace("\n", "<br>")
                                + "</p></body></html>").encode()).decode()
    received = "".join(
        f"Received: from relay{k}.example (relay{k}.example [192.0.2.{k}])\r\n\tby mx{k + 1}.example (Postfix) with"
        f" ESMTPS id {i:08X}{k}\r\n\tfor <{to}>; Mon, 2 Jan 2023 09:00:0{k} +0000\r\n" for k in range(4))
    return (f"{received}{_DKIM}From: {name} <{frm}>\r\nTo: {to}\r\nSubject: {subject}\r\nMessage-ID: {msgid}\r\n"
            f"Date: Mon, 2 Jan 2023 09:00:00 +0000\r\nMIME-Version: 1.0\r\nX-Mailer: Example Mail 12.3\r\n{extra}"
            f"Content-Type: multipart/alternative; boundary=\"b{i}\"\r\n\r\n"
            f"--b{i}\r\nContent-Type: text/plain; charset=\"utf-8\"\r\nContent-Transfer-Encoding: quoted-printable"
            f"\r\n\r\n{qp}\r\n--b{i}\r\nContent-Type: text/html; charset=\"utf-8\"\r\n"
            f"Content-Transfer-Encoding: quoted-printable\r\n\r\n{html}\r\n--b{i}--\r\n").encode()


def send_pages(db, cfg, now: datetime) -> None:
    """What the dispatcher does, minus apprise: claim the due pages and record them delivered."""
    while rows := dispatch.claim(db, cfg, now, "bench", limit=100):
        with store.write(db):
            for a in rows:
                outbox.record_results(db, a["id"], now, [{"service": f"json://pager#{a['target']}", "ok": True,
                                                          "status": "success", "elapsed": 0.2}])
                outbox.finish(db, a["id"], now, ok=True)


def send_mail(db, now: datetime) -> None:
    """What the mail sender does, minus SMTP: claim the queued mail and record it accepted."""
    with store.write(db):
        for s in outgoing.claim(db, now, claimed_by="bench", send_deadline=now + timedelta(minutes=1), limit=50):
            outgoing.mark_sent(db, s["id"], "bench", now, reply="250 2.0.0 Ok: queued")


class Customer(NamedTuple):
    """The i-th ticket of a desk of n over three years: when it came, from whom, about what."""
    i: int
    rec: datetime
    who: str
    word: str
    name: str
    frm: str
    body: str


def customers(n: int, end: datetime) -> Iterator[Customer]:
    step = timedelta(days=365 * YEARS) / n
    start = end - timedelta(days=365 * YEARS)
    for i in range(n):
        word, name = WORDS[i % len(WORDS)], f"Customer{i} Example"
        yield Customer(i, (start + step * i).replace(microsecond=0), HANDLES[i % len(HANDLES)], word, name,
                       f"customer{i % (n // 3 + 1)}@company{i % 997}.example",
                       BODY.format(w=word, name=name, city=CITIES[i % len(CITIES)], company=f"Company {i % 997}"))


def open_for_build(path: Path):
    """The desk's config and database, written with synchronous=OFF (a build; the figures are reads)."""
    cfg = config(path)
    sync_staff(cfg)
    db = store.open_db(path)
    db.execute("PRAGMA synchronous = OFF")
    return cfg, db


def progress(i: int, t0: float) -> None:
    if i and i % 10_000 == 0:
        print(f"    {i} tickets, {time.perf_counter() - t0:.0f}s", flush=True)


def done(db, t0: float) -> float:
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    return time.perf_counter() - t0


def build(path: Path, n: int, end: datetime) -> float:
    cfg, db = open_for_build(path)
    t0 = time.perf_counter()
    for i, rec, who, word, name, frm, body in customers(n, end):
        urgent = i % 10 == 0
        subject = f"Our {word} is broken ({i})"
        if i % 10 == 5:
            subject = "Class II: " + subject
        raw = mail(i, subject=subject, body=body, frm=frm, name=name,
                   to="urgent@desk.example" if urgent else "support@desk.example", msgid=f"<n{i}@cust.example>")
        [filed] = file_messages(db, cfg, [Incoming(raw, received_at=rec)], rec, source="bench")
        tid = filed.ticket_id
        assert tid is not None, filed
        send_pages(db, cfg, rec)
        at = rec + timedelta(minutes=4)
        extra = ""
        if i % 5 == 0:  # first contact by a reply (composing one is the costliest step of the build)
            q = desk.send_reply(db, cfg, tid, f"Hello {name},\n\nwe are looking at your {word} now.\n\n-- \n{who}\n",
                                who, at)
            send_mail(db, at)
            extra = f"In-Reply-To: <{q.mail.message_id.strip('<>')}>\r\n"
        else:  # or by phone, acknowledged in the console
            actions.acknowledge(db, cfg, tid, who, at)
        send_pages(db, cfg, at)  # the stand-down
        at = rec + timedelta(hours=1)
        quote = "".join(f"> {line}\n" for line in body.splitlines())
        answer = mail(i, subject=f"Re: [#{tid}] {subject}", body=f"Thank you, it is still broken.\n\n{name}\n\n{quote}",
                      frm=frm, name=name, to="support@desk.example", msgid=f"<a{i}@cust.example>", extra=extra)
        file_messages(db, cfg, [Incoming(answer, received_at=at)], at, source="bench")
        if i < n - OPEN:
            actions.resolve(db, cfg, tid, who, rec + timedelta(days=1), note="fixed")
        progress(i, t0)
    return done(db, t0)


def build_fast(path: Path, n: int, end: datetime) -> float:
    """The same desk written through the store functions that filing and replying use, without parsing or
    composing mail (per-mail work, the same at any size, and most of the build's time): tickets, messages
    with their raw bytes, participants, audit events, pages (escalation's arrival pages, claimed and
    recorded sent), the desk's reply mail (sent), the customer's answer; acknowledging and resolving
    through console.actions as in the console."""
    from console import policy as pol
    from store import audit, messages, tickets

    cfg, db = open_for_build(path)
    t0 = time.perf_counter()
    for i, rec, who, word, name, frm, body in customers(n, end):
        cls = "III" if i % 10 == 0 else "II" if i % 10 == 5 else "I"
        subject = f"Our {word} is broken ({i})"
        to = "urgent@desk.example" if cls == "III" else "support@desk.example"
        msgid = f"n{i}@cust.example"
        raw = mail(i, subject=subject, body=body, frm=frm, name=name, to=to, msgid=f"<{msgid}>")
        fields = {"message_id": msgid, "from_addr": frm, "from_name": name, "recipients": [to], "subject": subject,
                  "sent_date": store.times.iso(rec), "body_text": body}
        with store.write(db):
            tid = tickets.create_ticket(db, cls=cls, class_reason="routing", subject=subject, requester=frm,
                                        requester_name=name, received_at=rec, due_at=pol.deadline(cls, rec, cfg.sla),
                                        next_step_at=None, now=rec)
            row = messages.insert_message(db, raw=raw, raw_sha256=messages.sha256(raw), ticket_id=tid, kind="new",
                                          fields=fields, received_at=rec, now=rec, source="bench",
                                          key=messages.dedup_key(messages.content_sha256(raw), msgid))
            tickets.add_participants(db, tid, [frm])
            audit.add_event(db, tid, "created", "intake", rec, message=row, cls=cls, reason="routing")
            if cls != "I":
                for k, target in enumerate((HANDLES[(i // 7) % len(HANDLES)], HANDLES[(i // 7 + 1) % len(HANDLES)])):
                    outbox.add_alert(db, dedup_key=f"{tid}|{cls}|arrival|{target}", ticket_id=tid, cls=cls,
                                     step="arrival", audience="primary" if k == 0 else "secondary", target=target,
                                     urgent=cls == "III", title=f"[Class {cls}] #{tid} NEW: {subject}",
                                     body=f"{name} <{frm}>: {body[:300]}", due_at=rec, now=rec)
        send_pages(db, cfg, rec)
        at = rec + timedelta(minutes=4)
        extra = ""
        if i % 5 == 0:  # first contact by a reply from the desk
            out = (f"From: Support <support@desk.example>\r\nTo: {name} <{frm}>\r\nSubject: Re: [#{tid}] {subject}"
                   f"\r\nMessage-ID: <r{i}@desk.example>\r\nIn-Reply-To: <{msgid}>\r\n\r\nHello {name},\r\n\r\n"
                   f"we are looking at your {word} now.\r\n\r\n-- \r\n{who}\r\n").encode()
            with store.write(db):
                mrow = outgoing.add_message(
                    db, ticket_id=tid, kind="outgoing", raw=out, message_id=f"r{i}@desk.example",
                    from_addr="support@desk.example", from_name="Support", recipients=[frm],
                    subject=f"Re: [#{tid}] {subject}", body_text=f"we are looking at your {word}", in_reply_to=msgid,
                    refs=[msgid], now=at, source=f"desk:{who}")
                outgoing.add_send(db, message_row=mrow, ticket_id=tid, purpose="reply", actor=who, automatic=False,
                                  mail_from="support@desk.example", to_addr=frm, rcpt_to=[frm], now=at)
                audit.add_event(db, tid, "reply_queued", who, at, message=mrow, to=frm)
            send_mail(db, at)
            extra = f"In-Reply-To: <r{i}@desk.example>\r\n"
        actions.acknowledge(db, cfg, tid, who, at)
        send_pages(db, cfg, at)  # the stand-down
        at = rec + timedelta(hours=1)
        quote = "".join(f"> {line}\n" for line in body.splitlines())
        text = f"Thank you, it is still broken.\n\n{name}\n\n{quote}"
        answer = mail(i, subject=f"Re: [#{tid}] {subject}", body=text, frm=frm, name=name, to="support@desk.example",
                      msgid=f"<a{i}@cust.example>", extra=extra)
        with store.write(db):
            reply = {**fields, "message_id": f"a{i}@cust.example", "subject": f"Re: [#{tid}] {subject}",
                     "body_text": text}
            row = messages.insert_message(db, raw=answer, raw_sha256=messages.sha256(answer), ticket_id=tid,
                                          kind="reply", fields=reply, received_at=at, now=at, source="bench",
                                          key=messages.dedup_key(messages.content_sha256(answer), f"a{i}@cust.example"))
            tickets.touch_last_message(db, tid, at)
            audit.add_event(db, tid, "reply_received", "intake", at, message=row, matched="tag", by=frm)
        if i < n - OPEN:
            actions.resolve(db, cfg, tid, who, rec + timedelta(days=1), note="fixed")
        progress(i, t0)
    return done(db, t0)


def median_ms(fn, runs: int) -> float:
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)


def cli_ms(conf: Path, args: list[str], runs: int) -> float:
    """A command's wall time, start to exit, run from this checkout's code (not whatever is installed)."""
    cmd = [sys.executable, "-c", f"import sys; sys.path.insert(0, {str(REPO)!r}); sys.argv[0] = 'support-console';"
           " from console.cli import main; sys.exit(main())", "--config", str(conf), "--as", "ann", *args]
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)


def write_config(path: Path, store_path: Path) -> Path:
    staff = "\n".join(f'[[staff]]\nhandle = "{h}"\nrole = "{"supervisor" if h in SUPERVISORS else "staff"}"\n'
                      f'notify = ["json://127.0.0.1:9/{h}"]\n' for h in HANDLES)
    path.write_text(f'timezone = "America/Phoenix"\n[store]\npath = "{store_path}"\n[routing]\n'
                    f'urgent = ["urgent@desk.example"]\nsupport = ["support@desk.example"]\n{staff}\n'
                    f'[oncall]\nrotation = {list(HANDLES)!r}\nhandoff = "mon 09:00"\nstart = "2023-01-02"\n'
                    .replace("'", '"'))
    path.chmod(0o600)
    return path


def reads(path: Path, n: int, conf: Path) -> dict:
    from console.ui.data import TicketData

    out: dict = {}
    clock = SystemClock()
    data = TicketData(path, clock)
    data.load_all()
    other = store.open_db(path, migrate=False)

    beats = iter(range(1000))

    def check():
        with store.write(other):  # a new time each beat: the same row written again changes no page
            heartbeat.beat(other, "scheduler", clock.now() + timedelta(seconds=next(beats)), pid=os.getpid(),
                           host="bench")
        t = time.perf_counter()
        ch = data.poll()
        assert ch is not None
        return (time.perf_counter() - t) * 1000

    out["change check"] = statistics.median(check() for _ in range(30))
    other.close()
    # Its two parts: the ticket reads (store.console_reads) and the health inputs (heartbeats, outbox counts).
    from store import console_reads

    reader = store.open_db(path, migrate=False)
    marks = console_reads.watermarks(reader)
    since = (datetime.now(UTC) - timedelta(seconds=5)).strftime("%Y-%m-%dT%H:%M:%SZ")
    out["  tickets part"] = median_ms(lambda: (console_reads.watermarks(reader), console_reads.changed_ticket_rows(
        reader, marks, since), console_reads.alerts_after(reader, marks["alert"])), 30)
    out["  health part (outbox)"] = median_ms(lambda: status.health_inputs(reader, clock.now(), sent_total=False), 30)
    reader.close()
    out["resolved view"] = median_ms(lambda: data.resolved(500), 10)
    rare = f"Customer{n - 50} Example"  # a ticket on the open list
    assert data.search_bodies(rare), rare
    out["search (a name)"] = median_ms(lambda: data.search_bodies(rare), 10)
    old = f"Customer{n // 2} Example"  # resolved long ago: only a search of the whole history finds it
    reader = store.open_db(path, migrate=False)
    assert console_reads.tickets_with_text(reader, old), old
    out["  whole history (a name)"] = median_ms(lambda: console_reads.tickets_with_text(reader, old), 10)
    reader.close()
    hits = len(data.search_bodies("broken"))
    out["search (common word)"] = median_ms(lambda: data.search_bodies("broken"), 10)
    out["  common word hits"] = hits
    data.close()
    cfg = config(path)
    out["status (in-process)"] = median_ms(lambda: status.report(cfg, clock.now()), 10)
    out["status (command)"] = cli_ms(conf, ["status"], 3)
    out["tickets --open (command)"] = cli_ms(conf, ["tickets", "--open", "--json"], 3)
    out["first paint"] = asyncio.run(first_paint(path, cfg)) * 1000
    return out


async def first_paint(path: Path, cfg) -> float:
    from console.ui.app import ConsoleApp

    t0 = time.perf_counter()
    app = ConsoleApp(path, cfg, "ann", FrozenClock(datetime.now(UTC)), live=False)
    async with app.run_test(size=(120, 36)) as pilot:
        while app.first_paint_at is None and time.perf_counter() - t0 < 30:
            await pilot.pause(0.01)
        return (app.first_paint_at or float("nan")) - t0


def class_iii_pages(path: Path) -> list[float]:
    """One Class III into the big desk while the scheduler runs: each page's lateness, in seconds."""
    from console.scheduler import Scheduler

    receiver = HTTPReceiver()
    receiver.start()
    stop = threading.Event()
    try:
        cfg = config(path, notify_url=lambda h: receiver.url(f"/{h}"),
                     sla={"III": "8s", "III_escalate_after": "4s", "III_repeat_every": "2s"})
        sync_staff(cfg)
        clock = SystemClock()
        sched = Scheduler(cfg, clock, stop, workers=4)
        sched.start_up()
        thread = threading.Thread(target=sched.run, daemon=True)
        thread.start()
        time.sleep(1.0)
        db = store.open_db(path)
        now = clock.now().replace(microsecond=0)
        raw = mail(0, subject="Everything is down", body="Nothing works.", frm="boss@bigcustomer.example",
                   name="Boss", to="urgent@desk.example", msgid=f"<urgent-{time.time_ns()}@bigcustomer.example>")
        [filed] = file_messages(db, cfg, [Incoming(raw, received_at=now)], now, source="bench")
        assert filed.ticket_id is not None, filed
        sched.wake.set()
        time.sleep(11.0)  # arrival, escalation at 4 s, breach at 8 s and a repeat at 10 s
        stop.set()
        sched.wake.set()
        thread.join(timeout=10)
        sched.close()
        # First contact, as someone would make it: a later run on this desk does not inherit its repeats.
        actions.acknowledge(db, cfg, filed.ticket_id, "ann", clock.now())
        rows = {(a["target"], a["title"]): a for a in outbox.list_alerts(db, ticket_id=filed.ticket_id)}
        late = []
        for rec in receiver.records:  # the receiver's path is the handle the page was for
            a = rows.get((rec.path.strip("/").split("?")[0], rec.body.get("title")))
            if a is not None:
                late.append(rec.wall - datetime.fromisoformat(a["due_at"].replace("Z", "+00:00")).timestamp())
        db.close()
        return late
    finally:
        stop.set()
        receiver.stop()


def pct(values: list[float], p: float) -> float:
    s = sorted(values)
    k = (len(s) - 1) * p / 100
    lo, hi = int(k), min(int(k) + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


def sizes(path: Path, n: int) -> str:
    db = store.open_db(path, migrate=False)
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    total = path.stat().st_size
    try:
        tables = db.execute("SELECT name, sum(pgsize) FROM dbstat GROUP BY name ORDER BY 2 DESC LIMIT 6").fetchall()
    except Exception:  # noqa: BLE001 - dbstat is optional in SQLite builds
        tables = []
    db.close()
    parts = ", ".join(f"{name} {size / 2**20:.1f} MiB" for name, size in tables)
    return f"{total / 2**20:.1f} MiB, {total / n / 1024:.1f} KiB per ticket ({parts})"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="1000,10000,100000")
    ap.add_argument("--keep", type=Path, help="build (or reuse) the databases in this directory")
    ap.add_argument("--no-pages", action="store_true", help="skip the Class III page measurement")
    ap.add_argument("--fast-above", type=int, default=10_000,
                    help="build bigger desks through the store functions, without parsing mail (default 10000)")
    args = ap.parse_args()
    print(f"bench_history  {datetime.now(UTC):%Y-%m-%d %H:%M:%SZ}  python {sys.version.split()[0]}  "
          f"cpus {os.cpu_count()}", flush=True)
    work = args.keep or Path(tempfile.mkdtemp(prefix="bench-history-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        for n in (int(s) for s in args.sizes.split(",")):
            path = work / f"desk-{n}.db"
            if not path.exists():
                print(f"\n{n} tickets: building", flush=True)
                fast = n > args.fast_above
                took = (build_fast if fast else build)(path, n, datetime.now(UTC) - timedelta(days=2))
                print(f"  built in {took:.0f}s{' (through the store functions)' if fast else ''}", flush=True)
            else:
                print(f"\n{n} tickets: reusing {path}", flush=True)
            conf = write_config(work / f"config-{n}.toml", path)
            for name, value in reads(path, n, conf).items():
                print(f"  {name:26} {value:8.{2 if value < 10 else 1}f} ms" if isinstance(value, float)
                      else f"  {name:26} {value:8}")
            if not args.no_pages:
                late = class_iii_pages(path)
                if late:
                    print(f"  Class III pages, lateness  n={len(late)}  p50={pct(late, 50):.3f}s  "
                          f"p95={pct(late, 95):.3f}s  max={max(late):.3f}s", flush=True)
                else:
                    print("  Class III pages: none arrived", flush=True)
            print(f"  size {sizes(path, n)}", flush=True)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
