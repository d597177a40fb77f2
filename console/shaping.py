"""Shaping tickets: merge several into one, undo a merge exactly, and split a message off into its own ticket.

Each is one write transaction with its audit events, like the desk's other actions (console.actions, whose
checks these reuse): who acts, may they, and what the tickets say now.

- **merge**: the merged tickets' messages, notes and history join the target; the target keeps the strictest
  class and the earliest open deadline; the merged ones are resolved with `merged_into` set, their unsent
  pages cancelled and those paged told to stand down. What moved and each ticket's row before are recorded
  (store.shaping), so that **unmerge** restores the ticket as it was, with its own clock and messages.
- **split**: a customer's message (and, if asked, their later mail on the ticket) becomes a new ticket,
  classified from the mail as intake would, with a clock from that message's arrival; steps already due
  go into the outbox at once, as for new mail.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from store.db import Database

from console import policy as pol
from console.ack import standdown, texts
from console.actions import ActionRefused, PermissionRefused, acting, check_may_act
from console.alerts import escalation
from console.config import Config
from console.identity import as_actor
from console.safe_text import clean_line
from store import audit, outbox, shaping, tickets, write
from store.times import iso, parse_iso

# The columns a merge may change on each side, and so the ones unmerge puts back.
_RESTORED = ("class", "class_reason", "status", "received_at", "due_at", "acknowledged_at", "acknowledged_by",
             "assignee", "resolved_at", "panic_mode", "needs_details")
_CLOCK = ("class", "class_reason", "received_at", "due_at")


class NeedsConfirmation(ActionRefused):
    """The action is allowed but asks a person to say yes first (a merge across requesters)."""


def _ticket(db: Database, ticket_id: int) -> dict[str, Any]:
    try:
        return tickets.get_ticket(db, ticket_id)
    except tickets.NoSuchTicket:
        raise ActionRefused(f"no ticket #{ticket_id}; `support-console tickets` lists them") from None


def _supervisor(db: Database, cfg: Config, actor: str, verb: str) -> None:
    person = acting(db, cfg, actor)
    if person["role"] != "supervisor":
        raise PermissionRefused(f"only a supervisor may {verb} tickets (as for reassigning them)")


def _strictest(classes: list[str]) -> str:
    return max(classes, key=pol.CLASSES.index)


def combined_clock(target: dict[str, Any], others: list[dict[str, Any]]) -> dict[str, Any]:
    """The target's class and clock once `others` join it (pure): the strictest class of them all; while the
    target awaits first contact, the earliest deadline of those awaiting it, with the arrival of the
    earliest-due ticket of the strictest class (its escalation steps count from that arrival). Returns only
    what differs from `target`."""
    everyone = [target, *others]
    cls = _strictest([t["class"] for t in everyone])
    out: dict[str, Any] = {}
    if cls != target["class"]:
        source = min((t for t in others if t["class"] == cls), key=lambda t: t["due_at"])
        out.update({"class": cls, "class_reason": f"merged: Class {cls} from #{source['id']}"})
    if target["status"] == "new":
        waiting = [t for t in everyone if t["status"] == "new"]
        due = min(t["due_at"] for t in waiting)
        strict = [t for t in waiting if t["class"] == cls] or waiting
        received = min(strict, key=lambda t: t["due_at"])["received_at"]
        if due != target["due_at"]:
            out["due_at"] = due
        if received != target["received_at"]:
            out["received_at"] = received
    return out


def merge(db: Database, cfg: Config, target_id: int, ticket_ids: list[int], actor: str, now: datetime, *,
          confirmed: bool = False) -> dict[str, Any]:
    """Merge `ticket_ids` into `target_id`; returns the target. A merge across requesters needs `confirmed`
    (NeedsConfirmation says why); only supervisors merge."""
    ids = list(dict.fromkeys(ticket_ids))
    if not ids:
        raise ActionRefused(f"name the tickets to merge into #{target_id}: merge TARGET TICKET...")
    with write(db):
        _supervisor(db, cfg, actor, "merge")
        who = as_actor(actor)
        target = _ticket(db, target_id)
        if target["merged_into"] is not None:
            raise ActionRefused(f"#{target_id} is merged into #{target['merged_into']}; "
                                f"merge into #{target['merged_into']} instead")
        if target["status"] == "resolved":
            raise ActionRefused(f"#{target_id} is resolved; reopen it first (reopen {target_id}) or merge into an "
                                "open ticket")
        others = []
        for tid in ids:
            if tid == target_id:
                raise ActionRefused(f"cannot merge #{tid} into itself; name the target first, then the others")
            t = _ticket(db, tid)
            if t["merged_into"] is not None:
                raise ActionRefused(f"#{tid} is already merged into #{t['merged_into']}; unmerge {tid} first")
            inside = shaping.merged_into_this(db, tid)
            if inside:
                raise ActionRefused(f"#{tid} has {_list(inside)} merged into it; merge into #{tid} instead, or "
                                    f"unmerge {' '.join(map(str, inside))} first")
            others.append(t)
        requesters = sorted({(t["requester"] or "").lower() for t in [target, *others]} - {""})
        if len(requesters) > 1 and not confirmed:
            names = ", ".join(requesters)[:200]
            raise NeedsConfirmation(f"these tickets come from {len(requesters)} requesters ({names}); "
                                    "say --yes to merge them anyway")
        clock = combined_clock(target, others)
        target_before = target
        if clock:
            target = tickets.update_ticket(db, target_id, clock, now)
            if target["status"] == "new":
                # Those already paged for a merged ticket of the new class are told where it went (below):
                # the target's steps go on from there, without a second arrival page.
                paged = any(t["class"] == target["class"] and outbox.paged_targets(db, t["id"]) for t in others)
                escalation.restart(db, target, cfg, now, f"merged into by {who.recorded}", skip_arrival=paged)
        already = set(shaping.participants(db, target_id))
        for t in others:
            _merge_one(db, cfg, target_before, t, already, who.recorded, who.handle, now)
        shaping.refresh_last_message(db, target_id)
        audit.add_event(db, target_id, "merged", who.recorded, now, tickets=[t["id"] for t in others],
                        changed=sorted(clock), **{k: v for k, v in clock.items() if k in ("class", "due_at")})
        return tickets.get_ticket(db, target_id)


def _merge_one(db: Database, cfg: Config, target: dict[str, Any], t: dict[str, Any], already: set[str],
               recorded: str, handle: str, now: datetime) -> None:
    tid, target_id = t["id"], target["id"]
    msgs = shaping.message_ids(db, tid)
    events = shaping.event_ids(db, tid)
    added = [p for p in shaping.participants(db, tid) if p not in already]
    tickets.add_participants(db, target_id, added)  # their mail threads here, via the merged ticket or directly
    already.update(added)
    shaping.move_messages(db, msgs, tid, target_id)
    shaping.move_events(db, events, tid, target_id)
    unsent = shaping.unsent_alerts(db, tid)
    cancelled = escalation.stop(db, tid, now, f"merged into #{target_id} by {recorded}")
    if t["status"] == "new":  # those paged for it hear where it went: its clock is the target's now
        current = tickets.get_ticket(db, target_id)
        if current["status"] == "new":
            _follow_target(db, cfg, t, current, handle, now)
        else:  # first contact was made on the target: nothing more is asked of them
            standdown.notify(db, cfg, t, handle, now, verb=f"merged into #{target_id}")
    tickets.update_ticket(db, tid, {"status": "resolved", "resolved_at": now, "merged_into": target_id}, now)
    shaping.refresh_last_message(db, tid)
    shaping.record_merge(db, target=target_id, ticket=tid, at=iso(now), actor=recorded, ticket_before=t,
                         target_before=target, moved_messages=msgs, moved_events=events, added_participants=added,
                         cancelled_alerts=unsent)
    audit.add_event(db, tid, "merged_into", recorded, now, target=target_id, messages=len(msgs),
                    cancelled_pages=cancelled)


def _follow_target(db: Database, cfg: Config, t: dict[str, Any], target: dict[str, Any], handle: str,
                   now: datetime) -> None:
    """"#7 merged into #3 by Ann: follow #3", to each person paged for #7 (a stand-down row for #7, so they
    are not told again at its acknowledgement): the target still awaits first contact, and its pages go on."""
    who = texts.person_name(cfg, handle)
    tid, target_id = t["id"], target["id"]
    title = texts.fit_title(f"#{tid} merged into #{target_id} by {who}: follow #{target_id}", "", "")
    due = parse_iso(target["due_at"])
    assert due is not None
    tz = cfg.timezone
    subject = clean_line(t["subject"], 200) or "(no subject)"
    body = (f"Ticket #{tid} ({subject}) was merged into #{target_id} by {who} at "
            f"{now.astimezone(tz).strftime('%a %H:%M %Z')}.\nIts pages stop; #{target_id} (Class {target['class']}) "
            f"still awaits first contact, due by {due.astimezone(tz).strftime('%a %d %b %H:%M %Z')}: "
            f"acknowledge #{target_id}.")
    told = []
    for person in outbox.standdown_targets(db, tid):
        if person == handle:
            continue
        if outbox.add_alert(db, dedup_key=f"t{tid}:{outbox.STANDDOWN}:merged-{target_id}@{iso(now)}:{person}",
                            ticket_id=tid, cls=t["class"], step=outbox.STANDDOWN, audience="paged", target=person,
                            urgent=False, title=title, body=body, due_at=now, now=now):
            told.append(person)
    if told:
        audit.add_event(db, tid, "stand_down_due", handle, now, targets=told, follow=target_id)


def unmerge(db: Database, cfg: Config, ticket_id: int, actor: str, now: datetime) -> dict[str, Any]:
    """Undo the merge of `ticket_id`: its messages and history come back, its row is as it was (class,
    clock, status, assignee), and the target's class and clock are those of what remains merged into it.
    Mail that joined the target after the merge stays there. Returns the restored ticket."""
    with write(db):
        _supervisor(db, cfg, actor, "unmerge")
        who = as_actor(actor)
        t = _ticket(db, ticket_id)
        record = shaping.open_merge(db, ticket_id) if t["merged_into"] is not None else None
        if record is None:
            inside = shaping.merged_into_this(db, ticket_id)
            hint = f"; {_list(inside)} merged into it: unmerge {' '.join(map(str, inside))}" if inside else ""
            raise ActionRefused(f"#{ticket_id} is not merged into another ticket{hint}")
        target_id = record["target"]
        before = record["ticket_before"]
        back = shaping.move_messages(db, record["moved_messages"], target_id, ticket_id)
        shaping.move_events(db, record["moved_events"], target_id, ticket_id)
        shaping.remove_participants(db, target_id, record["added_participants"])
        restored = {k: before[k] for k in _RESTORED}
        restored["merged_into"] = None
        t = tickets.update_ticket(db, ticket_id, restored, now)
        if t["status"] == "new":
            # Its own clock again: the steps it had reached stay sent; later ones (catching up at once if
            # they came due meanwhile, collapsed into the latest) follow from its own arrival.
            received = parse_iso(t["received_at"])
            assert received is not None
            cursor = parse_iso(before["step_cursor"])
            nxt = (pol.next_step_at(t["class"], received, cfg.sla, after=cursor) if cursor is not None
                   else pol.first_step_at(t["class"], received, cfg.sla))
            tickets.set_steps(db, ticket_id, before["step_cursor"], iso(nxt))
            for alert_id in shaping.still_cancelled(db, record["cancelled_alerts"]):
                outbox.requeue(db, alert_id, now)  # its pages that the merge stopped go out after all
        shaping.refresh_last_message(db, ticket_id)
        shaping.close_merge(db, record["id"], iso(now), who.recorded)
        _recompute_target(db, cfg, target_id, record, who.recorded, now)
        audit.add_event(db, ticket_id, "unmerged", who.recorded, now, target=target_id, messages=back)
        audit.add_event(db, target_id, "unmerged_from", who.recorded, now, ticket=ticket_id, messages=back)
        return tickets.get_ticket(db, ticket_id)


def _recompute_target(db: Database, cfg: Config, target_id: int, undone: dict[str, Any], recorded: str,
                      now: datetime) -> None:
    """The target's class and clock from its own row before the earliest merge into it that stood until now,
    and the tickets still merged into it."""
    remaining = [r for r in (shaping.open_merge(db, tid) for tid in shaping.merged_into_this(db, target_id))
                 if r is not None]
    base = min([undone, *remaining], key=lambda r: r["id"])["target_before"]
    target = tickets.get_ticket(db, target_id)
    own = {**target, **{k: base[k] for k in _CLOCK}}
    changes = {k: own[k] for k in _CLOCK if own[k] != target[k]}
    changes.update(combined_clock(own, [r["ticket_before"] for r in remaining]))
    changes = {k: v for k, v in changes.items() if v != target[k]}
    if not changes:
        return
    target = tickets.update_ticket(db, target_id, changes, now)
    if target["status"] == "new":
        escalation.restart(db, target, cfg, now, f"unmerged by {recorded}")


def split(db: Database, cfg: Config, ticket_id: int, message_id: int, actor: str, now: datetime, *,
          later: bool = False) -> dict[str, Any]:
    """A new ticket from message `message_id` of `ticket_id` (with `later`, the sender's later mail on it
    too), classified from the mail as intake would, its clock from that message's arrival. Returns it."""
    from console.intake.analysis import analyze
    from console.intake.pipeline import max_bytes

    with write(db):
        who = as_actor(actor)
        _ticket(db, ticket_id)
        t = check_may_act(db, cfg, ticket_id, actor, "split")
        if t["merged_into"] is not None:
            raise ActionRefused(f"#{ticket_id} is merged into #{t['merged_into']}; its mail is there: split it from "
                                f"#{t['merged_into']}")
        m = shaping.message_head(db, message_id)
        if m is None:
            raise ActionRefused(f"no message {message_id}; `show {ticket_id} --json` lists the ticket's message ids")
        if m["ticket_id"] != ticket_id:
            where = f"#{m['ticket_id']}" if m["ticket_id"] is not None else "no ticket (unfiled)"
            raise ActionRefused(f"message {message_id} belongs to {where}, not #{ticket_id}")
        if m["kind"] not in ("new", "reply"):
            raise ActionRefused(f"message {message_id} is {_kind_words(m['kind'])}; only a customer's mail can "
                                "open a ticket")
        if (m["from_addr"] or "").lower() in cfg.staff_addresses:
            raise ActionRefused(f"message {message_id} is from the staff ({clean_line(m['from_addr'], 80)}); only a "
                                "customer's mail can open a ticket")
        if shaping.first_message(db, ticket_id) == message_id:
            raise ActionRefused(f"message {message_id} is the one #{ticket_id} was opened with; split a later one")
        a = analyze(m["raw"], cfg.routing, max_bytes(cfg))
        received = parse_iso(m["received_at"])
        assert received is not None
        first = pol.first_step_at(a.cls, received, cfg.sla)
        new_id = tickets.create_ticket(
            db, cls=a.cls, class_reason=a.reason, subject=a.subject, requester=a.sender,
            requester_name=a.sender_name, received_at=received, due_at=pol.deadline(a.cls, received, cfg.sla),
            next_step_at=first, now=now, needs_details=a.needs_details, quarantined=a.flagged,
            automated=a.auto is not None,
        )
        tickets.update_ticket(db, new_id, {"split_from": ticket_id}, now)
        moved = [message_id] + (shaping.later_from(db, ticket_id, m["from_addr"], m["received_at"], message_id)
                                if later else [])
        shaping.move_messages(db, moved, ticket_id, new_id)
        shaping.set_message_kind(db, message_id, "new")
        tickets.add_participants(db, new_id, a.participants)
        shaping.refresh_last_message(db, ticket_id)
        shaping.refresh_last_message(db, new_id)
        audit.add_event(db, new_id, "split_from", who.recorded, now, ticket=ticket_id, message=message_id,
                        messages=moved, cls=a.cls, reason=a.reason)
        audit.add_event(db, ticket_id, "split_to", who.recorded, now, ticket=new_id, message=message_id,
                        messages=moved)
        if first is not None and first <= now:  # as for new mail: steps already due go out now
            escalation.advance(db, tickets.get_ticket(db, new_id), cfg, now)
        return tickets.get_ticket(db, new_id)


def _list(ids: list[int]) -> str:
    return ", ".join(f"#{i}" for i in ids)


def _kind_words(kind: str) -> str:
    return {"outgoing": "the desk's own mail", "note": "an internal note", "autoreply": "an automatic reply",
            "bounce": "a bounce"}.get(kind, kind)
