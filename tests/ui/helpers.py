"""Small helpers shared by the console tests."""
from __future__ import annotations

import html
import re

from textual.widgets import OptionList

from console.ui.widgets.tickets import RowView, TicketTable


def table(app) -> TicketTable:
    return app.dashboard.table


def row_ids(app) -> list[int]:
    return list(table(app).ids)


def row(app, tid: int) -> RowView:
    """What the list shows for a ticket right now."""
    return app.dashboard._row_view(tid, table(app).now)


def select(app, tid: int) -> None:
    assert table(app).move_to(tid), f"#{tid} is not in the list"


async def settle(pilot) -> None:
    """Let thread workers finish and their messages be handled."""
    for _ in range(3):
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


def screen_lines(app) -> list[str]:
    """The screen as text, one string per terminal line (from the SVG Textual exports)."""
    svg = app.export_screenshot()
    rows: dict[float, list[tuple[float, str]]] = {}
    for m in re.finditer(r'<text class="[^"]*" x="([\d.]+)" y="([\d.]+)"[^>]*>(.*?)</text>', svg):
        text = html.unescape(re.sub(r"<[^>]+>", "", m.group(3))).replace("\xa0", " ")
        rows.setdefault(float(m.group(2)), []).append((float(m.group(1)), text))
    out = []
    for y in sorted(rows):
        line = ""
        for x, text in sorted(rows[y]):
            line = line.ljust(int(round(x / 12.2))) + text
        out.append(line.rstrip())
    return out


def screen_text(app) -> str:
    return "\n".join(screen_lines(app))
