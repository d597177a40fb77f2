"""The demo builds through the real intake pipeline and starts headless with all three classes."""
from __future__ import annotations

import pytest

pytestmark = pytest.mark.ui


async def test_demo_starts_with_all_classes(tmp_path):
    pytest.importorskip("console.intake.pipeline")
    from console.clock import SystemClock
    from console.demo import Escalator, PageSink, build_demo, register_desk_channel
    from console.ui.app import ConsoleApp

    clock = SystemClock()
    db_path, cfg = build_demo(tmp_path, clock)
    sink = PageSink()
    register_desk_channel(sink)
    app = ConsoleApp(db_path, cfg, "ann", clock, page_sink=sink)
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.pause()
        classes = {t["class"] for t in app.tickets.values()}
        assert classes == {"I", "II", "III"}
        assert any(t["needs_details"] for t in app.tickets.values())  # the call-me-only mail
        assert any(t["message_count"] >= 2 for t in app.tickets.values())  # a thread with a reply
        assert app.role == "supervisor"
        escalator = Escalator(db_path, cfg, clock)
        import asyncio

        sent = await asyncio.to_thread(escalator.cycle)  # the escalator's own thread and connection
        assert sent > 0
        await pilot.pause(0.2)
        await pilot.pause()
        assert app.pages and any("Class III" in title for _, title, _ in app.pages)
        assert any("Class III" in n.title for n in app._notifications)
