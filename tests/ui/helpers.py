"""Small helpers shared by the console tests."""
from __future__ import annotations

from textual.widgets import OptionList

from console.ui.widgets.tickets import TicketTable


def table(app) -> TicketTable:
    return app.dashboard.table


def row_ids(app) -> list[int]:
    t = table(app)
    return [int(t.coordinate_to_cell_key((i, 0)).row_key.value) for i in range(t.row_count)]


def select(app, tid: int) -> None:
    t = table(app)
    t.move_cursor(row=t.get_row_index(str(tid)))


async def settle(pilot) -> None:
    """Let thread workers finish and their messages be handled."""
    await pilot.pause()
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()
    await pilot.pause()


def notifications(app) -> list[str]:
    return [f"{n.title}: {n.message}" for n in app._notifications]


async def pick_option(pilot, option_id: str) -> None:
    ol = pilot.app.screen.query_one(OptionList)
    ol.highlighted = ol.get_option_index(option_id)
    await pilot.press("enter")
