"""Who is acting (console/identity.py) and what roles they have at the moment of acting (console/actions.py).

The uid is injected here; tests/integration/test_identity_accounts.py runs the CLI as real accounts.
Logins name real system accounts (daemon = uid 1, bin = uid 2, nobody = uid 65534) so that the uid is
looked up in the passwd database as in use.
"""
from __future__ import annotations

import json

import pytest
from apprise.decorators import notify

from console import actions, identity
from console.actions import ActionRefused
from console.config import from_dict
from console.identity import IdentityError, resolve
from console.intake.pipeline import Incoming, file_messages
from console.poller import sync_staff
from store import audit, open_db, outbox, tickets, write
from tests.factories import T0, mail

ANN_UID, BOB_UID, NOBODY_UID = 1, 2, 65534  # daemon, bin, nobody


def desk(tmp_path, *, logins=True, ann_role="supervisor", with_ann=True, operator=None):
    login = {"ann": "daemon", "bob": "bin"} if logins else {}  # cy never has one
    staff = [{"handle": h, "role": role, "notify": [f"json://127.0.0.1:9/{h}"],
              **({"login": login[h]} if h in login else {})}
             for h, role in (("ann", ann_role), ("bob", "staff"), ("cy", "staff"))]
    if not with_ann:
        staff = staff[1:]
    data = {"store": {"path": str(tmp_path / "support.db")}, "staff": staff,
            "routing": {"urgent": ["urgent@desk.example"], "support": ["support@desk.example"]},
            "oncall": {"rotation": [s["handle"] for s in staff]}}
    if operator:
        data["console"] = {"operator": operator}
    return from_dict(data)


# --- resolution --------------------------------------------------------------------------------


def test_without_logins_as_is_trusted_then_operator_then_user(tmp_path, monkeypatch):
    monkeypatch.setenv("USER", "cy")
    cfg = desk(tmp_path, logins=False)
    assert resolve(cfg, "bob", uid=NOBODY_UID) == "bob"
    assert resolve(cfg, None, uid=NOBODY_UID) == "cy"
    assert resolve(desk(tmp_path, logins=False, operator="ann"), None, uid=NOBODY_UID) == "ann"
    a = resolve(cfg, "ann", uid=NOBODY_UID)
    assert a.by is None and a.recorded == "ann" and not a.read_only


def test_without_logins_nobody_named_is_an_error(tmp_path, monkeypatch):
    monkeypatch.delenv("USER", raising=False)
    with pytest.raises(IdentityError) as exc:
        resolve(desk(tmp_path, logins=False), None)
    assert str(exc.value) == "who is acting? pass --as HANDLE or set [console] operator"


def test_the_account_of_the_real_uid_picks_the_entry_not_user(tmp_path, monkeypatch):
    monkeypatch.setenv("USER", "ann")  # anyone can set $USER
    cfg = desk(tmp_path)
    a = resolve(cfg, None, uid=BOB_UID)
    assert a == "bob" and a.login == "bin" and a.by is None and not a.read_only


def test_the_operator_key_does_not_pick_the_actor_when_logins_are_used(tmp_path):
    assert resolve(desk(tmp_path, operator="ann"), None, uid=BOB_UID) == "bob"


def test_the_real_uid_is_the_default(tmp_path, monkeypatch):
    monkeypatch.setattr(identity, "real_uid", lambda: ANN_UID)
    assert resolve(desk(tmp_path), None) == "ann"


def test_naming_yourself_with_as_is_fine(tmp_path):
    a = resolve(desk(tmp_path), "bob", uid=BOB_UID)
    assert a == "bob" and a.by is None


def test_an_account_with_no_entry_only_reads(tmp_path):
    a = resolve(desk(tmp_path), None, uid=NOBODY_UID)
    assert a.read_only and a == "nobody (read only)"
    assert a.why == 'login nobody has no [[staff]] entry (login = "nobody"); it may only read'


def test_staff_may_not_act_for_someone_else(tmp_path):
    with pytest.raises(IdentityError) as exc:
        resolve(desk(tmp_path), "cy", uid=BOB_UID)
    assert str(exc.value) == "--as cy: only a supervisor or root may act for someone else (login bin is bob, staff)"


def test_an_account_with_no_entry_may_not_use_as(tmp_path):
    with pytest.raises(IdentityError) as exc:
        resolve(desk(tmp_path), "ann", uid=NOBODY_UID)
    assert str(exc.value) == ('--as ann: login nobody has no [[staff]] entry (login = "nobody"); '
                              'it may only read')


def test_a_supervisor_acts_for_someone_and_it_is_recorded(tmp_path):
    a = resolve(desk(tmp_path), "bob", uid=ANN_UID)
    assert a == "bob" and a.by == "ann" and a.recorded == "ann as bob"


def test_root_acts_for_anyone_but_alone_only_reads(tmp_path):
    cfg = desk(tmp_path)
    a = resolve(cfg, "cy", uid=0)
    assert a == "cy" and a.recorded == "root as cy"
    assert resolve(cfg, None, uid=0).read_only


def test_root_with_a_staff_entry_acts_for_someone_as_root(tmp_path):
    from console import actions
    from console.poller import sync_staff
    from store import open_db

    cfg = from_dict({"store": {"path": str(tmp_path / "support.db")},
                     "staff": [{"handle": "ann", "role": "supervisor", "login": "daemon"},
                               {"handle": "rob", "role": "staff", "login": "root"}, {"handle": "cy"}]})
    a = resolve(cfg, "cy", uid=0)
    assert a == "cy" and a.by == "root" and a.recorded == "root as cy"
    sync_staff(cfg)
    assert actions.acting(open_db(cfg.store_path), cfg, a)["handle"] == "cy"  # not refused as "rob as cy"


def test_as_an_unknown_handle(tmp_path):
    with pytest.raises(IdentityError) as exc:
        resolve(desk(tmp_path), "zed", uid=ANN_UID)
    assert str(exc.value) == "--as zed: no [[staff]] entry has handle 'zed'"


def test_a_uid_without_an_account_only_reads(tmp_path):
    a = resolve(desk(tmp_path), None, uid=4_000_000)
    assert a.read_only and a.login == "uid 4000000"


# --- roles at the moment of acting -------------------------------------------------------------


@pytest.fixture
def ticket(tmp_path):
    cfg = desk(tmp_path)
    sync_staff(cfg)
    db = open_db(cfg.store_path)
    [filed] = file_messages(db, cfg, [Incoming(raw=mail(), received_at=T0)], T0)
    yield db, cfg, filed.ticket_id
    db.close()


def test_acting_for_someone_records_both(ticket):
    db, cfg, tid = ticket
    actor = resolve(cfg, "bob", uid=ANN_UID)
    actions.take(db, cfg, tid, actor, T0)
    actions.acknowledge(db, cfg, tid, actor, T0)
    t = tickets.get_ticket(db, tid)
    assert t["assignee"] == "bob" and t["acknowledged_by"] == "bob"
    assert [(e["kind"], e["actor"]) for e in audit.events_for(db, tid)][-2:] == [
        ("taken", "ann as bob"), ("acknowledged", "ann as bob")]


def test_a_read_only_account_cannot_act(ticket):
    db, cfg, tid = ticket
    with pytest.raises(ActionRefused) as exc:
        actions.take(db, cfg, tid, resolve(cfg, None, uid=NOBODY_UID), T0)
    assert str(exc.value) == 'login nobody has no [[staff]] entry (login = "nobody"); it may only read'
    assert tickets.get_ticket(db, tid)["assignee"] is None


def test_someone_removed_from_the_config_loses_the_role_at_once(ticket, tmp_path):
    db, cfg, tid = ticket
    actions.take(db, cfg, tid, "bob", T0)
    # ann's console still holds the old config; the poller (or any command) has loaded the new one.
    sync_staff(desk(tmp_path, with_ann=False))
    with pytest.raises(ActionRefused) as exc:
        actions.assign(db, cfg, tid, "cy", "ann", T0)
    assert str(exc.value) == "'ann' is not on the staff list"
    # ... and a command with the new config refuses her too, mirror or not.
    sync_staff(cfg)
    with pytest.raises(ActionRefused):
        actions.assign(db, desk(tmp_path, with_ann=False), tid, "cy", "ann", T0)
    assert tickets.get_ticket(db, tid)["assignee"] == "bob"


def test_a_demoted_supervisor_loses_the_role_at_once(ticket, tmp_path):
    db, cfg, tid = ticket
    actions.take(db, cfg, tid, "bob", T0)
    sync_staff(desk(tmp_path, ann_role="staff"))  # her console's config still says supervisor
    with pytest.raises(ActionRefused) as exc:
        actions.assign(db, cfg, tid, "cy", "ann", T0)
    assert str(exc.value) == ("only a supervisor may assign tickets to others or reassign them; "
                              "staff may take unassigned tickets")
    with pytest.raises(ActionRefused) as exc:
        actions.resolve(db, cfg, tid, resolve(cfg, "bob", uid=ANN_UID), T0)
    assert str(exc.value) == "ann may no longer act for bob: not a supervisor now"
    assert tickets.get_ticket(db, tid)["status"] == "new"


def test_nobody_can_be_assigned_a_ticket_after_leaving(ticket, tmp_path):
    db, cfg, tid = ticket
    sync_staff(desk(tmp_path, with_ann=False))
    with pytest.raises(ActionRefused) as exc:
        actions.assign(db, desk(tmp_path, with_ann=False), tid, "ann", "bob", T0)
    assert str(exc.value) == "'ann' is not on the staff list"


def test_the_mirror_keeps_people_who_left(ticket, tmp_path):
    from store import staff as store_staff

    db, cfg, _ = ticket
    sync_staff(desk(tmp_path, with_ann=False))
    assert [p["handle"] for p in store_staff.all_staff(db)] == ["bob", "cy"]
    assert store_staff.get_staff(db, "ann") == {"handle": "ann", "name": "ann", "role": "supervisor", "active": False}
    sync_staff(cfg)  # back again
    assert store_staff.get_staff(db, "ann")["active"] is True


def test_resending_a_page_checks_the_actor_and_is_audited(ticket):
    db, cfg, tid = ticket
    with write(db):  # a Class I ticket pages nobody on arrival: one cancelled page to resend
        outbox.add_alert(db, dedup_key="k", ticket_id=tid, cls="I", step="breach", audience="primary",
                         target="bob", urgent=True, title="t", body="b", due_at=T0, now=T0)
        outbox.cancel_for_ticket(db, tid, T0, "test")
    [a] = outbox.list_alerts(db, ticket_id=tid)
    with pytest.raises(ActionRefused) as exc:
        actions.resend_page(db, cfg, a["id"], resolve(cfg, None, uid=NOBODY_UID), T0)
    assert str(exc.value) == 'login nobody has no [[staff]] entry (login = "nobody"); it may only read'
    assert outbox.list_alerts(db, ticket_id=tid)[0]["state"] == "cancelled"
    actions.resend_page(db, cfg, a["id"], resolve(cfg, "bob", uid=ANN_UID), T0)
    assert outbox.list_alerts(db, ticket_id=tid)[0]["state"] == "pending"
    e = audit.events_for(db, tid)[-1]
    assert (e["kind"], e["actor"], e["detail"]["alert"], e["detail"]["previous"]) == (
        "page_resent", "ann as bob", a["id"], "cancelled")


# --- check and test-page --------------------------------------------------------------------------


def test_check_reports_how_actors_are_known(tmp_path, capsys):
    from console.cli.checks import _check_identity

    assert _check_identity(desk(tmp_path, logins=False)) == 0
    assert capsys.readouterr().out == \
        "identity: no [[staff]] logins: --as and [console] operator are trusted as given\n"
    assert _check_identity(desk(tmp_path, operator="ann")) == 0
    assert capsys.readouterr().out == (
        "identity: logins: the account running a command picks its [[staff]] entry; without one: cy "
        "(only root or a supervisor can act as them)\n"
        "identity: [console] operator is ignored when logins are used\n")
    cfg = from_dict({"staff": [{"handle": "ann", "login": "no-such-account-here"}]})
    assert _check_identity(cfg) == 1
    assert capsys.readouterr().out.splitlines()[-1] == (
        "identity: FAILED: ann's login 'no-such-account-here' is not an account on this machine")


_PAGED: list[str] = []


@notify(on="sctestpage")
def _test_pager(body, title, notify_type, *args, **kwargs):
    _PAGED.append(title)
    return True


def test_a_test_page_checks_the_actor_and_is_audited(tmp_path, capsys):
    from console.cli.checks import test_page

    cfg = from_dict({"store": {"path": str(tmp_path / "support.db")},
                     "staff": [{"handle": "ann", "role": "supervisor", "login": "daemon",
                                "notify": ["sctestpage://ann"]},
                               {"handle": "bob", "login": "bin", "notify": ["sctestpage://bob"]}]})
    sync_staff(cfg)
    with pytest.raises(ActionRefused) as exc:
        test_page(cfg, "bob", resolve(cfg, None, uid=NOBODY_UID), T0)
    assert str(exc.value) == 'login nobody has no [[staff]] entry (login = "nobody"); it may only read'
    assert _PAGED == []
    assert test_page(cfg, "bob", resolve(cfg, "bob", uid=ANN_UID), T0) == 0
    assert _PAGED == ["support-console test page"]
    db = open_db(cfg.store_path)
    [(actor, kind, detail)] = db.execute("SELECT actor, kind, detail FROM events WHERE ticket_id IS NULL").fetchall()
    assert (actor, kind, json.loads(detail)) == ("ann as bob", "test_page",
                                                  {"target": "bob", "outcomes": {"bob": "sent"}})


def test_cli_exit_codes_for_identity(tmp_path, monkeypatch, capsys):
    from console import cli
    from tests.integration.alerts_helpers import to_toml

    conf = tmp_path / "config.toml"
    data = {"store": {"path": str(tmp_path / "support.db")},
            "staff": [{"handle": "ann", "role": "supervisor", "login": "daemon"}, {"handle": "bob", "login": "bin"}]}
    conf.write_text(to_toml(data))
    monkeypatch.setattr(identity, "real_uid", lambda: BOB_UID)
    assert cli.main(["--config", str(conf), "--as", "ann", "tickets"]) == 77  # refused whatever the command
    assert capsys.readouterr().err == ("support-console: --as ann: only a supervisor or root may act for someone "
                                       "else (login bin is bob, staff)\n")
    conf.write_text(to_toml({"store": data["store"], "staff": [{"handle": "ann"}]}))
    monkeypatch.delenv("USER", raising=False)
    assert cli.main(["--config", str(conf), "take", "1"]) == 64
    assert capsys.readouterr().err == "support-console: who is acting? pass --as HANDLE or set [console] operator\n"
