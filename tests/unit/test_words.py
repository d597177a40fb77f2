"""History, pages and flags in words (console.words): sentences, never code or JSON."""
from __future__ import annotations

import pytest

from console import words as w


def ev(kind: str, actor: str = "ann", **detail):
    return {"kind": kind, "actor": actor, "detail": detail}


def test_names_read_as_a_list():
    assert w.names([]) == "nobody"
    assert w.names(["bob"]) == "bob"
    assert w.names(["bob", "cy"]) == "bob and cy"
    assert w.names(["bob", "cy", "dee"]) == "bob, cy and dee"
    assert w.plural(1, "attachment") == "1 attachment" and w.plural(2, "attachment") == "2 attachments"
    assert w.plural(3, "try", "tries") == "3 tries"


@pytest.mark.parametrize(("event", "said"), [
    (ev("alert_due", "poller", step="escalate", targets=["bob", "cy"]), "paged bob and cy (escalation to the team)"),
    (ev("alert_due", "poller", step="arrival", targets=["bob", "cy"]), "paged bob and cy (on arrival)"),
    (ev("alert_due", "poller", step="warn", targets=["bob"]), "warned bob (80 % of the target used)"),
    (ev("alert_due", "poller", step="breach", targets=["ann", "bob", "cy"]),
     "paged ann, bob and cy (first contact overdue)"),
    (ev("alert_due", "poller", step="repeat-3", targets=["ann"]), "paged ann again (still not acknowledged)"),
    (ev("alert_due", "poller", step="arrival", targets="nobody configured"),
     "nobody to page (on arrival): nobody configured"),
    (ev("stand_down_due", "ann", targets=["bob", "cy", "dee"]),
     "told bob, cy and dee to stand down (after ann's change)"),
    (ev("steps_collapsed", "poller", skipped=["arrival"], sent="escalate"),
     "the arrival page and the escalation page came due together: only the escalation page went out"),
    (ev("acknowledged", "ann", breached=False, cancelled_pages=0, via="page link", page=7),
     "acknowledged by ann from a page link"),
    (ev("acknowledged", "bob", breached=True, cancelled_pages=2, via="email reply", page=7, message=3),
     "acknowledged by bob by answering an email page (after the deadline); 2 unsent pages cancelled"),
    (ev("acknowledged", "cy", breached=False, cancelled_pages=1), "acknowledged by cy; 1 unsent page cancelled"),
    (ev("created", "intake", cls="III", reason="sent to urgent@example.com", message=1),
     "ticket opened as Class III: sent to urgent@example.com"),
    (ev("reclassified", "intake", to="III", reason="another copy: urgent"),
     "raised to Class III: another copy: urgent"),
    (ev("reply_received", "intake", by="carl@x.example", message=4), "the customer wrote again (carl@x.example)"),
])
def test_events_are_sentences(event, said):
    assert w.event_words(event) == said


def test_unknown_kinds_still_read_as_sentences():
    said = w.event_words(ev("weird_new_thing", "dee", into=12, tickets=[3, 4], ok=True, empty=""))
    assert said == "dee: weird new thing (into 12; ok yes; tickets 3 and 4)"
    for e in (ev("merged", tickets=[7, 9]), ev("unmerged"), ev("split_to", ticket=9), ev("x", a={"b": [1]})):
        text = w.event_words(e)
        assert "{" not in text and "[" not in text and "'" not in text
    assert w.event_words({"kind": "odd", "actor": "ann", "detail": None}) == "ann: odd"


def test_event_text_from_mail_is_cleaned():
    said = w.event_words(ev("reply_received", "intake", by="x\x1b[31m@evil\nnext line"))
    assert "\x1b" not in said and "\n" not in said


@pytest.mark.parametrize(("row", "said"), [
    ({"step": "standdown", "target": "cy", "state": "pending", "attempts": 0}, "stand-down to cy: waiting to go out"),
    ({"step": "escalate", "target": "ann", "state": "sent", "attempts": 1}, "escalation page to ann: delivered"),
    ({"step": "arrival", "target": "bob", "state": "failed", "attempts": 3, "last_error": "timeout",
      "next_attempt_at": w.NEVER}, "arrival page to bob: failed after 3 tries (timeout)"),
    ({"step": "repeat-2", "target": "bob", "state": "pending", "attempts": 1, "last_error": "HTTP 500"},
     "repeat page to bob: waiting to try again (1 try so far) (HTTP 500)"),
    ({"step": "breach", "target": "dee", "state": "cancelled", "attempts": 0, "last_error": "acknowledged"},
     "breach page to dee: cancelled (no longer needed)"),
])
def test_pages_in_words(row, said):
    assert w.page_words(row) == said


def test_flags_in_words():
    assert w.flags_words({"needs_details": 1}) == ["call-me only: no details yet"]
    assert w.flags_words({"breached": True, "panic_mode": 1}) == ["BREACHED", "panic mode"]
    assert w.flags_words({}) == []


def test_merges_and_splits_in_words():
    assert w.event_words(ev("merged", tickets=[7, 9], changed=["class"])) == "ann merged #7, #9 into this ticket"
    assert w.event_words(ev("merged_into", target=3, messages=2, cancelled_pages=1)) == \
        "ann merged it into #3 (2 messages moved there); 1 unsent page cancelled"
    assert w.event_words(ev("unmerged", target=3, messages=2)) == \
        "ann unmerged it from #3: its own mail, history and clock again"
    assert w.event_words(ev("unmerged_from", ticket=7, messages=2)) == "ann unmerged #7: its mail went back to it"
    assert w.event_words(ev("split_to", ticket=12, message=41, messages=1)) == "ann split message 41 off into #12"
    assert w.event_words(ev("split_from", ticket=4, message=41, cls="II", reason="marked urgent")) == \
        "ann split it from #4 (message 41), Class II: marked urgent"


def test_first_contact_in_words():
    assert w.event_words(ev("acknowledged", "bob", contact="details", cancelled_pages=0)) == \
        "acknowledged by bob: the call-me mail answered by a details request"
    assert w.event_words(ev("acknowledged", "ann", contact="reply")) == "acknowledged by ann: first contact by a reply"
    assert w.event_words(ev("resolved", contact="none")) == "ann resolved it without contact"
    assert w.event_words(ev("clock_started", "intake", cls="I", due_at="2026-01-08T17:00:00Z")) == \
        "the customer answered the details request: a Class I first-contact clock started, due 2026-01-08 17:00 UTC"
    assert w.event_words(ev("digest_sent", "mail", reply="250 ok")) == "the weekly SLA digest went out (250 ok)"


def test_words_from_the_other_branches_of_this_round():
    assert w.event_words(ev("imported", "intake", overdue=True)) == (
        "filed from the mailbox's history at its first sync: already overdue, not paged (the supervisors got a "
        "summary)")
    assert w.event_words(ev("receipt_withheld", "intake", cause="authentication",
                            reason="sender not authenticated: dmarc=fail at mx.desk.example")) == \
        "the receipt was WITHHELD: sender not authenticated: dmarc=fail at mx.desk.example"
    assert w.event_words(ev("reply_queued", to="carl@x.example", cc=["dora@x.example"],
                            left_off=["a b@x.example: cannot be written safely"])) == \
        "ann replied to carl@x.example (cc dora@x.example); Cc left off: a b@x.example: cannot be written safely"
    assert w.flags_words({"merged_into": 4, "breached": True}) == ["merged into #4", "BREACHED"]
