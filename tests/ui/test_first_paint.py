"""A big desk paints its most urgent rows first and adds the long tail right after, in order."""
from __future__ import annotations

import pytest

from console.ui.screens import dashboard
from tests.ui.helpers import row_ids

pytestmark = pytest.mark.ui


async def test_rows_after_the_first_page_follow_in_sort_order(make_app, monkeypatch):
    full = make_app("ann")  # 6 tickets: one page
    async with full.run_test(size=(120, 36)) as pilot:
        await pilot.pause()
        expected = row_ids(full)

    monkeypatch.setattr(dashboard, "FIRST_PAGE", 2)
    app = make_app("ann")
    first_frame = []
    real = dashboard.DashboardScreen._painted

    def spy(self):
        first_frame.append(self.table.row_count)
        real(self)

    monkeypatch.setattr(dashboard.DashboardScreen, "_painted", spy)
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.pause()
        await pilot.pause()
        assert first_frame == [2]  # the first frame carried only the first page
        assert app.first_paint_at is not None
        assert row_ids(app) == expected and len(expected) >= 5
        assert app.dashboard._order == expected
