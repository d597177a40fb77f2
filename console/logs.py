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
from typing import Any, TextIO

from console.redact import Redactor, mask_urls

# Loggers of the libraries that see notify URLs: apprise itself (and its children) and the HTTP clients it
# drives, whose debug lines name the URL they fetch.
THIRD_PARTY = ("apprise", "urllib3", "requests", "slixmpp", "paho")
_CONTROL = r"[\x00-\x08\x0b-\x1f\x7f]"
# An OAuth2 token that found its way into a message anyway (a library's debug line, an exception's text).
_BEARER = (r"(?i)(bearer\s+|access_token[\"']?\s*[:=]\s*[\"']?|refresh_token[\"']?\s*[:=]\s*[\"']?|"
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
        text = re.sub(_BEARER, r"\1[token]", self.redact(text) or "")
        text = text.replace("\r\n", "\n").replace("\n", " | ").replace("\t", " ")
        text = re.sub(_CONTROL, lambda m: f"\\x{ord(m.group()):02x}", text)
        if self.journald:
            text = f"<{_PRIORITY.get(record.levelno, 6)}>{text}"
        return text


_formatter: LineFormatter | None = None
_configured: set[str] = set()  # the running config's secrets (set_secrets)
_extra: set[str] = set()  # secrets added before a config is in use (add_secrets): a config being checked
_redactor = Redactor()
_factory_installed = False


def _third_party(name: str) -> bool:
    return any(name == p or name.startswith(p + ".") for p in THIRD_PARTY)


def scrub(record: logging.LogRecord) -> logging.LogRecord:
    """Mask a record of apprise (or of the HTTP clients it drives) in place: the message is formatted now,
    every URL in it cut to scheme and host and every known secret masked, so that no handler, filter or
    formatter anywhere (apprise's own LogCapture included) ever sees the original text."""
    if not _third_party(record.name):
        return record
    try:
        text = record.getMessage()
    except Exception:  # noqa: BLE001 - a bad format string: keep what there is, masked
        text = f"{record.msg} {record.args}"
    if record.exc_info:  # a traceback may quote the URL too: masked now, never formatted later
        text += "\n" + logging.Formatter().formatException(record.exc_info)
        record.exc_info, record.exc_text = None, None
    record.msg = _redactor(mask_urls(text)) or ""
    record.args = ()
    return record


def _install_factory() -> None:
    """Wrap the log record factory once: a record is masked as it is made, before any logger's filters
    or handlers run, whichever logger of apprise's made it (child loggers and ones made later too)."""
    global _factory_installed
    if _factory_installed:
        return
    make = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        return scrub(make(*args, **kwargs))

    logging.setLogRecordFactory(factory)
    _factory_installed = True


def setup(level: int, *, stream: TextIO | None = None, env: Mapping[str, str] = os.environ) -> LineFormatter:
    """One handler on the root logger, writing to stderr. Safe to call again (tests, `main` twice)."""
    global _formatter
    stream = stream or sys.stderr
    _formatter = LineFormatter(journald=journald_reads(stream, env), secrets=_configured | _extra)
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
    _install_factory()
    logging.getLogger("msal").setLevel(logging.WARNING)  # OAuth2 chatter; tokens are masked below all the same
    return _formatter


def set_secrets(secrets: Iterable[str]) -> None:
    """Mask these wherever they appear in a log line from now on (the config's notify URLs and so on)."""
    global _configured
    _configured = set(secrets)
    _apply()


def add_secrets(secrets: Iterable[str]) -> None:
    """Mask these too, from now on: called with a config's notify URLs before apprise is asked about them
    (a config being loaded, on a reload too), so that a URL apprise refuses is masked in its complaint."""
    _extra.update(secrets)
    _apply()


def _apply() -> None:
    global _redactor
    known = _configured | _extra
    _redactor = Redactor(known)
    if _formatter is not None:
        _formatter.set_secrets(known)


def redact(text: str) -> str:
    """`text` with the secrets set by set_secrets masked (for what is printed outside a log record)."""
    return _redactor(text) or ""  # kept in step with the formatter's (_apply), and there before logging is set up
