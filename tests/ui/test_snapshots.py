"""Snapshots of every screen and dialog, with a frozen clock.

Update the baselines with `pytest tests/ui/test_snapshots.py --snapshot-update`.
"""
from __future__ import annotations

import pytest

from tests.ui.helpers import select

pytestmark = pytest.mark.ui
SIZE = (120, 36)


def _at(tid_index: int, *keys: str):
    async def run_before(pilot) -> None:
        await pilot.pause()
        select(pilot.app, pilot.app.dashboard.table.ids[tid_index])
        await pilot.pause()
        if keys:
            await pilot.press(*keys)
        for _ in range(3):
            await pilot.pause()
            await pilot.app.workers.wait_for_complete()
        await pilot.pause()
    return run_before


def test_dashboard(snap_compare, make_app):
    assert snap_compare(make_app("ann", live=False), terminal_size=SIZE, run_before=_at(0))


def test_dashboard_80x24(snap_compare, make_app):
    assert snap_compare(make_app("ann", live=False), terminal_size=(80, 24), run_before=_at(0))


def test_dashboard_wide(snap_compare, make_app):
    assert snap_compare(make_app("ann", live=False), terminal_size=(200, 30), run_before=_at(0))


def test_detail(snap_compare, make_app):
    assert snap_compare(make_app("ann", live=False), terminal_size=SIZE, run_before=_at(1, "enter"))


def test_reassign_dialog(snap_compare, make_app):
    assert snap_compare(make_app("ann", live=False), terminal_size=SIZE, run_before=_at(2, "o"))


def test_reassign_dialog_filtered(snap_compare, make_app):
    assert snap_compare(make_app("ann", live=False), terminal_size=SIZE, run_before=_at(2, "o", "d"))


def test_reclassify_dialog_warns_of_a_past_deadline(snap_compare, make_app):
    # the Class I feature request, 3 h old: as Class III it would be long overdue
    assert snap_compare(make_app("ann", live=False), terminal_size=SIZE, run_before=_at(4, "c", "k"))


def test_reclassify_dialog_panic(snap_compare, make_app):
    assert snap_compare(make_app("ann", live=False), terminal_size=SIZE, run_before=_at(0, "c", "tab", "tab"))


def test_resolve_dialog(snap_compare, make_app):
    assert snap_compare(make_app("ann", live=False), terminal_size=SIZE, run_before=_at(3, "x"))


def test_filter_dialog(snap_compare, make_app):
    assert snap_compare(make_app("ann", live=False), terminal_size=SIZE, run_before=_at(0, "f"))


def test_goto_dialog(snap_compare, make_app):
    assert snap_compare(make_app("ann", live=False), terminal_size=SIZE, run_before=_at(0, "number_sign", "4"))


def test_search_without_a_match(snap_compare, make_app):
    assert snap_compare(make_app("ann", live=False), terminal_size=SIZE,
                        run_before=_at(0, "slash", *"zebra", "enter"))


def test_pages_panel(snap_compare, make_app):
    assert snap_compare(make_app("ann", live=False), terminal_size=SIZE, run_before=_at(0, "p"))


def test_resolved_view(snap_compare, make_app):
    async def run_before(pilot) -> None:
        await _at(3, "x", *"fixed", "enter")(pilot)
        await pilot.press("v")
        for _ in range(3):
            await pilot.pause()
            await pilot.app.workers.wait_for_complete()
        await pilot.pause()
    assert snap_compare(make_app("ann", live=False), terminal_size=SIZE, run_before=run_before)


def test_help(snap_compare, make_app):
    assert snap_compare(make_app("ann", live=False), terminal_size=SIZE, run_before=_at(0, "question_mark"))
