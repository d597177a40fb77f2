"""The desk's actions, shared by the CLI and the console: permission checks, stale-write refusal,
an audit event with the actor, and the effect on escalation, all in one short transaction."""
from __future__ import annotations

from datetime import datetime

from store.db import Database

from console import policy as pol
from console.ack import standdown
from console.alerts import escalation
from console.config import Config
from console.identity import as_actor
import store
from store import audit, outbox, staff as store_staff, tickets, write
from store.errors import EX_NOPERM, NeedsFixing, NotPermitted
from store.times import parse_required


def sync_staff(cfg: Config) -> None:
    """Mirror the config's staff (handle, name, role) into the database: roles are checked against both,
    and a person gone from the config loses theirs at once (see person_now)."""
    db = store.open_db(cfg.store_path)
    try:
        with write(db):
            store_staff.sync_staff(db, [(s.handle, s.name, s.role) for s in cfg.staff])
    finally:
        db.close()


class ActionRefused(NeedsFixing):
    """It makes no sense now (already resolved, changed meanwhile...). Nothing was written."""


class PermissionRefused(ActionRefused, NotPermitted):
    """The actor may not do this (a role, an assignment, a read-only account). Nothing was written."""

    exit_code = EX_NOPERM


def person_now(db: Database, cfg: Config, handle: str) -> dict | None:
    """The person as both this process's config and the staff mirror have them, with the lower of the
    two roles; None when either has no such (active) person. The CLI loads the config afresh for each
    command; a console open for days learns of a removal or a demotion from the mirror, which every
    process that loads the new config rewrites (the poller on SIGHUP, any command)."""
    s = cfg.person(handle)
    m = store_staff.get_staff(db, handle)
    if s is None or m is None or not m["active"]:
        return None
    role = "supervisor" if s.role == "supervisor" and m["role"] == "supervisor" else "staff"
    return {"handle": handle, "name": s.name, "role": role}


def acting(db: Database, cfg: Config, actor: str) -> dict:
    """Who acts, checked now: a read-only account, someone gone from the config, or a supervisor acting
    for someone after losing the role, is refused."""
    actor = as_actor(actor)
    if actor.read_only:
        raise PermissionRefused(actor.why or f"{actor} may only read")
    person = person_now(db, cfg, actor.handle)
    if person is None:
        hint = "" if cfg.uses_logins else "; pass --as HANDLE or set [console] operator"
        raise PermissionRefused(f"{actor.handle!r} is not on the staff list{hint}")
    if actor.by is not None and actor.by != "root":
        by = person_now(db, cfg, actor.by)
        if by is None or not _is_super(by):
            raise PermissionRefused(f"{actor.by} may no longer act for {actor.handle}: not a supervisor now")
    return person


def _load(db: Database, ticket_id: int, expected_version: int | None) -> dict:
    t = tickets.get_ticket(db, ticket_id)
    if expected_version is not None and t["version"] != expected_version:
        raise ActionRefused(f"ticket #{ticket_id} changed since you loaded it (by someone else); "
                            "nothing was written, look again")
    return t


def _is_super(person: dict) -> bool:
    return person["role"] == "supervisor"


def _own_or_super(person: dict, t: dict, verb: str) -> None:
    if _is_super(person):
        return
    if t["assignee"] not in (None, person["handle"]):
        raise PermissionRefused(f"#{t['id']} is assigned to {t['assignee']}; only they or a supervisor may {verb} it")


CONTACTS = ("reply", "ack", "details", "none")  # what a first contact can be (tickets.first_contact)


def acknowledge(db: Database, cfg: Config, ticket_id: int, actor: str, now: datetime,
                expected_version: int | None = None, via: dict | None = None, contact: str = "ack") -> dict:
    """First contact made: stops the SLA clock and every further page; those paged are told to stand down.
    `contact` says what it was: "ack" (contact another way: a call, a chat), "reply" (a mail sent) or
    "details" (a details request answering a call-me mail); it is kept on the ticket and in the event.
    `via` goes into the audit event (how it came: {"via": "page link", "page": alert id})."""
    if contact not in CONTACTS[:3]:
        raise ActionRefused(f"first contact must be one of {', '.join(CONTACTS[:3])}, not {contact!r}")
    with write(db):
        person = acting(db, cfg, actor)
        who = as_actor(actor)
        actor = who.handle
        t = _load(db, ticket_id, expected_version)
        if t["status"] != "new":
            raise ActionRefused(f"#{ticket_id} is already {t['status']}")
        _own_or_super(person, t, "acknowledge")
        changes = {"status": "acknowledged", "acknowledged_at": now, "acknowledged_by": actor, "first_contact": contact}
        if t["assignee"] is None:
            changes["assignee"] = actor  # whoever made first contact owns it
        t = tickets.update_ticket(db, ticket_id, changes, now, expected_version=t["version"])
        breached = pol.is_breached(parse_required(t["due_at"]), now, now)
        cancelled = escalation.stop(db, ticket_id, now, f"acknowledged by {who.recorded}")
        # The SLA report reads what the contact was, against which deadline and clock, and who owned it.
        audit.add_event(db, ticket_id, "acknowledged", who.recorded, now, breached=breached, cancelled_pages=cancelled,
                        contact=contact, due_at=t["due_at"], clock=t.get("clock_no") or 1, assignee=t["assignee"],
                        by=actor, **(via or {}))
        standdown.notify(db, cfg, t, actor, now)
        return t


def take(db: Database, cfg: Config, ticket_id: int, actor: str, now: datetime,
         expected_version: int | None = None) -> dict:
    with write(db):
        person = acting(db, cfg, actor)
        who = as_actor(actor)
        actor = who.handle
        t = _load(db, ticket_id, expected_version)
        if t["status"] == "resolved":
            raise ActionRefused(f"#{ticket_id} is resolved")
        if t["assignee"] == actor:
            raise ActionRefused(f"#{ticket_id} is already yours")
        if t["assignee"] is not None and not _is_super(person):
            raise PermissionRefused(f"#{ticket_id} is assigned to {t['assignee']}; ask a supervisor to reassign it")
        t2 = tickets.update_ticket(db, ticket_id, {"assignee": actor}, now, expected_version=t["version"])
        audit.add_event(db, ticket_id, "taken", who.recorded, now, previous=t["assignee"])
        return t2


def assign(db: Database, cfg: Config, ticket_id: int, handle: str, actor: str, now: datetime,
           expected_version: int | None = None) -> dict:
    with write(db):
        person = acting(db, cfg, actor)
        who = as_actor(actor)
        actor = who.handle
        t = _load(db, ticket_id, expected_version)
        if person_now(db, cfg, handle) is None:
            raise ActionRefused(f"{handle!r} is not on the staff list")
        if t["status"] == "resolved":
            raise ActionRefused(f"#{ticket_id} is resolved")
        if not _is_super(person) and (handle != actor or t["assignee"] not in (None, actor)):
            raise PermissionRefused("only a supervisor may assign tickets to others or reassign them; "
                                "staff may take unassigned tickets")
        if t["assignee"] == handle:
            raise ActionRefused(f"#{ticket_id} is already assigned to {handle}")
        t2 = tickets.update_ticket(db, ticket_id, {"assignee": handle}, now, expected_version=t["version"])
        audit.add_event(db, ticket_id, "assigned", who.recorded, now, previous=t["assignee"], assignee=handle)
        return t2


def reclassify(db: Database, cfg: Config, ticket_id: int, cls: str, actor: str, now: datetime, *,
               reason: str | None = None, panic: bool = False, expected_version: int | None = None) -> dict:
    if cls not in pol.CLASSES:
        raise ActionRefused(f"class must be I, II or III, not {cls!r}")
    with write(db):
        person = acting(db, cfg, actor)
        who = as_actor(actor)
        actor = who.handle
        t = _load(db, ticket_id, expected_version)
        if panic and not _is_super(person):
            raise PermissionRefused("only a supervisor may record panic mode")
        if panic and t["class"] != "III":
            raise ActionRefused(f"panic mode is for misused Class III mail; #{ticket_id} is Class {t['class']}")
        _own_or_super(person, t, "reclassify")
        if cls == t["class"] and not panic:
            raise ActionRefused(f"#{ticket_id} is already Class {cls}")
        received = escalation.clock_start(t)  # the running clock: arrival, or the answer to a details request
        changes = {"class": cls, "due_at": pol.deadline(cls, received, cfg.sla),
                   "class_reason": f"reclassified by {who.recorded}" + (f": {reason}" if reason else "")}
        if panic:
            changes["panic_mode"] = 1
        t2 = tickets.update_ticket(db, ticket_id, changes, now, expected_version=t["version"])
        cancelled = 0
        # A way out of Class III paging, like an acknowledgement: those paged stand down, and hear the new
        # class's deadline in that notice, not in a second "NEW" notice. (Class II's arrival notice asks
        # nothing urgent of anyone; an acknowledged ticket's people were stood down then.)
        out_of_iii = t["class"] == "III" and cls != "III" and t2["status"] == "new"
        if cls != t["class"]:  # recording panic mode alone does not restart the schedule
            cancelled = escalation.restart(db, t2, cfg, now, f"reclassified to Class {cls} by {who.recorded}",
                                           skip_arrival=out_of_iii and bool(outbox.paged_targets(db, ticket_id)))
        audit.add_event(db, ticket_id, "reclassified", who.recorded, now, previous=t["class"], to=cls,
                        reason=reason or "", due_at=t2["due_at"],
                        panic=panic, cancelled_pages=cancelled)
        if out_of_iii:
            standdown.downgraded(db, cfg, tickets.get_ticket(db, ticket_id), t["class"], actor, now)
        return tickets.get_ticket(db, ticket_id)


def resolve(db: Database, cfg: Config, ticket_id: int, actor: str, now: datetime, *, note: str | None = None,
            expected_version: int | None = None) -> dict:
    with write(db):
        person = acting(db, cfg, actor)
        who = as_actor(actor)
        actor = who.handle
        t = _load(db, ticket_id, expected_version)
        if t["status"] == "resolved":
            raise ActionRefused(f"#{ticket_id} is already resolved")
        _own_or_super(person, t, "resolve")
        changes: dict = {"status": "resolved", "resolved_at": now}
        uncontacted = t["acknowledged_at"] is None
        if uncontacted:
            # Resolved without contact (spam, a duplicate, a problem gone by itself): the clock stops, but
            # nobody made contact, so it is recorded as "none", never as an acknowledgement.
            changes["first_contact"] = "none"
        if t["assignee"] is None:
            changes["assignee"] = actor
        t2 = tickets.update_ticket(db, ticket_id, changes, now, expected_version=t["version"])
        cancelled = escalation.stop(db, ticket_id, now, f"resolved by {who.recorded}")
        contact = {"contact": "none", "due_at": t["due_at"], "clock": t.get("clock_no") or 1,
                   "assignee": t2["assignee"]} if uncontacted else {}
        audit.add_event(db, ticket_id, "resolved", who.recorded, now, note=note or "", cancelled_pages=cancelled,
                        **contact)
        if t["acknowledged_at"] is None:  # resolving was the first contact: those paged stand down too
            standdown.notify(db, cfg, t2, actor, now, verb="resolved")
        return t2


def reopen(db: Database, cfg: Config, ticket_id: int, actor: str, now: datetime, *,
           expected_version: int | None = None) -> dict:
    """A resolved ticket goes back to the open list. One that had first contact stays acknowledged (its
    clock stays stopped); one resolved without contact comes back new, with its clock and steps."""
    with write(db):
        person = acting(db, cfg, actor)
        who = as_actor(actor)
        t = _load(db, ticket_id, expected_version)
        if t["status"] != "resolved":
            raise ActionRefused(f"#{ticket_id} is not resolved; it is {t['status']}")
        if t.get("merged_into"):  # its mail is on the other ticket: only unmerge brings it back whole
            raise ActionRefused(f"#{ticket_id} is merged into #{t['merged_into']}; "
                                f"unmerge {ticket_id} to bring it back")
        _own_or_super(person, t, "reopen")
        status = "acknowledged" if t["acknowledged_at"] else "new"
        back: dict = {"status": status, "resolved_at": None}
        if status == "new":
            back["first_contact"] = None  # resolved without contact: its clock runs again
        t2 = tickets.update_ticket(db, ticket_id, back, now, expected_version=t["version"])
        if status == "new":
            escalation.restart(db, t2, cfg, now, f"reopened by {who.recorded}")
        audit.add_event(db, ticket_id, "reopened", who.recorded, now, previous="resolved", status=status)
        return t2


def check_may_act(db: Database, cfg: Config, ticket_id: int, actor: str, verb: str, *, any_staff: bool = False,
                  expected_version: int | None = None) -> dict:
    """The ticket, after the checks every action makes: the actor may act now (identity, role), the ticket
    has not changed since it was read and (unless `any_staff`) it is unassigned, the actor's, or the
    actor is a supervisor. For actions defined elsewhere (replies, notes); raises ActionRefused."""
    person = acting(db, cfg, actor)
    t = _load(db, ticket_id, expected_version)
    if not any_staff:
        _own_or_super(person, t, verb)
    return t


def resend_page(db: Database, cfg: Config, alert_id: int, actor: str, now: datetime) -> dict:
    """Queue an expired, failed or cancelled page again, on purpose (it may have gone out once)."""
    with write(db):
        acting(db, cfg, actor)
        before = outbox.requeue(db, alert_id, now)
        audit.add_event(db, before["ticket_id"], "page_resent", as_actor(actor).recorded, now, alert=alert_id,
                        target=before["target"], step=before["step"], previous=before["state"])
        return before
