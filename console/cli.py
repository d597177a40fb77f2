"""`support-console`: the entry point and its subcommands (see shared/DESIGN.md, "Public contract").

Errors are one clear line and a non-zero exit, never a traceback (set SUPPORT_CONSOLE_DEBUG=1 to see one).
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path

EX_USAGE, EX_DATAERR, EX_SOFTWARE, EX_CANTCREAT, EX_TEMPFAIL, EX_NOPERM, EX_CONFIG = 64, 65, 70, 73, 75, 77, 78
EX_LOCKED = 3


class CliError(Exception):
    def __init__(self, message: str, code: int = 1):
        super().__init__(message)
        self.code = code


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", metavar="PATH", default=argparse.SUPPRESS, help="config file (else $SUPPORT_CONSOLE_CONFIG, else the "
                                                         "user config dir)")
    common.add_argument("--as", dest="actor", metavar="HANDLE", default=argparse.SUPPRESS,
                        help="act as HANDLE: with [[staff]] logins only for supervisors and root; without, the "
                             "default is [console] operator, else $USER")
    p = argparse.ArgumentParser(prog="support-console", parents=[common],
                                description="Email support desk: intake, SLA clocks, pages and a console.")
    p.add_argument("--version", action="version", version=f"support-console {_version()}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    def cmd(name, help_):
        return sub.add_parser(name, help=help_, parents=[common], description=help_)

    s = cmd("poll", "run the poller (IMAP IDLE intake, escalation, pages)")
    s.add_argument("--once", action="store_true", help="one full cycle, then exit")
    s.add_argument("-v", "--verbose", action="store_true")
    cmd("ingest", "store one RFC 5322 message from stdin (for an MTA pipe); exit 75 = try later")
    s = cmd("tickets", "list tickets")
    s.add_argument("--json", action="store_true")
    s.add_argument("--open", action="store_true", help="only tickets not resolved")
    s.add_argument("--class", dest="cls", choices=["I", "II", "III"])
    s = cmd("show", "one ticket with its messages and audit events")
    s.add_argument("ticket")
    s.add_argument("--json", action="store_true")
    for name, help_ in (("ack", "acknowledge: first contact made"), ("take", "take a ticket"),
                        ("reopen", "reopen a resolved ticket")):
        cmd(name, help_).add_argument("ticket")
    s = cmd("assign", "assign or reassign a ticket")
    s.add_argument("ticket")
    s.add_argument("handle")
    s = cmd("reclassify", "change a ticket's class; the deadline counts from the original arrival")
    s.add_argument("ticket")
    s.add_argument("cls", metavar="CLASS", help="I, II or III")
    s.add_argument("--reason")
    s.add_argument("--panic", action="store_true", help="record a misused Class III for billing (supervisors)")
    s = cmd("resolve", "resolve a ticket")
    s.add_argument("ticket")
    s.add_argument("--note")
    s = cmd("alerts", "the page outbox: pending, sent, failed, expired")
    s.add_argument("--json", action="store_true")
    s.add_argument("--resend", type=int, metavar="ID", help="send an expired or failed page again")
    s = cmd("unfiled", "auto-replies and bounces that matched no ticket (kept, never dropped)")
    s.add_argument("--json", action="store_true")
    s = cmd("raw", "the stored bytes of one message (for quarantined mail); escaped on a terminal")
    s.add_argument("message", type=int, metavar="MESSAGE", help="message id (see `show TICKET`)")
    cmd("check", "validate config, log in to IMAP, list alert targets")
    s = cmd("init", "write a commented starter config (never over an existing file)")
    s.add_argument("path", nargs="?", metavar="PATH", help="where (default: --config, $SUPPORT_CONSOLE_CONFIG, "
                                                           "else the user config path)")
    s.add_argument("--database", action="store_true", help="instead: create the configured database, empty, on "
                                                           "purpose (never over one; see the README, Failover)")
    cmd("replicate", "run Litestream for the configured database ([replicate] url)")
    s = cmd("restore", "restore the database from a replica onto this host (never over an existing database)")
    s.add_argument("--from", dest="url", required=True, metavar="URL", help="the replica: s3://, sftp:// or file:///")
    s = cmd("status", "health of intake, scheduler and outbox from the database; exit 1 when degraded")
    s.add_argument("--json", action="store_true")
    s = cmd("test-page", "send a test page to a handle or a tag (primary, secondary, team, supervisors)")
    s.add_argument("target")
    s = cmd("oncall", "who is on call now, and the next handoffs; supervisors can override")
    s.add_argument("--json", action="store_true")
    s.add_argument("--set", nargs=2, metavar=("POSITION", "HANDLE"),
                   help="put HANDLE on call as primary or secondary (supervisors)")
    s.add_argument("--until", help="end of the override: 'YYYY-MM-DD HH:MM' (desk time zone) or a duration like 8h")
    s.add_argument("--from", dest="start", help="start of the override (default: now)")
    s = cmd("report", "reports")
    s.add_argument("which", choices=["panic"])
    s.add_argument("--json", action="store_true")
    cmd("demo", "the console on a bundled demo mailbox with live deadlines; no server, no config")
    s = cmd("screenshots", "regenerate the SVG screenshots")
    s.add_argument("dir", nargs="?", default="screenshots")
    from console.replies.commands import add_parsers as add_reply_parsers

    add_reply_parsers(cmd)  # reply, note
    s = cmd("serve", "the console in a browser (textual-serve); loopback unless --public")
    s.add_argument("--port", type=int, default=8000)
    s.add_argument("--host", help="address to listen on (default 127.0.0.1; 0.0.0.0 with --public)")
    s.add_argument("--public", action="store_true", help="allow a non-loopback address: textual-serve has no "
                                                         "login, so only behind an authenticating proxy")
    s.add_argument("--demo", action="store_true", help="serve the demo (no config needed)")
    s.add_argument("--public-url", metavar="URL", help="the address browsers use, e.g. the proxy's https:// URL")
    return p


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("support-console")
    except PackageNotFoundError:  # run from a checkout that was never installed
        return "unknown"


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    # --config/--as may come before or after the command; SUPPRESS keeps a subparser from resetting them.
    args.config = getattr(args, "config", None)
    args.actor = getattr(args, "actor", None)
    from console import logs

    logs.setup(logging.INFO if getattr(args, "verbose", False) or args.command == "poll" else logging.WARNING)
    try:
        return _dispatch(args)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0
    except Exception as exc:  # noqa: BLE001 - turned into one line below
        code, message = _explain(exc, args.command)
        if os.environ.get("SUPPORT_CONSOLE_DEBUG"):
            # More to read, the same exit status: an MTA must still see 75 (retry), not 1 (bounce).
            import traceback

            traceback.print_exc()
        print(f"support-console: {logs.redact(message)}", file=sys.stderr)  # an exception may quote a URL
        return code


def _explain(exc: Exception, command: str | None) -> tuple[int, str]:
    from console.config import ConfigError
    from console.locks import LockHeld
    from store.db import DatabaseUnavailable, StoreError

    if isinstance(exc, CliError):
        return exc.code, str(exc)
    if isinstance(exc, ConfigError):
        return (EX_TEMPFAIL if command == "ingest" else EX_CONFIG), f"config error: {exc}"
    if command != "ingest":  # (ingest never imports imapclient: an MTA starts one process per mail)
        from console.intake.imap import IntakeError

        if isinstance(exc, IntakeError):
            return 1, str(exc)
    if isinstance(exc, LockHeld):
        return EX_LOCKED, str(exc)
    if type(exc).__name__ == "ReplicationError":  # console.replication (not imported for every command)
        return 1, str(exc)
    if isinstance(exc, DatabaseUnavailable):  # locked, or a deleted WAL: try again later
        return EX_TEMPFAIL, str(exc)
    if isinstance(exc, StoreError):
        return (EX_TEMPFAIL if command == "ingest" else 1), str(exc)
    if command == "ingest":
        return EX_TEMPFAIL, f"cannot store the message now ({type(exc).__name__}); the MTA should retry"
    return EX_SOFTWARE, f"internal error ({type(exc).__name__}: {exc}); set SUPPORT_CONSOLE_DEBUG=1 for details"


# --- helpers -------------------------------------------------------------------------------------

def _config(args, *, check_urls: bool = True):
    from console import config, logs, redact

    cfg = config.load(config.resolve_path(args.config), check_urls=check_urls)
    logs.set_secrets(redact.config_secrets(cfg))
    return cfg


def _actor(args, cfg, *, acting: bool = True):
    """Who acts (console.identity); `acting`: this command changes something, so a read-only account
    is refused here rather than at its first action."""
    from console.identity import IdentityError, resolve

    try:
        actor = resolve(cfg, args.actor)
    except IdentityError as exc:
        raise CliError(str(exc), EX_NOPERM if exc.refused else EX_USAGE) from None
    if acting and actor.read_only:
        raise CliError(actor.why, EX_NOPERM)
    return actor


def _db(cfg):
    from store import open_db

    return open_db(cfg.store_path)


def _clock():
    from console.clock import SystemClock

    return SystemClock()


def _ticket_id(text: str) -> int:
    t = text.lstrip("#")
    if not t.isdigit():
        raise CliError(f"not a ticket id: {text!r} (expected a number such as 42 or #42)", EX_USAGE)
    return int(t)


def _local(cfg, text: str | None) -> str:
    from store.times import parse_iso

    if not text:
        return "-"
    return parse_iso(text).astimezone(cfg.timezone).strftime("%Y-%m-%d %H:%M")


def _left(seconds: int | None) -> str:
    from console.timefmt import left

    return left(seconds)


def _print_json(obj) -> None:
    json.dump(obj, sys.stdout, indent=2, ensure_ascii=False, default=str)
    sys.stdout.write("\n")


# --- commands -------------------------------------------------------------------------------------

def _dispatch(args) -> int:
    cmd = args.command
    if cmd == "demo":
        from console.demo import run_demo

        return run_demo(operator=args.actor)
    if cmd == "screenshots":
        from console.screenshots import write_screenshots

        for p in write_screenshots(Path(args.dir)):
            print(p)
        return 0
    if cmd == "ingest":
        return _ingest(args)
    if cmd in ("reply", "note"):
        return _reply_or_note(args)
    if cmd in ("replicate", "restore") or (cmd == "init" and args.database):
        from console.replication import run_command

        return run_command(args, _config(args, check_urls=False), _clock())
    if cmd == "init":
        return _init(args)
    if cmd == "serve" and args.demo:
        return _serve(args, None)
    # apprise checks notify URLs (~0.2 s) only where pages are sent; `check` reports a bad one to everyone
    cfg = _config(args, check_urls=cmd in ("check", "poll", "test-page"))
    if args.actor is not None:
        _actor(args, cfg, acting=False)  # a refused --as is refused whatever the command
    if cmd is None:
        from console.actions import sync_staff
        from console.ui.app import run_console

        sync_staff(cfg)
        return run_console(cfg.store_path, cfg, _actor(args, cfg, acting=False), _clock())
    if cmd == "serve":
        return _serve(args, cfg)
    if cmd == "status":
        return _status(args, cfg)
    if cmd == "poll":
        from console import poller

        return poller.run(cfg, _clock(), once=args.once)
    if cmd == "tickets":
        return _tickets(args, cfg)
    if cmd == "show":
        return _show(args, cfg)
    if cmd in ("ack", "take", "assign", "reclassify", "resolve", "reopen"):
        return _action(args, cfg)
    if cmd == "alerts":
        return _alerts(args, cfg)
    if cmd == "unfiled":
        return _unfiled(args, cfg)
    if cmd == "raw":
        return _raw(args, cfg)
    if cmd == "check":
        from console.checks import run_check

        return run_check(cfg)
    if cmd == "test-page":
        from console.checks import test_page
        from console.actions import sync_staff

        actor = _actor(args, cfg)
        sync_staff(cfg)
        return test_page(cfg, args.target, actor, _clock().now())
    if cmd == "oncall":
        from console.checks import show_oncall

        if args.set:
            _override(args, cfg)
        return show_oncall(cfg, _clock().now(), as_json=args.json)
    if cmd == "report":
        from console.checks import panic_report

        return panic_report(cfg, as_json=args.json)
    raise CliError(f"unknown command {cmd!r}", EX_USAGE)


def _ingest(args) -> int:
    # Imports only what filing needs (not the poller, apprise or imapclient): an MTA runs one process a mail.
    from console.intake.pipeline import Incoming, file_messages

    raw = sys.stdin.buffer.read()
    if not raw.strip():
        raise CliError("no message on stdin; nothing stored", EX_DATAERR)
    cfg = _config(args, check_urls=False)  # a pager typo must not make the MTA defer mail
    db = _db(cfg)
    filed = file_messages(db, cfg, [Incoming(raw=raw)], _clock().now(), source="ingest")[0]
    where = f" (ticket #{filed.ticket_id})" if filed.ticket_id else ""
    print(f"{filed.outcome}{where}")
    return 0


def _reply_or_note(args) -> int:
    from console.replies import commands

    cfg = _config(args, check_urls=False)  # mail to a customer pages nobody: apprise need not check pager URLs
    run = commands.run_reply if args.command == "reply" else commands.run_note
    return run(args, cfg, _ticket_id(args.ticket), _actor(args, cfg), _clock())


def _init(args) -> int:
    from console import config
    from console.starter import write_starter

    path = config.resolve_path(args.path or args.config)
    try:
        write_starter(path)
    except FileExistsError:
        raise CliError(f"{path} already exists; not overwritten (give another PATH, or edit it)", EX_CANTCREAT) \
            from None
    except OSError as exc:
        raise CliError(f"cannot write {path}: {exc.strerror}", EX_CANTCREAT) from None
    print(f"wrote {path}: set [imap], [routing], [[staff]] and [oncall], then run `support-console check`")
    return 0


def _serve(args, cfg) -> int:
    from console.serve import ServeRefused, serve

    try:
        return serve(None if cfg is None else cfg.path, host=args.host, port=args.port, public=args.public,
                     demo=args.demo, public_url=args.public_url)
    except ServeRefused as exc:
        raise CliError(str(exc), EX_USAGE) from None


def _status(args, cfg) -> int:
    from console.status import report

    healthy, text = report(cfg, _clock().now(), as_json=args.json)
    print(text)
    return 0 if healthy else 1


def _tickets(args, cfg) -> int:
    from console.safe_text import clean_line
    from console.views import ticket_public
    from store import tickets

    now = _clock().now()
    rows = [ticket_public(r, now) for r in tickets.list_tickets(_db(cfg), open_only=args.open, cls=args.cls)]
    if args.json:
        _print_json(rows)
        return 0
    if not rows:
        print("no tickets")
        return 0
    print(f"{'ID':>5}  {'CLASS':5} {'STATUS':12} {'DUE':16} {'LEFT':>8}  {'ASSIGNEE':10} {'REQUESTER':24} SUBJECT")
    for t in rows:
        flags = ("!" if t["breached"] else "") + ("?" if t["needs_details"] else "") + ("P" if t["panic_mode"] else "")
        print(f"{t['id']:>5}  {t['class']:5} {t['status']:12} {_local(cfg, t['due_at']):16} "
              f"{_left(t['seconds_left']):>8}  {(t['assignee'] or '-')[:10]:10} {clean_line(t['requester'], 24):24} "
              f"{flags + ' ' if flags else ''}{clean_line(t['subject'], 60)}")
    return 0


def _show(args, cfg) -> int:
    from console.replies.commands import print_delivery, with_delivery
    from console.views import message_public, ticket_public
    from store import audit, messages, outbox, tickets

    db = _db(cfg)
    tid = _ticket_id(args.ticket)
    now = _clock().now()
    row = tickets.list_tickets(db, ids=[tid])
    if not row:
        raise CliError(f"no ticket #{tid}")
    t = ticket_public(row[0], now)
    msgs = with_delivery(db, [message_public(m) for m in messages.messages_for(db, tid)])
    events = audit.events_for(db, tid)
    pages = outbox.list_alerts(db, ticket_id=tid)
    if args.json:
        t["messages"], t["events"], t["alerts"] = msgs, events, pages
        _print_json(t)
        return 0
    print(f"#{t['id']}  Class {t['class']}  {t['status']}  {'BREACHED ' if t['breached'] else ''}"
          f"due {_local(cfg, t['due_at'])} ({_left(t['seconds_left'])})")
    print(f"Subject:   {msgs[0]['subject'] if msgs else ''}")
    print(f"Requester: {t['requester']}   Assignee: {t['assignee'] or '-'}")
    flags = [f for f in ("needs_details", "panic_mode", "quarantined") if t[f]]
    if flags:
        print("Flags:     " + ", ".join(flags))
    for m in msgs:
        print(f"\n--- message {m['id']}: {m['kind']} from {m['from_name']} <{m['from_addr']}> "
              f"at {_local(cfg, m['received_at'])}")
        if m["defects"]:
            print("    defects: " + "; ".join(map(str, m["defects"]))[:300])
        print(m["body_text"][:4000])
    print("\nHistory:")
    for e in events:
        print(f"  {_local(cfg, e['at'])}  {e['actor']:10} {e['kind']}  {json.dumps(e['detail'])[:120]}")
    if pages:
        print("\nPages:")
        for a in pages:
            print(f"  {a['id']:>5} {a['state']:9} {a['step']:10} -> {a['target']}")
    print_delivery(msgs, lambda at: _local(cfg, at))
    return 0


def _action(args, cfg) -> int:
    from console import actions
    from console.actions import sync_staff

    sync_staff(cfg)
    db = _db(cfg)
    tid = _ticket_id(args.ticket)
    actor = _actor(args, cfg)
    now = _clock().now()
    if args.command == "ack":
        actions.acknowledge(db, cfg, tid, actor, now)
        print(f"#{tid} acknowledged by {actor.recorded}; pages stopped")
    elif args.command == "take":
        actions.take(db, cfg, tid, actor, now)
        print(f"#{tid} is now assigned to {actor}")
    elif args.command == "assign":
        actions.assign(db, cfg, tid, args.handle, actor, now)
        print(f"#{tid} assigned to {args.handle}")
    elif args.command == "reclassify":
        t = actions.reclassify(db, cfg, tid, args.cls.upper(), actor, now, reason=args.reason, panic=args.panic)
        print(f"#{tid} is now Class {t['class']}, due {_local(cfg, t['due_at'])}"
              + (" (panic mode recorded)" if args.panic else ""))
    elif args.command == "resolve":
        actions.resolve(db, cfg, tid, actor, now, note=args.note)
        print(f"#{tid} resolved")
    elif args.command == "reopen":
        t = actions.reopen(db, cfg, tid, actor, now)
        print(f"#{tid} reopened ({t['status']})")
    return 0


def _unfiled(args, cfg) -> int:
    from console.views import message_public
    from store import messages

    rows = [message_public(m) for m in messages.unfiled_messages(_db(cfg))]
    if args.json:
        _print_json(rows)
        return 0
    if not rows:
        print("no unfiled mail")
    for m in rows:
        print(f"{m['id']:>6}  {m['kind']:9} {_local(cfg, m['received_at'])}  {m['from_addr'][:30]:30} {m['subject'][:60]}")
    return 0


def _raw(args, cfg) -> int:
    from console.safe_text import clean_block
    from store import messages

    raw = messages.raw_message(_db(cfg), args.message)
    if not raw:
        raise CliError(f"no message {args.message}")
    if sys.stdout.isatty():
        # Mail is untrusted: on a terminal, show it with control sequences removed (pipe it for the bytes).
        print(clean_block(raw.decode("utf-8", "replace")))
    else:
        sys.stdout.buffer.write(raw)
    return 0


def _override(args, cfg) -> None:
    from console.overrides import add_override, parse_local
    from console.actions import sync_staff

    position, handle = args.set
    if position not in ("primary", "secondary"):
        raise CliError(f"position must be primary or secondary, not {position!r}", EX_USAGE)
    if not args.until:
        raise CliError("an override needs --until (a time or a duration like 8h)", EX_USAGE)
    sync_staff(cfg)
    now = _clock().now()
    start = parse_local(args.start, cfg, now) if args.start else now
    end = parse_local(args.until, cfg, now)
    add_override(_db(cfg), cfg, handle=handle, position=position, start=start, end=end, actor=_actor(args, cfg),
                 now=now)
    print(f"{handle} is {position} from {_local_dt(cfg, start)} until {_local_dt(cfg, end)}")


def _local_dt(cfg, dt) -> str:
    return dt.astimezone(cfg.timezone).strftime("%Y-%m-%d %H:%M %Z")


def _alerts(args, cfg) -> int:
    from console import actions
    from console.actions import sync_staff
    from store import outbox

    db = _db(cfg)
    if args.resend is not None:
        actor = _actor(args, cfg)
        sync_staff(cfg)
        actions.resend_page(db, cfg, args.resend, actor, _clock().now())
        print(f"alert {args.resend} queued to be sent again")
        return 0
    rows = outbox.list_alerts(db, limit=500)
    if args.json:
        _print_json(rows)
        return 0
    counts = outbox.state_counts(db)
    print("outbox: " + (", ".join(f"{k} {v}" for k, v in sorted(counts.items())) or "empty"))
    for a in rows:
        res = "; ".join(f"{r['service']}={r['status']}" for r in a["results"][-3:])
        print(f"{a['id']:>5} {a['state']:9} #{a['ticket_id'] or '-':<5} {a['step']:10} -> {a['target']:10} "
              f"tries {a['attempts']:<3} {res}{'  ' + a['last_error'] if a['last_error'] else ''}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
