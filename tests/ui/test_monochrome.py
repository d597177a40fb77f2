"""Colour is never the only signal: class badges and BREACHED read on a monochrome terminal."""
from __future__ import annotations

import re

import pytest

from tests.ui.helpers import row_ids

pytestmark = pytest.mark.ui


def _plain_text(svg: str) -> str:
    return re.sub(r"<[^>]+>", "", svg).replace("&#160;", " ")


async def test_badges_and_breached_without_colour(make_app, monkeypatch):
    monkeypatch.setenv("NO_COLOR", "1")
    app = make_app("ann")
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.pause()
        assert app.no_color  # Textual honours NO_COLOR
        text = _plain_text(app.export_screenshot())
        lines = [ln for ln in text.splitlines() if "Payment API" in ln]
        assert lines, "the breached Class III ticket is on screen"
        assert "BREACHED" in lines[0] and "III" in lines[0]
        assert re.search(r"\bII\b", text) and re.search(r"\bI\b", text)
        assert len(row_ids(app)) >= 5
