"""The weekly digest (issue 24 item 5): `[reports] weekly = "mon 08:00"` mails the supervisors last week's
SLA report through the desk's mail outbox to a real SMTP server (aiosmtpd on loopback), once per week
even across restarts; its HTML part, rendered by a real headless Chromium, shows the chart and figures."""
from __future__ import annotations

import shutil
import subprocess
import zlib
from datetime import timedelta

import pytest

from console import poller
from console.clock import FrozenClock
from console.config import from_dict
from console.reports import digest
from store import open_db
from tests.integration.test_report_sla import AS_OF, W, History, config_data

pytestmark = pytest.mark.integration

MON_0800 = W + timedelta(days=7) - timedelta(hours=1)  # Mon 16 Nov 08:00 MST


@pytest.fixture
def desk(tmp_path, http_receiver, smtp_sink):
    data = config_data(tmp_path, http_receiver, reports={"weekly": "mon 08:00"})
    data["smtp"] = {"host": "127.0.0.1", "port": smtp_sink.port, "security": "none",
                    "from": "Example Support <support@desk.example>", "timeout_seconds": 5}
    data["staff"][0]["email"] = "ann@desk.example"  # the supervisor
    data["staff"][1]["email"] = "bob@desk.example"  # staff: not a recipient
    h = History(from_dict(data))
    a = h.arrive(W)
    h.reply(a, "bob", W + 2 * timedelta(hours=1))
    b = h.arrive(W + timedelta(hours=1), subject="Class II: password reset")
    from console import actions

    actions.acknowledge(h.db, h.cfg, b, "cy", W + timedelta(hours=11))  # 2h late
    yield h
    h.db.close()


def _mails(sink):
    return [r for r in sink.records if "SLA report" in str(r.message["Subject"])]


def test_the_digest_goes_to_the_supervisors_once_per_week_across_restarts(desk, smtp_sink):
    h = desk
    # replies sent while building the history went to the sink too; only the digest is looked at here
    assert poller.run(h.cfg, FrozenClock(MON_0800 - timedelta(minutes=1)), once=True) == 0
    assert _mails(smtp_sink) == []  # not due before Monday 08:00
    assert poller.run(h.cfg, FrozenClock(MON_0800), once=True) == 0
    [mail] = _mails(smtp_sink)
    assert mail.rcpt_tos == ["ann@desk.example"]
    m = mail.message
    assert str(m["Subject"]).strip() == "SLA report 2026-W46: in time I 100.0%, II 0.0%, III -"
    assert m["Auto-Submitted"] == "auto-generated" and m.get_content_type() == "multipart/alternative"
    text = m.get_body(("plain",)).get_content()
    html = m.get_body(("html",)).get_content()
    assert "SLA report 2026-W46 (2026-11-09 to 2026-11-15)" in text and "Class II" in html
    assert "<svg" in html and "<script" not in html.lower() and "http://" not in html.replace(
        'xmlns="http://www.w3.org/2000/svg"', "")
    # a restart (another poll --once, a new process's first look) the same week sends nothing more
    assert poller.run(h.cfg, FrozenClock(MON_0800 + timedelta(hours=3)), once=True) == 0
    assert digest.send_weekly(open_db(h.cfg.store_path), h.cfg, MON_0800 + timedelta(days=2)) == []
    assert len(_mails(smtp_sink)) == 1
    # the next week's is due the next Monday
    assert poller.run(h.cfg, FrozenClock(MON_0800 + timedelta(days=7)), once=True) == 0
    assert [str(r.message["Subject"]).strip().split(":")[0] for r in _mails(smtp_sink)] == ["SLA report 2026-W46",
                                                                                   "SLA report 2026-W47"]


def _png_pixels(png: bytes) -> bytes:
    """The decompressed image data of a PNG (filter bytes and all): enough to tell a blank page."""
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    i, data = 8, b""
    while i < len(png):
        n = int.from_bytes(png[i:i + 4], "big")
        kind = png[i + 4:i + 8]
        if kind == b"IDAT":
            data += png[i + 8:i + 8 + n]
        i += 12 + n
    return zlib.decompress(data)


def test_the_html_digest_renders_in_a_real_browser(desk, tmp_path):
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("chromium is not installed (.ci/run installs it)")
    h = desk
    from console.reports import sla

    report = sla.build(h.db, sla.week_period("2026-W46", h.cfg.timezone), h.cfg.sla, AS_OF)
    msg = digest.compose(h.cfg, report, "Ann", "ann@desk.example", AS_OF)
    page = tmp_path / "digest.html"
    page.write_text(msg.get_body(("html",)).get_content())
    blank = tmp_path / "blank.html"
    blank.write_text("<!DOCTYPE html><html><body></body></html>")
    flags = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1", f"--user-data-dir={tmp_path / 'profile'}",
             "--window-size=900,900"]
    dom = subprocess.run([*flags, "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=90).stdout
    assert "SLA report 2026-W46" in dom and "100.0%" in dom and "<svg" in dom and 'class="bar-I"' in dom
    shots = {}
    for name, src in (("digest", page), ("blank", blank)):
        out = tmp_path / f"{name}.png"
        subprocess.run([*flags, f"--screenshot={out}", src.as_uri()], capture_output=True, timeout=90, check=False)
        shots[name] = _png_pixels(out.read_bytes())
    assert len(set(shots["blank"])) < 8  # a blank page: a handful of byte values
    assert len(set(shots["digest"])) > 60 and shots["digest"] != shots["blank"]  # text, bars, colours
