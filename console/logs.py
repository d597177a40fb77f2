"""Log lines on stderr: one line per event, secrets masked, and no timestamp when journald reads them.

journald stamps each line itself and understands a "<N>" syslog priority at its start; systemd tells
a service that its stderr goes to the journal with JOURNAL_STREAM="<device>:<inode>" of that stream.
Tracebacks and any newline or control character inside a message are folded into the same line, so
one event is one line for grep, for the journal and for log shippers.
"""
from __future__ import annotations

import logging
import os
import re
import sys
from collections.abc import Iterable, Mapping
from typing import TextIO

from console.redact import Redactor

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
# An OAuth2 token that found its way into a message anyway (a library's debug line, an exception's text).
_BEARER = re.compile(r"(?i)(bearer\s+|access_token[\"']?\s*[:=]\s*[\"']?|refresh_token[\"']?\s*[:=]\s*[\"']?|"
                     r"XOAUTH2\s+)[A-Za-z0-9._~+/=-]{8,}")
_PRIORITY = {logging.DEBUG: 7, logging.INFO: 6, logging.WARNING: 4, logging.ERROR: 3, logging.CRITICAL: 2}


def journald_reads(stream: TextIO, env: Mapping[str, str] = os.environ) -> bool:
    """Whether `stream` is the one JOURNAL_STREAM names (a child's stderr redirected elsewhere is not)."""
    value = env.get("JOURNAL_STREAM", "")
    dev, sep, ino = value.partition(":")
    if not sep or not dev.isdigit() or not ino.isdigit():
        return False
    try:
        st = os.fstat(stream.fileno())
    except (OSError, ValueError, AttributeError):
        return False
    return (st.st_dev, st.st_ino) == (int(dev), int(ino))


class LineFormatter(logging.Formatter):
    def __init__(self, *, journald: bool = False, secrets: Iterable[str] = ()):
        super().__init__("%(levelname)s %(name)s: %(message)s" if journald
                         else "%(asctime)s %(levelname)s %(name)s: %(message)s")
        self.journald = journald
        self.redact = Redactor(secrets)

    def set_secrets(self, secrets: Iterable[str]) -> None:
        self.redact = Redactor(secrets)

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)  # with the traceback, if any
        text = _BEARER.sub(r"\1[token]", self.redact(text))
        text = text.replace("\r\n", "\n").replace("\n", " | ").replace("\t", " ")
        text = _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)
        if self.journald:
            text = f"<{_PRIORITY.get(record.levelno, 6)}>{text}"
        return text


_formatter: LineFormatter | None = None


def setup(level: int, *, stream: TextIO | None = None, env: Mapping[str, str] = os.environ) -> LineFormatter:
    """One handler on the root logger, writing to stderr. Safe to call again (tests, `main` twice)."""
    global _formatter
    stream = stream or sys.stderr
    _formatter = LineFormatter(journald=journald_reads(stream, env))
    handler = logging.StreamHandler(stream)
    handler.setFormatter(_formatter)
    root = logging.getLogger()
    for h in list(root.handlers):
        if getattr(h, "_support_console", False):
            root.removeHandler(h)
    handler._support_console = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level)
    logging.getLogger("apprise").setLevel(logging.WARNING)
    logging.getLogger("msal").setLevel(logging.WARNING)  # OAuth2 chatter; tokens are masked below all the same
    return _formatter


def set_secrets(secrets: Iterable[str]) -> None:
    """Mask these wherever they appear in a log line from now on (the config's notify URLs and so on)."""
    if _formatter is not None:
        _formatter.set_secrets(secrets)


def redact(text: str) -> str:
    """`text` with the secrets set by set_secrets masked (for what is printed outside a log record)."""
    return _formatter.redact(text) if _formatter is not None else text
