"""Merge, unmerge and split from the console: what the keys do (console.shaping does the work, in a thread,
with the same checks as the CLI). A merge across requesters asks first (a confirm dialog); refusals are
toasts that say why; the list and any open detail of the tickets are looked at again at once."""
from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from textual.content import Content

from console import shaping
from console.safe_text import clean_line
from console.ui import styles as st
from console.ui.screens.dialogs import ConfirmDialog
from console.ui.screens.shaping import SplitChoice, SplitDialog, splittable
from store.errors import KNOWN_ERRORS

if TYPE_CHECKING:
    from console.ui.app import ConsoleApp
    from console.ui.screens.detail import DetailScreen


def _ids(ids: list[int]) -> str:
    return ", ".join(f"#{i}" for i in ids)


def merge_marked(app: ConsoleApp, target: int | None) -> None:
    """The marked tickets into `target` (the one under the cursor)."""
    ids = sorted(app.marked - {target}) if target is not None else []
    if target is None or not ids:
        app.notify("Mark the tickets to merge (space), then put the cursor on the one they join and press M",
                   severity="warning", markup=False)
        return
    if app.role != "supervisor":
        app.refuse_early("merge", target, "only a supervisor may merge tickets (as for reassigning them)")
        return
    seen = [app.known(i) for i in [target, *ids]]
    requesters = sorted({(t.get("requester") or "").lower() for t in seen if t is not None} - {""})
    if len(requesters) > 1:
        question = Content(f"{_ids(ids)} into #{target}: these tickets come from {len(requesters)} requesters "
                           f"({clean_line(', '.join(requesters), 160)}). Their mail and history join #{target}; "
                           "unmerge undoes it.")

        def answered(yes: bool | None) -> None:
            if yes:
                _run(app, "merge", lambda db, now: shaping.merge(db, app.cfg, target, ids, app.operator, now,
                                                                  confirmed=True), [target, *ids])

        app.push_screen(ConfirmDialog(st.bold(f"Merge into #{target} across requesters?"), question,
                                      yes="Merge", no="Cancel"), answered)
        return
    _run(app, "merge", lambda db, now: shaping.merge(db, app.cfg, target, ids, app.operator, now), [target, *ids])


def unmerge(app: ConsoleApp, tid: int) -> None:
    _run(app, "unmerge", lambda db, now: shaping.unmerge(db, app.cfg, tid, app.operator, now), [tid])


def open_split(app: ConsoleApp, screen: DetailScreen) -> None:
    """The split dialog over a ticket's detail: its customer's mail other than the first."""
    d = screen.detail
    if d is None:
        app.notify("The ticket is still loading", severity="warning")
        return
    tid = screen.ticket_id
    choices = splittable(d.messages)
    if not choices:
        app.notify(f"#{tid} has no later customer mail to split off", severity="warning", markup=False)
        return

    def chosen(c: SplitChoice | None) -> None:
        if c is not None:
            _run(app, "split", lambda db, now: shaping.split(db, app.cfg, tid, c.message, app.operator, now,
                                                             later=c.later), [tid])

    app.push_screen(SplitDialog(app.dialog_title("Split a message off", tid), choices, app.cfg.timezone), chosen)


def _run(app: ConsoleApp, kind: str, act: Callable[[Any, Any], dict[str, Any]], ids: list[int]) -> None:
    def work() -> None:
        import store

        try:
            db = store.open_db(app.db_path)
        except KNOWN_ERRORS as exc:
            app.call_from_thread(_done, app, kind, None, str(exc), ids)
            return
        try:
            result = act(db, app.clock.now())
            app.call_from_thread(_done, app, kind, result, None, ids)
        except KNOWN_ERRORS as exc:
            app.call_from_thread(_done, app, kind, None, str(exc), ids)
        except Exception as exc:  # noqa: BLE001 - never take the console down; say what happened
            app.call_from_thread(_done, app, kind, None, f"internal error: {type(exc).__name__}: {exc}", ids)
        finally:
            db.conn.close()

    app.run_worker(work, thread=True, group="actions", exit_on_error=False)


def _done(app: ConsoleApp, kind: str, t: dict[str, Any] | None, why: str | None, ids: list[int]) -> None:
    if t is None:
        app.notify(clean_line(why or "", 300), title=f"Refused: {kind} {_ids(ids)}", severity="error", markup=False,
                   timeout=8)
        return
    if kind == "merge":
        app.marked.difference_update(ids)
        text = f"Merged {_ids(ids[1:])} into #{ids[0]}"
    elif kind == "unmerge":
        text = f"#{t['id']} unmerged: back on its own clock"
    else:
        text = f"#{t['id']} split from #{ids[0]}: Class {t['class']}"
    app.notify(text, markup=False, timeout=5)
    for tid in {*ids, t["id"]}:
        app.ticket_written(tid)  # the list and any open detail look again now
    if app.dashboard.view.resolved:
        app.load_resolved()
    app.dashboard.show_viewbar()
