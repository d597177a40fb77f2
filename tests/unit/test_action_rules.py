"""The desk's actions (console/actions.py): permissions, stale writes, audit events, panic mode.

Real SQLite file, FrozenClock, no network. ann is a supervisor; bob and cy are staff.
"""
from __future__ import annotations

import json
from datetime import datetime, timedelta, UTC

import pytest

from console import actions
from console.cli import checks
from console.actions import ActionRefused
from console.clock import FrozenClock
from console.config import from_dict
from console.intake.pipeline import Incoming, file_messages
from store import audit, outbox, tickets
from store.db import StaleWrite
from store.times import iso
from tests.integration.alerts_helpers import SUPPORT, T0, URGENT, cli, config_dict, mail, to_toml

M = timedelta(minutes=1)


@pytest.fixture
def cfg(tmp_path):
    return from_dict(config_dict(tmp_path / "support.db", at=T0))


@pytest.fixture
def clock():  # the alerts desk's start time (tests/unit/conftest.py provides `db` for this `cfg`)
    return FrozenClock(T0)


def new_ticket(db, cfg, at, i=1, to=URGENT, frm=None) -> int:
    raw = mail(i, to=to, frm=frm, date_=at)
    [filed] = file_messages(db, cfg, [Incoming(raw=raw, received_at=at)], at)
    return filed.ticket_id


def snapshot(db, tid):
    """Everything an action may touch, to prove a refused one wrote nothing."""
    return (tickets.get_ticket(db, tid), audit.events_for(db, tid), outbox.list_alerts(db, ticket_id=tid))


@pytest.fixture
def tid(db, cfg, clock):
    return new_ticket(db, cfg, clock.now())


def assigned_to(db, cfg, tid, handle, at):
    actions.assign(db, cfg, tid, handle, "ann", at)


# --- permissions -----------------------------------------------------------------------------


def test_staff_cannot_reassign_someone_elses_ticket(db, cfg, tid):
    assigned_to(db, cfg, tid, "cy", T0 + M)
    before = snapshot(db, tid)
    with pytest.raises(ActionRefused, match="supervisor"):
        actions.assign(db, cfg, tid, "bob", "bob", T0 + 2 * M)
    with pytest.raises(ActionRefused, match="supervisor"):
        actions.assign(db, cfg, tid, "ann", "bob", T0 + 2 * M)
    with pytest.raises(ActionRefused, match="assigned to cy"):
        actions.take(db, cfg, tid, "bob", T0 + 2 * M)
    for act in (actions.acknowledge, actions.resolve):
        with pytest.raises(ActionRefused, match="assigned to cy"):
            act(db, cfg, tid, "bob", T0 + 2 * M)
    with pytest.raises(ActionRefused, match="assigned to cy"):
        actions.reclassify(db, cfg, tid, "I", "bob", T0 + 2 * M)
    assert snapshot(db, tid) == before


def test_staff_can_take_an_unassigned_ticket(db, cfg, tid):
    t = actions.take(db, cfg, tid, "bob", T0 + M)
    assert t["assignee"] == "bob" and t["version"] == 2
    [ev] = [e for e in audit.events_for(db, tid) if e["kind"] == "taken"]
    assert ev["actor"] == "bob" and ev["at"] == iso(T0 + M) and ev["detail"] == {"previous": None}
    with pytest.raises(ActionRefused, match="already yours"):
        actions.take(db, cfg, tid, "bob", T0 + 2 * M)


def test_staff_may_assign_an_unassigned_ticket_to_themselves_only(db, cfg, tid):
    with pytest.raises(ActionRefused, match="supervisor"):
        actions.assign(db, cfg, tid, "cy", "bob", T0 + M)
    t = actions.assign(db, cfg, tid, "bob", "bob", T0 + M)
    assert t["assignee"] == "bob"


def test_staff_acts_on_their_own_ticket(db, cfg, tid):
    assigned_to(db, cfg, tid, "bob", T0 + M)
    t = actions.acknowledge(db, cfg, tid, "bob", T0 + 2 * M)
    assert t["status"] == "acknowledged" and t["acknowledged_by"] == "bob"
    t = actions.resolve(db, cfg, tid, "bob", T0 + 3 * M, note="restarted named")
    assert t["status"] == "resolved"


def test_supervisor_can_do_anything(db, cfg, tid):
    assigned_to(db, cfg, tid, "cy", T0 + M)
    assert actions.assign(db, cfg, tid, "bob", "ann", T0 + 2 * M)["assignee"] == "bob"  # reassign
    assert actions.take(db, cfg, tid, "ann", T0 + 3 * M)["assignee"] == "ann"  # take from bob
    actions.assign(db, cfg, tid, "cy", "ann", T0 + 4 * M)
    t = actions.reclassify(db, cfg, tid, "II", "ann", T0 + 5 * M, reason="not system-down")
    assert t["class"] == "II"
    t = actions.acknowledge(db, cfg, tid, "ann", T0 + 6 * M)  # cy's ticket
    assert t["acknowledged_by"] == "ann" and t["assignee"] == "cy"
    t = actions.resolve(db, cfg, tid, "ann", T0 + 7 * M)
    assert t["status"] == "resolved"


def test_unknown_actor_is_refused(db, cfg, tid):
    before = snapshot(db, tid)
    with pytest.raises(ActionRefused, match="not on the staff list"):
        actions.acknowledge(db, cfg, tid, "mallory", T0 + M)
    with pytest.raises(ActionRefused, match="not on the staff list"):
        actions.assign(db, cfg, tid, "mallory", "ann", T0 + M)
    assert snapshot(db, tid) == before


def test_ack_claims_an_unassigned_ticket(db, cfg, tid):
    t = actions.acknowledge(db, cfg, tid, "cy", T0 + M)
    assert t["assignee"] == "cy" and t["acknowledged_at"] == iso(T0 + M)
    with pytest.raises(ActionRefused, match="already acknowledged"):
        actions.acknowledge(db, cfg, tid, "ann", T0 + 2 * M)


# --- stale writes ----------------------------------------------------------------------------


def test_stale_write_is_refused_and_writes_nothing(db, cfg, tid):
    seen = tickets.get_ticket(db, tid)  # the console loaded version 1
    actions.take(db, cfg, tid, "cy", T0 + M)  # meanwhile, someone else
    before = snapshot(db, tid)
    with pytest.raises(ActionRefused, match="changed since you loaded it"):
        actions.assign(db, cfg, tid, "bob", "ann", T0 + 2 * M, expected_version=seen["version"])
    with pytest.raises(ActionRefused, match="changed since you loaded it"):
        actions.acknowledge(db, cfg, tid, "ann", T0 + 2 * M, expected_version=seen["version"])
    with pytest.raises(ActionRefused, match="changed since you loaded it"):
        actions.reclassify(db, cfg, tid, "I", "ann", T0 + 2 * M, expected_version=seen["version"])
    with pytest.raises(ActionRefused, match="changed since you loaded it"):
        actions.resolve(db, cfg, tid, "ann", T0 + 2 * M, expected_version=seen["version"])
    assert snapshot(db, tid) == before
    assert tickets.get_ticket(db, tid)["assignee"] == "cy"
    # With the current version it goes through.
    t = actions.assign(db, cfg, tid, "bob", "ann", T0 + 3 * M, expected_version=before[0]["version"])
    assert t["assignee"] == "bob"


def test_store_refuses_a_stale_update(db, cfg, tid, clock):
    from store import write

    with pytest.raises(StaleWrite, match="changed by someone else"), write(db):
        tickets.update_ticket(db, tid, {"assignee": "bob"}, clock.now(), expected_version=99)
    assert tickets.get_ticket(db, tid)["assignee"] is None


def test_poller_bookkeeping_does_not_make_a_console_edit_stale(db, cfg, tid):
    from console.alerts import escalation
    from store import write

    seen = tickets.get_ticket(db, tid)
    with write(db):
        escalation.run_due(db, cfg, T0 + 10 * M)  # escalation moved the ticket's step cursor
    t = actions.take(db, cfg, tid, "bob", T0 + 11 * M, expected_version=seen["version"])
    assert t["assignee"] == "bob"


# --- audit -----------------------------------------------------------------------------------


@pytest.mark.parametrize("kind,call", [
    ("acknowledged", lambda db, cfg, tid, at: actions.acknowledge(db, cfg, tid, "ann", at)),
    ("taken", lambda db, cfg, tid, at: actions.take(db, cfg, tid, "ann", at)),
    ("assigned", lambda db, cfg, tid, at: actions.assign(db, cfg, tid, "cy", "ann", at)),
    ("reclassified", lambda db, cfg, tid, at: actions.reclassify(db, cfg, tid, "II", "ann", at, reason="r")),
    ("resolved", lambda db, cfg, tid, at: actions.resolve(db, cfg, tid, "ann", at, note="n")),
])
def test_every_action_writes_an_audit_event_with_the_actor(db, cfg, tid, kind, call):
    at = T0 + 3 * M
    before = tickets.get_ticket(db, tid)["version"]
    call(db, cfg, tid, at)
    events = [e for e in audit.events_for(db, tid) if e["kind"] == kind]
    assert len(events) == 1
    assert events[0]["actor"] == "ann" and events[0]["at"] == iso(at)
    assert tickets.get_ticket(db, tid)["version"] == before + 1


# --- panic mode ------------------------------------------------------------------------------


def test_panic_mode_only_for_supervisors_and_class_three(db, cfg, clock):
    urgent = new_ticket(db, cfg, T0, 1)
    normal = new_ticket(db, cfg, T0, 2, to=SUPPORT)
    with pytest.raises(ActionRefused, match="supervisor"):
        actions.reclassify(db, cfg, urgent, "I", "bob", T0 + M, panic=True)
    with pytest.raises(ActionRefused, match="Class III"):
        actions.reclassify(db, cfg, normal, "II", "ann", T0 + M, panic=True)
    t = actions.reclassify(db, cfg, urgent, "I", "ann", T0 + M, reason="printer out of toner", panic=True)
    assert t["panic_mode"] == 1 and t["class"] == "I"
    [ev] = [e for e in audit.events_for(db, urgent) if e["kind"] == "reclassified"]
    assert ev["detail"]["panic"] is True and ev["actor"] == "ann"


def test_panic_without_class_change_keeps_the_schedule(db, cfg, tid):
    from console.alerts import escalation
    from store import write

    with write(db):
        escalation.run_due(db, cfg, T0 + 10 * M)
    before = tickets.get_ticket(db, tid)
    t = actions.reclassify(db, cfg, tid, "III", "ann", T0 + 11 * M, panic=True)
    assert t["panic_mode"] == 1
    assert (t["step_cursor"], t["next_step_at"]) == (before["step_cursor"], before["next_step_at"])
    assert {r["state"] for r in outbox.list_alerts(db, ticket_id=tid)} == {"pending"}


def _panic_fixture(db, cfg):
    """acme twice in March, once in April; bolt once in March; one misuse not recorded as panic."""
    march, april = datetime(2026, 3, 2, 16, tzinfo=UTC), datetime(2026, 4, 6, 16, tzinfo=UTC)
    ids = {}
    for name, frm, at in [("a1", "ops@acme.example", march), ("a2", "it@acme.example", march + timedelta(days=3)),
                          ("a3", "ops@acme.example", april), ("b1", "noc@bolt.example", march),
                          ("x", "ops@acme.example", march)]:
        ids[name] = new_ticket(db, cfg, at, i=len(ids) + 10, frm=frm)
        if name != "x":
            actions.reclassify(db, cfg, ids[name], "I", "ann", at + M, reason="not urgent", panic=True)
        else:
            actions.reclassify(db, cfg, ids[name], "I", "ann", at + M, reason="honest mistake")
    return ids


def test_panic_report_lists_per_requester_and_month(db, cfg, capsys):
    ids = _panic_fixture(db, cfg)
    assert checks.panic_report(cfg, as_json=True) == 0
    report = json.loads(capsys.readouterr().out)
    assert report == [
        {"requester": "it@acme.example", "month": "2026-03", "tickets": 1, "ids": [ids["a2"]]},
        {"requester": "noc@bolt.example", "month": "2026-03", "tickets": 1, "ids": [ids["b1"]]},
        {"requester": "ops@acme.example", "month": "2026-03", "tickets": 1, "ids": [ids["a1"]]},
        {"requester": "ops@acme.example", "month": "2026-04", "tickets": 1, "ids": [ids["a3"]]},
    ]


def test_report_panic_command(db, cfg, tmp_path):
    """`support-console report panic` (the CLI, a real subprocess; no network involved)."""
    ids = _panic_fixture(db, cfg)
    conf = tmp_path / "config.toml"
    conf.write_text(to_toml(config_dict(cfg.store_path, at=T0)))
    out = cli(conf, "report", "panic").stdout
    lines = [ln for ln in out.splitlines() if ln.strip()]
    assert len(lines) == 4
    assert lines[0].startswith("2026-03") and "it@acme.example" in lines[0] and f"#{ids['a2']}" in lines[0]
    assert any(ln.startswith("2026-04") and "ops@acme.example" in ln and f"#{ids['a3']}" in ln for ln in lines)
    assert f"#{ids['x']}" not in out
    data = json.loads(cli(conf, "report", "panic", "--json").stdout)
    assert sum(r["tickets"] for r in data) == 4


def test_cli_action_refused_is_one_line_and_nonzero(db, cfg, tid, tmp_path):
    conf = tmp_path / "config.toml"
    conf.write_text(to_toml(config_dict(cfg.store_path, at=T0)))
    actions.assign(db, cfg, tid, "cy", "ann", T0 + M)
    r = cli(conf, "assign", str(tid), "bob", actor="bob", check=False)
    assert r.returncode != 0
    assert r.stderr.strip().count("\n") == 0 and "supervisor" in r.stderr
    assert "Traceback" not in r.stderr
    assert tickets.get_ticket(db, tid)["assignee"] == "cy"
    r = cli(conf, "take", str(tid), actor="ann")
    assert "assigned to ann" in r.stdout
    [ev] = [e for e in audit.events_for(db, tid) if e["kind"] == "taken"]
    assert ev["actor"] == "ann"
