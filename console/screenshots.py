"""`support-console screenshots [DIR]`: SVGs of the console over seeded data with a frozen clock."""
from __future__ import annotations

import asyncio
import tempfile
from datetime import datetime, UTC
from pathlib import Path

AT = datetime(2026, 1, 5, 17, 0, 0, tzinfo=UTC)  # Monday 10:00 in Phoenix
SIZE = (120, 36)


def _seed(tmp: Path, clock):
    """The demo mailbox, filed through the real pipeline, plus one escalation/dispatch-free cycle."""
    import store
    from console import actions
    from console.alerts import escalation
    from console.demo import beat_healthy, build_demo
    from store import console_reads

    db_path, cfg = build_demo(tmp, clock)
    db = store.open_db(db_path)
    try:
        def tid(fragment: str) -> int:
            return console_reads.ticket_ids_with_subject(db, fragment)[0]

        now = clock.now()
        actions.assign(db, cfg, tid("invoices for December"), "bob", "ann", now)
        actions.acknowledge(db, cfg, tid("SSO login"), "ann", now)
        actions.reclassify(db, cfg, tid("profile picture"), "I", "ann", now, reason="not critical", panic=True)
        clock.advance(45)  # one Class III ticket breached, another escalated
        with store.write(db):
            escalation.run_due(db, cfg, clock.now())
            beat_healthy(db, clock.now())
    finally:
        db.conn.close()
    return db_path, cfg


async def _settle(pilot) -> None:
    for _ in range(3):  # details, previews and the pages panel load in workers
        await pilot.pause()
        await pilot.app.workers.wait_for_complete()
    await pilot.pause()


async def _shoot(out_dir: Path, db_path: Path, cfg, clock) -> list[Path]:
    from console.ui.app import ConsoleApp

    written: list[Path] = []
    app = ConsoleApp(db_path, cfg, "ann", clock, live=False)
    async with app.run_test(size=SIZE) as pilot:
        await _settle(pilot)

        def save(name: str) -> None:
            app.save_screenshot(name, str(out_dir))
            written.append(out_dir / name)

        table = app.dashboard.table
        table.move_cursor(row=1)  # the Class III ticket that is about to escalate
        await _settle(pilot)
        save("dashboard.svg")
        await pilot.press("enter")
        await _settle(pilot)
        save("detail.svg")
        await pilot.press("escape")
        table.move_cursor(row=3)
        await pilot.press("o")
        await _settle(pilot)
        save("reassign.svg")
        await pilot.press("escape")
        table.move_cursor(row=4)
        await pilot.press("c", "k")  # a Class I ticket moved to Class III: the deadline is long past
        await _settle(pilot)
        save("reclassify.svg")
        await pilot.press("escape")
        await pilot.press("p")
        await _settle(pilot)
        save("pages.svg")
        await pilot.press("p", "question_mark")
        await _settle(pilot)
        save("help.svg")
        await pilot.press("escape")
        table.move_cursor(row=table.ids.index(_ticket_with(app, "dark mode")))
        await pilot.press("r")  # headless: the built-in composer (a terminal gets $EDITOR)
        await _settle(pilot)
        await pilot.press(*"Thank you, Kim: dark mode is planned for the spring release.")
        app.steady_cursors()
        await _settle(pilot)
        save("reply.svg")
        await pilot.press("ctrl+s")
        await _settle(pilot)
        save("reply-review.svg")
    return written


async def _shoot_report(out_dir: Path, tmp: Path, clock) -> list[Path]:
    """The SLA report screen (W) over eight weeks of history filed and answered through the real code."""
    import store
    from console.demo import build_demo
    from console.demo.history import seed_history
    from console.ui.app import ConsoleApp

    db_path, cfg = build_demo(tmp, clock)
    db = store.open_db(db_path)
    try:
        seed_history(db, cfg, clock.now())
    finally:
        db.conn.close()
    app = ConsoleApp(db_path, cfg, "ann", clock, live=False)
    async with app.run_test(size=SIZE) as pilot:
        await _settle(pilot)
        await pilot.press("W")
        await _settle(pilot)
        app.save_screenshot("report.svg", str(out_dir))
    return [out_dir / "report.svg"]


def _ticket_with(app, fragment: str) -> int:
    return next(tid for tid, t in app.tickets.items() if fragment in t["subject"].lower())


def write_screenshots(out_dir: Path) -> list[Path]:
    from console.clock import FrozenClock

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    clock = FrozenClock(AT)
    with tempfile.TemporaryDirectory(prefix="support-console-shots-") as tmp:
        db_path, cfg = _seed(Path(tmp), clock)
        written = asyncio.run(_shoot(out_dir, db_path, cfg, clock))
    with tempfile.TemporaryDirectory(prefix="support-console-shots-") as tmp:
        return written + asyncio.run(_shoot_report(out_dir, Path(tmp), FrozenClock(AT)))
