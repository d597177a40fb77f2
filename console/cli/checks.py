"""Operator commands that mostly report: `check`, `test-page`, `oncall` (and its overrides), `report panic`."""
from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime

from console import actions
from console.alerts import audience, oncall as oc
from console.cli import common
from console.cli.errors import UsageError
from console.cli.replies import check_line as check_smtp
from console.outbox import pages as dispatch
from console.config import Config
from console.identity import as_actor
from store import audit, open_db, reports, write


def check(args: argparse.Namespace) -> int:
    return run_check(common.setup(args, check_urls=True))  # check reports a bad notify URL to everyone


def test_page_command(args: argparse.Namespace) -> int:
    cfg = common.setup(args, check_urls=True)
    actor = common.actor(args, cfg)
    actions.sync_staff(cfg)
    return test_page(cfg, args.target, actor, common.clock().now())


def oncall(args: argparse.Namespace) -> int:
    cfg = common.setup(args)
    if args.set:
        _override(args, cfg)
    return show_oncall(cfg, common.clock().now(), as_json=args.json)


def report(args: argparse.Namespace) -> int:
    if args.week or args.date_from or args.date_to or args.csv or args.html or args.by != "class":
        raise UsageError("report panic takes only --json")
    return panic_report(common.setup(args), as_json=args.json)


def _override(args: argparse.Namespace, cfg: Config) -> None:
    from console.overrides import add_override, parse_local

    position, handle = args.set
    if position not in ("primary", "secondary"):
        raise UsageError(f"position must be primary or secondary, not {position!r}")
    if not args.until:
        raise UsageError("an override needs --until (a time or a duration like 8h)")
    actions.sync_staff(cfg)
    now = common.clock().now()
    start = parse_local(args.start, cfg, now) if args.start else now
    end = parse_local(args.until, cfg, now)
    add_override(common.db(cfg), cfg, handle=handle, position=position, start=start, end=end,
                 actor=common.actor(args, cfg), now=now)
    print(f"{handle} is {position} from {common.local_dt(cfg, start)} until {common.local_dt(cfg, end)}")


def run_check(cfg: Config) -> int:
    """Validate the config (already loaded), the database, IMAP login and folder, and alert targets."""
    problems = 0
    key = None  # without the database, target names are shown without their hash
    print(f"config: ok ({cfg.path})")
    try:
        db = open_db(cfg.store_path)
        key = dispatch.target_key(db)
        db.close()
        print(f"database: ok ({cfg.store_path})")
    except Exception as exc:  # noqa: BLE001
        print(f"database: FAILED: {exc}")
        problems += 1
    if cfg.imap is None:
        print("imap: not configured (mail arrives through `support-console ingest`)")
    for m in cfg.imaps:  # every mailbox, one line each (password or token)
        from console.intake import imap

        where = "imap" if len(cfg.imaps) == 1 else f"imap {m.label}"
        try:
            client = imap.connect(m, imap.secret(cfg.store_path, m))
            try:
                uidvalidity = imap.select(client, m)
                idle = b"IDLE" in client.capabilities()
                how = ", XOAUTH2" if m.auth == "oauth2" else ""
                print(f"{where}: ok ({m.username}@{m.host}:{m.port} {m.folder}{how}, "
                      f"UIDVALIDITY {uidvalidity}, {'IDLE push' if idle else 'no IDLE: polling'})")
            finally:
                client.logout()
        except imap.IntakeError as exc:
            print(f"{where}: FAILED: {exc}")
            problems += 1
    problems += check_smtp(cfg)  # replies (issue 14): EHLO, STARTTLS, AUTH; sends nothing
    if not cfg.staff:
        print("staff: none configured: nobody can be paged")
        problems += 1
    for s in cfg.staff:
        names = [dispatch.service_name(u, key) for u in s.notify]
        calls = "; calls (Class III team step on): " + ", ".join(dispatch.service_name(u, key) for u in s.call)
        print(f"target {s.handle} ({s.role}): " + (", ".join(names) if names else "NO notify URLs")
              + (calls if s.call else ""))
        if not names:
            problems += 1
    if cfg.alerts.channels:
        print("target @desk (every page): " + ", ".join(dispatch.service_name(u, key) for u in cfg.alerts.channels))
    if cfg.alerts.heartbeat_url:
        print(f"heartbeat: {dispatch.service_name(cfg.alerts.heartbeat_url, key)}")
    problems += _check_identity(cfg)
    if cfg.oncall.rotation:
        print("on call rotation: " + ", ".join(cfg.oncall.rotation))
    else:
        print("on call: no [oncall] rotation: primary/secondary pages go nowhere")
        problems += 1
    print("check: " + ("ok" if not problems else f"{problems} problem(s)"))
    return 0 if not problems else 1


def _check_identity(cfg: Config) -> int:
    """How actors are known; a login that names no account here is a problem (a typo locks that person out)."""
    import pwd

    if not cfg.uses_logins:
        print("identity: no [[staff]] logins: --as and [console] operator are trusted as given")
        return 0
    missing = []
    for s in cfg.staff:
        if s.login:
            try:
                pwd.getpwnam(s.login)
            except KeyError:
                missing.append(f"{s.handle}'s login {s.login!r}")
    without = [s.handle for s in cfg.staff if not s.login]
    note = f"; without one: {', '.join(without)} (only root or a supervisor can act as them)" if without else ""
    print(f"identity: logins: the account running a command picks its [[staff]] entry{note}")
    if cfg.console.operator:
        print("identity: [console] operator is ignored when logins are used")
    for m in missing:
        print(f"identity: FAILED: {m} is not an account on this machine")
    return len(missing)


def test_page(cfg: Config, target: str, actor: str, now: datetime) -> int:
    """Send a test page now (not through the outbox) and report each service; an audit event records who
    sent it and how it went."""
    tags = {"primary": ("primary",), "secondary": ("secondary",), "team": ("team",), "supervisors": ("supervisors",)}
    db = open_db(cfg.store_path)
    actions.acting(db, cfg, actor)
    if target in tags:
        handles = [h for _, h in audience.resolve(db, cfg, tags[target], None, now) if h != "@desk"]
    elif target == "desk" or target == "@desk":
        handles = ["@desk"]
    elif cfg.person(target):
        handles = [target]
    else:
        known = ", ".join([s.handle for s in cfg.staff] + list(tags))
        print(f"unknown target {target!r}; use a handle or a tag ({known})", file=sys.stderr)
        return 1
    if not handles:
        print(f"{target}: nobody to page", file=sys.stderr)
        return 1
    failures = 0
    outcomes = {}
    for h in handles:
        report = dispatch.send("support-console test page", f"Test page for {h} from support-console. No action.",
                               dispatch.target_urls(cfg, h), cfg, key=dispatch.target_key(db), urgent=False)
        print(f"{h}: {report.outcome}" + (f" ({report.error})" if report.error else ""))
        for r in report.results:
            print(f"  {r['service']}: {r['status']}" + (f" - {r['error']}" if r.get("error") else ""))
        failures += report.outcome != "sent"
        outcomes[h] = report.outcome
    with write(db):
        audit.add_event(db, None, "test_page", as_actor(actor).recorded, now, target=target, outcomes=outcomes)
    return 0 if not failures else 1


def show_oncall(cfg: Config, now: datetime, *, as_json: bool = False) -> int:
    db = open_db(cfg.store_path)
    rot = audience.rotation(cfg)
    cur = audience.current(db, cfg, now) if rot is not None else None
    if rot is None or cur is None:  # current() is None exactly when there is no rotation
        print("no [oncall] rotation configured", file=sys.stderr)
        return 1
    nxt = oc.handoffs(rot, now, 3)
    if as_json:
        json.dump({"primary": cur.primary, "secondary": cur.secondary, "since": cur.since.isoformat(),
                   "until": cur.until.isoformat(),
                   "handoffs": [{"at": t.isoformat(), "primary": p, "secondary": s} for t, p, s in nxt]},
                  sys.stdout, indent=2)
        print()
        return 0
    tz = cfg.timezone
    print(f"now:   primary {cur.primary}, secondary {cur.secondary or '-'} "
          f"(until {cur.until.astimezone(tz):%a %Y-%m-%d %H:%M %Z})")
    for t, p, s in nxt:
        print(f"next:  {t.astimezone(tz):%a %Y-%m-%d %H:%M %Z}  primary {p}, secondary {s or '-'}")
    return 0


def panic_report(cfg: Config, *, as_json: bool = False) -> int:
    """Panic-mode tickets per requester and month, for billing (the policy bills misused Class III)."""
    out = reports.panic_by_requester_month(open_db(cfg.store_path))
    if as_json:
        json.dump(out, sys.stdout, indent=2)
        print()
        return 0
    if not out:
        print("no panic-mode tickets")
    for r in out:
        print(f"{r['month']}  {r['requester']:30} {r['tickets']} ticket(s): " + ", ".join(f"#{i}" for i in r["ids"]))
    return 0
