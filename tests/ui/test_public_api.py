"""The console uses Textual's public API only (item 5), and colours come from the one theme (item 18)."""
from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

pytestmark = pytest.mark.ui
UI = Path(__file__).resolve().parents[2] / "console" / "ui"
HEX = re.compile(r"#[0-9a-fA-F]{3}(?:[0-9a-fA-F]{3})?(?![0-9a-zA-Z_])")


def _sources():
    return sorted(UI.rglob("*.py"))


def test_no_private_names_from_dependencies():
    bad = []
    for path in _sources():
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] in ("textual", "rich"):
                names = [*node.module.split("."), *(a.name for a in node.names)]
                if any(n.startswith("_") for n in names):
                    bad.append(f"{path.name}: from {node.module} import {', '.join(a.name for a in node.names)}")
            # overriding a dependency's private method looks like defining one of its names
            if isinstance(node, ast.FunctionDef) and node.name in {
                    "_update_dimensions", "_render_line", "_get_row_renderables", "_on_idle"}:
                bad.append(f"{path.name}: overrides {node.name}")
    assert bad == []


def test_ticket_table_is_not_a_datatable_and_owns_its_rows():
    from textual.widgets import DataTable

    from console.ui.widgets.tickets import TicketTable

    assert not issubclass(TicketTable, DataTable)
    src = (UI / "widgets" / "tickets.py").read_text()
    assert "_row_locations" not in src and "_data[" not in src and "_update_dimensions" not in src


def hex_colours(text: str) -> list[str]:
    """#rrggbb, or #rgb with a letter in it (ticket numbers such as #123 are digits only)."""
    return [m for m in HEX.findall(text) if len(m) == 7 or re.search(r"[a-fA-F]", m)]


def test_no_colour_literals_outside_the_theme():
    assert hex_colours('style="bold #e5484d" #fff #12 #123 f"#{tid}"') == ["#e5484d", "#fff"]  # the check can fail
    offenders = [f"{path.name}: {hex_colours(path.read_text())}" for path in _sources() + [UI / "app.tcss"]
                 if hex_colours(path.read_text())]
    assert offenders == []


def test_class_metadata_is_defined_once():
    from console.ui import format as fmt

    assert [c.code for c in sorted(fmt.CLASSES.values(), key=lambda c: c.rank)] == ["III", "II", "I"]
    definers = []
    for path in _sources():
        text = path.read_text()
        if re.search(r"['\"]critical['\"]", text) or re.search(r"\{\s*['\"]III['\"]\s*:\s*0", text):
            definers.append(path.name)
    assert definers == ["format.py"]


def test_the_theme_defines_every_variable_the_stylesheet_uses():
    from console.ui.theme import THEME

    used = set(re.findall(r"\$([a-z][a-z0-9-]*)", (UI / "app.tcss").read_text()))
    ours = {v for v in used if v.startswith(("class-", "urgency-", "row-"))}
    assert ours and ours <= set(THEME.variables)


async def test_time_left_is_coloured_by_urgency_and_the_cursor_by_neither(make_app):
    from console.ui.widgets.tickets import RowView

    app = make_app("ann", live=False)
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.pause()
        table = app.dashboard.table
        cols = table.columns()
        left = [n for n, c in enumerate(cols) if c.key == "left"][0] * 2  # a gap segment follows each cell

        def left_style(cls_css: str, level: str):
            v = RowView(cls_css, " X ", 1, "1m00s !", level, "s", "r", "-", "new", False, False)
            return table._row_segments(v, cols, cursor=False)[left].style

        assert left_style("class-iii", "warn") == left_style("class-i", "warn")  # urgency, not class
        assert left_style("class-i", "warn") != left_style("class-i", "ok")
        assert left_style("class-i", "breached").bgcolor is not None
        cursor = table.get_component_rich_style("tickets--cursor").bgcolor
        amber = table.get_component_rich_style("tickets--class-ii").bgcolor
        assert cursor is not None and cursor != amber
        assert cursor.triplet.hex != app.get_css_variables()["class-ii"]
