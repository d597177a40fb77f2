"""A console whose database is deleted or renamed over under it says so, once, with the bell (issue 26)."""
from __future__ import annotations

import os

import pytest

from tests.ui.helpers import notifications

pytestmark = pytest.mark.ui
SIZE = (120, 36)


@pytest.mark.parametrize("fault", ["deleted", "replaced"])
async def test_a_lost_database_is_said_once_with_the_bell(make_app, seeded, tmp_path, fault):
    path = seeded[0]
    app = make_app("ann", live=False)
    rung = []
    app.bell = lambda: rung.append(1)
    async with app.run_test(size=SIZE) as pilot:
        app.tick()
        app.flush_news()
        await pilot.pause()
        before = len(rung)
        if fault == "deleted":
            os.unlink(path)
        else:
            other = tmp_path / "other.db"
            other.write_bytes(b"")
            os.rename(other, path)
        app.tick()
        app.flush_news()
        await pilot.pause()
        lost = [n for n in notifications(app) if "Database lost" in n]
        assert len(lost) == 1 and f"was {fault}" in lost[0] and "restore" in lost[0]
        assert len(rung) == before + 1
        app.tick()  # said once
        app.flush_news()
        await pilot.pause()
        assert len([n for n in notifications(app) if "Database lost" in n]) == 1
