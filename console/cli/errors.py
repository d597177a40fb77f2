"""The CLI's errors and exit codes, in one place: every error maps to its status by its class.

The classes live with what raises them and derive from one of two roots (store/errors.py): `NeedsFixing`
(a person must change something: usage 64, permission 77, config 78, ...) or `WillPass` (a lock, the
network, a busy database: 75). Anything else is a bug: 70 and one line.
"""
from __future__ import annotations

import sqlite3

from store.errors import (  # noqa: F401 - the codes, for the command modules
    EX_CANTCREAT, EX_CONFIG, EX_DATAERR, EX_FAILED, EX_LOCKED, EX_NOPERM, EX_SOFTWARE, EX_TEMPFAIL, EX_USAGE,
    BadInput, CannotCreate, NeedsFixing, NotPermitted, UsageError, WillPass,
)


class CommandFailed(NeedsFixing):
    """The command ran and what it asked for did not happen (no such ticket, a mail the server refused)."""


class NotSetUp(NeedsFixing):
    """A part of the desk this command needs is not configured (replies without [smtp])."""

    exit_code = EX_CONFIG


def explain(exc: BaseException, command: str | None) -> tuple[int, str]:
    """The exit status and the one line for an error that ended `command`."""
    if isinstance(exc, sqlite3.Error):
        from store.db import translate

        exc = translate(exc)
    from console.config import ConfigError

    message = f"config error: {exc}" if isinstance(exc, ConfigError) else str(exc)
    if command == "ingest":
        # The MTA keeps the mail and retries on 75; anything else would bounce it. Only an empty stdin is
        # the sender's fault (65).
        if isinstance(exc, BadInput):
            return exc.exit_code, message
        if isinstance(exc, (NeedsFixing, WillPass)):
            return EX_TEMPFAIL, message
        return EX_TEMPFAIL, f"cannot store the message now ({type(exc).__name__}); the MTA should retry"
    if isinstance(exc, (NeedsFixing, WillPass)):
        return exc.exit_code, message
    return EX_SOFTWARE, f"internal error ({type(exc).__name__}: {exc}); set SUPPORT_CONSOLE_DEBUG=1 for details"
