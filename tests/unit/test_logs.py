"""Log lines (console/logs.py): one line per event, secrets masked, no timestamp under journald."""
from __future__ import annotations

import logging
import os
import re

from console import logs


def record(msg, *args, level=logging.WARNING, exc=None):
    return logging.LogRecord("support_console.test", level, __file__, 1, msg, args, exc)


def test_a_line_has_a_timestamp_level_and_logger():
    line = logs.LineFormatter().format(record("alert %s to %s: %s", 3, "bob", "sent", level=logging.INFO))
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} INFO support_console.test: alert 3 to bob: sent", line)


def test_under_journald_no_timestamp_and_a_priority():
    f = logs.LineFormatter(journald=True)
    assert f.format(record("intake lost", level=logging.WARNING)) == "<4>WARNING support_console.test: intake lost"
    assert f.format(record("up", level=logging.INFO)).startswith("<6>INFO ")


def test_a_traceback_and_newlines_stay_on_one_line():
    try:
        raise ValueError("bad\nthing")
    except ValueError:
        import sys

        line = logs.LineFormatter().format(record("cycle failed:\n%s", "x\x1b[31m", exc=sys.exc_info()))
    assert "\n" not in line and "\x1b" not in line
    assert "cycle failed: | x\\x1b[31m | Traceback (most recent call last):" in line
    assert line.endswith("ValueError: bad | thing")


def test_secrets_are_masked(tmp_path):
    f = logs.LineFormatter(secrets=["AnnToken1"])
    assert f.format(record("POST /%s refused", "AnnToken1")).endswith("POST /*** refused")
    f.set_secrets(["Other1234"])
    assert f.format(record("AnnToken1 Other1234")).endswith("AnnToken1 ***")


def test_journald_is_detected_from_the_stream_it_names(tmp_path):
    with open(tmp_path / "err", "w") as stream, open(tmp_path / "other", "w") as other:
        st = os.fstat(stream.fileno())
        env = {"JOURNAL_STREAM": f"{st.st_dev}:{st.st_ino}"}
        assert logs.journald_reads(stream, env)
        assert not logs.journald_reads(other, env)  # stderr redirected elsewhere: stamp the lines
        assert not logs.journald_reads(stream, {})
        assert not logs.journald_reads(stream, {"JOURNAL_STREAM": "junk"})


def test_setup_installs_one_handler(tmp_path):
    with open(tmp_path / "err", "w") as stream:
        logs.setup(logging.INFO, stream=stream, env={})
        logs.setup(logging.INFO, stream=stream, env={})
        logs.set_secrets(["HookToken9"])
        logging.getLogger("support_console.test").warning("to /HookToken9")
        for h in list(logging.getLogger().handlers):
            if getattr(h, "_support_console", False):
                h.flush()
                logging.getLogger().removeHandler(h)
    lines = (tmp_path / "err").read_text().splitlines()
    assert len(lines) == 1 and lines[0].endswith("WARNING support_console.test: to /***")


def test_apprise_records_are_masked_before_any_handler_sees_them(tmp_path):
    """A handler on apprise's own logger (as apprise's LogCapture adds) and one on a child logger get the
    masked text too: the record is masked as it is made, not by our formatter."""
    import io

    stream = open(tmp_path / "err", "w")  # noqa: SIM115 - closed at the end
    logs.setup(logging.INFO, stream=stream, env={})
    logs.add_secrets(["B0SECRETBBB"])
    seen = io.StringIO()
    capture = logging.StreamHandler(seen)
    loggers = [logging.getLogger("apprise"), logging.getLogger("apprise.plugins.slack"), logging.getLogger("urllib3")]
    for lg in loggers:
        lg.addHandler(capture)
    try:
        loggers[0].error("Could not load %s URL: %s", "Slack", "slack://T0SECRETAAA/B0SECRETBBB")
        loggers[1].warning("An invalid Slack Token (B0SECRETBBB) was specified.")
        loggers[2].warning("POST https://hooks.slack.com/services/T0SECRETAAA/B0SECRETBBB/x HTTP/1.1")
        logging.getLogger("support_console.test").warning("ours: https://desk.example/ack/abc stays")
    finally:
        for lg in loggers:
            lg.removeHandler(capture)
        for h in list(logging.getLogger().handlers):
            if getattr(h, "_support_console", False):
                logging.getLogger().removeHandler(h)
        stream.close()
    lines = seen.getvalue().splitlines()
    assert lines == ["Could not load Slack URL: slack://", *["An invalid Slack Token (***) was specified."] * 2,
                     "POST https://hooks.slack.com HTTP/1.1"]  # (the child's record reaches its parent's handler)
    assert "https://desk.example/ack/abc stays" in (tmp_path / "err").read_text()


def test_an_apprise_traceback_is_masked_too():
    import sys

    try:
        raise ValueError("bad URL tgram://TGSECRETTOKEN/123")
    except ValueError:
        rec = logging.getLogger("apprise").makeRecord("apprise", logging.ERROR, __file__, 1, "failed", (),
                                                      sys.exc_info())
    rec = logs.scrub(rec)
    assert rec.exc_info is None and "TGSECRETTOKEN" not in rec.getMessage()
    assert "ValueError: bad URL tgram://" in rec.getMessage()


def test_an_oauth2_token_in_a_line_is_masked():
    """Issue 23: tokens never reach the logs, even in a library's message or an exception's text."""
    f = logs.LineFormatter()
    for text, token in (("Authorization: Bearer eyJ0eXAi.payload-part_123", "eyJ0eXAi.payload-part_123"),
                        ("> AUTHENTICATE XOAUTH2 dXNlcj1kZXNrAWF1dGg9QmVhcmVy", "dXNlcj1kZXNrAWF1dGg9QmVhcmVy"),
                        ('cache {"refresh_token": "0.AXoA-rotated.secret"}', "0.AXoA-rotated.secret")):
        line = f.format(logging.LogRecord("msal", logging.WARNING, "p", 1, text, (), None))
        assert token not in line and "[token]" in line
