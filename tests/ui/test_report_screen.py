"""The SLA report screen (issue 24 item 4): W opens it from the list; each class's compliance for the last
weeks as bars with the figures; Enter on a class's breach figure lists those tickets, Enter opens one."""
from __future__ import annotations

from datetime import timedelta

from textual.widgets import OptionList

from console import actions
from console.ui.screens.detail import DetailScreen
from console.ui.screens.report import BreachList, ReportScreen, bar
from tests.ui.conftest import NOW, add_ticket
from tests.ui.helpers import settle

SIZE = (120, 36)


def history(db, cfg):
    """Two weeks ago: a Class III acknowledged 20 minutes after arrival (5 minutes late) and a Class I
    acknowledged after an hour; last week: a Class I acknowledged after two hours."""
    two_weeks = NOW - timedelta(days=14)
    late = add_ticket(db, cfg, "III", 0, "Mail server down", "ops@late.example", received=two_weeks)
    actions.acknowledge(db, cfg, late, "bob", two_weeks + timedelta(minutes=20))
    ok = add_ticket(db, cfg, "I", 0, "Printer", "p@ok.example", received=two_weeks + timedelta(hours=1))
    actions.acknowledge(db, cfg, ok, "cy", two_weeks + timedelta(hours=2))
    last = add_ticket(db, cfg, "I", 0, "VPN", "v@ok.example", received=NOW - timedelta(days=6))
    actions.acknowledge(db, cfg, last, "ann", NOW - timedelta(days=6) + timedelta(hours=2))
    return late


async def test_w_shows_each_class_week_by_week_and_enter_lists_the_breaches(make_app, db, cfg):
    late = history(db, cfg)
    app = make_app("ann", live=False)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("W")
        await settle(pilot)
        assert isinstance(app.screen, ReportScreen)
        ol = app.screen.query_one("#report-classes", OptionList)
        lines = [str(ol.get_option_at_index(i).prompt) for i in range(ol.option_count)]
        assert len(lines) == 3
        # last week: the VPN ticket met, and the seeded CSV question still open, not yet due
        assert "last week 100.0% (1 met, 2 in)" in lines[0] and "0 breached in 8 weeks" in lines[0]
        assert "last week -" in lines[2] and "1 breached in 8 weeks" in lines[2]
        assert lines[2].splitlines()[-1].split() == ["-"] * 6 + ["0%", "-"]  # the breach's week, under its bar
        await pilot.press("j", "j", "enter")
        await settle(pilot)
        assert isinstance(app.screen, BreachList)
        rows = [str(o.prompt) for o in app.screen.query_one(OptionList).options]
        assert len(rows) == 1 and rows[0].startswith(f"#{late}") and "bob" in rows[0] and "5m late" in rows[0]
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, DetailScreen) and app.screen.ticket_id == late


async def test_the_report_key_is_in_the_footer_the_palette_and_help(make_app):
    from rich.console import Console

    from console.ui import keys
    from console.ui.screens.help import help_table

    app = make_app("ann", live=False)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        shown = {b.binding.id: b.binding for b in app.screen.active_bindings.values()}
        assert shown["report"].key == "W" and shown["report"].show  # in the footer
    assert any(k.id == "report" and k.palette for k in keys.for_context(keys.DASHBOARD))
    console = Console(width=120, record=True)
    console.print(help_table())
    text = console.export_text()
    assert "SLA report" in text and "The SLA report" in text and "Read the history again" in text


def test_bars_are_as_high_as_the_figure():
    assert [str(bar(100.0, r)) for r in range(4)] == ["███  "] * 4
    assert [str(bar(50.0, r)) for r in range(4)] == ["███  ", "███  ", "     ", "     "]
    assert [str(bar(0.0, r)) for r in range(2)] == ["▁▁▁  ", "     "]  # 0 %: a thin line, the week counted
    assert [str(bar(None, r)) for r in range(2)] == [" ·   ", "     "]  # nothing decided that week
