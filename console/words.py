"""What happened to a ticket, in words: audit events, pages and counts as sentences a person on call reads.

One place for the console's detail, its pages panel and `show`: "paged bob and cy (escalation to the
team)", "acknowledged by ann from a page link", "1 attachment". Pure text: no Textual, no database, no
clock. Everything taken from an event is cleaned (handles, addresses and subjects come from config and
mail); an event kind this module does not know yet still reads as a sentence, never as JSON.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from console.safe_text import clean_line
from store.times import parse_iso

NEVER = "9999-12-31T23:59:59Z"  # store.outbox.NEVER: a failed page that is not tried again


def plural(n: int, noun: str, many: str | None = None) -> str:
    """"1 attachment", "3 attachments", "0 pages"."""
    return f"{n} {noun if n == 1 else (many or noun + 's')}"


def names(targets: str | Iterable[object] | None) -> str:
    """"bob", "bob and cy", "bob, cy and dee"; "nobody" for none. A plain string is kept as it is."""
    if isinstance(targets, str):
        return clean_line(targets, 60)
    people = [clean_line(str(t), 20) for t in (targets or [])]
    if not people:
        return "nobody"
    return people[0] if len(people) == 1 else f"{', '.join(people[:-1])} and {people[-1]}"


# What each step of the escalation is, as the policy says it (console.policy's step names).
STEP_NOUNS = {"arrival": "on arrival", "warn": "80 % of the target used", "escalate": "escalation to the team",
              "breach": "first contact overdue", "repeat": "still not acknowledged",
              "standdown": "stand down", "intake-stale": "intake has stopped",
              "intake-recovered": "intake is back"}
# One page of a step, as a noun: "the escalation page", "a stand-down".
PAGE_NOUNS = {"arrival": "arrival page", "warn": "warning", "escalate": "escalation page", "breach": "breach page",
              "repeat": "repeat page", "standdown": "stand-down", "intake-stale": "intake alarm",
              "intake-recovered": "intake all-clear", "test": "test page"}


def _step(step: object) -> str:
    s = clean_line(str(step or ""), 30)
    return "repeat" if s.startswith("repeat") else s


def step_noun(step: object) -> str:
    s = _step(step)
    return STEP_NOUNS.get(s, s.replace("-", " ").replace("_", " ") or "a page")


def page_noun(step: object) -> str:
    s = _step(step)
    return PAGE_NOUNS.get(s, (s.replace("-", " ").replace("_", " ") + " page") if s else "page")


VIA_WORDS = {"page link": "from a page link", "email reply": "by answering an email page"}
# What made first contact, when it was not a person pressing acknowledge (the report branch records it).
CONTACT_WORDS = {"reply": ": first contact by a reply", "details": ": the call-me mail answered by a details request"}


def event_words(e: Mapping[str, Any]) -> str:
    """One audit event as a sentence: "paged bob and cy (escalation to the team)",
    "acknowledged by ann from a page link", "ann assigned it to dee (was bob)"."""
    d: dict[str, Any] = e.get("detail") or {}
    if not isinstance(d, dict):
        d = {}
    actor, kind = clean_line(str(e.get("actor") or "someone"), 20), clean_line(str(e.get("kind") or "?"), 40)
    if kind == "alert_due":
        targets = d.get("targets")
        if isinstance(targets, str):  # "nobody configured"
            return f"nobody to page ({step_noun(d.get('step'))}): {clean_line(targets, 60)}"
        verb = "warned" if _step(d.get("step")) == "warn" else "paged"
        again = " again" if _step(d.get("step")) == "repeat" else ""
        return f"{verb} {names(targets)}{again} ({step_noun(d.get('step'))})"
    if kind == "stand_down_due":
        return f"told {names(d.get('targets'))} to stand down (after {actor}'s change)"
    if kind == "steps_collapsed":
        # Several steps due at once (a reclassification, a poller that was down): the latest reaches everyone.
        skipped = " and the ".join(page_noun(x) for x in d.get("skipped") or []) or "earlier pages"
        sent = page_noun(d.get("sent"))
        return f"the {skipped} and the {sent} came due together: only the {sent} went out"
    if kind == "created":
        why = f": {clean_line(str(d['reason']), 80)}" if d.get("reason") else ""
        held = f"; quarantined: {clean_line(str(d['quarantined']), 80)}" if d.get("quarantined") else ""
        return f"ticket opened as Class {clean_line(str(d.get('cls', '?')), 4)}{why}{held}"
    if kind == "acknowledged":
        via = d.get("via")
        how = f" {VIA_WORDS.get(str(via), 'by ' + clean_line(str(via), 40))}" if via else ""
        what = CONTACT_WORDS.get(str(d.get("contact")), "")
        extra = " (after the deadline)" if d.get("breached") else ""
        if isinstance(d.get("merged_from"), int):
            extra += f", from a page for #{d['merged_from']} (merged into this one)"
        return f"acknowledged by {actor}{how}{what}{extra}" + _cancelled(d)
    if kind == "clock_started":
        due = parse_iso(d.get("due_at")) if isinstance(d.get("due_at"), str) else None
        return (f"the customer answered the details request: a Class {clean_line(str(d.get('cls', '?')), 4)} "
                "first-contact clock started" + (f", due {due:%Y-%m-%d %H:%M} UTC" if due else ""))
    if kind == "taken":
        return f"{actor} took it" + (f" (was {clean_line(d['previous'], 20)})" if d.get("previous") else "")
    if kind == "assigned":
        was = f" (was {clean_line(d['previous'], 20)})" if d.get("previous") else ""
        return f"{actor} assigned it to {clean_line(str(d.get('assignee')), 20)}{was}"
    if kind == "reclassified":
        why = f": {clean_line(str(d['reason']), 80)}" if d.get("reason") else ""
        panic = ", panic mode recorded" if d.get("panic") else ""
        if not d.get("previous"):
            return f"raised to Class {clean_line(str(d.get('to')), 4)}{why}{panic}"
        return (f"{actor} moved it from Class {clean_line(str(d.get('previous')), 4)} to "
                f"Class {clean_line(str(d.get('to')), 4)}{why}{panic}")
    if kind == "resolved":
        note = f": {clean_line(str(d['note']), 80)}" if d.get("note") else ""
        none = " without contact" if d.get("contact") == "none" else ""
        return f"{actor} resolved it{none}{note}" + _cancelled(d)
    if kind == "reopened":
        by = f" by mail from {clean_line(str(d['by']), 60)}" if d.get("by") else ""
        return f"{actor} reopened it" + by if actor != "intake" else f"reopened{by}"
    if kind == "imported":
        return ("filed from the mailbox's history at its first sync: "
                + ("already overdue, not paged (the supervisors got a summary)" if d.get("overdue")
                   else "not paged on arrival; its later steps page as usual"))
    if kind == "page_reply_received":
        # A staff member's answer to an email page: it acknowledged, or it is kept as their message.
        person, by = clean_line(str(d.get("person") or "?"), 20), clean_line(str(d.get("by") or "no address"), 60)
        outcome = "it acknowledged the ticket" if d.get("acknowledged") else clean_line(str(d.get("note") or ""), 120)
        return f"{person} answered the email page from {by} (message {d.get('message')}): {outcome}"
    if kind == "reply_received":
        return f"the customer wrote again ({clean_line(str(d.get('by') or ''), 60)})"
    if kind == "page_resent":
        return f"{actor} sent a page again" + (f" to {clean_line(str(d['target']), 20)}" if d.get("target") else "")
    if kind == "thread_refused":
        return f"not joined to an earlier ticket: {clean_line(str(d.get('reason') or ''), 80)}"
    shaped = shaping_event_words(kind, actor, d)
    if shaped is not None:
        return shaped
    mail = mail_event_words(kind, actor, d)
    if mail is not None:
        return mail
    if kind.endswith("_received"):
        what = kind.removesuffix("_received").replace("_", " ")
        return f"{what} received: {clean_line(str(d.get('subject') or ''), 80)}"
    return _fallback(kind, actor, d)


def _fallback(kind: str, actor: str, d: Mapping[str, Any]) -> str:
    """An event kind added after this module: its name and details as words ("ann merged (into 12)")."""
    def value(v: object) -> str:
        if isinstance(v, (list, tuple)):
            return names(value(x) for x in v)
        if isinstance(v, dict):
            return ", ".join(f"{clean_line(str(k), 20)} {value(x)}" for k, x in v.items())
        if isinstance(v, bool):
            return "yes" if v else "no"
        return clean_line(str(v), 40)

    rest = "; ".join(f"{clean_line(str(k), 20).replace('_', ' ')} {value(v)}" for k, v in sorted(d.items())
                     if v not in ("", None, [], {}))
    return f"{actor}: {kind.replace('_', ' ')}" + (f" ({rest})" if rest else "")


def shaping_event_words(kind: str, actor: str, d: Mapping[str, Any]) -> str | None:
    """Merges and splits in the history (issue 25 items 1 and 2): "ann merged #7, #9 into this ticket",
    "ann split message 41 off into #12". None for any other event."""
    def ids(v: object) -> str:
        if isinstance(v, (list, tuple)):
            return ", ".join(f"#{clean_line(str(i), 12)}" for i in v)
        return f"#{clean_line(str(v), 12)}"

    if kind == "merged":
        return f"{actor} merged {ids(d.get('tickets') or [])} into this ticket"
    if kind == "merged_into":
        n = d.get("messages", 0)
        moved = f"{plural(n, 'message')} moved there" if isinstance(n, int) else "its messages moved there"
        return f"{actor} merged it into {ids(d.get('target'))} ({moved})" + _cancelled(d)
    if kind == "unmerged":
        return f"{actor} unmerged it from {ids(d.get('target'))}: its own mail, history and clock again"
    if kind == "unmerged_from":
        return f"{actor} unmerged {ids(d.get('ticket'))}: its mail went back to it"
    if kind == "split_to":
        return f"{actor} split message {clean_line(str(d.get('message')), 12)} off into {ids(d.get('ticket'))}"
    if kind == "split_from":
        return (f"{actor} split it from {ids(d.get('ticket'))} (message {clean_line(str(d.get('message')), 12)}), "
                f"Class {clean_line(str(d.get('cls')), 4)}: {clean_line(str(d.get('reason') or ''), 80)}")
    return None


MAIL_PURPOSES = {"reply": "the reply", "receipt": "the receipt", "details": "the details request",
                 "digest": "the weekly SLA digest"}
MAIL_WORDS = {
    "queued": "{noun} to {to} was queued",
    "sent": "{noun} went out ({reply})",
    "delayed": "{noun} is delayed: {error}; retrying",
    "failed": "{noun} FAILED: {error}; not resent",
    "unknown": "{noun} was cut short: it may or may not have gone out; not resent",
    "resent": "{actor} sent {noun} again",
    "skipped": "{noun} was not sent: {reason}",
    "withheld": "{noun} was WITHHELD: {reason}",  # a cap, a sender not authenticated (issue 20)
}


def mail_event_words(kind: str, actor: str, d: Mapping[str, Any]) -> str | None:
    """The desk's own mail in the history: "ann replied to carl@x (cc dora@x)", "the reply went out
    (250 ok)", "the reply FAILED: 550 ...; not resent". None for any other event."""
    if kind == "note_added":
        return f"{actor} added an internal note"
    purpose, _, what = kind.rpartition("_")
    if purpose not in MAIL_PURPOSES or what not in MAIL_WORDS:
        return None

    def field(key: str, n: int) -> str:  # text from mail and servers
        return clean_line(str(d.get(key) or ""), n)

    to = field("to", 60)
    if (purpose, what) == ("reply", "queued"):
        cc = f" (cc {', '.join(clean_line(str(a), 40) for a in d['cc'])})" if d.get("cc") else ""
        tpl = f" with the template {field('template', 40)}" if d.get("template") else ""
        left = f"; Cc left off: {'; '.join(clean_line(str(x), 80) for x in d['left_off'])}" if d.get("left_off") else ""
        return f"{actor} replied to {to}{cc}{tpl}{left}"
    return MAIL_WORDS[what].format(noun=MAIL_PURPOSES[purpose], to=to, actor=actor, reply=field("reply", 60),
                                   error=field("error", 100), reason=field("reason", 80))


def _cancelled(d: Mapping[str, Any]) -> str:
    n = d.get("cancelled_pages") or 0
    return f"; {plural(n, 'unsent page')} cancelled" if n else ""


PAGE_STATES = {"pending": "waiting to go out", "sending": "going out now", "sent": "delivered",
               "failed": "failed", "expired": "cut short: it may or may not have arrived",
               "cancelled": "cancelled (no longer needed)", "bundled": "carried by another page",
               "silenced": "held by a silence"}


def page_words(a: Mapping[str, Any]) -> str:
    """One outbox row: "stand-down to cy: waiting to go out", "escalation page to ann: delivered",
    "arrival page to bob: failed after 3 tries (timeout)"."""
    state, tries = str(a["state"]), a.get("attempts") or 0
    said = PAGE_STATES.get(state, clean_line(state, 40))
    if state == "failed":
        said = f"failed after {plural(tries, 'try', 'tries')}" if tries else "failed"
        if a.get("next_attempt_at") and a.get("next_attempt_at") != NEVER:
            said = f"{said}, will try again"
    elif state == "pending" and tries:
        said = f"waiting to try again ({plural(tries, 'try', 'tries')} so far)"
    what = f"{page_noun(a.get('step'))} to {clean_line(str(a.get('target') or '?'), 20)}: {said}"
    if a.get("last_error") and state not in ("sent", "cancelled"):
        what += f" ({clean_line(str(a['last_error']), 80)})"
    if state == "bundled" and a.get("carried_by"):
        what = f"{page_noun(a.get('step'))} to {clean_line(str(a.get('target') or '?'), 20)}: carried by page " \
               f"{a['carried_by']}"
    elif state == "silenced" and a.get("silenced_by"):
        what = f"{page_noun(a.get('step'))} to {clean_line(str(a.get('target') or '?'), 20)}: held by silence " \
               f"{a['silenced_by']}"
    elif a.get("silenced_by"):
        what += f" (released by silence {a['silenced_by']})"
    return what


def callme_words(t: Mapping[str, Any]) -> str:
    """How a call-me-only ticket is marked in lists: the customer asked for a call and gave no details."""
    return "call-me only: no details yet" if t.get("needs_details") else ""


def flags_words(t: Mapping[str, Any]) -> list[str]:
    """A ticket's flags for `tickets` and `show`, in words."""
    out = []
    if t.get("merged_into"):  # issue 25 item 1: its mail and clock went to the target
        out.append(f"merged into #{clean_line(str(t['merged_into']), 12)}")
    if t.get("breached"):
        out.append("BREACHED")
    if t.get("panic_mode"):
        out.append("panic mode")
    if t.get("needs_details"):
        out.append(callme_words(t))
    if t.get("quarantined"):
        out.append("quarantined")
    return out
