"""The `reply` and `note` commands, and the mail parts of `show` and `check`."""
from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from console.cli import common
from console.cli.errors import CommandFailed, NotSetUp, UsageError
from console.config import Config
from console.safe_text import clean_line

MAX_BODY_BYTES = 1024 * 1024


def _read_text(path: str, what: str) -> str:
    if path == "-":
        data = sys.stdin.buffer.read(MAX_BODY_BYTES + 1)
    else:
        try:
            with open(Path(path).expanduser(), "rb") as f:
                data = f.read(MAX_BODY_BYTES + 1)
        except OSError as exc:
            raise UsageError(f"cannot read {path}: {exc.strerror}") from None
    if len(data) > MAX_BODY_BYTES:
        raise UsageError(f"the {what} is larger than {MAX_BODY_BYTES // 1024} KB; nothing was sent")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise UsageError(f"the {what} is not UTF-8 text; nothing was sent") from None


def _edited(text: str, what: str, name: str) -> str:
    from console.replies import editor

    if not sys.stdin.isatty():
        raise UsageError(f"give the {what} with --body-file PATH (or --body-file - to read stdin)")
    try:
        out = editor.edit(text, name=name)
    except editor.EditorError as exc:
        raise UsageError(str(exc)) from None
    if out is None:
        raise UsageError(f"the {what} was left empty or unchanged; nothing was sent")
    return out


def reply(args: argparse.Namespace) -> int:
    cfg = common.setup(args)  # mail to a customer pages nobody: apprise need not check pager URLs
    return run_reply(args, cfg, common.ticket_id(args.ticket), common.actor(args, cfg), common.clock())


def note(args: argparse.Namespace) -> int:
    cfg = common.setup(args)
    return run_note(args, cfg, common.ticket_id(args.ticket), common.actor(args, cfg), common.clock())


def run_reply(args, cfg: Config, tid: int, actor: str, clock) -> int:
    from console.actions import sync_staff
    from console.outbox import mail as delivery
    from console.replies import compose, desk, templates
    from store import open_db, tickets

    if cfg.smtp is None:
        raise NotSetUp("replies are not set up: add an [smtp] table (host, from, ...) to the config")
    if sum(map(bool, (args.template, args.body_file, args.resend is not None))) > 1:
        raise UsageError("give one of --template, --body-file and --resend")
    sync_staff(cfg)
    db = open_db(cfg.store_path)
    logging.getLogger(delivery.log.name).setLevel(logging.CRITICAL)  # the outcome is this command's one line
    if args.resend is not None:
        row = desk.resend(db, cfg, tid, args.resend, actor, clock.now())
        return _report(tid, delivery.send_now(db, cfg, row["id"], clock), ", ".join(row["rcpt_to"]), "", db, clock)
    t = tickets.get_ticket(db, tid)
    person = cfg.person(actor)
    signature = person.signature if person is not None else None
    try:
        if args.template:
            body = compose.with_signature(desk.template_text(cfg, args.template, t, actor), signature)
        elif args.body_file:
            body = compose.with_signature(_read_text(args.body_file, "reply"), signature)
        else:
            body = _edited(desk.draft_reply(db, cfg, tid, actor).body, "reply", f"reply-{tid}.txt")
    except templates.TemplateError as exc:
        raise UsageError(str(exc)) from None
    queued = desk.send_reply(db, cfg, tid, body, actor, clock.now(), template=args.template, cc_all=args.cc_all)
    outcome = delivery.send_now(db, cfg, queued.send_id, clock)
    to = queued.mail.to_addr + (f" (cc {', '.join(queued.mail.cc)})" if queued.mail.cc else "")
    if queued.mail.left_off:
        to += f" ({len(queued.mail.left_off)} Cc left off, see `show {tid}`)"
    ack = f"; #{tid} acknowledged by {actor}, pages stopped" if queued.acknowledged else ""
    return _report(tid, outcome, to, ack, db, clock)


def _report(tid: int, outcome, to: str, ack: str, db, clock) -> int:
    if outcome.state == "sent":
        print(f"#{tid}: reply sent to {to}: {clean_line(outcome.detail, 200)}{ack}")
        return 0
    if outcome.state == "unrecorded":  # it went out; the database could not take the record
        print(f"#{tid}: {clean_line(outcome.detail, 300)}{ack}")
        return 0
    if outcome.state in ("queued", "busy"):
        why = f" ({clean_line(outcome.detail, 200)})" if outcome.state == "queued" else " (the poller is sending it)"
        print(f"#{tid}: reply to {to} queued, not sent yet{why}{_poller_note(db, clock)}{ack}")
        return 0
    if ack:
        print(ack.lstrip("; "))
    if outcome.state == "failed":
        raise CommandFailed(f"#{tid}: the mail to {to} failed: {clean_line(outcome.detail, 300)}; not resent "
                       f"(it stays on the ticket, see `show {tid}`)")
    raise CommandFailed(f"#{tid}: {clean_line(outcome.detail, 300)}; see `show {tid}` (send it again only if it did "
                   f"not arrive: reply {tid} --resend {outcome.send_id})")


def _poller_note(db, clock) -> str:
    from console import health
    from store import heartbeat

    if health.assess_scheduler(heartbeat.heartbeats(db), clock.now()).ok:
        return "; the poller retries it"
    return "; no poller is running to retry it: start `support-console poll`"


def run_note(args, cfg: Config, tid: int, actor: str, clock) -> int:
    from console.actions import sync_staff
    from console.replies import desk
    from store import open_db

    text = _read_text(args.body_file, "note") if args.body_file else _edited("", "note", f"note-{tid}.txt")
    sync_staff(cfg)
    row = desk.add_note(open_db(cfg.store_path), cfg, tid, text, actor, clock.now())
    print(f"#{tid}: note added (message {row}); it is never sent")
    return 0


def with_delivery(db, msgs: list[dict]) -> list[dict]:
    """`show`'s messages, each outgoing one with its "delivery": state, tries, the server's answer."""
    from store import outgoing

    by_row = outgoing.delivery_by_message(db, [m["id"] for m in msgs if m["kind"] == "outgoing"])
    for m in msgs:
        d = by_row.get(m["id"])
        if d is not None:
            m["delivery"] = {k: d[k] for k in ("state", "purpose", "actor", "attempts", "rcpt_to", "created_at",
                                               "sent_at", "next_attempt_at", "smtp_reply", "last_error", "refused",
                                               "saved")} | {"id": d["id"]}
    return msgs


def print_delivery(msgs: list[dict], local) -> None:
    """`show`'s text: what became of each mail the desk sent on this ticket."""
    sent = [m for m in msgs if "delivery" in m]
    if not sent:
        return
    print("\nMail sent:")
    for m in sent:
        d = m["delivery"]
        when = local(d["sent_at"] or d["created_at"])
        note = d["smtp_reply"] if d["state"] == "sent" else d["last_error"] or ""
        if d["state"] == "pending" and d["next_attempt_at"]:
            note += f" (next try {local(d['next_attempt_at'])})"
        state = d["state"].upper() if d["state"] in ("failed", "expired") else d["state"]
        print(f"  {d['id']:>5} {d['purpose']:8} {state:8} {when}  to {', '.join(d['rcpt_to'])[:60]}  "
              f"tries {d['attempts']}  {clean_line(note, 160)}")
        if d["state"] in ("failed", "expired"):
            print(f"        send it again, if it did not arrive: support-console reply {m['ticket_id']} "
                  f"--resend {d['id']}")


def check_line(cfg: Config) -> int:
    """`check`: log in to SMTP as a send would, sending nothing. Prints one line; returns the problems (0 or 1)."""
    if cfg.smtp is None:
        print("smtp: not configured (replies and receipts are off)")
        return 0
    from console.replies import receipts, smtp

    said = receipts.check_line(cfg.replies)  # a warning when receipts can be forged
    if said:
        print(said)

    try:
        said = smtp.check(cfg.smtp, smtp.secret_for(cfg)) if cfg.smtp.auth == "oauth2" else smtp.check(cfg.smtp)
        print(f"smtp: ok ({said})")
        return 0
    except smtp.SmtpError as exc:
        print(f"smtp: FAILED: {exc}")
        return 1
