from datetime import datetime, timedelta, UTC

from console.ui import format as f
from console.ui.widgets.tickets import fit, layout


def test_left_cell_reads_one_way():
    assert f.left_cell(14 * 60 + 59, "ok") == "14m59s"
    assert f.left_cell(28, "ok") == "28s"
    assert f.left_cell(4 * 3600 + 59 * 60 + 58, "ok") == "4h59m"
    assert f.left_cell(2 * 86400 + 23 * 3600 + 59 * 60, "ok") == "2d23h"
    assert f.left_cell(100, "warn") == "1m40s !"
    assert f.left_cell(-192, "breached") == "BREACHED 3m12s"
    assert f.left_cell(None, "acked") == "ack'd"


def test_seconds_left_rounds_down():
    now = datetime(2026, 1, 5, 12, 0, 0, tzinfo=UTC)
    assert f.seconds_left(now + timedelta(seconds=10), now) == 10
    assert f.seconds_left(now - timedelta(milliseconds=1), now) == -1


def test_level():
    target = 15 * 60
    assert f.level(target, target) == "ok"
    assert f.level(target * 0.21, target) == "ok"
    assert f.level(target * 0.2, target) == "warn"
    assert f.level(0, target) == "warn"
    assert f.level(-1, target) == "breached"
    assert f.level(None, target) == "acked"


def test_class_metadata_and_age():
    assert f.class_info("III").badge == " III "
    assert [c.code for c in f.CLASSES.values()] == ["III", "II", "I"]
    assert f.class_info("II").css == "class-ii" and f.class_info("I").name == "normal"
    assert f.age(None) == "never"
    assert f.age(4) == "4s"
    assert f.age(185) == "3m05s"
    assert f.age(7800) == "2h10m"


def test_describe_change_says_what_is_new():
    seen = {"status": "new", "assignee": "bob", "class": "I", "panic_mode": 0}
    assert f.describe_change(seen, dict(seen, assignee="dee")) == "now assigned to dee"
    assert f.describe_change(seen, dict(seen, status="acknowledged", acknowledged_by="cy")) == \
        "now acknowledged by cy"
    assert f.describe_change(seen, dict(seen, **{"class": "III"})) == "now Class III"
    assert f.describe_change(seen, dict(seen, assignee="\x1b[31mevil")) == "now assigned to evil"


def test_deadline_note_for_a_reclassification():
    now = datetime(2026, 1, 5, 12, 0, 0, tzinfo=UTC)
    assert f.deadline_note("III", now - timedelta(minutes=11), now) == \
        "Class III counted from arrival: 11m00s overdue, pages go out now"
    assert f.deadline_note("II", now + timedelta(hours=4, minutes=59, seconds=59), now) == \
        "Class II counted from arrival: due in 4h59m"
    assert f.deadline_note("I", now + timedelta(hours=71), now, stands_down=True) == \
        "Class I counted from arrival: due in 2d23h; those paged are told to stand down"


def test_history_in_words():
    ev = lambda kind, actor="ann", **d: {"kind": kind, "actor": actor, "detail": d}  # noqa: E731
    assert f.event_words(ev("alert_due", "poller", step="arrival", targets=["bob", "cy"])) == \
        "paged bob and cy (on arrival)"
    assert f.event_words(ev("alert_due", "poller", step="escalate", targets=["ann", "bob"])) == \
        "paged ann and bob (escalation to the team)"
    assert f.event_words(ev("alert_due", "poller", step="repeat-2", targets=["ann"])) == \
        "paged ann again (still not acknowledged)"
    assert f.event_words(ev("assigned", assignee="dee", previous="bob")) == "ann assigned it to dee (was bob)"
    assert f.event_words(ev("reclassified", previous="III", to="I", reason="not urgent", panic=True)) == \
        "ann moved it from Class III to Class I: not urgent, panic mode recorded"
    assert f.event_words(ev("resolved", note="done", cancelled_pages=2)) == \
        "ann resolved it: done; 2 unsent pages cancelled"
    assert "{" not in f.event_words(ev("something_new", x=1))  # never JSON
    # issue 19: stand-downs, a first sync's history, answers to email pages
    assert f.event_words(ev("stand_down_due", targets=["bob", "cy"])) == \
        "told bob and cy to stand down (after ann's change)"
    assert f.event_words(ev("imported", "intake", overdue=True)) == (
        "filed from the mailbox's history at its first sync: already overdue, not paged (the supervisors got a "
        "summary)")
    assert f.event_words(ev("page_reply_received", "intake", person="bob", by="bob@x.example", message=7,
                            acknowledged=False, note='kept as a message: its first line is not "ack"')) == (
        'bob answered the email page from bob@x.example (message 7): kept as a message: its first line is not "ack"')


def test_the_desks_mail_in_words():
    ev = lambda kind, actor="ann", **d: {"kind": kind, "actor": actor, "detail": d}  # noqa: E731
    assert f.event_words(ev("reply_queued", to="carl@x.example", cc=["dora@x.example"], template="details")) == \
        "ann replied to carl@x.example (cc dora@x.example) with the template details"
    assert f.event_words(ev("reply_sent", "mail", reply="250 2.0.0 Ok")) == "the reply went out (250 2.0.0 Ok)"
    assert f.event_words(ev("reply_failed", "mail", error="end of DATA: 550 5.7.1 no")) == \
        "the reply FAILED: end of DATA: 550 5.7.1 no; not resent"
    assert f.event_words(ev("receipt_unknown", "mail", error="lost")) == \
        "the receipt was cut short: it may or may not have gone out; not resent"
    assert f.event_words(ev("details_queued", "intake", to="tom@x.example")) == \
        "the details request to tom@x.example was queued"
    assert f.event_words(ev("reply_resent", "bob", send=3)) == "bob sent the reply again"
    assert f.event_words(ev("note_added", "cy", message=9)) == "cy added an internal note"
    assert f.mail_event_words("reopened", "ann", {}) is None  # not mail: the other rules apply
    assert f.event_words(ev("receipt_withheld", "intake", cause="authentication",
                            reason="sender not authenticated: dmarc=fail at mx.desk.example")) == \
        "the receipt was WITHHELD: sender not authenticated: dmarc=fail at mx.desk.example"
    assert f.event_words(ev("reply_queued", to="carl@x.example", cc=["dora@x.example"],
                            left_off=["a b@x.example: cannot be written safely"])) == \
        "ann replied to carl@x.example (cc dora@x.example); Cc left off: a b@x.example: cannot be written safely"


def test_delivery_of_one_mail_in_words():
    tz = UTC
    row = {"state": "sent", "attempts": 1, "sent_at": "2026-01-05T17:00:05Z", "smtp_reply": "250 Ok",
           "last_error": None, "next_attempt_at": None}
    assert f.delivery_words(row, tz) == ("sent", "17:00:05, 250 Ok")
    assert f.delivery_words(row | {"state": "failed", "last_error": "550 no such user"}, tz) == \
        ("FAILED", "550 no such user; not resent")
    assert f.delivery_words(row | {"state": "expired"}, tz)[0] == "CUT SHORT"
    assert f.delivery_words(row | {"state": "pending", "attempts": 0}, tz) == ("queued", "not tried yet")
    assert f.delivery_words(row | {"state": "pending", "attempts": 2, "next_attempt_at": "2026-01-05T17:01:00Z",
                                   "last_error": "connection refused"}, tz) == \
        ("queued", "next try 17:01:00: connection refused")


def test_layout_fits_80_columns_and_gives_wide_terminals_to_the_subject():
    narrow = {c.key: c.width for c in layout(79)}
    assert {"cls", "id", "left", "subject", "assignee"} <= narrow.keys()
    assert "requester" not in narrow and "status" not in narrow
    assert sum(narrow.values()) + len(narrow) - 1 == 79  # one space between columns
    wide, wider = {c.key: c for c in layout(119)}, {c.key: c for c in layout(239)}
    assert "requester" in wide and "status" in wide
    assert wider["subject"].width - wide["subject"].width == 120


def test_fit_counts_wide_characters():
    assert fit("abc", 5) == "abc  "
    assert fit("abcdef", 4) == "abc\u2026"
    assert fit("日本語テキスト", 6) == "日本\u2026 "  # two cells each; the ellipsis one
