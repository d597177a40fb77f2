"""A worker's error is said in one toast, masked like every other line the desk prints: an exception's text
may quote a notify URL (apprise's do), and the toast is on a screen someone else may be looking at."""
from __future__ import annotations

import pytest

from console import logs
from tests.ui.helpers import notifications, settle

pytestmark = pytest.mark.ui
TOKEN = "Zk7TopicToken99"
URL = f"ntfy://ntfy.example.com/{TOKEN}"


async def test_a_workers_error_is_one_toast_with_the_configs_secrets_masked(make_app, monkeypatch):
    app = make_app("ann", live=False)
    before = set(logs._configured)  # noqa: SLF001 - put back below
    logs.set_secrets({URL})  # as `support-console` does with the config's notify URLs before the console starts

    def boom() -> list:
        raise RuntimeError(f"could not reach {URL} (timed out)")

    try:
        async with app.run_test(size=(120, 36)) as pilot:
            monkeypatch.setattr(app.reads, "recent_pages", boom)
            app.load_pages()
            await settle(pilot)
            said = [n for n in notifications(app) if n.startswith("Internal error (load_pages)")]
            assert said == ["Internal error (load_pages): RuntimeError: could not reach *** (timed out)"]
            assert app.is_running  # the console goes on
    finally:
        logs.set_secrets(before)
