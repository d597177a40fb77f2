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
        select(pilot.app, pilot.app.dashboard._order[tid_index])
        await pilot.pause()
        if keys:
            await pilot.press(*keys)
            await pilot.pause()
    return run_before


def test_dashboard(snap_compare, make_app):
    assert snap_compare(make_app("ann"), terminal_size=SIZE, run_before=_at(0))


def test_detail(snap_compare, make_app):
    assert snap_compare(make_app("ann"), terminal_size=SIZE, run_before=_at(1, "enter"))


def test_reassign_dialog(snap_compare, make_app):
    assert snap_compare(make_app("ann"), terminal_size=SIZE, run_before=_at(2, "o"))


def test_reclassify_dialog(snap_compare, make_app):
    assert snap_compare(make_app("ann"), terminal_size=SIZE, run_before=_at(0, "c"))


def test_resolve_dialog(snap_compare, make_app):
    assert snap_compare(make_app("ann"), terminal_size=SIZE, run_before=_at(3, "x"))


def test_filter_dialog(snap_compare, make_app):
    assert snap_compare(make_app("ann"), terminal_size=SIZE, run_before=_at(0, "f"))


def test_search(snap_compare, make_app):
    assert snap_compare(make_app("ann"), terminal_size=SIZE, run_before=_at(0, "slash", *"kangaroo"))


def test_help(snap_compare, make_app):
    assert snap_compare(make_app("ann"), terminal_size=SIZE, run_before=_at(0, "question_mark"))
